/* SetHandler vmoodle-metrics: the counters, each site's state and cron
 * figures and the table's, in Prometheus' text exposition format.
 *
 * ?site=NAME (repeatable: a shortname or a host) or ?match=REGEX (on the
 * host and the shortname) choose sites; at most VMoodleMetricsMaxSites of
 * them are listed (the rest counted in vmoodle_metrics_sites_omitted), so
 * a scrape of a large fleet stays bounded.  Never a password. */
#include "mod_vmoodle.h"
#include <http_protocol.h>
#include <ap_regex.h>
#include <apr_strings.h>
#include "vm_cron_figures.h"
#include "vm_metrics.h"
#include "vm_prom.h"
#include "vm_usage.h"

/* One listed site: its labels, row and figures. */
typedef struct {
    const char *labels; /* site="...",host="..." */
    vm_instance in;
    vm_metrics_site counts;
    int counted;                 /* has a slot */
    int master;                  /* the master (id 0, as vcron names it) */
    const vm_cron_run *run;      /* vcron's records, NULL: none */
    const vm_usage_entry *usage; /* vmoodlectl usage's, NULL: none */
} listed_site;

typedef struct {
    apr_array_header_t *names; /* ?site= values */
    ap_regex_t *match;         /* ?match= */
    int max;
} site_filter;

typedef struct {
    request_rec *r;
    apr_array_header_t *sites; /* listed_site */
    uint32_t omitted;
} scrape;

static void family(request_rec *r, const char *name, const char *type,
                   const char *help)
{
    ap_rvputs(r, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n",
              NULL);
}

/* libc's %g: APR's formatter writes "1.e+5" and ".025". */
static void sample(request_rec *r, const char *name, const char *labels,
                   double v)
{
    char num[32];

    snprintf(num, sizeof num, "%.10g", v);
    ap_rvputs(r, name, labels ? "{" : "", labels ? labels : "",
              labels ? "}" : "", " ", num, "\n", NULL);
}

static void sample_u64(request_rec *r, const char *name, const char *labels,
                       apr_uint64_t v)
{
    ap_rprintf(r, "%s%s%s%s %" APR_UINT64_T_FMT "\n", name, labels ? "{" : "",
               labels ? labels : "", labels ? "}" : "", v);
}

/* ---- which sites ------------------------------------------------------ */

static const char *parse_filter(request_rec *r, site_filter *f)
{
    char *args = apr_pstrdup(r->pool, r->args ? r->args : ""), *tok, *last;

    f->names = apr_array_make(r->pool, 4, sizeof(const char *));
    f->match = NULL;
    for (tok = apr_strtok(args, "&", &last); tok;
         tok = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq++ = '\0';
        if (ap_unescape_url(eq) != OK)
            return "a parameter is not URL-encoded";
        if (strcmp(tok, "site") == 0)
            APR_ARRAY_PUSH(f->names, const char *) = eq;
        else if (strcmp(tok, "match") == 0
                 && !(f->match = ap_pregcomp(r->pool, eq, AP_REG_NOSUB)))
            return "match: not a regular expression";
    }
    return NULL;
}

static int wanted(const site_filter *f, const vm_instance *in)
{
    int i;

    if (f->match && ap_regexec(f->match, in->key, 0, NULL, 0) != 0
        && ap_regexec(f->match, in->shortname, 0, NULL, 0) != 0)
        return 0;
    if (f->names->nelts == 0)
        return 1;
    for (i = 0; i < f->names->nelts; i++) {
        const char *n = APR_ARRAY_IDX(f->names, i, const char *);
        if (strcmp(n, in->shortname) == 0 || strcasecmp(n, in->key) == 0)
            return 1;
    }
    return 0;
}

/* A site chosen by f and within the cap: listed with its labels and
 * counters (those of key in the counters), else NULL. */
