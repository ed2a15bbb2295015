/* Dataroot trees: one walker on descriptors (no links followed, Moodle's
 * run-time files optionally left out) serving measure and copy; the
 * trusted way to a folder; SHA-256.  Removal: tree_remove.c. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include "files.h"
#include "interrupt.h"
#include "util.h"
#include "vm_text.h"

#define MAX_DEPTH 64
#define COPY_CHUNK 65536

/* Top-level folders of a dataroot that hold only run-time state. */
static const char *const runtime_dirs[] = {
    "sessions", "cache", "localcache", "temp", "trashdir", "lock", NULL
};

static int is_runtime(const char *name, int depth, int is_dir)
{
    size_t len = strlen(name);
    int i;

    if (!is_dir) /* locks; the CLI maintenance flag of the moment */
        return (len > 5 && strcmp(name + len - 5, ".lock") == 0)
            || (depth == 0 && strcmp(name, "climaintenance.html") == 0);
    for (i = 0; depth == 0 && runtime_dirs[i]; i++)
        if (strcmp(name, runtime_dirs[i]) == 0)
            return 1;
    return 0;
}

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* From the folder fd (taken), each name of the '/'-separated path, none
 * of them a link: the last one's descriptor, or -1 with errno. */
static int descend(int fd, char *path)
{
    char *name, *save;

    for (name = apr_strtok(path, "/", &save); name && fd >= 0;
         name = apr_strtok(NULL, "/", &save)) {
        int sub = openat(fd, name, DIR_FLAGS), e = errno;
        close(fd);
        errno = e;
        fd = sub;
    }
    return fd;
}

