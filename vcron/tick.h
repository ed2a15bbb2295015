/* One tick: read the table, choose the instances, run their crons (locked,
 * bounded by --jobs and --timeout), record the stats, print the summary. */
#ifndef VC_TICK_H
#define VC_TICK_H

#include <apr_pools.h>
#include "vm_source.h"
#include "vm_table.h"
#include "config.h"
#include "vm_identity.h"

/* Exit codes of vcron, documented in --help and the README. */
enum {
    VC_EXIT_OK = 0,     /* every cron started ran and succeeded */
    VC_EXIT_CRON = 1,   /* a cron failed, timed out or could not start */
    VC_EXIT_USAGE = 2,  /* bad command line or configuration */
    VC_EXIT_SOURCE = 3, /* the instance table could not be read */
    VC_EXIT_LOCAL = 4   /* local files: state, locks, logs */
};

typedef struct {
    size_t selected, run, succeeded, failed, timed_out, skipped_locked,
        not_started;
} vc_tick_counts;

/* Read and validate the table (rejected rows are left out).  Returns
 * VC_EXIT_OK or VC_EXIT_SOURCE, logged. */
int vc_load_table(vm_source *src, apr_pool_t *p, const vm_table **t);

/* Returns one of the exit codes above. */
int vc_tick(const vc_config *cfg, const vm_identity *who, vm_source *src,
            apr_pool_t *p, vc_tick_counts *counts);

#endif
