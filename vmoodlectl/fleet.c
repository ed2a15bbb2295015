/* Running a fleet command over many sites, see fleet.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "vm_siteuser.h"
#include "fleet.h"
#include "lifecycle.h"
#include "platforms.h"
#include "fleetview.h"
#include "interrupt.h"
#include "vm_cli.h"
#include "vm_file.h"
#include "vm_instance.h"
#include "vm_job.h"
#include "vm_lock.h"
#include "vm_time.h"

#define POLL_NS (100 * 1000 * 1000)
#define LOCK_RETRY 2.0 /* seconds between tries of a locked site */
#define LOCK_WAIT \
    600.0 /* give a locked site up after (vcron's
                                 default cron timeout) */
#define LAST_LINE 200

/* One site of the run: its result and, while it runs, its process. */
typedef struct {
    vmc_site_result *res;
    vm_job job; /* job.pid 0: not running */
    int log_fd;
    vm_lock lock;
    double retry_at, first_try;
} site_run;

typedef struct {
    const vmc_job *job;
    apr_pool_t *p;
    site_run *sites;
    vmc_site_result *results;
    int n, next, running, stopping, failed_fast, log_dir_fd;
    int *queue, queued; /* indices still to start, in order */
    vmc_view view;
} fleet;

static double now(void)
{
    return (double)vm_time_mono_ms() / 1000.0;
}

static int good(const vmc_job *job, int code)
{
    unsigned mask = job->ok_codes ? job->ok_codes : 1u;
    return code >= 0 && code < 32 && (mask >> code & 1u);
}

int vmc_log_dir_open(const char *dir, apr_pool_t *p, const char **why)
{
    int fd = vm_file_dir_open(dir, 0755, p, why);
    if (fd < 0)
        *why = apr_pstrcat(p, "log directory ", *why, NULL);
    return fd;
}

/* The site's log, fresh for this run. */
static int open_log(fleet *f, site_run *s, const char **why)
{
    const char *name = vm_cli_log_name(s->res->in, f->p);
    s->res->log_path = apr_pstrcat(f->p, f->job->log_dir, "/", name, NULL);
    return vm_file_log_open(f->log_dir_fd, f->job->log_dir, name,
                            VM_FILE_LOG_TRUNCATE, 0, f->p, why);
}

typedef struct {
    const vmc_job *job;
    const vm_instance *in;
} work_ctx;

static int run_work(void *ctx)
{
    const work_ctx *w = ctx;
    return w->job->work(w->job, w->in);
}

/* In a session of its own, stdin /dev/null, output to its log. */
static int spawn(vm_job *j, const vmc_job *job, const vm_instance *in,
                 int out_fd, int lock_fd, apr_pool_t *p, const char **why)
{
    work_ctx w = { job, in };
    vm_job_opts o = { 0 };
    if (vmc_siterun_opts(&job->cli, in, job->work ? NULL : job->script,
                         job->args, job->nargs, &o, p, why)
        != 0)
        return -1;
    o.io[1] = o.io[2] = (vm_job_io){ VM_JOB_VISIBLE, out_fd };
    o.keep_fd = lock_fd;
    o.fn = job->work ? run_work : NULL;
    o.ctx = &w;
    o.timeout_ms = job->timeout > 0 ? job->timeout * 1000LL : 0;
    o.grace_ms = job->grace * 1000LL;
    return vm_job_start(j, &o, p, why);
}

static void release(fleet *f, site_run *s)
{
    const char *why = vm_lock_release(&s->lock, f->job->src, s->res->in->id,
                                      f->p);
    if (why)
        vmc_error(389, "%s: %s", s->res->in->key, why);
}

/* A site that could not start: why, in its log and its result. */
static void not_started(fleet *f, site_run *s, int locked, const char *why)
{
    s->res->state = VMC_SITE_NOT_STARTED;
    s->res->last_line = why ? why : "not started";
    if (s->log_fd >= 0) {
        dprintf(s->log_fd, "vmoodlectl: VM00910: %s: not started: %s\n",
                s->res->in->key, s->res->last_line);
        close(s->log_fd);
    }
    s->log_fd = -1;
    if (locked)
        release(f, s);
    if (f->job->after)
        f->job->after(f->job, s->res);
}

/* Lock, log, before(), fork.  1 started or ended as not started, 0 locked
 * (tried again later). */
