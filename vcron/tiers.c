/* Frequency by activity, see tiers.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <apr_pools.h>
#include "tiers.h"

/* "600", "10m", "8h", "1d" -> seconds; -1 when not one of these. */
static long long parse_period(const char *s, const char **end)
{
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (errno || e == s || v <= 0)
        return -1;
    long long unit = *e == 'm' ? 60 : *e == 'h' ? 3600 : *e == 'd' ? 86400 : 1;
    if (unit > 1)
        e++;
    *end = e;
    return v > (1LL << 40) / unit ? -1 : v * unit;
}

static const char *parse_one(const char **s, vc_tier *t)
{
    char *e;
    errno = 0;
    t->min_events = strtoll(*s, &e, 10);
    if (errno || e == *s || t->min_events < 0 || *e != ':')
        return "tiers: want EVENTS:SECONDS pairs, e.g. " VC_TIERS_DEFAULT;
    const char *rest;
    if ((t->period = parse_period(e + 1, &rest)) < 0
        || (*rest && *rest != ' ' && *rest != '\t' && *rest != ','))
        return "tiers: a period is a whole number of seconds, or Nm, Nh, Nd";
    *s = rest;
    return NULL;
}

const char *vc_tiers_parse(const char *text, vc_tiers *out)
{
    memset(out, 0, sizeof *out);
    const char *s = text;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s)
            break;
        if (out->n == VC_TIERS_MAX)
            return "tiers: at most 16";
        vc_tier *t = &out->tier[out->n];
        const char *why = parse_one(&s, t);
        if (why)
            return why;
        if (out->n > 0 && t->min_events >= out->tier[out->n - 1].min_events)
            return "tiers: events must go down from the busiest tier";
        out->n++;
    }
    if (out->n == 0 || out->tier[out->n - 1].min_events != 0)
        return "tiers: the last (quietest) tier must start at 0 events";
    return NULL;
}

int vc_tier_of(const vc_tiers *t, long long events)
{
    for (int i = 0; i < t->n; i++)
        if (events >= t->tier[i].min_events)
            return i + 1;
    return t->n;
}

long long vc_tier_period(const vc_tiers *t, int tier)
{
    if (tier < 1)
        tier = 1;
    if (tier > t->n)
        tier = t->n;
    return t->tier[tier - 1].period;
}

int vc_tier_choose(const vc_tiers *t, long long events, int override, int dflt,
                   vc_tier_why *why)
{
    if (override >= 1 && override <= t->n) {
        *why = VC_TIER_OVERRIDE;
        return override;
    }
    if (events >= 0) {
        *why = VC_TIER_MEASURED;
        return vc_tier_of(t, events);
    }
    *why = VC_TIER_UNMEASURED;
    return dflt < 1 ? 1 : dflt > t->n ? t->n : dflt;
}

/* Started since the last tick, here or on another cron host. */
static int ran_this_tick(const vc_tier_item *it, long long now, long long tick)
{
    return it->lastcron > now - tick;
}

/* Queued work, or never run (a new site's first cron builds its caches:
 * not a day later). */
static int fast(const vc_tier_item *it, long long now, long long tick)
{
    return it->enabled && (it->queued || it->lastcron <= 0)
        && !ran_this_tick(it, now, tick);
}

/* Never run first, then the oldest last cron, then by id. */
static int oldest_first(const void *a, const void *b)
{
    const vc_sched_item *x = a, *y = b;
    if (x->lastcron != y->lastcron)
        return (x->lastcron > y->lastcron) - (x->lastcron < y->lastcron);
    return (x->id > y->id) - (x->id < y->id);
}

/* The fast path: queued work, oldest first.  Returns how many. */
static size_t queued_first(const vc_tier_item *items, size_t n, long long now,
                           long long tick, long long *out,
                           vc_sched_item *scratch)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (fast(&items[i], now, tick))
            scratch[m++] = (vc_sched_item){ items[i].id, 1, items[i].lastcron };
    qsort(scratch, m, sizeof *scratch, oldest_first);
    for (size_t k = 0; k < m; k++)
        out[k] = scratch[k].id;
    return m;
}

typedef struct {
    vc_sched_item it;
    long long period;
} pick;

/* Most overdue for its period first: never run, then the largest share
 * of its period gone, then by id. */
