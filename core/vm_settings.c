/* Every setting's name, see vm_settings.h. */
#include <string.h>
#include "vm_settings.h"

static const char *const names[] = {
    VM_SET_SOURCE, VM_SET_TABLE, VM_SET_USER, VM_SET_PHP, VM_SET_MOODLE_DIR,
    VM_SET_LOCK_DIR, VM_SET_JOBS, VM_SET_TIMEOUT, VM_SET_GRACE,
    VM_SET_SITE_USER, VM_SET_MASTER_CONFIG,
    VM_SET_CONFIG, VM_SET_MODE, VM_SET_PER_TICK, VM_SET_PERIOD, VM_SET_TICK,
    VM_SET_COMMAND, VM_SET_LOG_DIR, VM_SET_LOG_MAX, VM_SET_STATE_FILE,
    VM_SET_QUIET, VM_SET_MASTER,
    VM_SET_TEMPLATES, VM_SET_DATA_PARENT, VM_SET_MASTER_DATAROOT,
    VM_SET_BACKUP_DIR, VM_SET_QUOTA_FILE,
};

int vm_settings_known(const char *name)
{
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}
