/* Inside db.c: the two drivers behind vmc_db. */
#ifndef VMOODLECTL_DB_IMPL_H
#define VMOODLECTL_DB_IMPL_H

#include "db.h"

struct vmc_db {
    int pg;
    void *conn;           /* PGconn * or MYSQL * */
    apr_pool_t *pool;
};

int vmc_pg_open(vmc_db *db, const vmc_dbconf *c, const char *dbname,
                const char **err);
long long vmc_pg_exec(vmc_db *db, const char *sql, int n,
                      const char *const *params, apr_array_header_t *col,
                      const char **err);
const char *vmc_pg_ident(vmc_db *db, const char *name);
void vmc_pg_close(vmc_db *db);

int vmc_my_open(vmc_db *db, const vmc_dbconf *c, const char *dbname,
                const char **err);
long long vmc_my_exec(vmc_db *db, const char *sql, int n,
                      const char *const *params, apr_array_header_t *col,
                      const char **err);
void vmc_my_close(vmc_db *db);

#endif
