/* The one SQL layer: PostgreSQL (libpq) and MySQL or MariaDB (MariaDB
 * Connector/C) behind one small interface, used by the instance-table
 * sources (vm_source_db.h) and by vmoodlectl's work on whole databases.
 *
 *   - values travel only as parameters (vm_db_param gives the placeholder);
 *     identifiers only through vm_db_ident / vm_db_table, which validate
 *     and quote them: nothing else is ever pasted into SQL;
 *   - every wait is bounded: VM_DB_CONNECT_TIMEOUT to connect, and on MySQL
 *     VM_DB_IO_TIMEOUT for each read or write; on PostgreSQL, keepalives
 *     and tcp_user_timeout find a vanished server, and a connection made
 *     with vm_db_bound_replies waits VM_DB_IO_TIMEOUT at most for any
 *     statement's answer (a server that accepts and then says nothing);
 *   - a message says what failed and the server's primary message, on one
 *     line, the password masked, after the connection's label.
 *
 * A connection is opened on first use and kept until vm_db_close or until
 * the server is lost; the next call opens another. */
#ifndef VM_DB_H
#define VM_DB_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include "vm_status.h"

#define VM_DB_CONNECT_TIMEOUT 5 /* seconds */
#define VM_DB_IO_TIMEOUT \
    30 /* seconds, MySQL reads and writes, and
                                      a bounded PostgreSQL statement */

typedef enum { VM_DB_PGSQL, VM_DB_MYSQL } vm_db_kind;

typedef struct vm_db vm_db;

/* What a statement gave, allocated from the pool passed to vm_db_run. */
typedef struct {
    int rows, cols;
    const char *const *value; /* rows * cols, row by row; NULL: SQL NULL */
    const size_t *length;     /* bytes of each value */
    long long affected;       /* rows a command changed (MySQL: matched) */
    long long insert_id;      /* MySQL: the id an INSERT assigned; else 0 */
} vm_db_result;

/* Parse a connection string into options: libpq's (key=value or a URI)
 * for PostgreSQL; key=value with 'quoted values' and backslash escapes
 * for MySQL.  NULL, or why not (never a value). */
const char *vm_db_parse(vm_db_kind kind, const char *text,
                        apr_table_t *options);

/* A connection with these options, not opened yet (no I/O).  Options:
 * libpq keywords for PostgreSQL (connect_timeout, client_encoding and
 * application_name have defaults); host, port, dbname, user, password and
 * socket for MySQL.  label starts every message ("source pgsql:..."), NULL
 * for none.  Closed when p is.  NULL, or why not (never a value). */
const char *vm_db_make(vm_db **out, vm_db_kind kind, const apr_table_t *options,
                       const char *label, apr_pool_t *p);

/* Bound every statement's wait for its answer to VM_DB_IO_TIMEOUT: past
 * it the connection is dropped and the statement fails as unreachable;
 * on PostgreSQL the server cancels it a little earlier (statement_timeout)
 * with a clear reason.  For the instance-table sources, whose callers
 * must not hang; not for vmoodlectl's long copies of whole databases. */
void vm_db_bound_replies(vm_db *db);

/* An option as given (dbname, say), or NULL. */
const char *vm_db_option(const vm_db *db, const char *key);

vm_status vm_db_connect(vm_db *db, apr_pool_t *p, const char **err);

/* Run one statement with n text parameters (NULL: SQL NULL), connecting
 * first when needed; res may be NULL.  Errors: VM_ERR_UNREACHABLE when the
 * server is down or lost (the connection is dropped), VM_ERR_DATA for a
 * value the server refused, VM_ERR_CONFIG for the rest (credentials,
 * missing table, privileges, syntax). */
vm_status vm_db_run(vm_db *db, const char *sql, int n,
                    const char *const *params, vm_db_result *res, apr_pool_t *p,
                    const char **err);

/* Row r, column c of a result, or NULL (SQL NULL or out of range). */
const char *vm_db_value(const vm_db_result *res, int r, int c);

/* Notifications on channel since the last call (PostgreSQL LISTEN; the
 * caller runs the LISTEN).  *seen = 1 when one came.  Without blocking.
 * VM_ERR_UNSUPPORTED on MySQL. */
vm_status vm_db_notified(vm_db *db, const char *channel, int *seen,
                         apr_pool_t *p, const char **err);

/* Connected now; and how many connections were opened so far (a LISTEN,
 * a lock, a transaction live only as long as theirs). */
int vm_db_connected(const vm_db *db);
unsigned vm_db_session(const vm_db *db);

vm_db_kind vm_db_kind_of(const vm_db *db);

/* Placeholder number i (from 1): "$1" or "?"; read as a 64-bit integer:
 * "$1::bigint" or "CAST(? AS SIGNED)". */
const char *vm_db_param(const vm_db *db, int i, apr_pool_t *p);
const char *vm_db_int_param(const vm_db *db, int i, apr_pool_t *p);

/* name quoted as an identifier ("name" or `name`), or NULL when it is not
 * 1 to 64 of letters, digits, '_', '$' and '-'.  vm_db_table also takes
 * schema.table on PostgreSQL. */
const char *vm_db_ident(const vm_db *db, const char *name, apr_pool_t *p);
const char *vm_db_table(const vm_db *db, const char *name, apr_pool_t *p);

/* The same rule before any connection exists (a directive, say): NULL
 * when name can be a table (schemas: schema.table allowed), else the rule
 * it breaks. */
const char *vm_db_table_check(const char *name, int schemas);

/* A message as the layer writes its own: "<label>: <text>", on one line,
 * the password masked. */
const char *vm_db_message(const vm_db *db, apr_pool_t *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Drop the connection (the next call opens another). */
void vm_db_close(vm_db *db);

#endif
