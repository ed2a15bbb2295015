/* usage [SITES] [--json]: per site, the disk its dataroot takes (as du
 * counts it), its database's size (pg_database_size; MariaDB: data and
 * indexes in information_schema), its users, their last access, Moodle's
 * release, and its quota (quota.h) with a warning past 85%.  No SITES:
 * every enabled site.  Read only, one site after another. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <apr_strings.h>
#include <cjson/cJSON.h>
#include "ctl.h"
#include "files.h"
#include "lifecycle.h"
#include "quota.h"
#include "select.h"
#include "util.h"
#include "vm_text.h"
#include "vm_time.h"

typedef struct {
    const vm_instance *in;
    uint64_t disk, files, db, quota;
    const char *users, *last_access, *release, *err;
} site_usage;

/* Moodle's users that can log in, and the latest access. */
static const char *users_sql(vm_db *db, const char *prefix, apr_pool_t *p)
{
    const char *t = vm_db_ident(db, apr_pstrcat(p, prefix, "user", NULL), p);
    return t ? apr_pstrcat(p, "SELECT COUNT(*), MAX(lastaccess) FROM ", t,
                           " WHERE deleted = 0 AND username <> 'guest'", NULL)
             : NULL;
}

static const char *measure_db(site_usage *u, apr_pool_t *p)
{
    const vm_instance *in = u->in;
    vmc_moodle_info mi;
    vmc_dbconf c;
    vm_db_result res;
    const char *err, *size, *sql;
    vm_db *db;

    if (vmc_site_dbconf(in, &c, p, &err) != 0
        || !(db = vmc_db_open(&c, in->dbname, p, &err)))
        return err;
    if (vmc_db_value(
            db,
            c.pg ? "SELECT pg_database_size(current_database())"
                 : "SELECT COALESCE(SUM(data_length + index_length), 0) "
                   "FROM information_schema.TABLES "
                   "WHERE table_schema = DATABASE()",
            0, NULL, &size, p, &err)
        != 0)
        return err;
    u->db = size ? (uint64_t)apr_atoi64(size) : 0;
    if (vmc_moodle_info_read(db, in->dbprefix, &mi, p, &err) != 0)
        return err;
    u->release = mi.release;
    if (!(sql = users_sql(db, in->dbprefix, p))
        || vm_db_run(db, sql, 0, NULL, &res, p, &err) != VM_OK)
        return sql ? err : "the prefix makes no table name";
    u->users = vm_db_value(&res, 0, 0);
    u->last_access = vm_db_value(&res, 0, 1);
    vm_db_close(db);
    return NULL;
}

static void measure(site_usage *u, const vmc_quotas *q, apr_pool_t *p)
{
    const char *err;

    u->quota = vmc_quota_of(q, u->in);
    if (vmc_tree_disk_use(u->in->datapath, &u->disk, &u->files, p, &err) != 0)
        u->err = apr_pstrcat(p, "dataroot: ", err, NULL);
    else if ((err = measure_db(u, p)) != NULL)
        u->err = apr_pstrcat(p, "database: ", err, NULL);
}

static int percent(const site_usage *u)
{
    return u->quota ? (int)((u->disk + u->db) * 100 / u->quota) : -1;
}

const char *vmc_quota_note(const vmc_quotas *q, const vm_instance *in,
                           int *warn, apr_pool_t *p)
{
    site_usage u = { in, 0, 0, 0, 0, NULL, NULL, NULL, NULL };
    int pc;

    *warn = 0;
    if (!vmc_quota_of(q, in))
        return "none";
    measure(&u, q, p);
    if (u.err) {
        *warn = 1;
        return apr_pstrcat(p, "not measured: ", u.err, NULL);
    }
    pc = percent(&u);
    *warn = pc >= VMC_QUOTA_WARN;
    return apr_psprintf(p, "%s%d%% of %s", *warn ? "warning: " : "", pc,
                        vmc_bytes(u.quota, p));
}

