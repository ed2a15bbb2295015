/* Per-site counters in shared memory, see vm_metrics.h.
 *
 * Layout: header | slots[capacity] | index[index_size] (uint32: slot + 1,
 * 0 empty, TOMB a slot given back).  Readers probe the index without a
 * lock and check the slot's id and table, so a slot that changes hands
 * under them is skipped, never miscounted for long: the writer sets a
 * slot's id and table before the index entry that leads to it. */
#include <sched.h>
#include <string.h>
#include "vm_hash.h"
#include "vm_metrics.h"

#define METRICS_MAGIC 0x564d4d4554524331ULL /* "VMMETRC1" */
#define TOMB UINT32_MAX
#define RETIRED_TABLES 16 /* tables whose leavers' figures are kept */
#define LOCK_SPINS (1u << 24)

typedef struct {
    uint32_t table;
    vm_metrics_totals totals;
} retired;

struct vm_metrics {
    uint64_t magic;
    uint32_t capacity, index_size;
    uint32_t shift;  /* 64 - log2(index_size) */
    uint32_t lock;   /* writers only */
    uint32_t epoch;  /* syncs so far */
    uint32_t hint;   /* where to look for a free slot */
    uint32_t used;   /* slots held */
    uint32_t filled; /* index entries not empty (live + TOMB) */
    uint64_t refusals[VM_METRICS_REFUSALS];
    uint64_t uncounted;
    retired gone[RETIRED_TABLES];
};

const uint64_t vm_metrics_bucket_us[VM_METRICS_BUCKETS] = {
    25000, 100000, 250000, 500000, 1000000, 2500000, 10000000
};

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static vm_metrics_site *slots(const vm_metrics *m)
{
    return (vm_metrics_site *)((char *)(uintptr_t)m
                               + ((sizeof *m + 63) & ~(size_t)63));
}

static uint32_t *index_of(const vm_metrics *m)
{
    return (uint32_t *)(slots(m) + m->capacity);
}

static uint32_t index_size_for(uint32_t capacity)
{
    uint32_t n = 64;

    while (n < 2 * (uint64_t)capacity && n < (1u << 30))
        n <<= 1;
    return n;
}

size_t vm_metrics_size(uint32_t capacity)
{
    return ((sizeof(vm_metrics) + 63) & ~(size_t)63)
        + sizeof(vm_metrics_site) * (size_t)capacity
        + sizeof(uint32_t) * (size_t)index_size_for(capacity);
}

vm_metrics *vm_metrics_init(void *mem, size_t size, uint32_t capacity)
{
    vm_metrics *m = mem;

    if (capacity == 0 || size < vm_metrics_size(capacity))
        return NULL;
    memset(m, 0, sizeof *m);
    m->capacity = capacity;
    m->index_size = index_size_for(capacity);
    m->shift = 64;
    while ((1ull << (64 - m->shift)) < m->index_size)
        m->shift--;
    STORE(&m->magic, METRICS_MAGIC);
    return m;
}

vm_metrics *vm_metrics_attach(void *mem, size_t size, uint32_t capacity)
{
    vm_metrics *m = mem;

    if (size < vm_metrics_size(capacity) || LOAD(&m->magic) != METRICS_MAGIC
        || m->capacity != capacity)
        return NULL;
    return m;
}

uint32_t vm_metrics_capacity(const vm_metrics *m)
{
    return m->capacity;
}

uint32_t vm_metrics_table_tag(const char *snapshot_path)
{
    uint64_t h = vm_hash_bytes(VM_HASH_SEED, snapshot_path,
                               strlen(snapshot_path));
    uint32_t tag = (uint32_t)(h ^ (h >> 32));

    return tag ? tag : 1;
}

/* Fibonacci hashing: the product's top bits, which every bit of the id
 * reaches (ids are often consecutive). */
static uint32_t home(const vm_metrics *m, uint32_t table, int64_t id)
{
    uint64_t x = ((uint64_t)id ^ ((uint64_t)table << 32))
        * 0x9e3779b97f4a7c15ULL;

    return (uint32_t)(x >> m->shift);
}

/* On every routed request: kept short.  The writer keeps a quarter of the
 * index empty (take_slot), so a probe ends at an empty entry; the bound
 * only guards against a damaged block. */
