/* Inside the SQL layer: what one database's driver provides
 * (vm_db_pgsql.c, vm_db_mysql.c) and the connection they share. */
#ifndef VM_DB_DRIVER_H
#define VM_DB_DRIVER_H

#include "vm_db.h"

typedef struct {
    char quote;   /* identifiers: " or ` */
    int numbered; /* placeholders $1, $2 (else ?) */
    int schemas;  /* schema.table names */
    const char *(*parse)(const char *text, apr_table_t *options);
    /* Check the options and keep what connect needs in db->settings. */
    const char *(*configure)(vm_db *db, const apr_table_t *options);
    vm_status (*connect)(vm_db *db, apr_pool_t *p, const char **err);
    vm_status (*run)(vm_db *db, const char *sql, int n,
                     const char *const *params, vm_db_result *res,
                     apr_pool_t *p, const char **err);
    vm_status (*notified)(vm_db *db, const char *channel, int *seen,
                          apr_pool_t *p, const char **err);
    int (*alive)(const vm_db *db);
    void (*drop)(vm_db *db);
} vm_db_driver;

struct vm_db {
    const vm_db_driver *driver;
    vm_db_kind kind;
    apr_table_t *options; /* as given, copied */
    const char *label;    /* message prefix, or NULL */
    const char *password; /* masked out of every message */
    void *settings;       /* the driver's, from configure */
    void *conn;           /* PGconn * or MYSQL *; NULL: none */
    unsigned session;     /* connections opened so far */
    int reply_timeout;    /* seconds a statement may wait; 0: none */
};

extern const vm_db_driver vm_db_pgsql_driver;
extern const vm_db_driver vm_db_mysql_driver;

/* A result of rows x cols from p, for the driver to fill. */
void vm_db_result_alloc(vm_db_result *res, int rows, int cols,
                        const char ***value, size_t **length, apr_pool_t *p);

#endif
