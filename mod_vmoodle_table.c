/* The snapshot as every process sees it.  The writer publishes a new
 * generation by writing its number into shared memory; each process maps
 * that generation on its next request and keeps the old one mapped until
 * the last request holding it ends.
 *
 * A request takes the current generation without the mutex (the common
 * case: nothing new to map): it counts itself in t->entering, reads
 * t->current and takes a reference.  The thread that installs a newer
 * generation waits until no request is between those two steps before it
 * drops the old one's "current" reference, so a request never takes a
 * reference on a generation already freed.  All of these are sequentially
 * consistent atomics: the installer's store and its read of entering, and
 * a request's increment and its read of current, cannot both miss. */
#include "mod_vmoodle.h"
#include "vm_metrics.h"
#include <stdlib.h>
#include <http_log.h>
#include <apr_atomic.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

APLOG_USE_MODULE(vmoodle);

struct vmoodle_shared {
    apr_uint64_t generation; /* newest published; 0: none */
    apr_uint32_t seq;        /* odd while info is being written */
    vmoodle_refresh_info info;
};

struct vmoodle_table {
    vmoodle_table_spec spec;
    struct vmoodle_shared *shared; /* in shared memory */
    /* this process's view */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *mapped;          /* signalled when a mapping ends */
    struct vmoodle_generation *current; /* written under the mutex */
    unsigned entering;   /* requests taking current without the mutex */
    int mapping;         /* a thread is mapping a generation */
    uint64_t refused;    /* the newest this process could not map */
    apr_time_t retry_at; /* not before: map it again */
    apr_interval_time_t retry_wait; /* the last wait, doubled per failure */
    vmoodle_table *next;            /* all tables of the configuration */
};

struct vmoodle_generation {
    vm_snapshot *snap;
    uint64_t number;
    unsigned refs; /* requests holding it, +1 while current; atomic */
};

/* Tables of the current configuration; rebuilt at every (re)start. */
static vmoodle_table *tables;
static apr_shm_t *shm;

static apr_status_t forget_tables(void *unused)
{
    (void)unused;
    tables = NULL;
    shm = NULL;
    return APR_SUCCESS;
}

vmoodle_table *vmoodle_table_get(apr_pool_t *pconf, server_rec *s,
                                 vmoodle_server_conf *c)
{
    const char *path = vmoodle_snapshot_path(c, pconf);
    vmoodle_table *t;

    for (t = tables; t; t = t->next)
        if (strcmp(t->spec.snapshot_path, path) == 0)
            return t;
    if (!tables)
        apr_pool_cleanup_register(pconf, NULL, forget_tables,
                                  apr_pool_cleanup_null);
    t = apr_pcalloc(pconf, sizeof *t);
    t->spec.snapshot_path = path;
    t->spec.source_spec = c->source;
    t->spec.table_name = c->table_name;
    t->spec.source_display = vm_source_mask(c->source, pconf);
    t->spec.refresh = apr_time_from_sec(c->refresh);
    t->spec.server = s;
    t->spec.metrics_tag = vm_metrics_table_tag(path);
    t->next = tables;
    tables = t;
    return t;
}

vmoodle_table *vmoodle_tables_first(void)
{
    return tables;
}

vmoodle_table *vmoodle_table_next(const vmoodle_table *t)
{
    return t->next;
}

const vmoodle_table_spec *vmoodle_table_spec_of(const vmoodle_table *t)
{
    return &t->spec;
}

apr_status_t vmoodle_tables_init_shared(apr_pool_t *pconf, server_rec *s)
{
    struct vmoodle_shared *slots;
    vmoodle_table *t;
    apr_size_t n = 0;
    apr_status_t rv;

    for (t = tables; t; t = t->next)
        n++;
    if (n == 0)
        return APR_SUCCESS;
    rv = apr_shm_create(&shm, n * sizeof *slots, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     VMLOGNO(00001) "cannot create shared memory for the "
                                    "instance tables");
        return rv;
    }
    slots = apr_shm_baseaddr_get(shm);
    memset(slots, 0, n * sizeof *slots);
    for (t = tables; t; t = t->next)
        t->shared = slots++;
    return APR_SUCCESS;
}

