/* deploy --template NAME --host URL: a new Moodle from a template, in
 * steps that are each undone if a later one fails: create and load the
 * database, make it the new site's (names, identifier, settings), give it
 * to a database login of the site's own (roles.h), copy the dataroot
 * without the template's encryption key, insert the row.  What the steps
 * need (the database server, the administrative login and its right to
 * make logins) is checked first, with --dry-run too.  The administrative
 * login (--admin-dbuser, --dbuser, the template row's) is never written
 * into the new row. */
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "db.h"
#include "dbadmin.h"
#include "dbtools.h"
#include "files.h"
#include "manifest.h"
#include "rewrite.h"
#include "roles.h"
#include "sitekey.h"
#include "steps.h"
#include "template.h"
#include "util.h"
#include "vm_siteuser.h"

typedef struct {
    vmc_opts *o;
    vmc_table t;
    vmc_manifest m;
    const char *tpl_dir, *dump_path;
    vm_row row;
    vm_instance in;
    vmc_dbconf db;
    uid_t uid;
    gid_t gid;
    vm_db *server; /* connected while checking */
    const char *siteidentifier;
    const char *pass_from; /* where the password came from, for the plan */
    vmc_role role;         /* the site's own login: the row's */
    int role_created;
    const char *owner; /* the dataroot's: the site's user */
    int template_db_gone;
    int db_created, dataroot_created;
    long long id; /* the inserted row's */
    uint64_t files_checked;
} deploy;

/* Lower-case letters, digits and '_' from s: for default names. */
static const char *plain_name(const char *s, size_t max, apr_pool_t *p)
{
    char *out = apr_pstrdup(p, s), *c;

    for (c = out; *c; c++)
        *c = isalnum((unsigned char)*c) ? (char)tolower((unsigned char)*c)
                                        : '_';
    if (strlen(out) > max)
        out[max] = '\0';
    return out;
}

static const char *given(const deploy *d, vm_field f, const char *fallback)
{
    return d->o->fields.present[f] ? d->o->fields.value[f] : fallback;
}

static int load_template(deploy *d)
{
    const char *err;

    if (!d->o->template_name) {
        vmc_error(340,
                  "deploy needs --template NAME (letters, digits, "
                  "'.', '_', '-')");
        return -1;
    }
    if ((err = vmc_template_open(d->o, d->o->template_name, &d->m, &d->tpl_dir))
        != NULL) {
        vmc_error(341, "--template: %s", err);
        return -1;
    }
    d->dump_path = apr_pstrcat(d->o->pool, d->tpl_dir, "/", d->m.dump_file,
                               NULL);
    return 0;
}

/* The administrative login, for the checks and the steps (the row gets
 * the site's own login once they passed): --admin-dbuser, else --dbuser,
 * else the template's source login; the password given with it, else the
 * template row's, else none (~/.pgpass, a socket's peer). */
static void admin_login(deploy *d, vm_row *r)
{
    const vmc_opts *o = d->o;
    const char *user = o->admin_dbuser
        ? o->admin_dbuser
        : given(d, VM_F_VDBLOGIN, d->m.source.dblogin);
    const char *flag = o->admin_dbpass    ? o->admin_dbpass
        : o->admin_dbuser                 ? NULL
        : o->fields.present[VM_F_VDBPASS] ? o->fields.value[VM_F_VDBPASS]
                                          : NULL;
    const char *row = flag
        ? NULL
        : vmc_template_pass(&d->t, &d->m, r->value[VM_F_VDBHOST], user);

    vm_row_set(r, VM_F_VDBLOGIN, user);
    vm_row_set(r, VM_F_VDBPASS, flag ? flag : row ? row : "");
    d->pass_from = flag ? "given" : row ? "the template's row" : "none given";
}

