/* What backup, backups, restore, rename, move and usage share: a site's
 * Moodle CLI run (vm_siterun.h), where a site's backups live, and
 * Moodle's own figures read from the site's database. */
#ifndef VMOODLECTL_LIFECYCLE_H
#define VMOODLECTL_LIFECYCLE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <sys/types.h>
#include "ctl.h"
#include "db.h"
#include "steps.h"
#include "vm_identity.h"
#include "vm_instance.h"
#include "vm_job.h"
#include "vm_siterun.h"

#define VMC_BACKUP_PARTIAL ".partial-" /* a backup being written */

/* How a site's CLI runs (core/vm_siterun.h), from the settings: --php,
 * --moodle-dir, the platforms file, --user resolved, site-user, the
 * opcode file cache.  VMC_EXIT_OK, or an exit code with *why. */
int vmc_siterun_prepare(const vmc_opts *o, vm_siterun *c, const char **why);

/* vm_siterun_opts (the site's user, platform tree, cache, environment)
 * for vmoodlectl: why the cache is not used is said once (VM00650). */
int vmc_siterun_opts(const vm_siterun *c, const vm_instance *in,
                     const char *script, const char *const *args, int nargs,
                     vm_job_opts *o, apr_pool_t *p, const char **why);

/* php TREE/script [arg] as the site's run (vm_siterun.h), in its own
 * session, stdin /dev/null, its output relayed to our stdout and stderr
 * (vm_relay.h: a pipe or pseudo-terminal of ours, controls made visible)
 * after a line naming the step; what it left running is killed when it
 * ends.  Waits whatever signal comes (an undo must finish).  Its exit
 * code; 127 when it could not start (a line says why). */
int vmc_site_cli_run(const vm_siterun *c, const vm_instance *in,
                     const char *script, const char *arg);

/* The same with several arguments. */
int vmc_site_cli_run_args(const vm_siterun *c, const vm_instance *in,
                          const char *script, const char *const *args,
                          int nargs);

/* Moodle's maintenance mode on or off for the site: 0 or -1 with *err. */
int vmc_site_maintenance(const vm_siterun *c, const vm_instance *in, int on,
                         apr_pool_t *p, const char **err);

/* Maintenance around a command's steps (backup, restore, rename, move):
 * the first member of the command's step context, so these serve as its
 * steps' functions.  On unless it already was; off (and the undo of on)
 * unless it was on before the command. */
typedef struct {
    const vm_siterun *cli;
    const vm_instance *in; /* the site as its CLI sees it */
    int was_on;
    apr_pool_t *p;
} vmc_maintenance;

void vmc_maintenance_init(vmc_maintenance *m, const vm_siterun *cli,
                          const vm_instance *in, apr_pool_t *p);
const char *vmc_maintenance_plan(void *ctx, apr_pool_t *p);
int vmc_maintenance_on(void *ctx, const char **err);
int vmc_maintenance_off(void *ctx, const char **err);
void vmc_maintenance_undo(void *ctx);

/* The end of restore and move: the site's caches purged, maintenance off
 * (as the site is now: in; unless it was on before and leave is set),
 * then Moodle's CLI must answer on it (admin/cli/cfg.php
 * --name=siteidentifier).  0 or -1 with *err. */
int vmc_site_serve(const vmc_maintenance *m, const vm_instance *in, int leave,
                   const char **err);
int vmc_site_answers(const vmc_maintenance *m, const vm_instance *in,
                     const char **err);

/* A one-site command's steps: with --dry-run "plan: head" and the plan;
 * else run, interrupts noticed; a failure said (tag) as "head failed at
 * step '...': why; the site is as it was".  An exit code. */
int vmc_lifecycle_run(const vmc_opts *o, const char *head,
                      const vmc_step *steps, int n, void *ctx, int tag);

/* The site is in Moodle's CLI maintenance mode now (its dataroot holds
 * climaintenance.html; looked at, never opened). */
int vmc_site_in_maintenance(const vm_instance *in, apr_pool_t *p);

/* A copy of a dataroot made by us (dir) starts in maintenance:
 * climaintenance.html created in it (never followed) and given to
 * uid:gid.  0 or -1 with *err. */
int vmc_maintenance_flag(const char *dir, uid_t uid, gid_t gid, apr_pool_t *p,
                         const char **err);

/* The folder below --dir holding a site's backups: its host made a file
 * name (as its log's name); "master" for the master. */
const char *vmc_backup_site_dir(const char *dir, const vm_instance *in,
                                apr_pool_t *p);

/* A backup's folder name: UTC time, 20261207T081500Z. */
int vmc_backup_name_ok(const char *name);

/* The complete backups in site_dir (names as above with a manifest),
 * oldest first, as const char *; an empty list when there is no folder. */
apr_array_header_t *vmc_backup_list(const char *site_dir, apr_pool_t *p);

/* An array of const char * sorted as strcmp sorts. */
void vmc_names_sort(apr_array_header_t *names);

/* Tables a dump of the site's database leaves out: the instance table
 * (every site's password) and VMoodle's own when the database is the
 * table's home.  Up to 2 names and a NULL into out[3]. */
void vmc_instance_tables(const vmc_table *t, const vm_instance *in,
                         const char *out[3], apr_pool_t *p);

/* Values of Moodle's config table (version, release, siteidentifier...);
 * NULL for a name the table lacks. */
typedef struct {
    const char *version, *release, *siteidentifier;
} vmc_moodle_info;

/* Read them with the site's prefix.  0, or -1 with *err (no such table:
 * not a Moodle database, or the wrong prefix). */
int vmc_moodle_info_read(vm_db *db, const char *prefix, vmc_moodle_info *mi,
                         apr_pool_t *p, const char **err);

/* In database dbname (reached with c): Moodle's settings (config,
 * config_plugins) naming the old wwwroot, host or dataroot made the new
 * ones' (rewrite.h).  0 or -1 with *err. */
int vmc_site_settings_moved(const vmc_dbconf *c, const char *dbname,
                            const char *prefix, const char *old_wwwroot,
                            const char *new_wwwroot, const char *old_dataroot,
                            const char *new_dataroot, apr_pool_t *p,
                            const char **err);

/* The site's database settings; 0 or -1 with *err. */
int vmc_site_dbconf(const vm_instance *in, vmc_dbconf *c, apr_pool_t *p,
                    const char **err);

#endif
