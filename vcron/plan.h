/* vcron plan: what the tiers ask for (mode = activity, whatever the mode
 * set): sites, runs and CPU seconds an hour per tier from each site's
 * measured cost, against the cores of the cron hosts, and the sites whose
 * gaps grow.  vcron tier HOST TIER|auto: a site's override. */
#ifndef VC_PLAN_H
#define VC_PLAN_H

#include <stdio.h>
#include <apr_pools.h>
#include "config.h"
#include "vm_source.h"

/* Mode activity, after each tick: "<state-file>.plan" (JSON, 0644, no
 * secret in it), each site's tier and why, and the capacity figures, for
 * the status page (VMoodleCronPlan).  NULL or a reason. */
struct vc_fleet;
const char *vc_plan_write(const vc_config *cfg, const struct vc_fleet *f,
                          long long now, apr_pool_t *p);

/* Exit codes of tick.h. */
int vc_plan(const vc_config *cfg, vm_source *src, FILE *out, apr_pool_t *p);
int vc_tier_command(const vc_config *cfg, vm_source *src, const char *host,
                    const char *tier, FILE *out, apr_pool_t *p);

#endif
