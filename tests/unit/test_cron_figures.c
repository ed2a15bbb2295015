/* The cron figures file beside a snapshot: written only when a figure
 * changed, read back by id, and refused when damaged. */
#include "testutil.h"
#include <sys/stat.h>
#include "vm_cron_figures.h"

static vm_table *table_with(apr_pool_t *p, long long count, long long last)
{
    apr_array_header_t *rows = tu_rows(p);
    vm_table *t;
    long long id;

    for (id = 1; id <= 5; id++) {
        vm_row *r = tu_push_valid(rows, id * 10, p);
        vm_row_set(r, VM_F_CRONCOUNT,
                   apr_psprintf(p, "%" APR_INT64_T_FMT,
                                (apr_int64_t)(count * id)));
        vm_row_set(r, VM_F_LASTCRON,
                   apr_psprintf(p, "%" APR_INT64_T_FMT,
                                (apr_int64_t)(last + id)));
        vm_row_set(r, VM_F_LASTCRONGAP,
                   apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)id));
    }
    t = vm_table_build(rows, p);
    assert_int_equal(t->instances->nelts, 5);
    return t;
}

static void saved_read_back_by_id(void **state)
{
    apr_pool_t *p = *state;
    const char *path = vm_cron_figures_path(tu_path(p, tu_tmpdir(p), "s"), p);
    const char *err = NULL;
    vm_cron_figures *f;
    vm_instance in;
    struct stat st;
    int written;
    long long id;

    assert_non_null(strstr(path, "/s.cron"));
    assert_int_equal(vm_cron_figures_save(path, table_with(p, 7, 1700000000),
                                          &written, p, &err),
                     VM_OK);
    assert_true(written);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(vm_cron_figures_load(&f, path, p, &err), VM_OK);
    for (id = 1; id <= 5; id++) {
        memset(&in, 0, sizeof in);
        in.id = id * 10;
        assert_true(vm_cron_figures_get(f, &in));
        assert_int_equal(in.croncount, 7 * id);
        assert_int_equal(in.lastcron, 1700000000 + id);
        assert_int_equal(in.lastcrongap, id);
    }
    memset(&in, 0, sizeof in);
    in.id = 11;
    in.croncount = 99;
    assert_false(vm_cron_figures_get(f, &in));
    assert_int_equal(in.croncount, 99);
}

/* The same figures again: the file is not rewritten; one moving: it is. */
static void rewritten_only_when_changed(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "s.cron"), *err = NULL;
    ino_t ino;
    int written;

    assert_int_equal(vm_cron_figures_save(path, table_with(p, 1, 5), &written,
                                          p, &err),
                     VM_OK);
    ino = tu_inode(path);
    assert_int_equal(vm_cron_figures_save(path, table_with(p, 1, 5), &written,
                                          p, &err),
                     VM_OK);
    assert_false(written);
    assert_int_equal(tu_inode(path), ino);
    assert_int_equal(vm_cron_figures_save(path, table_with(p, 2, 5), &written,
                                          p, &err),
                     VM_OK);
    assert_true(written);
    assert_int_not_equal(tu_inode(path), ino);
}

static void damaged_files_refused(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *err = NULL;
    const char *path = tu_path(p, dir, "s.cron"), *bad = tu_path(p, dir, "bad");
    vm_cron_figures *f;
    size_t size = 0, off, len;
    char *img, *copy;
    int written;

    assert_int_equal(vm_cron_figures_save(path, table_with(p, 3, 9), &written,
                                          p, &err),
                     VM_OK);
    img = tu_read(p, path, &size);
    copy = apr_palloc(p, size);
    for (off = 0; off < size; off++) {
        memcpy(copy, img, size);
        copy[off] ^= 0x10;
        tu_write(bad, copy, size);
        if (vm_cron_figures_load(&f, bad, p, &err) == VM_OK)
            fail_msg("byte %zu flipped: accepted", off);
    }
    for (len = 0; len < size; len++) {
        tu_write(bad, img, len);
        if (vm_cron_figures_load(&f, bad, p, &err) == VM_OK)
            fail_msg("truncated to %zu: accepted", len);
    }
    assert_int_equal(vm_cron_figures_load(&f, tu_path(p, dir, "none"), p, &err),
                     VM_ERR_IO);
}

/* vcron's run records: a new site inserted in id order, an existing one
 * updated in place; failures and timeouts counted apart. */
