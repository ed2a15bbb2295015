/* vmoodlectl: what the sub-commands share (options, the loaded table,
 * messages).  Each sub-command lives in its own file. */
#ifndef VMOODLECTL_CTL_H
#define VMOODLECTL_CTL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "vm_instance.h"
#include "vm_source.h"
#include "vm_table.h"

#define VMC_DEFAULT_CONFIG "/etc/vmoodle/vmoodlectl.conf"
#define VMC_FALLBACK_CONFIG "/etc/vmoodle/vcron.conf"
#define VMC_DEFAULT_TEMPLATES "/var/lib/vmoodle/templates"
#define VMC_DEFAULT_DATA "/var/lib/vmoodle/data"
#define VMC_DEFAULT_BACKUP_DIR "/var/backups/vmoodle"

/* Exit codes: 0 fine, 1 the operation failed, 2 the command line is wrong. */
enum { VMC_EXIT_OK = 0, VMC_EXIT_FAIL = 1, VMC_EXIT_USAGE = 2 };

typedef struct {
    apr_pool_t *pool;
    const char *source_spec, *table_name, *config_path;
    const char *templates_dir, *data_parent, *web_user;
    const char *from, *snapshot_name, *template_name;
    const char *master_dataroot; /* destroy never removes it (or in it) */
    /* The login that makes and drops the sites' own logins (roles.h):
     * deploy, destroy, isolate.  isolate_wait: seconds both logins work. */
    const char *admin_dbuser, *admin_dbpass;
    long isolate_wait;
    const char *db_client_host;  /* MySQL: new accounts' host part (roles.h) */
    const char *master_config;   /* the master's settings (vm_master.h) */
    const char *site_user;       /* per-site user rule (vm_siteuser.h) */
    const char *out_dir;         /* pool --dir */
    vm_instance master_settings; /* read from it */
    int json, show_secrets, dry_run, yes, template_db, help;
    vm_row fields;                    /* instance columns given as flags */
    const char *cfg_name, *cfg_value; /* config: the setting, its value */
    /* The fleet commands (fleet_cmds.c, upgrade.c); php, moodle-dir and
     * lock-dir are vcron's settings, read from its file too. */
    int all, master, include_disabled, fail_fast, no_master, unset;
    int no_dns; /* check: no DNS look-up */
    /* monitoring (monitor.c): check --nagios, health */
    int nagios;
    const char *snapshot_path; /* --snapshot: compared with the table */
    long cron_warn, cron_crit; /* seconds since a site's last cron */
    const char *match, *log_dir, *php, *moodle_dir, *lock_dir, *plugin;
    const char *opcache, *opcache_dir; /* vcron's: the opcode file cache;
                                           opcache_dir NULL once off */
    long jobs, timeout, grace;
    /* Platforms (platforms.c, alias.c, upgrade_to.c). */
    const char *platforms_file, *to;
    const char *settle_text; /* --settle: seconds, as given */
    /* backup, restore (lifecycle.h) */
    const char *backup_dir, *as_url, *quota_file, *usage_file, *from_csv;
    long keep;
    int maintenance, keep_alias, cleanup, backup;
    int nscript; /* after "--": SCRIPT ARGS... */
    char **script;
    int nargs; /* positional arguments after the command */
    char **args;
} vmc_opts;

/* The instance table as read from the source. */
typedef struct {
    vm_source *src;
    apr_array_header_t *rows; /* vm_row, raw */
    vm_table *table;
} vmc_table;

/* "vmoodlectl: VM003nn: message" on stderr.  Never pass a password.
 * The sub-commands print; the functions they call return the reason. */
