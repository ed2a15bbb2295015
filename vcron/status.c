/* vcron status, see status.h. */
#include <time.h>
#include <cjson/cJSON.h>
#include "vm_instance_json.h"
#include "vm_table.h"
#include "vm_time.h"
#include "status.h"
#include "state.h"
#include "tick.h"
#include "vm_cli.h"
#include "log.h"
#include "tiering.h"

/* The master's figures, kept in this host's state (it has no row), as an
 * instance record named "master" for the reports. */
static vm_instance master_figures(const vc_state *st)
{
    vm_instance m = vm_master;
    m.croncount = st->master_croncount;
    m.lastcron = st->master_lastcron;
    m.lastcrongap = st->master_lastcrongap;
    return m;
}

static void print_row(const char *id, const vm_instance *in, long long now,
                      FILE *out)
{
    char date[VM_TIME_TEXT], since[24];
    vm_time_human(in->lastcron, date);
    if (in->lastcron > 0)
        snprintf(since, sizeof since, "%lld", now - in->lastcron);
    else
        snprintf(since, sizeof since, "-");
    fprintf(out, "%-6s %-32s %-7s %9lld %-23s %8s %11lld\n", id, in->key,
            in->enabled ? "yes" : "no", in->croncount, date, since,
            in->lastcrongap);
}

/* Mode activity: each instance's tier and why, its cost, and what the
 * tiers ask for against the cores. */
static void print_tiers(const vc_config *cfg, const vc_fleet *f, FILE *out,
                        apr_pool_t *p)
{
    vc_capacity cap;
    vc_fleet_capacity(cfg, f, &cap);
    fprintf(out, "demand %.0f CPU s an hour of %.0f (%.0f cores): %s\n",
            cap.cpu_total, cap.capacity, cap.capacity / 3600.0,
            cap.cpu_total > cap.capacity ? "OVER CAPACITY" : "within");
    fprintf(out, "%-6s %-32s %8s %s\n", "id", "host", "cpu/run", "tier");
    for (size_t i = 0; i < f->n; i++) {
        char cost[24] = "-";
        if (f->cost[i] >= 0)
            snprintf(cost, sizeof cost, "%.2f", f->cost[i]);
        fprintf(out, "%-6lld %-32s %8s %s\n", f->in[i]->id, f->in[i]->key, cost,
                vc_fleet_reason(cfg, f, i, p));
    }
}

static void print_text(const vc_config *cfg, vm_source *src, const vm_table *t,
                       const vc_state *st, long long now, FILE *out)
{
    fprintf(out, "source %s, mode %s, cursor %lld, measured tick %lld s\n",
            src->display, vc_mode_name(cfg->mode), st->cursor, st->tick);
    fprintf(out, "%-6s %-32s %-7s %9s %-23s %8s %11s\n", "id", "host",
            "enabled", "croncount", "lastcron", "since", "lastcrongap");
    if (cfg->master) {
        vm_instance m = master_figures(st);
        print_row("-", &m, now, out);
    }
    for (int i = 0; i < t->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        char id[24];
        snprintf(id, sizeof id, "%lld", in->id);
        print_row(id, in, now, out);
    }
}

/* What only this report has: the date of the last cron and the seconds
 * since. */
static void add_when(cJSON *o, const vm_instance *in, long long now)
{
    char date[VM_TIME_TEXT];
    vm_time_text(in->lastcron, date);
    cJSON_AddStringToObject(o, "lastcron_date", date);
    if (in->lastcron > 0)
        cJSON_AddNumberToObject(o, "since", (double)(now - in->lastcron));
    else
        cJSON_AddNullToObject(o, "since");
}

/* The core's object with the cron figures, and add_when's.  "enabled" has
 * always been true/false here. */
static cJSON *instance_json(const vm_instance *in, long long now)
{
    cJSON *o = vm_instance_json(in, VM_JSON_CRON);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "enabled",
                                           cJSON_CreateBool(in->enabled));
    add_when(o, in, now);
    return o;
}

/* Not a row: no id, no database, only its figures as this host saw them. */
static cJSON *master_json(const vc_state *st, long long now)
{
    vm_instance m = master_figures(st);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "croncount", (double)m.croncount);
    cJSON_AddNumberToObject(o, "lastcron", (double)m.lastcron);
    cJSON_AddNumberToObject(o, "lastcrongap", (double)m.lastcrongap);
    add_when(o, &m, now);
    return o;
}

