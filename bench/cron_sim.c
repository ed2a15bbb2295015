/* make bench: vcron's mode activity at fleet scale, simulated with the
 * real scheduler (vcron/tiers.c, sched.c) over one day of minute ticks:
 *
 *   cron_sim SITES COST CORES T1 T2 T3 T4 T5 [QUEUED_PER_DAY]
 *
 * SITES spread over Àgora's five tiers in the proportions T1..T5, COST CPU
 * seconds a run, CORES cores for the crons (a tick runs what fits in
 * CORES x 60 CPU seconds, the most overdue first, the rest waits), and
 * QUEUED_PER_DAY ad hoc tasks a day on each site of the two quiet tiers
 * (the fast path).  Prints one JSON object: runs a minute (mean, max), CPU
 * seconds a minute asked and the capacity, the worst gap of each tier, and
 * the same fleet on one lowest-gap period of 15 minutes for comparison. */
#include <stdio.h>
#include <stdlib.h>
#include <apr_general.h>
#include "tiers.h"

#define TICK 60
#define DAY 86400

typedef struct {
    double runs_max, runs_total, cpu_max, adhoc_wait_max;
    long long worst_gap[VC_TIERS_MAX + 1];
} outcome;

/* A deterministic stream of ad hoc tasks: site i gets one when its hash
 * of the tick falls under the rate. */
static int gets_task(size_t i, long long tick, double per_day)
{
    unsigned long long h = (i + 1) * 0x9e3779b97f4a7c15ULL
        ^ (unsigned long long)tick * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    return (double)(h % 1000000) / 1e6 < per_day / (DAY / TICK);
}

static void simulate(vc_tier_item *it, size_t n, const vc_tiers *t, double cost,
                     double cores, double per_day, int flat, outcome *o)
{
    long long *out = malloc(sizeof *out * n),
              *queued_at = calloc(n, sizeof *queued_at);
    vc_sched_item *sitems = malloc(sizeof *sitems * n);
    vc_sched_item *scratch = malloc(sizeof *scratch * n);
    long long start = 1700000000, warm = DAY; /* a day to settle first */
    for (long long now = start; now < start + warm + DAY; now += TICK) {
        int counting = now >= start + warm;
        for (size_t i = 0; i < n; i++)
            if (!flat && it[i].tier >= 4 && gets_task(i, now / TICK, per_day)
                && !it[i].queued) {
                it[i].queued = 1;
                queued_at[i] = now;
            }
        apr_pool_t *p;
        apr_pool_create(&p, NULL);
        size_t count;
        if (flat) {
            for (size_t i = 0; i < n; i++)
                sitems[i] = (vc_sched_item){ it[i].id, 1, it[i].lastcron };
            vc_gap_params gp = { now, 900, TICK, 0 };
            count = vc_sched_lowest_gap(sitems, n, &gp, out, scratch);
        } else
            count = vc_sched_activity(it, n, t, now, TICK, out, p);
        apr_pool_destroy(p);
        size_t fits = (size_t)(cores * TICK / cost);
        if (count > fits)
            count = fits;
        for (size_t k = 0; k < count; k++) {
            vc_tier_item *s = &it[out[k] - 1];
            long long period = flat ? 900 : vc_tier_period(t, s->tier);
            long long gap = now - s->lastcron;
            if (counting && s->lastcron > 0 && gap > o->worst_gap[s->tier]
                && (!s->queued || gap > period))
                o->worst_gap[s->tier] = gap;
            if (counting && s->queued
                && now - queued_at[s - it] > o->adhoc_wait_max)
                o->adhoc_wait_max = (double)(now - queued_at[s - it]);
            s->lastcron = now;
            s->queued = 0;
        }
        if (counting) {
            o->runs_total += (double)count;
            if ((double)count > o->runs_max)
                o->runs_max = (double)count;
        }
    }
    o->cpu_max = o->runs_max * cost;
    free(out);
    free(queued_at);
    free(sitems);
    free(scratch);
}

static void print(const char *name, const outcome *o, double cost,
                  const vc_tiers *t, int flat)
{
    double per_min = o->runs_total / (DAY / TICK);
    printf("\"%s\": {\"runs_per_min\": %.1f, \"runs_per_min_max\": %.0f, "
           "\"cpu_per_min\": %.1f, \"adhoc_wait_max\": %.0f, "
           "\"worst_gap\": [",
           name, per_min, o->runs_max, per_min * cost, o->adhoc_wait_max);
    for (int k = 1; k <= (flat ? 1 : t->n); k++)
        printf("%s%lld", k > 1 ? ", " : "",
               o->worst_gap[flat ? 1 : k] ? o->worst_gap[flat ? 1 : k]
                                          : o->worst_gap[k]);
    printf("]}");
}

int main(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr,
                "usage: cron_sim SITES COST CORES T1 T2 T3 T4 T5 "
                "[QUEUED_PER_DAY]\n");
        return 2;
    }
    apr_initialize();
    size_t n = strtoul(argv[1], NULL, 10);
    double cost = atof(argv[2]), cores = atof(argv[3]);
    double share[5], sum = 0, per_day = argc > 9 ? atof(argv[9]) : 0;
    for (int k = 0; k < 5; k++)
        sum += share[k] = atof(argv[4 + k]);
    vc_tiers t;
    vc_tiers_parse(VC_TIERS_DEFAULT, &t);
    vc_tier_item *it = calloc(n, sizeof *it), *flat = calloc(n, sizeof *flat);
    size_t i = 0;
    for (int k = 0; k < 5; k++) {
        size_t upto = k == 4 ? n : i + (size_t)((double)n * share[k] / sum);
        for (; i < upto && i < n; i++)
            it[i] = (vc_tier_item){ (long long)i + 1, 1, 0, k + 1, 0 };
    }
    for (size_t j = 0; j < n; j++)
        flat[j] = (vc_tier_item){ it[j].id, 1, 0, 1, 0 };
    outcome tiers = { 0 }, lowest = { 0 };
    simulate(it, n, &t, cost, cores, per_day, 0, &tiers);
    simulate(flat, n, &t, cost, cores, 0, 1, &lowest);
    printf("{\"capacity_per_min\": %.0f, ", cores * TICK);
    print("tiers", &tiers, cost, &t, 0);
    printf(", ");
    print("lowest_gap_15m", &lowest, cost, &t, 1);
    printf("}\n");
    free(it);
    free(flat);
    apr_terminate();
    return 0;
}
