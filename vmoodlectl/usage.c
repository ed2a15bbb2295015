/* usage [SITES] [--json]: each site measured (usage.h) as the fleet
 * commands run sites (fleet.h: --jobs at once, the live view, a log per
 * site, the summary), its figures then printed as a table (or one JSON
 * document) and recorded in the usage file (vm_usage.h) when usage-file
 * is set.  No SITES: every enabled site.  Exit 0; 1 when a site could not
 * be measured; else VMC_USAGE_OVER when a site is over its quota. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include <cjson/cJSON.h>
#include "ctl.h"
#include "fleet.h"
#include "fleet_cmds.h"
#include "usage.h"
#include "util.h"
#include "vm_text.h"
#include "vm_time.h"

#define VMC_USAGE_OVER 3 /* a site's code and ours: over its quota */
#define SLOT_TEXT 256

/* What a site's child measured, in memory shared with us (the child is a
 * fork): texts cut to their slot. */
typedef struct {
    int measured;
    uint64_t disk, files, db;
    char users[32], last_access[32], release[SLOT_TEXT], err[SLOT_TEXT];
} usage_slot;

typedef struct {
    const vmc_quotas *q;
    usage_slot *slots; /* one per site, in job->sites' order */
    size_t size;
} usage_run;

static void put(char *to, size_t size, const char *text)
{
    snprintf(to, size, "%s", text ? text : "");
}

/* In the site's child (root, output to its log). */
static int measure_site(const vmc_job *job, const vm_instance *in)
{
    const usage_run *run = job->ctx;
    vmc_site_usage u = { in, 0, 0, 0, 0, NULL, NULL, NULL, NULL };
    usage_slot *s = NULL;
    apr_pool_t *p;
    int code;

    for (int i = 0; i < job->sites->nelts && !s; i++)
        if (APR_ARRAY_IDX(job->sites, i, const vm_instance *) == in)
            s = &run->slots[i];
    if (!s || apr_pool_create(&p, NULL) != APR_SUCCESS)
        return VMC_EXIT_FAIL;
    vmc_usage_measure(&u, run->q, p);
    s->disk = u.disk, s->files = u.files, s->db = u.db;
    put(s->users, sizeof s->users, u.users);
    put(s->last_access, sizeof s->last_access, u.last_access);
    put(s->release, sizeof s->release, u.release);
    put(s->err, sizeof s->err, u.err);
    s->measured = !u.err;
    if (u.err)
        printf("not measured: %s\n", vm_text_visible(u.err, p));
    else
        printf("dataroot %s (%" APR_UINT64_T_FMT " files), database %s, "
               "quota: %s\n",
               vmc_bytes(u.disk, p), (apr_uint64_t)u.files, vmc_bytes(u.db, p),
               vmc_usage_quota_text(&u, p));
    code = u.err                                     ? VMC_EXIT_FAIL
        : vmc_usage_level(&u, NULL) == VM_USAGE_OVER ? VMC_USAGE_OVER
                                                     : VMC_EXIT_OK;
    apr_pool_destroy(p);
    return code;
}

static apr_status_t unmap(void *ctx)
{
    const usage_run *run = ctx;
    munmap(run->slots, run->size);
    return APR_SUCCESS;
}

