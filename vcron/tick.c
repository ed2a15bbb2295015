/* One tick, see tick.h. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "vm_file.h"
#include "vm_table.h"
#include "vm_cron_figures.h"
#include "tick.h"
#include "vm_siteuser.h"
#include "sched.h"
#include "state.h"
#include "jobs.h"
#include "vm_siterun.h"
#include "vm_cli.h"
#include "signals.h"
#include "log.h"
#include "tiering.h"
#include "plan.h"

/* The instances a tick tries, in order, and how many of them it may run:
 * locked ones (running elsewhere) are passed over for the next. */
typedef struct {
    long long *ids;
    size_t count;
    size_t budget;    /* most to run */
    long long cursor; /* round robin: the cursor saved */
    long long tick;   /* the tick length it was planned with */
} tick_plan;

typedef struct {
    const vc_config *cfg;
    vm_siterun cli; /* how a site's cron is run (vm_siterun.h) */
    int log_dir_fd;
    vm_source *src;
    apr_pool_t *p;
    vc_tick_counts *counts;
    long long tried;           /* id of the last instance tried, 0 none */
    apr_array_header_t *costs; /* vc_run_cost of each ended run */
} tick_run;

typedef struct {
    const vc_config *cfg;
    const vm_table *t;
    long long now;
    tick_plan *plan;
    const vc_fleet *fleet; /* mode activity */
    apr_pool_t *p;
} choice;

/* Under the state's lock (vc_state_edit): two vcron runs at once on this
 * host do not choose from the same cursor. */
static void choose_in_state(vc_state *st, void *ctx)
{
    choice *c = ctx;
    const vc_config *cfg = c->cfg;
    tick_plan *plan = c->plan;
    size_t n = (size_t)c->t->instances->nelts;
    vc_sched_item *items = apr_pcalloc(c->p, sizeof *items * (n + 1));
    vc_sched_item *scratch = apr_pcalloc(c->p, sizeof *items * (n + 1));
    plan->ids = apr_pcalloc(c->p, sizeof *plan->ids * (n + 1));
    for (size_t i = 0; i < n; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(c->t->instances, i, vm_instance);
        items[i] = (vc_sched_item){ in->id, in->enabled, in->lastcron };
    }
    long long tick = vc_state_tick(st, c->now, cfg->tick, cfg->period);
    plan->tick = tick;
    if (cfg->mode == VC_MODE_ACTIVITY) {
        plan->budget = cfg->per_tick <= 0 ? SIZE_MAX : (size_t)cfg->per_tick;
        plan->count = vc_sched_activity(c->fleet->items, c->fleet->n,
                                        &cfg->tiers, c->now, tick, plan->ids,
                                        c->p);
    } else if (cfg->mode == VC_MODE_ROUND_ROBIN) {
        plan->budget = cfg->per_tick < 0 ? VC_RR_DEFAULT_PER_TICK
                                         : (size_t)cfg->per_tick;
        plan->count = vc_sched_round_robin(items, n, st->cursor, plan->ids,
                                           scratch);
        /* Where the tick ends if nothing is locked; moved on further after
         * the tick if it took the next ones. */
        size_t last = plan->budget < plan->count ? plan->budget : plan->count;
        if (last > 0)
            st->cursor = plan->ids[last - 1];
        plan->cursor = st->cursor;
    } else {
        vc_gap_params gp = { c->now, cfg->period, tick, 0 };
        plan->budget = cfg->per_tick <= 0 ? SIZE_MAX : (size_t)cfg->per_tick;
        plan->count = vc_sched_lowest_gap(items, n, &gp, plan->ids, scratch);
    }
}

/* Choose this tick's instances and save the new cursor and measured tick
 * before any cron starts: a vcron killed later in the tick has already
 * moved on. */
static const char *choose(const vc_config *cfg, const vm_table *t,
                          long long now, tick_plan *plan, const vc_fleet *fleet,
                          apr_pool_t *p)
{
    choice c = { cfg, t, now, plan, fleet, p };
    return vc_state_edit(cfg->state_file, choose_in_state, &c, p);
}

