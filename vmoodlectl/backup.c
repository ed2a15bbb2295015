/* backup SITES [--dir DIR] [--keep N] [--maintenance]: each site's
 * database dumped consistently (pg_dump -Fc; mariadb-dump
 * --single-transaction) with its own credentials, its dataroot copied
 * without run-time files (on descriptors, no link followed), and a
 * manifest with sizes, checksums and Moodle's version, into
 * DIR/<host>/<UTC time>, root's alone (0700/0600).  Written under a
 * .partial- name and renamed when complete; then all but the newest N
 * are removed.  Sites run as the fleet commands run them (--jobs, a log
 * each, the summary); each under vcron's lock for the site. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "dbtools.h"
#include "fleet.h"
#include "fleet_cmds.h"
#include "files.h"
#include "interrupt.h"
#include "backup.h"
#include "lifecycle.h"
#include "manifest.h"
#include "steps.h"
#include "platforms.h"
#include "util.h"
#include "vm_text.h"
#include "vm_file.h"
#include "vm_cli.h"
#include "vm_time.h"

#define SAME_SECOND_MAX 99

typedef vmc_backup_run backup_run;

typedef struct {
    vmc_maintenance maint; /* first: the maintenance steps' context */
    const backup_run *run;
    const vm_instance *in;
    apr_pool_t *p;
    vmc_dbconf db;
    const char *left_out[3];
    const char *site_dir, *work, *final;
    vmc_manifest m;
    int folder_made;
} backup;

static int maintenance_applies(void *ctx)
{
    return ((backup *)ctx)->run->maintenance;
}

static const char *plan_folder(void *ctx, apr_pool_t *p)
{
    backup *b = ctx;
    return apr_psprintf(p,
                        "create %s (0700, written as %s, renamed when "
                        "complete)",
                        b->final, b->work);
}

/* site_dir: ours and no one else's. */
static int create_folder(void *ctx, const char **err)
{
    backup *b = ctx;
    struct stat st;

    if (mkdir(b->site_dir, 0700) != 0 && errno != EEXIST)
        return *err = apr_psprintf(b->p, "%s: %s", b->site_dir,
                                   strerror(errno)),
               -1;
    if (lstat(b->site_dir, &st) != 0 || !S_ISDIR(st.st_mode)
        || st.st_uid != geteuid() || (st.st_mode & 077))
        return *err = apr_psprintf(b->p,
                                   "%s must be a folder of ours "
                                   "(0700)",
                                   b->site_dir),
               -1;
    if (mkdir(b->work, 0700) != 0)
        return *err = apr_psprintf(b->p, "%s: %s", b->work, strerror(errno)),
               -1;
    b->folder_made = 1;
    return 0;
}

static void remove_folder(void *ctx)
{
    backup *b = ctx;
    const char *err;
    if (b->folder_made
        && vmc_tree_remove(b->work, b->site_dir, b->p, &err) != 0)
        vmc_error(787, "undo: %s", vm_text_visible(err, b->p));
}

static const char *plan_dump(void *ctx, apr_pool_t *p)
{
    backup *b = ctx;
    const char *out = apr_psprintf(p, "dump %s database %s on %s as %s (%s)",
                                   b->in->dbtype, b->in->dbname,
                                   vmc_dbconf_server(&b->db, p), b->in->dblogin,
                                   b->db.pg
                                       ? "pg_dump -Fc"
                                       : "mariadb-dump --single-transaction");
    for (int i = 0; b->left_out[i]; i++)
        out = apr_pstrcat(p, out, i ? ", " : " without ", b->left_out[i], NULL);
    return out;
}

static int dump(void *ctx, const char **err)
{
    backup *b = ctx;
    const char *path = apr_pstrcat(b->p, b->work, "/", vmc_dump_file(&b->db),
                                   NULL);
    char hex[VMC_SHA256_HEX];
    vmc_progress pr;
    struct stat st;
    int rc;

    vmc_progress_start(&pr, "dump database", 0, NULL);
    rc = vmc_dump(&b->db, path, b->left_out, &pr, b->p, err);
    vmc_progress_end(&pr, rc == 0);
    if (rc != 0)
        return -1;
    if (chmod(path, 0600) != 0 || stat(path, &st) != 0)
        return *err = apr_psprintf(b->p, "%s: %s", path, strerror(errno)), -1;
    if (vmc_sha256_file(path, hex, b->p, err) != 0)
        return -1;
    b->m.dump_file = vmc_dump_file(&b->db);
    b->m.dump_size = (uint64_t)st.st_size;
    b->m.dump_sha256 = apr_pstrdup(b->p, hex);
    return 0;
}

static const char *plan_copy(void *ctx, apr_pool_t *p)
{
    backup *b = ctx;
    return apr_psprintf(p,
                        "copy %s (%" APR_UINT64_T_FMT " files, %s) "
                        "without sessions, cache, localcache, temp, "
                        "trashdir, lock and *.lock",
                        b->in->datapath, b->m.data_files,
                        vmc_bytes(b->m.data_bytes, p));
}