vm_metrics_site *vm_metrics_find(vm_metrics *m, uint32_t table, int64_t id)
{
    uint32_t *index = index_of(m), mask = m->index_size - 1;
    uint32_t i = home(m, table, id), left;

    for (left = m->index_size; left; left--, i = (i + 1) & mask) {
        uint32_t v = __atomic_load_n(&index[i], __ATOMIC_ACQUIRE);

        if (v - 1 < TOMB - 1) { /* a live entry: neither 0 nor TOMB */
            vm_metrics_site *s = &slots(m)[v - 1];
            if (LOAD(&s->id) == id && LOAD(&s->table) == table)
                return s;
        } else if (v == 0) {
            return NULL;
        }
    }
    return NULL;
}

void vm_metrics_count(vm_metrics_site *s, int status, uint64_t bytes,
                      uint64_t duration_us)
{
    /* 1xx joins 2xx, 6xx and up join 5xx; comparisons, not a division */
    int cls = (status >= 300) + (status >= 400) + (status >= 500), b = 0;

    while (b < VM_METRICS_BUCKETS && duration_us > vm_metrics_bucket_us[b])
        b++;
    ADD(&s->requests[cls], 1);
    ADD(&s->bytes, bytes);
    ADD(&s->duration_us, duration_us);
    if (b < VM_METRICS_BUCKETS)
        ADD(&s->buckets[b], 1);
}

void vm_metrics_refused(vm_metrics *m, int reason)
{
    if (reason >= 0 && reason < VM_METRICS_REFUSALS)
        ADD(&m->refusals[reason], 1);
}

void vm_metrics_uncounted(vm_metrics *m)
{
    ADD(&m->uncounted, 1);
}

/* ---- the writer's side ------------------------------------------------ */

/* A spin lock between writers (one per table, rarely at once).  A writer
 * that died holding it (a killed child) is waited out, then ignored. */
