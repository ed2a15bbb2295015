/* Core figures for `make bench`: snapshot compile time (vm_table_build,
 * vm_snapshot_build, vm_snapshot_image_write) and file size, and the time
 * of one vm_snapshot_find (what a request does) over random keys.
 *
 *   lookup_bench DIR N [LOOKUPS]
 *
 * builds N instances (host h<i>.bench.test, shortname s<i>), writes the
 * snapshot into DIR, and with LOOKUPS > 0 times that many lookups of random
 * keys.  Prints one JSON object.  Exits non-zero when a lookup is wrong, so a
 * fast wrong answer cannot pass for a figure. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "vm_snapshot.h"
#include "vm_table.h"

#define CHECKS 100000 /* lookups whose result is compared, after timing */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_random(uint64_t *state) /* xorshift64 */
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "lookup_bench: %s: %s\n", what, why ? why : "failed");
    exit(1);
}

/* Rows as a source would read them: every column as text. */
static apr_array_header_t *make_rows(unsigned n, apr_pool_t *p)
{
    apr_array_header_t *rows = apr_array_make(p, (int)n, sizeof(vm_row));
    for (unsigned i = 1; i <= n; i++) {
        vm_row *r = apr_array_push(rows);
        memset(r, 0, sizeof(*r));
        vm_row_set(r, VM_F_ID, apr_psprintf(p, "%u", i));
        vm_row_set(r, VM_F_NAME, apr_psprintf(p, "Bench site %u", i));
        vm_row_set(r, VM_F_SHORTNAME, apr_psprintf(p, "s%u", i));
        vm_row_set(r, VM_F_VHOSTNAME,
                   apr_psprintf(p, "http://h%u.bench.test/", i));
        vm_row_set(r, VM_F_VDBTYPE, "pgsql");
        vm_row_set(r, VM_F_VDBHOST, "127.0.0.1");
        vm_row_set(r, VM_F_VDBLOGIN, "moodle");
        vm_row_set(r, VM_F_VDBPASS, apr_psprintf(p, "pw%u", i));
        vm_row_set(r, VM_F_VDBNAME, apr_psprintf(p, "db%u", i));
        vm_row_set(r, VM_F_VDBPREFIX, "mdl_");
        vm_row_set(r, VM_F_VDBPERSIST, "0");
        vm_row_set(r, VM_F_VDATAPATH,
                   apr_psprintf(p, "/srv/moodledata/s%u", i));
        vm_row_set(r, VM_F_MNET, "-1");
        vm_row_set(r, VM_F_ENABLED, "1");
    }
    return rows;
}

/* Validate, lay out the image (once: its digest is the one compared) and
 * write it; fills the compile figures. */
static void compile(const char *path, unsigned n, apr_pool_t *p,
                    double *build_s, double *image_s, double *write_s)
{
    apr_array_header_t *rows = make_rows(n, p);
    double t0 = now_s();
    vm_table *t = vm_table_build(rows, p);
    double t1 = now_s();
    vm_snapshot_meta meta = { .generation = 1,
                              .created = (int64_t)time(NULL),
                              .source = "bench" };
    vm_snapshot_image *img;
    const char *err = NULL;
    if (vm_snapshot_build(&img, t, meta.source, p, &err) != VM_OK)
        fail("vm_snapshot_build", err);
    double t2 = now_s();
    if (vm_snapshot_image_write(img, path, &meta, p, &err) != VM_OK)
        fail("vm_snapshot_image_write", err);
    *write_s = now_s() - t2;
    *image_s = t2 - t1;
    *build_s = t1 - t0;
    if (t->instances->nelts != (int)n)
        fail("vm_table_build", "rows were rejected");
}

/* The keys in lookup order, packed one after another, so that reading the
 * key costs what it costs in a request (it was just parsed: in cache) and
 * the timing is the snapshot's. */
typedef struct {
    char *text;
    uint32_t *offset, *length, *index;
} key_stream;

