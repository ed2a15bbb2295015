/* The SQL layer's MySQL and MariaDB driver (MariaDB Connector/C).  A
 * statement with parameters is a server-side prepared statement, the
 * values bound; one without goes as text (DDL, and every value arrives as
 * text). */
#include <ctype.h>
#include <string.h>
#include <apr_strings.h>
#include <mysql.h>
#include "vm_db_driver.h"
#include "vm_host.h"

#define COLUMN_BUF 256 /* longer values are fetched again at their size */

typedef struct {
    const char *host, *user, *password, *dbname, *socket;
    unsigned port;
} my_settings;

static const char *const my_keys[] = { "host",     "port",   "dbname", "user",
                                       "password", "socket", NULL };

static int known_key(const char *key)
{
    for (const char *const *k = my_keys; *k; k++)
        if (strcmp(key, *k) == 0)
            return 1;
    return 0;
}

/* Length of the key at s ([A-Za-z0-9_]+), 0 when none. */
static size_t key_len(const char *s)
{
    size_t n = 0;

    while (isalnum((unsigned char)s[n]) || s[n] == '_')
        n++;
    return n;
}

/* One value at *s: bare (up to white space) or in single quotes, with
 * backslash escapes (libpq's rules, which vm_source_mask knows).  Returns
 * NULL and advances *s, or a reason. */
static const char *kv_value(const char **s, apr_pool_t *p, char **out)
{
    const char *c = *s;
    char quote = *c == '\'' ? *c++ : 0;
    char *buf = apr_palloc(p, strlen(c) + 1), *w = buf;

    while (*c && (quote ? *c != quote : !isspace((unsigned char)*c))) {
        if (*c == '\\' && c[1])
            c++;
        *w++ = *c++;
    }
    if (quote && *c != quote)
        return "unterminated quoted value";
    *w = '\0';
    *s = quote ? c + 1 : c;
    *out = buf;
    return NULL;
}

/* "key=value key='quoted value' ...": reasons never hold a value. */
static const char *my_parse(const char *s, apr_table_t *options)
{
    apr_pool_t *p = apr_table_elts(options)->pool;

    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            return NULL;
        size_t klen = key_len(s);
        if (klen == 0)
            return "expected a key (letters, digits, _)";
        char *key = apr_pstrmemdup(p, s, klen);
        if (!known_key(key))
            return apr_psprintf(p, "unknown key \"%s\"", key);
        s += klen;
        while (isspace((unsigned char)*s))
            s++;
        if (*s++ != '=')
            return apr_psprintf(p, "missing \"=\" after \"%s\"", key);
        while (isspace((unsigned char)*s))
            s++;
        char *value;
        const char *why = kv_value(&s, p, &value);
        if (why)
            return apr_psprintf(p, "%s for \"%s\"", why, key);
        apr_table_setn(options, key, value);
    }
}

static int check_key(void *bad, const char *key, const char *value)
{
    (void)value;
    if (!known_key(key))
        *(const char **)bad = key;
    return 1;
}

static const char *my_configure(vm_db *db, const apr_table_t *options)
{
    apr_pool_t *p = apr_table_elts(options)->pool;
    my_settings *s = apr_pcalloc(p, sizeof *s);
    const char *port = apr_table_get(options, "port"), *bad = NULL;

    apr_table_do(check_key, &bad, options, NULL);
    if (bad)
        return apr_psprintf(p, "unknown key \"%s\"", bad);
    s->host = apr_table_get(options, "host");
    s->user = apr_table_get(options, "user");
    s->password = apr_table_get(options, "password");
    s->dbname = apr_table_get(options, "dbname");
    s->socket = apr_table_get(options, "socket");
    if (port && vm_host_parse_port(port, strlen(port), &s->port))
        return "port must be a number from 1 to 65535";
    db->settings = s;
    return NULL;
}

static int my_alive(const vm_db *db)
{
    return db->conn != NULL;
}

static void my_drop(vm_db *db)
{
    mysql_close(db->conn);
    db->conn = NULL;
}

/* Lost the server: the connection is useless and must be reopened. */
static int my_lost(unsigned e)
{
    return e >= 2000 || e == 1053 /* shutdown */ || e == 1927 /* killed */
        || e == 4031 /* idle timeout */;
}