static int copy(void *ctx, const char **err)
{
    backup *b = ctx;
    vmc_copy c;

    vmc_copy_private(&c, b->site_dir, vmc_manifest_list_file, b->m.files);
    return vmc_tree_copy_shown(b->in->datapath,
                               apr_pstrcat(b->p, b->work, "/dataroot", NULL),
                               &c, "copy dataroot", b->m.data_bytes, b->p, err);
}

static int write_manifest(void *ctx, const char **err)
{
    backup *b = ctx;
    const char *path = apr_pstrcat(b->p, b->work, "/", VMC_MANIFEST, NULL);

    b->m.data_files = (uint64_t)cJSON_GetArraySize(b->m.files);
    if (vmc_manifest_write(&b->m, path, b->p, err) != 0)
        return -1;
    if (chmod(path, 0600) != 0)
        return *err = apr_psprintf(b->p, "%s: %s", path, strerror(errno)), -1;
    return 0;
}

static int move_into_place(void *ctx, const char **err)
{
    backup *b = ctx;
    if (rename(b->work, b->final) != 0)
        return *err = apr_psprintf(b->p, "%s: %s", b->final, strerror(errno)),
               -1;
    b->folder_made = 0;
    return 0;
}

static int keep_applies(void *ctx)
{
    return ((backup *)ctx)->run->keep > 0;
}

static const char *plan_keep(void *ctx, apr_pool_t *p)
{
    backup *b = ctx;
    return apr_psprintf(p, "remove all but the newest %ld backup(s) in %s",
                        b->run->keep, b->site_dir);
}

static int keep_newest(void *ctx, const char **err)
{
    backup *b = ctx;
    apr_array_header_t *all = vmc_backup_list(b->site_dir, b->p);

    for (int i = 0; i + b->run->keep < all->nelts; i++) {
        const char *old = apr_pstrcat(b->p, b->site_dir, "/",
                                      APR_ARRAY_IDX(all, i, const char *),
                                      NULL);
        if (vmc_tree_remove(old, b->site_dir, b->p, err) != 0)
            return -1;
        printf("vmoodlectl: removed the old backup %s\n", old);
    }
    return 0;
}

