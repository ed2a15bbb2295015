/* Per-site request counters in one block of shared memory: a header, a
 * fixed array of site slots and an open-addressing index from (table,
 * instance id) to slot.  The caller owns the memory (the module keeps it
 * across graceful restarts); this file only lays it out.
 *
 * Every Apache child and thread counts into it with relaxed atomic adds:
 * no lock on the request path.  Only the table's writer changes which
 * slot belongs to which site (vm_metrics_sync, at each new generation),
 * under a spin lock in the header: a site keeps its slot, so its figures,
 * for as long as it stays in the table, whatever else changes. */
#ifndef VM_METRICS_H
#define VM_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Status classes: 1xx and 2xx count as 2xx, 6xx+ as 5xx. */
enum {
    VM_METRICS_2XX,
    VM_METRICS_3XX,
    VM_METRICS_4XX,
    VM_METRICS_5XX,
    VM_METRICS_CLASSES
};

/* Requests refused before reaching a site, and those with no table. */
enum {
    VM_METRICS_UNKNOWN_HOST,
    VM_METRICS_DISABLED,
    VM_METRICS_BAD_HOST,
    VM_METRICS_NO_PLATFORM,
    VM_METRICS_NO_TABLE,
    VM_METRICS_REFUSALS
};

/* The duration histogram's upper bounds, microseconds (+Inf is the
 * request count). */
#define VM_METRICS_BUCKETS 7
extern const uint64_t vm_metrics_bucket_us[VM_METRICS_BUCKETS];

/* One site's counters: 128 bytes, two cache lines. */
typedef struct vm_metrics_site {
    int64_t id;     /* the row's id; 0: free slot */
    uint32_t table; /* vm_metrics_table_tag of its table */
    uint32_t seen;  /* the sync that last found it */
    uint64_t requests[VM_METRICS_CLASSES];
    uint64_t bytes;                       /* body bytes sent */
    uint64_t duration_us;                 /* sum */
    uint64_t buckets[VM_METRICS_BUCKETS]; /* not cumulative */
    uint64_t spare;
} vm_metrics_site;

/* Figures summed over a table's sites, including the sites that left. */
typedef struct {
    uint64_t requests[VM_METRICS_CLASSES];
    uint64_t bytes;
} vm_metrics_totals;

typedef struct vm_metrics vm_metrics;

/* Bytes of shared memory for capacity sites. */
size_t vm_metrics_size(uint32_t capacity);

/* Lay out mem (size bytes, zero-filled, e.g. fresh anonymous shared
 * memory) for capacity sites.  NULL when size is too small. */
vm_metrics *vm_metrics_init(void *mem, size_t size, uint32_t capacity);
/* mem laid out before (by a previous configuration): NULL unless it was
 * laid out for exactly this capacity. */
vm_metrics *vm_metrics_attach(void *mem, size_t size, uint32_t capacity);
uint32_t vm_metrics_capacity(const vm_metrics *m);

/* A table's tag: a hash of its snapshot path, never 0. */
uint32_t vm_metrics_table_tag(const char *snapshot_path);

/* The key of a table's master (VMoodleMaster) among its sites: no row has
 * a negative id, so it is no site's. */
#define VM_METRICS_MASTER INT64_MIN

/* The request path: the site's slot (NULL when it has none: the table
 * grew past capacity, or it left the table), then one request's figures. */
vm_metrics_site *vm_metrics_find(vm_metrics *m, uint32_t table, int64_t id);
void vm_metrics_count(vm_metrics_site *s, int status, uint64_t bytes,
                      uint64_t duration_us);
/* A request that reached no site slot. */
void vm_metrics_refused(vm_metrics *m, int reason);
void vm_metrics_uncounted(vm_metrics *m);

/* The writer, at each new generation of a table: ids[0..n-1] are its
 * instances.  New ids get a free slot (zeroed); sites that left the table
 * give theirs back, their figures added to the table's totals.  Returns
 * how many ids found no slot (capacity full). */
uint32_t vm_metrics_sync(vm_metrics *m, uint32_t table, const int64_t *ids,
                         uint32_t n);

/* Readers (the metrics page): a consistent-enough copy of each figure. */
void vm_metrics_read(const vm_metrics_site *s, vm_metrics_site *out);
uint64_t vm_metrics_refusals(const vm_metrics *m, int reason);
uint64_t vm_metrics_uncounted_requests(const vm_metrics *m);
/* A table's totals: its sites' figures plus those of sites that left. */
void vm_metrics_table_totals(const vm_metrics *m, uint32_t table,
                             vm_metrics_totals *out);
/* Sites holding a slot (every table). */
uint32_t vm_metrics_used(const vm_metrics *m);

#endif
