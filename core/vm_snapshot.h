/* The compiled table: one file, written by one writer (temporary file,
 * fsync, rename) and mapped read-only by every reader, so all Apache
 * children share one copy.
 *
 * Layout (vm_snapshot_format.h): header (magic, version, sizes,
 * generation, checksum), an open-addressing index of key fingerprints,
 * fixed-size instance records, the rejections, and a string area.  All
 * offsets are checked when the file is opened, so a lookup can trust them:
 * O(1), no allocation, no system call.
 *
 * Routing content only: the cron figures (croncount, lastcron,
 * lastcrongap) change with every cron run and live beside the snapshot
 * (vm_cron_figures.h), so a cron run never makes a generation. */
#ifndef VM_SNAPSHOT_H
#define VM_SNAPSHOT_H

#include <stdint.h>
#include <apr_pools.h>
#include "vm_env.h"
#include "vm_status.h"
#include "vm_table.h"

typedef struct vm_snapshot vm_snapshot;
typedef struct vm_snapshot_image vm_snapshot_image;
/* A record found by vm_snapshot_find, valid while the snapshot is open. */
typedef struct vm_snap_record vm_snapshot_entry;

typedef struct {
    uint64_t generation; /* increases by one with every new content */
    int64_t created;     /* seconds since the epoch */
    const char *source;  /* source description, password masked */
} vm_snapshot_meta;

/* Lay t out as a snapshot image, once per change: its digest tells whether
 * it differs from the snapshot on disk, and the same image is written. */
vm_status vm_snapshot_build(vm_snapshot_image **out, const vm_table *t,
                            const char *source, apr_pool_t *p,
                            const char **err);
uint64_t vm_snapshot_image_digest(const vm_snapshot_image *img);
/* Stamp the image with meta's generation and time and write it at path,
 * atomically (meta's source is the one given at build). */
vm_status vm_snapshot_image_write(vm_snapshot_image *img, const char *path,
                                  const vm_snapshot_meta *meta, apr_pool_t *p,
                                  const char **err);

/* Build and write in one step.  The previous file stays in place until
 * the new one is complete. */
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

/* Find a site by its own canonical key (NULL when absent), then read
 * what routing needs from the entry.  The values are pointers into the
 * mapping, NUL-terminated, valid while the snapshot is open. */
const vm_snapshot_entry *vm_snapshot_find(const vm_snapshot *s, const char *key,
                                          size_t keylen);
int vm_snapshot_entry_enabled(const vm_snapshot_entry *e);
long long vm_snapshot_entry_id(const vm_snapshot_entry *e);
/* values[i] is the value of vm_env_names[i]. */
void vm_snapshot_entry_env(const vm_snapshot *s, const vm_snapshot_entry *e,
                           const char *values[VM_ENV_COUNT]);
/* The same, each value written stride bytes after the previous one from
 * first on (into the value fields of an array of structures). */
void vm_snapshot_entry_env_into(const vm_snapshot *s,
                                const vm_snapshot_entry *e, void *first,
                                size_t stride);

/* Where a request goes: the host's key and the request's path (r->uri).
 * A host whose paths hold sites costs one lookup more, for its first
 * segment.  Returns 0 for no site; else out->site, and
 *   alias   1: the key is an alias of the site: answer 301 to its wwwroot;
 *   prefix  bytes of path that the matched key's path took ("/school1":
 *           8; 0 when the key has no path); what follows is the path
 *           under the site's (or the alias's) root: "" or "/...". */
typedef struct {
    const vm_snapshot_entry *site;
    int alias;
    size_t prefix;
    const char *path; /* the matched key's path, those prefix bytes
                         ("/school1", or ""), in the snapshot */
} vm_snapshot_route_result;

int vm_snapshot_route(const vm_snapshot *s, const char *key, size_t keylen,
                      const char *path, vm_snapshot_route_result *out);
/* The same with the key's vm_hash_key already known
 * (vm_host_request_key_hashed). */
int vm_snapshot_route_hashed(const vm_snapshot *s, const char *key,
                             size_t keylen, uint32_t hash, const char *path,
                             vm_snapshot_route_result *out);
const char *vm_snapshot_entry_platform(const vm_snapshot *s,
                                       const vm_snapshot_entry *e);
const char *vm_snapshot_entry_wwwroot(const vm_snapshot *s,
                                      const vm_snapshot_entry *e);

/* Look up a canonical key and fill *out with pointers into the mapping;
 * the cron figures are 0 (see vm_cron_figures.h).  Returns 1 when found. */
int vm_snapshot_lookup(const vm_snapshot *s, const char *key, size_t keylen,
                       vm_instance *out);

/* Instance or rejection by position (0 .. count-1), in id order. */
void vm_snapshot_instance(const vm_snapshot *s, uint32_t i, vm_instance *out);
void vm_snapshot_rejection(const vm_snapshot *s, uint32_t i, vm_rejection *out);

/* The digest a table would have as a snapshot (tests, tools). */
uint64_t vm_table_digest(const vm_table *t);

#endif
