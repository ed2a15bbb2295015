/* What the lifecycle commands share, see lifecycle.h. */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include "lifecycle.h"
#include "interrupt.h"
#include "manifest.h"
#include "rewrite.h"
#include "shared.h"
#include "summary.h"
#include "vm_cli.h"
#include "vm_job.h"
#include "vm_relay.h"
#include "vm_text.h"

int vmc_siterun_prepare(const vmc_opts *o, vm_siterun *c, const char **why)
{
    vm_identity *who = apr_pcalloc(o->pool, sizeof *who);
    vm_platforms *pl = NULL;

    memset(c, 0, sizeof *c);
    if ((*why = vm_identity_resolve(who, o->web_user, o->pool)) != NULL)
        return VMC_EXIT_FAIL;
    if (o->moodle_dir[0] != '/' || o->php[0] != '/') {
        *why = "--php and --moodle-dir must be absolute paths";
        return VMC_EXIT_USAGE;
    }
    if (o->platforms_file
        && (*why = vm_platforms_read(o->platforms_file, &pl, o->pool)) != NULL)
        return VMC_EXIT_FAIL;
    c->php = o->php;
    c->moodle_dir = o->moodle_dir;
    c->platforms = pl;
    c->platforms_file = o->platforms_file;
    c->site_user = o->site_user;
    c->who = who;
    c->opcache_dir = o->opcache_dir;
    return VMC_EXIT_OK;
}

int vmc_siterun_opts(const vm_siterun *c, const vm_instance *in,
                     const char *script, const char *const *args, int nargs,
                     vm_job_opts *o, apr_pool_t *p, const char **why)
{
    static int said; /* one line, not one per site */
    const char *nocache = NULL;
    int rc = vm_siterun_opts(c, in, script, args, nargs, o, p, why, &nocache);

    if (nocache && !said++)
        vmc_error(650, "opcode cache not used: %s", nocache);
    return rc;
}

int vmc_site_cli_run_args(const vm_siterun *c, const vm_instance *in,
                          const char *script, const char *const *args,
                          int nargs)
{
    apr_pool_t *p;
    const char *why = NULL;
    vm_job_opts o = { 0 };
    /* not interactive: stdin /dev/null; our output (a site's log, or the
     * terminal) only through a pipe or pty of ours, made visible; no
     * signal passed on, so a step an undo needs is never cut short */
    vm_relay r = { -1, STDOUT_FILENO, STDERR_FILENO, VM_RELAY_LINES, NULL };
    int code = 127;

    apr_pool_create(&p, NULL);
    printf("vmoodlectl: step: %s", script);
    for (int i = 0; i < nargs; i++)
        printf(" %s", args[i]);
    printf("\n");
    fflush(stdout);
    if (vmc_siterun_opts(c, in, script, args, nargs, &o, p, &why) != 0
        || (code = vm_relay_job(&o, &r, p, &why)) < 0) {
        printf("vmoodlectl: step not started: %s\n", why);
        code = 127;
    }
    fflush(stdout);
    apr_pool_destroy(p);
    return code;
}

int vmc_site_cli_run(const vm_siterun *c, const vm_instance *in,
                     const char *script, const char *arg)
{
    return vmc_site_cli_run_args(c, in, script, &arg, arg ? 1 : 0);
}

int vmc_site_maintenance(const vm_siterun *c, const vm_instance *in, int on,
                         apr_pool_t *p, const char **err)
{
    int code = vmc_site_cli_run(c, in, "admin/cli/maintenance.php",
                                on ? "--enable" : "--disable");

    if (code != 0)
        *err = apr_psprintf(p, "admin/cli/maintenance.php %s exited %d",
                            on ? "--enable" : "--disable", code);
    return code ? -1 : 0;
}

int vmc_site_in_maintenance(const vm_instance *in, apr_pool_t *p)
{
    struct stat st;
    return lstat(apr_pstrcat(p, in->datapath, "/climaintenance.html", NULL),
                 &st)
        == 0;
}

#define FLAG "climaintenance.html"
#define FLAG_TEXT "<h1>This site is being moved or restored.</h1>\n"

