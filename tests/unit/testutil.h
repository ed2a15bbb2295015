/* Shared helpers of the cmocka unit tests: an APR pool per test, real
 * temporary directories, whole-file reads and writes, and a valid row to
 * start from.  Header only: each test program is one .c file. */
#ifndef VM_TESTUTIL_H
#define VM_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "vm_instance.h"

/* Each test gets a fresh pool in *state, destroyed after it. */
static inline int tu_setup(void **state)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        return -1;
    *state = p;
    return 0;
}

static inline int tu_teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

#define TU_TEST(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

/* Run a group with APR initialised, and leave nothing behind for
 * valgrind. */
#define TU_RUN(tests) \
    tu_run_group(#tests, tests, sizeof tests / sizeof tests[0])

static inline int tu_run_group(const char *name, const struct CMUnitTest *tests,
                               size_t n)
{
    int failed;

    apr_initialize();
    failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    apr_terminate();
    return failed;
}

static inline int tu_rm_entry(const char *path, const struct stat *st, int flag,
                              struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static inline apr_status_t tu_rm_tree(void *dir)
{
    nftw(dir, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return APR_SUCCESS;
}

/* A new directory under $TMPDIR (or /tmp), readable by every user,
 * removed with everything in it when p is destroyed. */
static inline const char *tu_tmpdir(apr_pool_t *p)
{
    const char *base = getenv("TMPDIR");
    char *dir = apr_pstrcat(p, base && *base ? base : "/tmp", "/vmunit.XXXXXX",
                            NULL);

    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    apr_pool_cleanup_register(p, dir, tu_rm_tree, apr_pool_cleanup_null);
    return dir;
}

static inline const char *tu_path(apr_pool_t *p, const char *dir,
                                  const char *name)
{
    return apr_pstrcat(p, dir, "/", name, NULL);
}

static inline void tu_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static inline void tu_write_text(const char *path, const char *text)
{
    tu_write(path, text, strlen(text));
}

/* Whole file from p, NUL-terminated; NULL when it cannot be opened. */
static inline char *tu_read(apr_pool_t *p, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;

    if (!f)
        return NULL;
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    buf = apr_palloc(p, (size_t)size + 1);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)size;
    return buf;
}

static inline int tu_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* A replaced file gets a new inode: proof a writer wrote, or did not. */
static inline ino_t tu_inode(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

/* A row that passes every rule: id, https://site<id>.example.edu/ and a
 * dataroot of its own; tests change one column at a time. */
static inline void tu_valid_row(vm_row *row, long long id, apr_pool_t *p)
{
    apr_int64_t n = (apr_int64_t)id; /* apr_psprintf has no %lld */

    memset(row, 0, sizeof *row);
    vm_row_set(row, VM_F_ID, apr_psprintf(p, "%" APR_INT64_T_FMT, n));
    vm_row_set(row, VM_F_NAME, apr_psprintf(p, "Site %" APR_INT64_T_FMT, n));
    vm_row_set(row, VM_F_SHORTNAME,
               apr_psprintf(p, "site%" APR_INT64_T_FMT, n));
    vm_row_set(row, VM_F_VHOSTNAME,
               apr_psprintf(p, "https://site%" APR_INT64_T_FMT ".example.edu/",
                            n));
    vm_row_set(row, VM_F_VDBTYPE, "pgsql");
    vm_row_set(row, VM_F_VDBHOST, "db.example.edu");
    vm_row_set(row, VM_F_VDBLOGIN, "moodle");
    vm_row_set(row, VM_F_VDBPASS, "secret");
    vm_row_set(row, VM_F_VDBNAME,
               apr_psprintf(p, "moodle%" APR_INT64_T_FMT, n));
    vm_row_set(row, VM_F_VDBPREFIX, "mdl_");
    vm_row_set(row, VM_F_VDATAPATH,
               apr_psprintf(p, "/var/moodledata/site%" APR_INT64_T_FMT, n));
}

/* Rows as vm_table_build and vm_source_load hand them over. */
static inline apr_array_header_t *tu_rows(apr_pool_t *p)
{
    return apr_array_make(p, 8, sizeof(vm_row));
}

static inline vm_row *tu_push_valid(apr_array_header_t *rows, long long id,
                                    apr_pool_t *p)
{
    vm_row *row = apr_array_push(rows);

    tu_valid_row(row, id, p);
    return row;
}

#endif
