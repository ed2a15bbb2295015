/* The steps of restore (restore.c), each with its undo: maintenance on,
 * the database loaded beside and swapped in, the dataroot likewise, caches
 * purged and maintenance off, Moodle's CLI asked, the old copies removed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "dbadmin.h"
#include "dbtools.h"
#include "files.h"
#include "progress.h"
#include "restore.h"
#include "util.h"

#define RENAME_TRIES 10
#define RENAME_PAUSE_NS (200 * 1000 * 1000)

static const char *parent_of(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');
    return slash == path ? "/"
                         : apr_pstrndup(p, path, (apr_size_t)(slash - path));
}

static const char *base_of(const char *path)
{
    return strrchr(path, '/') + 1;
}

/* ---- the dump loaded into a new database */

static const char *plan_load(void *ctx, apr_pool_t *p)
{
    restore *r = ctx;
    return apr_psprintf(p,
                        "create %s database %s on %s as %s, load %s (%s) "
                        "and give it to %s",
                        r->in->dbtype, r->new_db, vmc_dbconf_server(&r->db, p),
                        r->db.user, r->m.dump_file,
                        vmc_bytes(r->m.dump_size, p), r->in->dblogin);
}

static int load(void *ctx, const char **err)
{
    restore *r = ctx;

    return vmc_create_and_load(r->server, &r->db, r->new_db, NULL, r->dump_path,
                               r->m.dump_size, &r->db_created, r->p, err)
            != 0
        ? -1
        : vmc_handover_give(&r->hand, r->server, &r->db, r->in->dblogin,
                            r->new_db, r->p, err);
}

static void undo_load(void *ctx)
{
    restore *r = ctx;
    const char *err;
    if (r->db_created
        && vmc_site_db_drop(r->server, r->in->dblogin, r->new_db, r->p, &err)
            != 0)
        vmc_error(731, "undo: drop database %s: %s", r->new_db, err);
    vmc_handover_end(&r->hand, r->server, r->p);
}

/* ---- the dataroot copied beside the live one, in maintenance */

static const char *plan_copy(void *ctx, apr_pool_t *p)
{
    restore *r = ctx;
    return apr_psprintf(p,
                        "copy %s/dataroot (%" APR_UINT64_T_FMT " files, "
                        "%s) to %s, owned as %s is, checking each file",
                        r->dir, r->m.data_files, vmc_bytes(r->m.data_bytes, p),
                        r->beside, r->in->datapath);
}

static int copy(void *ctx, const char **err)
{
    restore *r = ctx;
    vmc_copy c;

    vmc_copy_for_site(&c, r->uid, r->gid, parent_of(r->in->datapath, r->p),
                      &r->copy_made);
    c.on_file = vmc_restore_check_file;
    c.ctx = r;
    r->files_checked = 0;
    return vmc_tree_copy_shown(apr_pstrcat(r->p, r->dir, "/dataroot", NULL),
                               r->beside, &c, "copy dataroot", r->m.data_bytes,
                               r->p, err)
            != 0
        ? -1
        : vmc_maintenance_flag(r->beside, r->uid, r->gid, r->p, err);
}

static void undo_copy(void *ctx)
{
    restore *r = ctx;
    const char *err;
    if (r->copy_made
        && vmc_tree_remove(r->beside, parent_of(r->beside, r->p), r->p, &err)
            != 0)
        vmc_error(732, "undo: %s", err);
}

/* ---- the database swapped in */

/* PostgreSQL renames a database nobody is connected to: the site's
 * connections (it is in maintenance) are ended first, again if one
 * slips in. */
static int pg_rename(restore *r, const char *from, const char *to,
                     const char **err)
{
    const char *qf = vm_db_ident(r->server, from, r->p);
    const char *qt = vm_db_ident(r->server, to, r->p);
    const char *end = apr_pstrcat(r->p,
                                  "SELECT pg_terminate_backend(pid) "
                                  "FROM pg_stat_activity WHERE datname = ",
                                  vm_db_param(r->server, 1, r->p),
                                  " AND pid <> pg_backend_pid()", NULL);
    struct timespec pause = { 0, RENAME_PAUSE_NS };

    for (int i = 0; i < RENAME_TRIES; i++) {
        if (vmc_db_exec(r->server, end, 1, &from, r->p, err) == 0
            && vmc_db_exec(r->server,
                           apr_pstrcat(r->p, "ALTER DATABASE ", qf,
                                       " RENAME TO ", qt, NULL),
                           0, NULL, r->p, err)
                == 0)
            return 0;
        nanosleep(&pause, NULL);
    }
    return -1;
}

/* MariaDB cannot rename a database: the row names the new one. */
static int point_row(restore *r, const char *dbname, const char **err)
{
    const vm_row *raw = vmc_raw_row(&r->t, r->in->id);
    vm_row row;
    long long id;

    if (!raw)
        return *err = "the site's row is gone from the table", -1;
    row = *raw;
    vm_row_set(&row, VM_F_VDBNAME, dbname);
    if ((*err = vmc_table_save(&r->t, &row, &id, r->p)) != NULL)
        return -1;
    r->cur.dbname = dbname;
    return 0;
}

