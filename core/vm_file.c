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

vm_status vm_file_read(const char *path, size_t max, apr_pool_t *p,
                       char **data, size_t *len, const char **err)
{
    struct stat st;
    ssize_t n;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return io_error("cannot open", path, p, err);
    if (fstat(fd, &st) != 0 || (size_t)st.st_size > max) {
        close(fd);
        *err = apr_psprintf(p, "%s: larger than %" APR_SIZE_T_FMT " bytes",
                            path, (apr_size_t)max);
        return VM_ERR_IO;
    }
    *data = apr_palloc(p, (size_t)st.st_size + 1);
    while (got < (size_t)st.st_size
           && (n = read(fd, *data + got, (size_t)st.st_size - got)) > 0)
        got += (size_t)n;
    close(fd);
    if (got != (size_t)st.st_size)
        return io_error("cannot read", path, p, err);
    (*data)[got] = '\0';
    *len = got;
    return VM_OK;
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