static int map_slots(usage_run *run, int n, apr_pool_t *p)
{
    run->size = sizeof(usage_slot) * (size_t)(n > 0 ? n : 1);
    run->slots = mmap(NULL, run->size, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (run->slots == MAP_FAILED)
        return -1;
    apr_pool_cleanup_register(p, run, unmap, apr_pool_cleanup_null);
    return 0;
}

/* A site's figures back from its slot; err from its result when the
 * child did not fill the slot (not started, killed). */
static vmc_site_usage from_slot(const usage_slot *s, const vmc_site_result *r,
                                const vmc_quotas *q, apr_pool_t *p)
{
    vmc_site_usage u = {
        r->in, s->disk, s->files, s->db, vmc_quota_of(q, r->in),
        NULL,  NULL,    NULL,     NULL
    };

    if (!s->measured || !r->ok) {
        u.err = *s->err                     ? apr_pstrdup(p, s->err)
            : r->last_line && *r->last_line ? r->last_line
                                            : "not measured";
        return u;
    }
    u.users = *s->users ? apr_pstrdup(p, s->users) : NULL;
    u.last_access = *s->last_access ? apr_pstrdup(p, s->last_access) : NULL;
    u.release = *s->release ? apr_pstrdup(p, s->release) : NULL;
    return u;
}

static const char *when(const char *unix_time, apr_pool_t *p)
{
    char text[VM_TIME_TEXT];
    long long t = unix_time ? apr_atoi64(unix_time) : 0;

    if (t <= 0)
        return "never";
    vm_time_text(t, text);
    return apr_pstrdup(p, text);
}

static void print_row(const vmc_site_usage *u, apr_pool_t *p)
{
    vm_usage_level l = vmc_usage_level(u, NULL);

    if (u->err) {
        printf("%-30s error: %s\n", u->in->key, vm_text_visible(u->err, p));
        return;
    }
    printf("%-30s %10s %10s %6s  %-20s %-22s %s%s\n", u->in->key,
           vmc_bytes(u->disk, p), vmc_bytes(u->db, p),
           u->users ? u->users : "-", when(u->last_access, p),
           u->release ? vm_text_visible(u->release, p) : "-",
           l == VM_USAGE_NO_QUOTA ? "-" : vmc_usage_quota_text(u, p),
           l == VM_USAGE_OVER          ? "  OVER QUOTA"
               : l == VM_USAGE_WARNING ? "  WARNING"
                                       : "");
}

static cJSON *row_json(const vmc_site_usage *u)
{
    cJSON *o = cJSON_CreateObject();
    int pc;
    vm_usage_level l = vmc_usage_level(u, &pc);

    cJSON_AddStringToObject(o, "site", u->in->key);
    if (u->err) {
        cJSON_AddStringToObject(o, "error", u->err);
        return o;
    }
    cJSON_AddNumberToObject(o, "dataroot_bytes", (double)u->disk);
    cJSON_AddNumberToObject(o, "dataroot_files", (double)u->files);
    cJSON_AddNumberToObject(o, "database_bytes", (double)u->db);
    cJSON_AddNumberToObject(o, "users",
                            u->users ? (double)apr_atoi64(u->users) : 0);
    cJSON_AddNumberToObject(o, "last_access",
                            u->last_access ? (double)apr_atoi64(u->last_access)
                                           : 0);
    if (u->release)
        cJSON_AddStringToObject(o, "moodle_release", u->release);
    if (l != VM_USAGE_NO_QUOTA) {
        cJSON_AddNumberToObject(o, "quota_bytes", (double)u->quota);
        cJSON_AddNumberToObject(o, "quota_percent", pc);
        cJSON_AddStringToObject(o, "quota", vm_usage_level_name(l));
        cJSON_AddBoolToObject(o, "warning", l >= VM_USAGE_WARNING);
        cJSON_AddBoolToObject(o, "over_quota", l == VM_USAGE_OVER);
    }
    return o;
}

/* The measured sites' figures into the usage file, the others' kept. */
static int record(const char *path, const vmc_site_usage *u, int n,
                  apr_pool_t *p)
{
    vm_usage_entry *e = apr_pcalloc(p, sizeof *e * (size_t)(n > 0 ? n : 1));
    int k = 0;
    const char *why;

    for (int i = 0; i < n; i++)
        if (!u[i].err)
            e[k++] = (vm_usage_entry){ u[i].in->id, u[i].disk, u[i].db,
                                       u[i].quota, (int64_t)time(NULL) };
    if (vm_usage_record(path, e, k, p, &why) != VM_OK)
        return vmc_fail(850, VMC_EXIT_FAIL,
                        apr_pstrcat(p, "usage file: ", why, NULL));
    return VMC_EXIT_OK;
}

/* The table, or one JSON document for all sites. */
static void report(const vmc_site_usage *u, int n, int json, apr_pool_t *p)
{
    cJSON *list = json ? cJSON_CreateArray() : NULL;
    char *text;

    if (!list)
        printf("%-30s %10s %10s %6s  %-20s %-22s %s\n", "SITE", "DATAROOT",
               "DATABASE", "USERS", "LAST ACCESS", "MOODLE", "QUOTA");
    for (int i = 0; i < n; i++)
        if (list)
            cJSON_AddItemToArray(list, row_json(&u[i]));
        else
            print_row(&u[i], p);
    if (list) {
        text = cJSON_Print(list);
        puts(text);
        cJSON_free(text);
        cJSON_Delete(list);
    }
}

/* With --json stdout carries the document alone: the live view and the
 * summary go to stderr.  The saved stdout, or -1. */
static int view_to_stderr(int json)
{
    int saved;

    if (!json)
        return -1;
    fflush(stdout);
    if ((saved = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)) >= 0)
        dup2(STDERR_FILENO, STDOUT_FILENO);
    return saved;
}

