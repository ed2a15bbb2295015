/* upgrade SITES --to PLATFORM: move each site, one after the other, to
 * another code tree.  For each: its vcron lock (no cron beside it),
 * maintenance on (old code), its row switched to the platform, a pause for
 * the web servers to read the table (--settle), upgrade.php, caches purged
 * and maintenance off (new code).  A failure switches the row back, purges
 * caches and leaves maintenance with the old code: the site serves as it
 * did.  Every other site serves throughout, on whichever platform it is.
 *
 * With --backup, the site is backed up (as the backup command does) once
 * in maintenance; should its upgrade then fail or be interrupted, it goes
 * back to its old platform and is restored in place from that backup (as
 * the restore command does: database and dataroot), and serves.  If that
 * restore fails too, it stays in maintenance and the line names the one
 * restore command that puts it back. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "fleet.h"
#include "fleet_cmds.h"
#include "interrupt.h"
#include "platforms.h"
#include "restore.h"
#include "steps.h"
#include "upgrade_backup.h"
#include "lifecycle.h"
#include "vm_cli.h"
#include "vm_file.h"
#include "vm_job.h"
#include "vm_lock.h"
#include "vm_text.h"

#define DEFAULT_SETTLE 15 /* VMoodleRefresh's default 10, and a margin */

typedef struct {
    vmc_opts *o;
    vmc_table *t;
    const vmc_job *job;
    const vm_instance *in; /* as it was: its old platform */
    vm_instance moved;     /* the same on the new platform */
    const char *old_tree, *new_tree;
    int log_fd;
    vm_lock lock;
    int maintenance, switched; /* what to undo */
    int undoing;               /* an interrupt no longer cuts things short */
    long settle;               /* seconds, see settle() */
    apr_pool_t *p;
    vmc_upgrade_backup *ub; /* --backup (upgrade_backup.h) */
    int upgrade_began;      /* the database may have changed */
    enum { NOT_RESTORED, RESTORED, RESTORE_FAILED } restore;
} move;

/* One CLI script of the site (as it is: its platform's code, its user),
 * its output in the site's log.  0, or -1 with *err. */
static int script(move *m, const vm_instance *as, const char *what,
                  const char *path, const char *arg, const char **err)
{
    const char *args[] = { arg };
    vm_job_opts jo = { 0 };
    vm_job j;

    if (vmc_siterun_opts(&m->job->cli, as, path, args, arg ? 1 : 0, &jo, m->p,
                         err)
        != 0)
        return -1;
    jo.io[1] = jo.io[2] = (vm_job_io){ VM_JOB_VISIBLE, m->log_fd };
    jo.keep_fd = m->lock.fd;
    jo.timeout_ms = m->job->timeout > 0 ? m->job->timeout * 1000LL : 0;
    jo.grace_ms = m->job->grace * 1000LL;
    dprintf(m->log_fd, "vmoodlectl: %s: %s/%s %s\n", what, jo.dir, path,
            arg ? arg : "");
    if (vm_job_start(&j, &jo, m->p, err) != 0)
        return -1;
    /* Ctrl-C ends the script's group, and the undo runs (to the end) */
    if (vm_job_wait(&j, m->undoing ? NULL : vmc_interrupted) == 0)
        return 0;
    *err = apr_psprintf(m->p, "%s exited %d (see the log)", path, j.code);
    return -1;
}

static int take_lock(void *ctx, const char **err)
{
    move *m = ctx;
    return vm_lock_take(&m->lock, m->o->lock_dir, m->t->src, m->in->id, m->p,
                        err)
            == VM_LOCK_GOT
        ? 0
        : -1;
}

static void drop_lock(void *ctx)
{
    move *m = ctx;
    if (m->lock.fd >= 0 || m->lock.remote)
        vm_lock_release(&m->lock, m->t->src, m->in->id, m->p);
}

static int maintenance_on(void *ctx, const char **err)
{
    move *m = ctx;
    if (script(m, m->in, "maintenance on", "admin/cli/maintenance.php",
               "--enable", err))
        return -1;
    m->maintenance = 1;
    return 0;
}

