/* The cron figures (croncount, lastcron, lastcrongap) of a table, beside
 * its snapshot in <snapshot>.cron: they change with every cron run, and
 * routing never reads them, so they make no snapshot generation.  The
 * writer replaces the file (0600, atomically) when a figure changed; the
 * status page reads it.  Losing it loses nothing: the next refresh that
 * reads the source writes it again. */
#ifndef VM_CRON_FIGURES_H
#define VM_CRON_FIGURES_H

#include <apr_pools.h>
#include "vm_status.h"
#include "vm_table.h"

typedef struct vm_cron_figures vm_cron_figures;

/* <snapshot>.cron, from p. */
const char *vm_cron_figures_path(const char *snapshot_path, apr_pool_t *p);

/* Write t's figures at path unless the file already holds exactly these
 * (one read of its header).  *written = 1 when the file was replaced. */
vm_status vm_cron_figures_save(const char *path, const vm_table *t,
                               int *written, apr_pool_t *p, const char **err);

/* Read and check the file (size, sums, ids ascending); from p. */
vm_status vm_cron_figures_load(vm_cron_figures **out, const char *path,
                               apr_pool_t *p, const char **err);

/* Copy the figures of in->id into *in; 0 (figures left alone) when the
 * file has no such id. */
int vm_cron_figures_get(const vm_cron_figures *f, vm_instance *in);

/* ---- run records ------------------------------------------------------
 * What vcron records of each cron run, per site, in its runs file (a
 * vcron setting; the module's VMoodleCronRuns reads it): how many runs,
 * failures and timeouts, and the last run's start, duration and exit.
 * Ids and figures only (no secret): mode 0644.  An existing site's entry
 * is rewritten in place (a reader may see one entry torn, never the
 * file), a new site's makes a new file; writers take <file>.lock. */
typedef struct {
    int64_t id;
    int64_t runs, failures, timeouts;
    int64_t last_start; /* seconds since the epoch */
    int64_t last_duration_ms;
    int64_t last_exit;      /* exit status; -1: killed (timeout) */
    int64_t last_timed_out; /* 0 or 1 */
} vm_cron_run;

/* One finished run: the caller's report (the engine's, in vcron). */
typedef struct {
    int64_t started; /* seconds since the epoch */
    int64_t duration_ms;
    int exit_status; /* -1 when it did not exit (a signal) */
    int timed_out;
} vm_cron_outcome;

typedef struct vm_cron_runs vm_cron_runs;

vm_status vm_cron_runs_record(const char *path, int64_t id,
                              const vm_cron_outcome *o, apr_pool_t *p,
                              const char **err);
/* A missing file is an empty one. */
vm_status vm_cron_runs_load(vm_cron_runs **out, const char *path, apr_pool_t *p,
                            const char **err);
/* The files of several cron hosts: pattern is a glob (each host writes
 * its own file, e.g. /shared/vmoodle/cron-runs.%h in vcron) or one path.
 * Merged per site: runs, failures and timeouts summed, the last run the
 * one with the newest start of all.  Writers' locks and temporary files
 * are left out; a file that cannot be read is skipped (*err says the last
 * such, VM_ERR_DATA or VM_ERR_IO returned with what the others hold). */
vm_status vm_cron_runs_load_all(vm_cron_runs **out, const char *pattern,
                                apr_pool_t *p, const char **err);
/* The entry of id, NULL when none. */
const vm_cron_run *vm_cron_runs_get(const vm_cron_runs *r, int64_t id);

#endif
