/* vm_file_read: whole files, pipes, and the size bound. */
#include "testutil.h"
#include <sys/wait.h>
#include "vm_file.h"

static void regular_files(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *err;
    const char *empty = tu_path(p, dir, "empty"), *full = tu_path(p, dir, "f");
    char *data;
    size_t len;

    tu_write_text(empty, "");
    assert_int_equal(vm_file_read(empty, 10, p, &data, &len, &err), VM_OK);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    tu_write_text(full, "0123456789");
    assert_int_equal(vm_file_read(full, 10, p, &data, &len, &err), VM_OK);
    assert_int_equal(len, 10);
    assert_string_equal(data, "0123456789");
    assert_int_equal(vm_file_read(full, 9, p, &data, &len, &err), VM_ERR_IO);
    assert_non_null(strstr(err, "larger than 9 bytes"));
    assert_int_equal(vm_file_read(tu_path(p, dir, "none"), 9, p, &data, &len,
                                  &err), VM_ERR_IO);
    assert_non_null(strstr(err, "cannot open"));
}

/* A pipe has no size: read to its end, and no further than max. */
static const char *through_pipe(apr_pool_t *p, size_t bytes, size_t max,
                                size_t *len, vm_status *st)
{
    const char *path, *err = NULL;
    char *data = NULL, *text = apr_palloc(p, bytes + 1);
    int fds[2];
    pid_t pid;

    memset(text, 'a', bytes);
    text[bytes] = '\0';
    assert_int_equal(pipe(fds), 0);
    if ((pid = fork()) == 0) {
        close(fds[0]);
        if (write(fds[1], text, bytes) != (ssize_t)bytes)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    path = apr_psprintf(p, "/proc/self/fd/%d", fds[0]);
    *st = vm_file_read(path, max, p, &data, len, &err);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return *st == VM_OK ? data : err;
}

static void pipes(void **state)
{
    apr_pool_t *p = *state;
    size_t len = 0;
    vm_status st;
    const char *got;

    got = through_pipe(p, 20000, 65536, &len, &st);
    assert_int_equal(st, VM_OK);
    assert_int_equal(len, 20000);
    assert_int_equal(strspn(got, "a"), 20000);
    got = through_pipe(p, 3, 10, &len, &st);
    assert_int_equal(st, VM_OK);
    assert_string_equal(got, "aaa");
    got = through_pipe(p, 11, 10, &len, &st);
    assert_int_equal(st, VM_ERR_IO);
    assert_non_null(strstr(got, "larger than 10 bytes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(regular_files),
        TU_TEST(pipes),
    };

    return TU_RUN(tests);
}
