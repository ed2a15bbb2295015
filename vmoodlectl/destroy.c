/* destroy HOST --yes: take an instance out of service for good: disable
 * its row, drop its database, remove its dataroot (only inside the data
 * parent), remove the row, then drop the site's database login unless
 * another row or the master uses it; in steps (steps.h).  Never what
 * another site uses: a database or a dataroot shared with another row or
 * with the master is refused.  The database work is done as
 * --admin-dbuser when given, else as the row's own login (which cannot
 * drop itself). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include "ctl.h"
#include "db.h"
#include "dbadmin.h"
#include "files.h"
#include "logins.h"
#include "roles.h"
#include "shared.h"
#include "steps.h"
#include "util.h"
#include "vm_text.h"

static const char *check_dataroot(const vmc_opts *o, const vm_instance *in)
{
    const char *why = vmc_path_inside(in->datapath, o->data_parent, o->pool);
    struct stat st;

    if (why)
        return apr_psprintf(o->pool, "dataroot %s %s; refusing to remove it",
                            in->datapath, why);
    if (lstat(in->datapath, &st) == 0 && !S_ISDIR(st.st_mode))
        return apr_psprintf(o->pool, "dataroot %s is not a directory",
                            in->datapath);
    return NULL;
}

static const char *row_name(const vm_row *r, apr_pool_t *p)
{
    const char *host = r->present[VM_F_VHOSTNAME] ? r->value[VM_F_VHOSTNAME]
                                                  : NULL;
    const char *id = r->present[VM_F_ID] ? r->value[VM_F_ID] : NULL;

    return apr_psprintf(p, "%s (id %s)", host && *host ? host : "a row",
                        id && *id ? id : "none");
}

/* Another row, or the master, using in's database or dataroot: why. */
static const char *check_shared(const vmc_opts *o, const vmc_table *t,
                                const vm_instance *in)
{
    const vm_row *mine = vmc_raw_row(t, in->id);
    vmc_place place = { in->dbtype, in->dbhost, in->dbname }, home;
    apr_pool_t *p = o->pool;
    int i;

    for (i = 0; i < t->rows->nelts; i++) {
        const vm_row *r = &APR_ARRAY_IDX(t->rows, i, vm_row);
        vmc_place other = vmc_row_place(r);
        if (r == mine)
            continue;
        if (vmc_same_database(&place, &other, p))
            return apr_psprintf(p,
                                "database %s on %s is also %s's; refusing "
                                "to drop it",
                                in->dbname, in->dbhost, row_name(r, p));
        if (r->present[VM_F_VDATAPATH]
            && vmc_paths_overlap(in->datapath, r->value[VM_F_VDATAPATH], p))
            return apr_psprintf(p,
                                "dataroot %s overlaps %s, the dataroot of "
                                "%s; refusing to remove it",
                                in->datapath, r->value[VM_F_VDATAPATH],
                                row_name(r, p));
    }
    if (vmc_table_home(t, &home, p) && vmc_same_database(&place, &home, p))
        return apr_psprintf(p,
                            "database %s on %s is the master's (it holds "
                            "the instance table %s); refusing to drop it",
                            in->dbname, in->dbhost, t->src->table);
    if (o->master_dataroot
        && vmc_paths_overlap(in->datapath, o->master_dataroot, p))
        return apr_psprintf(p,
                            "dataroot %s overlaps the master's %s "
                            "(master-dataroot); refusing to remove it",
                            in->datapath, o->master_dataroot);
    return NULL;
}

/* The steps, see steps.h.  Only the first has an undo: once the
 * database is dropped there is no going back, and a failure says where it
 * stopped. */
typedef struct {
    vmc_opts *o;
    vmc_table *t;
    const vm_instance *in;
    int disabled;  /* the row was enabled and we disabled it */
    int dropped;   /* the database may be gone */
    vm_db *server; /* as --admin-dbuser, else the row's login */
} destroy;

static const char *save_enabled(destroy *d, const char *enabled)
{
    const vm_row *old = vmc_raw_row(d->t, d->in->id);
    vm_row row;
    long long id;

    if (!old)
        return "the instance's row is gone";
    row = *old;
    vm_row_set(&row, VM_F_ENABLED, enabled);
    return vmc_table_save(d->t, &row, &id, d->o->pool);
}

static int disable_row(void *ctx, const char **err)
{
    destroy *d = ctx;

    if ((*err = save_enabled(d, "0")) != NULL)
        return -1;
    d->disabled = d->in->enabled;
    return 0;
}

/* The database still there: the site serves again as it did. */
static void enable_again(void *ctx)
{
    destroy *d = ctx;
    const char *err;

    if (!d->disabled || d->dropped)
        return;
    if ((err = save_enabled(d, "1")) != NULL)
        vmc_error(434, "undo: enable the row again: %s", err);
    else
        vmc_say("undone: the row is enabled again");
}

static const char *plan_drop(void *ctx, apr_pool_t *p)
{
    const destroy *d = ctx;
    return apr_psprintf(p, "drop %s database %s on %s", d->in->dbtype,
                        d->in->dbname, d->in->dbhost);
}

