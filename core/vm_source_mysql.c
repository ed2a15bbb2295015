/* The instance table in MySQL or MariaDB (MariaDB Connector/C).  Values
 * only ever travel as bound parameters of prepared statements; the SQL text
 * holds nothing but the validated, quoted table name and column names.
 * One connection, opened on first use and kept until close: it holds the
 * GET_LOCK locks.  MySQL has no change notification: poll by time. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <mysql.h>
#include "vm_source_db.h"

#define READ_TIMEOUT 30   /* seconds a statement may wait for the server */

typedef struct {
    vm_db_dialect dialect;      /* first: the shared writes find it there */
    const char *host, *user, *password, *dbname, *socket;
    unsigned port;
    const char *lock_prefix;    /* "vmoodle:<table hash>:" */
    MYSQL *conn;
    apr_pool_t *errpool;        /* messages of calls that get no pool */
} my_state;

static const char *const my_keys[] = {
    "host", "port", "dbname", "user", "password", "socket", NULL};

static void my_drop(my_state *st)
{
    if (st->conn)
        mysql_close(st->conn);
    st->conn = NULL;
}

static void my_close(vm_source *src)
{
    if (src->backend)
        my_drop(src->backend);
}

static vm_status my_run(vm_source *src, const char *sql, int n,
                        const char *const *values, long long *count,
                        long long *new_id, apr_pool_t *p, const char **err);

/* The key=value string into st; returns NULL or a reason. */
static const char *my_parse(my_state *st, const char *arg, apr_pool_t *p)
{
    apr_table_t *kv = apr_table_make(p, 8);
    const char *why = vm_db_parse_kv(arg, my_keys, kv);
    if (why)
        return why;
    st->host = apr_table_get(kv, "host");
    st->user = apr_table_get(kv, "user");
    st->password = apr_table_get(kv, "password");
    st->dbname = apr_table_get(kv, "dbname");
    st->socket = apr_table_get(kv, "socket");
    const char *port = apr_table_get(kv, "port");
    if (port) {
        char *end;
        long n = strtol(port, &end, 10);
        if (*port == '\0' || *end || n < 1 || n > 65535)
            return "port must be a number from 1 to 65535";
        st->port = (unsigned)n;
    }
    if (st->dbname == NULL || *st->dbname == '\0')
        return "dbname is required";
    return NULL;
}

static vm_status my_configure(vm_source *src, const char *arg,
                              const char **err)
{
    apr_pool_t *p = src->pool;
    my_state *st = apr_pcalloc(p, sizeof *st);
    const char *table = src->table ? src->table : VM_DEFAULT_TABLE;
    const char *qtable = vm_db_quote_table(table, 0, '`', p);
    if (qtable == NULL) {
        *err = vm_db_message(p, src, NULL, "VM00101",
                             "invalid table name (letters, digits, _)");
        return VM_ERR_CONFIG;
    }
    const char *why = my_parse(st, arg, p);
    if (why) {
        *err = vm_db_message(p, src, st->password, "VM00100",
                             "bad source string: %s (keys: host, port, "
                             "dbname, user, password, socket)", why);
        return VM_ERR_CONFIG;
    }
    st->dialect = (vm_db_dialect){VM_DB_QMARK, 0, qtable, my_run, NULL};
    /* Lock names are server-wide, so the database is part of the name. */
    st->lock_prefix = apr_psprintf(p, "vmoodle:%08x:",
                                   vm_db_table_hash(st->dbname, table));
    if (apr_pool_create(&st->errpool, p) != APR_SUCCESS)
        return VM_ERR_IO;
    src->backend = st;
    return VM_OK;
}

/* Lost the server: the connection is useless and must be reopened. */
static int my_lost(unsigned e)
{
    return e >= 2000 || e == 1053 /* shutdown */ || e == 1927 /* killed */
        || e == 4031 /* idle timeout */;
}

/* Map a MySQL error number to our classes.  Client errors (2000-2999:
 * refused, unknown host, gone away, lost) and server overload are
 * transient; rejected values are data; the rest (access denied, unknown
 * database, table or column) is configuration. */
