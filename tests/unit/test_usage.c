/* The usage file (core/vm_usage.c): entries recorded and read back by id,
 * a later run keeping the sites it did not measure, damage refused; the
 * quota levels at their edges. */
#include "testutil.h"
#include <sys/stat.h>
#include "vm_usage.h"

static vm_usage_entry entry(int64_t id, uint64_t disk, uint64_t quota)
{
    vm_usage_entry e = { id, disk, 1000, quota, 1700000000 + id };
    return e;
}

static void recorded_and_merged_by_id(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "usage"), *err = NULL;
    vm_usage_entry first[] = { entry(30, 3, 0), entry(10, 1, 5000),
                               entry(20, 2, 0) };
    vm_usage_entry later[] = { entry(20, 22, 9), entry(5, 55, 0) };
    const vm_usage_entry *e;
    struct stat st;
    vm_usage *u;

    assert_int_equal(vm_usage_load(&u, path, p, &err), VM_OK); /* none */
    assert_null(vm_usage_get(u, 10));
    assert_int_equal(vm_usage_record(path, first, 3, p, &err), VM_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(vm_usage_record(path, later, 2, p, &err), VM_OK);
    assert_int_equal(vm_usage_load(&u, path, p, &err), VM_OK);
    e = vm_usage_get(u, 10);
    assert_non_null(e);
    assert_int_equal(e->quota_bytes, 5000);
    assert_int_equal(vm_usage_used(e), 1001);
    assert_int_equal(e->measured, 1700000010);
    assert_int_equal(vm_usage_get(u, 20)->dataroot_bytes, 22);
    assert_int_equal(vm_usage_get(u, 30)->dataroot_bytes, 3);
    assert_int_equal(vm_usage_get(u, 5)->dataroot_bytes, 55);
    assert_null(vm_usage_get(u, 15));
    assert_int_equal(vm_usage_get(u, 20)->quota_bytes, 9);
}

static void damaged_files_refused(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "usage"), *err = NULL;
    vm_usage_entry one = entry(1, 1, 0);
    vm_usage *u;
    size_t len = 0;
    char *data;

    assert_int_equal(vm_usage_record(path, &one, 1, p, &err), VM_OK);
    data = tu_read(p, path, &len);
    tu_write(path, data, len - 1);
    assert_int_equal(vm_usage_load(&u, path, p, &err), VM_ERR_DATA);
    assert_non_null(strstr(err, "truncated"));
    tu_write(path, "garbage", 7);
    assert_int_equal(vm_usage_load(&u, path, p, &err), VM_ERR_DATA);
    assert_int_equal(vm_usage_record(path, &one, 1, p, &err), VM_ERR_DATA);
}

static void levels_at_their_edges(void **state)
{
    int pc;

    (void)state;
    assert_int_equal(vm_usage_level_of(500, 0, &pc), VM_USAGE_NO_QUOTA);
    assert_int_equal(vm_usage_level_of(84, 100, &pc), VM_USAGE_OK);
    assert_int_equal(pc, 84);
    assert_int_equal(vm_usage_level_of(85, 100, &pc), VM_USAGE_WARNING);
    assert_int_equal(vm_usage_level_of(100, 100, &pc), VM_USAGE_WARNING);
    assert_int_equal(pc, 100);
    assert_int_equal(vm_usage_level_of(101, 100, &pc), VM_USAGE_OVER);
    assert_int_equal(vm_usage_level_of(UINT64_MAX, 1, &pc), VM_USAGE_OVER);
    assert_int_equal(pc, 1000000000);
    assert_string_equal(vm_usage_level_name(VM_USAGE_WARNING), "warning");
    assert_string_equal(vm_usage_level_name(VM_USAGE_OVER), "over");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(recorded_and_merged_by_id),
        TU_TEST(damaged_files_refused),
        TU_TEST(levels_at_their_edges),
    };

    return TU_RUN(tests);
}