/* The new row: flags first, then what the template and the host give. */
static void build_row(deploy *d, const char *url_key)
{
    apr_pool_t *p = d->o->pool;
    const char *key = apr_pstrdup(p, url_key);
    const char *base = plain_name(key, 59, p);
    const char *label = apr_pstrndup(p, key, strcspn(key, ".:["));
    vm_row *r = &d->row;

    memset(r, 0, sizeof *r);
    vm_row_set(r, VM_F_VHOSTNAME, given(d, VM_F_VHOSTNAME, ""));
    vm_row_set(r, VM_F_NAME, given(d, VM_F_NAME, key));
    vm_row_set(r, VM_F_SHORTNAME,
               given(d, VM_F_SHORTNAME, plain_name(label, 30, p)));
    vm_row_set(r, VM_F_VDBTYPE, d->m.source.dbtype);
    vm_row_set(r, VM_F_VDBHOST, given(d, VM_F_VDBHOST, d->m.source.dbhost));
    admin_login(d, r);
    vm_row_set(r, VM_F_VDBNAME,
               given(d, VM_F_VDBNAME, apr_pstrcat(p, "vm_", base, NULL)));
    vm_row_set(r, VM_F_VDBPREFIX,
               given(d, VM_F_VDBPREFIX, d->m.source.dbprefix));
    vm_row_set(r, VM_F_VDATAPATH,
               given(d, VM_F_VDATAPATH,
                     apr_pstrcat(p, d->o->data_parent, "/", base, NULL)));
    vm_row_set(r, VM_F_ENABLED, "1");
    if (d->o->fields.present[VM_F_MNET])
        vm_row_set(r, VM_F_MNET, d->o->fields.value[VM_F_MNET]);
    if (d->o->fields.present[VM_F_VDBPERSIST])
        vm_row_set(r, VM_F_VDBPERSIST, d->o->fields.value[VM_F_VDBPERSIST]);
}

static const char *check_target(deploy *d)
{
    apr_pool_t *p = d->o->pool;
    const char *why, *dir;
    struct passwd *pw;
    struct stat st;

    if (!vmc_dbname_ok(d->in.dbname))
        return apr_psprintf(p,
                            "database name '%s' may hold only letters, "
                            "digits, '_', '-' (at most 63)",
                            d->in.dbname);
    if ((why = vmc_path_inside(d->in.datapath, d->o->data_parent, p)))
        return apr_psprintf(p, "dataroot %s %s", d->in.datapath, why);
    if (lstat(d->in.datapath, &st) == 0)
        return apr_psprintf(p, "dataroot %s already exists", d->in.datapath);
    dir = apr_pstrndup(p, d->in.datapath,
                       (apr_size_t)(strrchr(d->in.datapath, '/')
                                    - d->in.datapath));
    if (access(*dir ? dir : "/", W_OK) != 0)
        return apr_psprintf(p, "cannot write in %s: %s", dir, strerror(errno));
    /* the site's own user (site-user), else the one --user */
    if (!(d->owner = vm_site_user(d->o->site_user, d->o->web_user, &d->in, p,
                                  &why)))
        return why;
    if (!(pw = getpwnam(d->owner)))
        return apr_psprintf(p, "no user '%s' (%s): create it first", d->owner,
                            d->o->site_user ? "site-user" : "--user");
    d->uid = pw->pw_uid;
    d->gid = pw->pw_gid;
    return NULL;
}

static int same_server_template(const deploy *d)
{
    return d->db.pg && d->m.pg_template_db && d->m.pg_server
        && !d->template_db_gone
        && strcmp(d->m.pg_server, vmc_dbconf_server(&d->db, d->o->pool)) == 0;
}

/* The server with the row's credentials, and no database of that name
 * on it yet: before any step, so a missing password stops nothing
 * half-done. */
