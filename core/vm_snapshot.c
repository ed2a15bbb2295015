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
    uint32_t mask; /* nslots - 1 */
    const vm_snap_record *records;
    const vm_snap_rejection *rejections;
    const vm_snap_link *links;
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
        || !section_ok(h, h->links_off, h->nlinks, sizeof(vm_snap_link))
        || h->nslots <= (uint64_t)h->count + h->nlinks || h->strings_off > size
        || h->strings_len == 0 || h->strings_len > size - h->strings_off
        || h->strings_len > UINT32_MAX)
        return "corrupt snapshot section";
    return NULL;
}

/* A key length and key head agree with the key string. */
static int key_consistent(const char *key, uint32_t keylen, const char *keyhead)
{
    char head[VM_SNAP_KEYHEAD] = { 0 };
    size_t len = strlen(key);

    if (keylen != len)
        return 0;
    memcpy(head, key, len < VM_SNAP_KEYHEAD ? len : VM_SNAP_KEYHEAD);
    return memcmp(head, keyhead, VM_SNAP_KEYHEAD) == 0;
}

/* The cold block holds its strings inside the area. */
static int cold_ok(const vm_snapshot *s, uint32_t off)
{
    size_t i;

    for (i = 0; i < VM_SNAP_COLD_COUNT; i++) {
        const char *end = memchr(s->strings + off, '\0',
                                 s->h->strings_len - off);
        if (!end)
            return 0;
        off = (uint32_t)(end - s->strings) + 1;
    }
    return 1;
}

/* What a slot's value names: a record or a link, and its key. */
static const char *slot_key(const vm_snapshot *s, uint32_t v, uint32_t *len)
{
    if (v & VM_SNAP_LINK) {
        const vm_snap_link *l = &s->links[(v & ~VM_SNAP_LINK) - 1];
        *len = l->keylen;
        return s->strings + l->key;
    }
    *len = s->records[v - 1].keylen;
    return s->strings + s->records[v - 1].str[VM_E_HOST];
}

static int slot_value_ok(const vm_snap_header *h, uint32_t v)
{
    uint32_t i = v & ~VM_SNAP_LINK; /* index + 1 */

    return i >= 1 && ((v & VM_SNAP_LINK) ? i <= h->nlinks : i <= h->count);
}

static const char *check_links(const vm_snapshot *s)
{
    const vm_snap_header *h = s->h;
    uint32_t i;

    for (i = 0; i < h->nlinks; i++) {
        const vm_snap_link *l = &s->links[i];
        if (l->key >= h->strings_len || l->target > h->count
            || !key_consistent(s->strings + l->key, l->keylen, l->keyhead))
            return "corrupt snapshot link";
    }
    return NULL;
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
        const vm_snap_record *r = &s->records[i];
        for (j = 0; j < VM_R_COUNT; j++)
            if (r->str[j] >= h->strings_len)
                return "corrupt snapshot record";
        if (!key_consistent(s->strings + r->str[VM_E_HOST], r->keylen,
                            r->keyhead)
            || !cold_ok(s, r->str[VM_R_COLD]))
            return "corrupt snapshot record";
    }
    if (check_links(s))
        return check_links(s);
    for (i = 0; i < h->nrejections; i++)
        if (s->rejections[i].reason >= h->strings_len)
            return "corrupt snapshot rejection";
    for (i = 0; i < h->nslots; i++) {
        const vm_snap_slot *b = &s->index[i];
        const char *key;
        uint32_t len;

        if (!b->record)
            continue;
        if (!slot_value_ok(h, b->record))
            return "corrupt snapshot index";
        key = slot_key(s, b->record, &len);
        if (b->fingerprint != vm_hash_key(key, len))
            return "corrupt snapshot index";
        used++;
    }
    return used == h->count + h->nlinks ? NULL : "corrupt snapshot index";
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
    s->links = (const vm_snap_link *)(s->base + s->h->links_off);
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

