/* What the PostgreSQL and MySQL sources share: the table name rule, the
 * statements built from vm_field_names (placeholders only, never a value),
 * the key=value parser, lock naming and error messages that name the source
 * with its password masked. */
#ifndef VM_SOURCE_DB_H
#define VM_SOURCE_DB_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "vm_source.h"

/* Seconds a connection attempt may take, so an unreachable server never
 * hangs the caller. */
#define VM_DB_CONNECT_TIMEOUT 5

/* Placeholder style: PostgreSQL numbers them ($1, $2), MySQL does not (?). */
typedef enum { VM_DB_NUMBERED, VM_DB_QMARK } vm_db_params;

/* Validate a table name ([A-Za-z0-9_]+, or schema.table when allow_schema)
 * and return it quoted with q (" or `), or NULL when invalid. */
const char *vm_db_quote_table(const char *table, int allow_schema, char q,
                              apr_pool_t *p);

/* Parse "key=value key='quoted value' ..." (backslash escapes \' and \\)
 * into out.  Keys must be in allowed (NULL-terminated).  Returns NULL or a
 * reason that never contains a value. */
const char *vm_db_parse_kv(const char *s, const char *const *allowed,
                           apr_table_t *out);

/* "SELECT id, name, ... FROM qtable ORDER BY id": columns in vm_field
 * order, so result column i is field i. */
const char *vm_db_select_sql(const char *qtable, apr_pool_t *p);

/* How one backend runs a statement: text parameters (NULL = SQL NULL),
 * *count = rows affected, *new_id = the id an INSERT assigned (0 when
 * none).  Messages go to *err from p. */
typedef vm_status (*vm_db_run_fn)(vm_source *src, const char *sql, int n,
                                  const char *const *values, long long *count,
                                  long long *new_id, apr_pool_t *p,
                                  const char **err);

typedef struct {
    vm_db_params style;
    int returning;        /* INSERT ... RETURNING id gives the new id */
    const char *qtable;   /* quoted, validated table name */
    vm_db_run_fn run;
    /* After a row was inserted with an explicit id, or NULL. */
    vm_status (*after_explicit_id)(vm_source *src, apr_pool_t *p,
                                   const char **err);
} vm_db_dialect;

/* The writes of vm_source_ops, the same SQL for both databases.  A
 * backend's state (src->backend) starts with its vm_db_dialect. */
vm_status vm_db_save_row(vm_source *src, const vm_row *row, long long *id,
                         apr_pool_t *p, const char **err);
vm_status vm_db_delete_row(vm_source *src, long long id, apr_pool_t *p,
                           const char **err);
vm_status vm_db_record_cron(vm_source *src, long long id, long long started,
                            apr_pool_t *p, const char **err);

/* A 32-bit name for the table, the same on every host: locks taken on one
 * table by one front end must exclude those taken by another. */
unsigned vm_db_table_hash(const char *scope, const char *table);

/* "VMnnnnn: source <masked spec>: <message>", from p; any occurrence of
 * secret in the message is masked too, newlines from client libraries
 * become "; ". */
const char *vm_db_message(apr_pool_t *p, const vm_source *src,
                          const char *secret, const char *tag,
                          const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
