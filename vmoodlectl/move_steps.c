/* The steps of move (move.c), each with its undo. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include "dbadmin.h"
#include "dbtools.h"
#include "files.h"
#include "move.h"
#include "progress.h"
#include "util.h"

static int db_moves(void *ctx)
{
    return !((move_run *)ctx)->same_db;
}

static int data_moves(void *ctx)
{
    return !((move_run *)ctx)->same_data;
}

static const char *dump_path(const move_run *m)
{
    return apr_pstrcat(m->p, m->work, "/", vmc_dump_file(&m->from_db), NULL);
}

static const char *plan_dump(void *ctx, apr_pool_t *p)
{
    move_run *m = ctx;
    return apr_psprintf(p, "dump database %s on %s into %s", m->in->dbname,
                        vmc_dbconf_server(&m->from_db, p), m->work);
}

static int dump(void *ctx, const char **err)
{
    move_run *m = ctx;
    vmc_progress pr;
    int rc;

    if (mkdir(m->work, 0700) != 0)
        return *err = apr_psprintf(m->p, "%s: %s", m->work, strerror(errno)),
               -1;
    m->work_made = 1;
    vmc_progress_start(&pr, "dump database", 0, NULL);
    rc = vmc_dump(&m->from_db, dump_path(m), NULL, &pr, m->p, err);
    vmc_progress_end(&pr, rc == 0);
    return rc;
}

static void remove_work(move_run *m)
{
    const char *err;
    if (m->work_made
        && vmc_tree_remove(m->work, m->o->lock_dir, m->p, &err) != 0)
        vmc_error(771, "%s", err);
    m->work_made = 0;
}

static void undo_dump(void *ctx)
{
    remove_work(ctx);
}

static int login_moves(void *ctx)
{
    return ((move_run *)ctx)->login_needed;
}

static const char *plan_login(void *ctx, apr_pool_t *p)
{
    move_run *m = ctx;
    return apr_psprintf(p, "make the site's login %s on %s as %s",
                        m->to.dblogin, vmc_dbconf_server(&m->to_db, p),
                        m->admin_db.user);
}

static int make_login(void *ctx, const char **err)
{
    move_run *m = ctx;

    m->login.name = m->to.dblogin;
    m->login.password = m->to.dbpass; /* the row's, unchanged */
    m->login.host = m->o->db_client_host;
    if (vmc_role_create(m->server, &m->login, m->p, err) != 0)
        return -1;
    m->login_made = 1;
    return 0;
}

static void undo_login(void *ctx)
{
    move_run *m = ctx;
    const char *err;
    if (m->login_made
        && vmc_role_drop(m->server, m->to.dblogin, m->p, &err) != 0)
        vmc_error(784, "undo: drop login %s: %s", m->to.dblogin, err);
    m->login_made = 0;
}

static const char *plan_load(void *ctx, apr_pool_t *p)
{
    move_run *m = ctx;
    return apr_psprintf(p,
                        "create database %s on %s as %s, load the dump "
                        "and give it to %s",
                        m->to.dbname, vmc_dbconf_server(&m->to_db, p),
                        m->admin_db.user, m->to.dblogin);
}

static int load(void *ctx, const char **err)
{
    move_run *m = ctx;

    return vmc_create_and_load(m->server, &m->admin_db, m->to.dbname, NULL,
                               dump_path(m), 0, &m->db_made, m->p, err)
            != 0
        ? -1
        : vmc_handover_give(&m->hand, m->server, &m->admin_db, m->to.dblogin,
                            m->to.dbname, m->p, err);
}

static void undo_load(void *ctx)
{
    move_run *m = ctx;
    const char *err;
    if (m->db_made
        && vmc_site_db_drop(m->server, m->to.dblogin, m->to.dbname, m->p, &err)
            != 0)
        vmc_error(772, "undo: drop database %s: %s", m->to.dbname, err);
    vmc_handover_end(&m->hand, m->server, m->p);
}

