/* Serialising a table into a snapshot image, and writing it. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_file.h"
#include "vm_hash.h"
#include "vm_snapshot.h"
#include "vm_snapshot_format.h"
#include "vm_snapshot_links.h"

struct vm_snapshot_image {
    char *data;
    size_t size;
};

/* The strings area.  Values that repeat across instances (database
 * types, hosts, logins, prefixes, flags) are stored once: a small
 * direct-mapped cache of recent strings, by hash, finds them.  A value
 * the cache does not hold is appended, so the area is written in order
 * and a million instances cost no random memory reads; at worst a value
 * repeated far apart is stored twice, which the reader does not mind.
 * Memory is malloc'd and freed by string_area_free. */
#define RECENT 8192 /* a power of two */

typedef struct {
    char *buf;
    size_t len, cap;
    struct {
        uint32_t hash, off;
    } recent[RECENT]; /* off + 1; 0: none */
    int failed;       /* out of memory, or past 4 GiB */
} string_area;

static string_area *string_area_new(size_t expected_bytes)
{
    string_area *a = calloc(1, sizeof *a);

    if (!a)
        return NULL;
    a->cap = expected_bytes + 4096;
    if (!(a->buf = malloc(a->cap))) {
        free(a);
        return NULL;
    }
    return a;
}

static void string_area_free(string_area *a)
{
    if (a)
        free(a->buf);
    free(a);
}

static int append(string_area *a, const char *s, size_t len)
{
    if (a->len + len > a->cap) {
        size_t cap = a->cap * 2 + len;
        char *grown = realloc(a->buf, cap);
        if (!grown)
            return 0;
        a->buf = grown;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, s, len);
    a->len += len;
    return 1;
}

static uint32_t intern_bytes(string_area *a, const char *s, size_t len)
{
    uint32_t h = (uint32_t)vm_hash_bytes(VM_HASH_SEED, s, len);
    uint32_t i = h & (RECENT - 1), off;

    if (a->failed)
        return 0;
    if (a->recent[i].off && a->recent[i].hash == h
        && memcmp(a->buf + a->recent[i].off - 1, s, len) == 0)
        return a->recent[i].off - 1;
    if (a->len + len >= UINT32_MAX || !append(a, s, len)) {
        a->failed = 1;
        return 0;
    }
    off = (uint32_t)(a->len - len);
    a->recent[i].hash = h;
    a->recent[i].off = off + 1;
    return off;
}

static uint32_t intern(string_area *a, const char *s)
{
    return intern_bytes(a, s, strlen(s) + 1);
}

/* The cold block: its strings one after the other, each with its NUL. */
static uint32_t intern_cold(string_area *a, const vm_instance *in)
{
    char block[VM_SNAP_COLD_COUNT * (4097 + 1)];
    size_t len = 0, i;

    for (i = 0; i < VM_SNAP_COLD_COUNT; i++) {
        const char *v = *(const char *const *)((const char *)in
                                               + vm_snap_cold[i]);
        size_t n = v ? strlen(v) : 0;
        if (n > 4097) /* a column (4096) and the aliases' last space */
            n = 4097;
        memcpy(block + len, v ? v : "", n);
        block[len + n] = '\0';
        len += n + 1;
    }
    return intern_bytes(a, block, len);
}

/* The record holds the request's variables ready: vm_env_build formats
 * the numbers here, once per change, not once per request. */
static void fill_record(vm_snap_record *r, const vm_instance *in, int paths,
                        string_area *a)
{
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];
    int i;

    memset(r, 0, sizeof *r);
    r->id = in->id;
    r->flags = (in->enabled ? VM_SNAP_ENABLED : 0)
        | (in->dbpersist ? VM_SNAP_DBPERSIST : 0) | (paths ? VM_SNAP_PATHS : 0);
    r->mnet = in->mnet;
    r->keylen = (uint32_t)strlen(in->key);
    memcpy(r->keyhead, in->key,
           r->keylen < VM_SNAP_KEYHEAD ? r->keylen : VM_SNAP_KEYHEAD);
    vm_env_build(in, &nums, vars);
    for (i = 0; i < VM_ENV_COUNT; i++)
        r->str[i] = intern(a, vars[i].value);
    r->str[VM_R_PLATFORM] = intern(a, in->platform ? in->platform : "");
    r->str[VM_R_COLD] = intern_cold(a, in);
}