static int most_overdue(const void *a, const void *b, void *ctx)
{
    const pick *x = a, *y = b;
    long long now = *(const long long *)ctx;
    int xnever = x->it.lastcron <= 0, ynever = y->it.lastcron <= 0;
    if (xnever != ynever)
        return ynever - xnever;
    double xs = (double)(now - x->it.lastcron) / (double)x->period;
    double ys = (double)(now - y->it.lastcron) / (double)y->period;
    if (!xnever && xs != ys)
        return xs < ys ? 1 : -1;
    return (x->it.id > y->it.id) - (x->it.id < y->it.id);
}

/* Lowest gap on each tier's items (those not taken by the fast path),
 * into picks; returns how many.  work: room for 2n. */
static size_t tier_picks(const vc_tier_item *items, size_t n, const vc_tiers *t,
                         long long now, long long tick, pick *picks,
                         long long *ids, vc_sched_item *work)
{
    size_t np = 0;
    for (int tier = 1; tier <= t->n; tier++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (items[i].enabled && items[i].tier == tier
                && !fast(&items[i], now, tick))
                work[m++] = (vc_sched_item){ items[i].id, 1,
                                             items[i].lastcron };
        long long period = vc_tier_period(t, tier);
        vc_gap_params gp = { now, period, tick, 1 };
        /* sched.h: scratch's first count entries are the chosen ones. */
        size_t count = vc_sched_lowest_gap(work, m, &gp, ids, work + m);
        for (size_t k = 0; k < count; k++)
            picks[np++] = (pick){ work[m + k], period };
    }
    return np;
}

size_t vc_sched_activity(const vc_tier_item *items, size_t n, const vc_tiers *t,
                         long long now, long long tick, long long *out,
                         apr_pool_t *p)
{
    if (tick < 1)
        tick = 1;
    pick *picks = apr_palloc(p, sizeof *picks * (n + 1));
    vc_sched_item *work = apr_palloc(p, sizeof *work * (2 * n + 1));
    long long *ids = apr_palloc(p, sizeof *ids * (n + 1));
    size_t k = queued_first(items, n, now, tick, out, work);
    size_t np = tier_picks(items, n, t, now, tick, picks, ids, work);
    qsort_r(picks, np, sizeof *picks, most_overdue, &now);
    for (size_t i = 0; i < np; i++)
        out[k++] = picks[i].it.id;
    return k;
}

void vc_capacity_of(const vc_tier_item *items, const double *cost, size_t n,
                    const vc_tiers *t, double cores, double dflt,
                    vc_capacity *out)
{
    memset(out, 0, sizeof *out);
    double sum = 0;
    size_t measured = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].enabled && cost[i] >= 0) {
            sum += cost[i];
            measured++;
        }
    out->cost_assumed = measured ? sum / (double)measured : dflt;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].enabled)
            continue;
        int tier = items[i].tier < 1 ? 1
            : items[i].tier > t->n   ? t->n
                                     : items[i].tier;
        double runs = 3600.0 / (double)vc_tier_period(t, tier);
        double c = cost[i] >= 0 ? cost[i] : out->cost_assumed;
        out->sites[tier - 1]++;
        out->runs_per_hour[tier - 1] += runs;
        out->cpu_per_hour[tier - 1] += runs * c;
        out->runs_total += runs;
        out->cpu_total += runs * c;
    }
    out->capacity = cores * 3600.0;
}

int vc_gap_growing(const vc_tier_item *it, const vc_tiers *t, long long now,
                   long long tick)
{
    return it->enabled && it->lastcron > 0
        && now - it->lastcron > vc_tier_period(t, it->tier) + tick;
}

vc_cap_say vc_capacity_log_step(vc_cap_state *state, int over, int growing)
{
    vc_cap_state was = *state;
    if (!over) {
        *state = VC_CAP_WITHIN;
        return was == VC_CAP_WITHIN ? VC_CAP_SAY_NOTHING : VC_CAP_SAY_BACK;
    }
    if (was == VC_CAP_NAMED || (was == VC_CAP_OVER && !growing))
        return VC_CAP_SAY_NOTHING;
    *state = growing ? VC_CAP_NAMED : VC_CAP_OVER;
    return was == VC_CAP_WITHIN ? VC_CAP_SAY_OVER : VC_CAP_SAY_GROWING;
}
