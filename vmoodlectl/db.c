/* vmc_db: connection settings from an instance, and the calls that pick
 * the driver. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "db_impl.h"

static int parse_port(const char *s, unsigned *port)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (end == s || *end || v < 1 || v > 65535)
        return -1;
    *port = (unsigned)v;
    return 0;
}

/* "host", "host:port", "[v6]:port" or "/socket". */
static int split_host(vmc_dbconf *c, const char *dbhost, apr_pool_t *p)
{
    const char *colon;

    c->port = 0;
    if (!*dbhost || dbhost[0] == '/') {
        c->host = *dbhost ? dbhost : NULL;
        return 0;
    }
    if (dbhost[0] == '[') {
        const char *close = strchr(dbhost, ']');
        if (!close)
            return -1;
        c->host = apr_pstrndup(p, dbhost + 1, (apr_size_t)(close - dbhost - 1));
        return close[1] == '\0' ? 0
             : close[1] == ':' ? parse_port(close + 2, &c->port) : -1;
    }
    colon = strchr(dbhost, ':');
    if (colon && strchr(colon + 1, ':'))
        colon = NULL;                /* a bare IPv6 address */
    c->host = colon ? apr_pstrndup(p, dbhost, (apr_size_t)(colon - dbhost))
                    : dbhost;
    return colon ? parse_port(colon + 1, &c->port) : 0;
}

int vmc_dbconf_make(vmc_dbconf *c, const char *dbtype, const char *dbhost,
                    const char *user, const char *pass, const char *dbname,
                    apr_pool_t *p, const char **err)
{
    memset(c, 0, sizeof *c);
    c->pg = strcmp(dbtype, "pgsql") == 0;
    if (!c->pg && strcmp(dbtype, "mariadb") && strcmp(dbtype, "mysqli")) {
        *err = apr_psprintf(p, "database type '%s' is not supported", dbtype);
        return -1;
    }
    if (split_host(c, dbhost ? dbhost : "", p) != 0) {
        *err = apr_psprintf(p, "database host '%s' is not host[:port]",
                            dbhost);
        return -1;
    }
    c->user = user;
    c->pass = pass;
    c->dbname = dbname;
    return 0;
}

const char *vmc_dbconf_server(const vmc_dbconf *c, apr_pool_t *p)
{
    unsigned port = c->port ? c->port : c->pg ? 5432 : 3306;

    if (c->host && c->host[0] == '/')
        return c->host;
    return apr_psprintf(p, "%s:%u", c->host ? c->host : "localhost", port);
}

static apr_status_t close_on_cleanup(void *data)
{
    vmc_db_close(data);
    return APR_SUCCESS;
}

vmc_db *vmc_db_open(const vmc_dbconf *c, const char *dbname, apr_pool_t *p,
                    const char **err)
{
    vmc_db *db = apr_pcalloc(p, sizeof *db);
    int rc;

    db->pg = c->pg;
    db->pool = p;
    rc = c->pg ? vmc_pg_open(db, c, dbname, err)
               : vmc_my_open(db, c, dbname, err);
    if (rc != 0)
        return NULL;
    apr_pool_cleanup_register(p, db, close_on_cleanup, apr_pool_cleanup_null);
    return db;
}

long long vmc_db_exec(vmc_db *db, const char *sql, int n,
                      const char *const *params, const char **err)
{
    return db->pg ? vmc_pg_exec(db, sql, n, params, NULL, err)
                  : vmc_my_exec(db, sql, n, params, NULL, err);
}

int vmc_db_column(vmc_db *db, const char *sql, int n,
                  const char *const *params, apr_array_header_t **values,
                  const char **err)
{
    long long r;

    *values = apr_array_make(db->pool, 8, sizeof(const char *));
    r = db->pg ? vmc_pg_exec(db, sql, n, params, *values, err)
               : vmc_my_exec(db, sql, n, params, *values, err);
    return r < 0 ? -1 : 0;
}

int vmc_db_value(vmc_db *db, const char *sql, int n,
                 const char *const *params, const char **value,
                 const char **err)
{
    apr_array_header_t *col;

    *value = NULL;
    if (vmc_db_column(db, sql, n, params, &col, err) != 0)
        return -1;
    if (col->nelts > 0)
        *value = APR_ARRAY_IDX(col, 0, const char *);
    return 0;
}

const char *vmc_db_ident(vmc_db *db, const char *name)
{
    if (db->pg)
        return vmc_pg_ident(db, name);
    if (!*name || strlen(name) > 64
        || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789_-$") != strlen(name))
        return NULL;
    return apr_pstrcat(db->pool, "`", name, "`", NULL);
}

int vmc_db_is_pg(const vmc_db *db)
{
    return db->pg;
}

apr_pool_t *vmc_db_pool(const vmc_db *db)
{
    return db->pool;
}

void vmc_db_close(vmc_db *db)
{
    if (!db->conn)
        return;
    if (db->pg)
        vmc_pg_close(db);
    else
        vmc_my_close(db);
    db->conn = NULL;
}
