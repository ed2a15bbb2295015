/* Running Moodle's command line for one site, the way vcron and vmoodlectl
 * both do it: php with the settings Moodle's CLI needs, exactly the site's
 * VMOODLE_* environment (templates/config.php picks the site from it), the
 * web server's user, no shell, nothing from the table on the command
 * line.  Starting the process is the job engine's (vm_job.h). */
#ifndef VM_CLI_H
#define VM_CLI_H

#include <apr_pools.h>
#include "vm_identity.h"
#include "vm_instance.h"

/* The master Moodle, which is no row of the table: id 0 (rows start at 1)
 * names its lock, "master" its log; it runs with VMOODLE_MASTER=1. */
#define VM_MASTER_ID 0
extern const vm_instance vm_master;

/* A site's cron, as vcron and vmoodlectl cron run it: the script and its
 * arguments (one run, no keep-alive loop). */
#define VM_CLI_CRON_SCRIPT "admin/cli/cron.php"
#define VM_CLI_CRON_NARGS 1
extern const char *const vm_cli_cron_args[VM_CLI_CRON_NARGS];

/* php -d max_input_vars=5000 MOODLE_DIR/SCRIPT ARGS...; NULL-terminated,
 * from p.  script is relative to moodle_dir (a leading '/' is dropped). */
const char *const *vm_cli_argv(const char *php, const char *moodle_dir,
                               const char *script, const char *const *args,
                               int nargs, apr_pool_t *p);

/* The site's VMOODLE_* variables (as the module sets them; the master:
 * VMOODLE_MASTER=1) and a minimal PATH, HOME, LOGNAME, LANG; nothing
 * inherited.  NULL-terminated, from p. */
const char *const *vm_cli_env(const vm_instance *in, const vm_identity *who,
                              apr_pool_t *p);

/* File name for a site's log: its host key with anything but [a-z0-9.-]
 * made '_', then ".log" ("master.log" for the master). */
const char *vm_cli_log_name(const vm_instance *in, apr_pool_t *p);

#endif