static const vmc_step steps[] = {
    { "maintenance on", vmc_maintenance_plan, maintenance_applies,
      vmc_maintenance_on, vmc_maintenance_undo },
    { "create the backup folder", plan_folder, NULL, create_folder,
      remove_folder },
    { "dump the database", plan_dump, NULL, dump, NULL },
    { "copy the dataroot", plan_copy, NULL, copy, NULL },
    { "maintenance off", NULL, maintenance_applies, vmc_maintenance_off, NULL },
    { "write the manifest", NULL, NULL, write_manifest, NULL },
    { "move the backup into place", NULL, NULL, move_into_place, NULL },
    { "remove old backups", plan_keep, keep_applies, keep_newest, NULL },
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

/* DIR/<site>/<UTC time>, with -NN when that second is taken. */
static const char *backup_name(backup *b)
{
    char stamp[VM_TIME_TEXT];

    vm_time_stamp((long long)time(NULL), stamp);
    for (int i = 1; i <= SAME_SECOND_MAX; i++) {
        const char *name = i == 1 ? stamp
                                  : apr_psprintf(b->p, "%s-%02d", stamp, i);
        const char *path = apr_pstrcat(b->p, b->site_dir, "/", name, NULL);
        if (access(path, F_OK) != 0)
            return apr_pstrdup(b->p, name);
    }
    return NULL;
}

/* Everything the steps need, checked before the first: the database
 * reached with the site's credentials (Moodle's version read), the
 * dataroot measured, a name for the backup. */
static const char *prepare(backup *b)
{
    const vm_instance *in = b->in;
    const char *err, *name;
    vmc_moodle_info mi;
    char date[VM_TIME_TEXT];
    vm_db *db;

    /* --maintenance: Moodle's script of the site's own platform */
    if (b->run->maintenance && !vm_siterun_tree(&b->run->cli, in, b->p, &err))
        return err;
    if (vmc_site_dbconf(in, &b->db, b->p, &err) != 0)
        return err;
    if (!(db = vmc_db_open(&b->db, in->dbname, b->p, &err))
        || vmc_moodle_info_read(db, in->dbprefix, &mi, b->p, &err) != 0)
        return apr_psprintf(b->p, "database %s: %s", in->dbname, err);
    vm_db_close(db);
    if (vmc_tree_measure(in->datapath, 1, &b->m.data_bytes, &b->m.data_files,
                         b->p, &err)
        != 0)
        return apr_psprintf(b->p, "dataroot: %s", err);
    vmc_instance_tables(b->run->t, in, b->left_out, b->p);
    b->site_dir = vmc_backup_site_dir(b->run->dir, in, b->p);
    if (!(name = backup_name(b)))
        return "too many backups of the site in this second";
    b->final = apr_pstrcat(b->p, b->site_dir, "/", name, NULL);
    b->work = apr_pstrcat(b->p, b->site_dir, "/", VMC_BACKUP_PARTIAL, name,
                          NULL);
    vm_time_text((long long)time(NULL), date);
    b->m.name = name;
    b->m.created = apr_pstrdup(b->p, date);
    b->m.source = *in;
    b->m.kind = "backup";
    b->m.moodle_version = mi.version;
    b->m.moodle_release = mi.release;
    b->m.siteidentifier = mi.siteidentifier;
    return NULL;
}

static void backup_init(backup *b, const backup_run *run, const vm_instance *in,
                        apr_pool_t *p)
{
    memset(b, 0, sizeof *b);
    vmc_maintenance_init(&b->maint, &run->cli, in, p);
    b->run = run;
    b->in = in;
    b->p = p;
    b->m.files = cJSON_CreateArray();
}

int vmc_backup_one(const vmc_backup_run *run, const vm_instance *in,
                   apr_pool_t *p, const char **path)
{
    vmc_steps_outcome out;
    const char *why;
    backup b;
    int rc = 0;

    backup_init(&b, run, in, p);
    fflush(stdout); /* the steps' lines first, in the site's log */
    if ((why = prepare(&b)) != NULL) {
        vmc_error(785, "%s: backup refused, nothing done: %s", in->key,
                  vm_text_visible(why, p));
        rc = 1;
    } else if (vmc_steps_run(steps, NSTEPS, &b, &out) != 0) {
        fflush(stdout);
        vmc_error(786,
                  "%s: backup failed at step '%s': %s; the site is "
                  "as it was, nothing kept",
                  in->key, out.failed, vm_text_visible(out.err, p));
        rc = 1;
    } else {
        printf("vmoodlectl: backup %s (%s database, %" APR_UINT64_T_FMT
               " files, %s)\n",
               b.final, vmc_bytes(b.m.dump_size, p), b.m.data_files,
               vmc_bytes(b.m.data_bytes, p));
        *path = b.final;
    }
    fflush(stdout);
    cJSON_Delete(b.m.files);
    return rc;
}

/* In the site's child (as root: the backup is root's), output to its
 * log.  A timeout's TERM undoes, as an interrupt does. */
static int backup_site(const vmc_job *job, const vm_instance *in)
{
    backup_run run = *(const backup_run *)job->ctx;
    const char *path;
    apr_pool_t *p;

    vmc_interrupt_install();
    umask(077);
    apr_pool_create(&p, NULL);
    return vmc_backup_one(&run, in, p, &path);
}

/* --dry-run: each site checked and its plan printed, in this process. */
static int plan_all(const vmc_job *job, backup_run *run)
{
    int rc = VMC_EXIT_OK;

    for (int i = 0; i < job->sites->nelts; i++) {
        const vm_instance *in = APR_ARRAY_IDX(job->sites, i,
                                              const vm_instance *);
        const char *why;
        backup b;

        backup_init(&b, run, in, run->o->pool);
        if ((why = prepare(&b)) != NULL) {
            vmc_error(702, "%s: backup refused: %s", in->key, why);
            rc = VMC_EXIT_FAIL;
        } else {
            vmc_say("plan: backup %s to %s", in->wwwroot, b.final);
            vmc_steps_plan(steps, NSTEPS, &b, run->o->pool);
        }
        cJSON_Delete(b.m.files);
    }
    return rc;
}

int vmc_backup_dir_check(const vmc_opts *o, int open_it)
{
    const char *why;
    int fd;

    if (o->backup_dir[0] != '/' || vm_path_has_dotdot(o->backup_dir))
        return vmc_fail(703, VMC_EXIT_USAGE,
                        "--dir wants an absolute path "
                        "without '..'");
    if (!open_it)
        return VMC_EXIT_OK;
    if ((fd = vm_file_dir_open(o->backup_dir, 0700, o->pool, &why)) < 0)
        return vmc_fail(704, VMC_EXIT_FAIL,
                        apr_pstrcat(o->pool,
                                    "backup "
                                    "folder: ",
                                    why, NULL));
    close(fd);
    return VMC_EXIT_OK;
}

int vmc_cmd_backup(vmc_opts *o)
{
    backup_run run = { o, { 0 }, NULL, o->backup_dir, o->maintenance, o->keep };
    vmc_table t;
    vmc_job job;
    int fg, rc;

    if ((rc = vmc_job_prepare(o, "backup", 0, &t, &job, &fg)) != VMC_EXIT_OK
        || (rc = vmc_backup_dir_check(o, !o->dry_run)) != VMC_EXIT_OK)
        return rc;
    run.t = &t;
    run.cli = job.cli;
    if (o->dry_run)
        return plan_all(&job, &run);
    if ((rc = vmc_job_lock_dir(o)) != VMC_EXIT_OK)
        return rc;
    /* The child stays root: the backup is root's; Moodle's CLI steps run
     * as the site's user (run.cli). */
    vmc_job_stay(&job, o->pool);
    job.work = backup_site;
    job.ctx = &run;
    job.lock_dir = o->lock_dir;
    return vmc_fleet_run(&job, o->pool, NULL);
}
