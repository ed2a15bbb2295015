/* Serialising a table into a snapshot image, and writing it. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "vm_file.h"
#include "vm_hash.h"
#include "vm_snapshot.h"
#include "vm_snapshot_format.h"

struct vm_snapshot_image {
    char *data;
    size_t size;
};

/* The strings area, each distinct string stored once (database types,
 * hosts and prefixes repeat across thousands of instances). */
typedef struct {
    char *buf;
    size_t len, cap;
    apr_hash_t *seen;    /* string -> offset */
    apr_pool_t *pool;
} string_area;

static uint32_t intern(string_area *a, const char *s)
{
    uint32_t *off = apr_hash_get(a->seen, s, APR_HASH_KEY_STRING);
    size_t len = strlen(s) + 1;

    if (off)
        return *off;
    if (a->len + len > a->cap) {
        size_t cap = a->cap * 2 + len;
        char *grown = apr_palloc(a->pool, cap);
        if (a->len)
            memcpy(grown, a->buf, a->len);
        a->buf = grown;
        a->cap = cap;
    }
    off = apr_palloc(a->pool, sizeof *off);
    *off = (uint32_t)a->len;
    memcpy(a->buf + a->len, s, len);
    a->len += len;
    /* keyed by the copy: s may be scratch (a number's text); a grown
     * buffer leaves the old one in the pool, so keys stay valid */
    apr_hash_set(a->seen, a->buf + *off, APR_HASH_KEY_STRING, off);
    return *off;
}

/* The record holds the request's variables ready: vm_env_build formats
 * the numbers here, once per change, not once per request. */
static void fill_record(vm_snap_record *r, const vm_instance *in,
                        string_area *a)
{
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];
    int i;

    memset(r, 0, sizeof *r);
    r->id = in->id;
    r->flags = (in->enabled ? VM_SNAP_ENABLED : 0)
               | (in->dbpersist ? VM_SNAP_DBPERSIST : 0);
    r->mnet = in->mnet;
    r->keylen = (uint32_t)strlen(in->key);
    memcpy(r->keyhead, in->key,
           r->keylen < VM_SNAP_KEYHEAD ? r->keylen : VM_SNAP_KEYHEAD);
    vm_env_build(in, &nums, vars);
    for (i = 0; i < VM_ENV_COUNT; i++)
        r->str[i] = intern(a, vars[i].value);
    r->str[VM_R_NAME] = intern(a, in->name);
    r->str[VM_R_VHOSTNAME] = intern(a, in->vhostname);
}

static uint32_t slot_count(uint32_t count)
{
    uint32_t n = 8;

    while (n < 2 * (uint64_t)count + 1)
        n *= 2;
    return n;
}

static void fill_index(vm_snap_slot *slots, uint32_t nslots,
                       const vm_table *t)
{
    int i;

    for (i = 0; i < t->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        uint32_t h = vm_hash_key(in->key, strlen(in->key));
        uint32_t slot = h & (nslots - 1);

        while (slots[slot].record)
            slot = (slot + 1) & (nslots - 1);
        slots[slot].fingerprint = h;
        slots[slot].record = (uint32_t)i + 1;
    }
}

