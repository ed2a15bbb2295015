/* The VMOODLE_* list handed to PHP.  templates/config.php reads exactly
 * these names. */
#include <stdio.h>
#include "vm_env.h"

void vm_env_build(const vm_instance *in, vm_env_numbers *nums,
                  vm_env_var out[VM_ENV_COUNT])
{
    snprintf(nums->id, sizeof nums->id, "%lld", in->id);
    snprintf(nums->persist, sizeof nums->persist, "%d", in->dbpersist ? 1 : 0);
    snprintf(nums->mnet, sizeof nums->mnet, "%d", in->mnet);
    out[0]  = (vm_env_var){ "VMOODLE_HOST",      in->key };
    out[1]  = (vm_env_var){ "VMOODLE_ID",        nums->id };
    out[2]  = (vm_env_var){ "VMOODLE_SHORTNAME", in->shortname };
    out[3]  = (vm_env_var){ "VMOODLE_WWWROOT",   in->wwwroot };
    out[4]  = (vm_env_var){ "VMOODLE_DBTYPE",    in->dbtype };
    out[5]  = (vm_env_var){ "VMOODLE_DBHOST",    in->dbhost };
    out[6]  = (vm_env_var){ "VMOODLE_DBNAME",    in->dbname };
    out[7]  = (vm_env_var){ "VMOODLE_DBUSER",    in->dblogin };
    out[8]  = (vm_env_var){ "VMOODLE_DBPASS",    in->dbpass };
    out[9]  = (vm_env_var){ "VMOODLE_DBPREFIX",  in->dbprefix };
    out[10] = (vm_env_var){ "VMOODLE_DBPERSIST", nums->persist };
    out[11] = (vm_env_var){ "VMOODLE_DATAROOT",  in->datapath };
    out[12] = (vm_env_var){ "VMOODLE_MNET",      nums->mnet };
}
