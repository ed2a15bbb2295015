/* One tick, see tick.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "vm_table.h"
#include "tick.h"
#include "sched.h"
#include "state.h"
#include "jobs.h"
#include "runner.h"
#include "vm_file.h"
#include "signals.h"
#include "log.h"

typedef struct {
    const vc_config *cfg;
    const vm_identity *who;
    vm_source *src;
    apr_pool_t *p;
    vc_tick_counts *counts;
    const char *const *argv;
} tick_run;

/* Choose this tick's instances under the state's lock and save the new
 * cursor and measured tick before any cron starts: a vcron killed later in
 * the tick has already moved on. */
static const char *choose(const vc_config *cfg, const vm_table *t,
                          long long now, long long **ids, size_t *count,
                          apr_pool_t *p)
{
    const char *err = NULL;
    int lockfd = vc_state_lock(cfg->state_file, p, &err);
    if (lockfd < 0)
        return err;
    vc_state st;
    size_t n = (size_t)t->instances->nelts;
    vc_sched_item *items = apr_pcalloc(p, sizeof *items * (n + 1));
    vc_sched_item *scratch = apr_pcalloc(p, sizeof *items * (n + 1));
    *ids = apr_pcalloc(p, sizeof **ids * (n + 1));
    for (size_t i = 0; i < n; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        items[i] = (vc_sched_item){ in->id, in->enabled, in->lastcron };
    }
    if (!(err = vc_state_load(cfg->state_file, &st, p))) {
        long long tick = vc_state_tick(&st, now, cfg->tick, cfg->period);
        if (cfg->mode == VC_MODE_ROUND_ROBIN) {
            size_t per = cfg->per_tick < 0 ? VC_RR_DEFAULT_PER_TICK
                                           : (size_t)cfg->per_tick;
            *count = vc_sched_round_robin(items, n, st.cursor, per, *ids,
                                          &st.cursor, scratch);
        } else {
            vc_gap_params gp = { now, cfg->period, tick,
                                 cfg->per_tick < 0 ? 0 : (size_t)cfg->per_tick };
            *count = vc_sched_lowest_gap(items, n, &gp, *ids, scratch);
        }
        err = vc_state_save(cfg->state_file, &st, p);
    }
    vm_file_unlock(lockfd);
    return err;
}

static const char *outcome_name(vc_outcome o)
{
    return o == VC_CRON_OK ? "succeeded"
           : o == VC_CRON_TIMED_OUT ? "timed out" : "failed";
}

/* A cron ended: stats first (only now, after the run), then the locks. */
static void cron_done(vc_job *job, vc_outcome outcome, int status, void *ctx)
{
    tick_run *tr = ctx;
    const vm_instance *in = job->in;
    long long secs = (vc_now_ms() - job->start_ms) / 1000;
    vc_log_fd(job->log_fd, 221, "cron %s after %lld s (wait status %d)",
              outcome_name(outcome), secs, status);
    if (outcome == VC_CRON_OK)
        tr->counts->succeeded++;
    else if (outcome == VC_CRON_TIMED_OUT)
        tr->counts->timed_out++;
    else {
        tr->counts->failed++;
        vc_log(208, "instance %lld (%s): cron failed (wait status %d), see "
               "its log", in->id, in->key, status);
    }
    const char *err = NULL;
    if (in == &vc_master)
        ;   /* no row to record in */
    else if (!tr->src->ops->record_cron)
        vc_log(209, "instance %lld (%s): this source keeps no cron stats",
               in->id, in->key);
    else if (tr->src->ops->record_cron(tr->src, in->id, job->started, tr->p,
                                       &err) != VM_OK)
        vc_log(209, "instance %lld (%s): cron stats not recorded: %s",
               in->id, in->key, err ? err : "unknown error");
    vc_lock_release(&job->lock, tr->src, in->id);
    close(job->log_fd);
    job->log_fd = -1;
}

