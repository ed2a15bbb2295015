/* The usage file, see vm_usage.h. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_file.h"
#include "vm_usage.h"

#define USAGE_MAGIC "VMUSAGE\n"
#define USAGE_VERSION 1u
#define USAGE_MAX ((size_t)1 << 30)

struct vm_usage {
    const vm_usage_entry *entries; /* ids ascending */
    uint32_t count;
};

vm_usage_level vm_usage_level_of(uint64_t used, uint64_t quota, int *pc)
{
    /* in double: bytes * 100 would overflow past 184 PB */
    double percent = quota ? (double)used * 100.0 / (double)quota : 0;

    if (pc)
        *pc = percent < 1e9 ? (int)percent : 1000000000;
    if (!quota)
        return VM_USAGE_NO_QUOTA;
    if (used > quota)
        return VM_USAGE_OVER;
    return percent >= VM_USAGE_WARN_PERCENT ? VM_USAGE_WARNING : VM_USAGE_OK;
}

const char *vm_usage_level_name(vm_usage_level l)
{
    static const char *const names[] = { "none", "ok", "warning", "over" };

    return names[l];
}

const char *vm_bytes_text(uint64_t n, apr_pool_t *p)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)n;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    return u ? apr_psprintf(p, "%.1f %s", v, units[u])
             : apr_psprintf(p, "%" APR_UINT64_T_FMT " B", (apr_uint64_t)n);
}

uint64_t vm_usage_used(const vm_usage_entry *e)
{
    return e->dataroot_bytes + e->database_bytes;
}

vm_status vm_usage_load(vm_usage **out, const char *path, apr_pool_t *p,
                        const char **err)
{
    vm_usage *u = apr_pcalloc(p, sizeof *u);
    const void *entries;
    vm_status st = vm_file_records_read(path, USAGE_MAGIC, USAGE_VERSION,
                                        sizeof(vm_usage_entry), USAGE_MAX,
                                        "usage", p, &entries, &u->count, err);

    *out = u;
    u->entries = entries;
    return st;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const vm_usage_entry *)a)->id,
            y = ((const vm_usage_entry *)b)->id;

    return (x > y) - (x < y);
}

const vm_usage_entry *vm_usage_get(const vm_usage *u, int64_t id)
{
    vm_usage_entry key = { .id = id };

    return u->count ? bsearch(&key, u->entries, u->count, sizeof key, by_id)
                    : NULL;
}

/* The old entries not measured now, then the new ones, sorted. */
static vm_status write_merged(const char *path, const vm_usage *old,
                              const vm_usage_entry *e, int n, apr_pool_t *p,
                              const char **err)
{
    size_t most = (size_t)old->count + (size_t)n, kept = 0;
    char *img = apr_pcalloc(p,
                            sizeof(vm_records_header)
                                + most * sizeof(vm_usage_entry));
    vm_records_header *h = (vm_records_header *)img;
    vm_usage_entry *out = (vm_usage_entry *)(img + sizeof *h);
    vm_usage now = { e, (uint32_t)n };

    memcpy(out, e, sizeof *e * (size_t)n);
    qsort(out, (size_t)n, sizeof *e, by_id);
    now.entries = out;
    for (uint32_t i = 0; i < old->count; i++)
        if (!vm_usage_get(&now, old->entries[i].id))
            out[(size_t)n + kept++] = old->entries[i];
    qsort(out, (size_t)n + kept, sizeof *e, by_id);
    memcpy(h->magic, USAGE_MAGIC, 8);
    h->version = USAGE_VERSION;
    h->count = (uint32_t)((size_t)n + kept);
    return vm_file_replace(path, img,
                           sizeof *h + sizeof *e * ((size_t)n + kept), 0644,
                           NULL, p, err);
}

vm_status vm_usage_record(const char *path, const vm_usage_entry *e, int n,
                          apr_pool_t *p, const char **err)
{
    int fd = vm_file_lock(apr_pstrcat(p, path, ".lock", NULL), 1, p, err);
    vm_usage *old;
    vm_status st;

    if (fd < 0)
        return VM_ERR_IO;
    if ((st = vm_usage_load(&old, path, p, err)) == VM_OK)
        st = write_merged(path, old, e, n, p, err);
    vm_file_unlock(fd);
    return st;
}