void vmc_error(int tag, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* vmc_error(tag, "%s", why), then rc: for "return vmc_fail(...)". */
int vmc_fail(int tag, int rc, const char *why);
/* A step of the plan with --dry-run, or what is being done. */
void vmc_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open the source and load and validate its rows.  VMC_EXIT_OK, or
 * VMC_EXIT_USAGE (no source) or VMC_EXIT_FAIL with *why. */
int vmc_table_load(const vmc_opts *o, vmc_table *t, const char **why);
/* An instance by host (URL or bare host) or by numeric id; NULL with *why
 * when absent. */
const vm_instance *vmc_find(const vmc_table *t, const char *arg,
                            const char **why);
/* The row of id as the source gave it, so a change keeps what it does not
 * touch; NULL when absent. */
const vm_row *vmc_raw_row(const vmc_table *t, long long id);
/* For commands taking one HOST|ID: check the arguments, load the table,
 * find the instance.  VMC_EXIT_*, with *why when not OK.  (select.c: the
 * one home of site selection.) */
int vmc_table_load_one(vmc_opts *o, const char *verb, vmc_table *t,
                       const vm_instance **in, const char **why);
/* The same for the site named host (HOST|ID) of a command that takes
 * more arguments (rename HOST NEWURL, snapshot --from HOST). */
int vmc_table_load_site(const vmc_opts *o, const char *host, vmc_table *t,
                        const vm_instance **in, const char **why);
/* Validate row against the rest of the table as the module would: the row
 * must load, and every instance that loads today must still load.  A row
 * without an id is a new one (validated with the next free id).  NULL when
 * good, else the reason. */
const char *vmc_table_validate(const vmc_table *t, const vm_row *row,
                               apr_pool_t *p);
/* Save a validated row (insert when it has no id); *id gets its id.  NULL,
 * or why it was not saved. */
const char *vmc_table_save(vmc_table *t, const vm_row *row, long long *id,
                           apr_pool_t *p);
/* A command's step changing a site's row (rename, move): row saved and
 * *saved set, 0; or -1 with *err.  Its undo puts the row of id back as the
 * table gave it when *saved: NULL, or why not. */
int vmc_row_change(vmc_table *t, const vm_row *row, int *saved, apr_pool_t *p,
                   const char **err);
const char *vmc_row_change_undo(vmc_table *t, long long id, int *saved,
                                apr_pool_t *p);

/* Sub-commands; each returns an exit code. */
int vmc_cmd_list(vmc_opts *o);
int vmc_cmd_show(vmc_opts *o);
int vmc_cmd_add(vmc_opts *o);
int vmc_cmd_edit(vmc_opts *o);
int vmc_cmd_enable(vmc_opts *o);
int vmc_cmd_disable(vmc_opts *o);
int vmc_cmd_remove(vmc_opts *o);
int vmc_cmd_check(vmc_opts *o);
int vmc_cmd_snapshot(vmc_opts *o);
int vmc_cmd_deploy(vmc_opts *o);
int vmc_cmd_destroy(vmc_opts *o);
int vmc_cmd_templates(vmc_opts *o);
int vmc_cmd_template_remove(vmc_opts *o);
int vmc_cmd_run(vmc_opts *o);
int vmc_cmd_purge_caches(vmc_opts *o);
int vmc_cmd_maintenance(vmc_opts *o);
int vmc_cmd_config(vmc_opts *o);
int vmc_cmd_cron(vmc_opts *o);
int vmc_cmd_upgrade(vmc_opts *o);
int vmc_cmd_platforms(vmc_opts *o);
int vmc_cmd_alias(vmc_opts *o);
int vmc_cmd_upgrade_to(vmc_opts *o);
int vmc_cmd_backup(vmc_opts *o);
int vmc_cmd_backups(vmc_opts *o);
int vmc_cmd_restore(vmc_opts *o);
int vmc_cmd_usage(vmc_opts *o);
int vmc_cmd_rename(vmc_opts *o);
int vmc_cmd_move(vmc_opts *o);
int vmc_cmd_deploy_csv(vmc_opts *o);
int vmc_cmd_isolate(vmc_opts *o);
int vmc_cmd_pool(vmc_opts *o);
int vmc_cmd_health(vmc_opts *o);

/* monitor.c: check --nagios; one line, exit 0-3 */
int vmc_check_nagios(vmc_opts *o);
/* check.c: one site's database and dataroot; 0, or 1 with *why. */
int vmc_check_site(const vmc_opts *o, const vm_instance *in, const char **why);

#endif