static listed_site *list_site(scrape *sc, vmoodle_table *t,
                              const site_filter *f, const vm_instance *in,
                              int64_t key)
{
    request_rec *r = sc->r;
    vm_metrics *m = vmoodle_metrics();
    const vm_metrics_site *slot;
    listed_site *l;

    if (!wanted(f, in))
        return NULL;
    if (sc->sites->nelts >= f->max) {
        sc->omitted++;
        return NULL;
    }
    l = apr_array_push(sc->sites);
    memset(l, 0, sizeof *l);
    l->in = *in;
    l->labels = apr_pstrcat(r->pool, "site=\"",
                            vm_prom_label(in->shortname, r->pool), "\",host=\"",
                            vm_prom_label(in->key, r->pool), "\"", NULL);
    slot = m ? vm_metrics_find(m, vmoodle_table_spec_of(t)->metrics_tag, key)
             : NULL;
    if ((l->counted = slot != NULL))
        vm_metrics_read(slot, &l->counts);
    return l;
}

/* The table's master (VMoodleMaster of its server), as vcron names it:
 * site "master", id 0, host its VMoodleMaster; its cron figures are
 * vcron's run records alone (its croncount lives in vcron's state). */
static void list_master(scrape *sc, vmoodle_table *t, const site_filter *f,
                        const vm_cron_runs *runs)
{
    const char *key = VMOODLE_CONF(vmoodle_table_spec_of(t)->server)
                          ->master_key;
    vm_instance in;
    listed_site *l;

    if (!key)
        return;
    memset(&in, 0, sizeof in);
    in.id = 0;
    in.shortname = "master";
    in.key = key;
    in.platform = "";
    in.enabled = 1;
    if (!(l = list_site(sc, t, f, &in, VM_METRICS_MASTER)))
        return;
    l->master = 1;
    if ((l->run = runs ? vm_cron_runs_get(runs, 0) : NULL) != NULL) {
        l->in.croncount = l->run->runs;
        l->in.lastcron = l->run->last_start;
    }
}

static void list_sites(scrape *sc, vmoodle_table *t, const vm_snapshot *snap,
                       const site_filter *f)
{
    request_rec *r = sc->r;
    const char *ignored;
    vm_cron_figures *fig = NULL;
    vm_cron_runs *runs = NULL;
    const char *runs_path = VMOODLE_CONF(r->server)->cron_runs;
    const char *usage_path = VMOODLE_CONF(r->server)->usage_file;
    vm_usage *usage = NULL;
    uint32_t i;

    if (vm_cron_figures_load(&fig,
                             vm_cron_figures_path(vmoodle_table_spec_of(t)
                                                      ->snapshot_path,
                                                  r->pool),
                             r->pool, &ignored)
        != VM_OK)
        fig = NULL;
    if (runs_path) /* what the readable files hold */
        vm_cron_runs_load_all(&runs, runs_path, r->pool, &ignored);
    if (usage_path
        && vm_usage_load(&usage, usage_path, r->pool, &ignored) != VM_OK)
        usage = NULL;
    if (snap)
        list_master(sc, t, f, runs);
    for (i = 0; snap && i < vm_snapshot_count(snap); i++) {
        listed_site *l;
        vm_instance in;

        vm_snapshot_instance(snap, i, &in);
        if (!(l = list_site(sc, t, f, &in, in.id)))
            continue;
        if (fig)
            vm_cron_figures_get(fig, &l->in);
        l->run = runs ? vm_cron_runs_get(runs, in.id) : NULL;
        l->usage = usage ? vm_usage_get(usage, in.id) : NULL;
    }
}

/* ---- per-site families ------------------------------------------------ */

#define EACH_SITE(sc, l)                       \
    for (l = (listed_site *)(sc)->sites->elts; \
         l < (listed_site *)(sc)->sites->elts + (sc)->sites->nelts; l++)

static const char *const class_names[VM_METRICS_CLASSES] = { "2xx", "3xx",
                                                             "4xx", "5xx" };

static void site_state(scrape *sc)
{
    request_rec *r = sc->r;
    listed_site *l;

    /* the platform on the info metric alone (joined in by queries), so
     * moving a site to another platform starts no new series of its
     * counters; "" is the default platform, as in the table */
    family(r, "vmoodle_site_info", "gauge",
           "A site of the table (value 1), with its row id and platform.");
    EACH_SITE(sc, l)
    sample(r, "vmoodle_site_info",
           apr_psprintf(r->pool,
                        "%s,id=\"%" APR_INT64_T_FMT "\",platform=\"%s\"",
                        l->labels, (apr_int64_t)l->in.id,
                        vm_prom_label(l->in.platform ? l->in.platform : "",
                                      r->pool)),
           1);
    family(r, "vmoodle_site_enabled", "gauge",
           "1 when the site is enabled, 0 when disabled (503).");
    EACH_SITE(sc, l)
    sample(r, "vmoodle_site_enabled", l->labels, l->in.enabled ? 1 : 0);
}

