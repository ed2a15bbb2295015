/* vm_file_read: whole files, pipes, and the size bound; vm_file_replace
 * and vm_file_rewrite: nothing planted in the directory is followed, the
 * modes and owners they promise; vm_file_lock refuses a link. */
#include "testutil.h"
#include <dirent.h>
#include <fcntl.h>
#include <utime.h>
#include <sys/stat.h>
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
                                  &err),
                     VM_ERR_IO);
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

/* How many entries of dir start with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode;
}

/* A link at the file's name is replaced, its target left alone; the new
 * file has exactly the mode asked for, whatever the umask. */
static void replace_never_follows_a_link(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *err;
    const char *target = tu_path(p, dir, "target"),
               *path = tu_path(p, dir, "f");
    mode_t old = umask(0);

    tu_write_text(target, "precious");
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(vm_file_replace(path, "new", 3, 0600, NULL, p, &err),
                     VM_OK);
    umask(old);
    assert_string_equal(tu_read(p, target, NULL), "precious");
    assert_true(S_ISREG(mode_of(path)));
    assert_int_equal(mode_of(path) & 07777, 0600);
    assert_string_equal(tu_read(p, path, NULL), "new");
    assert_int_equal(count_prefixed(dir, "f.tmp."), 0);
}

/* Our temporaries left by a killed writer go once old; a fresh one (a
 * live writer's) stays, and so does any name not ours. */
static void replace_removes_stale_temporaries(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *err;
    const char *stale = tu_path(p, dir, "f.tmp.0123456789ab");
    const char *fresh = tu_path(p, dir, "f.tmp.ba9876543210");
    const char *other = tu_path(p, dir, "f.tmp.4242");
    struct utimbuf long_ago = { 1000000000, 1000000000 };

    tu_write_text(stale, "x");
    tu_write_text(fresh, "x");
    tu_write_text(other, "x");
    assert_int_equal(utime(stale, &long_ago), 0);
    assert_int_equal(utime(other, &long_ago), 0);
    assert_int_equal(vm_file_replace(tu_path(p, dir, "f"), "new", 3, 0600, NULL,
                                     p, &err),
                     VM_OK);
    assert_false(tu_exists(stale));
    assert_true(tu_exists(fresh));
    assert_true(tu_exists(other));
}

/* A rewrite keeps the file's mode, and its owner when root writes; a new
 * file gets the mode given; like lends its attributes to another file. */
static void rewrite_keeps_owner_and_mode(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *err;
    const char *path = tu_path(p, dir, "table"), *beside = tu_path(p, dir, "b");
    struct stat st;

    tu_write_text(path, "old");
    assert_int_equal(chmod(path, 0640), 0);
    if (geteuid() == 0)
        assert_int_equal(chown(path, 4242, 4343), 0);
    assert_int_equal(vm_file_rewrite(path, "new", 3, NULL, 0600,
                                     tu_path(p, dir, "table.bak"), p, &err),
                     VM_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    if (geteuid() == 0)
        assert_true(st.st_uid == 4242 && st.st_gid == 4343);
    assert_string_equal(tu_read(p, path, NULL), "new");
    assert_string_equal(tu_read(p, tu_path(p, dir, "table.bak"), NULL), "old");
    assert_int_equal(vm_file_rewrite(beside, "b", 1, path, 0600, NULL, p, &err),
                     VM_OK);
    assert_int_equal(mode_of(beside) & 07777, 0640);
    assert_int_equal(vm_file_rewrite(tu_path(p, dir, "new"), "n", 1, NULL, 0600,
                                     NULL, p, &err),
                     VM_OK);
    assert_int_equal(mode_of(tu_path(p, dir, "new")) & 07777, 0600);
}

/* A table reached through a link: the link is replaced by the new file
 * (its target never written), which takes the target's mode. */
static void rewrite_through_a_link_writes_beside_it(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *err;
    const char *target = tu_path(p, dir, "target"),
               *path = tu_path(p, dir, "t");

    tu_write_text(target, "old");
    assert_int_equal(chmod(target, 0640), 0);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(vm_file_rewrite(path, "new", 3, NULL, 0600, NULL, p, &err),
                     VM_OK);
    assert_string_equal(tu_read(p, target, NULL), "old");
    assert_true(S_ISREG(mode_of(path)));
    assert_int_equal(mode_of(path) & 07777, 0640);
}

static void lock_refuses_a_link(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *err = NULL;
    const char *target = tu_path(p, dir, "target");
    const char *lock = tu_path(p, dir, "f.lock");
    int fd;

    tu_write_text(target, "precious");
    assert_int_equal(symlink(target, lock), 0);
    assert_int_equal(vm_file_lock(lock, 0, p, &err), -1);
    assert_non_null(strstr(err, "is a symbolic link"));
    assert_int_equal(unlink(lock), 0);
    fd = vm_file_lock(lock, 0, p, &err);
    assert_true(fd >= 0);
    assert_int_equal(mode_of(lock) & 077, 0); /* created 0600 */
    assert_int_equal(vm_file_lock(lock, 0, p, &err), VM_FILE_LOCK_BUSY);
    assert_non_null(strstr(err, "is locked"));
    vm_file_unlock(fd);
    fd = vm_file_lock(lock, 0, p, &err);
    assert_true(fd >= 0);
    vm_file_unlock(fd);
}

/* A site's run log: appended to (renamed to .1 once it holds rotate_at
 * bytes) or started afresh; never through a link. */
static void log_open_appends_truncates_rotates(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *why = NULL;
    const char *log = tu_path(p, dir, "site.log");
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;
    size_t len;

    assert_true(d >= 0);
    tu_write_text(log, "one\n");
    fd = vm_file_log_open(d, dir, "site.log", VM_FILE_LOG_APPEND, 0, p, &why);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "two\n", 4), 4);
    close(fd);
    assert_string_equal(tu_read(p, log, &len), "one\ntwo\n");
    fd = vm_file_log_open(d, dir, "site.log", VM_FILE_LOG_APPEND, 8, p, &why);
    assert_true(fd >= 0);
    close(fd);
    assert_string_equal(tu_read(p, tu_path(p, dir, "site.log.1"), &len),
                        "one\ntwo\n");
    assert_string_equal(tu_read(p, log, &len), "");
    tu_write_text(log, "old run\n");
    fd = vm_file_log_open(d, dir, "site.log", VM_FILE_LOG_TRUNCATE, 0, p, &why);
    assert_true(fd >= 0);
    close(fd);
    assert_string_equal(tu_read(p, log, &len), "");
    assert_int_equal(symlink("/etc/passwd", tu_path(p, dir, "link.log")), 0);
    assert_int_equal(vm_file_log_open(d, dir, "link.log", VM_FILE_LOG_APPEND, 0,
                                      p, &why),
                     -1);
    assert_non_null(strstr(why, "link.log"));
    close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(regular_files),
        TU_TEST(pipes),
        TU_TEST(replace_never_follows_a_link),
        TU_TEST(replace_removes_stale_temporaries),
        TU_TEST(rewrite_keeps_owner_and_mode),
        TU_TEST(rewrite_through_a_link_writes_beside_it),
        TU_TEST(lock_refuses_a_link),
        TU_TEST(log_open_appends_truncates_rotates),
    };

    return TU_RUN(tests);
}
