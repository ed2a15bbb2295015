/* <snapshot>.cron: a header and one entry per instance, by ascending id. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "vm_cron_figures.h"
#include "vm_file.h"
#include "vm_hash.h"

#define CRON_MAGIC "VMCRON\r\n"
#define CRON_VERSION 1u
#define CRON_MAX ((size_t)1 << 31)

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t count;
    uint64_t digest; /* of the entries: compared before rewriting */
} cron_header;

typedef struct {
    int64_t id, croncount, lastcron, lastcrongap;
} cron_entry;

struct vm_cron_figures {
    const cron_entry *entries;
    uint32_t count;
};

const char *vm_cron_figures_path(const char *snapshot_path, apr_pool_t *p)
{
    return apr_pstrcat(p, snapshot_path, ".cron", NULL);
}

static uint64_t digest_of(const cron_entry *e, uint32_t n)
{
    return vm_hash_bytes(VM_HASH_SEED, e, sizeof *e * n);
}

/* The digest of the file at path, 0 when it has none readable. */
static uint64_t digest_on_disk(const char *path)
{
    cron_header h;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t got;

    if (fd < 0)
        return 0;
    got = read(fd, &h, sizeof h);
    close(fd);
    if (got != (ssize_t)sizeof h || memcmp(h.magic, CRON_MAGIC, 8) != 0
        || h.version != CRON_VERSION)
        return 0;
    return h.digest;
}

vm_status vm_cron_figures_save(const char *path, const vm_table *t,
                               int *written, apr_pool_t *p, const char **err)
{
    uint32_t n = (uint32_t)t->instances->nelts, i;
    size_t size = sizeof(cron_header) + sizeof(cron_entry) * n;
    char *img = apr_pcalloc(p, size);
    cron_header *h = (cron_header *)img;
    cron_entry *e = (cron_entry *)(img + sizeof *h);

    *written = 0;
    for (i = 0; i < n; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        e[i] = (cron_entry){ in->id, in->croncount, in->lastcron,
                             in->lastcrongap };
    }
    memcpy(h->magic, CRON_MAGIC, 8);
    h->version = CRON_VERSION;
    h->count = n;
    h->digest = digest_of(e, n) ^ n; /* an empty table is not "none" */
    if (h->digest == digest_on_disk(path))
        return VM_OK;
    if (vm_file_replace(path, img, size, 0600, NULL, p, err) != VM_OK)
        return VM_ERR_IO;
    *written = 1;
    return VM_OK;
}

static const char *check(const char *data, size_t len)
{
    const cron_header *h = (const cron_header *)data;
    const cron_entry *e = (const cron_entry *)(data + sizeof *h);
    uint32_t i;

    if (len < sizeof *h || memcmp(h->magic, CRON_MAGIC, 8) != 0)
        return "not a cron figures file";
    if (h->version != CRON_VERSION)
        return "unsupported cron figures version";
    if ((len - sizeof *h) / sizeof *e != h->count
        || (len - sizeof *h) % sizeof *e != 0)
        return "cron figures truncated or extended";
    if ((digest_of(e, h->count) ^ h->count) != h->digest)
        return "cron figures checksum mismatch";
    for (i = 1; i < h->count; i++)
        if (e[i].id <= e[i - 1].id)
            return "cron figures out of order";
    return NULL;
}

vm_status vm_cron_figures_load(vm_cron_figures **out, const char *path,
                               apr_pool_t *p, const char **err)
{
    vm_cron_figures *f;
    const char *why;
    char *data;
    size_t len;
    vm_status st = vm_file_read(path, CRON_MAX, p, &data, &len, err);

    if (st != VM_OK)
        return st;
    if ((why = check(data, len)) != NULL) {
        *err = apr_psprintf(p, "%s: %s", path, why);
        return VM_ERR_DATA;
    }
    f = apr_palloc(p, sizeof *f);
    /* vm_file_read's buffer comes from a pool: aligned for int64 */
    f->entries = (const cron_entry *)(data + sizeof(cron_header));
    f->count = ((const cron_header *)data)->count;
    *out = f;
    return VM_OK;
}

