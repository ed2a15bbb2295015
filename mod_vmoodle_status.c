/* SetHandler vmoodle-status: the table as this process serves it.  HTML
 * for a person, ?json for machines, ?summary for monitors; never a
 * password.  The instance list is paged (?page=N&per_page=N, at most
 * VMOODLE_STATUS_MAX_PER_PAGE) and searched (?q=TEXT in the host, short
 * name or name), so one answer stays small at 100,000 instances. */
#include "mod_vmoodle_status.h"
#include <http_protocol.h>
#include <http_request.h>
#include <apr_hash.h>
#include <apr_escape.h>
#include <apr_strings.h>
#include "vm_instance_json.h"
#include "vm_json.h"
#include "vm_time.h"
#include "vm_version.h"

/* The instances of the page asked for, among those the search matches;
 * the rejected rows, the first VMOODLE_STATUS_MAX_PER_PAGE of them. */
static void add_snapshot(cJSON *root, const vm_snapshot *snap,
                         const vm_cron_figures *figures, const vm_usage *usage,
                         const vmoodle_status_query *q)
{
    vmoodle_quota_counts counts = { 0, 0 };
    cJSON *o;
    cJSON *list = cJSON_AddArrayToObject(root, "instances");
    cJSON *rejected = cJSON_AddArrayToObject(root, "rejected");
    vm_instance in;
    vm_rejection rej;
    uint32_t i, matched = 0, first = (q->page - 1) * q->per_page;

    cJSON_AddNumberToObject(root, "generation",
                            (double)vm_snapshot_generation(snap));
    cJSON_AddNumberToObject(root, "snapshot_created",
                            (double)vm_snapshot_created(snap));
    cJSON_AddNumberToObject(root, "count", vm_snapshot_count(snap));
    for (i = 0; i < vm_snapshot_count(snap); i++) {
        vm_snapshot_instance(snap, i, &in);
        if (!vmoodle_status_matches(q, &in))
            continue;
        if (matched++ < first || matched > first + q->per_page) {
            vmoodle_status_usage_add(usage, &in, NULL, &counts);
            continue;
        }
        if (figures)
            vm_cron_figures_get(figures, &in);
        o = vm_instance_json(&in, VM_JSON_CRON);
        vmoodle_status_usage_add(usage, &in, o, &counts);
        cJSON_AddItemToArray(list, o);
    }
    vmoodle_status_quota_counts(root, &counts);
    cJSON_AddNumberToObject(root, "matched", matched);
    cJSON_AddNumberToObject(root, "page", q->page);
    cJSON_AddNumberToObject(root, "per_page", q->per_page);
    cJSON_AddNumberToObject(root, "pages",
                            (matched + q->per_page - 1) / q->per_page);
    cJSON_AddNumberToObject(root, "rejected_count",
                            vm_snapshot_rejection_count(snap));
    for (i = 0; i < vm_snapshot_rejection_count(snap)
         && i < VMOODLE_STATUS_MAX_PER_PAGE;
         i++) {
        vm_snapshot_rejection(snap, i, &rej);
        cJSON_AddItemToArray(rejected, vm_rejection_json(&rej));
    }
}

/* vcron's plan (VMoodleCronPlan, mode activity): each instance's cron
 * tier and why, and what the tiers ask of the cron hosts' cores. */
static void add_cron_plan(cJSON *root, const char *path, apr_pool_t *p)
{
    cJSON *plan = NULL, *site, *o;
    const char *ignored;
    apr_hash_t *by_id = apr_hash_make(p);

    if (!path || vm_json_load(path, 1, &plan, p, &ignored) != VM_OK || !plan)
        return;
    cJSON_ArrayForEach(site, cJSON_GetObjectItem(plan, "sites"))
    {
        long long *id = apr_palloc(p, sizeof *id);
        *id = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(site, "id"));
        apr_hash_set(by_id, id, sizeof *id, site);
    }
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(root, "instances"))
    {
        long long id = (long long)cJSON_GetNumberValue(
            cJSON_GetObjectItem(o, "id"));
        if ((site = apr_hash_get(by_id, &id, sizeof id)) == NULL)
            continue;
        cJSON_AddItemToObject(o, "tier",
                              cJSON_Duplicate(cJSON_GetObjectItem(site, "tier"),
                                              1));
        cJSON_AddItemToObject(o, "tier_reason",
                              cJSON_Duplicate(cJSON_GetObjectItem(site,
                                                                  "reason"),
                                              1));
    }
    cJSON_DeleteItemFromObject(plan, "sites");
    cJSON_AddItemToObject(root, "cron_plan", plan);
}

