/* Running a fleet command over many sites, see fleet.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include "ctl.h"
#include "fleet.h"
#include "platforms.h"
#include "fleetview.h"
#include "interrupt.h"
#include "vm_cli.h"
#include "vm_instance.h"
#include "vm_lock.h"

#define POLL_NS      (100 * 1000 * 1000)
#define LOCK_RETRY   2.0      /* seconds between tries of a locked site */
#define LOCK_WAIT    600.0    /* give a locked site up after (vcron's
                                 default cron timeout) */
#define LAST_LINE    200

/* One site of the run: its result and, while it runs, its process. */
typedef struct {
    vmc_site_result *res;
    pid_t pid;
    int log_fd;
    vm_lock lock;
    double start, term_at, kill_at, retry_at, first_try;
    int terminated, killed;
} site_run;

typedef struct {
    const vmc_job *job;
    apr_pool_t *p;
    site_run *sites;
    vmc_site_result *results;
    int n, next, running, stopping, failed_fast, log_dir_fd;
    int *queue, queued;           /* indices still to start, in order */
    vmc_view view;
} fleet;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int good(const vmc_job *job, int code)
{
    unsigned mask = job->ok_codes ? job->ok_codes : 1u;
    return code >= 0 && code < 32 && (mask >> code & 1u);
}

const char *vmc_make_dirs(const char *dir, apr_pool_t *p)
{
    char buf[120];
    apr_status_t rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD
        | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
        | APR_FPROT_GEXECUTE | APR_FPROT_WREAD | APR_FPROT_WEXECUTE, p);
    return rv == APR_SUCCESS ? NULL
         : apr_psprintf(p, "%s: %s", dir, apr_strerror(rv, buf, sizeof buf));
}

/* A directory on the way to the logs: ours or root's, and nobody else
 * may write in it (or it is sticky, as /tmp, where what they create is
 * not ours and is refused one step later).  The last one: ours, and
 * writable by us alone. */
static const char *dir_trusted(int fd, int last, apr_pool_t *p,
                               const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return apr_psprintf(p, "%s: %s", path, strerror(errno));
    if (last ? st.st_uid != geteuid() || (st.st_mode & 022)
             : (st.st_uid != 0 && st.st_uid != geteuid())
               || ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)))
        return apr_psprintf(p, "%s must be %s and writable by nobody else",
                            path, last ? "ours" : "ours or root's");
    return NULL;
}

int vmc_log_dir_open(const char *dir, apr_pool_t *p, const char **why)
{
    char *rest = apr_pstrdup(p, dir), *save = NULL, *name;
    const char *sofar = "";
    size_t len = strlen(rest);

    while (len > 1 && rest[len - 1] == '/')
        rest[--len] = '\0';
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dir[0] != '/' || vm_path_has_dotdot(dir)) {
        *why = apr_psprintf(p, "log directory %s: give an absolute path "
                            "without '..'", dir);
        close(fd);
        return -1;
    }
    /* Component by component, never following a link: nothing another
     * user controls decides where root writes. */
    for (name = strtok_r(rest, "/", &save); name && fd >= 0;
         name = strtok_r(NULL, "/", &save)) {
        sofar = apr_pstrcat(p, sofar, "/", name, NULL);
        int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                          | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && mkdirat(fd, name, 0755) == 0)
            next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                          | O_CLOEXEC);
        close(fd);
        if ((fd = next) < 0)
            *why = apr_psprintf(p, "log directory %s: %s", sofar,
                                strerror(errno));
        else if ((*why = dir_trusted(fd, save == NULL || *save == '\0', p,
                                     sofar)) != NULL) {
            close(fd);
            fd = -1;
        }
    }
    return fd;
}

