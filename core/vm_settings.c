/* Every setting's name, see vm_settings.h. */
#include <string.h>
#include "vm_settings.h"

static const char *const names[] = {
    VM_SET_SOURCE,
    VM_SET_TABLE,
    VM_SET_USER,
    VM_SET_PHP,
    VM_SET_MOODLE_DIR,
    VM_SET_LOCK_DIR,
    VM_SET_JOBS,
    VM_SET_TIMEOUT,
    VM_SET_GRACE,
    VM_SET_OPCACHE,
    VM_SET_OPCACHE_DIR,
    VM_SET_PLATFORMS,
    VM_SET_SITE_USER,
    VM_SET_MASTER_CONFIG,
    VM_SET_CONFIG,
    VM_SET_MODE,
    VM_SET_PER_TICK,
    VM_SET_PERIOD,
    VM_SET_TICK,
    VM_SET_COMMAND,
    VM_SET_LOG_DIR,
    VM_SET_LOG_MAX,
    VM_SET_STATE_FILE,
    VM_SET_QUIET,
    VM_SET_MASTER,
    VM_SET_TIERS,
    VM_SET_DEFAULT_TIER,
    VM_SET_TIER_FILE,
    VM_SET_ACTIVITY_DAYS,
    VM_SET_ACTIVITY_EVERY,
    VM_SET_ACTIVITY_PER_TICK,
    VM_SET_FAST_PATH,
    VM_SET_FAST_PATH_FROM,
    VM_SET_PROBE_THREADS,
    VM_SET_CORES,
    VM_SET_RUN_COST_MS,
    VM_SET_RUNS_FILE,
    VM_SET_TEMPLATES,
    VM_SET_DATA_PARENT,
    VM_SET_MASTER_DATAROOT,
    VM_SET_BACKUP_DIR,
    VM_SET_QUOTA_FILE,
    VM_SET_USAGE_FILE,
    VM_SET_DB_CLIENT_HOST,
};

int vm_settings_known(const char *name)
{
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

int vm_settings_on(const char *value)
{
    return strcmp(value, "0") && strcmp(value, "no") && strcmp(value, "off")
        && strcmp(value, "false");
}