static void fill_link(vm_snap_link *l, const vm_snap_link_plan *plan,
                      string_area *a)
{
    memset(l, 0, sizeof *l);
    l->keylen = (uint32_t)strlen(plan->key);
    l->flags = plan->flags;
    memcpy(l->keyhead, plan->key,
           l->keylen < VM_SNAP_KEYHEAD ? l->keylen : VM_SNAP_KEYHEAD);
    l->key = intern(a, plan->key);
    l->target = plan->target;
}

static uint32_t slot_count(uint32_t count)
{
    uint32_t n = 8;

    while (n < 2 * (uint64_t)count + 1)
        n *= 2;
    return n;
}

static void index_key(vm_snap_slot *slots, uint32_t nslots, const char *key,
                      uint32_t value)
{
    uint32_t h = vm_hash_key(key, strlen(key));
    uint32_t slot = h & (nslots - 1);

    while (slots[slot].record)
        slot = (slot + 1) & (nslots - 1);
    slots[slot].fingerprint = h;
    slots[slot].record = value;
}

static void fill_index(vm_snap_slot *slots, uint32_t nslots, const vm_table *t,
                       const apr_array_header_t *links)
{
    int i;

    for (i = 0; i < t->instances->nelts; i++)
        index_key(slots, nslots,
                  APR_ARRAY_IDX(t->instances, i, vm_instance).key,
                  (uint32_t)i + 1);
    for (i = 0; i < links->nelts; i++)
        index_key(slots, nslots, APR_ARRAY_IDX(links, i, vm_snap_link_plan).key,
                  VM_SNAP_LINK | ((uint32_t)i + 1));
}

static size_t align_to(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

static apr_status_t free_image(void *data)
{
    free(data);
    return APR_SUCCESS;
}

/* Everything but the strings' length is known from the counts. */
static void plan(vm_snap_header *h, const vm_table *t, uint32_t nlinks)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, VM_SNAP_MAGIC, 8);
    h->version = VM_SNAP_VERSION;
    h->header_size = sizeof *h;
    h->count = (uint32_t)t->instances->nelts;
    h->nrejections = (uint32_t)t->rejections->nelts;
    h->nlinks = nlinks;
    h->nslots = slot_count(h->count + nlinks);
    h->index_off = align_to(sizeof *h, 8);
    h->records_off = align_to(h->index_off + sizeof(vm_snap_slot) * h->nslots,
                              VM_SNAP_LINE);
    h->rejections_off = h->records_off + sizeof(vm_snap_record) * h->count;
    h->links_off = h->rejections_off
        + sizeof(vm_snap_rejection) * h->nrejections;
    h->strings_off = h->links_off + sizeof(vm_snap_link) * h->nlinks;
}

/* Records, rejections and links in place in the image, their strings
 * into a. */
static void fill_rows(char *img, const vm_snap_header *h, const vm_table *t,
                      const apr_array_header_t *links,
                      const unsigned char *record_paths, string_area *a)
{
    vm_snap_record *rec = (vm_snap_record *)(img + h->records_off);
    vm_snap_rejection *rej = (vm_snap_rejection *)(img + h->rejections_off);
    vm_snap_link *lnk = (vm_snap_link *)(img + h->links_off);
    uint32_t i;

    for (i = 0; i < h->count; i++)
        fill_record(&rec[i], &APR_ARRAY_IDX(t->instances, i, vm_instance),
                    record_paths && record_paths[i], a);
    for (i = 0; i < h->nlinks; i++)
        fill_link(&lnk[i], &APR_ARRAY_IDX(links, i, vm_snap_link_plan), a);
    for (i = 0; i < h->nrejections; i++) {
        const vm_rejection *r = &APR_ARRAY_IDX(t->rejections, i, vm_rejection);
        rej[i].id = r->id;
        rej[i].reason = intern(a, r->reason);
    }
}