/* The server, as --admin-dbuser or else as the row's login. */
static vm_db *open_server(vmc_opts *o, const vm_instance *in, const char **err)
{
    const char *user = o->admin_dbuser ? o->admin_dbuser : in->dblogin;
    const char *pass = o->admin_dbuser
        ? (o->admin_dbpass ? o->admin_dbpass : "")
        : in->dbpass;
    vmc_dbconf c;

    if (vmc_dbconf_make(&c, in->dbtype, in->dbhost, user, pass, in->dbname,
                        o->pool, err)
        != 0)
        return NULL;
    return vmc_db_open(&c, NULL, o->pool, err);
}

static int drop_database(void *ctx, const char **err)
{
    destroy *d = ctx;
    const vm_instance *in = d->in;
    apr_pool_t *p = d->o->pool;
    int exists;

    if (!(d->server = open_server(d->o, in, err))
        || (exists = vmc_dbadmin_exists(d->server, in->dbname, p, err)) < 0)
        return -1;
    d->dropped = 1;
    if (!exists) {
        vmc_say("database %s was already gone", in->dbname);
        return 0;
    }
    return vmc_role_drop_database(d->server, in->dblogin, in->dbname, p, err);
}

static const char *plan_login(void *ctx, apr_pool_t *p)
{
    const destroy *d = ctx;
    return apr_psprintf(p,
                        "drop its database login %s unless another site "
                        "or the master uses it",
                        d->in->dblogin);
}

/* The site's login goes with it when nobody else uses it; a login that
 * cannot go is said, not a failure: the site is gone already. */
static int drop_login(void *ctx, const char **err)
{
    destroy *d = ctx;
    apr_pool_t *p = d->o->pool;
    const char *login = d->in->dblogin;
    const char *other = vmc_login_sharer(d->t, d->in, p);
    const char *me = vmc_role_current(d->server, p, err);

    if (other)
        vmc_say("kept database login %s: %s uses it too", login,
                vm_text_visible(other, p));
    else if (!me || strcmp(me, login) == 0)
        vmc_say("kept database login %s: give an administrative login "
                "(--admin-dbuser) to drop it",
                login);
    else if (vmc_role_drop(d->server, login, p, err) != 0)
        vmc_error(481, "kept database login %s: %s", login, *err);
    else
        vmc_say("dropped database login %s", login);
    return 0;
}

static const char *plan_remove(void *ctx, apr_pool_t *p)
{
    return apr_psprintf(p, "remove %s", ((const destroy *)ctx)->in->datapath);
}

static int remove_dataroot(void *ctx, const char **err)
{
    destroy *d = ctx;
    struct stat st;

    if (lstat(d->in->datapath, &st) != 0)
        return 0;
    return vmc_tree_remove(d->in->datapath, d->o->data_parent, d->o->pool, err);
}

static int remove_row(void *ctx, const char **err)
{
    destroy *d = ctx;

    return d->t->src->ops->delete_row(d->t->src, d->in->id, d->o->pool, err)
            != VM_OK
        ? -1
        : 0;
}

static const vmc_step steps[] = {
    { "disable its row", NULL, NULL, disable_row, enable_again },
    { "drop the database", plan_drop, NULL, drop_database, NULL },
    { "remove the dataroot", plan_remove, NULL, remove_dataroot, NULL },
    { "remove its row", NULL, NULL, remove_row, NULL },
    { "drop its database login", plan_login, NULL, drop_login, NULL },
};

#define NSTEPS (int)(sizeof steps / sizeof *steps)

int vmc_cmd_destroy(vmc_opts *o)
{
    const char *why;
    const vm_instance *in;
    vmc_steps_outcome out;
    vmc_table t;
    destroy d;
    int rc;

    if ((rc = vmc_table_load_one(o, "destroy", &t, &in, &why)) != VMC_EXIT_OK)
        return vmc_fail(475, rc, why);
    if ((why = check_dataroot(o, in)) != NULL
        || (why = check_shared(o, &t, in)) != NULL) {
        vmc_error(351, "destroy refused, nothing done: %s", why);
        return VMC_EXIT_FAIL;
    }
    d = (destroy){ o, &t, in, 0, 0, NULL };
    if (o->dry_run || !o->yes) {
        vmc_say("plan: destroy %s (id %lld)", in->wwwroot, in->id);
        vmc_steps_plan(steps, NSTEPS, &d, o->pool);
        if (!o->yes && !o->dry_run)
            vmc_error(352, "nothing done: add --yes to destroy %s",
                      in->wwwroot);
        return o->dry_run ? VMC_EXIT_OK : VMC_EXIT_USAGE;
    }
    if (!t.src->ops->save_row || !t.src->ops->delete_row) {
        vmc_error(353, "source %s cannot be written", t.src->display);
        return VMC_EXIT_FAIL;
    }
    if (vmc_steps_run(steps, NSTEPS, &d, &out) != 0) {
        vmc_error(354, "destroy of %s stopped at step '%s': %s", in->wwwroot,
                  out.failed, out.err);
        return VMC_EXIT_FAIL;
    }
    vmc_say("destroyed %s: database %s dropped, %s removed, row %lld "
            "removed",
            in->wwwroot, in->dbname, in->datapath, in->id);
    return VMC_EXIT_OK;
}
