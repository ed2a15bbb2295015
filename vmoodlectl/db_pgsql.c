/* The PostgreSQL driver of vmc_db (libpq). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <libpq-fe.h>
#include "db_impl.h"

static const char *pg_error(vmc_db *db, PGconn *conn)
{
    char *msg = apr_pstrdup(db->pool, PQerrorMessage(conn));
    size_t len = strlen(msg);

    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        msg[--len] = '\0';
    return msg;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int vmc_pg_open(vmc_db *db, const vmc_dbconf *c, const char *dbname,
                const char **err)
{
    const char *keys[8], *vals[8];
    int n = 0;
    PGconn *conn;

#define KV(k, v) do { if (v) { keys[n] = (k); vals[n] = (v); n++; } } while (0)
    KV("host", c->host);
    KV("port", c->port ? apr_psprintf(db->pool, "%u", c->port) : NULL);
    KV("user", c->user && *c->user ? c->user : NULL);
    KV("password", c->pass && *c->pass ? c->pass : NULL);
    KV("dbname", dbname ? dbname : "postgres");
    KV("connect_timeout", "10");
    KV("application_name", "vmoodlectl");
#undef KV
    keys[n] = vals[n] = NULL;
    conn = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(conn) != CONNECTION_OK) {
        *err = conn ? pg_error(db, conn) : "out of memory";
        PQfinish(conn);
        return -1;
    }
    PQsetNoticeProcessor(conn, quiet, NULL);
    db->conn = conn;
    return 0;
}

/* '?' placeholders become $1, $2...; the statements are ours and carry no
 * '?' inside literals. */
static const char *numbered(vmc_db *db, const char *sql)
{
    size_t len = strlen(sql);
    char *out = apr_palloc(db->pool, len * 4 + 1), *o = out;
    int n = 0;

    for (; *sql; sql++) {
        if (*sql == '?')
            o += sprintf(o, "$%d", ++n);
        else
            *o++ = *sql;
    }
    *o = '\0';
    return out;
}

long long vmc_pg_exec(vmc_db *db, const char *sql, int n,
                      const char *const *params, apr_array_header_t *col,
                      const char **err)
{
    PGresult *res = n ? PQexecParams(db->conn, numbered(db, sql), n, NULL,
                                     params, NULL, NULL, 0)
                      : PQexec(db->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    long long rows = -1;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        rows = st == PGRES_TUPLES_OK ? PQntuples(res)
                                     : atoll(PQcmdTuples(res));
        int i;
        for (i = 0; col && st == PGRES_TUPLES_OK && i < PQntuples(res); i++)
            if (!PQgetisnull(res, i, 0))
                APR_ARRAY_PUSH(col, const char *) =
                    apr_pstrdup(db->pool, PQgetvalue(res, i, 0));
    } else {
        *err = pg_error(db, db->conn);
    }
    PQclear(res);
    return rows;
}

const char *vmc_pg_ident(vmc_db *db, const char *name)
{
    char *q = PQescapeIdentifier(db->conn, name, strlen(name));
    const char *out = q ? apr_pstrdup(db->pool, q) : NULL;

    PQfreemem(q);
    return out;
}

void vmc_pg_close(vmc_db *db)
{
    PQfinish(db->conn);
}