int vmc_open_parent(const char *path, const char *inside, const char **base,
                    apr_pool_t *p, const char **err)
{
    const char *slash = strrchr(path, '/'), *dir;
    char real_in[PATH_MAX], real_dir[PATH_MAX];
    size_t len;
    int fd;

    if (!slash || !slash[1] || !strcmp(slash + 1, ".")
        || !strcmp(slash + 1, "..")) {
        *err = apr_psprintf(p, "%s: not the path of a folder", path);
        return -1;
    }
    *base = slash + 1;
    dir = slash == path ? "/"
                        : apr_pstrndup(p, path, (apr_size_t)(slash - path));
    if (!inside) {
        if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            *err = apr_psprintf(p, "cannot open %s: %s", dir, strerror(errno));
        return fd;
    }
    if (!realpath(inside, real_in) || !realpath(dir, real_dir)) {
        *err = apr_psprintf(p, "cannot resolve %s: %s", dir, strerror(errno));
        return -1;
    }
    len = strcmp(real_in, "/") ? strlen(real_in) : 0;
    if (strncmp(real_dir, real_in, len)
        || (real_dir[len] != '/' && real_dir[len] != '\0')) {
        *err = apr_psprintf(p, "%s is not inside %s", path, inside);
        return -1;
    }
    fd = descend(open(real_in, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                 apr_pstrdup(p, real_dir + len));
    if (fd < 0)
        *err = apr_psprintf(p, "cannot open %s without following links: %s",
                            dir, strerror(errno));
    return fd;
}

/* One walker for measure and copy.  Each folder of the source is opened
 * once; out is the matching folder of the copy (-1 when measuring). */
typedef struct walk walk;
struct walk {
    int skip_runtime;
    /* Before a folder's entries: *sub gets the copy's folder. */
    int (*on_dir)(walk *w, int out, const char *name, const char *rel,
                  int *sub);
    /* After them (rc: how they went): closes sub; the result. */
    int (*dir_done)(walk *w, int sub, const char *rel, int rc);
    int (*on_file)(walk *w, int dirfd, int out, const char *name,
                   const char *rel, const struct stat *st);
    apr_pool_t *p;    /* scratch: one sub-pool per entry */
    apr_pool_t *keep; /* for the error message */
    const char *err;
    void *ctx;
    char *buf;   /* COPY_CHUNK bytes */
    uid_t owner; /* of the source's root */
    /* Each folder below the root as it is entered (or NULL). */
    void (*seen_dir)(walk *w, const struct stat *st);
    /* Each link, socket or fifo, never followed (or NULL). */
    void (*seen_other)(walk *w, const struct stat *st);
};

static int walk_fail(walk *w, const char *what, const char *rel)
{
    w->err = apr_psprintf(w->keep, "%s %s: %s", what,
                          *rel ? vm_text_visible(rel, w->keep) : ".",
                          strerror(errno));
    return -1;
}

/* What fstatat saw is not what was opened: the tenant swapped it. */
static int walk_changed(walk *w, const char *rel)
{
    w->err = apr_psprintf(w->keep,
                          "%s changed while being read; not "
                          "followed",
                          vm_text_visible(rel, w->keep));
    return -1;
}

static int walk_dir(walk *w, int dirfd, int out, const char *rel, int depth);

/* The folder name in dirfd, which fstatat saw as st: the same one, or
 * it changed under us. */
static int open_subdir(walk *w, int dirfd, const char *name, const char *rel,
                       const struct stat *st)
{
    int fd = openat(dirfd, name, DIR_FLAGS);
    struct stat now;

    if (fd < 0)
        return walk_fail(w, "cannot open", rel);
    if (fstat(fd, &now) != 0 || now.st_dev != st->st_dev
        || now.st_ino != st->st_ino) {
        close(fd);
        return walk_changed(w, rel);
    }
    return fd;
}

static int visit(walk *w, int dirfd, int out, const char *name, const char *rel,
                 int depth)
{
    const char *sub = *rel ? apr_pstrcat(w->p, rel, "/", name, NULL) : name;
    struct stat st;
    int fd, sub_out = -1, rc;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return walk_fail(w, "cannot stat", sub);
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
        if (w->seen_other) /* links, sockets, fifos: never copied */
            w->seen_other(w, &st);
        return 0;
    }
    if (w->skip_runtime && is_runtime(name, depth, S_ISDIR(st.st_mode)))
        return 0;
    if (S_ISREG(st.st_mode))
        return w->on_file(w, dirfd, out, name, sub, &st);
    if (depth >= MAX_DEPTH) {
        w->err = apr_psprintf(w->keep, "%s: nested too deeply",
                              vm_text_visible(sub, w->keep));
        return -1;
    }
    if ((fd = open_subdir(w, dirfd, name, sub, &st)) < 0)
        return -1;
    if (w->seen_dir)
        w->seen_dir(w, &st);
    if (w->on_dir && w->on_dir(w, out, name, sub, &sub_out) != 0) {
        close(fd);
        return -1;
    }
    rc = walk_dir(w, fd, sub_out, sub, depth + 1);
    return w->dir_done ? w->dir_done(w, sub_out, sub, rc) : rc;
}

/* Each entry's strings live in a sub-pool, so a big tree costs no more
 * memory than a deep one. */
static int walk_entry(walk *w, int dirfd, int out, const char *name,
                      const char *rel, int depth)
{
    apr_pool_t *parent = w->p;
    int rc;

    apr_pool_create(&w->p, parent);
    rc = visit(w, dirfd, out, name, rel, depth);
    apr_pool_destroy(w->p);
    w->p = parent;
    return rc;
}

