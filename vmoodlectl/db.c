/* An instance's database settings, and the SQL layer opened with them. */
#include <string.h>
#include <apr_strings.h>
#include "db.h"
#include "vm_host.h"

static int parse_port(const char *s, unsigned *port)
{
    return vm_host_parse_port(s, strlen(s), port) ? -1 : 0;
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
            : close[1] == ':'   ? parse_port(close + 2, &c->port)
                                : -1;
    }
    colon = strchr(dbhost, ':');
    if (colon && strchr(colon + 1, ':'))
        colon = NULL; /* a bare IPv6 address */
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
        *err = apr_psprintf(p, "database host '%s' is not host[:port]", dbhost);
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

static void set_option(apr_table_t *o, const char *key, const char *value)
{
    if (value && *value)
        apr_table_set(o, key, value);
}

/* The instance's settings as the SQL layer's options.  MySQL takes a
 * socket as its own option; libpq takes a directory as a host. */
static apr_table_t *options_of(const vmc_dbconf *c, const char *dbname,
                               apr_pool_t *p)
{
    apr_table_t *o = apr_table_make(p, 8);
    int socket = c->host && c->host[0] == '/';

    set_option(o, "port", c->port ? apr_psprintf(p, "%u", c->port) : NULL);
    set_option(o, "user", c->user);
    set_option(o, "password", c->pass);
    if (c->pg) {
        set_option(o, "host", c->host);
        set_option(o, "dbname", dbname ? dbname : "postgres");
        set_option(o, "application_name", "vmoodlectl");
    } else {
        set_option(o, socket ? "socket" : "host", c->host);
        set_option(o, "dbname", dbname);
    }
    return o;
}

vm_db *vmc_db_open(const vmc_dbconf *c, const char *dbname, apr_pool_t *p,
                   const char **err)
{
    vm_db *db;

    *err = vm_db_make(&db, c->pg ? VM_DB_PGSQL : VM_DB_MYSQL,
                      options_of(c, dbname, p), NULL, p);
    if (*err || vm_db_connect(db, p, err) != VM_OK)
        return NULL;
    return db;
}

int vmc_db_exec(vm_db *db, const char *sql, int n, const char *const *params,
                apr_pool_t *p, const char **err)
{
    return vm_db_run(db, sql, n, params, NULL, p, err) == VM_OK ? 0 : -1;
}

int vmc_db_column(vm_db *db, const char *sql, int n, const char *const *params,
                  apr_array_header_t **values, apr_pool_t *p, const char **err)
{
    vm_db_result res;

    if (vm_db_run(db, sql, n, params, &res, p, err) != VM_OK)
        return -1;
    *values = apr_array_make(p, res.rows + 1, sizeof(const char *));
    for (int i = 0; i < res.rows; i++)
        if (vm_db_value(&res, i, 0))
            APR_ARRAY_PUSH(*values, const char *) = vm_db_value(&res, i, 0);
    return 0;
}

int vmc_db_value(vm_db *db, const char *sql, int n, const char *const *params,
                 const char **value, apr_pool_t *p, const char **err)
{
    vm_db_result res;

    *value = NULL;
    if (vm_db_run(db, sql, n, params, &res, p, err) != VM_OK)
        return -1;
    *value = vm_db_value(&res, 0, 0);
    return 0;
}
