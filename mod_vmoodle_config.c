/* Directives: server and virtual-host scope; a virtual host inherits what
 * it does not set from the main server. */
#include "mod_vmoodle.h"
#include <http_log.h>
#include <apr_strings.h>
#include "vm_db.h"
#include "vm_hash.h"
#include "vm_master.h"
#include "vm_source.h"

void *vmoodle_create_server_conf(apr_pool_t *p, server_rec *s)
{
    vmoodle_server_conf *c = apr_pcalloc(p, sizeof *c);

    (void)s;
    c->engine = VMOODLE_UNSET;
    c->refresh = VMOODLE_UNSET;
    c->unknown_status = VMOODLE_UNSET;
    c->retry_after = VMOODLE_UNSET;
    c->metrics = VMOODLE_UNSET;
    c->metrics_sites = VMOODLE_UNSET;
    c->metrics_max_sites = VMOODLE_UNSET;
    return c;
}

#define MERGE_INT(f) c->f = add->f != VMOODLE_UNSET ? add->f : base->f
#define MERGE_PTR(f) c->f = add->f ? add->f : base->f

void *vmoodle_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    vmoodle_server_conf *base = basev, *add = addv;
    vmoodle_server_conf *c = apr_pcalloc(p, sizeof *c);

    MERGE_INT(engine);
    MERGE_PTR(source);
    MERGE_PTR(table_name);
    MERGE_PTR(snapshot);
    MERGE_INT(refresh);
    MERGE_PTR(master_key);
    MERGE_PTR(master_env);
    MERGE_INT(unknown_status);
    MERGE_PTR(trusted);
    MERGE_PTR(error_pages);
    MERGE_INT(retry_after);
    MERGE_PTR(cron_plan);
    MERGE_PTR(platforms_file);
    MERGE_PTR(platforms);
    MERGE_INT(metrics);
    MERGE_INT(metrics_sites);
    MERGE_INT(metrics_max_sites);
    MERGE_PTR(cron_runs);
    MERGE_PTR(usage_file);
    return c;
}

void vmoodle_apply_defaults(vmoodle_server_conf *c)
{
    if (c->engine == VMOODLE_UNSET)
        c->engine = 0;
    if (c->refresh == VMOODLE_UNSET)
        c->refresh = VMOODLE_DEFAULT_REFRESH;
    if (c->unknown_status == VMOODLE_UNSET)
        c->unknown_status = VMOODLE_DEFAULT_UNKNOWN;
    if (c->retry_after == VMOODLE_UNSET)
        c->retry_after = VMOODLE_DEFAULT_RETRY_AFTER;
    if (!c->error_pages)
        c->error_pages = VMOODLE_DEFAULT_ERROR_PAGES;
    if (c->metrics == VMOODLE_UNSET)
        c->metrics = 1;
    if (c->metrics_sites == VMOODLE_UNSET)
        c->metrics_sites = VMOODLE_DEFAULT_METRICS_SITES;
    if (c->metrics_max_sites == VMOODLE_UNSET)
        c->metrics_max_sites = VMOODLE_DEFAULT_METRICS_MAX;
}

/* One snapshot per source string, unless VMoodleSnapshot names one. */
const char *vmoodle_snapshot_path(const vmoodle_server_conf *c, apr_pool_t *p)
{
    const char *spec = c->source ? c->source : "";
    uint32_t h;

    if (c->snapshot)
        return c->snapshot;
    h = vm_hash_key(spec, strlen(spec));
    return apr_psprintf(p, VMOODLE_DEFAULT_SNAPSHOT_DIR "/instances-%08x.snap",
                        h);
}

static const char *set_engine(cmd_parms *cmd, void *d, int on)
{
    (void)d;
    VMOODLE_CONF(cmd->server)->engine = on;
    return NULL;
}

static const char *set_source(cmd_parms *cmd, void *d, const char *raw)
{
    vm_source *src;
    const char *err, *arg = vm_source_unquote(raw, cmd->pool);
    apr_pool_t *scratch;

    (void)d;
    /* Raw arguments: Apache honours quotes only at the start of a word.
     * Parse now so a typo stops the start, but do no I/O here. */
    apr_pool_create(&scratch, cmd->temp_pool);
    if (vm_source_open(&src, arg, NULL, scratch, &err) != VM_OK)
        return apr_psprintf(cmd->pool, "VMoodleSource: %s", err);
    apr_pool_destroy(scratch);
    VMOODLE_CONF(cmd->server)->source = arg;
    return NULL;
}

static const char *set_table(cmd_parms *cmd, void *d, const char *arg)
{
    const char *why = vm_db_table_check(arg, 1);

    (void)d;
    if (why)
        return apr_psprintf(cmd->pool, "VMoodleTable: %s", why);
    VMOODLE_CONF(cmd->server)->table_name = arg;
    return NULL;
}

