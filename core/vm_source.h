/* Where the instance table lives: one small interface, one file per backend
 * (vm_source_json.c, vm_source_pgsql.c, vm_source_mysql.c).
 *
 * A source string is "scheme:argument": json:/etc/vmoodle/instances.json,
 * pgsql:"host=... dbname=...", mysql:"host=... dbname=...".  The same string
 * works for the module, vcron and vmoodlectl.
 *
 * Connections: a backend may keep a connection between calls (vcron's locks
 * need it); vm_source_close() drops it.  The module calls it before children
 * fork, so no connection ever crosses a fork. */
#ifndef VM_SOURCE_H
#define VM_SOURCE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "vm_status.h"
#include "vm_instance.h"

#define VM_DEFAULT_TABLE "mdl_local_vmoodle"

typedef struct vm_source vm_source;
typedef struct vm_source_ops vm_source_ops;

struct vm_source {
    const vm_source_ops *ops;
    const char *spec;    /* as configured; may hold a password */
    const char *display; /* the same with any password masked: for logs */
    const char *table;   /* table name for database sources */
    apr_pool_t *pool;    /* owns the source and its backend state */
    void *backend;       /* the backend's own state */
    int unsaved;         /* vm_refresh: the last load is not on disk yet */
};

/* Every operation returns VM_OK or an error with *err set (from the pool
 * passed, or the source's pool); *err never contains a password.
 * Optional operations are NULL when a backend cannot do them. */
struct vm_source_ops {
    const char *scheme;
    /* Parse the argument; no I/O. */
    vm_status (*configure)(vm_source *src, const char *arg, const char **err);
    /* Append every row of the table to rows (vm_row). */
    vm_status (*load)(vm_source *src, apr_array_header_t *rows, apr_pool_t *p,
                      const char **err);
    /* Cheap: *same = 1 when the source is certainly unchanged since this
     * source's last successful load (JSON: the files' inode, size and
     * time).  NULL: always load. */
    vm_status (*unchanged)(vm_source *src, int *same, const char **err);
    /* Non-blocking: *changed = 1 when the source says it changed since the
     * last call (PostgreSQL NOTIFY).  NULL: poll by time only. */
    vm_status (*poll_change)(vm_source *src, int *changed, const char **err);
    /* Insert (id 0: the source assigns one, returned in *id) or replace
     * the row with row's id. */
    vm_status (*save_row)(vm_source *src, const vm_row *row, long long *id,
                          apr_pool_t *p, const char **err);
    vm_status (*delete_row)(vm_source *src, long long id, apr_pool_t *p,
                            const char **err);
    /* After a cron run that started at 'started': croncount + 1,
     * lastcrongap = started - previous lastcron, lastcron = started. */
    vm_status (*record_cron)(vm_source *src, long long id, long long started,
                             apr_pool_t *p, const char **err);
    /* A lock on one instance shared by every host using this source;
     * *got = 0 when another holder has it.  Released by unlock or when
     * the holder dies. */
    vm_status (*try_lock)(vm_source *src, long long id, int *got,
                          const char **err);
    vm_status (*unlock)(vm_source *src, long long id, const char **err);
    /* Drop any open connection. */
    void (*close)(vm_source *src);
};

/* A source string as an administrator writes it, quotes taken off:
 * json:/path, "json:/path", pgsql:"host=db dbname=moodle" and
 * "pgsql:host=db dbname=moodle" all give scheme:argument (blanks around
 * the whole trimmed).  From p. */
const char *vm_source_unquote(const char *spec, apr_pool_t *p);

/* Parse "scheme:argument" (through vm_source_unquote); table NULL means
 * VM_DEFAULT_TABLE.  The source
 * is allocated from p and closed when p is cleared. */
vm_status vm_source_open(vm_source **out, const char *spec, const char *table,
                         apr_pool_t *p, const char **err);

/* Read and validate nothing: raw rows, for vm_table_build(). */
vm_status vm_source_load(vm_source *src, apr_array_header_t **rows,
                         apr_pool_t *p, const char **err);

void vm_source_close(vm_source *src);

/* A source string for messages: pgsql:host=db password=***, every
 * password masked whole as the drivers read it (vm_conninfo_mask), the
 * quotes taken off as vm_source_unquote does. */
const char *vm_source_mask(const char *spec, apr_pool_t *p);

/* Backends, registered in vm_source.c. */
extern const vm_source_ops vm_source_json_ops;
extern const vm_source_ops vm_source_pgsql_ops;
extern const vm_source_ops vm_source_mysql_ops;

#endif
