/* Each site's use against its quota, as `vmoodlectl usage` last measured
 * it, in its usage file (vmoodlectl's usage-file setting; the module's
 * VMoodleUsage reads it for the status page and the metrics): per site id
 * the dataroot's and the database's bytes, the quota then in force and
 * when.  Ids and figures only (no secret): mode 0644.  A run replaces the
 * whole file at once (a reader sees the old file or the new one), keeping
 * the entries of the sites it did not measure; writers take <file>.lock.
 * A reader's look-up is a binary search: nothing is parsed per site. */
#ifndef VM_USAGE_H
#define VM_USAGE_H

#include <stdint.h>
#include <apr_pools.h>
#include "vm_status.h"

#define VM_USAGE_WARN_PERCENT 85 /* from here a site is marked */

typedef struct {
    int64_t id;
    uint64_t dataroot_bytes, database_bytes;
    uint64_t quota_bytes; /* 0: none */
    int64_t measured;     /* seconds since the epoch */
} vm_usage_entry;

typedef enum {
    VM_USAGE_NO_QUOTA,
    VM_USAGE_OK,
    VM_USAGE_WARNING, /* at or over VM_USAGE_WARN_PERCENT */
    VM_USAGE_OVER     /* over the quota */
} vm_usage_level;

/* used against quota: the level, and (when pc is not NULL) the percent,
 * rounded down (0 without a quota). */
vm_usage_level vm_usage_level_of(uint64_t used, uint64_t quota, int *pc);
/* "none", "ok", "warning", "over". */
const char *vm_usage_level_name(vm_usage_level l);
/* "512 B", "1.5 GiB" (powers of 1024).  From p. */
const char *vm_bytes_text(uint64_t n, apr_pool_t *p);
/* An entry's use: dataroot and database. */
uint64_t vm_usage_used(const vm_usage_entry *e);

typedef struct vm_usage vm_usage;

/* Read and check the file; a missing file is an empty one.  From p. */
vm_status vm_usage_load(vm_usage **out, const char *path, apr_pool_t *p,
                        const char **err);
/* The entry of id, NULL when none. */
const vm_usage_entry *vm_usage_get(const vm_usage *u, int64_t id);
/* Record n entries (any order, ids distinct), keeping the others. */
vm_status vm_usage_record(const char *path, const vm_usage_entry *e, int n,
                          apr_pool_t *p, const char **err);

#endif