static const char *when(const char *unix_time, apr_pool_t *p)
{
    char text[VM_TIME_TEXT];
    long long t = unix_time ? apr_atoi64(unix_time) : 0;

    if (t <= 0)
        return "never";
    vm_time_text(t, text);
    return apr_pstrdup(p, text);
}

static void print_row(const site_usage *u, apr_pool_t *p)
{
    int pc = percent(u);

    if (u->err) {
        printf("%-30s error: %s\n", u->in->key, vm_text_visible(u->err, p));
        return;
    }
    printf("%-30s %10s %10s %6s  %-20s %-22s %s%s\n", u->in->key,
           vmc_bytes(u->disk, p), vmc_bytes(u->db, p),
           u->users ? u->users : "-", when(u->last_access, p),
           u->release ? vm_text_visible(u->release, p) : "-",
           pc < 0 ? "-"
                  : apr_psprintf(p, "%d%% of %s", pc, vmc_bytes(u->quota, p)),
           pc >= VMC_QUOTA_WARN ? "  WARNING" : "");
}

static cJSON *row_json(const site_usage *u)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "site", u->in->key);
    if (u->err) {
        cJSON_AddStringToObject(o, "error", u->err);
        return o;
    }
    cJSON_AddNumberToObject(o, "dataroot_bytes", (double)u->disk);
    cJSON_AddNumberToObject(o, "dataroot_files", (double)u->files);
    cJSON_AddNumberToObject(o, "database_bytes", (double)u->db);
    cJSON_AddNumberToObject(o, "users",
                            u->users ? (double)apr_atoi64(u->users) : 0);
    cJSON_AddNumberToObject(o, "last_access",
                            u->last_access ? (double)apr_atoi64(u->last_access)
                                           : 0);
    if (u->release)
        cJSON_AddStringToObject(o, "moodle_release", u->release);
    if (u->quota) {
        cJSON_AddNumberToObject(o, "quota_bytes", (double)u->quota);
        cJSON_AddNumberToObject(o, "quota_percent", percent(u));
        cJSON_AddBoolToObject(o, "warning", percent(u) >= VMC_QUOTA_WARN);
    }
    return o;
}

int vmc_cmd_usage(vmc_opts *o)
{
    vmc_selection sel = { o->all || (!o->match && !o->nargs),
                          o->match,
                          0,
                          o->include_disabled,
                          o->args,
                          o->nargs };
    cJSON *list = o->json ? cJSON_CreateArray() : NULL;
    apr_array_header_t *sites;
    const char *why;
    vmc_quotas q;
    vmc_table t;
    int rc;

    if ((why = vmc_quotas_read(&q, o->quota_file, o->pool)) != NULL)
        return vmc_fail(740, VMC_EXIT_FAIL, why);
    if ((rc = vmc_table_load(o, &t, &why)) != VMC_EXIT_OK)
        return vmc_fail(741, rc, why);
    if (!(sites = vmc_select(&t, &sel, o->pool, &why)))
        return vmc_fail(742, VMC_EXIT_USAGE, why);
    if (!list)
        printf("%-30s %10s %10s %6s  %-20s %-22s %s\n", "SITE", "DATAROOT",
               "DATABASE", "USERS", "LAST ACCESS", "MOODLE", "QUOTA");
    for (int i = 0; i < sites->nelts; i++) {
        site_usage u = { APR_ARRAY_IDX(sites, i, const vm_instance *),
                         0,
                         0,
                         0,
                         0,
                         NULL,
                         NULL,
                         NULL,
                         NULL };
        measure(&u, &q, o->pool);
        if (u.err)
            rc = VMC_EXIT_FAIL;
        if (list)
            cJSON_AddItemToArray(list, row_json(&u));
        else
            print_row(&u, o->pool);
    }
    if (list) {
        char *text = cJSON_Print(list);
        puts(text);
        cJSON_free(text);
        cJSON_Delete(list);
    }
    return rc;
}
