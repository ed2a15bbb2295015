/* The databases vmoodlectl works on: an instance's connection settings
 * (its dbtype, dbhost, login, password and dbname columns), and the core's
 * SQL layer (vm_db.h) opened with them, with a few helpers for statements
 * whose first column is all that matters. */
#ifndef VMOODLECTL_DB_H
#define VMOODLECTL_DB_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "vm_db.h"

typedef struct {
    int pg;           /* 1 PostgreSQL, 0 MariaDB/MySQL */
    const char *host; /* NULL default; "/..." a socket */
    unsigned port;    /* 0: the default */
    const char *user, *pass;
    const char *dbname;
} vmc_dbconf;

/* From an instance's columns (dbhost may be "host:port" or a socket). */
int vmc_dbconf_make(vmc_dbconf *c, const char *dbtype, const char *dbhost,
                    const char *user, const char *pass, const char *dbname,
                    apr_pool_t *p, const char **err);

/* "host:port" for messages and for comparing servers. */
const char *vmc_dbconf_server(const vmc_dbconf *c, apr_pool_t *p);

/* Connected to dbname, or with NULL to the server only (PostgreSQL: the
 * "postgres" database).  Closed with the pool.  NULL with *err. */
vm_db *vmc_db_open(const vmc_dbconf *c, const char *dbname, apr_pool_t *p,
                   const char **err);

/* A statement whose rows do not matter: 0, or -1 with *err. */
int vmc_db_exec(vm_db *db, const char *sql, int n, const char *const *params,
                apr_pool_t *p, const char **err);

/* The first column of every row, as strings (NULLs left out). */
int vmc_db_column(vm_db *db, const char *sql, int n, const char *const *params,
                  apr_array_header_t **values, apr_pool_t *p, const char **err);

/* The first column of the first row; *value NULL when no row.  0 or -1. */
int vmc_db_value(vm_db *db, const char *sql, int n, const char *const *params,
                 const char **value, apr_pool_t *p, const char **err);

#endif
