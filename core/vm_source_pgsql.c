/* The instance table in PostgreSQL (libpq).  Every statement goes through
 * PQexecParams with values as parameters; the only text built into SQL is
 * the validated, quoted table name and the column names.  One connection,
 * opened on first use and kept until close: it carries the advisory locks
 * and the LISTEN for change notifications.  A hot standby (a streaming
 * replica) can neither LISTEN nor hear the primary's NOTIFY: there, changes
 * are found by the caller's timed reads alone. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <libpq-fe.h>
#include "vm_source_db.h"

#define CHANNEL "vmoodle_instances"

typedef struct {
    vm_db_dialect dialect;      /* first: the shared writes find it there */
    const char **keys, **vals;  /* connection options, NULL-terminated */
    const char *password;       /* only to mask it out of messages */
    const char *qtable;         /* quoted, validated table name */
    long long lock_space;       /* upper half of every advisory lock key */
    PGconn *conn;
    int listening;
    int standby;                /* this connection is to a hot standby */
    /* Messages of the operations that get no pool (poll_change, locks):
     * cleared at the start of each, so a long outage does not grow the
     * source's pool. */
    apr_pool_t *errpool;
} pg_state;

static vm_status pg_run(vm_source *src, const char *sql, int n,
                        const char *const *values, long long *count,
                        long long *new_id, apr_pool_t *p, const char **err);
static vm_status pg_sync_sequence(vm_source *src, apr_pool_t *p,
                                  const char **err);

/* Keep server notices (e.g. "you don't own a lock") out of stderr, which
 * is Apache's error log. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg, (void)message;
}

static void pg_drop(pg_state *st)
{
    if (st->conn)
        PQfinish(st->conn);
    st->conn = NULL;
    st->listening = 0;
    st->standby = 0;            /* a replica may be promoted meanwhile */
}

static void pg_close(vm_source *src)
{
    if (src->backend)
        pg_drop(src->backend);
}

/* Defaults the caller did not set: a bounded connect, a known encoding and
 * a name the DBA sees in pg_stat_activity. */
static const char *const defaults[][2] = {
    {"connect_timeout", "5"},
    {"client_encoding", "UTF8"},
    {"application_name", "mod_vmoodle"},
};
#define N_DEFAULTS (sizeof defaults / sizeof defaults[0])

/* Copy the options libpq parsed, then add the defaults not given. */
static void pg_options(pg_state *st, PQconninfoOption *opts, apr_pool_t *p)
{
    int n = 0, total = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        total++;
    st->keys = apr_pcalloc(p, (total + N_DEFAULTS + 1) * sizeof *st->keys);
    st->vals = apr_pcalloc(p, (total + N_DEFAULTS + 1) * sizeof *st->vals);
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val == NULL)
            continue;
        st->keys[n] = apr_pstrdup(p, o->keyword);
        st->vals[n] = apr_pstrdup(p, o->val);
        if (strcmp(o->keyword, "password") == 0)
            st->password = st->vals[n];
        n++;
    }
    for (size_t d = 0; d < N_DEFAULTS; d++) {
        int given = 0;
        for (int i = 0; i < n; i++)
            given |= strcmp(st->keys[i], defaults[d][0]) == 0;
        if (!given) {
            st->keys[n] = defaults[d][0];
            st->vals[n++] = defaults[d][1];
        }
    }
}

static vm_status pg_configure(vm_source *src, const char *arg,
                              const char **err)
{
    apr_pool_t *p = src->pool;
    pg_state *st = apr_pcalloc(p, sizeof *st);
    const char *table = src->table ? src->table : VM_DEFAULT_TABLE;
    st->qtable = vm_db_quote_table(table, 1, '"', p);
    if (st->qtable == NULL) {
        *err = vm_db_message(p, src, NULL, "VM00101",
                             "invalid table name (letters, digits, _; "
                             "optionally schema.table)");
        return VM_ERR_CONFIG;
    }
    st->dialect = (vm_db_dialect){VM_DB_NUMBERED, 1, st->qtable, pg_run,
                                  pg_sync_sequence};
    arg = vm_db_unquote(arg, p);
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(arg, &why);
    if (opts == NULL) {
        /* A URI's parse error may quote part of it, password included. */
        int uri = strncmp(arg, "postgres", 8) == 0 && strstr(arg, "://");
        *err = vm_db_message(p, src, NULL, "VM00100", "bad source string: %s",
                             uri || !why ? "malformed connection URI" : why);
        PQfreemem(why);
        return VM_ERR_CONFIG;
    }
    pg_options(st, opts, p);
    PQconninfoFree(opts);
    /* Keys are hash << 31 | id: ids beyond 2^31 share keys, which only
     * makes two instances wait for each other. */
    st->lock_space = (long long)vm_db_table_hash("pgsql", table) << 31;
    if (apr_pool_create(&st->errpool, p) != APR_SUCCESS)
        return VM_ERR_IO;
    src->backend = st;
    return VM_OK;
}

