/* The MariaDB/MySQL driver of vmc_db (MariaDB Connector/C): statements with
 * values go through server-side prepared statements. */
#include <string.h>
#include <apr_strings.h>
#include <mysql.h>
#include "db_impl.h"

#define VALUE_MAX 4096

int vmc_my_open(vmc_db *db, const vmc_dbconf *c, const char *dbname,
                const char **err)
{
    MYSQL *m = mysql_init(NULL);
    unsigned timeout = 10;
    int socket = c->host && c->host[0] == '/';

    if (!m) {
        *err = "out of memory";
        return -1;
    }
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(m, socket ? "localhost" : c->host, c->user,
                            c->pass, dbname, c->port,
                            socket ? c->host : NULL, 0)) {
        *err = apr_pstrdup(db->pool, mysql_error(m));
        mysql_close(m);
        return -1;
    }
    db->conn = m;
    return 0;
}

static long long plain(vmc_db *db, const char *sql, apr_array_header_t *col,
                       const char **err)
{
    MYSQL *m = db->conn;
    MYSQL_RES *res;
    MYSQL_ROW row;
    long long n;

    if (mysql_real_query(m, sql, strlen(sql)) != 0) {
        *err = apr_pstrdup(db->pool, mysql_error(m));
        return -1;
    }
    if (!(res = mysql_store_result(m)))
        return (long long)mysql_affected_rows(m);
    n = (long long)mysql_num_rows(res);
    while (col && (row = mysql_fetch_row(res)) != NULL)
        if (row[0])
            APR_ARRAY_PUSH(col, const char *) = apr_pstrdup(db->pool, row[0]);
    mysql_free_result(res);
    return n;
}

static long long stmt_fail(vmc_db *db, MYSQL_STMT *st, const char **err)
{
    *err = apr_pstrdup(db->pool, mysql_stmt_error(st));
    mysql_stmt_close(st);
    return -1;
}

/* Read the first column of every row. */
static void fetch_column(vmc_db *db, MYSQL_STMT *st, apr_array_header_t *col)
{
    char *buf = apr_pcalloc(db->pool, VALUE_MAX + 1);
    unsigned long len = 0;
    my_bool is_null = 0;
    MYSQL_BIND out;

    memset(&out, 0, sizeof out);
    out.buffer_type = MYSQL_TYPE_STRING;
    out.buffer = buf;
    out.buffer_length = VALUE_MAX;
    out.length = &len;
    out.is_null = &is_null;
    if (mysql_stmt_bind_result(st, &out) != 0)
        return;
    while (mysql_stmt_fetch(st) == 0)
        if (!is_null)
            APR_ARRAY_PUSH(col, const char *) =
                apr_pstrndup(db->pool, buf, len < VALUE_MAX ? len : VALUE_MAX);
}

long long vmc_my_exec(vmc_db *db, const char *sql, int n,
                      const char *const *params, apr_array_header_t *col,
                      const char **err)
{
    MYSQL_STMT *st;
    MYSQL_BIND *in;
    long long rows;
    int i;

    if (n == 0)
        return plain(db, sql, col, err);
    if (!(st = mysql_stmt_init(db->conn)))
        return (*err = "out of memory"), -1;
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0)
        return stmt_fail(db, st, err);
    in = apr_pcalloc(db->pool, sizeof *in * (size_t)n);
    for (i = 0; i < n; i++) {
        in[i].buffer_type = MYSQL_TYPE_STRING;
        in[i].buffer = (void *)params[i];
        in[i].buffer_length = strlen(params[i]);
    }
    if (mysql_stmt_bind_param(st, in) != 0 || mysql_stmt_execute(st) != 0)
        return stmt_fail(db, st, err);
    if (mysql_stmt_field_count(st) > 0) {
        if (mysql_stmt_store_result(st) != 0)
            return stmt_fail(db, st, err);
        rows = (long long)mysql_stmt_num_rows(st);
        if (col)
            fetch_column(db, st, col);
    } else {
        rows = (long long)mysql_stmt_affected_rows(st);
    }
    mysql_stmt_close(st);
    return rows;
}

void vmc_my_close(vmc_db *db)
{
    mysql_close(db->conn);
}