/* vm_metrics_bucket_us in seconds */
static const char *const bucket_names[VM_METRICS_BUCKETS] = {
    "0.025", "0.1", "0.25", "0.5", "1", "2.5", "10"
};

static void site_traffic(scrape *sc)
{
    request_rec *r = sc->r;
    const char *h = "vmoodle_site_request_duration_seconds";
    listed_site *l;
    int c, b;

    family(r, "vmoodle_site_requests_total", "counter",
           "Requests answered for the site, by status class.");
    EACH_SITE(sc, l)
    for (c = 0; l->counted && c < VM_METRICS_CLASSES; c++)
        sample_u64(r, "vmoodle_site_requests_total",
                   apr_pstrcat(r->pool, l->labels, ",class=\"", class_names[c],
                               "\"", NULL),
                   l->counts.requests[c]);
    family(r, "vmoodle_site_sent_bytes_total", "counter",
           "Body bytes sent for the site.");
    EACH_SITE(sc, l)
    if (l->counted)
        sample_u64(r, "vmoodle_site_sent_bytes_total", l->labels,
                   l->counts.bytes);
    family(r, h, "histogram", "Time from reading the request to logging it.");
    EACH_SITE(sc, l)
    {
        apr_uint64_t cum = 0, total = 0;
        if (!l->counted)
            continue;
        for (c = 0; c < VM_METRICS_CLASSES; c++)
            total += l->counts.requests[c];
        for (b = 0; b < VM_METRICS_BUCKETS; b++) {
            cum += l->counts.buckets[b];
            sample_u64(r, apr_pstrcat(r->pool, h, "_bucket", NULL),
                       apr_pstrcat(r->pool, l->labels, ",le=\"",
                                   bucket_names[b], "\"", NULL),
                       cum);
        }
        total = total > cum ? total : cum; /* read while counting */
        sample_u64(r, apr_pstrcat(r->pool, h, "_bucket", NULL),
                   apr_pstrcat(r->pool, l->labels, ",le=\"+Inf\"", NULL),
                   total);
        sample(r, apr_pstrcat(r->pool, h, "_sum", NULL), l->labels,
               l->counts.duration_us / 1e6);
        sample_u64(r, apr_pstrcat(r->pool, h, "_count", NULL), l->labels,
                   total);
    }
}

/* One gauge or counter per site from its row's cron figures or vcron's
 * run records; NULL skips the site. */
typedef int (*site_value)(const listed_site *l, double *v);

static int cron_runs(const listed_site *l, double *v)
{
    *v = (double)l->in.croncount;
    return !l->master || l->run;
}
static int cron_last(const listed_site *l, double *v)
{
    *v = (double)l->in.lastcron;
    return l->in.lastcron > 0;
}
static int cron_gap(const listed_site *l, double *v)
{
    *v = (double)l->in.lastcrongap;
    return l->in.lastcron > 0 && !l->master;
}
static int cron_failures(const listed_site *l, double *v)
{
    *v = l->run ? (double)l->run->failures : 0;
    return l->run != NULL;
}
static int cron_timeouts(const listed_site *l, double *v)
{
    *v = l->run ? (double)l->run->timeouts : 0;
    return l->run != NULL;
}
static int cron_duration(const listed_site *l, double *v)
{
    *v = l->run ? l->run->last_duration_ms / 1e3 : 0;
    return l->run != NULL;
}
static int cron_exit(const listed_site *l, double *v)
{
    *v = l->run ? (double)l->run->last_exit : 0;
    return l->run != NULL;
}
static int cron_ok(const listed_site *l, double *v)
{
    *v = l->run && l->run->last_exit == 0 && !l->run->last_timed_out;
    return l->run != NULL;
}

