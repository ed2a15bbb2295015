#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "vm_file.h"
#include "vm_instance.h"

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

vm_status vm_file_read(const char *path, size_t max, apr_pool_t *p, char **data,
                       size_t *len, const char **err)
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
        rc = read_all(fd, path, max,
                      S_ISREG(st.st_mode) ? (size_t)st.st_size : 4096, p, data,
                      len, err);
    }
    close(fd);
    return rc;
}

static const char *records_check(const char *data, size_t len,
                                 const char *magic, uint32_t version,
                                 size_t record, const char *what, apr_pool_t *p)
{
    const vm_records_header *h = (const vm_records_header *)data;

    if (len < sizeof *h || memcmp(h->magic, magic, 8) != 0)
        return apr_psprintf(p, "not a %s file", what);
    if (h->version != version)
        return apr_psprintf(p, "unsupported %s version", what);
    if ((len - sizeof *h) % record != 0
        || (len - sizeof *h) / record != h->count)
        return apr_psprintf(p, "%s file truncated or extended", what);
    return NULL;
}

vm_status vm_file_records_read(const char *path, const char *magic,
                               uint32_t version, size_t record, size_t max,
                               const char *what, apr_pool_t *p,
                               const void **records, uint32_t *count,
                               const char **err)
{
    const char *why;
    char *data;
    size_t len;
    vm_status st = vm_file_read(path, max, p, &data, &len, err);

    *records = NULL;
    *count = 0;
    if (st != VM_OK)
        return access(path, F_OK) != 0 && errno == ENOENT ? VM_OK : st;
    if ((why = records_check(data, len, magic, version, record, what, p))
        != NULL) {
        *err = apr_psprintf(p, "%s: %s", path, why);
        return VM_ERR_DATA;
    }
    /* the pool's copy is aligned for the records */
    *records = data + sizeof(vm_records_header);
    *count = ((const vm_records_header *)data)->count;
    return VM_OK;
}

int vm_file_write_all(int fd, const char *data, size_t len)
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

/* The directory of path and its last component, from p: "." for a bare
 * name. */
static void split_path(const char *path, apr_pool_t *p, const char **dir,
                       const char **base)
{
    const char *slash = strrchr(path, '/');

    *dir = slash
        ? (slash == path ? "/"
                         : apr_pstrndup(p, path, (apr_size_t)(slash - path)))
        : ".";
    *base = slash ? slash + 1 : path;
}

/* A temporary name beside base nobody can guess: base.tmp.<12 hex>. */
#define TMP_MARK ".tmp."
#define TMP_HEX 12

static const char *temp_name(const char *base, apr_pool_t *p)
{
    unsigned char r[TMP_HEX / 2];
    char hex[TMP_HEX + 1];
    unsigned i;

    if (apr_generate_random_bytes(r, sizeof r) != APR_SUCCESS)
        return NULL;
    for (i = 0; i < sizeof r; i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    return apr_pstrcat(p, base, TMP_MARK, hex, NULL);
}

/* Is name one of our temporary files for base? */
static int is_temp_of(const char *name, const char *base)
{
    size_t n = strlen(base), m = strlen(TMP_MARK);

    return strncmp(name, base, n) == 0 && strncmp(name + n, TMP_MARK, m) == 0
        && strlen(name + n + m) == TMP_HEX
        && strspn(name + n + m, "0123456789abcdef") == TMP_HEX;
}

/* A writer killed between creating its temporary file and renaming it
 * leaves the file behind.  One not written to for a while is no live
 * writer's: remove it (unlinkat removes a link, never its target). */
#define STALE_AFTER 600 /* seconds */

static void remove_stale_temps(int dfd, const char *base)
{
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    struct stat st;
    time_t now = time(NULL);

    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL)
        if (is_temp_of(e->d_name, base)
            && fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
            && now - st.st_mtime > STALE_AFTER)
            unlinkat(dfd, e->d_name, 0);
    closedir(d);
}

/* A new file in dfd, created by us (O_EXCL: never one planted there, nor
 * through a link), mode 0600 until its final mode is set. */
