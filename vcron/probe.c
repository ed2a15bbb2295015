/* A site's activity and queued work, from its database: see probe.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <apr_hash.h>
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
    const char *log = vm_db_table(db,
                                  apr_pstrcat(p, in->dbprefix,
                                              "logstore_standard_log", NULL),
                                  p);
    if (!log)
        return "the table prefix cannot name a table";
    return one_number(db,
                      apr_psprintf(p,
                                   "SELECT COUNT(*) FROM %s WHERE "
                                   "timecreated >= %s",
                                   log, vm_db_int_param(db, 1, p)),
                      pr->now - pr->days * 86400, &pr->events, p);
}

static const char *queued(vm_db *db, const vm_instance *in, vc_probe *pr,
                          apr_pool_t *p)
{
    const char *adhoc = vm_db_table(db,
                                    apr_pstrcat(p, in->dbprefix, "task_adhoc",
                                                NULL),
                                    p);
    const char *sched = vm_db_table(db,
                                    apr_pstrcat(p, in->dbprefix,
                                                "task_scheduled", NULL),
                                    p);
    if (!adhoc || !sched)
        return "the table prefix cannot name a table";
    long long found = 0;
    const char *err = one_number(
        db,
        apr_psprintf(p,
                     "SELECT CASE WHEN EXISTS (SELECT 1 FROM %s WHERE "
                     "nextruntime <= %s) "
                     "OR EXISTS (SELECT 1 FROM %s WHERE disabled = 0 "
                     "AND nextruntime < lastruntime) THEN 1 ELSE 0 END",
                     adhoc, vm_db_int_param(db, 1, p), sched),
        pr->now, &found, p);
    pr->queued = found > 0;
    return err;
}

const char *vc_probe_site(const vm_instance *in, vc_probe *pr, apr_pool_t *p)
{
    apr_pool_t *cp;
    apr_pool_create(&cp, p); /* the connection ends with it */
    vmc_dbconf c;
    const char *err = NULL;
    vm_db *db = NULL;
    if (vmc_dbconf_make(&c, in->dbtype, in->dbhost, in->dblogin, in->dbpass,
                        in->dbname, cp, &err)
            == 0
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

/* A server this thread could not reach is not tried again this tick (a
 * connection waits up to VM_DB_CONNECT_TIMEOUT). */
static const char *probe_once(vc_probe_job *j, apr_hash_t *dead, apr_pool_t *p)
{
    const char *server = apr_pstrcat(p, j->in->dbtype, ":", j->in->dbhost,
                                     NULL);
    if (apr_hash_get(dead, server, APR_HASH_KEY_STRING))
        return apr_pstrcat(p, "database server ", j->in->dbhost,
                           " not reached this tick", NULL);
    const char *err = vc_probe_site(j->in, &j->pr, p);
    if (j->pr.unreachable)
        apr_hash_set(dead, server, APR_HASH_KEY_STRING, "");
    return err;
}

typedef struct {
    vc_probe_job *jobs;
    size_t n;
    atomic_size_t next;
} shared_jobs;

typedef struct {
    shared_jobs *all;
    apr_pool_t *pool; /* this thread's alone */
    pthread_t thread;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    apr_hash_t *dead = apr_hash_make(w->pool);
    size_t i;
    while ((i = atomic_fetch_add(&w->all->next, 1)) < w->all->n)
        w->all->jobs[i].err = probe_once(&w->all->jobs[i], dead, w->pool);
    return NULL;
}

void vc_probe_all(vc_probe_job *jobs, size_t n, int threads, apr_pool_t *p)
{
    shared_jobs all = { jobs, n, 0 };
    if (threads < 1)
        threads = 1;
    if ((size_t)threads > n)
        threads = (int)n;
    worker *w = apr_pcalloc(p, sizeof *w * (size_t)(threads + 1));
    int started = 0;
    for (; started < threads; started++) {
        apr_pool_create_unmanaged(&w[started].pool);
        w[started].all = &all;
        if (pthread_create(&w[started].thread, NULL, work, &w[started])) {
            apr_pool_destroy(w[started].pool);
            break;
        }
    }
    if (started == 0) { /* no thread: this one does it all */
        worker self = { &all, p, 0 };
        work(&self);
        return;
    }
    for (int k = 0; k < started; k++)
        pthread_join(w[k].thread, NULL);
    for (size_t i = 0; i < n; i++)
        jobs[i].err = jobs[i].err ? apr_pstrdup(p, jobs[i].err) : NULL;
    for (int k = 0; k < started; k++)
        apr_pool_destroy(w[k].pool);
}