/* Last of the undo: the old code purges its caches and opens the site. */
static void back_in_service(void *ctx)
{
    move *m = ctx;
    const char *err = NULL;
    m->undoing = 1;
    if (!m->maintenance)
        return;
    if (script(m, m->in, "purge caches (back)", "admin/cli/purge_caches.php",
               NULL, &err)
        || script(m, m->in, "maintenance off (back)",
                  "admin/cli/maintenance.php", "--disable", &err))
        vmc_error(600,
                  "%s: back on its platform but %s: it stays in "
                  "maintenance",
                  m->in->key, err);
}

static int save_platform(move *m, const char *platform, const char **err)
{
    const vm_row *old = vmc_raw_row(m->t, m->in->id);
    vm_row row;
    long long id;

    if (!old) {
        *err = "the instance's row is gone";
        return -1;
    }
    row = *old;
    vm_row_set(&row, VM_F_PLATFORM, platform);
    if ((*err = vmc_table_validate(m->t, &row, m->p)) == NULL)
        *err = vmc_table_save(m->t, &row, &id, m->p);
    return *err ? -1 : 0;
}

/* The web servers read the table every VMoodleRefresh seconds (at once
 * on a PostgreSQL NOTIFY): the site leaves maintenance only once they
 * serve it from its new tree. */
static void settle(const move *m)
{
    struct timespec d = { (time_t)m->settle, 0 };

    while (nanosleep(&d, &d) != 0 && errno == EINTR
           && (m->undoing || !vmc_interrupted()))
        ;
}

static int switch_platform(void *ctx, const char **err)
{
    move *m = ctx;
    if (save_platform(m, m->moved.platform, err))
        return -1;
    m->switched = 1;
    settle(m);
    return 0;
}

static void switch_back(void *ctx)
{
    move *m = ctx;
    const char *err = NULL;
    m->undoing = 1;
    if (!m->switched)
        return;
    if (save_platform(m, m->in->platform, &err)) {
        vmc_error(601, "%s: could not switch back to platform '%s': %s",
                  m->in->key, m->in->platform, err);
        return;
    }
    m->switched = 0;
    settle(m);
}

/* ---- --backup: a restore point, and the restore should the upgrade fail */

static int backup_applies(void *ctx)
{
    return ((move *)ctx)->ub->on;
}

static const char *plan_backup(void *ctx, apr_pool_t *p)
{
    const move *m = ctx;
    return apr_psprintf(p, "back up %s into %s/ (as vmoodlectl backup)",
                        m->in->key,
                        vmc_backup_site_dir(m->ub->run.dir, m->in, p));
}

static int take_backup(void *ctx, const char **err)
{
    move *m = ctx;
    return vmc_upgrade_backup_site(m->ub, m->in, m->p, err);
}

static const char *plan_restore(void *ctx, apr_pool_t *p)
{
    const move *m = ctx;
    return apr_psprintf(p,
                        "should the upgrade fail: back on platform '%s', "
                        "restore that backup in place (as vmoodlectl "
                        "restore: database and dataroot), out of "
                        "maintenance",
                        m->in->platform);
}

static int restore_point(void *ctx, const char **err)
{
    (void)ctx;
    (void)err;
    return 0; /* its undo is the restore */
}

/* After switch_back, before back_in_service: on the old platform, the
 * database and dataroot the upgrade may have changed restored.  It runs
 * to its end even after an interrupt (a new one stops it). */
static void restore_back(void *ctx)
{
    move *m = ctx;
    int sig;

    m->undoing = 1;
    if (!m->upgrade_began || !m->ub->path)
        return;
    m->maintenance = 0; /* restored, it serves; if not, it stays so */
    m->restore = RESTORE_FAILED;
    if (m->switched)
        return; /* still on the new platform (VM00601 said why) */
    vmc_say("%s: restoring it from %s", m->in->key, m->ub->path);
    fflush(stdout);
    sig = vmc_interrupt_hold();
    if (vmc_restore_in_place(m->o, &m->job->cli, m->ub->path) == 0)
        m->restore = RESTORED;
    vmc_interrupt_resume(sig);
}

static int upgrade(void *ctx, const char **err)
{
    move *m = ctx;
    m->upgrade_began = 1;
    return script(m, &m->moved, "upgrade", "admin/cli/upgrade.php",
                  "--non-interactive", err);
}

static int purge(void *ctx, const char **err)
{
    move *m = ctx;
    return script(m, &m->moved, "purge caches", "admin/cli/purge_caches.php",
                  NULL, err);
}

