#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include "vm_file.h"

static vm_status io_error(const char *what, const char *path, apr_pool_t *p,
                          const char **err)
{
    *err = apr_psprintf(p, "%s %s: %s", what, path, strerror(errno));
    return VM_ERR_IO;
}

static vm_status too_large(const char *path, size_t max, apr_pool_t *p,
                           const char **err)
{
    *err = apr_psprintf(p, "%s: larger than %" APR_SIZE_T_FMT " bytes", path,
                        (apr_size_t)max);
    return VM_ERR_IO;
}

/* One read, again after a signal. */
static ssize_t read_some(int fd, char *buf, size_t n)
{
    ssize_t got;

    while ((got = read(fd, buf, n)) < 0 && errno == EINTR)
        ;
    return got;
}

/* To the end of the file, not to the size fstat gave: a pipe or a file in
 * /proc has none, a file may grow.  The buffer is sized by hint; when it
 * is full one byte is read to see whether the end came, so a regular file
 * is read without a copy. */
static vm_status read_all(int fd, const char *path, size_t max, size_t hint,
                          apr_pool_t *p, char **data, size_t *len,
                          const char **err)
{
    size_t cap = hint < max ? hint : max, got = 0;
    char *buf = apr_palloc(p, cap + 1), *bigger, extra;
    ssize_t n;

    for (;;) {
        if (got < cap)
            n = read_some(fd, buf + got, cap - got);
        else if ((n = read_some(fd, &extra, 1)) > 0) {
            if (cap == max)
                return too_large(path, max, p, err);
            cap = cap < max / 2 ? (cap ? cap * 2 : 4096) : max;
            if (cap > max)
                cap = max;
            bigger = apr_palloc(p, cap + 1);
            memcpy(bigger, buf, got);
            buf = bigger;
            buf[got] = extra;
        }
        if (n < 0)
            return io_error("cannot read", path, p, err);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return VM_OK;
}

vm_status vm_file_read(const char *path, size_t max, apr_pool_t *p,
                       char **data, size_t *len, const char **err)
{
    struct stat st;
    vm_status rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return io_error("cannot open", path, p, err);
    if (fstat(fd, &st) != 0) {
        rc = io_error("cannot stat", path, p, err);
    } else if (S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
        rc = too_large(path, max, p, err);
    } else {
        /* a regular file's size, read plus one probe for its end */
        rc = read_all(fd, path, max, S_ISREG(st.st_mode)
                      ? (size_t)st.st_size : 4096, p, data, len, err);
    }
    close(fd);
    return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void sync_dir_of(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');
    const char *dir = slash ? (slash == path ? "/"
                               : apr_pstrndup(p, path, (apr_size_t)(slash - path)))
                            : ".";
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

vm_status vm_file_replace(const char *path, const void *data, size_t len,
                          int mode, const char *backup, apr_pool_t *p,
                          const char **err)
{
    const char *tmp = apr_psprintf(p, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    vm_status st;

    if (fd < 0)
        return io_error("cannot create", tmp, p, err);
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        st = io_error("cannot write", tmp, p, err);
        close(fd);
        unlink(tmp);
        return st;
    }
    if (close(fd) != 0) {
        st = io_error("cannot write", tmp, p, err);
        unlink(tmp);
        return st;
    }
    if (backup) {
        unlink(backup);
        if (link(path, backup) != 0 && errno != ENOENT) {
            st = io_error("cannot keep backup", backup, p, err);
            unlink(tmp);
            return st;
        }
    }
    if (rename(tmp, path) != 0) {
        st = io_error("cannot rename into", path, p, err);
        unlink(tmp);
        return st;
    }
    sync_dir_of(path, p);
    return VM_OK;
}

int vm_file_lock(const char *lockpath, int wait, apr_pool_t *p,
                 const char **err)
{
    int fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        io_error("cannot open lock", lockpath, p, err);
        return -1;
    }
    while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK)
            *err = apr_psprintf(p, "%s is locked", lockpath);
        else
            io_error("cannot lock", lockpath, p, err);
        close(fd);
        return -1;
    }
    return fd;
}

void vm_file_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