static const struct {
    const char *name, *type, *help;
    site_value value;
} cron_families[] = {
    { "vmoodle_site_cron_runs_total", "counter",
      "Cron runs recorded in the table (croncount).", cron_runs },
    { "vmoodle_site_cron_last_run_timestamp_seconds", "gauge",
      "Start of the last cron run (lastcron).", cron_last },
    { "vmoodle_site_cron_last_gap_seconds", "gauge",
      "Time between the last two cron runs' starts (lastcrongap).", cron_gap },
    { "vmoodle_site_cron_failures_total", "counter",
      "Cron runs that exited with a non-zero status (vcron's records).",
      cron_failures },
    { "vmoodle_site_cron_timeouts_total", "counter",
      "Cron runs ended by vcron's timeout (vcron's records).", cron_timeouts },
    { "vmoodle_site_cron_last_duration_seconds", "gauge",
      "Duration of the last cron run (vcron's records).", cron_duration },
    { "vmoodle_site_cron_last_exit_code", "gauge",
      "Exit status of the last cron run, -1 when killed (vcron's records).",
      cron_exit },
    { "vmoodle_site_cron_last_success", "gauge",
      "1 when the last cron run exited 0 in time (vcron's records).", cron_ok },
};

static void site_cron(scrape *sc)
{
    size_t i;
    listed_site *l;
    double v;

    for (i = 0; i < sizeof cron_families / sizeof *cron_families; i++) {
        family(sc->r, cron_families[i].name, cron_families[i].type,
               cron_families[i].help);
        EACH_SITE(sc, l)
        if (cron_families[i].value(l, &v))
            sample(sc->r, cron_families[i].name, l->labels, v);
    }
}

/* vmoodlectl usage's figures (VMoodleUsage): as current as its last run. */
static void site_usage(scrape *sc)
{
    listed_site *l;

    family(sc->r, "vmoodle_site_usage_bytes", "gauge",
           "Dataroot and database bytes at vmoodlectl usage's last run.");
    EACH_SITE(sc, l)
    if (l->usage)
        sample_u64(sc->r, "vmoodle_site_usage_bytes", l->labels,
                   vm_usage_used(l->usage));
    family(sc->r, "vmoodle_site_quota_bytes", "gauge",
           "The site's quota (vmoodlectl's quota-file) at that run.");
    EACH_SITE(sc, l)
    if (l->usage && l->usage->quota_bytes)
        sample_u64(sc->r, "vmoodle_site_quota_bytes", l->labels,
                   l->usage->quota_bytes);
    family(sc->r, "vmoodle_site_usage_measured_timestamp_seconds", "gauge",
           "When vmoodlectl usage last measured the site.");
    EACH_SITE(sc, l)
    if (l->usage)
        sample(sc->r, "vmoodle_site_usage_measured_timestamp_seconds",
               l->labels, (double)l->usage->measured);
}

/* ---- the table and the whole server ---------------------------------- */

static void table_state(request_rec *r, vmoodle_table *t,
                        const vm_snapshot *snap)
{
    vmoodle_refresh_info info;

    vmoodle_table_info_get(t, &info);
    family(r, "vmoodle_table_loaded", "gauge",
           "1 while this process has an instance table to route with.");
    sample(r, "vmoodle_table_loaded", NULL, snap != NULL);
    family(r, "vmoodle_table_generation", "gauge",
           "Generation of the table in service.");
    sample(r, "vmoodle_table_generation", NULL,
           snap ? (double)vm_snapshot_generation(snap) : 0);
    family(r, "vmoodle_table_sites", "gauge", "Sites in the table.");
    sample(r, "vmoodle_table_sites", NULL, snap ? vm_snapshot_count(snap) : 0);
    family(r, "vmoodle_table_rejected_rows", "gauge",
           "Rows of the source left out (invalid).");
    sample(r, "vmoodle_table_rejected_rows", NULL,
           snap ? vm_snapshot_rejection_count(snap) : 0);
    family(r, "vmoodle_table_source_up", "gauge",
           "1 when the last read of the source succeeded.");
    sample(r, "vmoodle_table_source_up", NULL, info.ok && info.time);
    family(r, "vmoodle_table_last_success_timestamp_seconds", "gauge",
           "When the source was last read successfully (0: not since "
           "start-up).");
    sample(r, "vmoodle_table_last_success_timestamp_seconds", NULL,
           (double)info.last_ok / APR_USEC_PER_SEC);
    family(r, "vmoodle_table_refresh_duration_seconds", "gauge",
           "How long the last read of the source took.");
    sample(r, "vmoodle_table_refresh_duration_seconds", NULL,
           (double)info.duration / APR_USEC_PER_SEC);
}

