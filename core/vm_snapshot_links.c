/* Planning a snapshot's links: aliases, and the hosts whose first path
 * segment selects a site. */
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "vm_snapshot_format.h"
#include "vm_snapshot_links.h"

typedef struct {
    apr_array_header_t *links;
    uint32_t target;
    apr_hash_t *path_hosts; /* host key -> 1 (resolved) or 0 */
    apr_pool_t *p;
} planner;

static void note_path_host(planner *pl, const char *key, size_t len)
{
    const char *slash = memchr(key, '/', len);

    if (slash) {
        const char *host = apr_pstrndup(pl->p, key, (apr_size_t)(slash - key));
        if (!apr_hash_get(pl->path_hosts, host, APR_HASH_KEY_STRING))
            apr_hash_set(pl->path_hosts, host, APR_HASH_KEY_STRING, "");
    }
}

static int add_alias(const char *key, size_t len, void *ctx)
{
    planner *pl = ctx;
    vm_snap_link_plan *l = apr_array_push(pl->links);

    l->key = apr_pstrndup(pl->p, key, len);
    l->target = pl->target;
    l->flags = 0;
    note_path_host(pl, key, len);
    return 0;
}

/* Mark a host of path sites where a key of its own exists; "done" once
 * marked, so a host gets one mark. */
static int mark(planner *pl, const char *key)
{
    const char *state = apr_hash_get(pl->path_hosts, key, APR_HASH_KEY_STRING);

    if (!state || *state)
        return 0;
    apr_hash_set(pl->path_hosts, key, APR_HASH_KEY_STRING, "done");
    return 1;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const vm_snap_link_plan *)a)->key,
                  ((const vm_snap_link_plan *)b)->key);
}

void vm_snap_links_plan(const vm_table *t, apr_pool_t *p,
                        apr_array_header_t **links,
                        unsigned char **record_paths)
{
    planner pl = { apr_array_make(p, 4, sizeof(vm_snap_link_plan)), 0,
                   apr_hash_make(p), p };
    apr_hash_index_t *hi;
    int i, nlinks;

    for (i = 0; i < t->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        pl.target = (uint32_t)i + 1;
        note_path_host(&pl, in->key, strlen(in->key));
        vm_aliases_each(in->aliases, add_alias, &pl);
    }
    *links = pl.links;
    *record_paths = NULL;
    if (apr_hash_count(pl.path_hosts) == 0)
        return;
    *record_paths = apr_pcalloc(p, (apr_size_t)t->instances->nelts + 1);
    for (i = 0; i < t->instances->nelts; i++)
        (*record_paths)[i] = (unsigned char)
            mark(&pl, APR_ARRAY_IDX(t->instances, i, vm_instance).key);
    nlinks = pl.links->nelts;
    for (i = 0; i < nlinks; i++) {
        vm_snap_link_plan *l = &APR_ARRAY_IDX(pl.links, i, vm_snap_link_plan);
        if (mark(&pl, l->key))
            l->flags |= VM_SNAP_PATHS;
    }
    for (hi = apr_hash_first(p, pl.path_hosts); hi; hi = apr_hash_next(hi)) {
        const void *host;
        void *state;
        apr_hash_this(hi, &host, NULL, &state);
        if (!*(const char *)state) {
            vm_snap_link_plan *l = apr_array_push(pl.links);
            l->key = host;
            l->target = 0;
            l->flags = VM_SNAP_PATHS;
        }
    }
    /* the hash's order changes from process to process; the digest of
     * one table may not */
    qsort(pl.links->elts + (size_t)nlinks * sizeof(vm_snap_link_plan),
          (size_t)(pl.links->nelts - nlinks), sizeof(vm_snap_link_plan),
          by_key);
}
