/* mode = activity: tiers, probes, costs and capacity, see tiering.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "log.h"
#include "probe.h"
#include "state.h"
#include "tiering.h"
#include "vm_conf.h"
#include "vm_file.h"

typedef struct {
    apr_hash_t *tiers;         /* host key -> tier text */
    apr_array_header_t *order; /* keys as read, for rewriting */
} overrides;

static const char *keep_override(void *ctx, const char *name, const char *value,
                                 apr_pool_t *p)
{
    overrides *o = ctx;
    if (!apr_hash_get(o->tiers, name, APR_HASH_KEY_STRING))
        APR_ARRAY_PUSH(o->order, const char *) = apr_pstrdup(p, name);
    apr_hash_set(o->tiers, apr_pstrdup(p, name), APR_HASH_KEY_STRING,
                 apr_pstrdup(p, value));
    return NULL;
}

static const char *overrides_load(const vc_config *cfg, overrides *o,
                                  apr_pool_t *p)
{
    o->tiers = apr_hash_make(p);
    o->order = apr_array_make(p, 8, sizeof(char *));
    return vm_conf_read(cfg->tier_file, 0, keep_override, o, p);
}

/* An override's tier, 0 when the site has none; a bad one is logged and
 * ignored. */
static int override_of(const vc_config *cfg, const overrides *o,
                       const vm_instance *in)
{
    const char *text = apr_hash_get(o->tiers, in->key, APR_HASH_KEY_STRING);
    if (!text)
        return 0;
    char *end;
    long tier = strtol(text, &end, 10);
    if (*end || tier < 1 || tier > cfg->tiers.n) {
        vc_log(277, "%s: %s: tier '%s' is not 1 to %d: ignored", cfg->tier_file,
               in->key, text, cfg->tiers.n);
        return 0;
    }
    return (int)tier;
}

static void fleet_alloc(vc_fleet *f, size_t n, apr_pool_t *p)
{
    f->n = n;
    f->in = apr_pcalloc(p, sizeof *f->in * (n + 1));
    f->items = apr_pcalloc(p, sizeof *f->items * (n + 1));
    f->cost = apr_pcalloc(p, sizeof *f->cost * (n + 1));
    f->why = apr_pcalloc(p, sizeof *f->why * (n + 1));
    f->events = apr_pcalloc(p, sizeof *f->events * (n + 1));
    f->probe_error = apr_pcalloc(p, sizeof *f->probe_error * (n + 1));
}

/* Tier of site i from its figures and its override. */
static void set_tier(const vc_config *cfg, vc_fleet *f, size_t i, int override)
{
    f->items[i].tier = vc_tier_choose(&cfg->tiers, f->events[i], override,
                                      (int)cfg->default_tier, &f->why[i]);
}

const char *vc_fleet_build(const vc_config *cfg, const vm_table *t, vc_fleet *f,
                           apr_pool_t *p)
{
    overrides o;
    const char *err = vc_sites_load(vc_sites_path(cfg->state_file, p),
                                    &f->sites, p);
    if (err || (err = overrides_load(cfg, &o, p)) != NULL)
        return err;
    fleet_alloc(f, (size_t)t->instances->nelts, p);
    for (size_t i = 0; i < f->n; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        vc_site_rec *r = vc_sites_get(&f->sites, in->id);
        f->in[i] = in;
        f->items[i] = (vc_tier_item){ in->id, in->enabled, in->lastcron, 1, 0 };
        f->cost[i] = r->cost;
        f->events[i] = r->events;
        set_tier(cfg, f, i, override_of(cfg, &o, in));
    }
    return NULL;
}

typedef struct {
    const vc_fleet *f;
    const long long *measured; /* per site: when measured, 0 not */
} measures;

static void save_measures(vc_sites *s, void *ctx)
{
    const measures *m = ctx;
    for (size_t i = 0; i < m->f->n; i++)
        if (m->measured[i]) {
            vc_site_rec *r = vc_sites_get(s, m->f->in[i]->id);
            r->events = m->f->events[i];
            r->measured = m->measured[i];
        }
}