static int create_temp(int dfd, const char *base, apr_pool_t *p,
                       const char **tmp)
{
    int tries, fd = -1;

    for (tries = 0; tries < 8 && fd < 0; tries++) {
        if (!(*tmp = temp_name(base, p))) {
            errno = EIO;
            return -1;
        }
        fd = openat(dfd, *tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            return -1;
    }
    return fd;
}

/* The owner, group and mode the new file gets: those of like when it is
 * a regular file, else ours and mode.  A table reached through a link
 * lends its target's: they are only read, nothing is written there. */
static void final_attributes(int dfd, const char *base, const char *like,
                             int mode, struct stat *want, int *own)
{
    struct stat st;
    int found = !like  ? -1
        : like == base ? fstatat(dfd, base, &st, 0)
                       : stat(like, &st);

    *own = found == 0 && S_ISREG(st.st_mode);
    if (*own) {
        *want = st;
        want->st_mode &= 07777;
    } else {
        want->st_mode = (mode_t)mode;
    }
}

/* Give the temporary file its final owner and mode.  Only root may give a
 * file away: another writer keeps it, with the mode. */
static int set_attributes(int fd, const struct stat *want, int own)
{
    if (own && fchown(fd, want->st_uid, want->st_gid) != 0
        && (errno != EPERM || geteuid() == 0))
        return -1;
    return fchmod(fd, want->st_mode);
}

/* Keep the current file as backup: a second link, in the same directory
 * when backup is there. */
static int link_backup(int dfd, const char *dir, const char *base,
                       const char *backup, apr_pool_t *p)
{
    const char *bdir, *bbase;

    split_path(backup, p, &bdir, &bbase);
    if (strcmp(bdir, dir) != 0) {
        unlink(backup);
        return link(apr_pstrcat(p, dir, "/", base, NULL), backup);
    }
    unlinkat(dfd, bbase, 0);
    return linkat(dfd, base, dfd, bbase, 0);
}

/* The temporary file's content and attributes, on its descriptor. */
static vm_status write_temp(int fd, const void *data, size_t len,
                            const struct stat *want, int own, const char *tmp,
                            apr_pool_t *p, const char **err)
{
    if (vm_file_write_all(fd, data, len) != 0)
        return io_error("cannot write", tmp, p, err);
    if (set_attributes(fd, want, own) != 0)
        return io_error("cannot set the owner and mode of", tmp, p, err);
    if (fsync(fd) != 0)
        return io_error("cannot write", tmp, p, err);
    return VM_OK;
}

/* Everything happens in the directory's descriptor: a name planted there
 * (a link at the file's or at a temporary name) is never followed, and
 * the owner and mode are set on the descriptor, not on a path. */
static vm_status replace_in(int dfd, const char *path, const void *data,
                            size_t len, const char *like, int mode,
                            const char *backup, apr_pool_t *p, const char **err)
{
    const char *dir, *base, *tmp = NULL;
    struct stat want;
    int own, fd;
    vm_status st;

    split_path(path, p, &dir, &base);
    remove_stale_temps(dfd, base);
    final_attributes(dfd, base, like == path ? base : like, mode, &want, &own);
    if ((fd = create_temp(dfd, base, p, &tmp)) < 0)
        return io_error("cannot create a temporary file in", dir, p, err);
    st = write_temp(fd, data, len, &want, own, tmp, p, err);
    if (close(fd) != 0 && st == VM_OK)
        st = io_error("cannot write", tmp, p, err);
    if (st == VM_OK && backup && link_backup(dfd, dir, base, backup, p) != 0
        && errno != ENOENT)
        st = io_error("cannot keep backup", backup, p, err);
    if (st == VM_OK && renameat(dfd, tmp, dfd, base) != 0)
        st = io_error("cannot rename into", path, p, err);
    if (st != VM_OK)
        unlinkat(dfd, tmp, 0);
    else
        fsync(dfd);
    return st;
}

static vm_status replace(const char *path, const void *data, size_t len,
                         const char *like, int mode, const char *backup,
                         apr_pool_t *p, const char **err)
{
    const char *dir, *base;
    int dfd;
    vm_status st;

    split_path(path, p, &dir, &base);
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return io_error("cannot open directory", dir, p, err);
    st = replace_in(dfd, path, data, len, like, mode, backup, p, err);
    close(dfd);
    return st;
}

vm_status vm_file_replace(const char *path, const void *data, size_t len,
                          int mode, const char *backup, apr_pool_t *p,
                          const char **err)
{
    return replace(path, data, len, NULL, mode, backup, p, err);
}

vm_status vm_file_rewrite(const char *path, const void *data, size_t len,
                          const char *like, int mode, const char *backup,
                          apr_pool_t *p, const char **err)
{
    return replace(path, data, len, like ? like : path, mode, backup, p, err);
}

/* A link planted at the lock's name is refused, not followed. */
int vm_file_lock(const char *lockpath, int wait, apr_pool_t *p,
                 const char **err)
{
    /* Read-only: a child that inherits it (a site's cron) needs no more. */
    int fd = open(lockpath, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0) {
        if (errno == ELOOP)
            *err = apr_psprintf(p,
                                "lock %s is a symbolic link: refusing "
                                "to follow it",
                                lockpath);
        else
            io_error("cannot open lock", lockpath, p, err);
        return -1;
    }
    while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        if (errno == EINTR)
            continue;
        int busy = errno == EWOULDBLOCK;
        if (busy)
            *err = apr_psprintf(p, "%s is locked", lockpath);
        else
            io_error("cannot lock", lockpath, p, err);
        close(fd);
        return busy ? VM_FILE_LOCK_BUSY : -1;
    }
    return fd;
}

