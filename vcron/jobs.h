/* The crons of one tick running at once: at most --jobs of them, each ended
 * at its timeout (TERM to its whole process group, then KILL after the
 * grace). */
#ifndef VC_JOBS_H
#define VC_JOBS_H

#include <sys/types.h>
#include <apr_pools.h>
#include "vm_instance.h"
#include "vm_job.h"
#include "vm_lock.h"

typedef enum { VC_CRON_OK, VC_CRON_FAILED, VC_CRON_TIMED_OUT } vc_outcome;

typedef struct {
    vm_job run; /* run.pid 0: free slot */
    const vm_instance *in;
    long long started; /* wall clock, for the stats */
    int log_fd;
    vm_lock lock;
} vc_job;

/* A cron ended: outcome, and job->run says how (status, duration). */
typedef void vc_job_done(vc_job *job, vc_outcome outcome, void *ctx);

typedef struct {
    vc_job *slots;
    int max, running;
    long timeout, grace; /* seconds */
    vc_job_done *done;
    void *ctx;
} vc_jobs;

void vc_jobs_init(vc_jobs *jobs, int max, long timeout, long grace,
                  vc_job_done *done, void *ctx, apr_pool_t *p);

/* A free slot, or NULL when max crons run. */
vc_job *vc_jobs_free_slot(vc_jobs *jobs);

/* Start o (the jobs' timeout and grace added) in the slot, whose
 * instance, log and lock are set.  0, or -1 with *err. */
int vc_jobs_start(vc_jobs *jobs, vc_job *job, vm_job_opts *o, apr_pool_t *p,
                  const char **err);

/* Wait until a cron ends, a deadline passes or a signal arrives; end late
 * crons; call done for every cron that ended, then free its slot. */
void vc_jobs_wait(vc_jobs *jobs);

#endif
