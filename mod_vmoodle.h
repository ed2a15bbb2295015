/* mod_vmoodle: routes each request by Host to a virtual Moodle.
 *
 *   mod_vmoodle.c          hooks and the per-request routing
 *   mod_vmoodle_config.c   directives
 *   mod_vmoodle_table.c    the snapshot as every process sees it
 *   mod_vmoodle_refresh.c  the single writer that keeps it current
 *   mod_vmoodle_status.c   the vmoodle-status handler
 *   mod_vmoodle_health.c   the vmoodle-health handler, for balancers
 *   mod_vmoodle_metrics.c  per-site counters in shared memory
 *   mod_vmoodle_prometheus.c  the vmoodle-metrics handler (Prometheus)
 *   mod_vmoodle_status_query.c  the status page's query and summary
 *   mod_vmoodle_status_usage.c  its usage and quota figures
 *
 * The instance table itself (sources, validation, snapshot format) is the
 * httpd-free core in core/. */
#ifndef MOD_VMOODLE_H
#define MOD_VMOODLE_H

#include <httpd.h>
#include <http_config.h>
#include <apr_network_io.h>
#include "vm_platforms.h"
#include "vm_refresh.h"
#include "vm_snapshot.h"

extern module AP_MODULE_DECLARE_DATA vmoodle_module;

/* The tag that starts each of our log lines, in the manner of httpd's
 * APLOGNO: ap_log_error(..., VMLOGNO(00010) "table %s: ...", ...).  Only the
 * glue tags: the core's reasons carry none. */
#define VMLOGNO(n) "VM" #n ": "

#define VMOODLE_UNSET -1

/* Defaults, where neither a virtual host nor the main server set a value;
 * the directives' help text is built from these. */
#ifndef VM_DATADIR
#define VM_DATADIR "/usr/local/share/vmoodle" /* make sets it */
#endif
#define VMOODLE_DEFAULT_REFRESH 10      /* VMoodleRefresh */
#define VMOODLE_DEFAULT_UNKNOWN 404     /* VMoodleUnknownHost */
#define VMOODLE_DEFAULT_RETRY_AFTER 300 /* VMoodleRetryAfter */
#define VMOODLE_DEFAULT_ERROR_PAGES VM_DATADIR "/errors"
#define VMOODLE_DEFAULT_SNAPSHOT_DIR "/var/cache/apache2/vmoodle"
#define VMOODLE_DEFAULT_METRICS_SITES 100000 /* VMoodleMetricsSites */
#define VMOODLE_DEFAULT_METRICS_MAX 10000    /* VMoodleMetricsMaxSites */
/* VMoodleEngine: Off; VMoodleTable: the core's VM_DEFAULT_TABLE */

#define VMOODLE_STR_(x) #x
#define VMOODLE_STR(x) VMOODLE_STR_(x)

typedef struct vmoodle_table vmoodle_table;

/* An error page split around its {{host}} placeholder. */
typedef struct vmoodle_page_s {
    const char *before, *after;
} vmoodle_page;

typedef struct {
    int engine;             /* On/Off */
    const char *source;     /* VMoodleSource, as written */
    const char *table_name; /* VMoodleTable */
    const char *snapshot;   /* VMoodleSnapshot */
    int refresh;            /* VMoodleRefresh, seconds */
    const char *master_key; /* VMoodleMaster, canonical */
    /* VMoodleMasterConfig: the master's VMOODLE_* (vm_env_var), read as
     * root at start-up and each restart; NULL: VMOODLE_MASTER=1 alone */
    apr_array_header_t *master_env;
    int unknown_status;          /* VMoodleUnknownHost: 404 or 421 */
    apr_array_header_t *trusted; /* VMoodleTrustedProxy: apr_ipsubnet_t * */
    const char *error_pages;     /* VMoodleErrorPages directory */
    int retry_after;             /* VMoodleRetryAfter, seconds */
    const char *cron_plan;       /* VMoodleCronPlan: vcron's .plan file */
    const char *platforms_file;  /* VMoodlePlatforms, as given */
    vm_platforms *platforms;     /* its contents, read with the directive */
    int metrics;                 /* VMoodleMetrics On/Off */
    uint32_t metrics_tag;        /* its table's (resolved in post_config) */
    int metrics_sites;           /* VMoodleMetricsSites (main server's) */
    int metrics_max_sites;       /* VMoodleMetricsMaxSites */
    const char *cron_runs;       /* VMoodleCronRuns */
    const char *usage_file;      /* VMoodleUsage: vmoodlectl usage's file */
    /* resolved in post_config */
    vmoodle_table *table;
    vmoodle_page unknown_page, disabled_page;
} vmoodle_server_conf;

#define VMOODLE_CONF(s)                                              \
    ((vmoodle_server_conf *)ap_get_module_config((s)->module_config, \
                                                 &vmoodle_module))

/* mod_vmoodle_config.c */
extern const command_rec vmoodle_directives[];
void *vmoodle_create_server_conf(apr_pool_t *p, server_rec *s);
void *vmoodle_merge_server_conf(apr_pool_t *p, void *base, void *add);
/* Fill in the defaults above where nothing was set (post_config). */
void vmoodle_apply_defaults(vmoodle_server_conf *c);
const char *vmoodle_snapshot_path(const vmoodle_server_conf *c, apr_pool_t *p);

/* mod_vmoodle_table.c: one table per distinct snapshot path. */

