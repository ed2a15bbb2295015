/* The instance table in a SQL database: what the PostgreSQL and MySQL
 * sources share on top of the SQL layer (vm_db.h): the source string and
 * table name, the load, the writes (statements built from vm_field_names,
 * placeholders only, never a value), lock naming and messages that name
 * the source with its password masked. */
#ifndef VM_SOURCE_DB_H
#define VM_SOURCE_DB_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "vm_db.h"
#include "vm_source.h"

/* The first member of a database backend's state (src->backend). */
typedef struct {
    vm_db *db;
    const char *qtable; /* validated, quoted table name */
    int returning;      /* INSERT ... RETURNING id gives the new id */
    /* After a row was inserted with an explicit id, or NULL. */
    vm_status (*after_explicit_id)(vm_source *src, apr_pool_t *p,
                                   const char **err);
    /* The optional columns (platform, aliases) the table has, as found by
     * the last vm_source_db_columns. */
    unsigned char has[VM_F_COUNT];
} vm_source_db;

/* Ask the database which optional columns the table has, into sd->has
 * (VMoodle's own columns are always there). */
vm_status vm_source_db_columns(vm_source *src, apr_pool_t *p, const char **err);

/* Parse the source's argument and its table name into sd; no I/O.  hint
 * follows the reason when the string is bad (the keys MySQL takes, say). */
vm_status vm_source_db_configure(vm_source *src, vm_db_kind kind,
                                 const char *arg, const char *hint,
                                 vm_source_db *sd, const char **err);

/* The operations of vm_source_ops, the same SQL for both databases. */
vm_status vm_source_db_load(vm_source *src, apr_array_header_t *rows,
                            apr_pool_t *p, const char **err);
vm_status vm_source_db_save_row(vm_source *src, const vm_row *row,
                                long long *id, apr_pool_t *p, const char **err);
vm_status vm_source_db_delete_row(vm_source *src, long long id, apr_pool_t *p,
                                  const char **err);
vm_status vm_source_db_record_cron(vm_source *src, long long id,
                                   long long started, apr_pool_t *p,
                                   const char **err);
void vm_source_db_close(vm_source *src);

/* A 32-bit name for the table, the same on every host: locks taken on one
 * table by one front end must exclude those taken by another. */
unsigned vm_source_db_table_hash(const char *scope, const char *table);

/* "source <masked spec>: <message>", from p. */
const char *vm_source_db_error(const vm_source *src, apr_pool_t *p,
                               const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