static void lock(vm_metrics *m)
{
    uint32_t spins;

    for (spins = 0; spins < LOCK_SPINS; spins++) {
        uint32_t free_ = 0;
        if (__atomic_compare_exchange_n(&m->lock, &free_, 1, 0,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
        sched_yield();
    }
}

static void unlock(vm_metrics *m)
{
    __atomic_store_n(&m->lock, 0, __ATOMIC_RELEASE);
}

static retired *retired_of(vm_metrics *m, uint32_t table)
{
    int i;

    for (i = 0; i < RETIRED_TABLES; i++)
        if (m->gone[i].table == table || m->gone[i].table == 0) {
            m->gone[i].table = table;
            return &m->gone[i];
        }
    return &m->gone[RETIRED_TABLES - 1]; /* shared beyond that many */
}

static void index_put(vm_metrics *m, uint32_t table, int64_t id, uint32_t slot)
{
    uint32_t *index = index_of(m), mask = m->index_size - 1;
    uint32_t i = home(m, table, id);

    while (index[i] != 0 && index[i] != TOMB)
        i = (i + 1) & mask;
    if (index[i] == 0)
        m->filled++;
    __atomic_store_n(&index[i], slot + 1, __ATOMIC_RELEASE);
}

/* Too many tombstones make probes long: lay the index out again.  A reader
 * probing meanwhile may miss a site once (counted as uncounted). */
static void reindex(vm_metrics *m)
{
    uint32_t *index = index_of(m), i;

    for (i = 0; i < m->index_size; i++)
        __atomic_store_n(&index[i], 0, __ATOMIC_RELEASE);
    m->filled = 0;
    for (i = 0; i < m->capacity; i++)
        if (slots(m)[i].id != 0)
            index_put(m, slots(m)[i].table, slots(m)[i].id, i);
}

static vm_metrics_site *take_slot(vm_metrics *m, uint32_t table, int64_t id)
{
    uint32_t tries;

    if (m->used >= m->capacity)
        return NULL;
    if ((uint64_t)m->filled + 1 > (uint64_t)m->index_size * 3 / 4)
        reindex(m);
    for (tries = 0; tries < m->capacity; tries++) {
        uint32_t i = m->hint;
        vm_metrics_site *s = &slots(m)[i];

        m->hint = (i + 1) % m->capacity;
        if (s->id != 0)
            continue;
        memset((char *)s + offsetof(vm_metrics_site, requests), 0,
               sizeof *s - offsetof(vm_metrics_site, requests));
        STORE(&s->table, table);
        STORE(&s->id, id);
        index_put(m, table, id, i);
        m->used++;
        return s;
    }
    return NULL;
}

/* A site left its table: its figures go to the table's totals, its slot
 * and index entry are free again. */
static void give_back(vm_metrics *m, uint32_t slot)
{
    vm_metrics_site *s = &slots(m)[slot];
    retired *r = retired_of(m, s->table);
    uint32_t *index = index_of(m), mask = m->index_size - 1;
    uint32_t i = home(m, s->table, s->id), probes;
    int c;

    for (c = 0; c < VM_METRICS_CLASSES; c++)
        r->totals.requests[c] += LOAD(&s->requests[c]);
    r->totals.bytes += LOAD(&s->bytes);
    for (probes = 0; probes < m->index_size; probes++, i = (i + 1) & mask)
        if (index[i] == slot + 1) {
            __atomic_store_n(&index[i], TOMB, __ATOMIC_RELEASE);
            break;
        }
    STORE(&s->id, 0);
    STORE(&s->table, 0);
    m->used--;
}

/* Sites that stay are marked, those that left give their slots back, and
 * only then do new sites take slots: a full block still takes in the new
 * sites of a table whose old ones left. */
uint32_t vm_metrics_sync(vm_metrics *m, uint32_t table, const int64_t *ids,
                         uint32_t n)
{
    uint32_t i, missing = 0, epoch;

    lock(m);
    epoch = ++m->epoch;
    if (epoch == 0)
        epoch = ++m->epoch;
    for (i = 0; i < n; i++) {
        vm_metrics_site *s = vm_metrics_find(m, table, ids[i]);
        if (s)
            s->seen = epoch;
    }
    for (i = 0; i < m->capacity; i++) {
        vm_metrics_site *s = &slots(m)[i];
        if (s->id != 0 && s->table == table && s->seen != epoch)
            give_back(m, i);
    }
    for (i = 0; i < n; i++) {
        vm_metrics_site *s = vm_metrics_find(m, table, ids[i]);
        if (!s && ids[i] != 0)
            s = take_slot(m, table, ids[i]);
        if (s)
            s->seen = epoch;
        else
            missing++;
    }
    unlock(m);
    return missing;
}

/* ---- readers ---------------------------------------------------------- */

void vm_metrics_read(const vm_metrics_site *s, vm_metrics_site *out)
{
    int i;

    out->id = LOAD(&s->id);
    out->table = LOAD(&s->table);
    out->seen = 0;
    for (i = 0; i < VM_METRICS_CLASSES; i++)
        out->requests[i] = LOAD(&s->requests[i]);
    out->bytes = LOAD(&s->bytes);
    out->duration_us = LOAD(&s->duration_us);
    for (i = 0; i < VM_METRICS_BUCKETS; i++)
        out->buckets[i] = LOAD(&s->buckets[i]);
    out->spare = 0;
}

uint64_t vm_metrics_refusals(const vm_metrics *m, int reason)
{
    return reason >= 0 && reason < VM_METRICS_REFUSALS
        ? LOAD(&m->refusals[reason])
        : 0;
}

uint64_t vm_metrics_uncounted_requests(const vm_metrics *m)
{
    return LOAD(&m->uncounted);
}

void vm_metrics_table_totals(const vm_metrics *m, uint32_t table,
                             vm_metrics_totals *out)
{
    uint32_t i;
    int c;

    memset(out, 0, sizeof *out);
    for (i = 0; i < RETIRED_TABLES; i++)
        if (m->gone[i].table == table)
            *out = m->gone[i].totals;
    for (i = 0; i < m->capacity; i++) {
        const vm_metrics_site *s = &slots(m)[i];
        if (LOAD(&s->id) == 0 || LOAD(&s->table) != table)
            continue;
        for (c = 0; c < VM_METRICS_CLASSES; c++)
            out->requests[c] += LOAD(&s->requests[c]);
        out->bytes += LOAD(&s->bytes);
    }
}

uint32_t vm_metrics_used(const vm_metrics *m)
{
    return LOAD(&m->used);
}