uint64_t vm_snapshot_generation(const vm_snapshot *s)
{
    return s->h->generation;
}
int64_t vm_snapshot_created(const vm_snapshot *s)
{
    return s->h->created;
}
uint64_t vm_snapshot_digest(const vm_snapshot *s)
{
    return s->h->digest;
}
uint32_t vm_snapshot_count(const vm_snapshot *s)
{
    return s->h->count;
}
uint32_t vm_snapshot_rejection_count(const vm_snapshot *s)
{
    return s->h->nrejections;
}

const char *vm_snapshot_source(const vm_snapshot *s)
{
    return s->strings + s->h->source;
}

void vm_snapshot_instance(const vm_snapshot *s, uint32_t i, vm_instance *out)
{
    const vm_snap_record *r = &s->records[i];
    size_t j;

    memset(out, 0, sizeof *out); /* the cron figures are not here */
    out->id = r->id;
    out->dbpersist = (r->flags & VM_SNAP_DBPERSIST) != 0;
    out->enabled = (r->flags & VM_SNAP_ENABLED) != 0;
    out->mnet = r->mnet;
    const char *cold = s->strings + r->str[VM_R_COLD];

    for (j = 0; j < VM_SNAP_STRING_COUNT; j++)
        *vm_snap_string_field(out, j) = s->strings
            + r->str[vm_snap_strings[j].slot];
    for (j = 0; j < VM_SNAP_COLD_COUNT; j++, cold += strlen(cold) + 1)
        *(const char **)((char *)out + vm_snap_cold[j]) = cold;
    out->path = vm_host_key_path(out->key);
}

void vm_snapshot_rejection(const vm_snapshot *s, uint32_t i, vm_rejection *out)
{
    out->id = s->rejections[i].id;
    out->reason = s->strings + s->rejections[i].reason;
}

/* Both kinds of entry start alike: key length, flags, key head. */
static int key_equal(const char *head, const char *whole, const char *key,
                     size_t keylen)
{
    if (keylen <= VM_SNAP_KEYHEAD)
        return memcmp(head, key, keylen) == 0;
    return memcmp(head, key, VM_SNAP_KEYHEAD) == 0
        && memcmp(whole + VM_SNAP_KEYHEAD, key + VM_SNAP_KEYHEAD,
                  keylen - VM_SNAP_KEYHEAD)
        == 0;
}

/* The slot value of key, whose vm_hash_key is h (a record or a link), 0
 * when absent.  Two dependent reads for a hit: the slot, then the entry's
 * first line (a fingerprint mismatch costs no entry read). */
static uint32_t find_hashed(const vm_snapshot *s, const char *key,
                            size_t keylen, uint32_t h)
{
    uint32_t slot;

    for (slot = h & s->mask; s->index[slot].record;
         slot = (slot + 1) & s->mask) {
        uint32_t v = s->index[slot].record;

        if (s->index[slot].fingerprint != h)
            continue;
        if (v & VM_SNAP_LINK) {
            const vm_snap_link *l = &s->links[(v & ~VM_SNAP_LINK) - 1];
            if (l->keylen == keylen
                && key_equal(l->keyhead, s->strings + l->key, key, keylen))
                return v;
        } else {
            const vm_snap_record *r = &s->records[v - 1];
            if (r->keylen == keylen
                && key_equal(r->keyhead, s->strings + r->str[VM_E_HOST], key,
                             keylen))
                return v;
        }
    }
    return 0;
}

static uint32_t find_key(const vm_snapshot *s, const char *key, size_t keylen)
{
    return find_hashed(s, key, keylen, vm_hash_key(key, keylen));
}

const vm_snapshot_entry *vm_snapshot_find(const vm_snapshot *s, const char *key,
                                          size_t keylen)
{
    uint32_t v = find_key(s, key, keylen);

    return v && !(v & VM_SNAP_LINK) ? &s->records[v - 1] : NULL;
}

static uint32_t entry_flags(const vm_snapshot *s, uint32_t v)
{
    return (v & VM_SNAP_LINK) ? s->links[(v & ~VM_SNAP_LINK) - 1].flags
                              : s->records[v - 1].flags;
}

