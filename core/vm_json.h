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

/* Replace path with json, atomically, keeping its owner, group and mode
 * (a new file: 0600, the writer's); backup may be NULL. */
vm_status vm_json_save(const char *path, const cJSON *json, const char *backup,
                       apr_pool_t *p, const char **err);

/* Change a JSON file under its lock (path.lock): read it, check that its
 * top level is an array or an object (type: cJSON_Array, cJSON_Object),
 * let edit change it, and replace the file atomically, the old one kept
 * as backup unless NULL.  The new file takes like's owner, group and mode
 * (path's own when NULL; 0600 when like does not exist).  A missing file
 * is an empty one when missing_ok, else an error.  edit returns VM_OK, or
 * an error with *err set. */
typedef vm_status (*vm_json_edit_fn)(cJSON *json, void *ctx, apr_pool_t *p,
                                     const char **err);
vm_status vm_json_edit(const char *path, int type, int missing_ok,
                       const char *like, const char *backup,
                       vm_json_edit_fn edit, void *ctx, apr_pool_t *p,
                       const char **err);

/* A scalar as text (numbers without exponent when integral, booleans as
 * 1/0), from p; NULL for null; *bad set for objects and arrays. */
const char *vm_json_text(const cJSON *item, apr_pool_t *p, int *bad);

#endif
