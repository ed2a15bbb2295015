/* The VMOODLE_* variables an instance hands to PHP: one list, used by the
 * module for requests and by vcron for command-line runs. */
#ifndef VM_ENV_H
#define VM_ENV_H

#include "vm_instance.h"

#define VM_ENV_COUNT 13

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
