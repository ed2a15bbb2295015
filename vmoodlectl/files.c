/* Dataroot trees: one walker (no links followed, Moodle's run-time files
 * optionally left out) serving measure and copy; removal; SHA-256. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include "files.h"
#include "interrupt.h"
#include "util.h"

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

    if (!is_dir)
        return len > 5 && strcmp(name + len - 5, ".lock") == 0;
    for (i = 0; depth == 0 && runtime_dirs[i]; i++)
        if (strcmp(name, runtime_dirs[i]) == 0)
            return 1;
    return 0;
}

typedef struct walk walk;
struct walk {
    int skip_runtime;
    int (*on_dir)(walk *w, const char *rel);
    int (*on_file)(walk *w, int dirfd, const char *name, const char *rel,
                   const struct stat *st);
    apr_pool_t *p;        /* scratch: one sub-pool per entry */
    apr_pool_t *keep;     /* for the error message */
    const char *err;
    void *ctx;
    char *buf;            /* COPY_CHUNK bytes */
};

static int walk_fail(walk *w, const char *what, const char *rel)
{
    w->err = apr_psprintf(w->keep, "%s %s: %s", what, *rel ? rel : ".",
                          strerror(errno));
    return -1;
}

static int walk_dir(walk *w, int dirfd, const char *rel, int depth);

static int visit(walk *w, int dirfd, const char *name, const char *rel,
                 int depth)
{
    const char *sub = *rel ? apr_pstrcat(w->p, rel, "/", name, NULL) : name;
    struct stat st;
    int fd;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return walk_fail(w, "cannot stat", sub);
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return 0;              /* links, sockets, fifos: never copied */
    if (w->skip_runtime && is_runtime(name, depth, S_ISDIR(st.st_mode)))
        return 0;
    if (S_ISREG(st.st_mode))
        return w->on_file(w, dirfd, name, sub, &st);
    if (depth >= MAX_DEPTH) {
        w->err = apr_psprintf(w->keep, "%s: nested too deeply", sub);
        return -1;
    }
    if (w->on_dir && w->on_dir(w, sub) != 0)
        return -1;
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return walk_fail(w, "cannot open", sub);
    return walk_dir(w, fd, sub, depth + 1);
}

/* Each entry's strings live in a sub-pool, so a big tree costs no more
 * memory than a deep one. */
static int walk_entry(walk *w, int dirfd, const char *name, const char *rel,
                      int depth)
{
    apr_pool_t *parent = w->p;
    int rc;

    apr_pool_create(&w->p, parent);
    rc = visit(w, dirfd, name, rel, depth);
    apr_pool_destroy(w->p);
    w->p = parent;
    return rc;
}

/* Takes ownership of dirfd. */
static int walk_dir(walk *w, int dirfd, const char *rel, int depth)
{
    DIR *d = fdopendir(dirfd);
    struct dirent *e;
    int rc = 0;

    if (!d) {
        close(dirfd);
        return walk_fail(w, "cannot read", rel);
    }
    while (rc == 0 && !vmc_interrupted() && (errno = 0, e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            rc = walk_entry(w, dirfd, e->d_name, rel, depth);
    if (rc == 0 && vmc_interrupted()) {
        w->err = apr_pstrdup(w->keep, "interrupted");
        rc = -1;
    } else if (rc == 0 && errno) {
        rc = walk_fail(w, "cannot read", rel);
    }
    closedir(d);
    return rc;
}

static int walk_root(walk *w, const char *root, const char **err)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) {
        *err = apr_psprintf(w->p, "cannot open %s: %s", root, strerror(errno));
        return -1;
    }
    if (walk_dir(w, fd, "", 0) != 0) {
        *err = w->err ? w->err : "failed";
        return -1;
    }
    return 0;
}

typedef struct {
    uint64_t bytes, files;
} totals;

static int count_file(walk *w, int dirfd, const char *name, const char *rel,
                      const struct stat *st)
{
    totals *t = w->ctx;

    (void)dirfd, (void)name, (void)rel;
    t->bytes += (uint64_t)st->st_size;
    t->files++;
    return 0;
}