static void runs_recorded_per_site(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "runs"), *err = NULL;
    vm_cron_outcome ok = { 1700000000, 1500, 0, 0 },
                    bad = { 1700000100, 20, 3, 0 },
                    late = { 1700000200, 600000, -1, 1 };
    vm_cron_runs *r;
    const vm_cron_run *e;
    struct stat st;

    assert_int_equal(vm_cron_runs_load(&r, path, p, &err), VM_OK); /* none */
    assert_null(vm_cron_runs_get(r, 5));
    assert_int_equal(vm_cron_runs_record(path, 5, &ok, p, &err), VM_OK);
    assert_int_equal(vm_cron_runs_record(path, 2, &bad, p, &err), VM_OK);
    assert_int_equal(vm_cron_runs_record(path, 9, &ok, p, &err), VM_OK);
    assert_int_equal(vm_cron_runs_record(path, 5, &bad, p, &err), VM_OK);
    assert_int_equal(vm_cron_runs_record(path, 5, &late, p, &err), VM_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(vm_cron_runs_load(&r, path, p, &err), VM_OK);
    e = vm_cron_runs_get(r, 5);
    assert_non_null(e);
    assert_int_equal(e->runs, 3);
    assert_int_equal(e->failures, 1);
    assert_int_equal(e->timeouts, 1);
    assert_int_equal(e->last_start, 1700000200);
    assert_int_equal(e->last_duration_ms, 600000);
    assert_int_equal(e->last_exit, -1);
    assert_int_equal(e->last_timed_out, 1);
    e = vm_cron_runs_get(r, 2);
    assert_int_equal(e->runs, 1);
    assert_int_equal(e->failures, 1);
    assert_int_equal(e->last_exit, 3);
    assert_int_equal(vm_cron_runs_get(r, 9)->failures, 0);
    tu_write(path, "garbage", 7);
    assert_int_equal(vm_cron_runs_load(&r, path, p, &err), VM_ERR_DATA);
    assert_int_equal(vm_cron_runs_record(path, 5, &ok, p, &err), VM_ERR_DATA);
}

/* Two cron hosts' files: counts summed, the last run the newest start. */
static void runs_of_several_hosts_merged(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *err = NULL;
    const char *a = tu_path(p, dir, "runs.a"), *b = tu_path(p, dir, "runs.b");
    vm_cron_outcome ok = { 1700000000, 1500, 0, 0 },
                    bad = { 1700000100, 20, 3, 0 },
                    later = { 1700000300, 700, 0, 0 };
    vm_cron_runs *r;
    const vm_cron_run *e;

    assert_int_equal(vm_cron_runs_load_all(&r, tu_path(p, dir, "runs.*"), p,
                                           &err),
                     VM_OK); /* no host has written yet */
    assert_null(vm_cron_runs_get(r, 5));
    assert_int_equal(vm_cron_runs_record(a, 5, &ok, p, &err), VM_OK);
    assert_int_equal(vm_cron_runs_record(a, 5, &bad, p, &err), VM_OK);
    assert_int_equal(vm_cron_runs_record(b, 5, &later, p, &err), VM_OK);
    assert_int_equal(vm_cron_runs_record(b, 7, &bad, p, &err), VM_OK);
    assert_int_equal(vm_cron_runs_record(a, 0, &ok, p, &err), VM_OK);
    tu_write(tu_path(p, dir, "runs.c.tmp.0123456789ab"), "partial", 7);
    assert_int_equal(vm_cron_runs_load_all(&r, tu_path(p, dir, "runs.*"), p,
                                           &err),
                     VM_OK); /* the locks and the temporary file left out */
    e = vm_cron_runs_get(r, 5);
    assert_non_null(e);
    assert_int_equal(e->runs, 3);
    assert_int_equal(e->failures, 1);
    assert_int_equal(e->last_start, 1700000300); /* b ran it last, fine */
    assert_int_equal(e->last_exit, 0);
    assert_int_equal(e->last_duration_ms, 700);
    assert_int_equal(vm_cron_runs_get(r, 7)->failures, 1);
    assert_int_equal(vm_cron_runs_get(r, 0)->runs, 1); /* the master */
    /* one path, no pattern: that file alone */
    assert_int_equal(vm_cron_runs_load_all(&r, b, p, &err), VM_OK);
    assert_int_equal(vm_cron_runs_get(r, 5)->runs, 1);
    assert_null(vm_cron_runs_get(r, 0));
    /* a damaged file is skipped, the others still count */
    tu_write(tu_path(p, dir, "runs.d"), "garbage", 7);
    assert_int_equal(vm_cron_runs_load_all(&r, tu_path(p, dir, "runs.*"), p,
                                           &err),
                     VM_ERR_DATA);
    assert_int_equal(vm_cron_runs_get(r, 5)->runs, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(saved_read_back_by_id),
        TU_TEST(rewritten_only_when_changed),
        TU_TEST(damaged_files_refused),
        TU_TEST(runs_recorded_per_site),
        TU_TEST(runs_of_several_hosts_merged),
    };

    return TU_RUN(tests);
}
