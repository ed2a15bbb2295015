/* The instance table in PostgreSQL, through the SQL layer (vm_db.h).  One
 * connection, opened on first use and kept until close: it carries the
 * advisory locks and the LISTEN for change notifications.  A hot standby (a
 * streaming replica) can neither LISTEN nor hear the primary's NOTIFY:
 * there, changes are found by the caller's timed reads alone. */
#include <string.h>
#include <apr_strings.h>
#include "vm_source_db.h"

#define CHANNEL "vmoodle_instances"

typedef struct {
    vm_source_db sql;     /* first: the shared code finds it there */
    long long lock_space; /* upper half of every advisory lock key */
    int listening;
    unsigned listen_session; /* the connection the LISTEN was sent on */
    int standby;             /* that connection is to a hot standby */
    /* Messages of the operations that get no pool (poll_change, locks):
     * cleared at the start of each, so a long outage does not grow the
     * source's pool. */
    apr_pool_t *errpool;
} pg_state;

/* After a row was inserted with an explicit id, move the id sequence past
 * it so the next automatic id does not collide. */
static vm_status pg_sync_sequence(vm_source *src, apr_pool_t *p,
                                  const char **err)
{
    pg_state *st = src->backend;
    const char *sql = apr_psprintf(
        p,
        "SELECT setval(s, (SELECT max(id) FROM %s)) "
        "FROM pg_get_serial_sequence($1, 'id') AS s WHERE s IS NOT NULL",
        st->sql.qtable);
    const char *values[] = { st->sql.qtable };

    return vm_db_run(st->sql.db, sql, 1, values, NULL, p, err);
}

static vm_status pg_configure(vm_source *src, const char *arg, const char **err)
{
    apr_pool_t *p = src->pool;
    pg_state *st = apr_pcalloc(p, sizeof *st);
    vm_status rc = vm_source_db_configure(src, VM_DB_PGSQL, arg, "", &st->sql,
                                          err);

    if (rc != VM_OK)
        return rc;
    vm_db_bound_replies(st->sql.db); /* a hung server frees the writer */
    st->sql.returning = 1;
    st->sql.after_explicit_id = pg_sync_sequence;
    /* Keys are hash << 31 | id: ids beyond 2^31 share keys, which only
     * makes two instances wait for each other. */
    st->lock_space = (long long)vm_source_db_table_hash("pgsql", src->table)
        << 31;
    if (apr_pool_create(&st->errpool, p) != APR_SUCCESS)
        return VM_ERR_IO;
    src->backend = st;
    return VM_OK;
}

/* Is the server a hot standby (in recovery)?  Asked once per connection:
 * a replica may be promoted, and a promoted one must listen. */
static vm_status pg_in_recovery(vm_db *db, int *standby, apr_pool_t *p,
                                const char **err)
{
    vm_db_result res;
    vm_status rc = vm_db_run(db, "SELECT pg_is_in_recovery()", 0, NULL, &res, p,
                             err);

    if (rc == VM_OK) {
        const char *v = vm_db_value(&res, 0, 0);
        *standby = v && strcmp(v, "t") == 0;
    }
    return rc;
}

/* LISTEN on first use and again on every new connection; notifications
 * sent while nobody listened are lost, so a fresh LISTEN counts as a
 * change.  On a standby nothing is heard: timed reads only. */
static vm_status pg_poll_change(vm_source *src, int *changed, const char **err)
{
    pg_state *st = src->backend;
    vm_db *db = st->sql.db;
    vm_status rc;

    *changed = 0;
    apr_pool_clear(st->errpool);
    if (st->listening && vm_db_connected(db)
        && st->listen_session == vm_db_session(db))
        return st->standby
            ? VM_OK
            : vm_db_notified(db, CHANNEL, changed, st->errpool, err);
    rc = pg_in_recovery(db, &st->standby, st->errpool, err);
    if (rc == VM_OK && !st->standby) {
        rc = vm_db_run(db, "LISTEN " CHANNEL, 0, NULL, NULL, st->errpool, err);
        *changed = rc == VM_OK;
    }
    if (rc != VM_OK)
        return rc;
    st->listening = 1; /* or, on a standby, known not to */
    st->listen_session = vm_db_session(db);
    return VM_OK;
}

/* Advisory lock key: the table's hash in the upper bits, the id below, so
 * two tables (or other applications' locks) do not collide by accident. */
static const char *pg_lock_key(pg_state *st, long long id, apr_pool_t *p)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT,
                        (apr_int64_t)(st->lock_space | (id & 0x7fffffffLL)));
}

/* Run a lock function returning one boolean into *yes. */
static vm_status pg_lock_call(vm_source *src, const char *fn, long long id,
                              int *yes, const char **err)
{
    pg_state *st = src->backend;
    apr_pool_t *p = st->errpool;
    apr_pool_clear(p);
    const char *values[] = { pg_lock_key(st, id, p) };
    const char *sql = apr_psprintf(p, "SELECT %s($1::bigint)", fn);
    vm_db_result res;
    vm_status rc = vm_db_run(st->sql.db, sql, 1, values, &res, p, err);

    if (rc == VM_OK) {
        const char *v = vm_db_value(&res, 0, 0);
        *yes = v && strcmp(v, "t") == 0;
    }
    return rc;
}

static vm_status pg_try_lock(vm_source *src, long long id, int *got,
                             const char **err)
{
    *got = 0;
    return pg_lock_call(src, "pg_try_advisory_lock", id, got, err);
}

static vm_status pg_unlock(vm_source *src, long long id, const char **err)
{
    pg_state *st = src->backend;
    int released;

    if (!vm_db_connected(st->sql.db))
        return VM_OK; /* no session, so no lock held */
    return pg_lock_call(src, "pg_advisory_unlock", id, &released, err);
}

const vm_source_ops vm_source_pgsql_ops = {
    .scheme = "pgsql",
    .configure = pg_configure,
    .load = vm_source_db_load,
    .poll_change = pg_poll_change,
    .save_row = vm_source_db_save_row,
    .delete_row = vm_source_db_delete_row,
    .record_cron = vm_source_db_record_cron,
    .try_lock = pg_try_lock,
    .unlock = pg_unlock,
    .close = vm_source_db_close,
};