static size_t align_to(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/* Records and rejections, built in the scratch pool. */
typedef struct {
    vm_snap_record *rec;
    vm_snap_rejection *rej;
    uint32_t n, nrej;
} parts;

static void fill_parts(parts *x, const vm_table *t, string_area *a,
                       apr_pool_t *scratch)
{
    uint32_t i;

    x->n = (uint32_t)t->instances->nelts;
    x->nrej = (uint32_t)t->rejections->nelts;
    x->rec = apr_pcalloc(scratch, sizeof *x->rec * (x->n + 1));
    x->rej = apr_pcalloc(scratch, sizeof *x->rej * (x->nrej + 1));
    for (i = 0; i < x->n; i++)
        fill_record(&x->rec[i], &APR_ARRAY_IDX(t->instances, i, vm_instance),
                    a);
    for (i = 0; i < x->nrej; i++) {
        const vm_rejection *r = &APR_ARRAY_IDX(t->rejections, i, vm_rejection);
        x->rej[i].id = r->id;
        x->rej[i].reason = intern(a, r->reason);
    }
}

/* Lay out the image; the source string is appended after the digest is
 * taken, so the digest depends on the content alone. */
static char *layout(const vm_table *t, const parts *x, string_area *a,
                    const char *source, apr_pool_t *p, size_t *size)
{
    vm_snap_header h = { .version = VM_SNAP_VERSION };
    char *img;

    h.digest = vm_hash_bytes(vm_hash_bytes(vm_hash_bytes(VM_HASH_SEED,
                   x->rec, sizeof *x->rec * x->n), x->rej,
                   sizeof *x->rej * x->nrej), a->buf, a->len);
    h.source = intern(a, source ? source : "");
    if (a->len > UINT32_MAX)      /* offsets are 32-bit */
        return NULL;
    memcpy(h.magic, VM_SNAP_MAGIC, 8);
    h.header_size = sizeof h;
    h.count = x->n;
    h.nrejections = x->nrej;
    h.nslots = slot_count(x->n);
    h.index_off = align_to(sizeof h, 8);
    h.records_off = align_to(h.index_off + sizeof(vm_snap_slot) * h.nslots,
                             VM_SNAP_LINE);
    h.rejections_off = h.records_off + sizeof *x->rec * x->n;
    h.strings_off = h.rejections_off + sizeof *x->rej * x->nrej;
    h.strings_len = a->len;
    h.file_size = align_to(h.strings_off + h.strings_len, 8);
    img = apr_pcalloc(p, h.file_size);
    fill_index((vm_snap_slot *)(img + h.index_off), h.nslots, t);
    memcpy(img + h.records_off, x->rec, sizeof *x->rec * x->n);
    memcpy(img + h.rejections_off, x->rej, sizeof *x->rej * x->nrej);
    memcpy(img + h.strings_off, a->buf, h.strings_len);
    memcpy(img, &h, sizeof h);
    *size = h.file_size;
    return img;
}

vm_status vm_snapshot_build(vm_snapshot_image **out, const vm_table *t,
                            const char *source, apr_pool_t *p,
                            const char **err)
{
    apr_pool_t *scratch;
    vm_snapshot_image *img = apr_pcalloc(p, sizeof *img);
    string_area a = { NULL, 0, 0, NULL, NULL };
    parts x;

    apr_pool_create(&scratch, p);   /* the records and the string set */
    a.seen = apr_hash_make(scratch);
    a.pool = scratch;
    fill_parts(&x, t, &a, scratch);
    img->data = layout(t, &x, &a, source, p, &img->size);
    apr_pool_destroy(scratch);
    if (!img->data) {
        *err = "table too large for a snapshot (strings over 4 GiB)";
        return VM_ERR_DATA;
    }
    *out = img;
    return VM_OK;
}

uint64_t vm_snapshot_image_digest(const vm_snapshot_image *img)
{
    return ((const vm_snap_header *)img->data)->digest;
}

vm_status vm_snapshot_image_write(vm_snapshot_image *img, const char *path,
                                  const vm_snapshot_meta *meta,
                                  apr_pool_t *p, const char **err)
{
    vm_snap_header *h = (vm_snap_header *)img->data;

    h->generation = meta->generation;
    h->created = meta->created;
    h->checksum = 0;   /* the reader hashes the header the same way */
    h->checksum = vm_hash_bytes(vm_hash_bytes(VM_HASH_SEED, h, sizeof *h),
                                img->data + sizeof *h, img->size - sizeof *h);
    return vm_file_replace(path, img->data, img->size, 0644, NULL, p, err);
}

vm_status vm_snapshot_write(const char *path, const vm_table *t,
                            const vm_snapshot_meta *meta, apr_pool_t *p,
                            const char **err)
{
    apr_pool_t *scratch;
    vm_snapshot_image *img;
    vm_status st;

    apr_pool_create(&scratch, p);
    st = vm_snapshot_build(&img, t, meta->source, scratch, err);
    if (st == VM_OK)
        st = vm_snapshot_image_write(img, path, meta, p, err);
    apr_pool_destroy(scratch);
    return st;
}

uint64_t vm_table_digest(const vm_table *t)
{
    apr_pool_t *p;
    vm_snapshot_image *img;
    const char *ignored;
    uint64_t digest = 0;

    apr_pool_create(&p, NULL);
    if (vm_snapshot_build(&img, t, NULL, p, &ignored) == VM_OK)
        digest = vm_snapshot_image_digest(img);
    apr_pool_destroy(p);
    return digest;
}
