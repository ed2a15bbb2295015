/* restore BACKUP: a backup (backup.c) back into its own site, same URL
 * and identity.  Its checksums are verified before anything changes; then,
 * in Moodle's maintenance mode and under vcron's lock for the site, the
 * database is loaded into a new database and swapped in (PostgreSQL:
 * renamed, the site's connections ended first; MariaDB, which cannot
 * rename a database: the row pointed at the new one), the dataroot copied
 * beside the live one and swapped with it in one rename, caches purged,
 * maintenance left, and the old copies removed only once Moodle's CLI
 * answers on the restored site.  A failure or an interrupt at any step
 * puts everything back as it was, serving. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "dbadmin.h"
#include "dbtools.h"
#include "files.h"
#include "fleet.h"
#include "interrupt.h"
#include "lifecycle.h"
#include "manifest.h"
#include "platforms.h"
#include "restore.h"
#include "shared.h"
#include "steps.h"
#include "util.h"
#include "vm_file.h"
#include "vm_lock.h"
#include "vm_text.h"

const char *vmc_restore_check_file(void *ctx, const char *rel, uint64_t size,
                                   const char *sha256)
{
    restore *r = ctx;

    (void)size;
    r->files_checked++;
    return vmc_manifest_file_ok(&r->m, rel, sha256, r->p);
}

/* The manifest, the dump and every file of the dataroot, as the backup
 * wrote them. */
static const char *verify(restore *r)
{
    char hex[VMC_SHA256_HEX];
    const char *err;

    if (vmc_manifest_read(&r->m,
                          apr_pstrcat(r->p, r->dir, "/", VMC_MANIFEST, NULL),
                          r->p, &err)
        != 0)
        return err;
    if (!r->m.kind || strcmp(r->m.kind, "backup") != 0)
        return apr_psprintf(r->p,
                            "%s is not a backup (a template? deploy "
                            "it)",
                            r->dir);
    r->dump_path = apr_pstrcat(r->p, r->dir, "/", r->m.dump_file, NULL);
    if (vmc_sha256_file(r->dump_path, hex, r->p, &err) != 0)
        return err;
    if (strcmp(hex, r->m.dump_sha256) != 0)
        return apr_psprintf(r->p,
                            "%s does not match the manifest's "
                            "checksum",
                            r->dump_path);
    if (vmc_tree_sums(apr_pstrcat(r->p, r->dir, "/dataroot", NULL),
                      vmc_restore_check_file, r, r->p, &err)
        != 0)
        return err;
    if (r->files_checked != (uint64_t)apr_hash_count(r->m.file_sums))
        return "the backup's dataroot lacks files its manifest lists";
    return NULL;
}

/* Rolling a shared database or dataroot back would roll back another
 * site (or the instance table) too. */
static const char *check_not_shared(restore *r)
{
    vmc_place here = { r->in->dbtype, r->in->dbhost, r->in->dbname }, home;
    const apr_array_header_t *all = r->t.table->instances;

    if (vmc_table_home(&r->t, &home, r->p)
        && vmc_same_database(&here, &home, r->p))
        return "its database holds the instance table";
    for (int i = 0; i < all->nelts; i++) {
        const vm_instance *o = &APR_ARRAY_IDX(all, i, vm_instance);
        vmc_place there = { o->dbtype, o->dbhost, o->dbname };
        if (o->id == r->in->id)
            continue;
        if (vmc_same_database(&here, &there, r->p))
            return apr_psprintf(r->p, "it shares its database with %s", o->key);
        if (vmc_paths_overlap(r->in->datapath, o->datapath, r->p))
            return apr_psprintf(r->p, "its dataroot overlaps %s's", o->key);
    }
    return NULL;
}

/* yyyymmddhhmmss (UTC): the new and old names of this run; digits alone,
 * not vm_time_stamp's T and Z, since they end a database name, which we
 * keep to lower-case letters, digits and underscores. */
static void names(restore *r)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    const char *base = r->in->dbname;
    size_t len = strlen(base);

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
    /* a site restored before (MariaDB): without that restore's suffix */
    if (len > 16 && base[len - 16] == '_' && base[len - 15] == 'r'
        && strspn(base + len - 14, "0123456789") == 14)
        base = apr_pstrndup(r->p, base, len - 16);
    if (strlen(base) > 40)
        base = apr_pstrndup(r->p, base, 40);
    r->new_db = apr_psprintf(r->p, "%s_r%s", base, stamp);
    r->old_db = r->db.pg ? apr_psprintf(r->p, "%s_old%s", base, stamp)
                         : r->in->dbname;
    r->beside = apr_psprintf(r->p, "%s.restore-%s", r->in->datapath, stamp);
}