static const char *check_server(deploy *d)
{
    apr_pool_t *p = d->o->pool;
    const char *err, *server = vmc_dbconf_server(&d->db, p);
    int can, exists;

    if (!(d->server = vmc_db_open(&d->db, NULL, p, &err)))
        return apr_psprintf(
            p,
            "cannot connect to the %s server %s as %s: "
            "%s%s",
            d->in.dbtype, server, d->in.dblogin, err,
            *d->in.dbpass  ? ""
                : d->db.pg ? "; no password given: --dbpass-file FILE, the "
                             "template's row, or ~/.pgpass"
                           : "; no password given: --dbpass-file FILE or "
                             "the template's row");
    if ((can = vmc_dbadmin_can_create(d->server, p, &err)) <= 0)
        return can < 0 ? err
                       : apr_psprintf(p,
                                      "%s may not create databases "
                                      "on %s (CREATEDB)",
                                      d->in.dblogin, server);
    if ((exists = vmc_dbadmin_exists(d->server, d->in.dbname, p, &err)) < 0)
        return err;
    if (exists)
        return apr_psprintf(p, "database %s already exists on %s", d->in.dbname,
                            server);
    /* A template database dropped by hand: the dump serves instead. */
    if (same_server_template(d)
        && (exists = vmc_dbadmin_exists(d->server, d->m.pg_template_db, p,
                                        &err))
            <= 0) {
        if (exists < 0)
            return err;
        d->template_db_gone = 1;
    }
    return NULL;
}

/* Moodle's own recipe (get_site_identifier): 32 random letters and
 * digits, then the host. */
static const char *new_siteidentifier(deploy *d, const char **err)
{
    const char *random = vmc_random_text(32, d->o->pool, err);

    return random ? apr_pstrcat(d->o->pool, random, d->in.key, NULL) : NULL;
}

/* The site's own login: a free name, a login allowed to make it; the
 * row is the site's from now on. */
static const char *check_login(deploy *d)
{
    const char *err;

    if (vmc_role_new(&d->role, d->in.dbname, d->o->pool, &err) != 0)
        return err;
    d->role.host = d->o->db_client_host;
    if ((err = vmc_role_check(d->server, d->role.name, d->o->pool)) != NULL)
        return err;
    vm_row_set(&d->row, VM_F_VDBLOGIN, d->role.name);
    vm_row_set(&d->row, VM_F_VDBPASS, d->role.password);
    return NULL;
}

static int prepare(deploy *d)
{
    apr_pool_t *p = d->o->pool;
    const char *why = NULL, *err;
    vm_url url;
    vm_row probe;

    if (load_template(d) != 0)
        return VMC_EXIT_USAGE;
    if (!d->o->fields.present[VM_F_VHOSTNAME]
        || (why = vm_host_parse_url(d->o->fields.value[VM_F_VHOSTNAME],
                                    &url))) {
        vmc_error(342, "deploy needs --host URL of the new site%s%s",
                  why ? ": " : "", why ? why : "");
        return VMC_EXIT_USAGE;
    }
    if (d->o->fields.present[VM_F_VDBTYPE]) {
        vmc_error(343, "the database type comes from the template (%s)",
                  d->m.source.dbtype);
        return VMC_EXIT_USAGE;
    }
    if (vmc_table_load(d->o, &d->t, &why) != VMC_EXIT_OK)
        return vmc_fail(349, VMC_EXIT_FAIL, why);
    build_row(d, url.key);
    probe = d->row;
    vm_row_set(&probe, VM_F_ID, "1");
    if ((why = vmc_table_validate(&d->t, &d->row, p))
        || (why = vm_instance_from_row(&d->in, &probe, p))
        || (why = check_target(d))) {
        vmc_error(344, "deploy refused, nothing done: %s", why);
        return VMC_EXIT_FAIL;
    }
    if (vmc_dbconf_make(&d->db, d->in.dbtype, d->in.dbhost, d->in.dblogin,
                        d->in.dbpass, d->in.dbname, p, &err)
            != 0
        || (err = check_server(d)) != NULL || (err = check_login(d)) != NULL
        || !(d->siteidentifier = new_siteidentifier(d, &err))) {
        vmc_error(345, "deploy refused, nothing done: %s", err);
        return VMC_EXIT_FAIL;
    }
    return VMC_EXIT_OK;
}

