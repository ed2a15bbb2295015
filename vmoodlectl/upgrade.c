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
#include "steps.h"
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
    apr_hash_t *had_marker; /* ids whose marker was there before */
    int unfinished;         /* the site being started: had one */
    vmc_upgrade_backup ub;  /* --backup (upgrade_backup.h) */
} upgrade_ctx;

static const char *marker_path(const upgrade_ctx *u, const vm_instance *in)
{
    return in->id == VM_MASTER_ID
        ? apr_pstrcat(u->pool, u->lock_dir, "/master.upgrading", NULL)
        : apr_psprintf(u->pool, "%s/%" APR_INT64_T_FMT ".upgrading",
                       u->lock_dir, (apr_int64_t)in->id);
}

/* A site's steps (steps.h), in its child.  None has an undo (but a
 * failed backup's): a site that failed stays in maintenance with its
 * marker, and the next run finishes it. */
typedef struct {
    const vmc_job *job;
    const vm_instance *in;
    int pending; /* IS_PENDING or IS_CURRENT */
    apr_pool_t *pool;
    upgrade_ctx *u;
    int backup_failed;
} site_run;

static const struct {
    const char *script, *arg;
    int in_maintenance; /* a failure leaves the site in it */
} scripts[] = {
    { "admin/cli/maintenance.php", "--enable", 0 },
    { "admin/cli/upgrade.php", "--non-interactive", 1 },
    { "admin/cli/purge_caches.php", NULL, 1 },
    { "admin/cli/maintenance.php", "--disable", 1 },
};

static int run_script(site_run *r, int n, const char *what, const char **err)
{
    const char *arg = scripts[n].arg;
    int code = vmc_upgrade_step(r->job, &r->u->ub, r->in, scripts[n].script,
                                &arg, arg ? 1 : 0);

    if (code != 0)
        *err = apr_psprintf(r->pool, "%s exited %d%s", what, code,
                            scripts[n].in_maintenance
                                ? ", the site stays in maintenance"
                                : "");
    return code ? -1 : 0;
}

static int maintenance_on(void *ctx, const char **err)
{
    return run_script(ctx, 0, "maintenance on", err);
}

/* --backup: in maintenance, before anything changes. */
static int backup_applies(void *ctx)
{
    return ((site_run *)ctx)->u->ub.on;
}

static int backup(void *ctx, const char **err)
{
    site_run *r = ctx;
    r->backup_failed = vmc_upgrade_backup_site(&r->u->ub, r->in, r->pool, err)
        != 0;
    return r->backup_failed ? -1 : 0;
}

static int maintenance_off(void *ctx, const char **err);

/* A failed backup upgraded nothing: maintenance off again. */
static void undo_backup(void *ctx)
{
    site_run *r = ctx;
    const char *err;
    if (r->backup_failed && maintenance_off(r, &err) != 0)
        printf("vmoodlectl: %s\n", err);
}

static int is_pending(void *ctx)
{
    return ((site_run *)ctx)->pending == IS_PENDING;
}

static int run_upgrade(void *ctx, const char **err)
{
    return run_script(ctx, 1, "the upgrade", err);
}

static int purge_caches(void *ctx, const char **err)
{
    return run_script(ctx, 2, "purging caches", err);
}

static int maintenance_off(void *ctx, const char **err)
{
    return run_script(ctx, 3, "maintenance off", err);
}

static const vmc_step steps[] = {
    { "maintenance on (admin/cli/maintenance.php --enable)", NULL, NULL,
      maintenance_on, NULL },
    { "back up the site (as vmoodlectl backup)", NULL, backup_applies, backup,
      undo_backup },
    { "the upgrade (admin/cli/upgrade.php --non-interactive)", NULL, is_pending,
      run_upgrade, NULL },
    { "purge caches (admin/cli/purge_caches.php)", NULL, NULL, purge_caches,
      NULL },
    { "maintenance off (admin/cli/maintenance.php --disable)", NULL, NULL,
      maintenance_off, NULL },
};