/* The strings after the rows; the source string is appended after the
 * digest is taken, so the digest depends on the content alone.  Returns
 * the grown image, or NULL (img freed). */
static char *finish(char *img, vm_snap_header *h, const vm_table *t,
                    const apr_array_header_t *links, string_area *a,
                    const char *source)
{
    char *grown;

    h->digest = vm_hash_bytes(vm_hash_bytes(VM_HASH_SEED, img + h->records_off,
                                            h->strings_off - h->records_off),
                              a->buf, a->len);
    h->source = intern(a, source ? source : "");
    h->strings_len = a->len;
    h->file_size = align_to(h->strings_off + h->strings_len, 8);
    if (a->failed || !(grown = realloc(img, h->file_size))) {
        free(img);
        return NULL;
    }
    memcpy(grown + h->strings_off, a->buf, a->len);
    memset(grown + h->strings_off + a->len, 0,
           h->file_size - h->strings_off - a->len);
    fill_index((vm_snap_slot *)(grown + h->index_off), h->nslots, t, links);
    memcpy(grown, h, sizeof *h);
    return grown;
}

/* The image is malloc'd, to grow without a copy; p's cleanup frees it. */
vm_status vm_snapshot_build(vm_snapshot_image **out, const vm_table *t,
                            const char *source, apr_pool_t *p, const char **err)
{
    vm_snapshot_image *img = apr_pcalloc(p, sizeof *img);
    /* some 128 bytes of distinct strings an instance: key, names, paths */
    string_area *a = string_area_new((size_t)t->instances->nelts * 128);
    vm_snap_header h;
    char *data;
    apr_array_header_t *links;
    unsigned char *record_paths;

    vm_snap_links_plan(t, p, &links, &record_paths);
    plan(&h, t, (uint32_t)links->nelts);
    if (!a || !(data = calloc(1, h.strings_off))) {
        string_area_free(a);
        *err = "out of memory for the snapshot";
        return VM_ERR_IO;
    }
    fill_rows(data, &h, t, links, record_paths, a);
    data = finish(data, &h, t, links, a, source);
    string_area_free(a);
    if (!data) {
        *err = "table too large for a snapshot (strings over 4 GiB, "
               "or out of memory)";
        return VM_ERR_DATA;
    }
    apr_pool_cleanup_register(p, data, free_image, apr_pool_cleanup_null);
    img->data = data;
    img->size = h.file_size;
    *out = img;
    return VM_OK;
}

uint64_t vm_snapshot_image_digest(const vm_snapshot_image *img)
{
    return ((const vm_snap_header *)img->data)->digest;
}

vm_status vm_snapshot_image_write(vm_snapshot_image *img, const char *path,
                                  const vm_snapshot_meta *meta, apr_pool_t *p,
                                  const char **err)
{
    vm_snap_header *h = (vm_snap_header *)img->data;

    h->generation = meta->generation;
    h->created = meta->created;
    h->checksum = 0; /* the reader hashes the header the same way */
    h->checksum = vm_hash_bytes(vm_hash_bytes(VM_HASH_SEED, h, sizeof *h),
                                img->data + sizeof *h, img->size - sizeof *h);
    return vm_file_replace(path, img->data, img->size, 0600, NULL, p,
                           err); /* passwords */
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

    apr_pool_create_unmanaged(&p); /* its memory goes back to malloc */
    if (vm_snapshot_build(&img, t, NULL, p, &ignored) == VM_OK)
        digest = vm_snapshot_image_digest(img);
    apr_pool_destroy(p);
    return digest;
}