/* The refresh state every process can read (in shared memory). */
typedef struct {
    apr_time_t time;              /* last attempt; 0: none yet */
    int ok;                       /* the last attempt succeeded */
    int from_disk;                /* serving a snapshot the source did not
                                    confirm since start-up */
    apr_time_t last_ok;           /* the last attempt that succeeded */
    apr_interval_time_t duration; /* how long the last attempt took */
    char error[512];              /* why the last attempt failed */
} vmoodle_refresh_info;

/* What a table is, fixed at configuration; its state (the generation this
 * process maps, shared memory) stays inside mod_vmoodle_table.c. */
typedef struct {
    const char *snapshot_path;
    const char *source_spec, *table_name; /* for vm_source_open */
    const char *source_display;           /* the source, password masked */
    apr_interval_time_t refresh;
    server_rec *server;   /* for logging */
    uint32_t metrics_tag; /* its sites' key in the counters */
} vmoodle_table_spec;

const vmoodle_table_spec *vmoodle_table_spec_of(const vmoodle_table *t);

/* A generation held until the given pool is destroyed (status handler). */
const vm_snapshot *vmoodle_table_acquire_pool(vmoodle_table *t, apr_pool_t *p,
                                              server_rec *s);

/* A generation as a request holds it: the snapshot stays mapped until the
 * request's pool goes away. */
static inline const vm_snapshot *vmoodle_table_acquire(vmoodle_table *t,
                                                       request_rec *r)
{
    return vmoodle_table_acquire_pool(t, r->pool, r->server);
}

vmoodle_table *vmoodle_table_get(apr_pool_t *pconf, server_rec *s,
                                 vmoodle_server_conf *c);
apr_status_t vmoodle_tables_init_shared(apr_pool_t *pconf, server_rec *s);
void vmoodle_tables_child_init(apr_pool_t *pchild, server_rec *s);
/* All tables of the configuration: for (t = first(); t; t = next(t)). */
vmoodle_table *vmoodle_tables_first(void);
vmoodle_table *vmoodle_table_next(const vmoodle_table *t);

uint64_t vmoodle_table_newest(vmoodle_table *t);
void vmoodle_table_publish(vmoodle_table *t, uint64_t generation);
void vmoodle_table_info_get(vmoodle_table *t, vmoodle_refresh_info *out);
void vmoodle_table_info_set(vmoodle_table *t, const vmoodle_refresh_info *in);
const char *vmoodle_live_path(const vmoodle_table *t, uint64_t generation,
                              apr_pool_t *p);

/* mod_vmoodle_refresh.c */
int vmoodle_refresh_post_config(apr_pool_t *pconf, server_rec *s);
void vmoodle_refresh_child_init(apr_pool_t *pchild, server_rec *s);

/* What routing decided for a request (its request_config): a refusal or
 * redirect for the quick handler to answer, or where the site's files
 * are for translate_name.  Subrequests use their main request's. */
typedef struct {
    int status;                        /* 0: served; else the answer */
    const struct vmoodle_page_s *page; /* with status: NULL = Apache's */
    const char *host;                  /* for the page */
    const char *location;              /* with a 301 */
    const char *prefix;                /* a path site's "/segment", or NULL */
    const char *docroot; /* its platform's tree; NULL: DocumentRoot */
    struct vm_metrics_site *counters; /* its site's, or NULL */
} vmoodle_note;

/* mod_vmoodle_platform.c: a routed request's files, from its platform's
 * tree and under its path. */
int vmoodle_translate(request_rec *r);
/* mod_vmoodle_metrics.c: per-site counters in shared memory kept by the
 * parent across graceful restarts (see core/vm_metrics.h). */
struct vm_metrics;
struct vm_metrics_site;
int vmoodle_metrics_post_config(apr_pool_t *pconf, server_rec *s);
/* This configuration's counters; NULL when none (no table, or Off). */
struct vm_metrics *vmoodle_metrics(void);
/* The writer published a generation: its sites keep or get their slots. */
void vmoodle_metrics_sync(vmoodle_table *t, const vm_snapshot *snap);
/* A request routed to site id of table tag (VM_METRICS_MASTER: its
 * master): its module config becomes the site's counters, which the
 * log_transaction hook (vmoodle_metrics_log) adds the request to.
 * Without counters it is counted as uncounted. */
void vmoodle_metrics_note_site(request_rec *r, uint32_t tag, long long id);
/* A refusal, counted when decided (VM_METRICS_UNKNOWN_HOST ...). */
void vmoodle_metrics_refusal(request_rec *r, int reason);
/* Whether a request's module config is a site's counters (set by
 * vmoodle_metrics_note_site) rather than a refusal: the request path
 * allocates nothing for a routed request.  Inline: every request asks. */
extern uintptr_t vmoodle_metrics_start, vmoodle_metrics_end;
static inline int vmoodle_metrics_is_site(const void *config)
{
    return (uintptr_t)config >= vmoodle_metrics_start
        && (uintptr_t)config < vmoodle_metrics_end;
}
int vmoodle_metrics_log(request_rec *r);

/* mod_vmoodle_prometheus.c: SetHandler vmoodle-metrics */
int vmoodle_prometheus_handler(request_rec *r);

/* mod_vmoodle_status.c */
int vmoodle_status_handler(request_rec *r);

/* mod_vmoodle_health.c */
int vmoodle_health_handler(request_rec *r);

#endif