#define NSTEPS (int)(sizeof steps / sizeof *steps)

/* In the site's child, as --user. */
static int upgrade_site(const vmc_job *job, const vm_instance *in)
{
    upgrade_ctx *u = job->ctx;
    site_run r = { job, in, 0, u->pool, u, 0 };
    vmc_steps_outcome out;

    r.pending = vmc_upgrade_step(job, &u->ub, in, "admin/cli/upgrade.php",
                                 (const char *const[]){ "--is-pending" }, 1);
    if (r.pending != IS_CURRENT && r.pending != IS_PENDING) {
        printf("vmoodlectl: cannot tell whether an upgrade is pending: "
               "upgrade.php --is-pending exited %d\n",
               r.pending);
        return 1;
    }
    if (r.pending == IS_CURRENT && !u->unfinished) {
        printf("vmoodlectl: up to date\n");
        return UP_CURRENT;
    }
    if (u->dry_run) {
        printf("vmoodlectl: plan:\n");
        vmc_steps_plan(steps, NSTEPS, &r, u->pool);
        printf("vmoodlectl: %s\n",
               is_pending(&r)
                   ? "would be upgraded"
                   : "would be finished: left in maintenance by an upgrade "
                     "that did not end");
        return UP_PENDING;
    }
    if (vmc_steps_run(steps, NSTEPS, &r, &out) != 0) {
        printf("vmoodlectl: %s\n", out.err);
        /* the last line, the summary's: short, the command whole */
        if (!r.backup_failed && u->ub.path)
            printf("%s\n", vmc_upgrade_restore_hint(&u->ub, u->pool));
        return 1;
    }
    printf("vmoodlectl: %s, out of maintenance\n",
           is_pending(&r) ? "upgraded" : "upgrade finished");
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
        apr_hash_set(u->had_marker,
                     apr_pmemdup(u->pool, &in->id, sizeof in->id),
                     sizeof in->id, "");
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
    int had = apr_hash_get(u->had_marker, &r->in->id, sizeof r->in->id) != NULL;
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
    printf("dry run: %d site(s) would be upgraded%s", count, count ? ":" : "");
    for (int i = 0; i < n; i++)
        if (r[i].state == VMC_SITE_DONE && r[i].code == UP_PENDING)
            printf(" %s", r[i].in->key);
    printf("\n");
}

/* --backup: the master has no row, so no backup (backup.c refuses it):
 * --master is refused, --all and --match leave it out, saying so. */
static int backup_master(vmc_opts *o)
{
    if (!o->backup || o->no_master)
        return VMC_EXIT_OK;
    if (o->master)
        return vmc_fail(803, VMC_EXIT_USAGE,
                        "--backup: the master is not in the instance table "
                        "and has no backup here: upgrade it without "
                        "--backup (vmoodlectl upgrade --master)");
    if (o->all || o->match) {
        vmc_say("--backup: the master is left out (it has no backup here): "
                "upgrade it with 'vmoodlectl upgrade --master'");
        o->no_master = 1;
    }
    return VMC_EXIT_OK;
}

int vmc_cmd_upgrade(vmc_opts *o)
{
    upgrade_ctx u = { o->dry_run, o->lock_dir, o->pool, apr_hash_make(o->pool),
                      0,          { 0 } };
    vmc_site_result *results;
    vmc_table t;
    vmc_job job;
    int fg, rc;

    if (o->to)
        return vmc_cmd_upgrade_to(o); /* upgrade_to.c */
    if ((rc = backup_master(o)) != VMC_EXIT_OK)
        return rc;
    if ((o->all || o->match) && !o->no_master)
        o->master = 1; /* the master first unless told */
    if ((rc = vmc_job_prepare(o, "upgrade", 0, &t, &job, &fg)) != VMC_EXIT_OK
        || (rc = vmc_job_lock_dir(o)) != VMC_EXIT_OK
        || (rc = vmc_upgrade_backup_prepare(o, &t, &job, &u.ub)) != VMC_EXIT_OK)
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
