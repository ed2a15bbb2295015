/* From raw rows to a routable table: per-row validation, then the rules
 * that need every row (an id or a host may be claimed only once). */
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "vm_table.h"

typedef struct {
    vm_instance in;
    int order;          /* position in the source, for a stable sort */
} candidate;

static int by_id(const void *a, const void *b)
{
    const candidate *x = a, *y = b;

    if (x->in.id != y->in.id)
        return x->in.id < y->in.id ? -1 : 1;
    return x->order - y->order;
}

static int rejection_by_id(const void *a, const void *b)
{
    const vm_rejection *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

static void reject(vm_table *t, long long id, const char *reason)
{
    vm_rejection *r = apr_array_push(t->rejections);

    r->id = id;
    r->reason = reason;
}

/* Keep the first claimant of each id and host, in id order. */
static void keep_unique(vm_table *t, candidate *c, int n, apr_pool_t *p)
{
    apr_hash_t *hosts = apr_hash_make(p);
    int i;

    qsort(c, (size_t)n, sizeof *c, by_id);
    for (i = 0; i < n; i++) {
        const vm_instance *owner;

        if (i > 0 && c[i].in.id == c[i - 1].in.id) {
            reject(t, c[i].in.id, "id used by another row");
            continue;
        }
        owner = apr_hash_get(hosts, c[i].in.key, APR_HASH_KEY_STRING);
        if (owner) {
            reject(t, c[i].in.id, apr_psprintf(p, "host %s already used by "
                                               "id %" APR_INT64_T_FMT, c[i].in.key,
                                               (apr_int64_t)owner->id));
            continue;
        }
        *(vm_instance *)apr_array_push(t->instances) = c[i].in;
        apr_hash_set(hosts, c[i].in.key, APR_HASH_KEY_STRING, &c[i].in);
    }
}

vm_table *vm_table_build(const apr_array_header_t *rows, apr_pool_t *p)
{
    vm_table *t = apr_pcalloc(p, sizeof *t);
    candidate *c = apr_pcalloc(p, sizeof *c * (size_t)(rows->nelts + 1));
    int i, n = 0;

    t->instances = apr_array_make(p, rows->nelts + 1, sizeof(vm_instance));
    t->rejections = apr_array_make(p, 4, sizeof(vm_rejection));
    for (i = 0; i < rows->nelts; i++) {
        const vm_row *row = &APR_ARRAY_IDX(rows, i, vm_row);
        const char *why = vm_instance_from_row(&c[n].in, row, p);

        long long id = vm_row_id(row);

        if (why) {
            reject(t, id ? id : VM_NO_ID, why);
            continue;
        }
        c[n].order = i;
        n++;
    }
    keep_unique(t, c, n, p);
    qsort(t->rejections->elts, (size_t)t->rejections->nelts,
          sizeof(vm_rejection), rejection_by_id);
    return t;
}

/* Linear: for the command-line tools.  The module looks up in the
 * snapshot's hash index instead. */
const vm_instance *vm_table_find_key(const vm_table *t, const char *key)
{
    int i;

    for (i = 0; i < t->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        if (strcmp(in->key, key) == 0)
            return in;
    }
    return NULL;
}

const vm_instance *vm_table_find_id(const vm_table *t, long long id)
{
    int i;

    for (i = 0; i < t->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        if (in->id == id)
            return in;
    }
    return NULL;
}