static cJSON *status_json(request_rec *r, vmoodle_table *t,
                          const vm_snapshot *snap,
                          const vmoodle_status_query *q, apr_pool_t *p)
{
    cJSON *root = cJSON_CreateObject(), *refresh;
    vmoodle_refresh_info info;
    const char *usage_err;
    vm_usage *usage = vmoodle_status_usage(r, &usage_err);

    vmoodle_table_info_get(t, &info);
    cJSON_AddStringToObject(root, "version", VMOODLE_VERSION);
    cJSON_AddStringToObject(root, "source",
                            vmoodle_table_spec_of(t)->source_display);
    cJSON_AddStringToObject(root, "snapshot",
                            vmoodle_table_spec_of(t)->snapshot_path);
    refresh = cJSON_AddObjectToObject(root, "refresh");
    cJSON_AddNumberToObject(refresh, "time", (double)apr_time_sec(info.time));
    cJSON_AddBoolToObject(refresh, "ok", info.ok);
    cJSON_AddBoolToObject(refresh, "from_disk", info.from_disk);
    cJSON_AddStringToObject(refresh, "error", info.error);
    if (usage_err)
        cJSON_AddStringToObject(root, "usage_error", usage_err);
    if (snap) {
        add_snapshot(root, snap, vmoodle_status_cron_figures(t, p), usage, q);
    } else {
        cJSON_AddNumberToObject(root, "generation", 0);
        cJSON_AddNumberToObject(root, "count", 0);
        cJSON_AddNumberToObject(root, "matched", 0);
        cJSON_AddArrayToObject(root, "instances");
        cJSON_AddArrayToObject(root, "rejected");
    }
    return root;
}

static const char *text_of(request_rec *r, const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (cJSON_IsString(v))
        return ap_escape_html2(r->pool, v->valuestring, 1);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "yes" : "no";
    return cJSON_IsNumber(v) ? apr_psprintf(r->pool, "%.0f", v->valuedouble)
                             : "";
}

static const char *date_of(request_rec *r, const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    char *buf = apr_palloc(r->pool, VM_TIME_TEXT);

    return vm_time_human(cJSON_IsNumber(v) ? (long long)v->valuedouble : 0,
                         buf);
}

/* An instance's aliases, escaped, separated by spaces. */
static const char *aliases_of(request_rec *r, const cJSON *o)
{
    const cJSON *a;
    const char *text = "";

    cJSON_ArrayForEach(a,
                       cJSON_GetObjectItem(o, "aliases")) if (cJSON_IsString(a))
        text = apr_pstrcat(r->pool, text, *text ? " " : "",
                           ap_escape_html2(r->pool, a->valuestring, 1), NULL);
    return text;
}

/* Links to the pages before and after, keeping the search. */
static void page_links(request_rec *r, const cJSON *root,
                       const vmoodle_status_query *q)
{
    int pages = cJSON_GetObjectItem(root, "pages")
        ? cJSON_GetObjectItem(root, "pages")->valueint
        : 0;
    const char *keep = apr_psprintf(
        r->pool, "per_page=%d%s%s", q->per_page, q->q ? "&amp;q=" : "",
        q->q
            ? ap_escape_html2(r->pool, apr_pescape_urlencoded(r->pool, q->q), 1)
            : "");

    ap_rprintf(r, "<p>%s matching, page %d of %d", text_of(r, root, "matched"),
               q->page, pages > 0 ? pages : 1);
    if (q->page > 1)
        ap_rprintf(r, " <a href=\"?page=%d&amp;%s\">previous</a>", q->page - 1,
                   keep);
    if (q->page < pages)
        ap_rprintf(r, " <a href=\"?page=%d&amp;%s\">next</a>", q->page + 1,
                   keep);
    ap_rvputs(r, "</p>\n<form><input name=\"q\" value=\"",
              q->q ? ap_escape_html2(r->pool, q->q, 1) : "",
              "\"> <input type=\"submit\" value=\"search\"></form>\n", NULL);
}

