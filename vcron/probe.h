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
    int want_activity, want_queued;   /* what to read */
    long long now, days;
    long long events;                 /* out: activity */
    int queued;                       /* out: work waiting */
    int unreachable;                  /* out: no connection was made */
} vc_probe;

/* Read what pr asks for from in's database.  NULL, or why not (a line
 * naming the server, never the password).  A server that cannot be
 * reached is tried once a tick: the caller skips its other sites. */
const char *vc_probe_site(const vm_instance *in, vc_probe *pr,
                          apr_pool_t *p);

#endif
