/* The instance table for vmoodlectl: load, find, validate a change with the
 * module's own rules, save through the source. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "ctl.h"
#include "vm_host.h"
#include "util.h"

int vmc_table_load(const vmc_opts *o, vmc_table *t, const char **why)
{
    const char *err;

    memset(t, 0, sizeof *t);
    if (!o->source_spec) {
        *why = "no source: give --source or a configuration file";
        return VMC_EXIT_USAGE;
    }
    if (vm_source_open(&t->src, o->source_spec, o->table_name, o->pool, &err)
            != VM_OK
        || vm_source_load(t->src, &t->rows, o->pool, &err) != VM_OK) {
        *why = apr_psprintf(o->pool, "source %s: %s",
                            vm_source_mask(o->source_spec, o->pool), err);
        return VMC_EXIT_FAIL;
    }
    t->table = vm_table_build(t->rows, o->pool);
    return VMC_EXIT_OK;
}

static int all_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

/* The lookup key of "https://Host/", "host:port", "host" or
 * "host/segment" (a site under a path). */
static const vm_instance *find_by_host(const vmc_table *t, const char *arg)
{
    char key[VM_KEY_MAX];
    const vm_instance *in;
    vm_url url;
    int https;

    if (strstr(arg, "://") || strchr(arg, '/'))
        return vm_host_parse_url(strstr(arg, "://")
                                     ? arg
                                     : apr_pstrcat(t->table->instances->pool,
                                                   "http://", arg, NULL),
                                 &url)
            ? NULL
            : vm_table_find_key(t->table, url.key);
    for (https = 0; https <= 1; https++) {
        if (vm_host_request_key(arg, strlen(arg), https, key, sizeof key))
            return NULL;
        if ((in = vm_table_find_key(t->table, key)) != NULL)
            return in;
    }
    return NULL;
}

const vm_instance *vmc_find(const vmc_table *t, const char *arg,
                            const char **why)
{
    const vm_instance *in = all_digits(arg)
        ? vm_table_find_id(t->table, strtoll(arg, NULL, 10))
        : find_by_host(t, arg);

    if (!in)
        *why = apr_psprintf(t->src->pool, "no instance '%s' in the table", arg);
    return in;
}

static long long next_id(const vmc_table *t)
{
    long long max = 0;
    int i;

    for (i = 0; i < t->rows->nelts; i++) {
        long long id = vm_row_id(&APR_ARRAY_IDX(t->rows, i, vm_row));
        if (id > max)
            max = id;
    }
    return max + 1;
}

const vm_row *vmc_raw_row(const vmc_table *t, long long id)
{
    int i;

    for (i = 0; i < t->rows->nelts; i++)
        if (vm_row_id(&APR_ARRAY_IDX(t->rows, i, vm_row)) == id)
            return &APR_ARRAY_IDX(t->rows, i, vm_row);
    return NULL;
}

static const char *rejection_of(const vm_table *t, long long id)
{
    int i;

    if (id == 0)
        id = VM_NO_ID;

    for (i = 0; i < t->rejections->nelts; i++) {
        const vm_rejection *r = &APR_ARRAY_IDX(t->rejections, i, vm_rejection);
        if (r->id == id)
            return r->reason;
    }
    return "refused";
}

const char *vmc_table_validate(const vmc_table *t, const vm_row *row,
                               apr_pool_t *p)
{
    apr_array_header_t *rows = apr_array_make(p, t->rows->nelts + 1,
                                              sizeof(vm_row));
    vm_row *cand;
    long long id = vm_row_id(row);
    vm_table *after;
    int i;

    for (i = 0; i < t->rows->nelts; i++)
        if (vm_row_id(&APR_ARRAY_IDX(t->rows, i, vm_row)) != id || id == 0)
            *(vm_row *)apr_array_push(rows) = APR_ARRAY_IDX(t->rows, i, vm_row);
    cand = apr_array_push(rows);
    *cand = *row;
    if (!row->present[VM_F_ID])
        vm_row_set(cand, VM_F_ID, vmc_id_text((id = next_id(t)), p));
    after = vm_table_build(rows, p);
    if (!vm_table_find_id(after, id))
        return rejection_of(after, id);
    for (i = 0; i < t->table->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->table->instances, i,
                                               vm_instance);
        if (in->id != id && !vm_table_find_id(after, in->id))
            return apr_psprintf(p, "host %s is already used by id %s", in->key,
                                vmc_id_text(in->id, p));
    }
    return NULL;
}

const char *vmc_table_save(vmc_table *t, const vm_row *row, long long *id,
                           apr_pool_t *p)
{
    const char *err = NULL;

    *id = vm_row_id(row);
    if (!t->src->ops->save_row)
        return apr_psprintf(p, "source %s cannot be written", t->src->display);
    if (t->src->ops->save_row(t->src, row, id, p, &err) != VM_OK)
        return apr_psprintf(p, "saving to %s failed: %s", t->src->display, err);
    return NULL;
}

int vmc_row_change(vmc_table *t, const vm_row *row, int *saved, apr_pool_t *p,
                   const char **err)
{
    long long id;

    if ((*err = vmc_table_save(t, row, &id, p)) != NULL)
        return -1;
    *saved = 1;
    return 0;
}

const char *vmc_row_change_undo(vmc_table *t, long long id, int *saved,
                                apr_pool_t *p)
{
    long long ignored;
    const char *why;

    if (!*saved)
        return NULL;
    if ((why = vmc_table_save(t, vmc_raw_row(t, id), &ignored, p)) == NULL)
        *saved = 0;
    return why;
}
