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
    const vm_snap_slot *index;
    uint32_t mask;               /* nslots - 1 */
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
    if (h->nslots == 0 || (h->nslots & (h->nslots - 1)) != 0
        || h->nslots <= h->count)
        return "corrupt snapshot index size";
    if (!section_ok(h, h->index_off, h->nslots, sizeof(vm_snap_slot))
        || h->records_off % VM_SNAP_LINE != 0
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
    const char *key = s->strings + r->str[VM_E_HOST];
    char head[VM_SNAP_KEYHEAD] = { 0 };
    size_t len = strlen(key);

    if (r->keylen != len)
        return 0;
    memcpy(head, key, len < VM_SNAP_KEYHEAD ? len : VM_SNAP_KEYHEAD);
    return memcmp(head, r->keyhead, VM_SNAP_KEYHEAD) == 0;
}

/* Every string offset inside the area, every slot pointing at a record
 * whose key hashes to the slot's fingerprint, one empty slot at least. */
static const char *check_contents(const vm_snapshot *s)
{
    const vm_snap_header *h = s->h;
    uint32_t i, used = 0;
    int j;

    if (s->strings[h->strings_len - 1] != '\0' || h->source >= h->strings_len)
        return "corrupt snapshot strings";
    for (i = 0; i < h->count; i++) {
        for (j = 0; j < VM_R_COUNT; j++)
            if (s->records[i].str[j] >= h->strings_len)
                return "corrupt snapshot record";
        if (!key_consistent(s, &s->records[i]))
            return "corrupt snapshot record";
    }
    for (i = 0; i < h->nrejections; i++)
        if (s->rejections[i].reason >= h->strings_len)
            return "corrupt snapshot rejection";
    for (i = 0; i < h->nslots; i++) {
        const vm_snap_slot *b = &s->index[i];
        if (!b->record)
            continue;
        if (b->record > h->count
            || b->fingerprint != vm_hash_key(s->strings
                                   + s->records[b->record - 1].str[VM_E_HOST],
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
    s->index = (const vm_snap_slot *)(s->base + s->h->index_off);
    s->mask = s->h->nslots - 1;
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
    size_t j;

    memset(out, 0, sizeof *out);    /* the cron figures are not here */
    out->id = r->id;
    out->dbpersist = (r->flags & VM_SNAP_DBPERSIST) != 0;
    out->enabled = (r->flags & VM_SNAP_ENABLED) != 0;
    out->mnet = r->mnet;
    for (j = 0; j < VM_SNAP_STRING_COUNT; j++)
        *vm_snap_string_field(out, j) = s->strings
                                        + r->str[vm_snap_strings[j].slot];
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
        && memcmp(s->strings + r->str[VM_E_HOST] + VM_SNAP_KEYHEAD,
                  key + VM_SNAP_KEYHEAD, keylen - VM_SNAP_KEYHEAD) == 0;
}

/* Two dependent reads for a hit: the slot, then the record's first line
 * (a fingerprint mismatch costs no record read). */
const vm_snapshot_entry *vm_snapshot_find(const vm_snapshot *s,
                                          const char *key, size_t keylen)
{
    uint32_t h = vm_hash_key(key, keylen), slot;

    for (slot = h & s->mask; s->index[slot].record;
         slot = (slot + 1) & s->mask) {
        const vm_snap_record *r;

        if (s->index[slot].fingerprint != h)
            continue;
        r = &s->records[s->index[slot].record - 1];
        if (r->keylen == keylen && key_equal(s, r, key, keylen))
            return r;
    }
    return NULL;
}

int vm_snapshot_entry_enabled(const vm_snapshot_entry *e)
{
    return (e->flags & VM_SNAP_ENABLED) != 0;
}

long long vm_snapshot_entry_id(const vm_snapshot_entry *e)
{
    return e->id;
}

void vm_snapshot_entry_env(const vm_snapshot *s, const vm_snapshot_entry *e,
                           const char *values[VM_ENV_COUNT])
{
    int i;

    for (i = 0; i < VM_ENV_COUNT; i++)
        values[i] = s->strings + e->str[i];
}

int vm_snapshot_lookup(const vm_snapshot *s, const char *key, size_t keylen,
                       vm_instance *out)
{
    const vm_snapshot_entry *e = vm_snapshot_find(s, key, keylen);

    if (!e)
        return 0;
    vm_snapshot_instance(s, (uint32_t)(e - s->records), out);
    return 1;
}
