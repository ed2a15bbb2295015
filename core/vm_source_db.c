/* What the database sources share; see vm_source_db.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_hash.h"
#include "vm_source_db.h"

const char *vm_source_db_error(const vm_source *src, apr_pool_t *p,
                               const char *fmt, ...)
{
    va_list ap;
    const char *msg;

    va_start(ap, fmt);
    msg = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return apr_pstrcat(p, "source ", src->display, ": ", msg, NULL);
}

vm_status vm_source_db_configure(vm_source *src, vm_db_kind kind,
                                 const char *arg, const char *hint,
                                 vm_source_db *sd, const char **err)
{
    apr_pool_t *p = src->pool;
    apr_table_t *options = apr_table_make(p, 8);
    const char *why = vm_db_parse(kind, arg, options);

    if (!why)
        why = vm_db_make(&sd->db, kind, options,
                         apr_pstrcat(p, "source ", src->display, NULL), p);
    if (why) {
        *err = vm_source_db_error(src, p, "bad source string: %s%s", why, hint);
        return VM_ERR_CONFIG;
    }
    sd->qtable = vm_db_table(sd->db, src->table, p);
    if (!sd->qtable) {
        *err = vm_source_db_error(src, p, "invalid table name: %s",
                                  vm_db_table_check(src->table,
                                                    kind == VM_DB_PGSQL));
        return VM_ERR_CONFIG;
    }
    return VM_OK;
}

vm_status vm_source_db_columns(vm_source *src, apr_pool_t *p, const char **err)
{
    vm_source_db *sd = src->backend;
    int pg = vm_db_kind_of(sd->db) == VM_DB_PGSQL;
    const char *dot = pg ? strchr(src->table, '.') : NULL;
    const char *values[2] = {
        dot ? dot + 1 : src->table,
        dot ? apr_pstrndup(p, src->table, (apr_size_t)(dot - src->table)) : NULL
    };
    const char *sql = pg ? "SELECT column_name FROM information_schema.columns "
                           "WHERE table_name = $1 AND table_schema = "
                           "COALESCE($2::text, current_schema()) "
                           "AND column_name IN ('platform', 'aliases')"
                         : "SELECT column_name FROM information_schema.columns "
                           "WHERE table_name = ? AND table_schema = DATABASE() "
                           "AND column_name IN ('platform', 'aliases')";
    vm_db_result res;
    vm_status rc = vm_db_run(sd->db, sql, pg ? 2 : 1, values, &res, p, err);

    if (rc != VM_OK)
        return rc;
    for (int f = 0; f < VM_F_COUNT; f++)
        sd->has[f] = !VM_FIELD_OPTIONAL(f);
    for (int i = 0; i < res.rows; i++) {
        const char *v = vm_db_value(&res, i, 0);
        int f = v ? vm_field_by_name(v) : -1;
        if (f >= 0)
            sd->has[f] = 1;
    }
    return VM_OK;
}

/* "SELECT id, name, ... FROM qtable ORDER BY id": the columns the table
 * has, in vm_field order; fields[i] is result column i's field. */
static const char *select_sql(const vm_source_db *sd, int *fields, int *n,
                              apr_pool_t *p)
{
    const char *cols = "";

    *n = 0;
    for (int f = 0; f < VM_F_COUNT; f++)
        if (sd->has[f]) {
            cols = apr_pstrcat(p, cols, *n ? ", " : "", vm_field_names[f],
                               NULL);
            fields[(*n)++] = f;
        }
    return apr_psprintf(p, "SELECT %s FROM %s ORDER BY id", cols, sd->qtable);
}

/* A value holding a NUL byte cannot be a C string without being cut
 * short: the row is refused rather than read as something else. */
vm_status vm_source_db_load(vm_source *src, apr_array_header_t *rows,
                            apr_pool_t *p, const char **err)
{
    vm_source_db *sd = src->backend;
    vm_db_result res;
    int fields[VM_F_COUNT], n;
    vm_status rc = vm_source_db_columns(src, p, err);

    if (rc == VM_OK)
        rc = vm_db_run(sd->db, select_sql(sd, fields, &n, p), 0, NULL, &res, p,
                       err);
    if (rc != VM_OK)
        return rc;
    for (int i = 0; i < res.rows; i++) {
        vm_row *row = apr_array_push(rows);
        memset(row, 0, sizeof *row);
        for (int c = 0; c < n; c++) {
            const char *v = vm_db_value(&res, i, c);
            if (v && strlen(v) != res.length[i * res.cols + c])
                row->error = apr_psprintf(p, "%s contains a NUL byte",
                                          vm_field_names[fields[c]]);
            vm_row_set(row, (vm_field)fields[c], v);
        }
    }
    return VM_OK;
}

void vm_source_db_close(vm_source *src)
{
    vm_source_db *sd = src->backend;

    if (sd && sd->db)
        vm_db_close(sd->db);
}

unsigned vm_source_db_table_hash(const char *scope, const char *table)
{
    char name[256];
    int n = snprintf(name, sizeof name, "vmoodle:%s.%s", scope, table);

    return vm_hash_key(name,
                       n < 0                         ? 0
                           : (size_t)n < sizeof name ? (size_t)n
                                                     : sizeof name - 1);
}