/* A file or folder (relative: to ServerRoot) into the server config's
 * field at cmd->info's offset: one setter for every such directive. */
static const char *set_path(cmd_parms *cmd, void *d, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);

    (void)d;
    if (!path)
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": invalid path", NULL);
    *(const char **)(void *)((char *)VMOODLE_CONF(cmd->server)
                             + (size_t)cmd->info) = path;
    return NULL;
}

static const char *set_number(cmd_parms *cmd, const char *arg, int lo, int hi,
                              const char *what, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (end == arg || *end || v < lo || v > hi)
        return apr_psprintf(cmd->pool, "%s: expected %s from %d to %d",
                            cmd->cmd->name, what, lo, hi);
    *out = (int)v;
    return NULL;
}

static const char *set_seconds(cmd_parms *cmd, const char *arg, int lo, int hi,
                               int *out)
{
    return set_number(cmd, arg, lo, hi, "seconds", out);
}

static const char *set_refresh(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return set_seconds(cmd, arg, 1, 86400, &VMOODLE_CONF(cmd->server)->refresh);
}

static const char *set_retry_after(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return set_seconds(cmd, arg, 0, 86400,
                       &VMOODLE_CONF(cmd->server)->retry_after);
}

/* The master may be given as a URL or as host[:port]. */
static const char *set_master(cmd_parms *cmd, void *d, const char *arg)
{
    char key[VM_KEY_MAX];
    vm_url url;
    const char *why;

    (void)d;
    if (strstr(arg, "://")) {
        why = vm_host_parse_url(arg, &url);
        if (!why && url.key[url.hostlen])
            why = "the master is a host's root, not a path";
        if (!why)
            apr_cpystrn(key, url.key, sizeof key);
    } else {
        why = vm_host_request_key(arg, strlen(arg), 0, key, sizeof key);
    }
    if (why)
        return apr_psprintf(cmd->pool, "VMoodleMaster: %s", why);
    VMOODLE_CONF(cmd->server)->master_key = apr_pstrdup(cmd->pool, key);
    return NULL;
}

/* Read while the configuration is read, as root: the file is root's and
 * 0600 (vm_master.h); the values live in the configuration's pool. */
static const char *set_master_config(cmd_parms *cmd, void *d, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg), *why;
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];
    apr_array_header_t *env;
    vm_instance m;
    int n;

    (void)d;
    if (!path || (why = vm_master_read(path, &m, cmd->pool)) != NULL)
        return apr_psprintf(cmd->pool, "VMoodleMasterConfig: %s",
                            path ? why : "bad path");
    n = vm_master_env(&m, &nums, vars);
    env = apr_array_make(cmd->pool, n, sizeof(vm_env_var));
    for (int i = 0; i < n; i++)
        APR_ARRAY_PUSH(env, vm_env_var) = (vm_env_var){
            vars[i].name, apr_pstrdup(cmd->pool, vars[i].value)
        };
    VMOODLE_CONF(cmd->server)->master_env = env;
    return NULL;
}

static const char *set_unknown(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    if (strcmp(arg, "404") && strcmp(arg, "421"))
        return "VMoodleUnknownHost: 404 or 421";
    VMOODLE_CONF(cmd->server)->unknown_status = atoi(arg);
    return NULL;
}

static const char *add_trusted(cmd_parms *cmd, void *d, const char *arg)
{
    vmoodle_server_conf *c = VMOODLE_CONF(cmd->server);
    char *ip = apr_pstrdup(cmd->temp_pool, arg), *mask;
    apr_ipsubnet_t *subnet;

    (void)d;
    if ((mask = strchr(ip, '/')) != NULL)
        *mask++ = '\0';
    if (apr_ipsubnet_create(&subnet, ip, mask, cmd->pool) != APR_SUCCESS)
        return apr_psprintf(cmd->pool,
                            "VMoodleTrustedProxy: '%s' is not "
                            "an address or CIDR block",
                            arg);
    if (!c->trusted)
        c->trusted = apr_array_make(cmd->pool, 4, sizeof subnet);
    *(apr_ipsubnet_t **)apr_array_push(c->trusted) = subnet;
    return NULL;
}

/* Read at once, as root, with the rest of the configuration: a changed
 * file takes effect at the next (graceful) restart. */
static const char *set_platforms(cmd_parms *cmd, void *d, const char *arg)
{
    vmoodle_server_conf *c = VMOODLE_CONF(cmd->server);
    const char *why;

    (void)d;
    c->platforms_file = ap_server_root_relative(cmd->pool, arg);
    why = vm_platforms_read(c->platforms_file, &c->platforms, cmd->pool);
    return why ? apr_pstrcat(cmd->pool, "VMoodlePlatforms: ", why, NULL) : NULL;
}

static const char *set_metrics(cmd_parms *cmd, void *d, int on)
{
    (void)d;
    VMOODLE_CONF(cmd->server)->metrics = on;
    return NULL;
}

