/* Per-site counters: the shared memory that holds them, the slots the
 * writer gives each site of a new generation, and the log_transaction hook
 * that counts each request (core/vm_metrics.h lays the memory out).
 *
 * The parent creates the memory once (anonymous, inherited by every child
 * it forks, under event and prefork alike) and keeps it across graceful
 * restarts in ap_retained_data: a restart or a table change keeps every
 * site's figures.  Only a new VMoodleMetricsSites makes a new block. */
#include "mod_vmoodle.h"
#include <http_log.h>
#include <http_request.h>
#include <apr_shm.h>
#include "vm_metrics.h"

APLOG_USE_MODULE(vmoodle);

#define RETAINED_KEY "mod_vmoodle-metrics"

typedef struct {
    apr_shm_t *shm; /* in the process pool: outlives restarts */
    uint32_t capacity;
} metrics_retained;

static vm_metrics *metrics; /* this configuration's; NULL: not counting */
uintptr_t vmoodle_metrics_start, vmoodle_metrics_end; /* its bytes */

static apr_status_t forget_metrics(void *unused)
{
    (void)unused;
    metrics = NULL;
    vmoodle_metrics_start = vmoodle_metrics_end = 0;
    return APR_SUCCESS;
}

/* Counting is on when some server routes with it. */
static int wanted(server_rec *main_s)
{
    server_rec *s;

    for (s = main_s; s; s = s->next)
        if (VMOODLE_CONF(s)->engine && VMOODLE_CONF(s)->metrics)
            return 1;
    return 0;
}

static vm_metrics *create_block(metrics_retained *kept, uint32_t capacity,
                                server_rec *s)
{
    size_t size = vm_metrics_size(capacity);
    apr_status_t rv;

    if (kept->shm)
        apr_shm_destroy(kept->shm); /* older children keep their map */
    kept->shm = NULL;
    rv = apr_shm_create(&kept->shm, size, NULL, s->process->pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(
            APLOG_MARK, APLOG_ERR, rv, s,
            VMLOGNO(00120) "cannot create %" APR_SIZE_T_FMT " bytes of shared "
                           "memory for the counters of %u sites: no request is "
                           "counted",
            (apr_size_t)size, capacity);
        kept->shm = NULL;
        return NULL;
    }
    kept->capacity = capacity;
    /* fresh anonymous memory is zero-filled: only used pages are touched */
    return vm_metrics_init(apr_shm_baseaddr_get(kept->shm), size, capacity);
}

int vmoodle_metrics_post_config(apr_pool_t *pconf, server_rec *s)
{
    uint32_t capacity = (uint32_t)VMOODLE_CONF(s)->metrics_sites;
    metrics_retained *kept = ap_retained_data_get(RETAINED_KEY);

    metrics = NULL;
    vmoodle_metrics_start = vmoodle_metrics_end = 0;
    apr_pool_cleanup_register(pconf, NULL, forget_metrics,
                              apr_pool_cleanup_null);
    if (!wanted(s))
        return OK;
    if (!kept)
        kept = ap_retained_data_create(RETAINED_KEY, sizeof *kept);
    if (kept->shm)
        metrics = vm_metrics_attach(apr_shm_baseaddr_get(kept->shm),
                                    apr_shm_size_get(kept->shm), capacity);
    if (!metrics) {
        if (kept->shm)
            ap_log_error(
                APLOG_MARK, APLOG_NOTICE, 0, s,
                VMLOGNO(00121) "VMoodleMetricsSites changed from %u to %u: the "
                               "per-site counters start again from zero",
                kept->capacity, capacity);
        metrics = create_block(kept, capacity, s);
    }
    if (metrics) {
        vmoodle_metrics_start = (uintptr_t)metrics;
        vmoodle_metrics_end = vmoodle_metrics_start + vm_metrics_size(capacity);
    }
    return OK;
}

struct vm_metrics *vmoodle_metrics(void)
{
    return metrics;
}

/* Called by the writer with each generation it publishes (and at every
 * start-up), before the processes see it.  The master, when the table's
 * server has one, is counted as a site of its own, first. */
void vmoodle_metrics_sync(vmoodle_table *t, const vm_snapshot *snap)
{
    const vmoodle_table_spec *spec = vmoodle_table_spec_of(t);
    uint32_t n = vm_snapshot_count(snap), i, k = 0, missing;
    int64_t *ids;
    vm_instance in;

    if (!metrics)
        return;
    if (!(ids = malloc(sizeof *ids * ((size_t)n + 1))))
        return;
    if (VMOODLE_CONF(spec->server)->master_key)
        ids[k++] = VM_METRICS_MASTER;
    for (i = 0; i < n; i++) {
        vm_snapshot_instance(snap, i, &in);
        ids[k++] = in.id;
    }
    missing = vm_metrics_sync(metrics, spec->metrics_tag, ids, k);
    free(ids);
    if (missing)
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, spec->server,
            VMLOGNO(
                00122) "table %s: %u sites have no counters "
                       "(VMoodleMetricsSites %u is full): their requests are "
                       "counted together as uncounted",
            spec->source_display, missing, vm_metrics_capacity(metrics));
}

void vmoodle_metrics_note_site(request_rec *r, uint32_t tag, long long id)
{
    vm_metrics_site *site;
    vmoodle_note *note;

    if (!metrics || !VMOODLE_CONF(r->server)->metrics)
        return;
    if ((site = vm_metrics_find(metrics, tag, (int64_t)id)) == NULL)
        vm_metrics_uncounted(metrics);
    else if ((note = ap_get_module_config(r->request_config, &vmoodle_module))
             != NULL)
        note->counters = site; /* a path or platform site */
    else
        ap_set_module_config(r->request_config, &vmoodle_module, site);
}

void vmoodle_metrics_refusal(request_rec *r, int reason)
{
    if (metrics && VMOODLE_CONF(r->server)->metrics)
        vm_metrics_refused(metrics, reason);
}

/* Late, once per request (not per subrequest or internal redirect): the
 * final answer's status and body bytes, as mod_log_config's %>s and %B. */
int vmoodle_metrics_log(request_rec *r)
{
    vm_metrics_site *site;
    request_rec *last = r;

    if (!metrics)
        return DECLINED;
    while (r->prev)
        r = r->prev;
    site = ap_get_module_config(r->request_config, &vmoodle_module);
    if (site && !vmoodle_metrics_is_site(site))
        site = ((vmoodle_note *)(void *)site)->counters; /* or NULL */
    if (!site)
        return DECLINED;
    while (last->next)
        last = last->next;
    vm_metrics_count(site, last->status, (uint64_t)last->bytes_sent,
                     (uint64_t)(apr_time_now() - r->request_time));
    return DECLINED;
}
