/* Removal of a tree that another user may be changing while we remove it
 * (destroy, the undo of deploy and snapshot): each folder is opened once
 * without following links and emptied through its descriptor, so a
 * folder swapped for a link to somewhere else is unlinked, never entered,
 * and nothing outside the tree is ever removed. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include "files.h"
#include "vm_text.h"

#define MAX_DEPTH 64
#define MAX_PASSES 8 /* a folder re-read while entries keep appearing */
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

typedef struct {
    dev_t dev; /* the root's file system: never left */
    const char *root;
    apr_pool_t *keep;
    const char *err;
} remover;

static int rm_fail(remover *r, const char *what, const char *rel)
{
    r->err = apr_psprintf(r->keep, "%s %s%s%s: %s", what, r->root,
                          *rel ? "/" : "", vm_text_visible(rel, r->keep),
                          strerror(errno));
    return -1;
}

/* A refusal of ours, not a system call's. */
static int rm_refuse(remover *r, const char *rel, const char *why)
{
    r->err = apr_psprintf(r->keep, "not removing %s/%s: %s", r->root,
                          vm_text_visible(rel, r->keep), why);
    return -1;
}

static int empty_dir(remover *r, int fd, const char *rel, int depth,
                     apr_pool_t *p);

/* A folder entered through its own descriptor, then removed by name. */
static int remove_dir(remover *r, int dirfd, const char *name, const char *rel,
                      int depth, apr_pool_t *p)
{
    struct stat st;
    int fd, rc;

    if (depth >= MAX_DEPTH)
        return rm_refuse(r, rel, "nested too deeply");
    fd = openat(dirfd, name, DIR_FLAGS);
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
        return unlinkat(dirfd, name, 0) == 0 || errno == ENOENT
            ? 0
            : rm_fail(r, "cannot remove", rel); /* swapped: a link */
    if (fd < 0)
        return errno == ENOENT ? 0 : rm_fail(r, "cannot open", rel);
    if (fstat(fd, &st) != 0 || st.st_dev != r->dev) {
        close(fd);
        return rm_refuse(r, rel, "another file system is mounted there");
    }
    rc = empty_dir(r, fd, rel, depth + 1, p);
    close(fd);
    if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = rm_fail(r, "cannot remove", rel);
    return rc;
}

static int remove_entry(remover *r, int dirfd, const char *name,
                        const char *parent_rel, int depth, apr_pool_t *p)
{
    const char *rel = *parent_rel ? apr_pstrcat(p, parent_rel, "/", name, NULL)
                                  : name;
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : rm_fail(r, "cannot stat", rel);
    if (S_ISDIR(st.st_mode))
        return remove_dir(r, dirfd, name, rel, depth, p);
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno == EISDIR) /* swapped since fstatat */
        return remove_dir(r, dirfd, name, rel, depth, p);
    return rm_fail(r, "cannot remove", rel);
}

/* Every entry of the folder fd, read through a duplicate; read again
 * while a pass removed something (a directory changed while being read
 * may hide entries). */
static int empty_dir(remover *r, int fd, const char *rel, int depth,
                     apr_pool_t *p)
{
    int rd = dup(fd), rc = 0, passes = 0, removed = 1;
    DIR *d = rd >= 0 ? fdopendir(rd) : NULL;
    struct dirent *e;
    apr_pool_t *sub;

    if (!d) {
        if (rd >= 0)
            close(rd);
        return rm_fail(r, "cannot read", rel);
    }
    apr_pool_create(&sub, p);
    while (rc == 0 && removed && passes++ < MAX_PASSES) {
        removed = 0;
        rewinddir(d);
        while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            rc = remove_entry(r, fd, e->d_name, rel, depth, sub);
            apr_pool_clear(sub);
            removed++;
        }
        if (rc == 0 && errno)
            rc = rm_fail(r, "cannot read", rel);
    }
    apr_pool_destroy(sub);
    closedir(d);
    return rc;
}

int vmc_tree_remove(const char *root, const char *inside, apr_pool_t *p,
                    const char **err)
{
    remover r = { 0, root, p, NULL };
    const char *base;
    int parent = vmc_open_parent(root, inside, &base, p, err), fd, rc;
    struct stat st;

    if (parent < 0)
        return -1;
    fd = openat(parent, base, DIR_FLAGS);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = fd < 0 && errno == ENOENT ? 0 : -1;
        if (rc)
            *err = apr_psprintf(p, "cannot remove %s: %s", root,
                                vmc_folder_why(parent, base, errno));
        if (fd >= 0)
            close(fd);
        close(parent);
        return rc;
    }
    r.dev = st.st_dev;
    rc = empty_dir(&r, fd, "", 0, p);
    close(fd);
    if (rc == 0 && unlinkat(parent, base, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = rm_fail(&r, "cannot remove", "");
    close(parent);
    if (rc != 0)
        *err = r.err;
    return rc;
}

int vmc_tree_remove_at(int dirfd, const char *name, const char *shown,
                       apr_pool_t *p, const char **err)
{
    remover r = { 0, shown, p, NULL };
    struct stat st;

    if (fstat(dirfd, &st) != 0) {
        *err = apr_psprintf(p, "cannot remove %s: %s", shown, strerror(errno));
        return -1;
    }
    r.dev = st.st_dev;
    if (remove_entry(&r, dirfd, name, "", 0, p) != 0) {
        *err = r.err;
        return -1;
    }
    return 0;
}
