/* Reading a snapshot: map it, check every offset once, then look up
 * without further checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include "vm_hash.h"
#include "vm_snapshot.h"
#include "vm_snapshot_format.h"

struct vm_snapshot {
    const char *base;
    size_t size;
    const vm_snap_header *h;
    const vm_snap_bucket *index;
    const vm_snap_record *records;
    const vm_snap_rejection *rejections;
    const char *strings;
};

static int section_ok(const vm_snap_header *h, uint64_t off, uint64_t n,
                      uint64_t elem)
{
    return off % 8 == 0 && off >= h->header_size && off <= h->file_size
        && n <= (h->file_size - off) / elem;
}

static const char *check_header(const vm_snap_header *h, size_t size)
{
    if (size < sizeof *h || memcmp(h->magic, VM_SNAP_MAGIC, 8) != 0)
        return "not a snapshot file";
    if (h->version != VM_SNAP_VERSION || h->header_size != sizeof *h)
        return "unsupported snapshot version";
    if (h->file_size != size)
        return "snapshot truncated or extended";
    if (h->nbuckets == 0 || (h->nbuckets & (h->nbuckets - 1)) != 0
        || h->nbuckets <= h->count)
        return "corrupt snapshot index size";
    if (!section_ok(h, h->index_off, h->nbuckets, sizeof(vm_snap_bucket))
        || !section_ok(h, h->records_off, h->count, sizeof(vm_snap_record))
        || !section_ok(h, h->rejections_off, h->nrejections,
                       sizeof(vm_snap_rejection))
        || h->strings_off > size || h->strings_len == 0
        || h->strings_len > size - h->strings_off
        || h->strings_len > UINT32_MAX)
        return "corrupt snapshot section";
    return NULL;
}

/* The record's key length and key head agree with its key string. */
static int key_consistent(const vm_snapshot *s, const vm_snap_record *r)
{
    const char *key = s->strings + r->str[VM_S_KEY];
    char head[VM_SNAP_KEYHEAD] = { 0 };
    size_t len = strlen(key);

    if (r->keylen != len)
        return 0;
    memcpy(head, key, len < VM_SNAP_KEYHEAD ? len : VM_SNAP_KEYHEAD);
    return memcmp(head, r->keyhead, VM_SNAP_KEYHEAD) == 0;
}

/* Every string offset inside the area, every bucket pointing at a record
 * whose key hashes as the bucket says, one empty bucket at least. */
static const char *check_contents(const vm_snapshot *s)
{
    const vm_snap_header *h = s->h;
    uint32_t i, used = 0;
    int j;

    if (s->strings[h->strings_len - 1] != '\0' || h->source >= h->strings_len)
        return "corrupt snapshot strings";
    for (i = 0; i < h->count; i++) {
        for (j = 0; j < VM_S_COUNT; j++)
            if (s->records[i].str[j] >= h->strings_len)
                return "corrupt snapshot record";
        if (!key_consistent(s, &s->records[i]))
            return "corrupt snapshot record";
    }
    for (i = 0; i < h->nrejections; i++)
        if (s->rejections[i].reason >= h->strings_len)
            return "corrupt snapshot rejection";
    for (i = 0; i < h->nbuckets; i++) {
        const vm_snap_bucket *b = &s->index[i];
        if (!b->record)
            continue;
        if (b->record > h->count
            || b->hash != vm_hash_key(s->strings
                                      + s->records[b->record - 1].str[VM_S_KEY],
                                      s->records[b->record - 1].keylen))
            return "corrupt snapshot index";
        used++;
    }
    return used == h->count ? NULL : "corrupt snapshot index";
}

static const char *verify(vm_snapshot *s)
{
    vm_snap_header copy;
    const char *why = check_header((const vm_snap_header *)s->base, s->size);

    if (why)
        return why;
    memcpy(&copy, s->base, sizeof copy);
    copy.checksum = 0;
    if (vm_hash_bytes(vm_hash_bytes(VM_HASH_SEED, &copy, sizeof copy),
                      s->base + sizeof copy, s->size - sizeof copy)
        != s->h->checksum)
        return "snapshot checksum mismatch";
    s->index = (const vm_snap_bucket *)(s->base + s->h->index_off);
    s->records = (const vm_snap_record *)(s->base + s->h->records_off);
    s->rejections = (const vm_snap_rejection *)(s->base + s->h->rejections_off);
    s->strings = s->base + s->h->strings_off;
    return check_contents(s);
}

