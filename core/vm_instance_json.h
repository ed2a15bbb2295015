/* An instance as a JSON object, with VMoodle's column names: one
 * serialiser for the status page, vcron status and vmoodlectl (list, show,
 * a template's manifest). */
#ifndef VM_INSTANCE_JSON_H
#define VM_INSTANCE_JSON_H

#include <cJSON.h>
#include <apr_pools.h>
#include "vm_instance.h"
#include "vm_table.h"

/* Always: id, host (the lookup key), wwwroot, name, shortname, enabled. */
enum {
    VM_JSON_CRON = 1,    /* croncount, lastcron, lastcrongap */
    VM_JSON_COLUMNS = 2, /* the other columns (vhostname, vdbtype, vdbhost,
                             vdblogin, vdbpass, vdbname, vdbprefix,
                             vdatapath, vdbpersist, mnet) and key; vdbpass
                             as "***" (an empty one stays empty) */
    VM_JSON_SECRETS = 4  /* with VM_JSON_COLUMNS: vdbpass itself */
};

/* NULL when out of memory.  Free with cJSON_Delete. */
cJSON *vm_instance_json(const vm_instance *in, unsigned flags);

/* The text members back from such an object (numbers are left as they
 * are); members absent give "". */
void vm_instance_strings_from_json(vm_instance *in, const cJSON *obj,
                                   apr_pool_t *p);

/* {"id": ..., "reason": ...} */
cJSON *vm_rejection_json(const vm_rejection *r);

#endif