#define RETRY_MEASURE 3600 /* seconds */

/* Activity of the sites not measured for activity-every, in the table's
 * order, up to activity-per-tick, all probed at once (probe-threads); a
 * failed measure is tried again an hour later. */
static void measure(const vc_config *cfg, vc_fleet *f, long long now,
                    apr_pool_t *p)
{
    long long *measured = apr_pcalloc(p, sizeof *measured * (f->n + 1));
    vc_probe_job *jobs = apr_pcalloc(p, sizeof *jobs * (f->n + 1));
    size_t *site = apr_pcalloc(p, sizeof *site * (f->n + 1)), n = 0;
    for (size_t i = 0; i < f->n && n < (size_t)cfg->activity_per_tick; i++) {
        vc_site_rec *r = vc_sites_get(&f->sites, f->in[i]->id);
        if (!f->in[i]->enabled || now - r->measured < cfg->activity_every)
            continue;
        jobs[n] = (vc_probe_job){ f->in[i],
                                  { 1, 0, now, cfg->activity_days, -1, 0, 0 },
                                  NULL };
        site[n++] = i;
    }
    if (n == 0)
        return;
    vc_probe_all(jobs, n, (int)cfg->probe_threads, p);
    long long retry = cfg->activity_every < RETRY_MEASURE ? cfg->activity_every
                                                          : RETRY_MEASURE;
    for (size_t k = 0; k < n; k++) {
        size_t i = site[k];
        if (jobs[k].err)
            vc_log(278, "instance %lld (%s): activity not measured: %s",
                   f->in[i]->id, f->in[i]->key, jobs[k].err);
        f->events[i] = jobs[k].err ? -1 : jobs[k].pr.events;
        measured[i] = jobs[k].err ? now - cfg->activity_every + retry : now;
    }
    measures m = { f, measured };
    const char *err = vc_sites_edit(vc_sites_path(cfg->state_file, p),
                                    save_measures, &m, p);
    if (err)
        vc_log(203, "%s", err);
}

/* Queued work on every enabled site of tier fast-path-from or quieter
 * not chosen already and not started since the last tick, all probed at
 * once. */
static void probe_queued(const vc_config *cfg, vc_fleet *f, long long now,
                         long long tick, apr_pool_t *p)
{
    long long *due = apr_pcalloc(p, sizeof *due * (f->n + 1));
    size_t ndue = vc_sched_activity(f->items, f->n, &cfg->tiers, now, tick, due,
                                    p);
    apr_hash_t *chosen = apr_hash_make(p);
    for (size_t k = 0; k < ndue; k++)
        apr_hash_set(chosen, &due[k], sizeof due[k], "");
    vc_probe_job *jobs = apr_pcalloc(p, sizeof *jobs * (f->n + 1));
    size_t *site = apr_pcalloc(p, sizeof *site * (f->n + 1)), n = 0;
    for (size_t i = 0; i < f->n; i++) {
        const vc_tier_item *it = &f->items[i];
        if (!it->enabled || it->lastcron > now - tick
            || it->tier < cfg->fast_path_from
            || apr_hash_get(chosen, &it->id, sizeof it->id))
            continue;
        jobs[n] = (vc_probe_job){ f->in[i], { 0, 1, now, 0, 0, 0, 0 }, NULL };
        site[n++] = i;
    }
    vc_probe_all(jobs, n, (int)cfg->probe_threads, p);
    for (size_t k = 0; k < n; k++) {
        f->probe_error[site[k]] = jobs[k].err;
        f->items[site[k]].queued = jobs[k].pr.queued;
    }
}

void vc_fleet_probe(const vc_config *cfg, vc_fleet *f, long long now,
                    long long tick, apr_pool_t *p)
{
    measure(cfg, f, now, p);
    for (size_t i = 0; i < f->n; i++)
        if (f->why[i] != VC_TIER_OVERRIDE)
            f->items[i].tier = vc_tier_choose(&cfg->tiers, f->events[i], 0,
                                              (int)cfg->default_tier,
                                              &f->why[i]);
    if (cfg->fast_path)
        probe_queued(cfg, f, now, tick, p);
}

