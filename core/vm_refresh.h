/* The single writer's step: read the source, validate, and write a new
 * snapshot generation when the routing content changed, and the cron
 * figures file when a figure did (a cron run alone makes no generation).  Used by the module (at
 * start-up and in its refresh thread) and by vmoodlectl. */
#ifndef VM_REFRESH_H
#define VM_REFRESH_H

#include "vm_source.h"
#include "vm_snapshot.h"

typedef struct {
    vm_status status;    /* VM_OK, or why the source or the write failed */
    const char *error;   /* with status != VM_OK; no password */
    int changed;         /* a new generation was written */
    uint64_t generation; /* generation on disk after the step */
    uint32_t count;      /* instances in it */
    /* with status VM_OK: why the cron figures file could not be written
     * (the status page shows older figures meanwhile), else NULL */
    const char *figures_error;
    /* rejections that the previous snapshot did not have: log these */
    apr_array_header_t *new_rejections; /* vm_rejection */
} vm_refresh_result;

/* One refresh of the snapshot at path from src.  A new generation is
 * numbered above both the file's and 'floor' (the last one the caller
 * saw, in case the file was lost).  Allocates from p. */
void vm_refresh(vm_source *src, const char *path, uint64_t floor, apr_pool_t *p,
                vm_refresh_result *res);

#endif
