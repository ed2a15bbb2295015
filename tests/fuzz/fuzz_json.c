/* libFuzzer harness: the JSON source, from file to snapshot.
 *
 * Input: the instances file, optionally followed by a NUL byte and the
 * file's .cronstate companion.  The rows are loaded and validated, the
 * table written as a snapshot and mapped again; every instance must then
 * be found under its own key with its own id, and no two instances may
 * share a key or an id. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "vm_snapshot.h"
#include "vm_source.h"
#include "vm_table.h"
#include "fuzz_util.h"

static char json_path[300], state_path[320], snap_path[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_path(json_path, sizeof json_path, "instances.json");
    snprintf(state_path, sizeof state_path, "%s.cronstate", json_path);
    fuzz_path(snap_path, sizeof snap_path, "table.snap");
    return 0;
}

static void write_inputs(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);

    if (nul) {
        fuzz_write_file(json_path, data, (size_t)(nul - data));
        fuzz_write_file(state_path, nul + 1, size - (size_t)(nul - data) - 1);
    } else {
        fuzz_write_file(json_path, data, size);
        unlink(state_path);
    }
}

static void check_unique(const vm_table *t)
{
    int i, j;

    for (i = 0; i < t->instances->nelts; i++)
        for (j = 0; j < i; j++) {
            const vm_instance *a = &APR_ARRAY_IDX(t->instances, i, vm_instance);
            const vm_instance *b = &APR_ARRAY_IDX(t->instances, j, vm_instance);
            if (a->id == b->id || strcmp(a->key, b->key) == 0)
                abort();
        }
}

/* Write, map, and find every instance again. */
static void check_roundtrip(const vm_table *t, apr_pool_t *p)
{
    vm_snapshot_meta meta = { 7, 1700000000, "json:fuzz" };
    vm_snapshot *s;
    const char *err;
    int i;

    if (vm_snapshot_write(snap_path, t, &meta, p, &err) != VM_OK)
        abort();
    if (vm_snapshot_open(&s, snap_path, p, &err) != VM_OK)
        abort();
    if (vm_snapshot_count(s) != (uint32_t)t->instances->nelts
        || vm_snapshot_rejection_count(s) != (uint32_t)t->rejections->nelts
        || vm_snapshot_digest(s) != vm_table_digest(t))
        abort();
    for (i = 0; i < t->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        vm_instance found;
        if (!vm_snapshot_lookup(s, in->key, strlen(in->key), &found)
            || found.id != in->id || strcmp(found.dbpass, in->dbpass) != 0)
            abort();
    }
    vm_snapshot_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    vm_source *src;
    apr_array_header_t *rows;
    const char *err;

    write_inputs(data, size);
    apr_pool_create(&p, NULL);
    if (vm_source_open(&src, apr_pstrcat(p, "json:", json_path, NULL), NULL, p,
                       &err)
        != VM_OK)
        abort();
    if (vm_source_load(src, &rows, p, &err) == VM_OK) {
        vm_table *t = vm_table_build(rows, p);
        check_unique(t);
        check_roundtrip(t, p);
    }
    apr_pool_destroy(p);
    return 0;
}
