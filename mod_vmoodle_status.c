/* SetHandler vmoodle-status: the table as this process serves it.  HTML
 * for a person, ?json for machines; never a password. */
#include "mod_vmoodle.h"
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include <cJSON.h>
#include "vm_cron_figures.h"
#include "vm_instance_json.h"
#include "vm_time.h"

/* The cron figures are not in the snapshot (a cron run makes no
 * generation): they come from the file the writer keeps beside it, as
 * current as the last read of the source.  Without it they show as 0. */
static vm_cron_figures *cron_figures(vmoodle_table *t, apr_pool_t *p)
{
    vm_cron_figures *f;
    const char *ignored;

    return vm_cron_figures_load(&f, vm_cron_figures_path(
               vmoodle_table_spec_of(t)->snapshot_path, p), p, &ignored)
           == VM_OK ? f : NULL;
}

static void add_snapshot(cJSON *root, const vm_snapshot *snap,
                         const vm_cron_figures *figures)
{
    cJSON *list = cJSON_AddArrayToObject(root, "instances");
    cJSON *rejected = cJSON_AddArrayToObject(root, "rejected");
    vm_instance in;
    vm_rejection rej;
    uint32_t i;

    cJSON_AddNumberToObject(root, "generation",
                            (double)vm_snapshot_generation(snap));
    cJSON_AddNumberToObject(root, "snapshot_created",
                            (double)vm_snapshot_created(snap));
    cJSON_AddNumberToObject(root, "count", vm_snapshot_count(snap));
    for (i = 0; i < vm_snapshot_count(snap); i++) {
        vm_snapshot_instance(snap, i, &in);
        if (figures)
            vm_cron_figures_get(figures, &in);
        cJSON_AddItemToArray(list, vm_instance_json(&in, VM_JSON_CRON));
    }
    for (i = 0; i < vm_snapshot_rejection_count(snap); i++) {
        vm_snapshot_rejection(snap, i, &rej);
        cJSON_AddItemToArray(rejected, vm_rejection_json(&rej));
    }
}

static cJSON *status_json(vmoodle_table *t, const vm_snapshot *snap,
                          apr_pool_t *p)
{
    cJSON *root = cJSON_CreateObject(), *refresh;
    vmoodle_refresh_info info;

    vmoodle_table_info_get(t, &info);
    cJSON_AddStringToObject(root, "source",
                            vmoodle_table_spec_of(t)->source_display);
    cJSON_AddStringToObject(root, "snapshot",
                            vmoodle_table_spec_of(t)->snapshot_path);
    refresh = cJSON_AddObjectToObject(root, "refresh");
    cJSON_AddNumberToObject(refresh, "time",
                            (double)apr_time_sec(info.time));
    cJSON_AddBoolToObject(refresh, "ok", info.ok);
    cJSON_AddBoolToObject(refresh, "from_disk", info.from_disk);
    cJSON_AddStringToObject(refresh, "error", info.error);
    if (snap) {
        add_snapshot(root, snap, cron_figures(t, p));
    } else {
        cJSON_AddNumberToObject(root, "generation", 0);
        cJSON_AddNumberToObject(root, "count", 0);
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

static void send_html(request_rec *r, const cJSON *root)
{
    const cJSON *refresh = cJSON_GetObjectItemCaseSensitive(root, "refresh");
    const cJSON *o;
    apr_time_t now = apr_time_sec(apr_time_now());

    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rvputs(r, "<!DOCTYPE html>\n<html><head><title>mod_vmoodle status"
              "</title></head><body>\n<h1>mod_vmoodle status</h1>\n<dl>"
              "<dt>Source</dt><dd>", text_of(r, root, "source"),
              "</dd><dt>Snapshot</dt><dd>", text_of(r, root, "snapshot"),
              "</dd><dt>Generation</dt><dd>", text_of(r, root, "generation"),
              "</dd><dt>Instances</dt><dd>", text_of(r, root, "count"),
              "</dd><dt>Last refresh</dt><dd>", date_of(r, refresh, "time"),
              " &mdash; ", cJSON_IsTrue(cJSON_GetObjectItem(refresh, "ok"))
              ? "ok" : text_of(r, refresh, "error"), "</dd></dl>\n", NULL);
    ap_rputs("<h2>Rejected rows</h2>\n<ul>\n", r);
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(root, "rejected"))
        ap_rvputs(r, "<li>id ", text_of(r, o, "id"), ": ",
                  text_of(r, o, "reason"), "</li>\n", NULL);
    ap_rputs("</ul>\n<h2>Instances</h2>\n<table border=\"1\"><tr><th>id</th>"
             "<th>host</th><th>shortname</th><th>enabled</th><th>crons run"
             "</th><th>last cron</th><th>seconds since</th><th>last gap"
             "</th></tr>\n", r);
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(root, "instances")) {
        double last = cJSON_GetObjectItem(o, "lastcron")->valuedouble;
        ap_rvputs(r, "<tr><td>", text_of(r, o, "id"), "</td><td>",
                  text_of(r, o, "host"), "</td><td>",
                  text_of(r, o, "shortname"), "</td><td>",
                  cJSON_GetObjectItem(o, "enabled")->valueint ? "yes" : "no",
                  "</td><td>",
                  text_of(r, o, "croncount"), "</td><td>",
                  date_of(r, o, "lastcron"), "</td><td>",
                  last > 0 ? apr_psprintf(r->pool, "%.0f", now - last) : "",
                  "</td><td>", text_of(r, o, "lastcrongap"), "</td></tr>\n",
                  NULL);
    }
    ap_rputs("</table>\n</body></html>\n", r);
}

int vmoodle_status_handler(request_rec *r)
{
    vmoodle_server_conf *c;
    cJSON *root;
    char *json;

    if (!r->handler || strcmp(r->handler, "vmoodle-status") != 0)
        return DECLINED;
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    c = VMOODLE_CONF(r->server);
    if (!c->table)
        return HTTP_NOT_FOUND;
    root = status_json(c->table, vmoodle_table_acquire(c->table, r), r->pool);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->args && strcmp(r->args, "json") == 0) {
        ap_set_content_type(r, "application/json");
        if ((json = cJSON_PrintUnformatted(root)) != NULL) {
            ap_rputs(json, r);
            free(json);
        }
    } else {
        send_html(r, root);
    }
    cJSON_Delete(root);
    return OK;
}
