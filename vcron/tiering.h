/* mode = activity around the pure rules of tiers.h: each instance's tier
 * and why (its measured activity, an override from tier-file, or not
 * measured yet), its measured cost, the probes of its database a tick makes
 * (probe.h), the overrides file, and the capacity check that logs once. */
#ifndef VC_TIERING_H
#define VC_TIERING_H

#include <apr_hash.h>
#include <apr_pools.h>
#include "config.h"
#include "sites.h"
#include "tiers.h"
#include "vm_table.h"

typedef struct vc_fleet {
    size_t n;               /* instances of the table */
    const vm_instance **in; /* n of each below, in the table's order */
    vc_tier_item *items;
    double *cost; /* CPU s per run; -1 not measured */
    vc_tier_why *why;
    long long *events;        /* -1 not measured */
    const char **probe_error; /* this tick's, or NULL */
    vc_sites sites;           /* as loaded */
} vc_fleet;

/* The instances of t with their tiers, from the per-site figures and the
 * overrides.  NULL or a reason. */
const char *vc_fleet_build(const vc_config *cfg, const vm_table *t, vc_fleet *f,
                           apr_pool_t *p);

/* The tick's probes, probe-threads at once: activity of up to
 * activity-per-tick sites whose measure is older than activity-every
 * (saved at once), then, with fast-path on, queued work on every enabled
 * site (of tier fast-path-from or quieter) that this tick would not run
 * anyway (planned with tick).  Sets items[].tier and .queued. */
void vc_fleet_probe(const vc_config *cfg, vc_fleet *f, long long now,
                    long long tick, apr_pool_t *p);

/* "tier 2 (every 20m): 5123 log events in 3 days" and the like. */
const char *vc_fleet_reason(const vc_config *cfg, const vc_fleet *f, size_t i,
                            apr_pool_t *p);

/* What the tiers ask for with the measured costs. */
void vc_fleet_capacity(const vc_config *cfg, const vc_fleet *f,
                       vc_capacity *cap);

/* The cores capacity is counted against: cores, or this host's. */
double vc_fleet_cores(const vc_config *cfg);

/* Up to max hosts whose gap grows, comma-separated ("" none). */
const char *vc_fleet_growing(const vc_config *cfg, const vc_fleet *f,
                             long long now, long long tick, size_t max,
                             apr_pool_t *p);

/* After a tick: each run's CPU seconds into the per-site figures, and the
 * capacity check: logged once when demand exceeds capacity, once more if
 * gaps start growing only later while it is still over, and once when it
 * is back within (vc_capacity_log_step). */
typedef struct {
    long long id;
    double cpu;
} vc_run_cost;
void vc_fleet_after_tick(const vc_config *cfg, const vc_fleet *f,
                         const vc_run_cost *runs, size_t nruns, long long now,
                         long long tick, apr_pool_t *p);

/* Set (tier 1..n) or clear (0) host's override in tier-file.  NULL or a
 * reason. */
const char *vc_override_set(const vc_config *cfg, const char *host, int tier,
                            apr_pool_t *p);

/* A period as "10m", "8h", "1d" or seconds. */
const char *vc_period_text(long long secs, apr_pool_t *p);

#endif
