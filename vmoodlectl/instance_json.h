/* An instance as a JSON object, with VMoodle's column names: for
 * `list --json`, `show` and the source section of a template manifest. */
#ifndef VMOODLECTL_INSTANCE_JSON_H
#define VMOODLECTL_INSTANCE_JSON_H

#include <apr_pools.h>
#include <cjson/cJSON.h>
#include "vm_instance.h"

/* Every column plus key and wwwroot; vdbpass as "***" unless
 * show_secrets (an empty password stays empty). */
cJSON *vmc_instance_json(const vm_instance *in, int show_secrets);

/* The text columns back (numbers are left as they are); absent keys give
 * "". */
void vmc_instance_strings_from_json(vm_instance *in, const cJSON *obj,
                                    apr_pool_t *p);

#endif