typedef struct {
    long long from, to;
} cursor_move;

/* Only from where this tick left it: a run that started meanwhile on
 * this host has moved it on already. */
static void move_cursor(vc_state *st, void *ctx)
{
    const cursor_move *m = ctx;
    if (st->cursor == m->from)
        st->cursor = m->to;
}

static void record_master(vc_state *st, void *ctx)
{
    long long started = *(const long long *)ctx;
    st->master_croncount++;
    st->master_lastcrongap = st->master_lastcron > 0
        ? started - st->master_lastcron
        : 0;
    st->master_lastcron = started;
}

static const char *outcome_name(vc_outcome o)
{
    return o == VC_CRON_OK       ? "succeeded"
        : o == VC_CRON_TIMED_OUT ? "timed out"
                                 : "failed";
}

static void release_lock(vc_job *job, tick_run *tr)
{
    const char *err = vm_lock_release(&job->lock, tr->src, job->in->id, tr->p);
    if (err)
        vc_log(205, "instance %lld (%s): %s", job->in->id, job->in->key, err);
}

/* The run's record beside the other cron figures (core/vm_cron_figures),
 * from the engine's report: duration, exit status (-1: ended by a
 * signal), timed out.  The master's is kept under id 0. */
static void record_run(tick_run *tr, const vc_job *job, vc_outcome outcome)
{
    vm_cron_outcome o = { job->started, job->run.duration_ms,
                          job->run.signal ? -1 : job->run.code,
                          outcome == VC_CRON_TIMED_OUT };
    const char *err = NULL, *path = vc_config_runs_file(tr->cfg, tr->p);
    long long id = job->in == &vm_master ? 0 : job->in->id;

    if (vm_cron_runs_record(path, id, &o, tr->p, &err) != VM_OK)
        vc_log(255, "instance %lld (%s): run not recorded in %s: %s", id,
               job->in->key, path, err ? err : "unknown error");
}

/* A cron ended: stats first (only now, after the run), then the locks. */
static void cron_done(vc_job *job, vc_outcome outcome, void *ctx)
{
    tick_run *tr = ctx;
    const vm_instance *in = job->in;
    long long secs = job->run.duration_ms / 1000;
    int status = job->run.status;
    double cpu = (double)job->run.cpu_ms / 1000.0;
    vc_log_fd(job->log_fd, 221,
              "cron %s after %lld s, %.2f CPU s (wait "
              "status %d)",
              outcome_name(outcome), secs, cpu, status);
    if (in != &vm_master)
        APR_ARRAY_PUSH(tr->costs, vc_run_cost) = (vc_run_cost){ in->id, cpu };
    if (outcome == VC_CRON_OK)
        tr->counts->succeeded++;
    else if (outcome == VC_CRON_TIMED_OUT)
        tr->counts->timed_out++;
    else {
        tr->counts->failed++;
        vc_log(208,
               "instance %lld (%s): cron failed (wait status %d), see "
               "its log",
               in->id, in->key, status);
    }
    record_run(tr, job, outcome);
    const char *err = NULL;
    if (in == &vm_master) {
        /* No row to record in: this host's state keeps its figures. */
        if ((err = vc_state_edit(tr->cfg->state_file, record_master,
                                 &job->started, tr->p))
            != NULL)
            vc_log(209, "master: cron stats not recorded: %s", err);
    } else if (!tr->src->ops->record_cron)
        vc_log(241, "instance %lld (%s): this source keeps no cron stats",
               in->id, in->key);
    else if (tr->src->ops->record_cron(tr->src, in->id, job->started, tr->p,
                                       &err)
             != VM_OK)
        vc_log(209, "instance %lld (%s): cron stats not recorded: %s", in->id,
               in->key, err ? err : "unknown error");
    release_lock(job, tr);
    close(job->log_fd);
    job->log_fd = -1;
}

