/* snapshot --from HOST|master --name NAME: dump the template's database,
 * copy its dataroot without run-time files, write the manifest; all in a
 * work folder renamed into place only when complete.  A site's dataroot
 * is confined as deploy's is (confine_source); the master's is the
 * administrator's flag. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "db.h"
#include "dbtools.h"
#include "files.h"
#include "manifest.h"
#include "dbadmin.h"
#include "shared.h"
#include "steps.h"
#include "util.h"
#include "vm_siteuser.h"
#include "vm_time.h"

#define MAX_LEFT_OUT 3
#define SCHEMA_TABLE "vmoodle_instances" /* templates/schema/ */

typedef struct {
    vmc_opts *o;
    vm_instance src;
    vmc_table t; /* --from HOST: the table it was found in */
    vmc_dbconf db;
    const char *left_out[MAX_LEFT_OUT + 1]; /* tables not dumped */
    const char *final_dir, *work_dir;
    vmc_manifest m;
    int work_made, template_db_made;
} snapshot;

/* The master Moodle is not in the table: its settings come from flags. */
static int source_from_flags(snapshot *s)
{
    vm_row row = s->o->fields;
    const char *why;

    vm_row_set(&row, VM_F_ID, "1");
    if ((why = vm_instance_from_row(&s->src, &row, s->o->pool)) != NULL) {
        vmc_error(330,
                  "master settings (--host, --dbtype, --dbname, "
                  "--dataroot...): %s",
                  why);
        return -1;
    }
    return 0;
}

/* A site's dataroot is copied as root: only from where deploy puts one
 * (inside data-parent, no link on the way) and only when it is the
 * site's user's, so a row pointing at a folder of root's copies nothing
 * of it into a template, nor into the sites deployed from it.  NULL, or
 * why not. */