int vmc_maintenance_flag(const char *dir, uid_t uid, gid_t gid, apr_pool_t *p,
                         const char **err)
{
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int fd = -1, rc = -1;

    if (d >= 0)
        fd = openat(d, FLAG,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0 && write(fd, FLAG_TEXT, strlen(FLAG_TEXT)) > 0
        && fchown(fd, uid, gid) == 0)
        rc = 0;
    if (rc != 0)
        *err = apr_psprintf(p, "%s/%s: %s", dir, FLAG, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (d >= 0)
        close(d);
    return rc;
}

void vmc_maintenance_init(vmc_maintenance *m, const vm_siterun *cli,
                          const vm_instance *in, apr_pool_t *p)
{
    m->cli = cli;
    m->in = in;
    m->p = p;
    m->was_on = vmc_site_in_maintenance(in, p);
}

const char *vmc_maintenance_plan(void *ctx, apr_pool_t *p)
{
    const vmc_maintenance *m = ctx;
    return m->was_on ? "maintenance on (it already is: left so)"
                     : apr_psprintf(p, "maintenance on for %s", m->in->wwwroot);
}

int vmc_maintenance_on(void *ctx, const char **err)
{
    vmc_maintenance *m = ctx;
    return m->was_on ? 0 : vmc_site_maintenance(m->cli, m->in, 1, m->p, err);
}

int vmc_maintenance_off(void *ctx, const char **err)
{
    vmc_maintenance *m = ctx;
    return m->was_on ? 0 : vmc_site_maintenance(m->cli, m->in, 0, m->p, err);
}

void vmc_maintenance_undo(void *ctx)
{
    vmc_maintenance *m = ctx;
    const char *err;
    if (vmc_maintenance_off(m, &err) != 0)
        vmc_error(788, "undo: %s; %s stays in maintenance",
                  vm_text_visible(err, m->p), m->in->wwwroot);
}

int vmc_site_serve(const vmc_maintenance *m, const vm_instance *in, int leave,
                   const char **err)
{
    int code = vmc_site_cli_run(m->cli, in, "admin/cli/purge_caches.php", NULL);
    if (code != 0)
        return *err = apr_psprintf(m->p,
                                   "admin/cli/purge_caches.php exited "
                                   "%d",
                                   code),
               -1;
    return m->was_on && leave ? 0
                              : vmc_site_maintenance(m->cli, in, 0, m->p, err);
}

int vmc_site_answers(const vmc_maintenance *m, const vm_instance *in,
                     const char **err)
{
    int code = vmc_site_cli_run(m->cli, in, "admin/cli/cfg.php",
                                "--name=siteidentifier");
    if (code != 0)
        return *err = apr_psprintf(m->p,
                                   "the site does not answer: "
                                   "admin/cli/cfg.php exited %d",
                                   code),
               -1;
    return 0;
}

int vmc_lifecycle_run(const vmc_opts *o, const char *head,
                      const vmc_step *steps, int n, void *ctx, int tag)
{
    vmc_steps_outcome out;

    if (o->dry_run) {
        vmc_say("plan: %s", head);
        vmc_steps_plan(steps, n, ctx, o->pool);
        return VMC_EXIT_OK;
    }
    vmc_interrupt_install();
    if (vmc_steps_run(steps, n, ctx, &out) == 0)
        return VMC_EXIT_OK;
    fflush(stdout);
    vmc_error(tag, "%s failed at step '%s': %s; the site is as it was", head,
              out.failed, out.err);
    return VMC_EXIT_FAIL;
}

void vmc_instance_tables(const vmc_table *t, const vm_instance *in,
                         const char *out[3], apr_pool_t *p)
{
    vmc_place here = { in->dbtype, in->dbhost, in->dbname }, home;

    out[0] = out[1] = out[2] = NULL;
    if (vmc_table_home(t, &home, p) && vmc_same_database(&here, &home, p)) {
        out[0] = t->src->table;
        out[1] = apr_pstrcat(p, in->dbprefix, "local_vmoodle", NULL);
    }
}

int vmc_moodle_info_read(vm_db *db, const char *prefix, vmc_moodle_info *mi,
                         apr_pool_t *p, const char **err)
{
    const char *table = vm_db_ident(db, apr_pstrcat(p, prefix, "config", NULL),
                                    p);
    vm_db_result res;

    memset(mi, 0, sizeof *mi);
    if (!table) {
        *err = apr_psprintf(p, "prefix '%s' makes no table name", prefix);
        return -1;
    }
    if (vm_db_run(db,
                  apr_pstrcat(p, "SELECT name, value FROM ", table,
                              " WHERE name IN ('version', 'release', "
                              "'siteidentifier')",
                              NULL),
                  0, NULL, &res, p, err)
        != VM_OK)
        return -1;
    for (int r = 0; r < res.rows; r++) {
        const char *name = vm_db_value(&res, r, 0);
        const char *v = vm_db_value(&res, r, 1);
        if (name && !strcmp(name, "version"))
            mi->version = v;
        else if (name && !strcmp(name, "release"))
            mi->release = v;
        else if (name && !strcmp(name, "siteidentifier"))
            mi->siteidentifier = v;
    }
    return 0;
}

int vmc_site_settings_moved(const vmc_dbconf *c, const char *dbname,
                            const char *prefix, const char *old_wwwroot,
                            const char *new_wwwroot, const char *old_dataroot,
                            const char *new_dataroot, apr_pool_t *p,
                            const char **err)
{
    vmc_rewrite r;
    apr_pool_t *sub;
    vm_db *db;
    int rc = -1;

    memset(&r, 0, sizeof r);
    r.old_prefix = r.new_prefix = prefix;
    r.old_wwwroot = old_wwwroot;
    r.new_wwwroot = new_wwwroot;
    r.old_dataroot = old_dataroot;
    r.new_dataroot = new_dataroot;
    apr_pool_create(&sub, p); /* the connection closes with it */
    if ((db = vmc_db_open(c, dbname, sub, err)) != NULL)
        rc = vmc_rewrite_config(db, &r, sub, err);
    if (rc != 0)
        *err = apr_pstrdup(p, *err);
    apr_pool_destroy(sub);
    return rc;
}

int vmc_site_dbconf(const vm_instance *in, vmc_dbconf *c, apr_pool_t *p,
                    const char **err)
{
    if (in->id == VM_MASTER_ID) {
        *err = "the master Moodle is not in the instance table: back it "
               "up with the tools that manage it";
        return -1;
    }
    return vmc_dbconf_make(c, in->dbtype, in->dbhost, in->dblogin, in->dbpass,
                           in->dbname, p, err);
}