static void server_counters(scrape *sc, vmoodle_table *t)
{
    /* as VM_METRICS_*, up to VM_METRICS_NO_TABLE (a metric of its own) */
    static const char *const reasons[] = { "unknown_host", "disabled",
                                           "bad_host", "no_platform" };
    request_rec *r = sc->r;
    vm_metrics *m = vmoodle_metrics();
    vm_metrics_totals tot;
    int c;

    if (m) {
        vm_metrics_table_totals(m, vmoodle_table_spec_of(t)->metrics_tag, &tot);
        family(r, "vmoodle_requests_total", "counter",
               "Requests answered for the table's sites, those that left "
               "it included, by status class.");
        for (c = 0; c < VM_METRICS_CLASSES; c++)
            sample_u64(r, "vmoodle_requests_total",
                       apr_pstrcat(r->pool, "class=\"", class_names[c], "\"",
                                   NULL),
                       tot.requests[c]);
        family(r, "vmoodle_sent_bytes_total", "counter",
               "Body bytes sent for the table's sites.");
        sample_u64(r, "vmoodle_sent_bytes_total", NULL, tot.bytes);
        family(r, "vmoodle_refusals_total", "counter",
               "Requests refused before reaching a site (every table).");
        for (c = 0; c < VM_METRICS_NO_TABLE; c++)
            sample_u64(r, "vmoodle_refusals_total",
                       apr_pstrcat(r->pool, "reason=\"", reasons[c], "\"",
                                   NULL),
                       vm_metrics_refusals(m, c));
        family(r, "vmoodle_requests_without_table_total", "counter",
               "Requests answered 503 while no table was loaded.");
        sample_u64(r, "vmoodle_requests_without_table_total", NULL,
                   vm_metrics_refusals(m, VM_METRICS_NO_TABLE));
        family(r, "vmoodle_uncounted_requests_total", "counter",
               "Requests of sites with no counters (VMoodleMetricsSites "
               "full).");
        sample_u64(r, "vmoodle_uncounted_requests_total", NULL,
                   vm_metrics_uncounted_requests(m));
        family(r, "vmoodle_metrics_sites_capacity", "gauge",
               "Sites the counters hold (VMoodleMetricsSites).");
        sample(r, "vmoodle_metrics_sites_capacity", NULL,
               vm_metrics_capacity(m));
    }
    family(r, "vmoodle_metrics_sites_listed", "gauge",
           "Sites listed in this answer.");
    sample(r, "vmoodle_metrics_sites_listed", NULL, sc->sites->nelts);
    family(r, "vmoodle_metrics_sites_omitted", "gauge",
           "Sites chosen but left out of this answer "
           "(VMoodleMetricsMaxSites).");
    sample(r, "vmoodle_metrics_sites_omitted", NULL, sc->omitted);
}

int vmoodle_prometheus_handler(request_rec *r)
{
    vmoodle_server_conf *c;
    vmoodle_table *t;
    const vm_snapshot *snap;
    site_filter f;
    scrape sc = { r, NULL, 0 };
    const char *bad;

    if (!r->handler || strcmp(r->handler, "vmoodle-metrics") != 0)
        return DECLINED;
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    c = VMOODLE_CONF(r->server);
    if (!(t = c->table ? c->table : vmoodle_tables_first()))
        return HTTP_NOT_FOUND;
    if ((bad = parse_filter(r, &f)) != NULL) {
        apr_table_setn(r->notes, "error-notes", bad);
        return HTTP_BAD_REQUEST;
    }
    f.max = c->metrics_max_sites;
    snap = vmoodle_table_acquire(t, r);
    sc.sites = apr_array_make(r->pool, 64, sizeof(listed_site));
    list_sites(&sc, t, snap, &f);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    table_state(r, t, snap);
    server_counters(&sc, t);
    site_state(&sc);
    site_traffic(&sc);
    site_cron(&sc);
    site_usage(&sc);
    return OK;
}