static const char *check_dataroot(restore *r)
{
    struct stat st;

    if (lstat(r->in->datapath, &st) != 0)
        return apr_psprintf(r->p, "dataroot %s: %s", r->in->datapath,
                            strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return apr_psprintf(r->p, "dataroot %s is not a folder",
                            r->in->datapath);
    r->uid = st.st_uid;
    r->gid = st.st_gid;
    if (lstat(r->beside, &st) == 0)
        return apr_psprintf(r->p, "%s already exists", r->beside);
    vmc_maintenance_init(&r->maint, &r->cli, &r->cur, r->p);
    return NULL;
}

static const char *check_server(restore *r)
{
    const char *err, *server;
    int can, exists;

    if (vmc_admin_dbconf(r->o, r->in->dbtype, r->in->dbhost, r->in->dblogin,
                         r->in->dbpass, r->in->dbname, &r->db, r->p, &err)
        != 0)
        return err;
    if (r->m.dump_file && strcmp(vmc_dump_file(&r->db), r->m.dump_file) != 0)
        return apr_psprintf(r->p,
                            "the backup holds a %s dump; the site "
                            "is on %s",
                            r->m.source.dbtype, r->in->dbtype);
    names(r);
    server = vmc_dbconf_server(&r->db, r->p);
    if (!(r->server = vmc_db_open(&r->db, NULL, r->p, &err)))
        return apr_psprintf(r->p, "cannot connect to %s as %s: %s", server,
                            r->db.user, err);
    if ((can = vmc_dbadmin_can_create(r->server, r->p, &err)) <= 0)
        return can < 0 ? err
                       : apr_psprintf(r->p,
                                      "%s may not create "
                                      "databases on %s (CREATEDB): give "
                                      "an administrative login "
                                      "(--admin-dbuser, --admin-dbpass-file)",
                                      r->db.user, server);
    if ((exists = vmc_dbadmin_exists(r->server, r->new_db, r->p, &err)) != 0
        || (r->db.pg
            && (exists = vmc_dbadmin_exists(r->server, r->old_db, r->p, &err))
                != 0))
        return exists < 0 ? err
                          : apr_psprintf(r->p,
                                         "a database named "
                                         "%s or %s exists on %s",
                                         r->new_db, r->old_db, server);
    return NULL;
}

/* The site's own checks (r->in found): nothing shared, the server lets
 * us make databases, the dataroot there.  NULL, or why not. */
static const char *check_site(restore *r)
{
    const char *why;

    r->cur = *r->in;
    if ((why = check_not_shared(r)) || (why = check_server(r))
        || (why = check_dataroot(r)))
        return why;
    return NULL;
}

/* How the site's CLI runs (unless the caller gave it), and its
 * platform's code tree there. */
static int site_cli(restore *r, const char **why)
{
    int rc;

    if (!r->cli.php
        && (rc = vmc_siterun_prepare(r->o, &r->cli, why)) != VMC_EXIT_OK)
        return rc;
    return vm_siterun_tree(&r->cli, r->in, r->p, why) ? VMC_EXIT_OK
                                                      : VMC_EXIT_FAIL;
}

/* Everything checked before the first step (r->dir given). */
static int prepare(restore *r)
{
    const char *why;
    int rc;

    if ((why = verify(r)) != NULL)
        return vmc_fail(721, VMC_EXIT_FAIL,
                        apr_pstrcat(r->p,
                                    "restore "
                                    "refused, nothing changed: ",
                                    why, NULL));
    vmc_say("verified %s: the dump and %" APR_UINT64_T_FMT " files match "
            "their checksums",
            r->dir, r->files_checked);
    if (r->o->as_url)
        return VMC_EXIT_OK; /* the rest is deploy's to check */
    if ((rc = vmc_table_load(r->o, &r->t, &why)) != VMC_EXIT_OK)
        return vmc_fail(722, rc, why);
    if (!(r->in = vmc_find(&r->t, r->m.source.wwwroot, &why)))
        return vmc_fail(723, VMC_EXIT_FAIL,
                        apr_pstrcat(r->p,
                                    "restore "
                                    "refused: ",
                                    why,
                                    " (restore --as URL makes a new "
                                    "site of it)",
                                    NULL));
    if ((rc = site_cli(r, &why)) != VMC_EXIT_OK)
        return vmc_fail(729, rc,
                        apr_psprintf(r->p,
                                     "restore of %s refused, nothing "
                                     "changed: %s",
                                     r->in->wwwroot, why));
    if ((why = check_site(r)) != NULL)
        return vmc_fail(724, VMC_EXIT_FAIL,
                        apr_psprintf(r->p,
                                     "restore of "
                                     "%s refused, nothing changed: %s",
                                     r->in->wwwroot, why));
    return VMC_EXIT_OK;
}

static int lock_site(restore *r)
{
    const char *why = vm_file_dir_make(r->o->lock_dir, r->p);

    if (!why
        && vm_lock_take(&r->lock, r->o->lock_dir, r->t.src, r->in->id, r->p,
                        &why)
            == VM_LOCK_GOT)
        return 0;
    r->lock.fd = -1;
    return vmc_fail(725, -1,
                    apr_psprintf(r->p,
                                 "%s: not restored: locked "
                                 "(its cron or an upgrade runs): %s",
                                 r->in->key, why));
}

/* --as URL: a new site of the backup, made its own as deploy makes one
 * of a template (names, siteidentifier, no copy of the key, its own
 * database and dataroot): deploy with the backup's folder as template. */
static int restore_as(restore *r)
{
    const char *slash = strrchr(r->dir, '/');

    if (!slash || slash == r->dir || !slash[1])
        return vmc_fail(728, VMC_EXIT_USAGE,
                        "restore --as: give the "
                        "backup's folder as DIR/SITE/TIME");
    vmc_say("restoring %s as a new site %s", r->dir, r->o->as_url);
    r->o->templates_dir = apr_pstrndup(r->p, r->dir,
                                       (apr_size_t)(slash - r->dir));
    r->o->template_name = slash + 1;
    vm_row_set(&r->o->fields, VM_F_VHOSTNAME, r->o->as_url);
    return vmc_cmd_deploy(r->o);
}

static void restore_init(restore *r, vmc_opts *o, const char *dir)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->p = o->pool;
    r->lock.fd = -1;
    r->dir = apr_pstrdup(r->p, dir);
    for (size_t n = strlen(r->dir); n > 1 && r->dir[n - 1] == '/'; n--)
        ((char *)r->dir)[n - 1] = '\0';
}