void vmoodle_tables_child_init(apr_pool_t *pchild, server_rec *s)
{
    vmoodle_table *t;
    apr_status_t rv;

    for (t = tables; t; t = t->next)
        if ((rv = apr_thread_mutex_create(&t->mutex, APR_THREAD_MUTEX_DEFAULT,
                                          pchild))
                != APR_SUCCESS
            || (rv = apr_thread_cond_create(&t->mapped, pchild))
                != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         VMLOGNO(00002) "cannot create a mutex for %s",
                         t->spec.snapshot_path);
            t->mutex = NULL; /* no table in this process: 503 */
        }
}

const char *vmoodle_live_path(const vmoodle_table *t, uint64_t generation,
                              apr_pool_t *p)
{
    return apr_psprintf(p, "%s.live.%" APR_UINT64_T_FMT, t->spec.snapshot_path,
                        (apr_uint64_t)generation);
}

uint64_t vmoodle_table_newest(vmoodle_table *t)
{
    return apr_atomic_read64(&t->shared->generation);
}

void vmoodle_table_publish(vmoodle_table *t, uint64_t generation)
{
    apr_atomic_set64(&t->shared->generation, generation);
}

/* A seqlock: one writer at a time (the refresher), readers retry. */
void vmoodle_table_info_set(vmoodle_table *t, const vmoodle_refresh_info *in)
{
    apr_atomic_inc32(&t->shared->seq);
    t->shared->info = *in;
    apr_atomic_inc32(&t->shared->seq);
}

void vmoodle_table_info_get(vmoodle_table *t, vmoodle_refresh_info *out)
{
    apr_uint32_t before;
    int tries;

    for (tries = 0; tries < 1000; tries++) {
        before = apr_atomic_read32(&t->shared->seq);
        if (before & 1)
            continue;
        *out = t->shared->info;
        if (apr_atomic_read32(&t->shared->seq) == before)
            return;
    }
    memset(out, 0, sizeof *out);
}

static struct vmoodle_generation *map_generation(vmoodle_table *t,
                                                 uint64_t number, apr_pool_t *p,
                                                 const char **err)
{
    struct vmoodle_generation *g;
    vm_snapshot *snap;

    if (vm_snapshot_open(&snap, vmoodle_live_path(t, number, p), p, err)
        != VM_OK)
        return NULL;
    if (!(g = calloc(1, sizeof *g))) {
        vm_snapshot_close(snap);
        *err = "out of memory";
        return NULL;
    }
    g->snap = snap;
    g->number = number;
    g->refs = 1; /* the "current" reference */
    return g;
}

/* Drop one reference.  The last one is dropped once the generation is
 * no longer current, when no request can take it any more. */
static void unref(struct vmoodle_generation *g)
{
    if (g && __atomic_sub_fetch(&g->refs, 1, __ATOMIC_SEQ_CST) == 0) {
        vm_snapshot_close(g->snap);
        free(g);
    }
}

/* A request's end: the generation it held (its pool's cleanup). */
static apr_status_t release_hold(void *gen)
{
    unref(gen);
    return APR_SUCCESS;
}

/* Install a freshly mapped generation unless a newer one won the race;
 * the old one's reference is dropped once no request is taking it. */
static void install_locked(vmoodle_table *t, struct vmoodle_generation *g)
{
    struct vmoodle_generation *old = t->current;

    if (old && old->number >= g->number) {
        unref(g);
        return;
    }
    __atomic_store_n(&t->current, g, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&t->entering, __ATOMIC_SEQ_CST) != 0)
        apr_thread_yield(); /* a few instructions, unless preempted */
    unref(old);
}

/* How long a process waits before mapping a refused generation again:
 * doubling from the first to the last, so a passing EMFILE or ENOMEM, or
 * a live file briefly unreadable, costs a moment, not a table change. */
#define MAP_RETRY_FIRST apr_time_from_msec(100)
#define MAP_RETRY_LAST apr_time_from_sec(5)

/* A generation this process could not map: wait before the next try.
 * Logged once per generation; the caller holds t->mutex. */