static int verify_dump(deploy *d, const char **err)
{
    char hex[VMC_SHA256_HEX];

    if (vmc_sha256_file(d->dump_path, hex, d->o->pool, err) != 0)
        return -1;
    if (strcmp(hex, d->m.dump_sha256) != 0) {
        *err = apr_psprintf(d->o->pool,
                            "%s does not match its checksum in "
                            "the manifest",
                            d->dump_path);
        return -1;
    }
    return 0;
}

static int create_database(deploy *d, const char **err)
{
    apr_pool_t *p = d->o->pool;
    int exists, copy = same_server_template(d), rc;

    if ((exists = vmc_dbadmin_exists(d->server, d->in.dbname, p, err)) != 0) {
        if (exists > 0)
            *err = apr_psprintf(p, "database %s already exists on %s",
                                d->in.dbname, vmc_dbconf_server(&d->db, p));
        return -1;
    }
    rc = vmc_create_and_load(d->server, &d->db, d->in.dbname,
                             copy ? d->m.pg_template_db : NULL, d->dump_path,
                             d->m.dump_size, &d->db_created, p, err);
    if (rc != 0 && d->db_created)
        *err = apr_pstrcat(p, "load the template database: ", *err, NULL);
    return rc;
}

static int rewrite(deploy *d, const char **err)
{
    vmc_rewrite r;
    apr_pool_t *sub;
    vm_db *db;
    int rc = -1;

    r.old_prefix = d->m.source.dbprefix;
    r.new_prefix = d->in.dbprefix;
    r.old_wwwroot = d->m.source.wwwroot;
    r.new_wwwroot = d->in.wwwroot;
    r.old_dataroot = d->m.source.datapath;
    r.new_dataroot = d->in.datapath;
    r.new_name = d->in.name;
    r.new_shortname = d->in.shortname;
    r.siteidentifier = d->siteidentifier;
    r.cookie = plain_name(*d->in.shortname ? d->in.shortname : d->in.key, 30,
                          d->o->pool);
    /* Own pool: the connection is closed before any DROP DATABASE. */
    apr_pool_create(&sub, d->o->pool);
    if ((db = vmc_db_open(&d->db, d->in.dbname, sub, err)) != NULL)
        rc = vmc_rewrite_site(db, &r, sub, err);
    if (rc != 0)
        *err = apr_pstrdup(d->o->pool, *err);
    apr_pool_destroy(sub);
    return rc;
}

/* Each copied file must be in the manifest with the same checksum. */
static const char *check_file(void *ctx, const char *rel, uint64_t size,
                              const char *sha256)
{
    deploy *d = ctx;

    (void)size;
    d->files_checked++;
    return vmc_manifest_file_ok(&d->m, rel, sha256, d->o->pool);
}

static int copy_dataroot(deploy *d, const char **err)
{
    vmc_copy c;
    int rc;

    vmc_copy_for_site(&c, d->uid, d->gid, d->o->data_parent,
                      &d->dataroot_created);
    c.on_file = check_file;
    c.ctx = d;
    rc = vmc_tree_copy_shown(apr_pstrcat(d->o->pool, d->tpl_dir, "/dataroot",
                                         NULL),
                             d->in.datapath, &c, "copy dataroot",
                             d->m.data_bytes, d->o->pool, err);
    if (rc == 0
        && d->files_checked != (uint64_t)apr_hash_count(d->m.file_sums)) {
        *err = "the template's dataroot lacks files its manifest lists";
        rc = -1;
    }
    return rc;
}

/* The template's key would let one site read what another encrypted. */
static int drop_template_key(deploy *d, const char **err)
{
    int removed;

    if (vmc_sitekey_remove(d->in.datapath, &removed, d->o->pool, err) != 0)
        return -1;
    if (removed)
        vmc_say("removed the template's encryption key: the site makes its "
                "own");
    return 0;
}

/* The steps, see steps.h: each with its plan line, run and undo. */

static const char *plan_verify(void *ctx, apr_pool_t *p)
{
    const deploy *d = ctx;
    return apr_psprintf(p, "verify %s (sha256)", d->dump_path);
}