/* A MySQL error number in our classes.  Client errors (2000-2999:
 * refused, unknown host, gone away, lost) and server overload are
 * transient; rejected values are data; the rest (access denied, unknown
 * database, table or column) is configuration. */
static vm_status my_class(unsigned e)
{
    static const unsigned data[] = { 1048, 1062, 1264, 1292, 1366, 1406, 0 };
    static const unsigned transient[] = { 1040, 1205, 1213, 0 };

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

/* Bounded waits, UTF-8, no LOAD DATA LOCAL. */
static void my_options(MYSQL *conn)
{
    unsigned connect = VM_DB_CONNECT_TIMEOUT, rw = VM_DB_IO_TIMEOUT;
    my_bool no = 0;

    mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect);
    mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(conn, MYSQL_OPT_LOCAL_INFILE, &no);
}

static vm_status my_connect(vm_db *db, apr_pool_t *p, const char **err)
{
    my_settings *s = db->settings;
    MYSQL *conn = mysql_init(NULL);
    vm_status rc;

    if (conn == NULL) {
        *err = vm_db_message(db, p, "cannot connect: out of memory");
        return VM_ERR_UNREACHABLE;
    }
    my_options(conn);
    /* CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, not only
     * those it changed, so saving an unchanged row is not "no such row". */
    if (mysql_real_connect(conn, s->host, s->user, s->password, s->dbname,
                           s->port, s->socket, CLIENT_FOUND_ROWS)) {
        db->conn = conn;
        return VM_OK;
    }
    rc = my_class(mysql_errno(conn));
    *err = vm_db_message(db, p, "cannot connect: %s", mysql_error(conn));
    mysql_close(conn);
    return rc;
}

/* A statement failed with this error: say so, drop a lost connection. */
static vm_status my_fail(vm_db *db, unsigned e, const char *msg, apr_pool_t *p,
                         const char **err)
{
    vm_status rc = my_class(e);

    *err = vm_db_message(db, p, "statement failed: %s", msg);
    if (my_lost(e))
        my_drop(db);
    return rc;
}

/* Rows collected as they come, then laid out in res. */
typedef struct {
    apr_array_header_t *value, *length;
    int cols;
} collected;

static void collect_init(collected *c, int cols, apr_pool_t *p)
{
    c->value = apr_array_make(p, 16, sizeof(const char *));
    c->length = apr_array_make(p, 16, sizeof(size_t));
    c->cols = cols;
}

static void collect(collected *c, const char *v, size_t len, apr_pool_t *p)
{
    APR_ARRAY_PUSH(c->value, const char *) = v ? apr_pstrmemdup(p, v, len)
                                               : NULL;
    APR_ARRAY_PUSH(c->length, size_t) = v ? len : 0;
}

static void collect_done(collected *c, vm_db_result *res, apr_pool_t *p)
{
    const char **value;
    size_t *length;
    int cells = c->value->nelts;

    vm_db_result_alloc(res, c->cols ? cells / c->cols : 0, c->cols, &value,
                       &length, p);
    memcpy(value, c->value->elts, (size_t)cells * sizeof *value);
    memcpy(length, c->length->elts, (size_t)cells * sizeof *length);
}