const char *vc_period_text(long long secs, apr_pool_t *p)
{
    /* APR's formatter has no %ll. */
    const char *unit = secs % 86400 == 0 ? "d"
        : secs % 3600 == 0               ? "h"
        : secs % 60 == 0                 ? "m"
                                         : "s";
    long long div = *unit == 'd' ? 86400
        : *unit == 'h'           ? 3600
        : *unit == 'm'           ? 60
                                 : 1;
    return apr_psprintf(p, "%" APR_INT64_T_FMT "%s", (apr_int64_t)(secs / div),
                        unit);
}

const char *vc_fleet_reason(const vc_config *cfg, const vc_fleet *f, size_t i,
                            apr_pool_t *p)
{
    int tier = f->items[i].tier;
    const char *head = apr_psprintf(p, "tier %d (every %s)", tier,
                                    vc_period_text(vc_tier_period(&cfg->tiers,
                                                                  tier),
                                                   p));
    const char *why = f->why[i] == VC_TIER_OVERRIDE
        ? apr_psprintf(p, "set in %s", cfg->tier_file)
        : f->why[i] == VC_TIER_MEASURED
        ? apr_psprintf(p, "%" APR_INT64_T_FMT " log events in %ld days",
                       (apr_int64_t)f->events[i], cfg->activity_days)
        : "activity not measured yet: default-tier";
    return apr_pstrcat(p, head, ": ", why,
                       f->items[i].queued ? "; work queued: runs now" : "",
                       f->probe_error[i] ? "; queued work not known: " : "",
                       f->probe_error[i] ? f->probe_error[i] : "", NULL);
}

double vc_fleet_cores(const vc_config *cfg)
{
    long n = cfg->cores > 0 ? cfg->cores : sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (double)n : 1.0;
}

void vc_fleet_capacity(const vc_config *cfg, const vc_fleet *f,
                       vc_capacity *cap)
{
    vc_capacity_of(f->items, f->cost, f->n, &cfg->tiers, vc_fleet_cores(cfg),
                   (double)cfg->run_cost_ms / 1000.0, cap);
}

const char *vc_fleet_growing(const vc_config *cfg, const vc_fleet *f,
                             long long now, long long tick, size_t max,
                             apr_pool_t *p)
{
    const char *list = "";
    size_t named = 0, more = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (!vc_gap_growing(&f->items[i], &cfg->tiers, now, tick))
            continue;
        if (named++ < max)
            list = apr_pstrcat(p, list, *list ? ", " : "", f->in[i]->key, NULL);
        else
            more++;
    }
    return more ? apr_psprintf(p, "%s and %" APR_SIZE_T_FMT " more", list,
                               (apr_size_t)more)
                : list;
}

typedef struct {
    const vc_config *cfg;
    const vc_fleet *f;
    const vc_run_cost *runs;
    size_t nruns;
    long long now, tick;
    apr_pool_t *p;
} after;

/* The fleet as after this tick: the sites that ran have just started. */
static vc_fleet fleet_after(const after *a)
{
    vc_fleet f = *a->f;
    f.items = apr_pmemdup(a->p, a->f->items, sizeof *f.items * (f.n + 1));
    for (size_t k = 0; k < a->nruns; k++)
        for (size_t i = 0; i < f.n; i++)
            if (f.items[i].id == a->runs[k].id)
                f.items[i].lastcron = a->now;
    return f;
}

/* With the costs as now recorded, this tick's runs included: each of
 * "exceeds", the growing gaps and "back within" said once a crossing. */