static const char *plan_swap_db(void *ctx, apr_pool_t *p)
{
    restore *r = ctx;
    return r->db.pg
        ? apr_psprintf(p,
                       "end the site's connections; rename database %s "
                       "to %s and %s to %s",
                       r->in->dbname, r->old_db, r->new_db, r->in->dbname)
        : apr_psprintf(p,
                       "point the site's row at database %s (%s kept "
                       "until the site answers)",
                       r->new_db, r->in->dbname);
}

static int swap_db(void *ctx, const char **err)
{
    restore *r = ctx;
    const char *ignored;

    if (!r->db.pg)
        return point_row(r, r->new_db, err) == 0 ? (r->db_swapped = 1, 0) : -1;
    if (pg_rename(r, r->in->dbname, r->old_db, err) != 0)
        return -1;
    if (pg_rename(r, r->new_db, r->in->dbname, err) != 0) {
        if (pg_rename(r, r->old_db, r->in->dbname, &ignored) != 0)
            vmc_error(733, "database %s is now named %s: %s", r->in->dbname,
                      r->old_db, ignored);
        return -1;
    }
    r->db_swapped = 1;
    return 0;
}

static void undo_swap_db(void *ctx)
{
    restore *r = ctx;
    const char *err = NULL;

    if (!r->db_swapped)
        return;
    if (r->db.pg ? pg_rename(r, r->in->dbname, r->new_db, &err) != 0
                || pg_rename(r, r->old_db, r->in->dbname, &err) != 0
                 : point_row(r, r->in->dbname, &err) != 0)
        vmc_error(734, "undo: the database swap: %s", err);
    else
        r->db_swapped = 0;
}

/* ---- the dataroot swapped in: one atomic exchange of the two names */

static int exchange(restore *r, const char **err)
{
    const char *base;
    int dir = vmc_open_parent(r->in->datapath, NULL, &base, r->p, err), rc;

    if (dir < 0)
        return -1;
    rc = renameat2(dir, base_of(r->beside), dir, base, RENAME_EXCHANGE);
    if (rc != 0)
        *err = apr_psprintf(r->p, "exchange %s and %s: %s", r->beside,
                            r->in->datapath, strerror(errno));
    close(dir);
    return rc;
}

static const char *plan_swap_data(void *ctx, apr_pool_t *p)
{
    restore *r = ctx;
    return apr_psprintf(p,
                        "exchange %s and %s (the old one kept there "
                        "until the site answers)",
                        r->beside, r->in->datapath);
}

static int swap_data(void *ctx, const char **err)
{
    restore *r = ctx;
    if (exchange(r, err) != 0)
        return -1;
    r->data_swapped = 1;
    return 0;
}

static void undo_swap_data(void *ctx)
{
    restore *r = ctx;
    const char *err;
    if (!r->data_swapped)
        return;
    if (exchange(r, &err) != 0)
        vmc_error(735, "undo: %s", err);
    else
        r->data_swapped = 0;
}

/* ---- caches purged, maintenance off, the site asked */

static int serve(void *ctx, const char **err)
{
    restore *r = ctx;
    return vmc_site_serve(&r->maint, &r->cur, 0, err); /* it serves */
}

static int answers(void *ctx, const char **err)
{
    restore *r = ctx;
    return vmc_site_answers(&r->maint, &r->cur, err);
}

/* ---- the old copies removed: the restore stands even if this fails */

static const char *plan_cleanup(void *ctx, apr_pool_t *p)
{
    restore *r = ctx;
    return apr_psprintf(p, "drop database %s and remove %s (the old ones)",
                        r->old_db, r->beside);
}

static int cleanup(void *ctx, const char **err)
{
    restore *r = ctx;
    const char *why;

    (void)err;
    if (vmc_site_db_drop(r->server, r->in->dblogin, r->old_db, r->p, &why) != 0)
        vmc_error(736, "the old database %s is left: %s", r->old_db, why);
    if (vmc_tree_remove(r->beside, parent_of(r->beside, r->p), r->p, &why) != 0)
        vmc_error(737, "the old dataroot %s is left: %s", r->beside, why);
    vmc_handover_end(&r->hand, r->server, r->p);
    return 0;
}

const vmc_step vmc_restore_steps[] = {
    { "maintenance on", vmc_maintenance_plan, NULL, vmc_maintenance_on,
      vmc_maintenance_undo },
    { "load the database", plan_load, NULL, load, undo_load },
    { "copy the dataroot", plan_copy, NULL, copy, undo_copy },
    { "swap the database in", plan_swap_db, NULL, swap_db, undo_swap_db },
    { "swap the dataroot in", plan_swap_data, NULL, swap_data, undo_swap_data },
    { "purge caches and leave maintenance", NULL, NULL, serve, NULL },
    { "check that the site answers (admin/cli/cfg.php)", NULL, NULL, answers,
      NULL },
    { "remove the old copies", plan_cleanup, NULL, cleanup, NULL },
};
const int vmc_restore_nsteps = sizeof vmc_restore_steps
    / sizeof vmc_restore_steps[0];