static void note_refusal_locked(vmoodle_table *t, uint64_t number,
                                const char *err, server_rec *s)
{
    if (t->refused != number) {
        t->refused = number;
        t->retry_wait = MAP_RETRY_FIRST;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     VMLOGNO(00060) "table %s: "
                                    "cannot map generation %" APR_UINT64_T_FMT
                                    ": %s; %s, "
                                    "retrying for as long as it fails",
                     t->spec.snapshot_path, (apr_uint64_t)number, err,
                     t->current ? "the previous generation stays in service"
                                : "every host answers 503 meanwhile");
    } else if ((t->retry_wait *= 2) > MAP_RETRY_LAST)
        t->retry_wait = MAP_RETRY_LAST;
    t->retry_at = apr_time_now() + t->retry_wait;
}

/* A newer generation is published that this process has not mapped, no
 * other thread is mapping it, and a refusal's wait, if any, is over.  The
 * caller holds t->mutex. */
static int due_locked(const vmoodle_table *t, uint64_t want)
{
    return want && (!t->current || t->current->number < want) && !t->mapping
        && (want != t->refused || apr_time_now() >= t->retry_at);
}

/* Map want once for the whole process: the thread that finds it due maps
 * and verifies it outside the lock, while the others go on with the
 * generation they have.  Called and returns with t->mutex held. */
static void map_once_locked(vmoodle_table *t, uint64_t want, apr_pool_t *p,
                            server_rec *s)
{
    struct vmoodle_generation *g;
    const char *err = NULL;

    t->mapping = 1;
    apr_thread_mutex_unlock(t->mutex);
    g = map_generation(t, want, p, &err);
    apr_thread_mutex_lock(t->mutex);
    t->mapping = 0;
    if (g) {
        if (t->refused == want)
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         VMLOGNO(
                             00061) "table %s: generation %" APR_UINT64_T_FMT
                                    " mapped on a later try",
                         t->spec.snapshot_path, (apr_uint64_t)want);
        install_locked(t, g);
    } else
        note_refusal_locked(t, want, err, s);
    apr_thread_cond_broadcast(t->mapped);
}

/* The current generation with a reference taken, when it is at least
 * want; else NULL (the caller takes the mutex). */
static struct vmoodle_generation *take_current(vmoodle_table *t, uint64_t want)
{
    struct vmoodle_generation *g;

    __atomic_add_fetch(&t->entering, 1, __ATOMIC_SEQ_CST);
    g = __atomic_load_n(&t->current, __ATOMIC_SEQ_CST);
    if (g && g->number >= want)
        __atomic_add_fetch(&g->refs, 1, __ATOMIC_SEQ_CST);
    else
        g = NULL;
    __atomic_sub_fetch(&t->entering, 1, __ATOMIC_SEQ_CST);
    return g;
}

/* A newer generation to map, a refused one's wait, or none yet: under
 * the mutex, as the thread that maps or beside it. */
static struct vmoodle_generation *take_locked(vmoodle_table *t, uint64_t want,
                                              apr_pool_t *p, server_rec *s)
{
    struct vmoodle_generation *g;

    apr_thread_mutex_lock(t->mutex);
    if (due_locked(t, want))
        map_once_locked(t, want, p, s);
    /* With nothing to serve meanwhile, wait for the thread that maps. */
    while (!t->current && t->mapping)
        apr_thread_cond_wait(t->mapped, t->mutex);
    g = t->current;
    if (g)
        __atomic_add_fetch(&g->refs, 1, __ATOMIC_SEQ_CST);
    apr_thread_mutex_unlock(t->mutex);
    return g;
}

const vm_snapshot *vmoodle_table_acquire_pool(vmoodle_table *t, apr_pool_t *p,
                                              server_rec *s)
{
    uint64_t want = vmoodle_table_newest(t);
    struct vmoodle_generation *g = NULL;

    if (!t->mutex)
        return NULL;
    if (want)
        g = take_current(t, want);
    if (!g && !(g = take_locked(t, want, p, s)))
        return NULL;
    /* the generation itself is the cleanup's data: nothing allocated */
    apr_pool_cleanup_register(p, g, release_hold, apr_pool_cleanup_null);
    return g->snap;
}