static void check_capacity(vc_sites *s, const after *a)
{
    vc_capacity cap;
    double *cost = apr_palloc(a->p, sizeof *cost * (a->f->n + 1));
    for (size_t i = 0; i < a->f->n; i++)
        cost[i] = vc_sites_get(s, a->f->in[i]->id)->cost;
    vc_capacity_of(a->f->items, cost, a->f->n, &a->cfg->tiers,
                   vc_fleet_cores(a->cfg), (double)a->cfg->run_cost_ms / 1000.0,
                   &cap);
    vc_fleet f = fleet_after(a);
    const char *growing = vc_fleet_growing(a->cfg, &f, a->now, a->tick, 10,
                                           a->p);
    vc_cap_state state = s->over_capacity == VC_CAP_NAMED ? VC_CAP_NAMED
        : s->over_capacity                                ? VC_CAP_OVER
                                                          : VC_CAP_WITHIN;
    vc_cap_say say = vc_capacity_log_step(&state, cap.cpu_total > cap.capacity,
                                          *growing != '\0');
    if (say == VC_CAP_SAY_OVER || say == VC_CAP_SAY_GROWING)
        vc_log(275,
               "demand %sexceeds capacity: the tiers ask %.0f CPU s an "
               "hour, %.0f cores give %.0f; gaps growing: %s",
               say == VC_CAP_SAY_GROWING ? "still " : "", cap.cpu_total,
               cap.capacity / 3600.0, cap.capacity,
               *growing ? growing : "none yet");
    else if (say == VC_CAP_SAY_BACK)
        vc_log(276, "demand back within capacity: %.0f CPU s an hour of %.0f",
               cap.cpu_total, cap.capacity);
    s->over_capacity = (int)state;
}

/* Sites gone from the table leave the figures. */
static void forget_gone(vc_sites *s, const vc_fleet *f, apr_pool_t *p)
{
    apr_hash_t *here = apr_hash_make(p);
    for (size_t i = 0; i < f->n; i++)
        apr_hash_set(here, &f->in[i]->id, sizeof f->in[i]->id, "");
    for (apr_hash_index_t *hi = apr_hash_first(p, s->by_id); hi;
         hi = apr_hash_next(hi)) {
        const vc_site_rec *r = apr_hash_this_val(hi);
        if (!apr_hash_get(here, &r->id, sizeof r->id))
            apr_hash_set(s->by_id, &r->id, sizeof r->id, NULL);
    }
}

static void record_after(vc_sites *s, void *ctx)
{
    const after *a = ctx;
    for (size_t k = 0; k < a->nruns; k++)
        vc_site_add_cost(vc_sites_get(s, a->runs[k].id), a->runs[k].cpu);
    forget_gone(s, a->f, a->p);
    check_capacity(s, a);
}

void vc_fleet_after_tick(const vc_config *cfg, const vc_fleet *f,
                         const vc_run_cost *runs, size_t nruns, long long now,
                         long long tick, apr_pool_t *p)
{
    after a = { cfg, f, runs, nruns, now, tick, p };
    const char *err = vc_sites_edit(vc_sites_path(cfg->state_file, p),
                                    record_after, &a, p);
    if (err)
        vc_log(203, "%s", err);
}

const char *vc_override_set(const vc_config *cfg, const char *host, int tier,
                            apr_pool_t *p)
{
    overrides o;
    const char *err = overrides_load(cfg, &o, p);
    if (err)
        return err;
    if (tier > 0 && !apr_hash_get(o.tiers, host, APR_HASH_KEY_STRING))
        APR_ARRAY_PUSH(o.order, const char *) = host;
    apr_hash_set(o.tiers, host, APR_HASH_KEY_STRING,
                 tier > 0 ? apr_psprintf(p, "%d", tier) : NULL);
    const char *text = "# vcron tier overrides: host = tier (vcron tier "
                       "HOST TIER|auto rewrites this file)\n";
    for (int i = 0; i < o.order->nelts; i++) {
        const char *key = APR_ARRAY_IDX(o.order, i, const char *);
        const char *value = apr_hash_get(o.tiers, key, APR_HASH_KEY_STRING);
        if (value)
            text = apr_pstrcat(p, text, key, " = ", value, "\n", NULL);
    }
    const char *slash = strrchr(cfg->tier_file, '/');
    if (slash > cfg->tier_file
        && (err = vm_file_dir_make(apr_pstrndup(p, cfg->tier_file,
                                                (apr_size_t)(slash
                                                             - cfg->tier_file)),
                                   p))
            != NULL)
        return err;
    vm_file_replace(cfg->tier_file, text, strlen(text), 0644, NULL, p, &err);
    return err;
}