static vm_status my_class(unsigned e)
{
    static const unsigned data[] = {1048, 1062, 1264, 1292, 1366, 1406, 0};
    static const unsigned transient[] = {1040, 1205, 1213, 0};
    if (my_lost(e))
        return VM_ERR_UNREACHABLE;
    for (const unsigned *d = data; *d; d++)
        if (e == *d)
            return VM_ERR_DATA;
    for (const unsigned *t = transient; *t; t++)
        if (e == *t)
            return VM_ERR_UNREACHABLE;
    return VM_ERR_CONFIG;
}

/* Set the connection's options: bounded waits, UTF-8, no LOAD DATA. */
static void my_options(MYSQL *conn)
{
    unsigned connect = VM_DB_CONNECT_TIMEOUT, rw = READ_TIMEOUT;
    my_bool no = 0;
    mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect);
    mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(conn, MYSQL_OPT_LOCAL_INFILE, &no);
}

static vm_status my_connect(vm_source *src, my_state *st, apr_pool_t *p,
                            const char **err)
{
    if (st->conn)
        return VM_OK;
    st->conn = mysql_init(NULL);
    if (st->conn == NULL) {
        *err = vm_db_message(p, src, NULL, "VM00102", "out of memory");
        return VM_ERR_UNREACHABLE;
    }
    my_options(st->conn);
    /* CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, not only
     * those it changed, so saving an unchanged row is not "no such row". */
    if (mysql_real_connect(st->conn, st->host, st->user, st->password,
                           st->dbname, st->port, st->socket,
                           CLIENT_FOUND_ROWS))
        return VM_OK;
    vm_status rc = my_class(mysql_errno(st->conn));
    *err = vm_db_message(p, src, st->password,
                         rc == VM_ERR_CONFIG ? "VM00103" : "VM00102",
                         "cannot connect: %s", mysql_error(st->conn));
    my_drop(st);
    return rc;
}

/* A statement failed with this error: say so, drop a lost connection. */
static vm_status my_fail(vm_source *src, my_state *st, unsigned e,
                         const char *msg, apr_pool_t *p, const char **err)
{
    vm_status rc = my_class(e);
    *err = vm_db_message(p, src, st->password,
                         rc == VM_ERR_UNREACHABLE ? "VM00105" : "VM00104",
                         "statement failed on %s: %s", st->dialect.qtable, msg);
    if (my_lost(e))
        my_drop(st);
    return rc;
}

/* Prepare, bind text parameters (NULL = SQL NULL) and execute.  On success
 * *out is the statement, for the caller to read and mysql_stmt_close. */
static vm_status my_exec(vm_source *src, const char *sql, int n,
                         const char *const *values, MYSQL_STMT **out,
                         apr_pool_t *p, const char **err)
{
    my_state *st = src->backend;
    vm_status rc = my_connect(src, st, p, err);
    if (rc != VM_OK)
        return rc;
    MYSQL_STMT *stmt = mysql_stmt_init(st->conn);
    if (stmt == NULL)
        return my_fail(src, st, mysql_errno(st->conn), mysql_error(st->conn),
                       p, err);
    MYSQL_BIND *bind = apr_pcalloc(p, (n + 1) * sizeof *bind);
    my_bool *null = apr_pcalloc(p, (n + 1) * sizeof *null);
    for (int i = 0; i < n; i++) {
        bind[i].buffer_type = MYSQL_TYPE_STRING;
        bind[i].buffer = (void *)(values[i] ? values[i] : "");
        bind[i].buffer_length = values[i] ? strlen(values[i]) : 0;
        null[i] = values[i] == NULL;
        bind[i].is_null = &null[i];
    }
    if (mysql_stmt_prepare(stmt, sql, strlen(sql))
        || mysql_stmt_bind_param(stmt, bind) || mysql_stmt_execute(stmt)) {
        rc = my_fail(src, st, mysql_stmt_errno(stmt), mysql_stmt_error(stmt),
                     p, err);
        mysql_stmt_close(stmt);
        return rc;
    }
    *out = stmt;
    return VM_OK;
}

