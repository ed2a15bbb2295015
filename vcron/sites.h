/* What vcron remembers per site for mode = activity, in
 * "<state-file>.sites" beside its state: each site's activity (log events
 * over the last activity-days) and when it was measured, and the CPU
 * seconds of its runs (smoothed), plus what the capacity log already
 * said.  Keyed by the instance's id; a site gone from the table
 * is forgotten after the next tick.  Saved crash-safe, edited under a
 * lock. */
#ifndef VC_SITES_H
#define VC_SITES_H

#include <apr_hash.h>
#include <apr_pools.h>

typedef struct {
    long long id;
    long long events;   /* -1: not measured (or unmeasurable) */
    long long measured; /* when events was measured (or tried); 0 never */
    double cost;        /* CPU seconds per run, smoothed; -1 none yet */
    long long runs;     /* runs whose cost was recorded */
} vc_site_rec;

typedef struct {
    apr_hash_t *by_id; /* long long id -> vc_site_rec */
    int over_capacity; /* the capacity log's vc_cap_state (tiers.h) */
    apr_pool_t *pool;
} vc_sites;

const char *vc_sites_path(const char *state_file, apr_pool_t *p);

/* A missing file is an empty set.  NULL or a reason. */
const char *vc_sites_load(const char *path, vc_sites *s, apr_pool_t *p);

/* The site's record, made (nothing known) when missing. */
vc_site_rec *vc_sites_get(vc_sites *s, long long id);

/* Under the file's lock: load, edit(s, ctx), save.  NULL or a reason. */
const char *vc_sites_edit(const char *path,
                          void (*edit)(vc_sites *s, void *ctx), void *ctx,
                          apr_pool_t *p);

/* Fold one run's CPU seconds into the record's smoothed cost. */
void vc_site_add_cost(vc_site_rec *r, double cpu);

#endif