static void send_html(request_rec *r, const cJSON *root,
                      const vmoodle_status_query *q)
{
    const cJSON *refresh = cJSON_GetObjectItemCaseSensitive(root, "refresh");
    const cJSON *plan = cJSON_GetObjectItemCaseSensitive(root, "cron_plan");
    const cJSON *o;
    apr_time_t now = apr_time_sec(apr_time_now());

    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rvputs(r,
              "<!DOCTYPE html>\n<html><head><title>mod_vmoodle status"
              "</title></head><body>\n<h1>mod_vmoodle status</h1>\n<dl>"
              "<dt>Version</dt><dd>",
              text_of(r, root, "version"), "</dd><dt>Source</dt><dd>",
              text_of(r, root, "source"), "</dd><dt>Snapshot</dt><dd>",
              text_of(r, root, "snapshot"), "</dd><dt>Generation</dt><dd>",
              text_of(r, root, "generation"), "</dd><dt>Instances</dt><dd>",
              text_of(r, root, "count"), "</dd><dt>Last refresh</dt><dd>",
              date_of(r, refresh, "time"), " &mdash; ",
              cJSON_IsTrue(cJSON_GetObjectItem(refresh, "ok"))
                  ? "ok"
                  : text_of(r, refresh, "error"),
              "</dd>", NULL);
    if (plan)
        ap_rvputs(r, "<dt>Cron demand</dt><dd>",
                  text_of(r, plan, "cpu_per_hour"), " of ",
                  text_of(r, plan, "capacity_per_hour"), " CPU s an hour (",
                  text_of(r, plan, "cores"), " cores)</dd>", NULL);
    if (cJSON_GetObjectItem(root, "quota_warning"))
        ap_rvputs(r, "<dt>Quotas</dt><dd>", text_of(r, root, "quota_warning"),
                  " at or over ", text_of(r, root, "quota_warn_percent"), "%, ",
                  text_of(r, root, "quota_over"), " over quota</dd>", NULL);
    if (cJSON_GetObjectItem(root, "usage_error"))
        ap_rvputs(r, "<dt>Usage figures</dt><dd>",
                  text_of(r, root, "usage_error"), "</dd>", NULL);
    ap_rputs("</dl>\n", r);
    ap_rputs("<h2>Rejected rows</h2>\n<ul>\n", r);
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(root, "rejected"))
        ap_rvputs(r, "<li>id ", text_of(r, o, "id"), ": ",
                  text_of(r, o, "reason"), "</li>\n", NULL);
    ap_rputs("</ul>\n<h2>Instances</h2>\n", r);
    page_links(r, root, q);
    ap_rputs("<table border=\"1\"><tr><th>id</th>"
             "<th>host</th><th>shortname</th><th>platform</th><th>aliases"
             "</th><th>enabled</th><th>crons run"
             "</th><th>last cron</th><th>seconds since</th><th>last gap"
             "</th><th>cron tier</th><th>usage</th></tr>\n",
             r);
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(root, "instances"))
    {
        double last = cJSON_GetObjectItem(o, "lastcron")->valuedouble;
        ap_rvputs(r, "<tr><td>", text_of(r, o, "id"), "</td><td>",
                  text_of(r, o, "host"), "</td><td>",
                  text_of(r, o, "shortname"), "</td><td>",
                  text_of(r, o, "platform"), "</td><td>", aliases_of(r, o),
                  "</td><td>",
                  cJSON_GetObjectItem(o, "enabled")->valueint ? "yes" : "no",
                  "</td><td>", text_of(r, o, "croncount"), "</td><td>",
                  date_of(r, o, "lastcron"), "</td><td>",
                  last > 0 ? apr_psprintf(r->pool, "%.0f", now - last) : "",
                  "</td><td>", text_of(r, o, "lastcrongap"), "</td><td>",
                  text_of(r, o, "tier_reason"), "</td><td>",
                  vmoodle_status_usage_html(r, o), "</td></tr>\n", NULL);
    }
    ap_rputs("</table>\n</body></html>\n", r);
}

int vmoodle_status_handler(request_rec *r)
{
    vmoodle_server_conf *c;
    cJSON *root;
    char *json;
    vmoodle_status_query q;
    const vm_snapshot *snap;

    if (!r->handler || strcmp(r->handler, "vmoodle-status") != 0)
        return DECLINED;
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    c = VMOODLE_CONF(r->server);
    if (!c->table)
        return HTTP_NOT_FOUND;
    if (!vmoodle_status_parse(r, &q))
        return HTTP_BAD_REQUEST;
    snap = vmoodle_table_acquire(c->table, r);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (q.summary) {
        root = vmoodle_status_summary(r, c->table, snap, &q);
    } else {
        root = status_json(r, c->table, snap, &q, r->pool);
        add_cron_plan(root, c->cron_plan, r->pool);
    }
    if (q.json || q.summary) {
        ap_set_content_type(r, "application/json");
        if ((json = cJSON_PrintUnformatted(root)) != NULL) {
            ap_rputs(json, r);
            free(json);
        }
    } else {
        send_html(r, root, &q);
    }
    cJSON_Delete(root);
    return OK;
}