static vm_status map_file(const char *path, vm_snapshot *s, apr_pool_t *p,
                          const char **err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0) {
        *err = apr_psprintf(p, "cannot open snapshot %s: %s", path,
                            strerror(errno));
        if (fd >= 0)
            close(fd);
        return VM_ERR_IO;
    }
    s->size = (size_t)st.st_size;
    s->base = s->size ? mmap(NULL, s->size, PROT_READ, MAP_SHARED, fd, 0)
                      : MAP_FAILED;
    close(fd);
    if (s->base == MAP_FAILED) {
        *err = apr_psprintf(p, "cannot map snapshot %s: %s", path,
                            s->size ? strerror(errno) : "empty file");
        return VM_ERR_IO;
    }
    s->h = (const vm_snap_header *)s->base;
    return VM_OK;
}

vm_status vm_snapshot_open(vm_snapshot **out, const char *path, apr_pool_t *p,
                           const char **err)
{
    vm_snapshot *s = calloc(1, sizeof *s);
    const char *why;
    vm_status st;

    if (!s) {
        *err = "out of memory";
        return VM_ERR_IO;
    }
    if ((st = map_file(path, s, p, err)) != VM_OK) {
        free(s);
        return st;
    }
    if ((why = verify(s)) != NULL) {
        *err = apr_psprintf(p, "%s: %s", path, why);
        vm_snapshot_close(s);
        return VM_ERR_DATA;
    }
    *out = s;
    return VM_OK;
}

void vm_snapshot_close(vm_snapshot *s)
{
    if (!s)
        return;
    munmap((void *)s->base, s->size);
    free(s);
}

uint64_t vm_snapshot_generation(const vm_snapshot *s) { return s->h->generation; }
int64_t vm_snapshot_created(const vm_snapshot *s) { return s->h->created; }
uint64_t vm_snapshot_digest(const vm_snapshot *s) { return s->h->digest; }
uint32_t vm_snapshot_count(const vm_snapshot *s) { return s->h->count; }
uint32_t vm_snapshot_rejection_count(const vm_snapshot *s) { return s->h->nrejections; }

const char *vm_snapshot_source(const vm_snapshot *s)
{
    return s->strings + s->h->source;
}

void vm_snapshot_instance(const vm_snapshot *s, uint32_t i, vm_instance *out)
{
    const vm_snap_record *r = &s->records[i];
    const char *str = s->strings;
    int j;

    out->id = r->id;
    out->croncount = r->croncount;
    out->lastcron = r->lastcron;
    out->lastcrongap = r->lastcrongap;
    out->dbpersist = r->dbpersist;
    out->mnet = r->mnet;
    out->enabled = r->enabled;
    for (j = 0; j < VM_S_COUNT; j++)
        *vm_snap_string_field(out, j) = str + r->str[j];
}

void vm_snapshot_rejection(const vm_snapshot *s, uint32_t i,
                           vm_rejection *out)
{
    out->id = s->rejections[i].id;
    out->reason = s->strings + s->rejections[i].reason;
}

static int key_equal(const vm_snapshot *s, const vm_snap_record *r,
                     const char *key, size_t keylen)
{
    if (keylen <= VM_SNAP_KEYHEAD)
        return memcmp(r->keyhead, key, keylen) == 0;
    return memcmp(r->keyhead, key, VM_SNAP_KEYHEAD) == 0
        && memcmp(s->strings + r->str[VM_S_KEY] + VM_SNAP_KEYHEAD,
                  key + VM_SNAP_KEYHEAD, keylen - VM_SNAP_KEYHEAD) == 0;
}

int vm_snapshot_lookup(const vm_snapshot *s, const char *key, size_t keylen,
                       vm_instance *out)
{
    uint32_t h = vm_hash_key(key, keylen);
    uint32_t mask = s->h->nbuckets - 1, slot;

    for (slot = h & mask; s->index[slot].record; slot = (slot + 1) & mask) {
        const vm_snap_record *r;

        if (s->index[slot].hash != h)
            continue;
        r = &s->records[s->index[slot].record - 1];
        if (r->keylen == keylen && key_equal(s, r, key, keylen)) {
            vm_snapshot_instance(s, s->index[slot].record - 1, out);
            return 1;
        }
    }
    return 0;
}