/* vm_db_run_fn for the shared writes. */
static vm_status my_run(vm_source *src, const char *sql, int n,
                        const char *const *values, long long *count,
                        long long *new_id, apr_pool_t *p, const char **err)
{
    MYSQL_STMT *stmt;
    vm_status rc = my_exec(src, sql, n, values, &stmt, p, err);
    if (rc != VM_OK)
        return rc;
    *count = (long long)mysql_stmt_affected_rows(stmt);
    *new_id = (long long)mysql_stmt_insert_id(stmt);
    mysql_stmt_close(stmt);
    return VM_OK;
}

/* One result row into a vm_row.  A value holding a NUL byte cannot be a
 * C string without being cut short: the row is refused rather than read
 * as something else. */
static void my_row(vm_row *row, MYSQL_ROW r, const unsigned long *len,
                   apr_pool_t *p)
{
    memset(row, 0, sizeof *row);
    for (int f = 0; f < VM_F_COUNT; f++) {
        if (r[f] && memchr(r[f], '\0', len[f]))
            row->error = apr_psprintf(p, "%s contains a NUL byte",
                                      vm_field_names[f]);
        vm_row_set(row, (vm_field)f,
                   r[f] ? apr_pstrmemdup(p, r[f], len[f]) : NULL);
    }
}

static vm_status my_load(vm_source *src, apr_array_header_t *rows,
                         apr_pool_t *p, const char **err)
{
    my_state *st = src->backend;
    vm_status rc = my_connect(src, st, p, err);
    if (rc != VM_OK)
        return rc;
    /* No parameter, so the plain protocol: every value arrives as text. */
    const char *sql = vm_db_select_sql(st->dialect.qtable, p);
    MYSQL_RES *res = NULL;
    if (mysql_real_query(st->conn, sql, strlen(sql))
        || (res = mysql_store_result(st->conn)) == NULL)
        return my_fail(src, st, mysql_errno(st->conn), mysql_error(st->conn),
                       p, err);
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res)) != NULL)
        my_row(apr_array_push(rows), r, mysql_fetch_lengths(res), p);
    mysql_free_result(res);
    return VM_OK;
}

/* Run GET_LOCK or RELEASE_LOCK on this instance's lock name; *value is
 * the function's result, -1 for NULL. */
static vm_status my_lock_call(vm_source *src, const char *sql, long long id,
                              long long *value, const char **err)
{
    my_state *st = src->backend;
    apr_pool_t *p = st->errpool;
    apr_pool_clear(p);
    const char *name = apr_psprintf(p, "%s%" APR_INT64_T_FMT, st->lock_prefix,
                                    (apr_int64_t)id);
    MYSQL_STMT *stmt;
    vm_status rc = my_exec(src, sql, 1, &name, &stmt, p, err);
    if (rc != VM_OK)
        return rc;
    MYSQL_BIND out;
    my_bool is_null = 1;
    memset(&out, 0, sizeof out);
    out.buffer_type = MYSQL_TYPE_LONGLONG;
    out.buffer = value;
    out.is_null = &is_null;
    if (mysql_stmt_bind_result(stmt, &out) || mysql_stmt_fetch(stmt) != 0) {
        rc = my_fail(src, st, mysql_stmt_errno(stmt), mysql_stmt_error(stmt),
                     p, err);
    } else if (is_null) {
        *value = -1;
    }
    mysql_stmt_free_result(stmt);
    mysql_stmt_close(stmt);
    return rc;
}

static vm_status my_try_lock(vm_source *src, long long id, int *got,
                             const char **err)
{
    long long value = 0;
    vm_status rc = my_lock_call(src, "SELECT GET_LOCK(?, 0)", id, &value, err);
    *got = rc == VM_OK && value == 1;
    return rc;
}

static vm_status my_unlock(vm_source *src, long long id, const char **err)
{
    my_state *st = src->backend;
    long long value;
    if (st->conn == NULL)
        return VM_OK;  /* no session, so no lock held */
    return my_lock_call(src, "SELECT RELEASE_LOCK(?)", id, &value, err);
}

const vm_source_ops vm_source_mysql_ops = {
    .scheme = "mysql",
    .configure = my_configure,
    .load = my_load,
    .poll_change = NULL,
    .save_row = vm_db_save_row,
    .delete_row = vm_db_delete_row,
    .record_cron = vm_db_record_cron,
    .try_lock = my_try_lock,
    .unlock = my_unlock,
    .close = my_close,
};