static int maintenance_off(void *ctx, const char **err)
{
    move *m = ctx;
    if (script(m, &m->moved, "maintenance off", "admin/cli/maintenance.php",
               "--disable", err))
        return -1;
    m->maintenance = 0;
    return 0;
}

static const char *plan_switch(void *ctx, apr_pool_t *p)
{
    const move *m = ctx;
    return apr_psprintf(p,
                        "switch %s from platform '%s' (%s) to '%s' (%s), "
                        "wait %lds for the web servers",
                        m->in->key, m->in->platform, m->old_tree,
                        m->moved.platform, m->new_tree, m->settle);
}

static const vmc_step steps[] = {
    { "take the site's lock", NULL, NULL, take_lock, drop_lock },
    { "maintenance on (old code)", NULL, NULL, maintenance_on,
      back_in_service },
    { "back up the site", plan_backup, backup_applies, take_backup, NULL },
    { "keep the restore point", plan_restore, backup_applies, restore_point,
      restore_back },
    { "switch the platform", plan_switch, NULL, switch_platform, switch_back },
    { "upgrade.php (new code)", NULL, NULL, upgrade, NULL },
    { "purge caches (new code)", NULL, NULL, purge, NULL },
    { "maintenance off (new code)", NULL, NULL, maintenance_off, NULL },
};
#define NSTEPS (int)(sizeof steps / sizeof steps[0])

static int open_log(move *m, int dir_fd, const char **err)
{
    m->log_fd = vm_file_log_open(dir_fd, m->job->log_dir,
                                 vm_cli_log_name(m->in, m->p),
                                 VM_FILE_LOG_APPEND, 0, m->p, err);
    return m->log_fd;
}

/* A site that did not move: where it is now. */
static void failed_line(const move *m, const vmc_steps_outcome *out)
{
    const char *why = vm_text_visible(out->err, m->p);
    const char *log = apr_pstrcat(m->p, m->job->log_dir, "/",
                                  vm_cli_log_name(m->in, m->p), NULL);

    if (m->restore == RESTORED)
        vmc_error(800,
                  "%s: %s failed: %s; back on platform '%s' with its "
                  "database and dataroot restored from %s, out of "
                  "maintenance (log: %s)",
                  m->in->key, out->failed, why, m->in->platform, m->ub->path,
                  log);
    else if (m->restore == RESTORE_FAILED)
        vmc_error(801,
                  "%s: %s failed: %s; not restored: it stays in "
                  "maintenance; to put it back: vmoodlectl restore %s "
                  "(log: %s)",
                  m->in->key, out->failed, why, m->ub->path, log);
    else
        vmc_error(603, "%s: %s failed: %s; back on platform '%s' (log: %s)",
                  m->in->key, out->failed, why, m->in->platform, log);
}

/* One site: 0 moved, 1 failed (and back), after saying so. */
static int move_site(move *m, int dir_fd)
{
    vmc_steps_outcome out;
    const char *why;

    if (m->o->dry_run) {
        vmc_say("%s:", m->in->key);
        vmc_steps_plan(steps, NSTEPS, m, m->p);
        return 0;
    }
    if (open_log(m, dir_fd, &why) < 0) {
        vmc_error(602, "%s: %s", m->in->key, why);
        return 1;
    }
    vmc_say("%s: moving from platform '%s' to '%s'", m->in->key,
            m->in->platform, m->moved.platform);
    int rc = vmc_steps_run(steps, NSTEPS, m, &out);
    close(m->log_fd);
    if (rc == 0) {
        drop_lock(m); /* vcron may run its cron again */
        vmc_say("%s: on platform '%s', upgraded, out of maintenance",
                m->in->key, m->moved.platform);
        return 0;
    }
    failed_line(m, &out);
    return 1;
}

/* --backup: each site could be restored should its upgrade fail. */
static int check_restore(vmc_opts *o, const vmc_table *t, const vmc_job *job)
{
    for (int i = 0; o->backup && i < job->sites->nelts; i++) {
        const vm_instance *in = APR_ARRAY_IDX(job->sites, i,
                                              const vm_instance *);
        const char *why = vmc_restore_possible(o, t, in);
        if (why)
            return vmc_fail(802, VMC_EXIT_FAIL,
                            apr_psprintf(o->pool,
                                         "%s: --backup: it could not be "
                                         "restored should its upgrade "
                                         "fail, nothing done: %s",
                                         in->key, why));
    }
    return VMC_EXIT_OK;
}

