/* libFuzzer harness: the snapshot reader fed damaged files.
 *
 * Input: a mode byte, then
 *   mode 0: the whole file;
 *   mode 1: the whole file, its checksum recomputed, so the damage
 *           reaches the structural checks behind the checksum;
 *   mode 2, 3: a truncation byte and (offset lo, offset hi, value)
 *           triples applied to a valid snapshot of a small table;
 *           mode 2 recomputes the checksum, mode 3 does not.
 * Whatever vm_snapshot_open accepts is then read whole: every instance,
 * rejection and string, and a lookup of every key and of the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_file.h"
#include "vm_hash.h"
#include "vm_snapshot.h"
#include "vm_snapshot_format.h"
#include "vm_table.h"
#include "fuzz_util.h"

static char snap_path[300];
static uint8_t *valid;
static size_t valid_size;

static void add_row(apr_array_header_t *rows, const char *id, const char *vhost,
                    const char *enabled)
{
    vm_row *row = apr_array_push(rows);

    memset(row, 0, sizeof *row);
    vm_row_set(row, VM_F_ID, id);
    vm_row_set(row, VM_F_VHOSTNAME, vhost);
    vm_row_set(row, VM_F_VDBNAME, "moodle");
    vm_row_set(row, VM_F_VDBPASS, "secret");
    vm_row_set(row, VM_F_VDATAPATH, "/srv/data");
    vm_row_set(row, VM_F_ENABLED, enabled);
}

/* A valid snapshot of five instances (two under paths of one host, one
 * with aliases and a platform: every kind of link) and two rejections,
 * kept in memory as the base that modes 2 and 3 damage. */
static void make_valid(void)
{
    apr_pool_t *p;
    apr_array_header_t *rows;
    vm_snapshot_meta meta = { 3, 1700000000, "json:/etc/instances.json" };
    const char *err;
    char *data;
    size_t len;

    apr_pool_create(&p, NULL);
    rows = apr_array_make(p, 5, sizeof(vm_row));
    add_row(rows, "1", "https://Site1.Example.edu/", "1");
    add_row(rows, "2", "http://site2.example.edu:8080", "0");
    add_row(rows, "3", "http://[::1]/", "1");
    add_row(rows, "4", "ftp://bad", "1");
    add_row(rows, "5", "https://site1.example.edu", "1");
    add_row(rows, "6", "https://paths.example.edu/a", "1");
    add_row(rows, "7", "https://site1.example.edu/b/", "1");
    vm_row_set(&APR_ARRAY_IDX(rows, 0, vm_row), VM_F_ALIASES,
               "www.site1.example.edu old.example.edu/one");
    vm_row_set(&APR_ARRAY_IDX(rows, 0, vm_row), VM_F_PLATFORM, "next");
    if (vm_snapshot_write(snap_path, vm_table_build(rows, p), &meta, p, &err)
        != VM_OK)
        abort();
    if (vm_file_read(snap_path, 1 << 20, p, &data, &len, &err) != VM_OK)
        abort();
    valid = malloc(len);
    memcpy(valid, data, len);
    valid_size = len;
    apr_pool_destroy(p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_path(snap_path, sizeof snap_path, "fuzz.snap");
    make_valid();
    return 0;
}

static void reseal(uint8_t *img, size_t size)
{
    vm_snap_header h;

    if (size < sizeof h)
        return;
    memcpy(&h, img, sizeof h);
    h.checksum = 0;
    h.checksum = vm_hash_bytes(vm_hash_bytes(VM_HASH_SEED, &h, sizeof h),
                               img + sizeof h, size - sizeof h);
    memcpy(img, &h, sizeof h);
}

/* Modes 2 and 3: the valid snapshot, truncated and edited. */
static uint8_t *damage_valid(const uint8_t *in, size_t n, size_t *size)
{
    uint8_t *img;
    size_t i;

    *size = n ? valid_size * (in[0] ? in[0] : 256) / 256 : valid_size;
    img = malloc(*size ? *size : 1);
    memcpy(img, valid, *size);
    for (i = 1; *size && i + 2 < n; i += 3)
        img[(in[i] | (size_t)in[i + 1] << 8) % *size] = in[i + 2];
    return img;
}

static size_t touch(const char *s)
{
    return strlen(s);
}

/* What a routed request reads: the entry's variables. */
static size_t touch_entry(const vm_snapshot *s, const vm_snapshot_entry *e)
{
    const char *values[VM_ENV_COUNT];
    size_t sum = 0;
    int i;

    if (!e)
        return 0;
    vm_snapshot_entry_env(s, e, values);
    for (i = 0; i < VM_ENV_COUNT; i++)
        sum += touch(values[i]);
    return sum + (size_t)vm_snapshot_entry_id(e)
        + (size_t)vm_snapshot_entry_enabled(e);
}

/* Read everything the reader exposes, as the module and vmoodlectl do. */
static void read_all(const vm_snapshot *s, const uint8_t *data, size_t size)
{
    uint32_t i, n = vm_snapshot_count(s);
    volatile size_t sum = touch(vm_snapshot_source(s));
    vm_instance in, found;
    vm_rejection rej;
    vm_snapshot_route_result to;

    for (i = 0; i < n; i++) {
        vm_snapshot_instance(s, i, &in);
        sum += touch(in.key) + touch(in.wwwroot) + touch(in.vhostname)
            + touch(in.name) + touch(in.shortname) + touch(in.dbtype)
            + touch(in.dbhost) + touch(in.dblogin) + touch(in.dbpass)
            + touch(in.dbname) + touch(in.dbprefix) + touch(in.datapath)
            + touch(in.platform) + touch(in.aliases) + touch(in.path);
        /* as a request for the host, with the site's path */
        if (vm_snapshot_route(s, in.key, strcspn(in.key, "/"),
                              *in.path ? in.path : "/", &to))
            sum += touch_entry(s, to.site)
                + touch(vm_snapshot_entry_platform(s, to.site))
                + touch(vm_snapshot_entry_wwwroot(s, to.site));
        vm_snapshot_lookup(s, in.key, strlen(in.key), &found);
        sum += touch_entry(s, vm_snapshot_find(s, in.key, strlen(in.key)));
    }
    for (i = 0; i < vm_snapshot_rejection_count(s); i++) {
        vm_snapshot_rejection(s, i, &rej);
        sum += touch(rej.reason);
    }
    vm_snapshot_lookup(s, (const char *)data, size, &found);
    sum += touch_entry(s, vm_snapshot_find(s, (const char *)data, size));
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    vm_snapshot *s;
    const char *err;
    uint8_t *img;
    size_t len;
    int mode;

    if (size < 1)
        return 0;
    mode = data[0] & 3;
    if (mode >= 2) {
        img = damage_valid(data + 1, size - 1, &len);
    } else {
        len = size - 1;
        img = malloc(len ? len : 1);
        memcpy(img, data + 1, len);
    }
    if (mode == 1 || mode == 2)
        reseal(img, len);
    fuzz_write_file(snap_path, img, len);
    free(img);
    apr_pool_create(&p, NULL);
    if (vm_snapshot_open(&s, snap_path, p, &err) == VM_OK) {
        read_all(s, data, size);
        vm_snapshot_close(s);
    } else if (!err || !*err) {
        abort(); /* a refusal must say why: the module logs it */
    }
    apr_pool_destroy(p);
    return 0;
}