static int start(fleet *f, site_run *s)
{
    const vmc_job *job = f->job;
    const char *why = NULL;
    double t = now();
    if (s->first_try == 0)
        s->first_try = t;
    vm_lock_result lr = job->lock_dir
        ? vm_lock_take(&s->lock, job->lock_dir, job->src, s->res->in->id, f->p,
                       &why)
        : (s->lock.fd = -1, VM_LOCK_GOT);
    if (lr == VM_LOCK_BUSY && t - s->first_try < LOCK_WAIT) {
        s->retry_at = t + LOCK_RETRY;
        return 0;
    }
    if (lr == VM_LOCK_BUSY)
        why = apr_psprintf(f->p, "locked (its cron or an upgrade runs): %s",
                           why);
    int rc = -1;
    if (lr == VM_LOCK_GOT && (s->log_fd = open_log(f, s, &why)) >= 0
        && (!job->before || job->before(job, s->res->in, &why) == 0))
        rc = spawn(&s->job, job, s->res->in, s->log_fd, s->lock.fd, f->p, &why);
    if (rc != 0)
        not_started(f, s, lr == VM_LOCK_GOT, why);
    else {
        s->res->state = VMC_SITE_RUNNING;
        f->running++;
    }
    vmc_view_event(&f->view, s->res);
    return 1;
}

static void ended(fleet *f, site_run *s)
{
    vmc_site_result *r = s->res;
    r->state = VMC_SITE_DONE;
    r->code = s->job.code;
    r->timed_out = s->job.terminated;
    r->ok = !s->job.terminated && good(f->job, r->code);
    r->seconds = (double)s->job.duration_ms / 1000.0;
    r->last_line = vmc_log_last_line(r->log_path, LAST_LINE, f->p);
    close(s->log_fd);
    s->log_fd = -1;
    f->running--;
    if (f->job->after)
        f->job->after(f->job, r);
    release(f, s);
    vmc_view_event(&f->view, r);
    if (!r->ok && f->job->fail_fast && !f->stopping) {
        f->stopping = f->failed_fast = 1;
        vmc_view_note(&f->view,
                      "vmoodlectl: --fail-fast: a site failed, "
                      "starting no more");
    }
}

/* Each running site: its timeout applied, reaped once it has ended. */
static void tend(fleet *f)
{
    long long t = vm_time_mono_ms();
    for (int i = 0; i < f->n; i++) {
        site_run *s = &f->sites[i];
        if (s->job.pid <= 0)
            continue;
        s->res->seconds = (double)(t - s->job.start_ms) / 1000.0;
        vm_job_tick(&s->job, t);
        if (vm_job_reap(&s->job))
            ended(f, s);
    }
}

/* Start what may start now: the queue in order, locked sites later. */
static void start_more(fleet *f)
{
    double t = now();
    for (int q = 0; q < f->queued && f->running < f->job->jobs && !f->stopping;
         q++) {
        site_run *s = &f->sites[f->queue[q]];
        if (f->job->first_alone && f->queue[q] != 0
            && f->results[0].state <= VMC_SITE_RUNNING)
            return;
        if (s->retry_at > t || !start(f, s))
            continue;
        memmove(&f->queue[q], &f->queue[q + 1],
                sizeof(int) * (size_t)(f->queued - q - 1));
        f->queued--;
        q--;
    }
}

static void note_interrupt(fleet *f)
{
    if (f->stopping || !vmc_interrupted())
        return;
    f->stopping = 1;
    vmc_view_note(
        &f->view,
        apr_psprintf(f->p,
                     "vmoodlectl: %s: starting "
                     "no more sites, letting %d running one(s) finish",
                     strsignal(vmc_interrupted()), f->running));
}

static void loop(fleet *f)
{
    struct timespec tick = { 0, POLL_NS };
    for (;;) {
        note_interrupt(f);
        start_more(f);
        if (f->running == 0 && (f->queued == 0 || f->stopping))
            return;
        nanosleep(&tick, NULL);
        tend(f);
        vmc_view_update(&f->view, f->results, f->n, now(), f->p);
    }
}

int vmc_fleet_run(const vmc_job *job, apr_pool_t *p, vmc_site_result **out)
{
    fleet f;
    const char *why;
    memset(&f, 0, sizeof f);
    f.job = job;
    f.p = p;
    f.n = job->sites->nelts;
    if ((f.log_dir_fd = vmc_log_dir_open(job->log_dir, p, &why)) < 0)
        return vmc_fail(380, VMC_EXIT_FAIL, why);
    f.sites = apr_pcalloc(p, sizeof *f.sites * (size_t)f.n);
    f.results = apr_pcalloc(p, sizeof *f.results * (size_t)f.n);
    f.queue = apr_pcalloc(p, sizeof(int) * (size_t)f.n);
    for (int i = 0; i < f.n; i++) {
        f.results[i].in = APR_ARRAY_IDX(job->sites, i, const vm_instance *);
        f.results[i].code = -1;
        f.sites[i].res = &f.results[i];
        f.sites[i].log_fd = -1;
        f.queue[f.queued++] = i;
    }
    vmc_interrupt_install();
    vmc_view_start(&f.view, job->label, job->jobs, now(), job->report_first);
    loop(&f);
    vmc_view_end(&f.view);
    close(f.log_dir_fd);
    if (!job->report_first)
        vmc_summary_print(stdout, f.results, f.n, job->log_dir);
    if (out)
        *out = f.results;
    return vmc_summary_exit(f.results, f.n);
}
