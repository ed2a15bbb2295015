/* The writes of the database sources (save, delete, cron stats): one SQL
 * text for PostgreSQL and MySQL, only placeholders differ.  Column names
 * come from vm_field_names and the table name is validated and quoted at
 * configure time: no value is ever part of the SQL text. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_source_db.h"

/* Run one statement: *count rows touched, *new_id the id an INSERT
 * assigned (RETURNING id, or MySQL's insert id), 0 when none. */
static vm_status run(const vm_source_db *d, const char *sql, int n,
                     const char *const *values, long long *count,
                     long long *new_id, apr_pool_t *p, const char **err)
{
    vm_db_result res;
    vm_status rc = vm_db_run(d->db, sql, n, values, &res, p, err);

    if (rc != VM_OK)
        return rc;
    *count = res.affected;
    *new_id = res.rows == 1 && vm_db_value(&res, 0, 0)
        ? atoll(vm_db_value(&res, 0, 0))
        : res.insert_id;
    return VM_OK;
}

/* The fields of row to write (present ones the table has, id excluded),
 * in order; -1 when a value needs a column the table lacks. */
static int row_fields(const vm_source_db *d, const vm_row *row,
                      vm_field *fields, vm_field *missing)
{
    int n = 0;
    for (int f = 0; f < VM_F_COUNT; f++) {
        if (f == VM_F_ID || !row->present[f])
            continue;
        if (!d->has[f]) {
            if (row->value[f] && *row->value[f]) {
                *missing = (vm_field)f;
                return -1;
            }
            continue;
        }
        fields[n++] = (vm_field)f;
    }
    return n;
}

/* The columns row would write, after asking which the table has. */
static int fields_to_write(vm_source *src, const vm_row *row, vm_field *fields,
                           apr_pool_t *p, const char **err)
{
    vm_field missing = VM_F_ID;
    int n;

    if (vm_source_db_columns(src, p, err) != VM_OK)
        return -1;
    if ((n = row_fields(src->backend, row, fields, &missing)) < 0)
        *err = vm_source_db_error(src, p,
                                  "the table has no column %s "
                                  "(add it: templates/schema/)",
                                  vm_field_names[missing]);
    return n;
}

/* Parameters: [id,] the row's values for fields, [id]. */
static const char **row_values(const vm_row *row, const vm_field *fields, int n,
                               const char *id_first, const char *id_last,
                               apr_pool_t *p)
{
    const char **v = apr_pcalloc(p, (n + 2) * sizeof *v);
    int k = 0;
    if (id_first)
        v[k++] = id_first;
    for (int i = 0; i < n; i++)
        v[k++] = row->value[fields[i]];
    if (id_last)
        v[k++] = id_last;
    return v;
}

static const char *insert_sql(const vm_source_db *d, const vm_field *fields,
                              int n, int with_id, apr_pool_t *p)
{
    const char *cols = with_id ? "id" : "";
    const char *vals = with_id ? vm_db_param(d->db, 1, p) : "";
    for (int i = 0, k = with_id + 1; i < n; i++, k++) {
        const char *sep = (i == 0 && !with_id) ? "" : ", ";
        cols = apr_pstrcat(p, cols, sep, vm_field_names[fields[i]], NULL);
        vals = apr_pstrcat(p, vals, sep, vm_db_param(d->db, k, p), NULL);
    }
    return apr_psprintf(p, "INSERT INTO %s (%s) VALUES (%s)%s", d->qtable, cols,
                        vals,
                        (d->returning && !with_id) ? " RETURNING id" : "");
}

static const char *update_sql(const vm_source_db *d, const vm_field *fields,
                              int n, apr_pool_t *p)
{
    const char *set = "";
    for (int i = 0; i < n; i++)
        set = apr_pstrcat(p, set, i ? ", " : "", vm_field_names[fields[i]],
                          " = ", vm_db_param(d->db, i + 1, p), NULL);
    return apr_psprintf(p, "UPDATE %s SET %s WHERE id = %s", d->qtable, set,
                        vm_db_int_param(d->db, n + 1, p));
}

