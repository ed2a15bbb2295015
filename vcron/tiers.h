/* Cron frequency by activity (mode = activity), as pure functions over
 * simulated time like sched.h: tiers read from the configuration, a site's
 * tier from its activity or an override, the instances a tick runs (ad hoc
 * work waiting first, then each tier's lowest gap), and the capacity the
 * tiers ask for against the cores of the cron hosts. */
#ifndef VC_TIERS_H
#define VC_TIERS_H

#include <stddef.h>
#include <apr_pools.h>
#include "sched.h"

#define VC_TIERS_MAX 16
/* Àgora's: log events over 3 days -> seconds between two crons. */
#define VC_TIERS_DEFAULT "40000:600 4000:1200 180:3600 30:28800 0:86400"

typedef struct {
    long long min_events; /* activity at least this */
    long long period;     /* seconds between two crons */
} vc_tier;

/* Tier 1 is the busiest; tier[n - 1].min_events is 0. */
typedef struct {
    vc_tier tier[VC_TIERS_MAX];
    int n;
} vc_tiers;

/* "EVENTS:SECONDS ..." (or "EVENTS:Nm"/"Nh"/"Nd"), events strictly
 * descending down to 0.  NULL, or a static reason. */
const char *vc_tiers_parse(const char *text, vc_tiers *out);

/* The tier (1..n) of a site with this activity. */
int vc_tier_of(const vc_tiers *t, long long events);

/* The period of tier (1..n). */
long long vc_tier_period(const vc_tiers *t, int tier);

/* Why a site has its tier. */
typedef enum {
    VC_TIER_MEASURED,  /* its activity */
    VC_TIER_OVERRIDE,  /* the tier file names it */
    VC_TIER_UNMEASURED /* activity not known (yet): default-tier */
} vc_tier_why;

/* A site's tier: the override (1..n) when there is one (0: none), else by
 * events when known (>= 0), else dflt. */
int vc_tier_choose(const vc_tiers *t, long long events, int override, int dflt,
                   vc_tier_why *why);

typedef struct {
    long long id;
    int enabled;
    long long lastcron; /* start of the last run; 0 = never */
    int tier;           /* 1..n */
    int queued;         /* ad hoc work waiting, or a task asked to run */
} vc_tier_item;

/* The instances this tick runs, in the order to try them: first every
 * enabled one never run or with queued work that did not start since the
 * last tick (never run first, then oldest last cron), then, tier by tier, what lowest gap
 * (sched.h) asks of the rest with the tier's period, merged most overdue
 * for its period first.  The table alone decides, so cron hosts sharing it
 * agree.  Writes ids into out (room for n), returns their number;
 * working space from p. */
size_t vc_sched_activity(const vc_tier_item *items, size_t n, const vc_tiers *t,
                         long long now, long long tick, long long *out,
                         apr_pool_t *p);

/* What the tiers ask for. */
typedef struct {
    size_t sites[VC_TIERS_MAX]; /* enabled sites per tier */
    double runs_per_hour[VC_TIERS_MAX];
    double cpu_per_hour[VC_TIERS_MAX]; /* CPU seconds */
    double runs_total, cpu_total;      /* per hour */
    double capacity;                   /* cores x 3600 CPU seconds */
    double cost_assumed;               /* for sites not measured yet */
} vc_capacity;

/* cost[i]: measured CPU seconds per run of items[i], < 0 when not
 * measured (the mean of the measured ones is assumed, or dflt when none
 * is).  Disabled items ask for nothing. */
void vc_capacity_of(const vc_tier_item *items, const double *cost, size_t n,
                    const vc_tiers *t, double cores, double dflt,
                    vc_capacity *out);

/* Past its period by more than a tick: its gap grows. */
int vc_gap_growing(const vc_tier_item *it, const vc_tiers *t, long long now,
                   long long tick);

/* The capacity log says each thing once: that demand exceeds capacity (with
 * the growing gaps, if any yet), then, while still over, the growing gaps
 * when they first appear, then that demand is back within.  The state is
 * kept between ticks. */
typedef enum {
    VC_CAP_WITHIN = 0, /* nothing to take back */
    VC_CAP_OVER = 1,   /* "exceeds" said, no growing gap named yet */
    VC_CAP_NAMED = 2   /* "exceeds" said and growing gaps named */
} vc_cap_state;

typedef enum {
    VC_CAP_SAY_NOTHING,
    VC_CAP_SAY_OVER,    /* demand exceeds capacity */
    VC_CAP_SAY_GROWING, /* still over, gaps now growing */
    VC_CAP_SAY_BACK     /* demand back within capacity */
} vc_cap_say;

/* What this tick logs, given whether demand is over capacity and whether
 * any gap grows; *state moves on. */
vc_cap_say vc_capacity_log_step(vc_cap_state *state, int over, int growing);

#endif