static int run_steps(restore *r)
{
    return vmc_lifecycle_run(r->o,
                             apr_psprintf(r->p,
                                          "restore of %s from %s "
                                          "(taken %s)",
                                          r->in->wwwroot, r->dir,
                                          r->m.created ? r->m.created : "?"),
                             vmc_restore_steps, vmc_restore_nsteps, r, 727);
}

int vmc_cmd_restore(vmc_opts *o)
{
    restore r;
    int rc;

    if (o->nargs != 1)
        return vmc_fail(720, VMC_EXIT_USAGE,
                        "restore BACKUP [--as URL]: "
                        "name one backup folder (see vmoodlectl backups)");
    restore_init(&r, o, o->args[0]);
    vmc_interrupt_install();
    if ((rc = prepare(&r)) != VMC_EXIT_OK)
        return rc;
    if (o->as_url)
        return restore_as(&r);
    if (!o->dry_run && lock_site(&r) != 0)
        return VMC_EXIT_FAIL;
    rc = run_steps(&r);
    if (rc == VMC_EXIT_OK && !o->dry_run)
        vmc_say("restored %s from %s", r.in->wwwroot, r.dir);
    if (r.lock.fd >= 0)
        vm_lock_release(&r.lock, r.t.src, r.in->id, r.p);
    return rc;
}

const char *vmc_restore_possible(vmc_opts *o, const vmc_table *t,
                                 const vm_instance *in)
{
    restore r;
    const char *why;

    restore_init(&r, o, "/");
    apr_pool_create(&r.p, o->pool); /* its connection closed at the end */
    r.t = *t;
    r.in = in;
    why = check_site(&r);
    why = why ? apr_pstrdup(o->pool, why) : NULL;
    apr_pool_destroy(r.p);
    return why;
}

int vmc_restore_in_place(vmc_opts *o, const vm_siterun *cli, const char *dir)
{
    restore r;

    restore_init(&r, o, dir);
    r.cli = *cli;
    if (prepare(&r) != VMC_EXIT_OK || run_steps(&r) != VMC_EXIT_OK)
        return -1;
    vmc_say("restored %s from %s", r.in->wwwroot, r.dir);
    return 0;
}