static const char *plan_copy(void *ctx, apr_pool_t *p)
{
    move_run *m = ctx;
    return apr_psprintf(p,
                        "copy %s (%" APR_UINT64_T_FMT " files, %s) to %s "
                        "while the site serves, without run-time files, "
                        "owned as it is",
                        m->in->datapath, m->files, vmc_bytes(m->bytes, p),
                        m->to.datapath);
}

/* One pass of the dataroot's copy: the first one whole (the site
 * serving), the later one (in maintenance) only what changed since. */
static int copy_pass(move_run *m, int update, const char **err)
{
    vmc_copy c;

    vmc_copy_for_site(&c, m->uid, m->gid, m->o->data_parent, &m->data_made);
    c.skip_runtime = 1;
    c.update = update;
    vmc_say("%s %s to %s%s", update ? "copying what changed in" : "copying",
            m->in->datapath, m->to.datapath,
            update ? " in maintenance" : " while the site serves");
    return vmc_tree_copy_shown(m->in->datapath, m->to.datapath, &c,
                               update ? "copy changes" : "copy dataroot",
                               update ? 0 : m->bytes, m->p, err);
}

static int copy(void *ctx, const char **err)
{
    return copy_pass(ctx, 0, err);
}

static const char *plan_update(void *ctx, apr_pool_t *p)
{
    move_run *m = ctx;
    return apr_psprintf(p,
                        "copy to %s what changed in %s since (size or "
                        "time), remove there what is gone",
                        m->to.datapath, m->in->datapath);
}

/* The new dataroot starts in maintenance, as the site now is. */
static int update(void *ctx, const char **err)
{
    move_run *m = ctx;
    return copy_pass(m, 1, err) != 0
        ? -1
        : vmc_maintenance_flag(m->to.datapath, m->uid, m->gid, m->p, err);
}

static void undo_copy(void *ctx)
{
    move_run *m = ctx;
    const char *err;
    if (m->data_made
        && vmc_tree_remove(m->to.datapath, m->o->data_parent, m->p, &err) != 0)
        vmc_error(773, "undo: %s", err);
}

/* Settings naming the old dataroot (geoip2file, ...) name the new one:
 * in the new database, or in the site's own when only the dataroot
 * moves (then undone by the reverse). */
static int settings(move_run *m, int forward, const char **err)
{
    return vmc_site_settings_moved(&m->to_db, m->to.dbname, m->to.dbprefix,
                                   m->in->wwwroot, m->in->wwwroot,
                                   forward ? m->in->datapath : m->to.datapath,
                                   forward ? m->to.datapath : m->in->datapath,
                                   m->p, err);
}

static const char *plan_settings(void *ctx, apr_pool_t *p)
{
    move_run *m = ctx;
    return apr_psprintf(p,
                        "settings (config, config_plugins) naming %s: "
                        "%s",
                        m->in->datapath, m->to.datapath);
}

static int move_settings(void *ctx, const char **err)
{
    return settings(ctx, 1, err);
}

static void undo_settings(void *ctx)
{
    move_run *m = ctx;
    const char *err;
    if (m->same_db && settings(m, 0, &err) != 0)
        vmc_error(769, "undo: %s", err);
}

/* The new place holds what the old one did: Moodle's version read back
 * with the new row's credentials, the same files and bytes (both
 * measured now, in maintenance). */
