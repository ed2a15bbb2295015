/* A site's activity and queued work, from its database: see probe.h. */
#include <stdlib.h>
#include <apr_strings.h>
#include "probe.h"
#include "../vmoodlectl/db.h"

static const char *one_number(vm_db *db, const char *sql, long long arg,
                              long long *value, apr_pool_t *p)
{
    const char *params[] = { apr_psprintf(p, "%" APR_INT64_T_FMT,
                                             (apr_int64_t)arg) };
    const char *text = NULL, *err = NULL;
    if (vmc_db_value(db, sql, 1, params, &text, p, &err) != 0)
        return err;
    *value = text ? strtoll(text, NULL, 10) : 0;
    return NULL;
}

static const char *activity(vm_db *db, const vm_instance *in, vc_probe *pr,
                            apr_pool_t *p)
{
    const char *log = vm_db_table(db, apr_pstrcat(p, in->dbprefix,
                                  "logstore_standard_log", NULL), p);
    if (!log)
        return "the table prefix cannot name a table";
    return one_number(db, apr_psprintf(p, "SELECT COUNT(*) FROM %s WHERE "
                                       "timecreated >= %s", log,
                                       vm_db_int_param(db, 1, p)),
                      pr->now - pr->days * 86400, &pr->events, p);
}

static const char *queued(vm_db *db, const vm_instance *in, vc_probe *pr,
                          apr_pool_t *p)
{
    const char *adhoc = vm_db_table(db, apr_pstrcat(p, in->dbprefix,
                                    "task_adhoc", NULL), p);
    const char *sched = vm_db_table(db, apr_pstrcat(p, in->dbprefix,
                                    "task_scheduled", NULL), p);
    if (!adhoc || !sched)
        return "the table prefix cannot name a table";
    long long found = 0;
    const char *err = one_number(db, apr_psprintf(p,
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM %s WHERE nextruntime <= %s) "
        "OR EXISTS (SELECT 1 FROM %s WHERE disabled = 0 "
        "AND nextruntime < lastruntime) THEN 1 ELSE 0 END", adhoc,
        vm_db_int_param(db, 1, p), sched), pr->now, &found, p);
    pr->queued = found > 0;
    return err;
}

const char *vc_probe_site(const vm_instance *in, vc_probe *pr, apr_pool_t *p)
{
    apr_pool_t *cp;
    apr_pool_create(&cp, p);      /* the connection ends with it */
    vmc_dbconf c;
    const char *err = NULL;
    vm_db *db = NULL;
    if (vmc_dbconf_make(&c, in->dbtype, in->dbhost, in->dblogin, in->dbpass,
                        in->dbname, cp, &err) == 0
        && (db = vmc_db_open(&c, in->dbname, cp, &err)) == NULL)
        pr->unreachable = 1;
    if (db && pr->want_activity)
        err = activity(db, in, pr, cp);
    if (db && !err && pr->want_queued)
        err = queued(db, in, pr, cp);
    err = err ? apr_pstrdup(p, err) : NULL;
    apr_pool_destroy(cp);
    return err;
}