static key_stream make_keys(unsigned n, unsigned long count)
{
    key_stream k = { malloc(count * 24), malloc(count * sizeof(uint32_t)),
                     malloc(count * sizeof(uint32_t)),
                     malloc(count * sizeof(uint32_t)) };
    if (!k.text || !k.offset || !k.length || !k.index)
        fail("malloc", "out of memory");
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    size_t used = 0;
    for (unsigned long j = 0; j < count; j++) {
        uint32_t i = (uint32_t)(next_random(&state) % n) + 1;
        int len = snprintf(k.text + used, 24, "h%" PRIu32 ".bench.test", i);
        if (len < 0 || len >= 24)
            fail("key", "too long");
        k.offset[j] = (uint32_t)used;
        k.length[j] = (uint32_t)len;
        k.index[j] = i;
        used += (size_t)len + 1;
    }
    return k;
}

static void free_keys(key_stream *k)
{
    free(k->text);
    free(k->offset);
    free(k->length);
    free(k->index);
}

/* Nanoseconds per lookup over the key stream; every key must be found. */
static double time_lookups(const vm_snapshot *s, const key_stream *k,
                           unsigned long count)
{
    unsigned long found = 0;
    double t0 = now_s();
    for (unsigned long j = 0; j < count; j++)
        found += vm_snapshot_find(s, k->text + k->offset[j], k->length[j])
            != NULL;
    double elapsed = now_s() - t0;
    if (found != count)
        fail("vm_snapshot_find", "a present key was not found");
    return elapsed * 1e9 / (double)count;
}

/* Compare a sample of answers, and a key that is absent. */
static void check_lookups(const vm_snapshot *s, const key_stream *k,
                          unsigned long count)
{
    const char *values[VM_ENV_COUNT];
    char want[32];
    for (unsigned long j = 0; j < count && j < CHECKS; j++) {
        const vm_snapshot_entry *e = vm_snapshot_find(s, k->text + k->offset[j],
                                                      k->length[j]);
        snprintf(want, sizeof want, "s%" PRIu32, k->index[j]);
        if (!e)
            fail("vm_snapshot_find", "a present key was not found");
        vm_snapshot_entry_env(s, e, values);
        if (strcmp(values[VM_E_SHORTNAME], want) != 0)
            fail("vm_snapshot_find", "wrong instance for a key");
    }
    if (vm_snapshot_find(s, "absent.bench.test", 17))
        fail("vm_snapshot_find", "an absent key was found");
}

static double measure_lookups(const char *path, unsigned n, unsigned long count,
                              apr_pool_t *p)
{
    vm_snapshot *s = NULL;
    const char *err = NULL;
    if (vm_snapshot_open(&s, path, p, &err) != VM_OK)
        fail("vm_snapshot_open", err);
    if (vm_snapshot_count(s) != n)
        fail("vm_snapshot_count", "wrong number of instances");
    key_stream k = make_keys(n, count);
    time_lookups(s, &k, count < n ? count : n); /* map the pages in */
    double ns = time_lookups(s, &k, count);
    check_lookups(s, &k, count);
    free_keys(&k);
    vm_snapshot_close(s);
    return ns;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: lookup_bench DIR N [LOOKUPS]\n");
        return 2;
    }
    unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
    unsigned long lookups = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
    if (n == 0)
        fail("N", "must be positive");
    apr_initialize();
    apr_pool_t *p;
    apr_pool_create(&p, NULL);
    const char *path = apr_psprintf(p, "%s/snapshot-%u", argv[1], n);
    double build_s, image_s, write_s;
    compile(path, n, p, &build_s, &image_s, &write_s);
    struct stat st;
    if (stat(path, &st) != 0)
        fail(path, "not written");
    double ns = lookups ? measure_lookups(path, n, lookups, p) : 0;
    printf("{\"instances\": %u, \"build_s\": %.4f, \"image_s\": %.4f, "
           "\"write_s\": %.4f, \"file_bytes\": %lld, \"lookups\": %lu, "
           "\"lookup_ns\": %.1f}\n",
           n, build_s, image_s, write_s, (long long)st.st_size, lookups, ns);
    remove(path);
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