/* Everything checked before any site moves. */
static int check(vmc_opts *o, const vmc_job *job, const char **tree)
{
    if (o->master)
        return vmc_fail(606, VMC_EXIT_USAGE,
                        "--to: the master has no row "
                        "and stays on the default platform");
    *tree = vm_platform_path(job->cli.platforms, *o->to ? o->to : NULL,
                             job->cli.moodle_dir);
    if (!*tree)
        return vmc_fail(607, VMC_EXIT_USAGE,
                        apr_psprintf(o->pool,
                                     "--to: platform '%s' is not in %s",
                                     vm_text_visible(o->to, o->pool),
                                     o->platforms_file
                                         ? o->platforms_file
                                         : "any platforms file "
                                           "(set platforms = FILE)"));
    if (access(apr_pstrcat(o->pool, *tree, "/admin/cli/upgrade.php", NULL),
               R_OK)
        != 0)
        return vmc_fail(608, VMC_EXIT_USAGE,
                        apr_psprintf(o->pool,
                                     "--to: %s has no admin/cli/upgrade.php",
                                     *tree));
    for (int i = 0; i < job->sites->nelts; i++) {
        const vm_instance *in = APR_ARRAY_IDX(job->sites, i,
                                              const vm_instance *);
        const char *why;
        if (!vm_siterun_tree(&job->cli, in, o->pool, &why))
            return vmc_fail(609, VMC_EXIT_FAIL,
                            apr_psprintf(o->pool, "%s: %s", in->key, why));
    }
    return VMC_EXIT_OK;
}

/* --settle: 0 to 86400 seconds.  0, or -1 when text is not that. */
static int seconds(const char *text, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 0 || v > 86400)
        return -1;
    *out = v;
    return 0;
}

int vmc_cmd_upgrade_to(vmc_opts *o)
{
    const char *tree = NULL, *why = NULL, *to;
    long settle = DEFAULT_SETTLE;
    vmc_table t;
    vmc_job job;
    vmc_upgrade_backup ub;
    int fg, rc, failed = 0, dir_fd = -1;

    if (o->settle_text && seconds(o->settle_text, &settle) != 0)
        return vmc_fail(
            611, VMC_EXIT_USAGE,
            apr_psprintf(o->pool,
                         "--settle "
                         "wants a whole number of seconds, not '%s'",
                         vm_text_visible(o->settle_text, o->pool)));
    if ((rc = vmc_job_prepare(o, "upgrade", 0, &t, &job, &fg)) != VMC_EXIT_OK
        || (rc = check(o, &job, &tree)) != VMC_EXIT_OK
        || (rc = vmc_upgrade_backup_init(o, &t, &job, &ub)) != VMC_EXIT_OK
        || (rc = check_restore(o, &t, &job)) != VMC_EXIT_OK
        || (!o->dry_run && (rc = vmc_job_lock_dir(o)) != VMC_EXIT_OK))
        return rc;
    if (!o->dry_run
        && (dir_fd = vmc_log_dir_open(job.log_dir, o->pool, &why)) < 0)
        return vmc_fail(610, VMC_EXIT_FAIL, why);
    to = apr_pstrdup(o->pool, o->to);

    vmc_interrupt_install();
    for (int i = 0; i < job.sites->nelts && !vmc_interrupted(); i++) {
        const vm_instance *in = APR_ARRAY_IDX(job.sites, i,
                                              const vm_instance *);
        move m = {
            o,      &t,          &job,
            in,     *in,         vm_siterun_tree(&job.cli, in, o->pool, &why),
            tree,   -1,          { -1, 0 },
            0,      0,           0,
            settle, o->pool,     &ub,
            0,      NOT_RESTORED
        };
        if (strcmp(in->platform, to) == 0) {
            vmc_say("%s: already on platform '%s'", in->key, to);
            continue;
        }
        m.moved.platform = to;
        failed += move_site(&m, dir_fd);
        if (failed && o->fail_fast)
            break;
    }
    if (dir_fd >= 0)
        close(dir_fd);
    return failed || vmc_interrupted() ? VMC_EXIT_FAIL : VMC_EXIT_OK;
}
