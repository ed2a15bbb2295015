/* vcron plan and vcron tier, see plan.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <apr_strings.h>
#include <cjson/cJSON.h>
#include "log.h"
#include "vm_file.h"
#include "plan.h"
#include "state.h"
#include "tick.h"
#include "tiering.h"

static void print_tiers(const vc_config *cfg, const vc_capacity *cap, FILE *out,
                        apr_pool_t *p)
{
    fprintf(out, "%-5s %12s %7s %7s %9s %11s\n", "tier", "from events",
            "period", "sites", "runs/h", "CPU s/h");
    for (int i = 0; i < cfg->tiers.n; i++)
        fprintf(out, "%-5d %12lld %7s %7zu %9.1f %11.1f\n", i + 1,
                cfg->tiers.tier[i].min_events,
                vc_period_text(cfg->tiers.tier[i].period, p), cap->sites[i],
                cap->runs_per_hour[i], cap->cpu_per_hour[i]);
    size_t sites = 0;
    for (int i = 0; i < cfg->tiers.n; i++)
        sites += cap->sites[i];
    fprintf(out, "%-5s %12s %7s %7zu %9.1f %11.1f\n", "all", "", "", sites,
            cap->runs_total, cap->cpu_total);
}

int vc_plan(const vc_config *cfg, vm_source *src, FILE *out, apr_pool_t *p)
{
    const vm_table *t;
    int code = vc_load_table(src, p, &t);
    if (code != VC_EXIT_OK)
        return code;
    vc_fleet f;
    vc_state st;
    const char *err = vc_fleet_build(cfg, t, &f, p);
    if (err || (err = vc_state_load(cfg->state_file, &st, p)) != NULL) {
        vc_log(203, "%s", err);
        return VC_EXIT_LOCAL;
    }
    vc_capacity cap;
    vc_fleet_capacity(cfg, &f, &cap);
    fprintf(out,
            "activity: log events over %ld days; a site not measured "
            "yet: tier %ld\n",
            cfg->activity_days, cfg->default_tier);
    print_tiers(cfg, &cap, out, p);
    fprintf(out,
            "cost per run: measured per site (rusage), %.2f CPU s "
            "assumed where not yet\n",
            cap.cost_assumed);
    fprintf(out, "runs per minute: %.1f\n", cap.runs_total / 60.0);
    fprintf(out,
            "capacity: %.0f cores = %.0f CPU s an hour; demand %.0f = "
            "%.0f%%: %s\n",
            cap.capacity / 3600.0, cap.capacity, cap.cpu_total,
            100.0 * cap.cpu_total / cap.capacity,
            cap.cpu_total > cap.capacity ? "OVER CAPACITY" : "within");
    const char *growing = vc_fleet_growing(cfg, &f, (long long)time(NULL),
                                           st.tick > 0 ? st.tick : cfg->tick,
                                           20, p);
    fprintf(out,
            "gaps growing (past their period by more than a tick): "
            "%s\n",
            *growing ? growing : "none");
    return VC_EXIT_OK;
}

static cJSON *site_json(const vc_config *cfg, const vc_fleet *f, size_t i,
                        apr_pool_t *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)f->in[i]->id);
    cJSON_AddNumberToObject(o, "tier", f->items[i].tier);
    cJSON_AddNumberToObject(o, "period",
                            (double)vc_tier_period(&cfg->tiers,
                                                   f->items[i].tier));
    cJSON_AddStringToObject(o, "reason", vc_fleet_reason(cfg, f, i, p));
    if (f->cost[i] >= 0)
        cJSON_AddNumberToObject(o, "cpu_per_run", f->cost[i]);
    return o;
}

const char *vc_plan_write(const vc_config *cfg, const vc_fleet *f,
                          long long now, apr_pool_t *p)
{
    vc_capacity cap;
    vc_fleet_capacity(cfg, f, &cap);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "time", (double)now);
    cJSON_AddNumberToObject(root, "cores", cap.capacity / 3600.0);
    cJSON_AddNumberToObject(root, "runs_per_hour", cap.runs_total);
    cJSON_AddNumberToObject(root, "cpu_per_hour", cap.cpu_total);
    cJSON_AddNumberToObject(root, "capacity_per_hour", cap.capacity);
    cJSON_AddBoolToObject(root, "over", cap.cpu_total > cap.capacity);
    cJSON *sites = cJSON_AddArrayToObject(root, "sites");
    for (size_t i = 0; i < f->n; i++)
        cJSON_AddItemToArray(sites, site_json(cfg, f, i, p));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    const char *err = NULL;
    if (!text)
        return "plan: out of memory";
    vm_file_replace(apr_pstrcat(p, cfg->state_file, ".plan", NULL), text,
                    strlen(text), 0644, NULL, p, &err);
    cJSON_free(text);
    return err;
}

/* The instance by host key, else shortname, else key in any case. */
static const vm_instance *find_site(const vm_table *t, const char *host)
{
    const vm_instance *in = vm_table_find_key(t, host);
    for (int i = 0; !in && i < t->instances->nelts; i++) {
        const vm_instance *c = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        if (strcmp(c->shortname, host) == 0 || strcasecmp(c->key, host) == 0)
            in = c;
    }
    return in;
}

int vc_tier_command(const vc_config *cfg, vm_source *src, const char *host,
                    const char *tier, FILE *out, apr_pool_t *p)
{
    char *end;
    long n = strcmp(tier, "auto") == 0 ? 0 : strtol(tier, &end, 10);
    if (n != 0 && (*end || n < 1 || n > cfg->tiers.n)) {
        vc_log(200, "tier: want 1 to %d or auto, not '%s'", cfg->tiers.n, tier);
        return VC_EXIT_USAGE;
    }
    const vm_table *t;
    int code = vc_load_table(src, p, &t);
    if (code != VC_EXIT_OK)
        return code;
    const vm_instance *in = find_site(t, host);
    if (!in) {
        vc_log(200, "tier: no instance '%s' in the table", host);
        return VC_EXIT_USAGE;
    }
    const char *err = vc_override_set(cfg, in->key, (int)n, p);
    if (err) {
        vc_log(203, "%s", err);
        return VC_EXIT_LOCAL;
    }
    if (n)
        fprintf(out, "%s: tier %ld (every %s), set in %s\n", in->key, n,
                vc_period_text(vc_tier_period(&cfg->tiers, (int)n), p),
                cfg->tier_file);
    else
        fprintf(out, "%s: tier from its activity\n", in->key);
    return VC_EXIT_OK;
}
