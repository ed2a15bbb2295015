/* The VMOODLE_* variables an instance hands to PHP: one list, used by the
 * module for requests (stored ready in the snapshot) and by vcron for
 * command-line runs. */
#ifndef VM_ENV_H
#define VM_ENV_H

#include "vm_instance.h"

/* Positions in the list, in the order of vm_env_names. */
enum {
    VM_E_HOST,
    VM_E_ID,
    VM_E_SHORTNAME,
    VM_E_WWWROOT,
    VM_E_DBTYPE,
    VM_E_DBHOST,
    VM_E_DBNAME,
    VM_E_DBUSER,
    VM_E_DBPASS,
    VM_E_DBPREFIX,
    VM_E_DBPERSIST,
    VM_E_DATAROOT,
    VM_E_MNET,
    VM_ENV_COUNT
};

extern const char *const vm_env_names[VM_ENV_COUNT];

typedef struct {
    const char *name;
    const char *value;
} vm_env_var;

/* Scratch space for the numeric values, so building needs no allocation. */
typedef struct {
    char id[24], persist[4], mnet[16];
} vm_env_numbers;

/* Fill out[VM_ENV_COUNT]; values point into in or nums. */
void vm_env_build(const vm_instance *in, vm_env_numbers *nums,
                  vm_env_var out[VM_ENV_COUNT]);

/* Name of the variable that marks a master-Moodle request. */
#define VM_ENV_MASTER "VMOODLE_MASTER"

#endif
