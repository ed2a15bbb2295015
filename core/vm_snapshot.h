/* The compiled table: one file, written by one writer (temporary file,
 * fsync, rename) and mapped read-only by every reader, so all Apache
 * children share one copy.
 *
 * Layout: header (magic, version, sizes, generation, checksum), an
 * open-addressing hash index of host keys, fixed-size instance records, the
 * rejections, and a string area.  All offsets are checked when the file is
 * opened, so a lookup can trust them: O(1), no allocation, no system call. */
#ifndef VM_SNAPSHOT_H
#define VM_SNAPSHOT_H

#include <stdint.h>
#include <apr_pools.h>
#include "vm_status.h"
#include "vm_table.h"

typedef struct vm_snapshot vm_snapshot;

typedef struct {
    uint64_t generation;   /* increases by one with every new content */
    int64_t created;       /* seconds since the epoch */
    const char *source;    /* source description, password masked */
} vm_snapshot_meta;

/* Write t as a snapshot at path, atomically.  The previous file stays in
 * place until the new one is complete. */
vm_status vm_snapshot_write(const char *path, const vm_table *t,
                            const vm_snapshot_meta *meta, apr_pool_t *p,
                            const char **err);

/* Map and verify a snapshot (checksum, bounds of every offset).  The handle
 * is malloc'd: release it with vm_snapshot_close().  *err is static or from
 * p. */
vm_status vm_snapshot_open(vm_snapshot **out, const char *path, apr_pool_t *p,
                           const char **err);
void vm_snapshot_close(vm_snapshot *s);

uint64_t vm_snapshot_generation(const vm_snapshot *s);
int64_t vm_snapshot_created(const vm_snapshot *s);
const char *vm_snapshot_source(const vm_snapshot *s);
/* Checksum of the content alone (not the generation or time): equal
 * digests mean the same instances and rejections. */
uint64_t vm_snapshot_digest(const vm_snapshot *s);
uint32_t vm_snapshot_count(const vm_snapshot *s);
uint32_t vm_snapshot_rejection_count(const vm_snapshot *s);

/* Look up a canonical key.  Fills *out with pointers into the mapping
 * (valid while the snapshot is open).  Returns 1 when found. */
int vm_snapshot_lookup(const vm_snapshot *s, const char *key, size_t keylen,
                       vm_instance *out);

/* Instance or rejection by position (0 .. count-1), in id order. */
void vm_snapshot_instance(const vm_snapshot *s, uint32_t i, vm_instance *out);
void vm_snapshot_rejection(const vm_snapshot *s, uint32_t i,
                           vm_rejection *out);

/* The digest a table would have as a snapshot, to skip rewriting an
 * unchanged table. */
uint64_t vm_table_digest(const vm_table *t);

#endif
