/* mode = activity reads two figures from a site's own database, with the
 * site's own credentials (its row's dbhost, login, password), one short
 * connection per site:
 *   - activity: SELECT COUNT(*) FROM logstore_standard_log WHERE
 *     timecreated >= now - days (an index on timecreated bounds it to the
 *     rows counted); once per site per activity-every;
 *   - queued work: whether an ad hoc task is due (task_adhoc, index on
 *     nextruntime) or a scheduled task was asked to run again (its next run
 *     moved before its last: "run soon"); once per site per tick, only for
 *     sites the tick would not run anyway. */
#ifndef VC_PROBE_H
#define VC_PROBE_H

#include <apr_pools.h>
#include "vm_instance.h"

typedef struct {
    int want_activity, want_queued; /* what to read */
    long long now, days;
    long long events; /* out: activity */
    int queued;       /* out: work waiting */
    int unreachable;  /* out: no connection was made */
} vc_probe;

/* Read what pr asks for from in's database.  NULL, or why not (a line
 * naming the server, never the password). */
const char *vc_probe_site(const vm_instance *in, vc_probe *pr, apr_pool_t *p);

typedef struct {
    const vm_instance *in;
    vc_probe pr;     /* what to read, and what was read */
    const char *err; /* NULL, or why not (from the pool given) */
} vc_probe_job;

/* Every job, up to threads at once: a connection costs a few ms of the
 * server's and our CPU (authentication) and as much waiting, so a tick's
 * probes of thousands of sites run side by side.  Each thread has its own
 * pool and connections, and tries a server it could not reach once. */
void vc_probe_all(vc_probe_job *jobs, size_t n, int threads, apr_pool_t *p);

#endif
