/* File-system helpers, see fsutil.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include "fsutil.h"

const char *vc_mkdirs(const char *dir, apr_pool_t *p)
{
    char *path = apr_pstrdup(p, dir);
    for (char *s = path + 1; ; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return apr_psprintf(p, "%s: %s", path, strerror(errno));
        *s = c;
        if (c == '\0')
            return NULL;
    }
}

const char *vc_mkdirs_for(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return NULL;
    return vc_mkdirs(apr_pstrndup(p, path, (apr_size_t)(slash - path)), p);
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

static int fsync_dir_of(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');
    const char *dir = !slash ? "." : slash == path ? "/"
                      : apr_pstrndup(p, path, (apr_size_t)(slash - path));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

const char *vc_write_atomic(const char *path, const char *data, size_t len,
                            mode_t mode, apr_pool_t *p)
{
    const char *err = vc_mkdirs_for(path, p);
    if (err)
        return err;
    const char *tmp = apr_psprintf(p, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return apr_psprintf(p, "%s: %s", tmp, strerror(errno));
    int bad = write_all(fd, data, len) != 0 || fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path) != 0 || fsync_dir_of(path, p) != 0) {
        err = apr_psprintf(p, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return err;
    }
    return NULL;
}