void vm_file_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* A directory on the way: see vm_file_dir_open. */
static const char *dir_trusted(int fd, int last, apr_pool_t *p,
                               const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return apr_psprintf(p, "%s: %s", path, strerror(errno));
    if (last ? st.st_uid != geteuid() || (st.st_mode & 022)
             : (st.st_uid != 0 && st.st_uid != geteuid())
                || ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)))
        return apr_psprintf(p, "%s must be %s and writable by nobody else",
                            path, last ? "ours" : "ours or root's");
    return NULL;
}

/* name in fd, created with mode if missing; a link is refused by name. */
static int open_step(int fd, const char *name, mode_t mode, apr_pool_t *p,
                     const char *sofar, const char **why)
{
    struct stat st;
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int next = openat(fd, name, flags);
    /* Another process may make it between the two: theirs is as good. */
    if (next < 0 && errno == ENOENT
        && (mkdirat(fd, name, mode) == 0 || errno == EEXIST))
        next = openat(fd, name, flags);
    if (next >= 0)
        return next;
    if ((errno == ENOTDIR || errno == ELOOP)
        && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        && S_ISLNK(st.st_mode))
        *why = apr_psprintf(p,
                            "%s is a symbolic link, not a directory: "
                            "refusing to follow it",
                            sofar);
    else
        *why = apr_psprintf(p, "%s: %s", sofar, strerror(errno));
    return -1;
}

int vm_file_dir_open(const char *dir, mode_t mode, apr_pool_t *p,
                     const char **why)
{
    char *rest = apr_pstrdup(p, dir), *save = NULL, *name;
    const char *sofar = "";
    if (dir[0] != '/' || vm_path_has_dotdot(dir)) {
        *why = apr_psprintf(p, "%s: give an absolute path without '..'", dir);
        return -1;
    }
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        *why = apr_psprintf(p, "/: %s", strerror(errno));
    for (name = strtok_r(rest, "/", &save); name && fd >= 0;
         name = strtok_r(NULL, "/", &save)) {
        sofar = apr_pstrcat(p, sofar, "/", name, NULL);
        int next = open_step(fd, name, mode, p, sofar, why);
        close(fd);
        fd = next;
        if (fd >= 0
            && (*why = dir_trusted(fd, save == NULL || *save == '\0', p, sofar))
                != NULL) {
            close(fd);
            fd = -1;
        }
    }
    return fd;
}

const char *vm_file_dir_make(const char *dir, apr_pool_t *p)
{
    const char *why = NULL;
    int fd = vm_file_dir_open(dir, 0755, p, &why);
    if (fd >= 0)
        close(fd);
    return why;
}

int vm_file_log_open(int dir_fd, const char *dir, const char *name,
                     vm_file_log_mode mode, long rotate_at, apr_pool_t *p,
                     const char **why)
{
    int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC
        | (mode == VM_FILE_LOG_TRUNCATE ? O_TRUNC : O_APPEND);
    struct stat st;
    int fd;

    /* On the directory's descriptor: nothing on the way is followed. */
    if (mode == VM_FILE_LOG_APPEND && rotate_at > 0
        && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        && st.st_size >= rotate_at
        && renameat(dir_fd, name, dir_fd, apr_pstrcat(p, name, ".1", NULL))
            != 0) {
        *why = apr_psprintf(p, "log %s/%s: rotate: %s", dir, name,
                            strerror(errno));
        return -1;
    }
    if ((fd = openat(dir_fd, name, flags, 0640)) < 0)
        *why = apr_psprintf(p, "log %s/%s: %s", dir, name, strerror(errno));
    return fd;
}
