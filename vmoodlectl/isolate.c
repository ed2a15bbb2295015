/* isolate SITES: give sites deployed before per-site logins (or by
 * VMoodle), which share a database login, a login of their own (roles.h):
 * a new login, the database and everything in it handed over, the row
 * updated, and, once the module serves the new login, the old one's
 * access taken away.  The site keeps serving: the old login stays a
 * member of the new one until the end (--wait seconds after the row
 * changed, for the module and running requests to move over). */
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "db.h"
#include "interrupt.h"
#include "roles.h"
#include "select.h"
#include "steps.h"

#define DEFAULT_WAIT 20 /* twice VMoodleRefresh's default */

typedef struct {
    vmc_opts *o;
    vmc_table *t;
    const vm_instance *in;
    vmc_dbconf admin;     /* the administrative login on the site's server */
    vm_db *server, *site; /* as it; site: connected to the database */
    vmc_role role;
    const char *old;   /* the row's login until now */
    const char *still; /* why old still reaches the database */
    long wait;
} iso;

static const char *plan_create(void *ctx, apr_pool_t *p)
{
    iso *s = ctx;
    return apr_psprintf(p,
                        "create login %s on %s (no CREATEDB, no "
                        "CREATEROLE, a generated password)",
                        s->role.name, vmc_dbconf_server(&s->admin, p));
}

static int run_create(void *ctx, const char **err)
{
    iso *s = ctx;
    return vmc_role_create(s->server, &s->role, s->o->pool, err);
}

static void undo_create(void *ctx)
{
    iso *s = ctx;
    const char *err;

    if (vmc_role_drop(s->server, s->role.name, s->o->pool, &err) != 0)
        vmc_error(490, "undo: drop login %s: %s", s->role.name, err);
}

static const char *plan_give(void *ctx, apr_pool_t *p)
{
    iso *s = ctx;
    return apr_psprintf(p,
                        "give %s database %s and everything in it (%s "
                        "keeps working meanwhile); no other login may "
                        "connect",
                        s->role.name, s->in->dbname, s->old);
}

static int run_give(void *ctx, const char **err)
{
    iso *s = ctx;
    return vmc_role_give(s->server, s->site, &s->role, s->in->dbname, s->old,
                         s->o->pool, err);
}

static void undo_give(void *ctx)
{
    iso *s = ctx;
    const char *err;

    if (vmc_role_give_back(s->server, s->site, s->old, s->in->dbname,
                           s->o->pool, &err)
        != 0)
        vmc_error(491, "undo: give %s back to %s: %s", s->in->dbname, s->old,
                  err);
    if (vmc_role_release(s->server, &s->role, s->old, s->o->pool, &err) != 0)
        vmc_error(499, "undo: %s", err);
}

static const char *plan_row(void *ctx, apr_pool_t *p)
{
    iso *s = ctx;
    return apr_psprintf(p,
                        "write login %s and its password into the row "
                        "of %s in %s",
                        s->role.name, s->in->wwwroot, s->t->src->display);
}

static const char *save_login(iso *s, const char *login, const char *pass)
{
    const vm_row *old = vmc_raw_row(s->t, s->in->id);
    vm_row row;
    long long id;

    if (!old)
        return "the site's row is gone";
    row = *old;
    vm_row_set(&row, VM_F_VDBLOGIN, login);
    vm_row_set(&row, VM_F_VDBPASS, pass);
    return vmc_table_save(s->t, &row, &id, s->o->pool);
}

static int run_row(void *ctx, const char **err)
{
    iso *s = ctx;
    return (*err = save_login(s, s->role.name, s->role.password)) ? -1 : 0;
}

static void undo_row(void *ctx)
{
    iso *s = ctx;
    const char *why = save_login(s, s->in->dblogin, s->in->dbpass);

    if (why)
        vmc_error(492, "undo: the row of %s keeps login %s: %s", s->in->wwwroot,
                  s->role.name, why);
}

static const char *plan_wait(void *ctx, apr_pool_t *p)
{
    iso *s = ctx;
    return apr_psprintf(p,
                        "wait %ld s: the module serves the new login "
                        "(VMoodleRefresh), running requests finish with the "
                        "old one",
                        s->wait);
}

static int run_wait(void *ctx, const char **err)
{
    iso *s = ctx;

    for (long i = 0; i < s->wait; i++) {
        if (vmc_interrupt_check(err) != 0)
            return -1;
        sleep(1);
    }
    return 0;
}

static const char *plan_revoke(void *ctx, apr_pool_t *p)
{
    iso *s = ctx;
    return apr_psprintf(p,
                        "take from %s every access to %s (its grants, "
                        "its membership of %s)",
                        s->old, s->in->dbname, s->role.name);
}

