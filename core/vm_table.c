/* From raw rows to a routable table: per-row validation, then the rules
 * that need every row (an id or a host may be claimed only once). */
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "vm_table.h"

typedef struct {
    vm_instance in;
    int order; /* position in the source, for a stable sort */
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

static const char *claimed_by(apr_hash_t *keys, const char *key, apr_pool_t *p)
{
    const vm_instance *owner = apr_hash_get(keys, key, APR_HASH_KEY_STRING);

    return owner
        ? apr_psprintf(p, "host %s already used by id %" APR_INT64_T_FMT, key,
                       (apr_int64_t)owner->id)
        : NULL;
}

typedef struct {
    apr_hash_t *keys;
    const vm_instance *in;
    apr_pool_t *p;
    const char *why;
} alias_claim;

/* An alias is refused like a duplicate host: another site's host, or
 * another site's alias, claimed it first. */
static int check_alias(const char *key, size_t len, void *ctx)
{
    alias_claim *c = ctx;

    c->why = claimed_by(c->keys, apr_pstrndup(c->p, key, len), c->p);
    if (c->why)
        c->why = apr_pstrcat(c->p, "aliases: ", c->why, NULL);
    return c->why != NULL;
}

static int claim_alias(const char *key, size_t len, void *ctx)
{
    alias_claim *c = ctx;

    apr_hash_set(c->keys, apr_pstrndup(c->p, key, len), len, c->in);
    return 0;
}

/* Keep the first claimant of each id and host, in id order; then the
 * aliases, which never push out a site's own host: a row whose alias is
 * taken is refused. */
static void keep_unique(vm_table *t, candidate *c, int n, apr_pool_t *p)
{
    apr_hash_t *keys = apr_hash_make(p);
    int i, *kept = apr_pcalloc(p, sizeof *kept * (size_t)(n + 1));

    qsort(c, (size_t)n, sizeof *c, by_id);
    for (i = 0; i < n; i++) {
        const char *why = NULL;

        if (i > 0 && c[i].in.id == c[i - 1].in.id)
            why = "id used by another row";
        else
            why = claimed_by(keys, c[i].in.key, p);
        if (why) {
            reject(t, c[i].in.id, why);
            continue;
        }
        kept[i] = 1;
        apr_hash_set(keys, c[i].in.key, APR_HASH_KEY_STRING, &c[i].in);
    }
    for (i = 0; i < n; i++) {
        alias_claim claim = { keys, &c[i].in, p, NULL };

        if (!kept[i])
            continue;
        if (vm_aliases_each(c[i].in.aliases, check_alias, &claim)) {
            reject(t, c[i].in.id, claim.why);
            continue;
        }
        vm_aliases_each(c[i].in.aliases, claim_alias, &claim);
        *(vm_instance *)apr_array_push(t->instances) = c[i].in;
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