/* Lock, open the log and start one cron into job.  Returns 0 when the
 * instance is locked (its cron runs elsewhere), else 1: started, or
 * counted as not started. */
static int start_cron(tick_run *tr, vc_jobs *jobs, vc_job *job,
                      const vm_instance *in)
{
    const char *err = NULL;
    vm_lock_result lr = vm_lock_take(&job->lock, tr->cfg->lock_dir, tr->src,
                                     in->id, tr->p, &err);
    if (lr == VM_LOCK_BUSY) {
        tr->counts->skipped_locked++;
        return 0;
    }
    job->in = in;
    job->log_fd = lr == VM_LOCK_GOT
        ? vm_file_log_open(tr->log_dir_fd, tr->cfg->log_dir,
                           vm_cli_log_name(in, tr->p), VM_FILE_LOG_APPEND,
                           tr->cfg->log_max, tr->p, &err)
        : -1;
    /* A session of its own in "/", stdin /dev/null, output to its log,
     * the lock kept; the rest is the site's run (vm_siterun.h), or the
     * configured command in its place. */
    const char *nocache = NULL;
    vm_job_opts o = { .keep_fd = job->lock.fd };
    int ready = job->log_fd >= 0
        && vm_siterun_opts(&tr->cli, in, VM_CLI_CRON_SCRIPT, vm_cli_cron_args,
                           VM_CLI_CRON_NARGS, &o, tr->p, &err, &nocache)
            == 0;
    if (ready && tr->cfg->command)
        o.argv = tr->cfg->command;
    o.dir = "/";
    o.io[1] = o.io[2] = (vm_job_io){ VM_JOB_VISIBLE, job->log_fd };
    int rc = -1;
    if (!ready && job->log_fd >= 0) {
        vc_log_fd(job->log_fd, 246, "cron not started: %s", err);
    } else if (job->log_fd >= 0) {
        job->started = (long long)time(NULL);
        vc_log_fd(job->log_fd, 220, "cron of instance %lld (%s) starts", in->id,
                  in->key);
        if (nocache)
            vc_log_fd(job->log_fd, 279, "opcode cache not used: %s", nocache);
        if ((rc = vc_jobs_start(jobs, job, &o, tr->p, &err)) != 0)
            vc_log_fd(job->log_fd, 212, "cron not started: %s", err);
    }
    if (rc != 0) {
        vc_log(206, "instance %lld (%s): cron not started: %s", in->id, in->key,
               err ? err : "unknown error");
        if (job->log_fd >= 0)
            close(job->log_fd);
        if (lr == VM_LOCK_GOT)
            release_lock(job, tr);
        tr->counts->not_started++;
        return 1;
    }
    tr->counts->run++;
    return 1;
}

/* Another one to try: the master (when told, first) is outside the
 * budget. */
static int more_to_try(const vm_instance *const *order, size_t next,
                       size_t count, size_t used, size_t budget)
{
    return next < count && (used < budget || order[next] == &vm_master)
        && !vc_signals_stopping();
}

/* Try order[] in turn; a locked instance is passed over for the next one.
 * Returns how many instances were tried. */
