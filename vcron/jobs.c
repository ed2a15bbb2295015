/* Running crons and their timeouts, see jobs.h. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include "jobs.h"
#include "log.h"
#include "signals.h"

long long vc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vc_jobs_init(vc_jobs *jobs, int max, long timeout, long grace,
                  vc_job_done *done, void *ctx, apr_pool_t *p)
{
    jobs->slots = apr_pcalloc(p, sizeof(vc_job) * (size_t)max);
    jobs->max = max;
    jobs->running = 0;
    jobs->timeout = timeout;
    jobs->grace = grace;
    jobs->done = done;
    jobs->ctx = ctx;
}

vc_job *vc_jobs_free_slot(vc_jobs *jobs)
{
    for (int i = 0; i < jobs->max; i++)
        if (jobs->slots[i].pid == 0)
            return &jobs->slots[i];
    return NULL;
}

void vc_jobs_started(vc_jobs *jobs, vc_job *job)
{
    job->start_ms = vc_now_ms();
    job->term_at_ms = job->start_ms + jobs->timeout * 1000LL;
    job->kill_at_ms = 0;
    job->terminated = job->killed = 0;
    jobs->running++;
}

static vc_job *find(vc_jobs *jobs, pid_t pid)
{
    for (int i = 0; i < jobs->max; i++)
        if (jobs->slots[i].pid == pid)
            return &jobs->slots[i];
    return NULL;
}

/* TERM to the whole group at the timeout, KILL after the grace. */
static void end_late(vc_jobs *jobs, long long now)
{
    for (int i = 0; i < jobs->max; i++) {
        vc_job *job = &jobs->slots[i];
        if (job->pid == 0)
            continue;
        if (!job->terminated && now >= job->term_at_ms) {
            vc_log(207, "instance %lld (%s): cron timed out after %ld s, "
                   "ending its process group", job->in->id, job->in->key,
                   jobs->timeout);
            kill(-job->pid, SIGTERM);
            job->terminated = 1;
            job->kill_at_ms = now + jobs->grace * 1000LL;
        }
        if (job->terminated && !job->killed && now >= job->kill_at_ms) {
            kill(-job->pid, SIGKILL);
            job->killed = 1;
        }
    }
}

static vc_outcome outcome_of(const vc_job *job, int status)
{
    if (job->terminated)
        return VC_CRON_TIMED_OUT;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? VC_CRON_OK
                                                         : VC_CRON_FAILED;
}

/* Reap every ended cron.  A late cron's group is killed before its leader
 * is reaped, while the group id cannot yet be reused. */
static void reap(vc_jobs *jobs)
{
    for (;;) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0
            || info.si_pid == 0)
            return;
        vc_job *job = find(jobs, info.si_pid);
        if (job && job->terminated)
            kill(-job->pid, SIGKILL);
        int status = 0;
        struct rusage ru;
        if (wait4(info.si_pid, &status, 0, &ru) < 0 || !job)
            continue;
        /* What the run cost: capacity is planned from it (tiering.h). */
        job->cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
                   + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        jobs->done(job, outcome_of(job, status), status, jobs->ctx);
        job->pid = 0;
        jobs->running--;
    }
}

static long long next_deadline(const vc_jobs *jobs)
{
    long long next = -1;
    for (int i = 0; i < jobs->max; i++) {
        const vc_job *job = &jobs->slots[i];
        if (job->pid == 0 || job->killed)
            continue;
        long long at = job->terminated ? job->kill_at_ms : job->term_at_ms;
        if (next < 0 || at < next)
            next = at;
    }
    return next;
}

void vc_jobs_wait(vc_jobs *jobs)
{
    int before = jobs->running;
    reap(jobs);
    if (jobs->running < before)
        return;
    long long now = vc_now_ms(), next = next_deadline(jobs);
    long wait = 1000;                  /* wake now and then regardless */
    if (next >= 0 && next - now < wait)
        wait = next - now < 0 ? 0 : (long)(next - now);
    vc_signals_wait(wait);
    end_late(jobs, vc_now_ms());
    reap(jobs);
}
