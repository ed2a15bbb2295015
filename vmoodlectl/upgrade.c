/* upgrade SITES: every selected site whose database is behind the code,
 * each alone in Moodle's maintenance mode while upgrade.php runs, under
 * vcron's lock for the site (no cron beside it); the master first.
 *
 * A marker lock-dir/<id>.upgrading says an upgrade of the site began and
 * did not end well: a site that failed stays in maintenance with it, and
 * the next run finishes that site (upgrades it if still pending, purges
 * caches, leaves maintenance) even when nothing is pending any more. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "ctl.h"
#include "fleet.h"
#include "fleet_cmds.h"
#include "upgrade_backup.h"
#include "vm_cli.h"

/* A site's exit codes besides a failure (1). */
enum { UP_DONE = 0, UP_CURRENT = 3, UP_PENDING = 4 };

/* upgrade.php --is-pending: 0 nothing to do, 2 pending. */
enum { IS_CURRENT = 0, IS_PENDING = 2 };

typedef struct {
    int dry_run;
    const char *lock_dir;
    apr_pool_t *pool;
    apr_hash_t *had_marker;      /* ids whose marker was there before */
    int unfinished;              /* the site being started: had one */
    vmc_upgrade_backup ub;       /* --backup (upgrade_backup.h) */
} upgrade_ctx;

static const char *marker_path(const upgrade_ctx *u, const vm_instance *in)
{
    return in->id == VM_MASTER_ID
        ? apr_pstrcat(u->pool, u->lock_dir, "/master.upgrading", NULL)
        : apr_psprintf(u->pool, "%s/%" APR_INT64_T_FMT ".upgrading",
                       u->lock_dir, (apr_int64_t)in->id);
}

/* One step; on failure the line that ends the site's log. */
static int step(const vmc_job *job, const vm_instance *in, const char *what,
                const char *script, const char *arg, int in_maintenance)
{
    upgrade_ctx *u = job->ctx;
    int code = vmc_upgrade_step(job, &u->ub, in, script, &arg, arg ? 1 : 0);
    if (code != 0)
        printf("vmoodlectl: %s exited %d%s%s\n", what, code,
               in_maintenance ? ", the site stays in maintenance" : "",
               in_maintenance ? vmc_upgrade_restore_hint(&u->ub, u->pool)
                              : "");
    return code;
}

/* --backup: in maintenance, before anything changes; a failed backup
 * ends maintenance and upgrades nothing. */
static int backup(const vmc_job *job, const vm_instance *in)
{
    upgrade_ctx *u = job->ctx;
    const char *err;

    if (!u->ub.on || vmc_upgrade_backup_site(&u->ub, in, u->pool, &err) == 0)
        return 0;
    printf("vmoodlectl: %s\n", err);
    step(job, in, "maintenance off", "admin/cli/maintenance.php", "--disable",
         0);
    return 1;
}

/* In the site's child, as --user. */
static int upgrade_site(const vmc_job *job, const vm_instance *in)
{
    const upgrade_ctx *u = job->ctx;
    int pending = vmc_upgrade_step(job, &u->ub, in, "admin/cli/upgrade.php",
                                   (const char *const[]){ "--is-pending" }, 1);
    if (pending != IS_CURRENT && pending != IS_PENDING) {
        printf("vmoodlectl: cannot tell whether an upgrade is pending: "
               "upgrade.php --is-pending exited %d\n", pending);
        return 1;
    }
    if (pending == IS_CURRENT && !u->unfinished) {
        printf("vmoodlectl: up to date\n");
        return UP_CURRENT;
    }
    if (u->dry_run) {
        printf("vmoodlectl: %s\n", pending == IS_PENDING ? "would be upgraded"
               : "would be finished: left in maintenance by an upgrade "
                 "that did not end");
        return UP_PENDING;
    }
    if (step(job, in, "maintenance on", "admin/cli/maintenance.php",
             "--enable", 0)
        || backup(job, in)
        || (pending == IS_PENDING
            && step(job, in, "the upgrade", "admin/cli/upgrade.php",
                    "--non-interactive", 1))
        || step(job, in, "purging caches", "admin/cli/purge_caches.php",
                NULL, 1)
        || step(job, in, "maintenance off", "admin/cli/maintenance.php",
                "--disable", 1))
        return 1;
    printf("vmoodlectl: %s, out of maintenance\n",
           pending == IS_PENDING ? "upgraded" : "upgrade finished");
    return UP_DONE;
}

/* In the parent, with the lock: note and leave the marker. */
static int before_site(const vmc_job *job, const vm_instance *in,
                       const char **why)
{
    upgrade_ctx *u = job->ctx;
    const char *path = marker_path(u, in);
    u->unfinished = access(path, F_OK) == 0;
    if (u->unfinished)
        apr_hash_set(u->had_marker, apr_pmemdup(u->pool, &in->id,
                     sizeof in->id), sizeof in->id, "");
    if (u->dry_run || u->unfinished)
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        *why = apr_psprintf(u->pool, "%s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* Done well, or never begun: the marker goes. */
static void after_site(const vmc_job *job, const vmc_site_result *r)
{
    upgrade_ctx *u = job->ctx;
    int had = apr_hash_get(u->had_marker, &r->in->id, sizeof r->in->id)
              != NULL;
    if (u->dry_run)
        return;
    if ((r->state == VMC_SITE_DONE && r->ok)
        || (r->state == VMC_SITE_NOT_STARTED && !had))
        unlink(marker_path(u, r->in));
}

static void list_pending(const vmc_site_result *r, int n)
{
    int count = 0;
    for (int i = 0; i < n; i++)
        count += r[i].state == VMC_SITE_DONE && r[i].code == UP_PENDING;
    printf("dry run: %d site(s) would be upgraded%s", count,
           count ? ":" : "");
    for (int i = 0; i < n; i++)
        if (r[i].state == VMC_SITE_DONE && r[i].code == UP_PENDING)
            printf(" %s", r[i].in->key);
    printf("\n");
}

int vmc_cmd_upgrade(vmc_opts *o)
{
    upgrade_ctx u = { o->dry_run, o->lock_dir, o->pool,
                      apr_hash_make(o->pool), 0, {0} };
    vmc_site_result *results;
    vmc_table t;
    vmc_job job;
    int fg, rc;

    if ((o->all || o->match) && !o->no_master)
        o->master = 1;              /* the master first unless told */
    if ((rc = vmc_job_prepare(o, "upgrade", 0, &t, &job, &fg)) != VMC_EXIT_OK
        || (rc = vmc_job_lock_dir(o)) != VMC_EXIT_OK
        || (rc = vmc_upgrade_backup_prepare(o, &t, &job, &u.ub))
           != VMC_EXIT_OK)
        return rc;
    job.work = upgrade_site;
    job.ctx = &u;
    job.ok_codes = 1u << UP_DONE | 1u << UP_CURRENT | 1u << UP_PENDING;
    job.lock_dir = o->lock_dir;
    job.before = before_site;
    job.after = after_site;
    job.first_alone = o->master;
    rc = vmc_fleet_run(&job, o->pool, &results);
    if (o->dry_run && rc != VMC_EXIT_USAGE)
        list_pending(results, job.sites->nelts);
    return rc;
}