int vm_cron_figures_get(const vm_cron_figures *f, vm_instance *in)
{
    uint32_t lo = 0, hi = f->count;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const cron_entry *e = &f->entries[mid];

        if (e->id == in->id) {
            in->croncount = e->croncount;
            in->lastcron = e->lastcron;
            in->lastcrongap = e->lastcrongap;
            return 1;
        }
        if (e->id < in->id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* ---- run records ------------------------------------------------------ */

#define RUNS_MAGIC "VMRUNS\r\n"
#define RUNS_VERSION 1u

struct vm_cron_runs {
    const vm_cron_run *entries;
    uint32_t count;
};

vm_status vm_cron_runs_load(vm_cron_runs **out, const char *path, apr_pool_t *p,
                            const char **err)
{
    vm_cron_runs *r = apr_pcalloc(p, sizeof *r);
    const void *entries;
    vm_status st = vm_file_records_read(path, RUNS_MAGIC, RUNS_VERSION,
                                        sizeof(vm_cron_run), CRON_MAX,
                                        "cron runs", p, &entries, &r->count,
                                        err);

    *out = r;
    r->entries = entries;
    return st;
}

/* By id, then by start: equal ids fold into the last of them. */
static int by_id_then_start(const void *a, const void *b)
{
    const vm_cron_run *x = a, *y = b;

    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->last_start > y->last_start) - (x->last_start < y->last_start);
}

/* Another host's entries added: runs summed, the newest start's last. */
static vm_cron_runs *runs_merge(apr_array_header_t *all, apr_pool_t *p)
{
    vm_cron_runs *r = apr_pcalloc(p, sizeof *r);
    vm_cron_run *e = (vm_cron_run *)(void *)all->elts, *out = e;
    int i;

    if (all->nelts)
        qsort(e, (size_t)all->nelts, sizeof *e, by_id_then_start);
    for (i = 0; i < all->nelts; i++) {
        if (out != e && out[-1].id == e[i].id) {
            e[i].runs += out[-1].runs;
            e[i].failures += out[-1].failures;
            e[i].timeouts += out[-1].timeouts;
            out[-1] = e[i]; /* the later start */
        } else
            *out++ = e[i];
    }
    r->entries = e;
    r->count = (uint32_t)(out - e);
    return r;
}

/* A writer's lock or temporary file (vm_file_replace's base.tmp.*). */
static int not_runs_file(const char *path)
{
    const char *base = strrchr(path, '/');
    size_t n = strlen(path);

    base = base ? base + 1 : path;
    return (n > 5 && strcmp(path + n - 5, ".lock") == 0)
        || strstr(base, ".tmp.") != NULL;
}

/* One file's entries onto all; a file that cannot be read adds none. */
static vm_status runs_gather(apr_array_header_t *all, const char *path,
                             apr_pool_t *p, const char **err)
{
    vm_cron_runs *r;
    vm_status st = vm_cron_runs_load(&r, path, p, err);

    for (uint32_t k = 0; st == VM_OK && k < r->count; k++)
        APR_ARRAY_PUSH(all, vm_cron_run) = r->entries[k];
    return st;
}

/* Each file the glob pattern names onto all. */
static vm_status runs_glob(apr_array_header_t *all, const char *pattern,
                           apr_pool_t *p, const char **err)
{
    vm_status st = VM_OK, one;
    glob_t g;
    size_t i;

    memset(&g, 0, sizeof g);
    if (glob(pattern, GLOB_ERR, NULL, &g) == GLOB_ABORTED) {
        *err = apr_psprintf(p, "%s: cannot read its folder", pattern);
        st = VM_ERR_IO;
    }
    for (i = 0; i < g.gl_pathc; i++)
        if (!not_runs_file(g.gl_pathv[i])
            && (one = runs_gather(all, g.gl_pathv[i], p, err)) != VM_OK)
            st = one;
    globfree(&g);
    return st;
}

vm_status vm_cron_runs_load_all(vm_cron_runs **out, const char *pattern,
                                apr_pool_t *p, const char **err)
{
    apr_array_header_t *all = apr_array_make(p, 64, sizeof(vm_cron_run));
    vm_status st = strpbrk(pattern, "*?[") ? runs_glob(all, pattern, p, err)
                                           : runs_gather(all, pattern, p, err);

    *out = runs_merge(all, p);
    return st;
}

/* The position of id, or where it would go (*found = 0). */
static uint32_t runs_find(const vm_cron_runs *r, int64_t id, int *found)
{
    uint32_t lo = 0, hi = r->count;

    *found = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->entries[mid].id == id) {
            *found = 1;
            return mid;
        }
        if (r->entries[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const vm_cron_run *vm_cron_runs_get(const vm_cron_runs *r, int64_t id)
{
    int found;
    uint32_t i = runs_find(r, id, &found);

    return found ? &r->entries[i] : NULL;
}

static void runs_add(vm_cron_run *e, const vm_cron_outcome *o)
{
    e->runs++;
    e->failures += !o->timed_out && o->exit_status != 0;
    e->timeouts += o->timed_out != 0;
    e->last_start = o->started;
    e->last_duration_ms = o->duration_ms;
    e->last_exit = o->exit_status;
    e->last_timed_out = o->timed_out != 0;
}

/* Rewrite one entry where it is. */
static vm_status runs_update(const char *path, uint32_t i, const vm_cron_run *e,
                             apr_pool_t *p, const char **err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    off_t at = (off_t)(sizeof(vm_records_header) + sizeof *e * i);
    ssize_t put = fd < 0 ? -1 : pwrite(fd, e, sizeof *e, at);

    if (fd >= 0)
        close(fd);
    if (put != (ssize_t)sizeof *e) {
        *err = apr_psprintf(p, "%s: %s", path, strerror(errno));
        return VM_ERR_IO;
    }
    return VM_OK;
}

/* A new file with e inserted at i. */
static vm_status runs_insert(const char *path, const vm_cron_runs *r,
                             uint32_t i, const vm_cron_run *e, apr_pool_t *p,
                             const char **err)
{
    size_t size = sizeof(vm_records_header)
        + sizeof *e * ((size_t)r->count + 1);
    char *img = apr_pcalloc(p, size);
    vm_records_header *h = (vm_records_header *)img;
    vm_cron_run *out = (vm_cron_run *)(img + sizeof *h);

    memcpy(h->magic, RUNS_MAGIC, 8);
    h->version = RUNS_VERSION;
    h->count = r->count + 1;
    if (i > 0)
        memcpy(out, r->entries, sizeof *e * i);
    out[i] = *e;
    if (r->count > i)
        memcpy(out + i + 1, r->entries + i, sizeof *e * (r->count - i));
    return vm_file_replace(path, img, size, 0644, NULL, p, err);
}

vm_status vm_cron_runs_record(const char *path, int64_t id,
                              const vm_cron_outcome *o, apr_pool_t *p,
                              const char **err)
{
    int fd = vm_file_lock(apr_pstrcat(p, path, ".lock", NULL), 1, p, err);
    vm_cron_runs *r;
    vm_cron_run e;
    uint32_t i;
    int found;
    vm_status st;

    if (fd < 0)
        return VM_ERR_IO;
    if ((st = vm_cron_runs_load(&r, path, p, err)) == VM_OK) {
        i = runs_find(r, id, &found);
        if (found)
            e = r->entries[i];
        else
            memset(&e, 0, sizeof e), e.id = id;
        runs_add(&e, o);
        st = found ? runs_update(path, i, &e, p, err)
                   : runs_insert(path, r, i, &e, p, err);
    }
    vm_file_unlock(fd);
    return st;
}
