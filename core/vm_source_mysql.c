/* The instance table in MySQL or MariaDB, through the SQL layer (vm_db.h).
 * One connection, opened on first use and kept until close: it holds the
 * GET_LOCK locks.  MySQL has no change notification: poll by time. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_source_db.h"

#define KEYS " (keys: host, port, dbname, user, password, socket)"

typedef struct {
    vm_source_db sql;        /* first: the shared code finds it there */
    const char *lock_prefix; /* "vmoodle:<table hash>:" */
    apr_pool_t *errpool;     /* messages of calls that get no pool */
} my_state;

static vm_status my_configure(vm_source *src, const char *arg, const char **err)
{
    apr_pool_t *p = src->pool;
    my_state *st = apr_pcalloc(p, sizeof *st);
    vm_status rc = vm_source_db_configure(src, VM_DB_MYSQL, arg, KEYS, &st->sql,
                                          err);
    const char *dbname;

    if (rc != VM_OK)
        return rc;
    dbname = vm_db_option(st->sql.db, "dbname");
    if (!dbname || !*dbname) {
        *err = vm_source_db_error(src, p,
                                  "bad source string: dbname is "
                                  "required" KEYS);
        return VM_ERR_CONFIG;
    }
    /* Lock names are server-wide, so the database is part of the name. */
    st->lock_prefix = apr_psprintf(p, "vmoodle:%08x:",
                                   vm_source_db_table_hash(dbname, src->table));
    if (apr_pool_create(&st->errpool, p) != APR_SUCCESS)
        return VM_ERR_IO;
    src->backend = st;
    return VM_OK;
}

/* Run GET_LOCK or RELEASE_LOCK on this instance's lock name; *value is
 * the function's result, -1 for NULL. */
static vm_status my_lock_call(vm_source *src, const char *sql, long long id,
                              long long *value, const char **err)
{
    my_state *st = src->backend;
    apr_pool_t *p = st->errpool;
    apr_pool_clear(p);
    const char *name = apr_psprintf(p, "%s%" APR_INT64_T_FMT, st->lock_prefix,
                                    (apr_int64_t)id);
    vm_db_result res;
    vm_status rc = vm_db_run(st->sql.db, sql, 1, &name, &res, p, err);

    if (rc == VM_OK) {
        const char *v = vm_db_value(&res, 0, 0);
        *value = v ? atoll(v) : -1;
    }
    return rc;
}

static vm_status my_try_lock(vm_source *src, long long id, int *got,
                             const char **err)
{
    long long value = 0;
    vm_status rc = my_lock_call(src, "SELECT GET_LOCK(?, 0)", id, &value, err);

    *got = rc == VM_OK && value == 1;
    return rc;
}

static vm_status my_unlock(vm_source *src, long long id, const char **err)
{
    my_state *st = src->backend;
    long long value;

    if (!vm_db_connected(st->sql.db))
        return VM_OK; /* no session, so no lock held */
    return my_lock_call(src, "SELECT RELEASE_LOCK(?)", id, &value, err);
}

const vm_source_ops vm_source_mysql_ops = {
    .scheme = "mysql",
    .configure = my_configure,
    .load = vm_source_db_load,
    .poll_change = NULL,
    .save_row = vm_source_db_save_row,
    .delete_row = vm_source_db_delete_row,
    .record_cron = vm_source_db_record_cron,
    .try_lock = my_try_lock,
    .unlock = my_unlock,
    .close = vm_source_db_close,
};