/* Replace the row with this id; insert it with that id when absent (a
 * table moved from another source keeps its ids). */
static vm_status replace_row(vm_source *src, const vm_source_db *d,
                             const vm_row *row, long long id, apr_pool_t *p,
                             const char **err)
{
    vm_field fields[VM_F_COUNT];
    int n = fields_to_write(src, row, fields, p, err);
    const char *idtext = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)id);
    long long count = 0, unused;
    vm_status rc;
    if (n < 0)
        return VM_ERR_CONFIG;
    if (n > 0) {
        rc = run(d, update_sql(d, fields, n, p), n + 1,
                 row_values(row, fields, n, NULL, idtext, p), &count, &unused,
                 p, err);
        if (rc != VM_OK || count > 0)
            return rc;
    }
    rc = run(d, insert_sql(d, fields, n, 1, p), n + 1,
             row_values(row, fields, n, idtext, NULL, p), &count, &unused, p,
             err);
    if (rc == VM_OK && d->after_explicit_id)
        rc = d->after_explicit_id(src, p, err);
    return rc;
}

vm_status vm_source_db_save_row(vm_source *src, const vm_row *row,
                                long long *id, apr_pool_t *p, const char **err)
{
    const vm_source_db *d = src->backend;
    long long given = vm_row_id(row), count;
    if (given > 0) {
        *id = given;
        return replace_row(src, d, row, given, p, err);
    }
    vm_field fields[VM_F_COUNT];
    int n = fields_to_write(src, row, fields, p, err);
    if (n < 0)
        return VM_ERR_CONFIG;
    return run(d, insert_sql(d, fields, n, 0, p), n,
               row_values(row, fields, n, NULL, NULL, p), &count, id, p, err);
}

/* Run a statement meant to touch the row with this id; VM_ERR_DATA when
 * there is none. */
static vm_status run_on_id(vm_source *src, const vm_source_db *d,
                           const char *sql, int n, const char *const *values,
                           long long id, apr_pool_t *p, const char **err)
{
    long long count = 0, unused;
    vm_status rc = run(d, sql, n, values, &count, &unused, p, err);
    if (rc != VM_OK || count > 0)
        return rc;
    *err = vm_source_db_error(src, p, "no row with id %" APR_INT64_T_FMT,
                              (apr_int64_t)id);
    return VM_ERR_DATA;
}

vm_status vm_source_db_delete_row(vm_source *src, long long id, apr_pool_t *p,
                                  const char **err)
{
    const vm_source_db *d = src->backend;
    const char *values[] = { apr_psprintf(p, "%" APR_INT64_T_FMT,
                                          (apr_int64_t)id) };
    return run_on_id(src, d,
                     apr_psprintf(p, "DELETE FROM %s WHERE id = %s", d->qtable,
                                  vm_db_int_param(d->db, 1, p)),
                     1, values, id, p, err);
}

vm_status vm_source_db_record_cron(vm_source *src, long long id,
                                   long long started, apr_pool_t *p,
                                   const char **err)
{
    const vm_source_db *d = src->backend;
    /* One statement, so two front ends recording at once both count.
     * MySQL assigns left to right and later terms see earlier results:
     * lastcrongap must be computed before lastcron changes. */
    const char *sql = apr_psprintf(
        p,
        "UPDATE %s SET croncount = COALESCE(croncount, 0) + 1, "
        "lastcrongap = CASE WHEN COALESCE(lastcron, 0) = 0 THEN 0 "
        "ELSE GREATEST(0, %s - lastcron) END, lastcron = %s WHERE id = %s",
        d->qtable, vm_db_int_param(d->db, 1, p), vm_db_int_param(d->db, 2, p),
        vm_db_int_param(d->db, 3, p));
    const char *t = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)started);
    const char *values[] = {
        t, t, apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)id)
    };
    return run_on_id(src, d, sql, 3, values, id, p, err);
}