static int verify_step(void *ctx, const char **err)
{
    return verify_dump(ctx, err);
}

static const char *plan_create(void *ctx, apr_pool_t *p)
{
    const deploy *d = ctx;
    const char *server = vmc_dbconf_server(&d->db, p);

    if (same_server_template(d))
        return apr_psprintf(p, "create %s database %s on %s as a copy of %s",
                            d->in.dbtype, d->in.dbname, server,
                            d->m.pg_template_db);
    return apr_psprintf(p, "create %s database %s on %s and load %s",
                        d->in.dbtype, d->in.dbname, server, d->m.dump_file);
}

static int create_step(void *ctx, const char **err)
{
    return create_database(ctx, err);
}

static void drop_database(void *ctx)
{
    deploy *d = ctx;
    const char *err;

    if (!d->db_created)
        return;
    if (vmc_dbadmin_drop(d->server, d->in.dbname, d->o->pool, &err) != 0)
        vmc_error(347, "undo: drop database %s: %s", d->in.dbname, err);
    else
        vmc_say("undone: dropped database %s", d->in.dbname);
}

static const char *plan_rewrite(void *ctx, apr_pool_t *p)
{
    const deploy *d = ctx;
    return apr_psprintf(p,
                        "prefix %s -> %s; wwwroot %s -> %s in mnet_host; "
                        "site name '%s' (%s); sessioncookie; a new "
                        "siteidentifier; %s, %s and its host -> %s, %s in "
                        "config and config_plugins",
                        d->m.source.dbprefix, d->in.dbprefix,
                        d->m.source.wwwroot, d->in.wwwroot, d->in.name,
                        d->in.shortname, d->m.source.wwwroot,
                        d->m.source.datapath, d->in.wwwroot, d->in.datapath);
}

static int rewrite_step(void *ctx, const char **err)
{
    return rewrite(ctx, err);
}

static const char *plan_login(void *ctx, apr_pool_t *p)
{
    const deploy *d = ctx;
    return apr_psprintf(p,
                        "create the site's own database login %s (no "
                        "CREATEDB, no CREATEROLE, a generated password kept "
                        "in the row only) and give it %s and everything in "
                        "it; no other login may connect",
                        d->role.name, d->in.dbname);
}

/* The site's own login made and given the new database, connected to it
 * as the administrative login to hand its objects over. */
static int login_step(void *ctx, const char **err)
{
    deploy *d = ctx;
    apr_pool_t *sub;
    vm_db *site;
    int rc = -1;

    if (vmc_role_create(d->server, &d->role, d->o->pool, err) != 0)
        return -1;
    d->role_created = 1;
    apr_pool_create(&sub, d->o->pool); /* closed before any DROP */
    if ((site = vmc_db_open(&d->db, d->in.dbname, sub, err)) != NULL)
        rc = vmc_role_give(d->server, site, &d->role, d->in.dbname, NULL, sub,
                           err);
    if (rc != 0)
        *err = apr_pstrdup(d->o->pool, *err);
    apr_pool_destroy(sub);
    return rc;
}

/* The database is the login's now: it goes first, then the login. */
static void drop_login(void *ctx)
{
    deploy *d = ctx;
    const char *err;

    if (!d->role_created)
        return;
    drop_database(ctx);
    d->db_created = 0;
    if (vmc_role_drop(d->server, d->role.name, d->o->pool, &err) != 0)
        vmc_error(480, "undo: drop login %s: %s", d->role.name, err);
    else
        vmc_say("undone: dropped login %s", d->role.name);
}

static const char *plan_copy(void *ctx, apr_pool_t *p)
{
    const deploy *d = ctx;
    return apr_psprintf(p,
                        "copy %s/dataroot (%" APR_UINT64_T_FMT " files) "
                        "to %s owned by %s",
                        d->tpl_dir, d->m.data_files, d->in.datapath, d->owner);
}

static int copy_step(void *ctx, const char **err)
{
    return copy_dataroot(ctx, err);
}

