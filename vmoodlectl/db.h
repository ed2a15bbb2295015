/* One small interface over libpq and MariaDB Connector/C for what
 * vmoodlectl does in a database: connect, run a statement whose values are
 * parameters ('?' placeholders), read one value, quote an identifier. */
#ifndef VMOODLECTL_DB_H
#define VMOODLECTL_DB_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    int pg;                 /* 1 PostgreSQL, 0 MariaDB/MySQL */
    const char *host;       /* NULL default; "/..." a socket */
    unsigned port;          /* 0: the default */
    const char *user, *pass;
    const char *dbname;
} vmc_dbconf;

typedef struct vmc_db vmc_db;

/* From an instance's columns (dbhost may be "host:port" or a socket). */
int vmc_dbconf_make(vmc_dbconf *c, const char *dbtype, const char *dbhost,
                    const char *user, const char *pass, const char *dbname,
                    apr_pool_t *p, const char **err);

/* "host:port" for messages and for comparing servers. */
const char *vmc_dbconf_server(const vmc_dbconf *c, apr_pool_t *p);

/* Connect to dbname, or with NULL to the server only (PostgreSQL:
 * the "postgres" database).  Closed with the pool. */
vmc_db *vmc_db_open(const vmc_dbconf *c, const char *dbname, apr_pool_t *p,
                    const char **err);

/* Rows changed, or -1 with *err. */
long long vmc_db_exec(vmc_db *db, const char *sql, int n,
                      const char *const *params, const char **err);

/* The first column of the first row; *value NULL when no row.  0 or -1. */
int vmc_db_value(vmc_db *db, const char *sql, int n,
                 const char *const *params, const char **value,
                 const char **err);

/* The first column of every row, as strings (NULLs left out). */
int vmc_db_column(vmc_db *db, const char *sql, int n,
                  const char *const *params, apr_array_header_t **values,
                  const char **err);

/* name quoted as an identifier; NULL when it cannot be (MariaDB: only
 * letters, digits, '_', '-', '$'). */
const char *vmc_db_ident(vmc_db *db, const char *name);

int vmc_db_is_pg(const vmc_db *db);
/* The pool the connection was opened with (for statement text). */
apr_pool_t *vmc_db_pool(const vmc_db *db);

void vmc_db_close(vmc_db *db);

#endif