static const char *set_count(cmd_parms *cmd, const char *arg, int lo, int hi,
                             int *out)
{
    return set_number(cmd, arg, lo, hi, "a number", out);
}

/* Global: one shared memory block for the whole server. */
static const char *set_metrics_sites(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)d;
    return err ? err
               : set_count(cmd, arg, 1, 10000000,
                           &VMOODLE_CONF(cmd->server)->metrics_sites);
}

static const char *set_metrics_max(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return set_count(cmd, arg, 0, 10000000,
                     &VMOODLE_CONF(cmd->server)->metrics_max_sites);
}

#define CONF_FIELD(name) (void *)APR_OFFSETOF(vmoodle_server_conf, name)

const command_rec vmoodle_directives[] = {
    AP_INIT_FLAG("VMoodleEngine", set_engine, NULL, RSRC_CONF,
                 "On to route requests by Host to virtual Moodles "
                 "(default Off)"),
    AP_INIT_RAW_ARGS(
        "VMoodleSource", set_source, NULL, RSRC_CONF,
        "json:PATH, pgsql:\"conninfo\" or mysql:\"key=value ...\""),
    AP_INIT_TAKE1("VMoodleTable", set_table, NULL, RSRC_CONF,
                  "instance table in a database (default " VM_DEFAULT_TABLE
                  ")"),
    AP_INIT_TAKE1(
        "VMoodleSnapshot", set_path, CONF_FIELD(snapshot), RSRC_CONF,
        "file holding the compiled table (default " VMOODLE_DEFAULT_SNAPSHOT_DIR
        "/instances-<hash>.snap)"),
    AP_INIT_TAKE1("VMoodleRefresh", set_refresh, NULL, RSRC_CONF,
                  "seconds between reads of the source (default " VMOODLE_STR(
                      VMOODLE_DEFAULT_REFRESH) ")"),
    AP_INIT_TAKE1("VMoodleMaster", set_master, NULL, RSRC_CONF,
                  "host of the master Moodle"),
    AP_INIT_TAKE1("VMoodleMasterConfig", set_master_config, NULL, RSRC_CONF,
                  "the master's settings file (root's, 0600): its requests "
                  "get them as VMOODLE_* variables"),
    AP_INIT_TAKE1(
        "VMoodleUnknownHost", set_unknown, NULL, RSRC_CONF,
        "status for a host with no instance: 404 or 421 (default " VMOODLE_STR(
            VMOODLE_DEFAULT_UNKNOWN) ")"),
    AP_INIT_ITERATE("VMoodleTrustedProxy", add_trusted, NULL, RSRC_CONF,
                    "peers whose X-Forwarded-Host/-Proto are believed"),
    AP_INIT_TAKE1("VMoodleErrorPages", set_path, CONF_FIELD(error_pages),
                  RSRC_CONF,
                  "directory with unknown-host.html and disabled.html "
                  "(default " VMOODLE_DEFAULT_ERROR_PAGES ")"),
    AP_INIT_TAKE1(
        "VMoodleRetryAfter", set_retry_after, NULL, RSRC_CONF,
        "Retry-After seconds for a disabled instance (default " VMOODLE_STR(
            VMOODLE_DEFAULT_RETRY_AFTER) ")"),
    AP_INIT_TAKE1("VMoodleCronPlan", set_path, CONF_FIELD(cron_plan), RSRC_CONF,
                  "vcron's <state-file>.plan: each site's cron tier and the "
                  "cron capacity on the status page"),
    AP_INIT_TAKE1("VMoodlePlatforms", set_platforms, NULL, RSRC_CONF,
                  "file of platforms, 'name = /path/to/moodle' a line "
                  "(default: every site on the DocumentRoot)"),
    AP_INIT_FLAG("VMoodleMetrics", set_metrics, NULL, RSRC_CONF,
                 "Off to count no requests per site (default On)"),
    AP_INIT_TAKE1("VMoodleMetricsSites", set_metrics_sites, NULL, RSRC_CONF,
                  "sites counted in shared memory, main server only "
                  "(default " VMOODLE_STR(VMOODLE_DEFAULT_METRICS_SITES) ")"),
    AP_INIT_TAKE1(
        "VMoodleMetricsMaxSites", set_metrics_max, NULL, RSRC_CONF,
        "most sites in one answer of vmoodle-metrics (default " VMOODLE_STR(
            VMOODLE_DEFAULT_METRICS_MAX) ")"),
    AP_INIT_TAKE1("VMoodleCronRuns", set_path, CONF_FIELD(cron_runs), RSRC_CONF,
                  "vcron's run records (its runs-file) for vmoodle-metrics"),
    AP_INIT_TAKE1("VMoodleUsage", set_path, CONF_FIELD(usage_file), RSRC_CONF,
                  "vmoodlectl usage's figures (its usage-file) for "
                  "vmoodle-status and vmoodle-metrics"),
    { NULL }
};
