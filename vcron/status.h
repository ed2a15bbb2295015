/* vcron status: per instance, the seeds' figures (crons run, date of the
 * last cron, seconds since it, gap between the last two), as text or JSON. */
#ifndef VC_STATUS_H
#define VC_STATUS_H

#include <stdio.h>
#include <apr_pools.h>
#include "vm_source.h"
#include "config.h"

/* Returns an exit code of tick.h. */
int vc_status(const vc_config *cfg, vm_source *src, int json, FILE *out,
              apr_pool_t *p);

#endif