/* A failed connection: wrong credentials, unknown database or role, or a
 * refused pg_hba entry are configuration; anything else (refused, timed
 * out, starting up, too many clients) may pass. */
static vm_status pg_connect_class(PGconn *conn)
{
    static const char *const config_signs[] = {
        "authentication failed", "no password supplied", "does not exist",
        "pg_hba.conf", "permission denied", "SSL", "invalid", NULL};
    const char *msg = PQerrorMessage(conn);
    if (PQconnectionNeedsPassword(conn))
        return VM_ERR_CONFIG;
    for (const char *const *s = config_signs; *s; s++)
        if (strstr(msg, *s))
            return VM_ERR_CONFIG;
    return VM_ERR_UNREACHABLE;
}

static vm_status pg_connect(vm_source *src, pg_state *st, apr_pool_t *p,
                            const char **err)
{
    if (st->conn && PQstatus(st->conn) == CONNECTION_OK)
        return VM_OK;
    pg_drop(st);
    st->conn = PQconnectdbParams(st->keys, st->vals, 0);
    if (st->conn && PQstatus(st->conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(st->conn, ignore_notice, NULL);
        return VM_OK;
    }
    vm_status rc = st->conn ? pg_connect_class(st->conn) : VM_ERR_UNREACHABLE;
    *err = vm_db_message(p, src, st->password,
                         rc == VM_ERR_CONFIG ? "VM00103" : "VM00102",
                         "cannot connect: %s",
                         st->conn ? PQerrorMessage(st->conn) : "out of memory");
    pg_drop(st);
    return rc;
}

/* Map a failed statement's SQLSTATE to our classes.  No SQLSTATE means the
 * client lost the server. */
static vm_status pg_result_class(const char *state)
{
    static const char *const transient[] = {"08", "40", "53", "55", "57", NULL};
    if (state == NULL)
        return VM_ERR_UNREACHABLE;
    for (const char *const *c = transient; *c; c++)
        if (strncmp(state, *c, 2) == 0)
            return VM_ERR_UNREACHABLE;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return VM_ERR_DATA;
    return VM_ERR_CONFIG;  /* missing table or column, privileges */
}

/* Run one statement with text parameters (NULL = SQL NULL).  On success
 * *res holds the result for the caller to PQclear. */
static vm_status pg_exec(vm_source *src, const char *sql, int n,
                         const char *const *values, PGresult **res,
                         apr_pool_t *p, const char **err)
{
    pg_state *st = src->backend;
    vm_status rc = pg_connect(src, st, p, err);
    if (rc != VM_OK)
        return rc;
    PGresult *r = PQexecParams(st->conn, sql, n, NULL, values, NULL, NULL, 0);
    ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
        *res = r;
        return VM_OK;
    }
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    /* The primary message only: the context may quote parameters, and a
     * parameter may be an instance's database password. */
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    rc = pg_result_class(state);
    *err = vm_db_message(p, src, st->password,
                         rc == VM_ERR_UNREACHABLE ? "VM00105" : "VM00104",
                         "statement failed on %s: %s%s%s", st->qtable,
                         msg ? msg : PQerrorMessage(st->conn),
                         state ? " SQLSTATE " : "", state ? state : "");
    PQclear(r);
    if (PQstatus(st->conn) != CONNECTION_OK)
        pg_drop(st);
    return rc;
}

static vm_status pg_load(vm_source *src, apr_array_header_t *rows,
                         apr_pool_t *p, const char **err)
{
    pg_state *st = src->backend;
    PGresult *res;
    vm_status rc = pg_exec(src, vm_db_select_sql(st->qtable, p), 0, NULL,
                           &res, p, err);
    if (rc != VM_OK)
        return rc;
    int nrows = PQntuples(res);
    for (int i = 0; i < nrows; i++) {
        vm_row *row = apr_array_push(rows);
        memset(row, 0, sizeof *row);
        for (int f = 0; f < VM_F_COUNT; f++)
            vm_row_set(row, (vm_field)f,
                       PQgetisnull(res, i, f) ? NULL
                           : apr_pstrdup(p, PQgetvalue(res, i, f)));
    }
    PQclear(res);
    return VM_OK;
}

