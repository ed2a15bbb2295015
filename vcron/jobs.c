/* Running crons and their timeouts, see jobs.h; each cron is a job of
 * the core's engine (vm_job.h). */
#include "jobs.h"
#include "log.h"
#include "signals.h"
#include "vm_time.h"

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
        if (jobs->slots[i].run.pid == 0)
            return &jobs->slots[i];
    return NULL;
}

int vc_jobs_start(vc_jobs *jobs, vc_job *job, vm_job_opts *o, apr_pool_t *p,
                  const char **err)
{
    o->timeout_ms = jobs->timeout * 1000LL;
    o->grace_ms = jobs->grace * 1000LL;
    if (vm_job_start(&job->run, o, p, err) != 0)
        return -1;
    jobs->running++;
    return 0;
}

/* TERM to the whole group at the timeout, KILL after the grace; then
 * reap every cron that ended. */
static void tend(vc_jobs *jobs)
{
    long long now = vm_time_mono_ms();
    for (int i = 0; i < jobs->max; i++) {
        vc_job *job = &jobs->slots[i];
        if (job->run.pid == 0)
            continue;
        int was = job->run.terminated;
        vm_job_tick(&job->run, now);
        if (!was && job->run.terminated)
            vc_log(207,
                   "instance %lld (%s): cron timed out after %ld s, "
                   "ending its process group",
                   job->in->id, job->in->key, jobs->timeout);
        if (!vm_job_reap(&job->run))
            continue;
        vc_outcome o = job->run.timed_out ? VC_CRON_TIMED_OUT
            : job->run.code == 0          ? VC_CRON_OK
                                          : VC_CRON_FAILED;
        jobs->running--;
        jobs->done(job, o, jobs->ctx);
    }
}

static long long next_deadline(const vc_jobs *jobs)
{
    long long next = -1;
    for (int i = 0; i < jobs->max; i++) {
        long long at = vm_job_deadline(&jobs->slots[i].run);
        if (at >= 0 && (next < 0 || at < next))
            next = at;
    }
    return next;
}

void vc_jobs_wait(vc_jobs *jobs)
{
    int before = jobs->running;
    tend(jobs);
    if (jobs->running < before)
        return;
    long long now = vm_time_mono_ms(), next = next_deadline(jobs);
    long wait = 1000; /* wake now and then regardless */
    if (next >= 0 && next - now < wait)
        wait = next - now < 0 ? 0 : (long)(next - now);
    vc_signals_wait(wait);
    tend(jobs);
}