int vmc_tree_measure(const char *root, int skip_runtime, uint64_t *bytes,
                     uint64_t *files, apr_pool_t *p, const char **err)
{
    totals t = {0, 0};
    walk w = {skip_runtime, NULL, count_file, p, p, NULL, &t, NULL};
    int rc = walk_root(&w, root, err);

    *bytes = t.bytes;
    *files = t.files;
    return rc;
}

typedef struct {
    const vmc_copy *c;
    const char *dst;
} copy_ctx;

static int set_owner(const copy_ctx *cc, const char *path, int fd)
{
    if (cc->c->uid == (uid_t)-1)
        return 0;
    return fd >= 0 ? fchown(fd, cc->c->uid, cc->c->gid)
                   : lchown(path, cc->c->uid, cc->c->gid);
}

static int copy_dir(walk *w, const char *rel)
{
    const copy_ctx *cc = w->ctx;
    const char *path = apr_pstrcat(w->p, cc->dst, "/", rel, NULL);

    if (mkdir(path, cc->c->dir_mode) != 0 || chmod(path, cc->c->dir_mode)
        || set_owner(cc, path, -1) != 0)
        return walk_fail(w, "cannot create folder", path);
    return 0;
}

/* Copy bytes from in to out, hashing them and counting progress. */
static int copy_bytes(walk *w, int in, int out, EVP_MD_CTX *md,
                      const char *rel)
{
    const copy_ctx *cc = w->ctx;
    char *buf = w->buf;
    ssize_t n;

    while (!vmc_interrupted() && (n = read(in, buf, COPY_CHUNK)) > 0) {
        ssize_t off = 0, wr;
        while (off < n && (wr = write(out, buf + off, (size_t)(n - off))) > 0)
            off += wr;
        if (off < n)
            return walk_fail(w, "cannot write", rel);
        EVP_DigestUpdate(md, buf, (size_t)n);
        if (cc->c->progress)
            vmc_progress_add(cc->c->progress, (uint64_t)n, 0);
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

static int copy_file(walk *w, int dirfd, const char *name, const char *rel,
                     const struct stat *st)
{
    const copy_ctx *cc = w->ctx;
    const char *path = apr_pstrcat(w->p, cc->dst, "/", rel, NULL), *why;
    int in = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int out = -1, rc = -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char hex[VMC_SHA256_HEX] = "";

    if (in < 0)
        rc = walk_fail(w, "cannot read", rel);
    else if ((out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                         | O_CLOEXEC, cc->c->file_mode)) < 0
             || fchmod(out, cc->c->file_mode) || set_owner(cc, path, out))
        rc = walk_fail(w, "cannot create", path);
    else if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
             && copy_bytes(w, in, out, md, rel) == 0) {
        hex_digest(md, hex);
        rc = close(out) == 0 ? 0 : walk_fail(w, "cannot write", path);
        out = -1;
    }
    if (rc == 0 && cc->c->on_file
        && (why = cc->c->on_file(cc->c->ctx, rel, (uint64_t)st->st_size,
                                 hex)) != NULL) {
        w->err = apr_pstrdup(w->keep, why);
        rc = -1;
    }
    if (rc == 0 && cc->c->progress)
        vmc_progress_add(cc->c->progress, 0, 1);
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    EVP_MD_CTX_free(md);
    return rc;
}

int vmc_tree_copy(const char *src, const char *dst, const vmc_copy *c,
                  apr_pool_t *p, const char **err)
{
    copy_ctx cc = {c, dst};
    walk w = {c->skip_runtime, copy_dir, copy_file, p, p, NULL, &cc,
              apr_palloc(p, COPY_CHUNK)};

    if (mkdir(dst, c->dir_mode) != 0 || chmod(dst, c->dir_mode) != 0
        || set_owner(&cc, dst, -1) != 0) {
        *err = apr_psprintf(p, "cannot create %s: %s", dst, strerror(errno));
        return -1;
    }
    return walk_root(&w, src, err);
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)st, (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int vmc_tree_remove(const char *root, apr_pool_t *p, const char **err)
{
    if (nftw(root, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0) {
        *err = apr_psprintf(p, "cannot remove %s: %s", root, strerror(errno));
        return -1;
    }
    return 0;
}

int vmc_sha256_file(const char *path, char hex[VMC_SHA256_HEX],
                    apr_pool_t *p, const char **err)
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
