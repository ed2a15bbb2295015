/* The SQL layer's PostgreSQL driver (libpq).  Every statement goes through
 * PQexecParams, or PQsendQueryParams and a bounded wait on a connection
 * made with vm_db_bound_replies, values as parameters; server notices stay
 * out of stderr (Apache's error log). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <libpq-fe.h>
#include "vm_db_driver.h"

#define SERVER_FIRST 5 /* s: statement_timeout before our bound */
#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct {
    const char **keys, **vals; /* for PQconnectdbParams, NULL-terminated */
} pg_settings;

/* Options the caller did not set: a bounded connect, a server that
 * vanished found within half a minute (keepalives: 10 s idle, then three
 * probes 5 s apart; data unacknowledged for VM_DB_IO_TIMEOUT), a known
 * encoding and a name the DBA sees in pg_stat_activity. */
static const char *const defaults[][2] = {
    { "connect_timeout", STR(VM_DB_CONNECT_TIMEOUT) },
    { "keepalives", "1" },
    { "keepalives_idle", "10" },
    { "keepalives_interval", "5" },
    { "keepalives_count", "3" },
    { "tcp_user_timeout", STR(VM_DB_IO_TIMEOUT) "000" },
    { "client_encoding", "UTF8" },
    { "application_name", "mod_vmoodle" },
};
#define N_DEFAULTS (sizeof defaults / sizeof defaults[0])

static void ignore_notice(void *arg, const char *message)
{
    (void)arg, (void)message;
}

static const char *pg_parse(const char *text, apr_table_t *options)
{
    apr_pool_t *p = apr_table_elts(options)->pool;
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(text, &why);
    const char *reason;

    if (opts == NULL) {
        /* A URI's parse error may quote part of it, password included. */
        int uri = strncmp(text, "postgres", 8) == 0 && strstr(text, "://");
        reason = apr_pstrdup(p, uri || !why ? "malformed connection URI" : why);
        PQfreemem(why);
        return reason;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val)
            apr_table_set(options, o->keyword, o->val);
    PQconninfoFree(opts);
    return NULL;
}

static const char *pg_configure(vm_db *db, const apr_table_t *options)
{
    apr_pool_t *p = apr_table_elts(options)->pool;
    const apr_array_header_t *given = apr_table_elts(options);
    const apr_table_entry_t *e = (const apr_table_entry_t *)given->elts;
    pg_settings *s = apr_pcalloc(p, sizeof *s);
    int n = 0, total = given->nelts + (int)N_DEFAULTS + 1;

    s->keys = apr_pcalloc(p, (size_t)total * sizeof *s->keys);
    s->vals = apr_pcalloc(p, (size_t)total * sizeof *s->vals);
    for (int i = 0; i < given->nelts; i++, n++) {
        s->keys[n] = e[i].key;
        s->vals[n] = e[i].val;
    }
    for (size_t d = 0; d < N_DEFAULTS; d++)
        if (!apr_table_get(options, defaults[d][0])) {
            s->keys[n] = defaults[d][0];
            s->vals[n++] = defaults[d][1];
        }
    db->settings = s;
    return NULL;
}

static int pg_alive(const vm_db *db)
{
    return db->conn && PQstatus(db->conn) == CONNECTION_OK;
}

static void pg_drop(vm_db *db)
{
    PQfinish(db->conn);
    db->conn = NULL;
}

/* A failed connection: wrong credentials, unknown database or role, or a
 * refused pg_hba entry are configuration; anything else (refused, timed
 * out, starting up, too many clients) may pass. */
static vm_status pg_connect_class(PGconn *conn)
{
    static const char *const config_signs[] = { "authentication failed",
                                                "no password supplied",
                                                "does not exist",
                                                "pg_hba.conf",
                                                "permission denied",
                                                "SSL",
                                                "invalid",
                                                NULL };
    const char *msg = PQerrorMessage(conn);

    if (PQconnectionNeedsPassword(conn))
        return VM_ERR_CONFIG;
    for (const char *const *s = config_signs; *s; s++)
        if (strstr(msg, *s))
            return VM_ERR_CONFIG;
    return VM_ERR_UNREACHABLE;
}

static vm_status pg_run(vm_db *db, const char *sql, int n,
                        const char *const *params, vm_db_result *res,
                        apr_pool_t *p, const char **err);

/* The server gives up on a statement before the client does, so a slow
 * one (a lock wait) fails with the server's own reason. */
static vm_status pg_bound_statements(vm_db *db, apr_pool_t *p, const char **err)
{
    const char *sql = apr_psprintf(p, "SET statement_timeout = %d",
                                   (db->reply_timeout - SERVER_FIRST) * 1000);
    vm_db_result ignored;
    vm_status rc = pg_run(db, sql, 0, NULL, &ignored, p, err);

    if (rc != VM_OK && db->conn)
        pg_drop(db); /* never an unbounded connection */
    return rc;
}

