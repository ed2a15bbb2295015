/* The VMOODLE_* list handed to PHP.  templates/config.php reads exactly
 * these names. */
#include <stdio.h>
#include "vm_env.h"

const char *const vm_env_names[VM_ENV_COUNT] = {
    [VM_E_HOST] = "VMOODLE_HOST",
    [VM_E_ID] = "VMOODLE_ID",
    [VM_E_SHORTNAME] = "VMOODLE_SHORTNAME",
    [VM_E_WWWROOT] = "VMOODLE_WWWROOT",
    [VM_E_DBTYPE] = "VMOODLE_DBTYPE",
    [VM_E_DBHOST] = "VMOODLE_DBHOST",
    [VM_E_DBNAME] = "VMOODLE_DBNAME",
    [VM_E_DBUSER] = "VMOODLE_DBUSER",
    [VM_E_DBPASS] = "VMOODLE_DBPASS",
    [VM_E_DBPREFIX] = "VMOODLE_DBPREFIX",
    [VM_E_DBPERSIST] = "VMOODLE_DBPERSIST",
    [VM_E_DATAROOT] = "VMOODLE_DATAROOT",
    [VM_E_MNET] = "VMOODLE_MNET",
};

void vm_env_build(const vm_instance *in, vm_env_numbers *nums,
                  vm_env_var out[VM_ENV_COUNT])
{
    const char *value[VM_ENV_COUNT];
    int i;

    snprintf(nums->id, sizeof nums->id, "%lld", in->id);
    snprintf(nums->persist, sizeof nums->persist, "%d", in->dbpersist ? 1 : 0);
    snprintf(nums->mnet, sizeof nums->mnet, "%d", in->mnet);
    value[VM_E_HOST] = in->key;
    value[VM_E_ID] = nums->id;
    value[VM_E_SHORTNAME] = in->shortname;
    value[VM_E_WWWROOT] = in->wwwroot;
    value[VM_E_DBTYPE] = in->dbtype;
    value[VM_E_DBHOST] = in->dbhost;
    value[VM_E_DBNAME] = in->dbname;
    value[VM_E_DBUSER] = in->dblogin;
    value[VM_E_DBPASS] = in->dbpass;
    value[VM_E_DBPREFIX] = in->dbprefix;
    value[VM_E_DBPERSIST] = nums->persist;
    value[VM_E_DATAROOT] = in->datapath;
    value[VM_E_MNET] = nums->mnet;
    for (i = 0; i < VM_ENV_COUNT; i++)
        out[i] = (vm_env_var){ vm_env_names[i], value[i] };
}
