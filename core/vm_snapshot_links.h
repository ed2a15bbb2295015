/* The keys of a snapshot that are no site's own: each alias, and each host
 * that has sites under paths but none at its root; and which sites' hosts
 * have sites under paths.  Planned from a table, for the writer. */
#ifndef VM_SNAPSHOT_LINKS_H
#define VM_SNAPSHOT_LINKS_H

#include <stdint.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include "vm_table.h"

typedef struct {
    const char *key;
    uint32_t target; /* instance index + 1; 0: no site at this key */
    uint32_t flags;  /* VM_SNAP_PATHS */
} vm_snap_link_plan;

/* *links: vm_snap_link_plan, aliases in instance order then path hosts;
 * *record_paths: per instance, 1 when paths of its host hold sites (NULL
 * when no host has any). */
void vm_snap_links_plan(const vm_table *t, apr_pool_t *p,
                        apr_array_header_t **links,
                        unsigned char **record_paths);

#endif