/* LISTEN on first use and again after a lost connection; notifications
 * sent while nobody listened are lost, so a fresh LISTEN counts as a
 * change.  A standby refuses LISTEN: noted once per connection, so that
 * it is not asked again at every poll. */
static vm_status pg_listen(vm_source *src, pg_state *st, int *changed,
                           const char **err)
{
    PGresult *res;
    vm_status rc = pg_exec(src, "SELECT pg_is_in_recovery()", 0, NULL, &res,
                           st->errpool, err);
    if (rc != VM_OK)
        return rc;
    st->standby = PQntuples(res) == 1
                  && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (st->standby)
        return VM_OK;
    rc = pg_exec(src, "LISTEN " CHANNEL, 0, NULL, &res, st->errpool, err);
    if (rc != VM_OK)
        return rc;
    PQclear(res);
    st->listening = 1;
    *changed = 1;
    return VM_OK;
}

static vm_status pg_poll_change(vm_source *src, int *changed,
                                const char **err)
{
    pg_state *st = src->backend;
    *changed = 0;
    apr_pool_clear(st->errpool);
    if (st->standby && st->conn && PQstatus(st->conn) == CONNECTION_OK)
        return VM_OK;           /* nothing to hear: timed reads only */
    if (!st->listening || !st->conn || PQstatus(st->conn) != CONNECTION_OK)
        return pg_listen(src, st, changed, err);
    if (!PQconsumeInput(st->conn) || PQstatus(st->conn) != CONNECTION_OK) {
        *err = vm_db_message(st->errpool, src, st->password, "VM00106",
                             "lost the connection waiting for changes: %s",
                             PQerrorMessage(st->conn));
        pg_drop(st);
        return VM_ERR_UNREACHABLE;
    }
    PGnotify *n;
    while ((n = PQnotifies(st->conn)) != NULL) {
        *changed |= strcmp(n->relname, CHANNEL) == 0;
        PQfreemem(n);
    }
    return VM_OK;
}

/* vm_db_run_fn for the shared writes. */
static vm_status pg_run(vm_source *src, const char *sql, int n,
                        const char *const *values, long long *count,
                        long long *new_id, apr_pool_t *p, const char **err)
{
    PGresult *res;
    vm_status rc = pg_exec(src, sql, n, values, &res, p, err);
    if (rc != VM_OK)
        return rc;
    *count = atoll(PQcmdTuples(res));
    *new_id = PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return VM_OK;
}

/* After a row was inserted with an explicit id, move the id sequence past
 * it so the next automatic id does not collide. */
static vm_status pg_sync_sequence(vm_source *src, apr_pool_t *p,
                                  const char **err)
{
    pg_state *st = src->backend;
    const char *sql = apr_psprintf(p,
        "SELECT setval(s, (SELECT max(id) FROM %s)) "
        "FROM pg_get_serial_sequence($1, 'id') AS s WHERE s IS NOT NULL",
        st->qtable);
    const char *values[] = {st->qtable};
    PGresult *res;
    vm_status rc = pg_exec(src, sql, 1, values, &res, p, err);
    if (rc == VM_OK)
        PQclear(res);
    return rc;
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
    const char *values[] = {pg_lock_key(st, id, p)};
    const char *sql = apr_psprintf(p, "SELECT %s($1::bigint)", fn);
    PGresult *res;
    vm_status rc = pg_exec(src, sql, 1, values, &res, p, err);
    if (rc == VM_OK) {
        *yes = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
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
    if (st->conn == NULL)
        return VM_OK;  /* no session, so no lock held */
    return pg_lock_call(src, "pg_advisory_unlock", id, &released, err);
}

const vm_source_ops vm_source_pgsql_ops = {
    .scheme = "pgsql",
    .configure = pg_configure,
    .load = pg_load,
    .poll_change = pg_poll_change,
    .save_row = vm_db_save_row,
    .delete_row = vm_db_delete_row,
    .record_cron = vm_db_record_cron,
    .try_lock = pg_try_lock,
    .unlock = pg_unlock,
    .close = pg_close,
};
