/* The status page's query and its summary form, see mod_vmoodle_status.h. */
#include "mod_vmoodle_status.h"
#include <http_protocol.h>
#include <apr_strings.h>
#include "vm_metrics.h"

static int number(const char *v, long lo, long hi, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);

    if (end == v || *end || n < lo || n > hi)
        return 0;
    *out = n;
    return 1;
}

int vmoodle_status_parse(request_rec *r, vmoodle_status_query *q)
{
    char *args = apr_pstrdup(r->pool, r->args ? r->args : ""), *tok, *last;
    long page = 1, per_page = VMOODLE_STATUS_PER_PAGE;

    memset(q, 0, sizeof *q);
    q->overdue = VMOODLE_STATUS_OVERDUE;
    for (tok = apr_strtok(args, "&", &last); tok;
         tok = apr_strtok(NULL, "&", &last)) {
        char *v = strchr(tok, '=');
        if (v)
            *v++ = '\0';
        if (v && ap_unescape_url(v) != OK)
            return 0;
        if (strcmp(tok, "json") == 0)
            q->json = 1;
        else if (strcmp(tok, "summary") == 0)
            q->summary = 1;
        else if (strcmp(tok, "q") == 0 && v)
            q->q = *v ? v : NULL;
        else if ((strcmp(tok, "page") == 0
                  && !(v && number(v, 1, 100000000, &page)))
                 || (strcmp(tok, "per_page") == 0
                     && !(v
                          && number(v, 1, VMOODLE_STATUS_MAX_PER_PAGE,
                                    &per_page)))
                 || (strcmp(tok, "overdue") == 0
                     && !(v && number(v, 0, 100000000, &q->overdue))))
            return 0;
    }
    q->page = (int)page;
    q->per_page = (int)per_page;
    return 1;
}

int vmoodle_status_matches(const vmoodle_status_query *q, const vm_instance *in)
{
    return !q->q || ap_strcasestr(in->key, q->q)
        || ap_strcasestr(in->shortname, q->q) || ap_strcasestr(in->name, q->q);
}

vm_cron_figures *vmoodle_status_cron_figures(vmoodle_table *t, apr_pool_t *p)
{
    vm_cron_figures *f;
    const char *ignored;

    /* Not in the snapshot (a cron run makes no generation): the file the
     * writer keeps beside it, as current as the last read of the source. */
    return vm_cron_figures_load(
               &f,
               vm_cron_figures_path(vmoodle_table_spec_of(t)->snapshot_path, p),
               p, &ignored)
            == VM_OK
        ? f
        : NULL;
}

/* The VMOODLE_STATUS_WORST highest scores, highest first. */
typedef struct {
    double score[VMOODLE_STATUS_WORST];
    uint32_t at[VMOODLE_STATUS_WORST];
    int n;
} worst_list;

static void consider(worst_list *w, double score, uint32_t at)
{
    int i;

    if (w->n == VMOODLE_STATUS_WORST && score <= w->score[w->n - 1])
        return;
    if (w->n < VMOODLE_STATUS_WORST)
        w->n++;
    for (i = w->n - 1; i > 0 && w->score[i - 1] < score; i--) {
        w->score[i] = w->score[i - 1];
        w->at[i] = w->at[i - 1];
    }
    w->score[i] = score;
    w->at[i] = at;
}

typedef struct {
    uint32_t enabled, disabled, matched, overdue;
    worst_list errors, late;
    const vm_usage *usage;
    vmoodle_quota_counts quota;
} fleet_pass;

/* One pass over the matching instances. */
static void survey(const vm_snapshot *snap, const vm_cron_figures *fig,
                   vm_metrics *m, uint32_t tag, const vmoodle_status_query *q,
                   fleet_pass *f)
{
    apr_time_t now = apr_time_sec(apr_time_now());
    uint32_t i;
    vm_instance in;

    for (i = 0; snap && i < vm_snapshot_count(snap); i++) {
        vm_snapshot_instance(snap, i, &in);
        if (!vmoodle_status_matches(q, &in))
            continue;
        f->matched++;
        vmoodle_status_usage_add(f->usage, &in, NULL, &f->quota);
        if (!in.enabled) {
            f->disabled++;
            continue;
        }
        f->enabled++;
        if (m) {
            const vm_metrics_site *s = vm_metrics_find(m, tag, in.id);
            vm_metrics_site c;
            if (s && (vm_metrics_read(s, &c), c.requests[VM_METRICS_5XX]))
                consider(&f->errors, (double)c.requests[VM_METRICS_5XX], i);
        }
        if (fig)
            vm_cron_figures_get(fig, &in);
        /* never run: later than any */
        double since = in.lastcron > 0 ? (double)(now - in.lastcron) : 1e18;
        if (since > q->overdue) {
            f->overdue++;
            consider(&f->late, since, i);
        }
    }
}

static cJSON *site_item(const vm_snapshot *snap, uint32_t at, const char *key,
                        double score)
{
    cJSON *o = cJSON_CreateObject();
    vm_instance in;

    vm_snapshot_instance(snap, at, &in);
    cJSON_AddNumberToObject(o, "id", (double)in.id);
    cJSON_AddStringToObject(o, "host", in.key);
    cJSON_AddStringToObject(o, "shortname", in.shortname);
    if (score >= 1e18)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, score);
    return o;
}

static void add_list(cJSON *root, const char *name, const char *key,
                     const worst_list *w, const vm_snapshot *snap)
{
    cJSON *list = cJSON_AddArrayToObject(root, name);
    int i;

    for (i = 0; i < w->n; i++)
        cJSON_AddItemToArray(list, site_item(snap, w->at[i], key, w->score[i]));
}

cJSON *vmoodle_status_summary(request_rec *r, vmoodle_table *t,
                              const vm_snapshot *snap,
                              const vmoodle_status_query *q)
{
    cJSON *root = cJSON_CreateObject(), *refresh;
    vmoodle_refresh_info info;
    fleet_pass f;
    const char *usage_err;

    memset(&f, 0, sizeof f);
    f.usage = vmoodle_status_usage(r, &usage_err);
    survey(snap, snap ? vmoodle_status_cron_figures(t, r->pool) : NULL,
           vmoodle_metrics(), vmoodle_table_spec_of(t)->metrics_tag, q, &f);
    vmoodle_table_info_get(t, &info);
    cJSON_AddNumberToObject(root, "generation",
                            snap ? (double)vm_snapshot_generation(snap) : 0);
    cJSON_AddNumberToObject(root, "count", snap ? vm_snapshot_count(snap) : 0);
    cJSON_AddNumberToObject(root, "matched", f.matched);
    cJSON_AddNumberToObject(root, "enabled", f.enabled);
    cJSON_AddNumberToObject(root, "disabled", f.disabled);
    cJSON_AddNumberToObject(root, "rejected_count",
                            snap ? vm_snapshot_rejection_count(snap) : 0);
    refresh = cJSON_AddObjectToObject(root, "refresh");
    cJSON_AddNumberToObject(refresh, "time", (double)apr_time_sec(info.time));
    cJSON_AddBoolToObject(refresh, "ok", info.ok);
    cJSON_AddNumberToObject(root, "overdue_seconds", (double)q->overdue);
    cJSON_AddNumberToObject(root, "cron_overdue", f.overdue);
    vmoodle_status_quota_counts(root, &f.quota);
    if (usage_err)
        cJSON_AddStringToObject(root, "usage_error", usage_err);
    add_list(root, "most_5xx", "5xx", &f.errors, snap);
    add_list(root, "most_overdue_cron", "since", &f.late, snap);
    return root;
}