static vm_status pg_connect(vm_db *db, apr_pool_t *p, const char **err)
{
    pg_settings *s = db->settings;
    PGconn *conn = PQconnectdbParams(s->keys, s->vals, 0);
    vm_status rc;

    if (conn && PQstatus(conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(conn, ignore_notice, NULL);
        db->conn = conn;
        return db->reply_timeout > SERVER_FIRST
            ? pg_bound_statements(db, p, err)
            : VM_OK;
    }
    rc = conn ? pg_connect_class(conn) : VM_ERR_UNREACHABLE;
    *err = vm_db_message(db, p, "cannot connect: %s",
                         conn ? PQerrorMessage(conn) : "out of memory");
    PQfinish(conn);
    return rc;
}

/* A failed statement's SQLSTATE in our classes.  None: the client lost
 * the server. */
static vm_status pg_result_class(const char *state)
{
    static const char *const transient[] = {
        "08", "40", "53", "55", "57", NULL
    };

    if (state == NULL)
        return VM_ERR_UNREACHABLE;
    for (const char *const *c = transient; *c; c++)
        if (strncmp(state, *c, 2) == 0)
            return VM_ERR_UNREACHABLE;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return VM_ERR_DATA;
    return VM_ERR_CONFIG; /* missing table or column, privileges */
}

static vm_status pg_fail(vm_db *db, PGresult *r, apr_pool_t *p,
                         const char **err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    /* The primary message only: the context may quote parameters, and a
     * parameter may be an instance's database password. */
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    vm_status rc = pg_result_class(state);

    *err = vm_db_message(db, p, "statement failed: %s%s%s",
                         msg ? msg : PQerrorMessage(db->conn),
                         state ? " SQLSTATE " : "", state ? state : "");
    PQclear(r);
    if (PQstatus(db->conn) != CONNECTION_OK)
        pg_drop(db);
    return rc;
}

static void pg_result(PGresult *r, vm_db_result *res, apr_pool_t *p)
{
    const char **value;
    size_t *length;
    int rows = PQntuples(r), cols = PQnfields(r);

    vm_db_result_alloc(res, rows, cols, &value, &length, p);
    for (int i = 0; i < rows; i++)
        for (int c = 0; c < cols; c++) {
            if (PQgetisnull(r, i, c))
                continue;
            length[i * cols + c] = (size_t)PQgetlength(r, i, c);
            value[i * cols + c] = apr_pstrmemdup(p, PQgetvalue(r, i, c),
                                                 length[i * cols + c]);
        }
    res->affected = atoll(PQcmdTuples(r));
}

/* Wait until the connection has input or the deadline passes (0). */
static int pg_readable(PGconn *conn, apr_time_t deadline)
{
    struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };

    for (;;) {
        apr_interval_time_t left = deadline - apr_time_now();
        int r;

        if (left <= 0)
            return 0;
        r = poll(&pfd, 1, (int)((left + 999) / 1000));
        if (r != 0 && !(r < 0 && errno == EINTR))
            return 1; /* input, or an error PQconsumeInput reports */
    }
}

/* The statement's next result, or NULL when none is left; 0 when the
 * server said nothing before the deadline. */
static int pg_next_result(PGconn *conn, apr_time_t deadline, PGresult **r)
{
    while (PQisBusy(conn)) {
        if (!pg_readable(conn, deadline))
            return 0;
        if (!PQconsumeInput(conn))
            break; /* PQgetResult gives the error */
    }
    *r = PQgetResult(conn);
    return 1;
}

/* Send and wait for the answer for db->reply_timeout at most; a server
 * that says nothing by then is treated as lost. */
static vm_status pg_exec_bounded(vm_db *db, const char *sql, int n,
                                 const char *const *params, PGresult **out,
                                 apr_pool_t *p, const char **err)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(db->reply_timeout);
    PGresult *first = NULL, *r;

    *out = NULL;
    if (!PQsendQueryParams(db->conn, sql, n, NULL, params, NULL, NULL, 0))
        return VM_OK; /* *out NULL: the caller reports the error */
    for (;;) {
        if (!pg_next_result(db->conn, deadline, &r)) {
            PQclear(first);
            *err = vm_db_message(db, p,
                                 "no answer from the server within "
                                 "%d s",
                                 db->reply_timeout);
            pg_drop(db);
            return VM_ERR_UNREACHABLE;
        }
        if (!r)
            break;
        if (first)
            PQclear(r); /* one statement: one result that matters */
        else
            first = r;
    }
    *out = first;
    return VM_OK;
}

static vm_status pg_run(vm_db *db, const char *sql, int n,
                        const char *const *params, vm_db_result *res,
                        apr_pool_t *p, const char **err)
{
    PGresult *r;
    ExecStatusType es;

    if (!db->reply_timeout)
        r = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
    else if (pg_exec_bounded(db, sql, n, params, &r, p, err) != VM_OK)
        return VM_ERR_UNREACHABLE;
    es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK)
        return pg_fail(db, r, p, err);
    pg_result(r, res, p);
    PQclear(r);
    return VM_OK;
}

static vm_status pg_notified(vm_db *db, const char *channel, int *seen,
                             apr_pool_t *p, const char **err)
{
    PGnotify *n;

    if (!pg_alive(db) || !PQconsumeInput(db->conn)
        || PQstatus(db->conn) != CONNECTION_OK) {
        *err = vm_db_message(db, p,
                             "lost the connection waiting for "
                             "changes: %s",
                             db->conn ? PQerrorMessage(db->conn)
                                      : "not connected");
        if (db->conn)
            pg_drop(db);
        return VM_ERR_UNREACHABLE;
    }
    while ((n = PQnotifies(db->conn)) != NULL) {
        *seen |= strcmp(n->relname, channel) == 0;
        PQfreemem(n);
    }
    return VM_OK;
}

const vm_db_driver vm_db_pgsql_driver = {
    .quote = '"',
    .numbered = 1,
    .schemas = 1,
    .parse = pg_parse,
    .configure = pg_configure,
    .connect = pg_connect,
    .run = pg_run,
    .notified = pg_notified,
    .alive = pg_alive,
    .drop = pg_drop,
};