static void add_tier(cJSON *o, const vc_config *cfg, const vc_fleet *f,
                     size_t i, apr_pool_t *p)
{
    cJSON_AddNumberToObject(o, "tier", f->items[i].tier);
    cJSON_AddNumberToObject(o, "period",
                            (double)vc_tier_period(&cfg->tiers,
                                                   f->items[i].tier));
    cJSON_AddStringToObject(o, "tier_reason", vc_fleet_reason(cfg, f, i, p));
    cJSON_AddStringToObject(o, "tier_source",
                            f->why[i] == VC_TIER_OVERRIDE       ? "override"
                                : f->why[i] == VC_TIER_MEASURED ? "activity"
                                                                : "default");
    if (f->events[i] >= 0)
        cJSON_AddNumberToObject(o, "activity", (double)f->events[i]);
    else
        cJSON_AddNullToObject(o, "activity");
    if (f->cost[i] >= 0)
        cJSON_AddNumberToObject(o, "cpu_per_run", f->cost[i]);
    else
        cJSON_AddNullToObject(o, "cpu_per_run");
}

static void add_capacity(cJSON *root, const vc_config *cfg, const vc_fleet *f)
{
    vc_capacity cap;
    vc_fleet_capacity(cfg, f, &cap);
    cJSON *c = cJSON_AddObjectToObject(root, "capacity");
    cJSON_AddNumberToObject(c, "runs_per_hour", cap.runs_total);
    cJSON_AddNumberToObject(c, "cpu_per_hour", cap.cpu_total);
    cJSON_AddNumberToObject(c, "cores", cap.capacity / 3600.0);
    cJSON_AddNumberToObject(c, "capacity_per_hour", cap.capacity);
    cJSON_AddNumberToObject(c, "cost_assumed", cap.cost_assumed);
    cJSON_AddBoolToObject(c, "over", cap.cpu_total > cap.capacity);
}

static void print_json(const vc_config *cfg, vm_source *src, const vm_table *t,
                       const vc_state *st, const vc_fleet *f, long long now,
                       FILE *out, apr_pool_t *p)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "source", src->display);
    cJSON_AddStringToObject(root, "mode", vc_mode_name(cfg->mode));
    cJSON_AddNumberToObject(root, "cursor", (double)st->cursor);
    cJSON_AddNumberToObject(root, "tick", (double)st->tick);
    cJSON_AddNumberToObject(root, "now", (double)now);
    if (cfg->master)
        cJSON_AddItemToObject(root, "master", master_json(st, now));
    if (f)
        add_capacity(root, cfg, f);
    cJSON *list = cJSON_AddArrayToObject(root, "instances");
    for (int i = 0; i < t->instances->nelts; i++) {
        cJSON *o = instance_json(&APR_ARRAY_IDX(t->instances, i, vm_instance),
                                 now);
        if (f)
            add_tier(o, cfg, f, (size_t)i, p);
        cJSON_AddItemToArray(list, o);
    }
    char *text = cJSON_Print(root);
    if (text)
        fprintf(out, "%s\n", text);
    cJSON_free(text);
    cJSON_Delete(root);
}

int vc_status(const vc_config *cfg, vm_source *src, int json, FILE *out,
              apr_pool_t *p)
{
    const vm_table *t;
    int code = vc_load_table(src, p, &t);
    if (code != VC_EXIT_OK)
        return code;
    const char *err;
    vc_state st;
    if ((err = vc_state_load(cfg->state_file, &st, p)) != NULL) {
        vc_log(203, "%s", err);
        return VC_EXIT_LOCAL;
    }
    long long now = (long long)time(NULL);
    vc_fleet fleet;
    if (cfg->mode == VC_MODE_ACTIVITY
        && (err = vc_fleet_build(cfg, t, &fleet, p)) != NULL) {
        vc_log(203, "%s", err);
        return VC_EXIT_LOCAL;
    }
    const vc_fleet *f = cfg->mode == VC_MODE_ACTIVITY ? &fleet : NULL;
    if (json)
        print_json(cfg, src, t, &st, f, now, out, p);
    else {
        print_text(cfg, src, t, &st, now, out);
        if (f)
            print_tiers(cfg, f, out, p);
    }
    return VC_EXIT_OK;
}