/* Lock, open the log and fork one cron into job.  Returns 1 when started. */
static int start_cron(tick_run *tr, vc_jobs *jobs, vc_job *job,
                      const vm_instance *in)
{
    const char *err = NULL;
    vc_lock_result lr = vc_lock_take(&job->lock, tr->cfg->lock_dir, tr->src,
                                     in->id, tr->p, &err);
    if (lr == VC_LOCK_BUSY) {
        tr->counts->skipped_locked++;
        return 0;
    }
    job->log_fd = lr == VC_LOCK_GOT
        ? vc_cron_log_open(tr->cfg->log_dir, in, tr->cfg->log_max, tr->p, &err)
        : -1;
    vc_spawn sp = { tr->argv, vc_cron_env(in, tr->who, tr->p), tr->who,
                    job->log_fd, job->lock.fd };
    if (job->log_fd >= 0) {
        job->started = (long long)time(NULL);
        vc_log_fd(job->log_fd, 220, "cron of instance %lld (%s) starts",
                  in->id, in->key);
        job->pid = vc_spawn_cron(&sp, tr->p, &err);
    }
    if (job->log_fd < 0 || job->pid < 0) {
        vc_log(206, "instance %lld (%s): cron not started: %s", in->id,
               in->key, err ? err : "unknown error");
        if (job->log_fd >= 0)
            close(job->log_fd);
        if (lr == VC_LOCK_GOT)
            vc_lock_release(&job->lock, tr->src, in->id);
        job->pid = 0;
        tr->counts->not_started++;
        return 0;
    }
    job->in = in;
    vc_jobs_started(jobs, job);
    tr->counts->run++;
    return 1;
}

static void run_all(tick_run *tr, const vm_instance *const *order,
                    size_t count)
{
    vc_jobs jobs;
    vc_jobs_init(&jobs, (int)tr->cfg->jobs, tr->cfg->timeout, tr->cfg->grace,
                 cron_done, tr, tr->p);
    size_t next = 0;
    /* Bounded: every pass starts a cron, skips one, or waits for one whose
     * end the timeout guarantees. */
    while ((next < count && !vc_signals_stopping()) || jobs.running > 0) {
        vc_job *slot;
        while (next < count && !vc_signals_stopping()
               && (slot = vc_jobs_free_slot(&jobs)) != NULL)
            start_cron(tr, &jobs, slot, order[next++]);
        if (jobs.running > 0)
            vc_jobs_wait(&jobs);
    }
}

static void print_summary(const vc_config *cfg, const vc_tick_counts *c)
{
    if (cfg->quiet)
        return;
    printf("vcron: tick mode=%s selected=%zu run=%zu succeeded=%zu "
           "failed=%zu timed_out=%zu skipped_locked=%zu not_started=%zu\n",
           vc_mode_name(cfg->mode), c->selected, c->run, c->succeeded,
           c->failed, c->timed_out, c->skipped_locked, c->not_started);
    fflush(stdout);
}

static const char *prepare_dirs(const vc_config *cfg, apr_pool_t *p)
{
    const char *err = vc_make_dirs(cfg->lock_dir, p);
    return err ? err : vc_make_dirs(cfg->log_dir, p);
}

int vc_load_table(vm_source *src, apr_pool_t *p, const vm_table **t)
{
    apr_array_header_t *rows = NULL;
    const char *err = NULL;
    if (vm_source_load(src, &rows, p, &err) != VM_OK) {
        vc_log(202, "cannot read the instance table from %s: %s",
               src->display, err ? err : "unknown error");
        return VC_EXIT_SOURCE;
    }
    *t = vm_table_build(rows, p);
    return VC_EXIT_OK;
}

int vc_tick(const vc_config *cfg, const vm_identity *who, vm_source *src,
            apr_pool_t *p, vc_tick_counts *counts)
{
    memset(counts, 0, sizeof *counts);
    const vm_table *t;
    int code = vc_load_table(src, p, &t);
    if (code != VC_EXIT_OK)
        return code;
    const char *err = NULL;
    long long *ids = NULL;
    if ((err = prepare_dirs(cfg, p)) != NULL
        || (err = choose(cfg, t, (long long)time(NULL), &ids,
                         &counts->selected, p)) != NULL) {
        vc_log(203, "%s", err);
        return VC_EXIT_LOCAL;
    }
    /* The master first, when told: then the chosen instances. */
    const vm_instance **order = apr_pcalloc(p, sizeof *order
                                            * (counts->selected + 1));
    size_t n = 0;
    if (cfg->master)
        order[n++] = &vc_master;
    for (size_t i = 0; i < counts->selected; i++)
        order[n++] = vm_table_find_id(t, ids[i]);
    counts->selected = n;
    tick_run tr = { cfg, who, src, p, counts, vc_cron_argv(cfg, p) };
    run_all(&tr, order, n);
    print_summary(cfg, counts);
    return counts->failed || counts->timed_out || counts->not_started
           ? VC_EXIT_CRON : VC_EXIT_OK;
}
