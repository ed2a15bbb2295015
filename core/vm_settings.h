/* The names of the settings vcron.conf and vmoodlectl.conf hold, each
 * once: vcron's table (vcron/config.c) and vmoodlectl's options
 * (vmoodlectl/options.c) spell them with these, and a program reading a
 * file the other shares leaves the other's names alone
 * (vm_settings_known).  The defaults both programs use are here too.
 * A new setting: its name below, in vm_settings.c's list, and in the
 * table of the program that reads it. */
#ifndef VM_SETTINGS_H
#define VM_SETTINGS_H

/* Both programs. */
#define VM_SET_SOURCE "source"
#define VM_SET_TABLE "table"
#define VM_SET_USER "user"
#define VM_SET_PHP "php"
#define VM_SET_MOODLE_DIR "moodle-dir"
#define VM_SET_LOCK_DIR "lock-dir"
#define VM_SET_JOBS "jobs"
#define VM_SET_TIMEOUT "timeout"
#define VM_SET_GRACE "grace"
#define VM_SET_OPCACHE "opcache"
#define VM_SET_OPCACHE_DIR "opcache-dir"
#define VM_SET_PLATFORMS "platforms"
#define VM_SET_SITE_USER "site-user"         /* vm_siteuser.h */
#define VM_SET_MASTER_CONFIG "master-config" /* vm_master.h */
/* vcron's. */
#define VM_SET_CONFIG "config"
#define VM_SET_MODE "mode"
#define VM_SET_PER_TICK "per-tick"
#define VM_SET_PERIOD "period"
#define VM_SET_TICK "tick"
#define VM_SET_COMMAND "command"
#define VM_SET_LOG_DIR "log-dir"
#define VM_SET_LOG_MAX "log-max"
#define VM_SET_STATE_FILE "state-file"
#define VM_SET_RUNS_FILE "runs-file"
#define VM_SET_QUIET "quiet"
#define VM_SET_MASTER "master"
#define VM_SET_TIERS "tiers"
#define VM_SET_DEFAULT_TIER "default-tier"
#define VM_SET_TIER_FILE "tier-file"
#define VM_SET_ACTIVITY_DAYS "activity-days"
#define VM_SET_ACTIVITY_EVERY "activity-every"
#define VM_SET_ACTIVITY_PER_TICK "activity-per-tick"
#define VM_SET_FAST_PATH "fast-path"
#define VM_SET_FAST_PATH_FROM "fast-path-from"
#define VM_SET_PROBE_THREADS "probe-threads"
#define VM_SET_CORES "cores"
#define VM_SET_RUN_COST_MS "run-cost-ms"
/* vmoodlectl's. */
#define VM_SET_TEMPLATES "templates"
#define VM_SET_DATA_PARENT "data-parent"
#define VM_SET_MASTER_DATAROOT "master-dataroot"
#define VM_SET_BACKUP_DIR "backup-dir"
#define VM_SET_QUOTA_FILE "quota-file"
#define VM_SET_USAGE_FILE "usage-file"
#define VM_SET_DB_CLIENT_HOST "db-client-host"

#define VM_DEFAULT_USER "www-data"
#define VM_DEFAULT_PHP "/usr/bin/php"
#define VM_DEFAULT_MOODLE_DIR "/var/www/moodle"
#define VM_DEFAULT_LOCK_DIR "/run/vmoodle/vcron"
#define VM_DEFAULT_OPCACHE_DIR "/var/cache/vmoodle/opcache"
#define VM_DEFAULT_JOBS 4
#define VM_DEFAULT_JOBS_TEXT "4"
#define VM_DEFAULT_GRACE 10
#define VM_DEFAULT_GRACE_TEXT "10"

/* Whether name is a setting of either program. */
int vm_settings_known(const char *name);

/* An on/off setting's value: "0", "no", "off", "false" are off, anything
 * else on. */
int vm_settings_on(const char *value);

#endif