static void remove_dataroot(void *ctx)
{
    deploy *d = ctx;
    const char *err;

    if (!d->dataroot_created)
        return;
    if (vmc_tree_remove(d->in.datapath, d->o->data_parent, d->o->pool, &err)
        != 0)
        vmc_error(346, "undo: %s", err);
    else
        vmc_say("undone: removed %s", d->in.datapath);
}

static const char *plan_key(void *ctx, apr_pool_t *p)
{
    (void)ctx;
    return apr_psprintf(p,
                        "remove the template's encryption key from the "
                        "copy (%s): the site makes its own",
                        VMC_SITEKEY_DIR);
}

static int key_step(void *ctx, const char **err)
{
    return drop_template_key(ctx, err);
}

static const char *plan_insert(void *ctx, apr_pool_t *p)
{
    const deploy *d = ctx;
    return apr_psprintf(p, "insert the enabled row into %s (login %s)",
                        d->t.src->display, d->role.name);
}

static int insert_row(void *ctx, const char **err)
{
    deploy *d = ctx;
    return (*err = vmc_table_save(&d->t, &d->row, &d->id, d->o->pool)) ? -1 : 0;
}

static const char *plan_release(void *ctx, apr_pool_t *p)
{
    const deploy *d = ctx;
    return apr_psprintf(p, "%s keeps no hold on %s", d->in.dblogin,
                        d->role.name);
}

/* The row is in: a failure here is said, the site stays. */
static int release_step(void *ctx, const char **err)
{
    deploy *d = ctx;

    if (vmc_role_release(d->server, &d->role, NULL, d->o->pool, err) != 0)
        vmc_error(482, "warning: %s is still a member of %s: %s", d->in.dblogin,
                  d->role.name, *err);
    return 0;
}

static const vmc_step steps[] = {
    { "verify the template", plan_verify, NULL, verify_step, NULL },
    { "create the database", plan_create, NULL, create_step, drop_database },
    { "rewrite the site in the new database", plan_rewrite, NULL, rewrite_step,
      NULL },
    { "give the site its own database login", plan_login, NULL, login_step,
      drop_login },
    { "copy the dataroot", plan_copy, NULL, copy_step, remove_dataroot },
    { "remove the template's encryption key", plan_key, NULL, key_step, NULL },
    { "insert the instance row", plan_insert, NULL, insert_row, NULL },
    { "end the administrative login's hold", plan_release, NULL, release_step,
      NULL },
};

#define NSTEPS (int)(sizeof steps / sizeof *steps)

static void plan(deploy *d)
{
    vmc_say("plan: deploy %s from template %s (%s)", d->in.wwwroot,
            d->o->template_name, d->m.source.wwwroot);
    vmc_say("  checked: %s server %s reached as %s (password: %s)",
            d->in.dbtype, vmc_dbconf_server(&d->db, d->o->pool), d->in.dblogin,
            d->pass_from);
    vmc_steps_plan(steps, NSTEPS, d, d->o->pool);
}

int vmc_cmd_deploy(vmc_opts *o)
{
    vmc_steps_outcome out;
    deploy d;
    int rc;

    if (o->from_csv)
        return vmc_cmd_deploy_csv(o); /* deploy_csv.c */
    memset(&d, 0, sizeof d);
    d.o = o;
    if ((rc = prepare(&d)) != VMC_EXIT_OK)
        return rc;
    if (o->dry_run) {
        plan(&d);
        return VMC_EXIT_OK;
    }
    if (vmc_steps_run(steps, NSTEPS, &d, &out) != 0) {
        vmc_error(348, "deploy of %s failed at step '%s': %s", d.in.wwwroot,
                  out.failed, out.err);
        return VMC_EXIT_FAIL;
    }
    vmc_say("deployed %s as id %lld: %s database %s on %s owned by its own "
            "login %s, dataroot %s",
            d.in.wwwroot, d.id, d.in.dbtype, d.in.dbname,
            vmc_dbconf_server(&d.db, o->pool), d.role.name, d.in.datapath);
    return VMC_EXIT_OK;
}