/* The first segment of path ("/school1/x" -> "school1"), appended to the
 * host key in buf: its length, or 0 when there is none that could name a
 * site. */
static size_t path_key(const char *key, size_t keylen, const char *path,
                       char *buf)
{
    size_t seglen;

    if (!path || path[0] != '/')
        return 0;
    for (seglen = 0; path[1 + seglen] && path[1 + seglen] != '/'; seglen++)
        if (seglen == VM_SEGMENT_MAX) /* longer: no site's */
            return 0;
    if (seglen == 0 || keylen >= VM_HOSTKEY_MAX)
        return 0;
    memcpy(buf, key, keylen);
    buf[keylen] = '/';
    memcpy(buf + keylen + 1, path + 1, seglen);
    return keylen + 1 + seglen;
}

/* The key of slot value v, in the string area. */
static const char *entry_key(const vm_snapshot *s, uint32_t v)
{
    return s->strings
        + ((v & VM_SNAP_LINK) ? s->links[(v & ~VM_SNAP_LINK) - 1].key
                              : s->records[v - 1].str[VM_E_HOST]);
}

int vm_snapshot_route(const vm_snapshot *s, const char *key, size_t keylen,
                      const char *path, vm_snapshot_route_result *out)
{
    return vm_snapshot_route_hashed(s, key, keylen, vm_hash_key(key, keylen),
                                    path, out);
}

int vm_snapshot_route_hashed(const vm_snapshot *s, const char *key,
                             size_t keylen, uint32_t h, const char *path,
                             vm_snapshot_route_result *out)
{
    uint32_t v = find_hashed(s, key, keylen, h);

    out->alias = 0;
    out->prefix = 0;
    out->path = "";
    if (v && (entry_flags(s, v) & VM_SNAP_PATHS)) {
        char buf[VM_KEY_MAX];
        size_t n = path_key(key, keylen, path, buf);
        uint32_t sub = n
            ? find_hashed(s, buf, n,
                          vm_hash_key_more(h, buf + keylen, n - keylen))
            : 0;
        if (sub) {
            v = sub;
            out->prefix = n - keylen;
            out->path = entry_key(s, v) + keylen; /* "/segment" */
        }
    }
    if (!v)
        return 0;
    if (v & VM_SNAP_LINK) {
        uint32_t target = s->links[(v & ~VM_SNAP_LINK) - 1].target;
        if (!target)
            return 0; /* a host of path sites, none at its root */
        out->site = &s->records[target - 1];
        out->alias = 1;
    } else {
        out->site = &s->records[v - 1];
    }
    return 1;
}

const char *vm_snapshot_entry_platform(const vm_snapshot *s,
                                       const vm_snapshot_entry *e)
{
    return s->strings + e->str[VM_R_PLATFORM];
}

const char *vm_snapshot_entry_wwwroot(const vm_snapshot *s,
                                      const vm_snapshot_entry *e)
{
    return s->strings + e->str[VM_E_WWWROOT];
}

int vm_snapshot_entry_enabled(const vm_snapshot_entry *e)
{
    return (e->flags & VM_SNAP_ENABLED) != 0;
}

long long vm_snapshot_entry_id(const vm_snapshot_entry *e)
{
    return e->id;
}

void vm_snapshot_entry_env_into(const vm_snapshot *s,
                                const vm_snapshot_entry *e, void *first,
                                size_t stride)
{
    const char *strings = s->strings; /* read once: at may alias it */
    char *at = first;
    int i;

    for (i = 0; i < VM_ENV_COUNT; i++, at += stride)
        memcpy(at, &(const char *){ strings + e->str[i] },
               sizeof(const char *));
}

void vm_snapshot_entry_env(const vm_snapshot *s, const vm_snapshot_entry *e,
                           const char *values[VM_ENV_COUNT])
{
    vm_snapshot_entry_env_into(s, e, values, sizeof *values);
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
