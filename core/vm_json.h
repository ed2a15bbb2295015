/* Small cJSON helpers shared by the JSON source and its cron state file. */
#ifndef VM_JSON_H
#define VM_JSON_H

#include <cJSON.h>
#include <apr_pools.h>
#include "vm_status.h"

#define VM_JSON_MAX (256u * 1024 * 1024)

/* Parse a whole file.  *json is NULL (and VM_OK) when the file does not
 * exist and missing_ok is set.  Free with cJSON_Delete. */
vm_status vm_json_load(const char *path, int missing_ok, cJSON **json,
                       apr_pool_t *p, const char **err);

/* Replace path with json, atomically; backup may be NULL. */
vm_status vm_json_save(const char *path, const cJSON *json,
                       const char *backup, apr_pool_t *p, const char **err);

/* A scalar as text (numbers without exponent when integral, booleans as
 * 1/0), from p; NULL for null; *bad set for objects and arrays. */
const char *vm_json_text(const cJSON *item, apr_pool_t *p, int *bad);

#endif