static int run_revoke(void *ctx, const char **err)
{
    iso *s = ctx;

    if (vmc_role_revoke(s->server, s->site, s->old, s->in->dbname, &s->still,
                        s->o->pool, err)
        != 0)
        return -1;
    return vmc_role_release(s->server, &s->role, s->old, s->o->pool, err);
}

static const vmc_step steps[] = {
    { "create the site's login", plan_create, NULL, run_create, undo_create },
    { "hand the database over", plan_give, NULL, run_give, undo_give },
    { "update the row", plan_row, NULL, run_row, undo_row },
    { "wait for the module", plan_wait, NULL, run_wait, NULL },
    { "revoke the old login", plan_revoke, NULL, run_revoke, NULL },
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

/* Connect as the administrative login (--admin-dbuser, else the row's),
 * name the new login, check it may be made.  NULL or why not. */
static const char *prepare(iso *s)
{
    const vmc_opts *o = s->o;
    const vm_instance *in = s->in;
    apr_pool_t *p = o->pool;
    const char *err, *user = o->admin_dbuser ? o->admin_dbuser : in->dblogin;
    const char *pass = o->admin_dbpass ? o->admin_dbpass
        : o->admin_dbuser              ? ""
                                       : in->dbpass;

    s->old = in->dblogin;
    if (vmc_role_new(&s->role, in->dbname, p, &err) != 0)
        return err;
    s->role.host = o->db_client_host;
    if (strcmp(s->role.name, s->old) == 0)
        return apr_psprintf(p, "%s already has its own login %s", in->wwwroot,
                            s->old);
    if (vmc_dbconf_make(&s->admin, in->dbtype, in->dbhost, user, pass,
                        in->dbname, p, &err)
        != 0)
        return err;
    if (!(s->server = vmc_db_open(&s->admin, NULL, p, &err))
        || (s->admin.pg
            && !(s->site = vmc_db_open(&s->admin, in->dbname, p, &err))))
        return apr_psprintf(p, "cannot connect to %s as %s: %s",
                            vmc_dbconf_server(&s->admin, p), user, err);
    if (!s->site)
        s->site = s->server;
    return vmc_role_check(s->server, s->role.name, p);
}

static int isolate_one(vmc_opts *o, vmc_table *t, const vm_instance *in)
{
    vmc_steps_outcome out;
    const char *why;
    iso s;

    memset(&s, 0, sizeof s);
    s.o = o, s.t = t, s.in = in;
    s.wait = o->isolate_wait >= 0 ? o->isolate_wait : DEFAULT_WAIT;
    if ((why = prepare(&s)) != NULL) {
        vmc_error(493, "isolate %s refused, nothing done: %s", in->wwwroot,
                  why);
        return -1;
    }
    vmc_say("%s: isolate %s (login %s shared until now)",
            o->dry_run ? "plan" : "isolating", in->wwwroot, s.old);
    if (o->dry_run) {
        vmc_steps_plan(steps, NSTEPS, &s, o->pool);
        return 0;
    }
    if (vmc_steps_run(steps, NSTEPS, &s, &out) != 0) {
        vmc_error(494, "isolate of %s failed at step '%s', undone: %s",
                  in->wwwroot, out.failed, out.err);
        return -1;
    }
    if (s.still)
        vmc_error(495, "warning: %s still reaches %s: %s", s.old, in->dbname,
                  s.still);
    vmc_say("isolated %s: its own login %s owns %s; %s has no access left "
            "to it",
            in->wwwroot, s.role.name, in->dbname, s.old);
    return 0;
}

int vmc_cmd_isolate(vmc_opts *o)
{
    vmc_selection sel = vmc_selection_of(o, 0);
    apr_array_header_t *sites;
    const char *why;
    vmc_table t;
    int rc, failed = 0;

    if (o->master)
        return vmc_fail(496, VMC_EXIT_USAGE,
                        "isolate: the master keeps its "
                        "login (it holds the instance table); name sites");
    if ((rc = vmc_table_load(o, &t, &why)) != VMC_EXIT_OK)
        return vmc_fail(497, rc, why);
    if (!(sites = vmc_select(&t, &sel, o->pool, &why)))
        return vmc_fail(498, VMC_EXIT_USAGE, why);
    vmc_interrupt_install();
    for (int i = 0; i < sites->nelts && !vmc_interrupted(); i++)
        failed += isolate_one(o, &t,
                              APR_ARRAY_IDX(sites, i, const vm_instance *))
            != 0;
    return failed ? VMC_EXIT_FAIL : VMC_EXIT_OK;
}
