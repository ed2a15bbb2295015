/* Measuring one site's usage, see usage.h. */
#include <apr_strings.h>
#include "ctl.h"
#include "files.h"
#include "lifecycle.h"
#include "usage.h"
#include "util.h"

/* Moodle's users that can log in, and the latest access. */
static const char *users_sql(vm_db *db, const char *prefix, apr_pool_t *p)
{
    const char *t = vm_db_ident(db, apr_pstrcat(p, prefix, "user", NULL), p);
    return t ? apr_pstrcat(p, "SELECT COUNT(*), MAX(lastaccess) FROM ", t,
                           " WHERE deleted = 0 AND username <> 'guest'", NULL)
             : NULL;
}

static const char *measure_db(vmc_site_usage *u, apr_pool_t *p)
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

void vmc_usage_measure(vmc_site_usage *u, const vmc_quotas *q, apr_pool_t *p)
{
    const char *err;

    u->quota = vmc_quota_of(q, u->in);
    if (vmc_tree_disk_use(u->in->datapath, &u->disk, &u->files, p, &err) != 0)
        u->err = apr_pstrcat(p, "dataroot: ", err, NULL);
    else if ((err = measure_db(u, p)) != NULL)
        u->err = apr_pstrcat(p, "database: ", err, NULL);
}

vm_usage_level vmc_usage_level(const vmc_site_usage *u, int *pc)
{
    return vm_usage_level_of(u->disk + u->db, u->quota, pc);
}

const char *vmc_usage_quota_text(const vmc_site_usage *u, apr_pool_t *p)
{
    static const char *const mark[] = { "", "", "warning: ", "over quota: " };
    int pc;
    vm_usage_level l = vmc_usage_level(u, &pc);

    return l == VM_USAGE_NO_QUOTA
        ? "none"
        : apr_psprintf(p, "%s%d%% of %s", mark[l], pc, vmc_bytes(u->quota, p));
}

const char *vmc_quota_note(const vmc_quotas *q, const vm_instance *in,
                           int *warn, apr_pool_t *p)
{
    vmc_site_usage u = { in, 0, 0, 0, 0, NULL, NULL, NULL, NULL };

    *warn = 0;
    if (!vmc_quota_of(q, in))
        return "none";
    vmc_usage_measure(&u, q, p);
    if (u.err) {
        *warn = 1;
        return apr_pstrcat(p, "not measured: ", u.err, NULL);
    }
    *warn = vmc_usage_level(&u, NULL) >= VM_USAGE_WARNING;
    return vmc_usage_quota_text(&u, p);
}