/* Takes ownership of dirfd; entries are read through a duplicate. */
static int walk_dir(walk *w, int dirfd, int out, const char *rel, int depth)
{
    int rd = dup(dirfd);
    DIR *d = rd >= 0 ? fdopendir(rd) : NULL;
    struct dirent *e;
    int rc = 0;

    if (!d) {
        rc = walk_fail(w, "cannot read", rel);
        if (rd >= 0)
            close(rd);
        close(dirfd);
        return rc;
    }
    while (rc == 0 && !vmc_interrupted() && (errno = 0, e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            rc = walk_entry(w, dirfd, out, e->d_name, rel, depth);
    if (rc == 0 && vmc_interrupted()) {
        w->err = apr_pstrdup(w->keep, "interrupted");
        rc = -1;
    } else if (rc == 0 && errno) {
        rc = walk_fail(w, "cannot read", rel);
    }
    closedir(d);
    close(dirfd);
    return rc;
}

const char *vmc_folder_why(int dirfd, const char *name, int error)
{
    struct stat st;

    if ((error == ELOOP || error == ENOTDIR)
        && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return S_ISLNK(st.st_mode) ? "a symbolic link, not a folder"
                                   : "not a folder";
    return strerror(error);
}

/* The source's root: a folder, not a link to one. */
static int open_root(const char *root, apr_pool_t *p, const char **err)
{
    int fd = open(root, DIR_FLAGS);

    if (fd < 0)
        *err = apr_psprintf(p, "cannot open %s: %s", root,
                            vmc_folder_why(AT_FDCWD, root, errno));
    return fd;
}

static int walk_root(walk *w, const char *root, int out, const char **err)
{
    int fd = open_root(root, w->p, err);
    struct stat st;

    if (fd < 0)
        return -1;
    w->owner = fstat(fd, &st) == 0 ? st.st_uid : (uid_t)-1;
    if (walk_dir(w, fd, out, "", 0) != 0) {
        *err = w->err ? w->err : "failed";
        return -1;
    }
    return 0;
}

typedef struct {
    uint64_t bytes, files;
} totals;

static int count_file(walk *w, int dirfd, int out, const char *name,
                      const char *rel, const struct stat *st)
{
    totals *t = w->ctx;

    (void)dirfd, (void)out, (void)name, (void)rel;
    t->bytes += (uint64_t)st->st_size;
    t->files++;
    return 0;
}

int vmc_tree_measure(const char *root, int skip_runtime, uint64_t *bytes,
                     uint64_t *files, apr_pool_t *p, const char **err)
{
    totals t = { 0, 0 };
    walk w = { skip_runtime, NULL, NULL, count_file, p,    p,
               NULL,         &t,   NULL, 0,          NULL, NULL };
    int rc = walk_root(&w, root, -1, err);

    *bytes = t.bytes;
    *files = t.files;
    return rc;
}

/* Disk use as du counts it: the blocks of every folder and file. */
static void add_blocks(walk *w, const struct stat *st)
{
    ((totals *)w->ctx)->bytes += (uint64_t)st->st_blocks * 512;
}

static int count_blocks(walk *w, int dirfd, int out, const char *name,
                        const char *rel, const struct stat *st)
{
    (void)dirfd, (void)out, (void)name, (void)rel;
    add_blocks(w, st);
    ((totals *)w->ctx)->files++;
    return 0;
}

int vmc_tree_disk_use(const char *root, uint64_t *bytes, uint64_t *files,
                      apr_pool_t *p, const char **err)
{
    totals t = { 0, 0 };
    /* a link's own blocks too (du counts them), never what it reaches */
    walk w = { 0,  NULL, NULL, count_blocks, p,         p, NULL,
               &t, NULL, 0,    add_blocks,   add_blocks };
    struct stat st;
    int rc = walk_root(&w, root, -1, err);

    if (rc == 0 && lstat(root, &st) == 0)
        add_blocks(&w, &st);
    *bytes = t.bytes;
    *files = t.files;
    return rc;
}

/* Owner then mode, on the descriptor: chown may clear set-id bits. */
static int settle(const vmc_copy *c, int fd, mode_t mode)
{
    if (c->uid != (uid_t)-1 && fchown(fd, c->uid, c->gid) != 0)
        return -1;
    return fchmod(fd, mode);
}

/* A permission the source denies its own owner is denied to everyone. */
static mode_t file_mode(const vmc_copy *c, mode_t src)
{
    mode_t denied = ~src & 0700;

    return c->file_mode & ~(denied | denied >> 3 | denied >> 6);
}

/* A new folder name in out, only ours (0700) until dir_done. */
static int make_dir(int out, const char *name)
{
    int fd;

    if (mkdirat(out, name, 0700) != 0)
        return -1;
    if ((fd = openat(out, name, DIR_FLAGS)) < 0)
        return -1;
    return fd;
}

static int copy_dir(walk *w, int out, const char *name, const char *rel,
                    int *sub)
{
    if ((*sub = make_dir(out, name)) < 0)
        return walk_fail(w, "cannot create folder", rel);
    return 0;
}

/* The folder is complete: now it may be its owner's. */
static int copy_dir_done(walk *w, int sub, const char *rel, int rc)
{
    const vmc_copy *c = w->ctx;

    if (rc == 0 && settle(c, sub, c->dir_mode) != 0)
        rc = walk_fail(w, "cannot set the owner and mode of folder", rel);
    close(sub);
    return rc;
}

/* Copy bytes from in to out, hashing them and counting progress. */
static int copy_bytes(walk *w, int in, int out, EVP_MD_CTX *md, const char *rel,
                      uint64_t *total)
{
    const vmc_copy *c = w->ctx;
    char *buf = w->buf;
    ssize_t n;

    while (!vmc_interrupted() && (n = read(in, buf, COPY_CHUNK)) > 0) {
        ssize_t off = 0, wr;
        while (off < n && (wr = write(out, buf + off, (size_t)(n - off))) > 0)
            off += wr;
        if (off < n)
            return walk_fail(w, "cannot write", rel);
        EVP_DigestUpdate(md, buf, (size_t)n);
        *total += (uint64_t)n;
        if (c->progress)
            vmc_progress_add(c->progress, (uint64_t)n, 0);
    }
    if (vmc_interrupted()) {
        w->err = apr_pstrdup(w->keep, "interrupted");
        return -1;
    }
    return n < 0 ? walk_fail(w, "cannot read", rel) : 0;
}

static void hex_digest(EVP_MD_CTX *md, char hex[VMC_SHA256_HEX])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0, i;

    EVP_DigestFinal_ex(md, d, &len);
    for (i = 0; i < len && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The source file, opened without following a link nor blocking on a
 * fifo swapped in since fstatat: a regular file, or an error. */
static int open_source(walk *w, int dirfd, const char *name, const char *rel,
                       struct stat *st)
{
    int fd = openat(dirfd, name,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        return walk_fail(w, "cannot read", rel);
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return walk_changed(w, rel);
    }
    /* the tenant's link to a file it could not read itself */
    if (st->st_nlink > 1 && st->st_uid != w->owner) {
        close(fd);
        w->err = apr_psprintf(w->keep,
                              "%s is a hard link to a file of "
                              "another user (uid %ld); not copied",
                              vm_text_visible(rel, w->keep), (long)st->st_uid);
        return -1;
    }
    return fd;
}

static int copy_file(walk *w, int dirfd, int out, const char *name,
                     const char *rel, const struct stat *seen)
{
    const vmc_copy *c = w->ctx;
    const char *why;
    struct stat st;
    int in = open_source(w, dirfd, name, rel, &st);
    int dst = -1, rc = -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char hex[VMC_SHA256_HEX] = "";
    uint64_t size = 0;

    (void)seen;
    if (in < 0)
        rc = -1;
    else if ((dst = openat(out, name,
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0600))
             < 0)
        rc = walk_fail(w, "cannot create", rel);
    else if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
             && copy_bytes(w, in, dst, md, rel, &size) == 0) {
        hex_digest(md, hex);
        rc = settle(c, dst, file_mode(c, st.st_mode)) == 0
            ? 0
            : walk_fail(w, "cannot set the owner and mode of", rel);
        if (close(dst) != 0 && rc == 0)
            rc = walk_fail(w, "cannot write", rel);
        dst = -1;
    }
    if (rc == 0 && c->on_file
        && (why = c->on_file(c->ctx, rel, size, hex)) != NULL) {
        w->err = apr_pstrdup(w->keep, why);
        rc = -1;
    }
    if (rc == 0 && c->progress)
        vmc_progress_add(c->progress, 0, 1);
    if (in >= 0)
        close(in);
    if (dst >= 0)
        close(dst);
    EVP_MD_CTX_free(md);
    return rc;
}

/* The copy's root, made in its trusted parent and checked to be the one
 * we made (ours) before anything goes in. */
static int make_root(const char *dst, const vmc_copy *c, apr_pool_t *p,
                     const char **err)
{
    const char *base;
    int parent = vmc_open_parent(dst, c->inside, &base, p, err), fd = -1;
    struct stat st;

    if (parent < 0)
        return -1;
    if (mkdirat(parent, base, 0700) != 0) {
        *err = apr_psprintf(p, "cannot create %s: %s", dst, strerror(errno));
    } else {
        if (c->made)
            *c->made = 1;
        if ((fd = openat(parent, base, DIR_FLAGS)) < 0 || fstat(fd, &st) != 0
            || st.st_uid != geteuid()) {
            *err = apr_psprintf(p, "%s changed while being created", dst);
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
    }
    close(parent);
    return fd;
}

int vmc_tree_copy(const char *src, const char *dst, const vmc_copy *c,
                  apr_pool_t *p, const char **err)
{
    walk w = { c->skip_runtime,
               copy_dir,
               copy_dir_done,
               copy_file,
               p,
               p,
               NULL,
               (void *)c,
               apr_palloc(p, COPY_CHUNK),
               0,
               NULL,
               NULL };
    int out = make_root(dst, c, p, err), rc;

    if (out < 0)
        return -1;
    rc = walk_root(&w, src, out, err);
    if (rc == 0 && settle(c, out, c->dir_mode) != 0) {
        *err = apr_psprintf(p, "cannot set the owner and mode of %s: %s", dst,
                            strerror(errno));
        rc = -1;
    }
    close(out);
    return rc;
}

/* Hash a file of the walk and hand it to the caller's on_file. */
static int sum_file(walk *w, int dirfd, int out, const char *name,
                    const char *rel, const struct stat *seen)
{
    const vmc_copy *c = w->ctx;
    struct stat st;
    int in = open_source(w, dirfd, name, rel, &st), rc = 0;
    EVP_MD_CTX *md;
    char hex[VMC_SHA256_HEX] = "";
    uint64_t size = 0;
    ssize_t n;
    const char *why;

    (void)out, (void)seen;
    if (in < 0)
        return -1;
    md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    while (!vmc_interrupted() && (n = read(in, w->buf, COPY_CHUNK)) > 0) {
        EVP_DigestUpdate(md, w->buf, (size_t)n);
        size += (uint64_t)n;
    }
    if (n < 0 || vmc_interrupted())
        rc = vmc_interrupted() ? (w->err = "interrupted", -1)
                               : walk_fail(w, "cannot read", rel);
    hex_digest(md, hex);
    EVP_MD_CTX_free(md);
    close(in);
    if (rc == 0 && (why = c->on_file(c->ctx, rel, size, hex)) != NULL) {
        w->err = apr_pstrdup(w->keep, why);
        rc = -1;
    }
    return rc;
}

int vmc_tree_sums(const char *root, vmc_file_seen on_file, void *ctx,
                  apr_pool_t *p, const char **err)
{
    vmc_copy c;
    walk w = { 0,        NULL, NULL,
               sum_file, p,    p,
               NULL,     &c,   apr_palloc(p, COPY_CHUNK),
               0,        NULL, NULL };

    memset(&c, 0, sizeof c);
    c.on_file = on_file;
    c.ctx = ctx;
    return walk_root(&w, root, -1, err);
}

int vmc_sha256_file(const char *path, char hex[VMC_SHA256_HEX], apr_pool_t *p,
                    const char **err)
{
    char *buf = apr_palloc(p, COPY_CHUNK);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    EVP_MD_CTX *md;
    ssize_t n = 0;

    if (fd < 0) {
        *err = apr_psprintf(p, "%s: %s", path, strerror(errno));
        return -1;
    }
    md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    while ((n = read(fd, buf, COPY_CHUNK)) > 0)
        EVP_DigestUpdate(md, buf, (size_t)n);
    close(fd);
    hex_digest(md, hex);
    EVP_MD_CTX_free(md);
    if (n < 0) {
        *err = apr_psprintf(p, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