/* No parameter: the text protocol. */
static vm_status my_plain(vm_db *db, const char *sql, vm_db_result *res,
                          apr_pool_t *p, const char **err)
{
    MYSQL *conn = db->conn;
    MYSQL_RES *r;
    MYSQL_ROW row;
    collected c;

    if (mysql_real_query(conn, sql, strlen(sql)))
        return my_fail(db, mysql_errno(conn), mysql_error(conn), p, err);
    if ((r = mysql_store_result(conn)) == NULL) {
        if (mysql_field_count(conn) != 0)
            return my_fail(db, mysql_errno(conn), mysql_error(conn), p, err);
        res->affected = (long long)mysql_affected_rows(conn);
        res->insert_id = (long long)mysql_insert_id(conn);
        return VM_OK;
    }
    collect_init(&c, (int)mysql_num_fields(r), p);
    while ((row = mysql_fetch_row(r)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(r);
        for (int i = 0; i < c.cols; i++)
            collect(&c, row[i], len[i], p);
    }
    mysql_free_result(r);
    collect_done(&c, res, p);
    return VM_OK;
}

/* Every row of an executed statement, each column as text. */
static int my_fetch(MYSQL_STMT *stmt, collected *c, apr_pool_t *p)
{
    MYSQL_BIND *out = apr_pcalloc(p, (size_t)(c->cols + 1) * sizeof *out);
    unsigned long *len = apr_pcalloc(p, (size_t)(c->cols + 1) * sizeof *len);
    my_bool *null = apr_pcalloc(p, (size_t)(c->cols + 1) * sizeof *null);
    int rc;

    for (int i = 0; i < c->cols; i++) {
        out[i].buffer_type = MYSQL_TYPE_STRING;
        out[i].buffer = apr_palloc(p, COLUMN_BUF);
        out[i].buffer_length = COLUMN_BUF;
        out[i].length = &len[i];
        out[i].is_null = &null[i];
    }
    if (mysql_stmt_bind_result(stmt, out))
        return -1;
    while ((rc = mysql_stmt_fetch(stmt)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
        for (int i = 0; i < c->cols; i++) {
            MYSQL_BIND whole = out[i];
            if (!null[i] && len[i] > COLUMN_BUF) {
                whole.buffer = apr_palloc(p, len[i]);
                whole.buffer_length = len[i];
                if (mysql_stmt_fetch_column(stmt, &whole, (unsigned)i, 0))
                    return -1;
            }
            collect(c, null[i] ? NULL : whole.buffer, len[i], p);
        }
    }
    return rc == MYSQL_NO_DATA ? 0 : -1;
}

/* Prepare, bind text parameters (NULL: SQL NULL), execute, read.  The
 * statement is closed before a lost connection is dropped. */
static vm_status my_prepared(vm_db *db, const char *sql, int n,
                             const char *const *params, vm_db_result *res,
                             apr_pool_t *p, const char **err)
{
    MYSQL_STMT *stmt = mysql_stmt_init(db->conn);
    MYSQL_BIND *bind = apr_pcalloc(p, (size_t)(n + 1) * sizeof *bind);
    my_bool *null = apr_pcalloc(p, (size_t)(n + 1) * sizeof *null);
    const char *failed = NULL;
    unsigned e = 0;
    collected c;

    if (stmt == NULL)
        return my_fail(db, mysql_errno(db->conn), mysql_error(db->conn), p,
                       err);
    for (int i = 0; i < n; i++) {
        bind[i].buffer_type = MYSQL_TYPE_STRING;
        bind[i].buffer = (void *)(params[i] ? params[i] : "");
        bind[i].buffer_length = params[i] ? strlen(params[i]) : 0;
        null[i] = params[i] == NULL;
        bind[i].is_null = &null[i];
    }
    if (mysql_stmt_prepare(stmt, sql, strlen(sql))
        || mysql_stmt_bind_param(stmt, bind) || mysql_stmt_execute(stmt)) {
        failed = "";
    } else if (mysql_stmt_field_count(stmt) > 0) {
        collect_init(&c, (int)mysql_stmt_field_count(stmt), p);
        if (my_fetch(stmt, &c, p) != 0)
            failed = "";
        else
            collect_done(&c, res, p);
    } else {
        res->affected = (long long)mysql_stmt_affected_rows(stmt);
        res->insert_id = (long long)mysql_stmt_insert_id(stmt);
    }
    if (failed) {
        e = mysql_stmt_errno(stmt);
        failed = apr_pstrdup(p, mysql_stmt_error(stmt));
    }
    mysql_stmt_close(stmt);
    return failed ? my_fail(db, e, failed, p, err) : VM_OK;
}

static vm_status my_run(vm_db *db, const char *sql, int n,
                        const char *const *params, vm_db_result *res,
                        apr_pool_t *p, const char **err)
{
    return n == 0 ? my_plain(db, sql, res, p, err)
                  : my_prepared(db, sql, n, params, res, p, err);
}

const vm_db_driver vm_db_mysql_driver = {
    .quote = '`',
    .numbered = 0,
    .schemas = 0,
    .parse = my_parse,
    .configure = my_configure,
    .connect = my_connect,
    .run = my_run,
    .notified = NULL,
    .alive = my_alive,
    .drop = my_drop,
};