static int verify(void *ctx, const char **err)
{
    move_run *m = ctx;
    vmc_moodle_info mi;
    uint64_t bytes, files;
    vm_db *db;

    if (!(db = vmc_db_open(&m->to_db, m->to.dbname, m->p, err))
        || vmc_moodle_info_read(db, m->to.dbprefix, &mi, m->p, err) != 0)
        return -1;
    vm_db_close(db);
    if (!mi.version || !m->version || strcmp(mi.version, m->version) != 0)
        return *err = "the new database does not hold the site's Moodle "
                      "version",
               -1;
    if (m->same_data) /* not copied, not measured */
        return 0;
    if (vmc_tree_measure(m->in->datapath, 1, &m->bytes, &m->files, m->p, err)
            != 0
        || vmc_tree_measure(m->to.datapath, 1, &bytes, &files, m->p, err) != 0)
        return -1;
    if (bytes != m->bytes || files != m->files)
        return *err = apr_psprintf(m->p,
                                   "the new dataroot holds %" APR_UINT64_T_FMT
                                   " files (%s), not %" APR_UINT64_T_FMT,
                                   files, vmc_bytes(bytes, m->p), m->files),
               -1;
    return 0;
}

static int switch_row(void *ctx, const char **err)
{
    move_run *m = ctx;
    return vmc_row_change(&m->t, &m->row, &m->row_saved, m->p, err);
}

static void undo_switch(void *ctx)
{
    move_run *m = ctx;
    const char *err = vmc_row_change_undo(&m->t, m->in->id, &m->row_saved,
                                          m->p);
    if (err)
        vmc_error(774, "undo: the row of %s: %s", m->in->wwwroot, err);
}

static int record(void *ctx, const char **err)
{
    move_run *m = ctx;
    if (vmc_move_record_write(m, err) != 0)
        return -1;
    m->record_made = 1;
    return 0;
}

static void undo_record(void *ctx)
{
    move_run *m = ctx;
    if (m->record_made)
        unlink(m->record);
}

static int serve(void *ctx, const char **err)
{
    move_run *m = ctx;
    return vmc_site_serve(&m->maint, &m->to, 1, err);
}

/* Back in maintenance where the dataroot did not move (where it did, the
 * old one still is, and its undo ends it there). */
static void undo_serve(void *ctx)
{
    move_run *m = ctx;
    const char *err;
    if (m->same_data && vmc_maintenance_on(&m->maint, &err) != 0)
        vmc_error(775, "undo: %s", err);
}

static int answers(void *ctx, const char **err)
{
    move_run *m = ctx;
    return vmc_site_answers(&m->maint, &m->to, err);
}

static int tidy(void *ctx, const char **err)
{
    move_run *m = ctx;

    (void)err;
    remove_work(ctx);
    vmc_handover_end(&m->hand, m->server, m->p);
    return 0;
}

static const char *plan_keep(void *ctx, apr_pool_t *p)
{
    move_run *m = ctx;
    return apr_psprintf(p,
                        "keep the old copies until move %s --cleanup "
                        "(%s)",
                        m->in->key, m->record);
}

/* The dataroot is copied first while the site serves; the database (which
 * cannot be copied whole while Moodle writes it) and what changed in the
 * dataroot since, in maintenance. */
const vmc_step vmc_move_steps[] = {
    { "copy the dataroot while the site serves", plan_copy, data_moves, copy,
      undo_copy },
    { "maintenance on", vmc_maintenance_plan, NULL, vmc_maintenance_on,
      vmc_maintenance_undo },
    { "dump the database", plan_dump, db_moves, dump, undo_dump },
    { "make the site's login on the new server", plan_login, login_moves,
      make_login, undo_login },
    { "load it into the new database", plan_load, db_moves, load, undo_load },
    { "copy what changed in the dataroot since", plan_update, data_moves,
      update, NULL },
    { "rewrite the settings naming the dataroot", plan_settings, data_moves,
      move_settings, undo_settings },
    { "verify the new copies", NULL, NULL, verify, NULL },
    { "switch the row", NULL, NULL, switch_row, undo_switch },
    { "record the old copies", plan_keep, NULL, record, undo_record },
    { "purge caches and leave maintenance", NULL, NULL, serve, undo_serve },
    { "check that the site answers (admin/cli/cfg.php)", NULL, NULL, answers,
      NULL },
    { "remove the dump", NULL, db_moves, tidy, NULL },
};
const int vmc_move_nsteps = sizeof vmc_move_steps / sizeof vmc_move_steps[0];