static void view_back(int saved)
{
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, STDOUT_FILENO);
        close(saved);
    }
}

/* Each site's figures from its slot; *over when one is over its quota. */
static vmc_site_usage *collect(const usage_run *run, const vmc_site_result *r,
                               int n, int *over, apr_pool_t *p)
{
    vmc_site_usage *u = apr_pcalloc(p, sizeof *u * (size_t)(n > 0 ? n : 1));

    *over = 0;
    for (int i = 0; i < n; i++) {
        u[i] = from_slot(&run->slots[i], &r[i], run->q, p);
        *over |= !u[i].err && vmc_usage_level(&u[i], NULL) == VM_USAGE_OVER;
    }
    return u;
}

int vmc_cmd_usage(vmc_opts *o)
{
    /* the pool's, as its cleanup (the slots unmapped) outlives this call */
    usage_run *run = apr_pcalloc(o->pool, sizeof *run);
    vmc_site_result *res = NULL;
    vmc_site_usage *u;
    const char *why;
    vmc_quotas *q = apr_pcalloc(o->pool, sizeof *q);
    vmc_table t;
    vmc_job job;
    int fg, rc, saved, over, n;

    if ((why = vmc_quotas_read(q, o->quota_file, o->pool)) != NULL)
        return vmc_fail(740, VMC_EXIT_FAIL, why);
    o->all = o->all || (!o->match && !o->nargs && !o->master);
    if ((rc = vmc_job_prepare(o, "usage", 0, &t, &job, &fg)) != VMC_EXIT_OK)
        return rc;
    n = job.sites->nelts;
    run->q = q;
    if (map_slots(run, n, o->pool) != 0)
        return vmc_fail(851, VMC_EXIT_FAIL, "no memory for the figures");
    /* The child stays root: a dataroot is walked without following a link
     * (files.h), whoever owns it. */
    vmc_job_stay(&job, o->pool);
    job.work = measure_site;
    job.ctx = run;
    job.ok_codes = 1u << VMC_EXIT_OK | 1u << VMC_USAGE_OVER;
    saved = view_to_stderr(o->json);
    rc = vmc_fleet_run(&job, o->pool, &res);
    view_back(saved);
    if (!res)
        return rc;
    u = collect(run, res, n, &over, o->pool);
    report(u, n, o->json, o->pool);
    if (o->usage_file && record(o->usage_file, u, n, o->pool) != VMC_EXIT_OK)
        return VMC_EXIT_FAIL;
    return rc != VMC_EXIT_OK ? rc : over ? VMC_USAGE_OVER : VMC_EXIT_OK;
}
