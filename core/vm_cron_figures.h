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

#endif