/* The site's log, fresh for this run. */
static int open_log(fleet *f, site_run *s, const char **why)
{
    const char *name = vm_cli_log_name(s->res->in, f->p);
    int fd = openat(f->log_dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC
                    | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0)
        *why = apr_psprintf(f->p, "log %s/%s: %s", f->job->log_dir, name,
                            strerror(errno));
    s->res->log_path = apr_pstrcat(f->p, f->job->log_dir, "/", name, NULL);
    return fd;
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

static pid_t spawn(const vmc_job *job, const vm_instance *in, int out_fd,
                   int lock_fd, apr_pool_t *p, const char **why)
{
    work_ctx w = { job, in };
    const char *tree = vmc_code_dir(job, in);
    if (!tree) {
        *why = vmc_platform_missing(job, in, p);
        return -1;
    }
    vm_child c = { job->work ? NULL : vm_cli_argv(job->php, tree,
                                                  job->script, job->args,
                                                  job->nargs, p),
                   vm_cli_env(in, job->who, p), job->who, tree,
                   out_fd, lock_fd };
    return vm_child_start(&c, job->work ? run_work : NULL, &w, p, why);
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
        dprintf(s->log_fd, "vmoodlectl: not started: %s\n", s->res->last_line);
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
        ? vm_lock_take(&s->lock, job->lock_dir, job->src, s->res->in->id,
                       f->p, &why) : (s->lock.fd = -1, VM_LOCK_GOT);
    if (lr == VM_LOCK_BUSY && t - s->first_try < LOCK_WAIT) {
        s->retry_at = t + LOCK_RETRY;
        return 0;
    }
    if (lr == VM_LOCK_BUSY)
        why = apr_psprintf(f->p, "locked (its cron or an upgrade runs): %s",
                           why);
    s->pid = -1;
    if (lr == VM_LOCK_GOT && (s->log_fd = open_log(f, s, &why)) >= 0
        && (!job->before || job->before(job, s->res->in, &why) == 0))
        s->pid = spawn(job, s->res->in, s->log_fd, s->lock.fd, f->p, &why);
    s->start = t;
    s->terminated = s->killed = 0;
    s->term_at = job->timeout > 0 ? t + (double)job->timeout : 0;
    if (s->pid < 0)
        not_started(f, s, lr == VM_LOCK_GOT, why);
    else {
        s->res->state = VMC_SITE_RUNNING;
        f->running++;
    }
    vmc_view_event(&f->view, s->res);
    return 1;
}

static void ended(fleet *f, site_run *s, int status)
{
    vmc_site_result *r = s->res;
    r->state = VMC_SITE_DONE;
    r->code = vmc_exit_code(status);
    r->timed_out = s->terminated;
    r->ok = !s->terminated && good(f->job, r->code);
    r->seconds = now() - s->start;
    r->last_line = vmc_log_last_line(r->log_path, LAST_LINE, f->p);
    close(s->log_fd);
    s->log_fd = -1;
    s->pid = 0;
    f->running--;
    if (f->job->after)
        f->job->after(f->job, r);
    release(f, s);
    vmc_view_event(&f->view, r);
    if (!r->ok && f->job->fail_fast && !f->stopping) {
        f->stopping = f->failed_fast = 1;
        vmc_view_note(&f->view, "vmoodlectl: --fail-fast: a site failed, "
                      "starting no more");
    }
}

/* Reap the ended; a late site's process group is killed before its
 * leader is reaped, while the group id cannot be reused. */
static void reap(fleet *f)
{
    for (int i = 0; i < f->n; i++) {
        site_run *s = &f->sites[i];
        siginfo_t info;
        int status;
        if (s->pid <= 0)
            continue;
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)s->pid, &info, WEXITED | WNOHANG | WNOWAIT)
            != 0 || info.si_pid == 0)
            continue;
        if (s->terminated)
            kill(-s->pid, SIGKILL);
        if (waitpid(s->pid, &status, 0) == s->pid)
            ended(f, s, status);
    }
}

/* TERM to the group at the timeout, KILL after the grace. */
static void end_late(fleet *f, double t)
{
    for (int i = 0; i < f->n; i++) {
        site_run *s = &f->sites[i];
        if (s->pid <= 0)
            continue;
        s->res->seconds = t - s->start;
        if (s->term_at > 0 && !s->terminated && t >= s->term_at) {
            kill(-s->pid, SIGTERM);
            s->terminated = 1;
            s->kill_at = t + (double)f->job->grace;
        }
        if (s->terminated && !s->killed && t >= s->kill_at) {
            kill(-s->pid, SIGKILL);
            s->killed = 1;
        }
    }
}

/* Start what may start now: the queue in order, locked sites later. */
static void start_more(fleet *f)
{
    double t = now();
    for (int q = 0; q < f->queued && f->running < f->job->jobs
                    && !f->stopping; q++) {
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
    vmc_view_note(&f->view, apr_psprintf(f->p, "vmoodlectl: %s: starting "
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
        end_late(f, now());
        reap(f);
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
    vmc_view_start(&f.view, job->label, job->jobs, now());
    loop(&f);
    vmc_view_end(&f.view);
    close(f.log_dir_fd);
    vmc_summary_print(stdout, f.results, f.n, job->log_dir);
    if (out)
        *out = f.results;
    return vmc_summary_exit(f.results, f.n);
}
