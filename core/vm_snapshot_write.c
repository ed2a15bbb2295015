/* Serialising a table into a snapshot image, and writing it. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "vm_file.h"
#include "vm_hash.h"
#include "vm_snapshot.h"
#include "vm_snapshot_format.h"

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
    apr_hash_set(a->seen, s, APR_HASH_KEY_STRING, off);
    return *off;
}

static void fill_record(vm_snap_record *r, const vm_instance *in,
                        string_area *a)
{
    int i;

    memset(r, 0, sizeof *r);
    r->id = in->id;
    r->croncount = in->croncount;
    r->lastcron = in->lastcron;
    r->lastcrongap = in->lastcrongap;
    r->dbpersist = in->dbpersist;
    r->mnet = in->mnet;
    r->enabled = in->enabled;
    r->keylen = (uint32_t)strlen(in->key);
    memcpy(r->keyhead, in->key,
           r->keylen < VM_SNAP_KEYHEAD ? r->keylen : VM_SNAP_KEYHEAD);
    for (i = 0; i < VM_S_COUNT; i++)
        r->str[i] = intern(a, vm_snap_string(in, i));
}

static uint32_t bucket_count(uint32_t count)
{
    uint32_t n = 8;

    while (n < 2 * (uint64_t)count + 1)
        n *= 2;
    return n;
}

static void fill_index(vm_snap_bucket *b, uint32_t nbuckets,
                       const vm_table *t)
{
    int i;

    for (i = 0; i < t->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        uint32_t h = vm_hash_key(in->key, strlen(in->key));
        uint32_t slot = h & (nbuckets - 1);

        while (b[slot].record)
            slot = (slot + 1) & (nbuckets - 1);
        b[slot].hash = h;
        b[slot].record = (uint32_t)i + 1;
    }
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Lay out the image; the source string is appended after the digest is
 * taken, so the digest depends on the content alone. */
static char *build_image(const vm_table *t, const char *source,
                         apr_pool_t *p, size_t *size)
{
    string_area a = { NULL, 0, 0, apr_hash_make(p), p };
    uint32_t n = (uint32_t)t->instances->nelts, i;
    uint32_t nrej = (uint32_t)t->rejections->nelts;
    vm_snap_header h = { .version = VM_SNAP_VERSION };
    vm_snap_record *rec = apr_pcalloc(p, sizeof *rec * (n + 1));
    vm_snap_rejection *rej = apr_pcalloc(p, sizeof *rej * (nrej + 1));
    char *img;

    for (i = 0; i < n; i++)
        fill_record(&rec[i], &APR_ARRAY_IDX(t->instances, i, vm_instance), &a);
    for (i = 0; i < nrej; i++) {
        const vm_rejection *r = &APR_ARRAY_IDX(t->rejections, i, vm_rejection);
        rej[i].id = r->id;
        rej[i].reason = intern(&a, r->reason);
    }
    h.digest = vm_hash_bytes(vm_hash_bytes(vm_hash_bytes(VM_HASH_SEED,
                   rec, sizeof *rec * n), rej, sizeof *rej * nrej),
                   a.buf, a.len);
    h.source = intern(&a, source ? source : "");
    if (a.len > UINT32_MAX)      /* offsets are 32-bit */
        return NULL;
    memcpy(h.magic, VM_SNAP_MAGIC, 8);
    h.header_size = sizeof h;
    h.count = n;
    h.nrejections = nrej;
    h.nbuckets = bucket_count(n);
    h.index_off = align8(sizeof h);
    h.records_off = h.index_off + sizeof(vm_snap_bucket) * h.nbuckets;
    h.rejections_off = h.records_off + sizeof *rec * n;
    h.strings_off = h.rejections_off + sizeof *rej * nrej;
    h.strings_len = a.len;
    h.file_size = align8(h.strings_off + h.strings_len);
    img = apr_pcalloc(p, h.file_size);
    fill_index((vm_snap_bucket *)(img + h.index_off), h.nbuckets, t);
    memcpy(img + h.records_off, rec, sizeof *rec * n);
    memcpy(img + h.rejections_off, rej, sizeof *rej * nrej);
    memcpy(img + h.strings_off, a.buf, h.strings_len);
    memcpy(img, &h, sizeof h);
    *size = h.file_size;
    return img;
}

static void seal(char *img, size_t size, const vm_snapshot_meta *meta)
{
    vm_snap_header *h = (vm_snap_header *)img;

    h->generation = meta->generation;
    h->created = meta->created;
    h->checksum = 0;   /* the reader hashes the header the same way */
    h->checksum = vm_hash_bytes(vm_hash_bytes(VM_HASH_SEED, h, sizeof *h),
                                img + sizeof *h, size - sizeof *h);
}

uint64_t vm_table_digest(const vm_table *t)
{
    apr_pool_t *p;
    size_t size;
    uint64_t digest;
    char *img;

    apr_pool_create_unmanaged(&p);
    img = build_image(t, NULL, p, &size);
    digest = img ? ((vm_snap_header *)img)->digest : 0;
    apr_pool_destroy(p);
    return digest;
}

vm_status vm_snapshot_write(const char *path, const vm_table *t,
                            const vm_snapshot_meta *meta, apr_pool_t *p,
                            const char **err)
{
    apr_pool_t *scratch;
    size_t size;
    char *img;
    vm_status st;

    apr_pool_create(&scratch, p);
    img = build_image(t, meta->source, scratch, &size);
    if (!img) {
        apr_pool_destroy(scratch);
        *err = "table too large for a snapshot (strings over 4 GiB)";
        return VM_ERR_DATA;
    }
    seal(img, size, meta);
    st = vm_file_replace(path, img, size, 0600, NULL, p, err);  /* passwords */
    apr_pool_destroy(scratch);
    return st;
}