static size_t run_all(tick_run *tr, const vm_instance *const *order,
                      size_t count, size_t budget)
{
    vc_jobs jobs;
    vc_jobs_init(&jobs, (int)tr->cfg->jobs, tr->cfg->timeout, tr->cfg->grace,
                 cron_done, tr, tr->p);
    size_t next = 0, used = 0, tried = 0;
    /* Bounded: every pass starts a cron, skips one, or waits for one whose
     * end the timeout guarantees. */
    for (;;) {
        int more = more_to_try(order, next, count, used, budget);
        if (!more && jobs.running == 0)
            break;
        vc_job *slot;
        while (more && (slot = vc_jobs_free_slot(&jobs)) != NULL) {
            const vm_instance *in = order[next++];
            tr->counts->selected++;
            int counted = start_cron(tr, &jobs, slot, in);
            if (in != &vm_master) {
                used += (size_t)counted;
                tried++;
                tr->tried = in->id;
            }
            more = more_to_try(order, next, count, used, budget);
        }
        if (jobs.running > 0)
            vc_jobs_wait(&jobs);
    }
    return tried;
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

/* Mode activity: the tiers and the tick's probes (ad hoc work waiting,
 * activity), planned with the last measured tick.  NULL or a reason. */
static const char *prepare_fleet(const vc_config *cfg, const vm_table *t,
                                 long long now, vc_fleet *fleet, apr_pool_t *p)
{
    vc_state st;
    const char *err = vc_fleet_build(cfg, t, fleet, p);
    if (!err)
        err = vc_state_load(cfg->state_file, &st, p);
    if (!err)
        vc_fleet_probe(cfg, fleet, now, st.tick > 0 ? st.tick : cfg->tick, p);
    return err;
}

/* Root writes there: made, or refused, by the one safe opener; the log
 * directory kept open for the tick's logs. */
static const char *prepare_dirs(const vc_config *cfg, int *log_dir_fd,
                                apr_pool_t *p)
{
    const char *err = vm_file_dir_make(cfg->lock_dir, p);
    if (!err)
        *log_dir_fd = vm_file_dir_open(cfg->log_dir, 0755, p, &err);
    return err;
}

int vc_load_table(vm_source *src, apr_pool_t *p, const vm_table **t)
{
    apr_array_header_t *rows = NULL;
    const char *err = NULL;
    if (vm_source_load(src, &rows, p, &err) != VM_OK) {
        vc_log(202, "cannot read the instance table from %s: %s", src->display,
               err ? err : "unknown error");
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
    tick_plan plan = { 0 };
    vc_fleet fleet = { 0 };
    long long now = (long long)time(NULL);
    int log_dir_fd = -1;
    if ((err = prepare_dirs(cfg, &log_dir_fd, p)) != NULL
        || (cfg->mode == VC_MODE_ACTIVITY
            && (err = prepare_fleet(cfg, t, now, &fleet, p)) != NULL)
        || (err = choose(cfg, t, now, &plan, &fleet, p)) != NULL) {
        vc_log(203, "%s", err);
        if (log_dir_fd >= 0)
            close(log_dir_fd);
        return VC_EXIT_LOCAL;
    }
    /* The master first, when told: then the chosen instances. */
    const vm_instance **order = apr_pcalloc(p,
                                            sizeof *order * (plan.count + 1));
    size_t n = 0;
    if (cfg->master)
        order[n++] = &vm_master;
    for (size_t i = 0; i < plan.count; i++)
        order[n++] = vm_table_find_id(t, plan.ids[i]);
    tick_run tr = { cfg,
                    { cfg->php, cfg->moodle_dir, cfg->platforms,
                      cfg->platforms_file, cfg->site_user, who,
                      cfg->opcache && !cfg->command ? cfg->opcache_dir : NULL },
                    log_dir_fd,
                    src,
                    p,
                    counts,
                    0,
                    apr_array_make(p, 16, sizeof(vc_run_cost)) };
    size_t tried = run_all(&tr, order, n, plan.budget);
    close(log_dir_fd);
    if (cfg->mode == VC_MODE_ACTIVITY) {
        vc_fleet_after_tick(cfg, &fleet, (const vc_run_cost *)tr.costs->elts,
                            (size_t)tr.costs->nelts, now, plan.tick, p);
        if ((err = vc_plan_write(cfg, &fleet, now, p)) != NULL)
            vc_log(203, "%s", err);
    }
    /* Round robin went past locked instances: the cursor follows. */
    cursor_move move = { plan.cursor, tr.tried };
    if (cfg->mode == VC_MODE_ROUND_ROBIN && tried > plan.budget
        && (err = vc_state_edit(cfg->state_file, move_cursor, &move, p)))
        vc_log(203, "%s", err);
    print_summary(cfg, counts);
    return counts->failed || counts->timed_out || counts->not_started
        ? VC_EXIT_CRON
        : VC_EXIT_OK;
}