static const char *confine_source(snapshot *s)
{
    apr_pool_t *p = s->o->pool;
    const char *path = s->src.datapath, *base, *err, *user;
    const char *why = vmc_path_inside(path, s->o->data_parent, p);
    struct passwd *pw;
    struct stat st;
    int dir, fd;

    if (why)
        return apr_psprintf(p,
                            "dataroot %s %s: a site's dataroot is copied "
                            "only from the data parent",
                            path, why);
    if ((dir = vmc_open_parent(path, s->o->data_parent, &base, p, &err)) < 0)
        return err;
    fd = openat(dir, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    why = fd < 0 ? vmc_folder_why(dir, base, errno) : NULL;
    close(dir);
    if (fd < 0)
        return apr_psprintf(p, "dataroot %s: %s", path, why);
    if (fstat(fd, &st) != 0)
        st.st_uid = 0;
    close(fd);
    if (!(user = vm_site_user(s->o->site_user, s->o->web_user, &s->src, p,
                              &why)))
        return why;
    if (!(pw = getpwnam(user)))
        return apr_psprintf(p, "no user '%s' (the site's)", user);
    if (st.st_uid != pw->pw_uid)
        return apr_psprintf(p,
                            "dataroot %s belongs to uid %ld, not to the "
                            "site's user %s",
                            path, (long)st.st_uid, user);
    return NULL;
}

static int find_source(snapshot *s)
{
    const vm_instance *in;
    const char *why;

    if (strcmp(s->o->from, "master") == 0)
        return source_from_flags(s);
    if (vmc_table_load_site(s->o, s->o->from, &s->t, &in, &why) != VMC_EXIT_OK)
        return vmc_fail(338, -1, why);
    s->src = *in;
    if ((why = confine_source(s)) != NULL) {
        vmc_error(484, "snapshot refused, nothing done: %s", why);
        return -1;
    }
    return 0;
}

static void leave_out(snapshot *s, const char *table)
{
    int n = 0;

    while (s->left_out[n] && strcmp(s->left_out[n], table))
        n++;
    if (n < MAX_LEFT_OUT)
        s->left_out[n] = table;
}

/* The instance table holds every site's password: never in a template.
 * It is in the master's database (and in an instance's that shares it),
 * under the configured name or the shipped schema's; a VMoodle master also
 * keeps its own <prefix>local_vmoodle (an instance
 * sharing the database: with the instance's prefix).  NULL, or
 * why it cannot be left out. */
static const char *tables_to_leave_out(snapshot *s)
{
    apr_pool_t *p = s->o->pool;
    const char *table = s->o->table_name ? s->o->table_name : VM_DEFAULT_TABLE,
               *why;
    vmc_place here = { s->src.dbtype, s->src.dbhost, s->src.dbname }, home;
    int i;

    if (strcmp(s->o->from, "master") == 0) {
        leave_out(s, table);
        leave_out(s, SCHEMA_TABLE);
        leave_out(s, apr_pstrcat(p, s->src.dbprefix, "local_vmoodle", NULL));
    } else if (vmc_table_home(&s->t, &home, p)
               && vmc_same_database(&here, &home, p)) {
        leave_out(s, s->t.src->table);
        leave_out(s, apr_pstrcat(p, s->src.dbprefix, "local_vmoodle", NULL));
    }
    for (i = 0; s->left_out[i]; i++)
        if ((why = vm_db_table_check(s->left_out[i], s->db.pg)) != NULL)
            return apr_psprintf(p,
                                "the instance table %s cannot be left "
                                "out of the dump (%s), and it holds every "
                                "site's password",
                                s->left_out[i], why);
    return NULL;
}

static int prepare(snapshot *s)
{
    vmc_opts *o = s->o;
    const char *err;

    if (!o->from || !o->snapshot_name) {
        vmc_error(331, "snapshot needs --from HOST|master and --name NAME");
        return VMC_EXIT_USAGE;
    }
    if (!vmc_name_ok(o->snapshot_name)) {
        vmc_error(332,
                  "template name '%s' may hold only letters, digits, "
                  "'.', '_', '-'",
                  o->snapshot_name);
        return VMC_EXIT_USAGE;
    }
    if (find_source(s) != 0)
        return VMC_EXIT_FAIL;
    if (vmc_dbconf_make(&s->db, s->src.dbtype, s->src.dbhost, s->src.dblogin,
                        s->src.dbpass, s->src.dbname, o->pool, &err)
        != 0) {
        vmc_error(333, "%s", err);
        return VMC_EXIT_FAIL;
    }
    if ((err = tables_to_leave_out(s)) != NULL) {
        vmc_error(339, "snapshot refused: %s", err);
        return VMC_EXIT_FAIL;
    }
    s->final_dir = apr_pstrcat(o->pool, o->templates_dir, "/", o->snapshot_name,
                               NULL);
    s->work_dir = apr_psprintf(o->pool, "%s/.%s.partial-%ld", o->templates_dir,
                               o->snapshot_name, (long)getpid());
    if (access(s->final_dir, F_OK) == 0) {
        vmc_error(334, "template %s already exists", s->final_dir);
        return VMC_EXIT_FAIL;
    }
    return VMC_EXIT_OK;
}

/* A file of the template (in our 0700 work folder): 0600, whatever wrote
 * it and however its umask was. */
static int private_file(const char *path, apr_pool_t *p, const char **err)
{
    if (chmod(path, 0600) == 0)
        return 0;
    *err = apr_psprintf(p, "%s: %s", path, strerror(errno));
    return -1;
}

static int dump_database(snapshot *s, const char **err)
{
    apr_pool_t *p = s->o->pool;
    const char *path = apr_pstrcat(p, s->work_dir, "/", vmc_dump_file(&s->db),
                                   NULL);
    char hex[VMC_SHA256_HEX];
    vmc_progress pr;
    struct stat st;
    int rc;

    vmc_progress_start(&pr, "dump database", 0, NULL);
    rc = vmc_dump(&s->db, path, s->left_out, &pr, p, err);
    vmc_progress_end(&pr, rc == 0);
    if (rc != 0 || private_file(path, p, err) != 0 || stat(path, &st) != 0
        || vmc_sha256_file(path, hex, p, err) != 0)
        return -1;
    s->m.dump_file = vmc_dump_file(&s->db);
    s->m.dump_size = (uint64_t)st.st_size;
    s->m.dump_sha256 = apr_pstrdup(p, hex);
    return 0;
}

static int copy_dataroot(snapshot *s, const char **err)
{
    apr_pool_t *p = s->o->pool;
    vmc_copy c;

    if (vmc_tree_measure(s->src.datapath, 1, &s->m.data_bytes, &s->m.data_files,
                         p, err)
        != 0)
        return -1;
    vmc_copy_private(&c, s->o->templates_dir, vmc_manifest_list_file,
                     s->m.files);
    return vmc_tree_copy_shown(s->src.datapath,
                               apr_pstrcat(p, s->work_dir, "/dataroot", NULL),
                               &c, "copy dataroot", s->m.data_bytes, p, err);
}

static void fill_manifest(snapshot *s)
{
    char date[VM_TIME_TEXT];

    vm_time_text((long long)time(NULL), date);
    s->m.name = s->o->snapshot_name;
    s->m.created = apr_pstrdup(s->o->pool, date);
    s->m.source = s->src;
}

/* The steps, see steps.h: each with its plan line, run and undo. */

static const char *plan_folder(void *ctx, apr_pool_t *p)
{
    const snapshot *s = ctx;
    return apr_psprintf(p, "create the work folder %s (0700)", s->work_dir);
}

static int make_folder(void *ctx, const char **err)
{
    snapshot *s = ctx;

    umask(077); /* the dump and the manifest included: ours only */
    if (mkdir(s->o->templates_dir, 0700) != 0 && errno != EEXIST) {
        *err = apr_psprintf(s->o->pool, "%s: %s", s->o->templates_dir,
                            strerror(errno));
        return -1;
    }
    if (mkdir(s->work_dir, 0700) != 0) {
        *err = apr_psprintf(s->o->pool, "%s: %s", s->work_dir, strerror(errno));
        return -1;
    }
    s->work_made = 1;
    return 0;
}

static void remove_folder(void *ctx)
{
    snapshot *s = ctx;
    const char *err;

    if (s->work_made
        && vmc_tree_remove(s->work_dir, s->o->templates_dir, s->o->pool, &err)
            != 0)
        vmc_error(336, "undo: %s", err);
}

static const char *plan_dump(void *ctx, apr_pool_t *p)
{
    const snapshot *s = ctx;
    const char *text = apr_psprintf(p, "dump the database to %s/%s",
                                    s->final_dir, vmc_dump_file(&s->db));

    for (int i = 0; s->left_out[i]; i++)
        text = apr_psprintf(p,
                            "%s\n     without the table %s (instance "
                            "passwords)",
                            text, s->left_out[i]);
    return text;
}

static int dump_step(void *ctx, const char **err)
{
    return dump_database(ctx, err);
}

static const char *plan_copy(void *ctx, apr_pool_t *p)
{
    const snapshot *s = ctx;
    return apr_psprintf(p,
                        "copy %s to %s/dataroot without sessions, cache, "
                        "localcache, temp, trashdir, lock and *.lock",
                        s->src.datapath, s->final_dir);
}

static int copy_step(void *ctx, const char **err)
{
    return copy_dataroot(ctx, err);
}

static int wants_template_db(void *ctx)
{
    const snapshot *s = ctx;
    return s->o->template_db && s->db.pg;
}

static const char *plan_template_db(void *ctx, apr_pool_t *p)
{
    (void)ctx;
    return apr_pstrdup(p, "keep a template database on the same server");
}

static int make_template_db(void *ctx, const char **err)
{
    snapshot *s = ctx;
    int rc = vmc_pgtemplate_make(&s->db, &s->m, s->work_dir, s->o->pool, err);

    s->template_db_made = s->m.pg_template_db != NULL;
    return rc;
}

static void drop_template_db(void *ctx)
{
    snapshot *s = ctx;
    const char *err;

    if (s->template_db_made
        && vmc_pgtemplate_drop(&s->db, s->m.pg_template_db, s->o->pool, &err)
            != 0)
        vmc_error(335, "undo: %s", err);
}

static const char *plan_manifest(void *ctx, apr_pool_t *p)
{
    const snapshot *s = ctx;
    return apr_psprintf(p, "write %s/%s", s->final_dir, VMC_MANIFEST);
}

static int write_manifest(void *ctx, const char **err)
{
    snapshot *s = ctx;
    const char *path = apr_pstrcat(s->o->pool, s->work_dir, "/", VMC_MANIFEST,
                                   NULL);

    return vmc_manifest_write(&s->m, path, s->o->pool, err)
            || private_file(path, s->o->pool, err)
        ? -1
        : 0;
}

static const char *plan_move(void *ctx, apr_pool_t *p)
{
    const snapshot *s = ctx;
    return apr_psprintf(p, "move it into place as %s", s->final_dir);
}

static int move_into_place(void *ctx, const char **err)
{
    snapshot *s = ctx;

    if (rename(s->work_dir, s->final_dir) == 0)
        return 0;
    *err = apr_psprintf(s->o->pool, "%s: %s", s->final_dir, strerror(errno));
    return -1;
}

static const vmc_step steps[] = {
    { "create the work folder", plan_folder, NULL, make_folder, remove_folder },
    { "dump the database", plan_dump, NULL, dump_step, NULL },
    { "copy the dataroot", plan_copy, NULL, copy_step, NULL },
    { "keep a template database", plan_template_db, wants_template_db,
      make_template_db, drop_template_db },
    { "write the manifest", plan_manifest, NULL, write_manifest, NULL },
    { "move the template into place", plan_move, NULL, move_into_place, NULL },
};

#define NSTEPS (int)(sizeof steps / sizeof *steps)

int vmc_cmd_snapshot(vmc_opts *o)
{
    vmc_steps_outcome out;
    snapshot s;
    int rc;

    memset(&s, 0, sizeof s);
    s.o = o;
    s.m.files = cJSON_CreateArray();
    rc = prepare(&s);
    fill_manifest(&s);
    if (rc == VMC_EXIT_OK && o->dry_run) {
        vmc_say("plan: snapshot %s (%s database %s on %s, prefix %s)",
                s.src.wwwroot, s.src.dbtype, s.src.dbname,
                vmc_dbconf_server(&s.db, o->pool), s.src.dbprefix);
        vmc_steps_plan(steps, NSTEPS, &s, o->pool);
    } else if (rc == VMC_EXIT_OK
               && vmc_steps_run(steps, NSTEPS, &s, &out) != 0) {
        vmc_error(337, "snapshot failed at step '%s': %s; nothing kept",
                  out.failed, out.err);
        rc = VMC_EXIT_FAIL;
    } else if (rc == VMC_EXIT_OK) {
        vmc_say("template %s: %s database (%s), %llu files (%s)", s.final_dir,
                s.src.dbtype, vmc_bytes(s.m.dump_size, o->pool),
                (unsigned long long)s.m.data_files,
                vmc_bytes(s.m.data_bytes, o->pool));
    }
    cJSON_Delete(s.m.files);
    return rc;
}
