/* Dataroot trees: measure, copy (leaving Moodle's run-time files out,
 * checksumming as it goes), remove.
 *
 * The trees are written by another user (a tenant's PHP runs as the web
 * server's user), so these functions never follow a path twice: each
 * folder is opened once (O_DIRECTORY | O_NOFOLLOW) and everything in it is
 * reached relative to that descriptor (openat, mkdirat, fstatat,
 * unlinkat).  A symbolic link or a folder swapped in during the walk is
 * never followed, and what a copy creates is given to its owner last, on
 * its own descriptor, once the folder holding it is complete. */
#ifndef VMOODLECTL_FILES_H
#define VMOODLECTL_FILES_H

#include <stdint.h>
#include <sys/types.h>
#include <apr_pools.h>
#include "progress.h"

#define VMC_SHA256_HEX 65

/* Called for each file copied, with its path below the root, the bytes
 * copied and their SHA-256; a non-NULL return (the reason) stops the
 * copy. */
typedef const char *(*vmc_file_seen)(void *ctx, const char *rel, uint64_t size,
                                     const char *sha256);

typedef struct {
    int skip_runtime; /* leave out sessions, caches, temp, locks,
                              * climaintenance.html */
    uid_t uid;        /* owner of what is created; (uid_t)-1: ours */
    gid_t gid;
    /* Folders get dir_mode; files get file_mode less what their source
     * denies its own owner (a 0400 key stays unwritable, for everyone). */
    mode_t dir_mode, file_mode;
    const char *inside; /* trusted folder the copy is made below, or
                              * NULL: the destination's folder is trusted */
    int *made;          /* set to 1 once the destination exists */
    /* A later pass into an earlier pass's copy (which exists): only files
     * new or changed since (size, modification time) are copied, and what
     * the source no longer has is removed from the copy.  The copy may
     * have been writable by the tenant in between: nothing in it is
     * trusted or followed. */
    int update;
    vmc_progress *progress; /* bytes and files */
    vmc_file_seen on_file;
    void *ctx;
} vmc_copy;

/* c (all of it) set for a copy that becomes a site's dataroot: owned by
 * uid:gid, folders 02770, files 0660, made below inside, *made set once
 * it exists. */
void vmc_copy_for_site(vmc_copy *c, uid_t uid, gid_t gid, const char *inside,
                       int *made);
/* c (all of it) set for a copy only root reads (a snapshot's, a
 * backup's): run-time files left out, folders 0700, files 0600, below
 * inside, each file listed by on_file(ctx). */
void vmc_copy_private(vmc_copy *c, const char *inside, vmc_file_seen on_file,
                      void *ctx);
/* vmc_tree_copy shown as it goes: a progress line (label, total bytes
 * expected or 0) and its end. */
int vmc_tree_copy_shown(const char *src, const char *dst, vmc_copy *c,
                        const char *label, uint64_t total, apr_pool_t *p,
                        const char **err);

/* Bytes and files that a copy with skip_runtime would take. */
int vmc_tree_measure(const char *root, int skip_runtime, uint64_t *bytes,
                     uint64_t *files, apr_pool_t *p, const char **err);

/* The disk the whole tree takes (blocks of its folders and files, as
 * du -B1 counts them) and its files. */
int vmc_tree_disk_use(const char *root, uint64_t *bytes, uint64_t *files,
                      apr_pool_t *p, const char **err);

/* Every file of the tree (nothing left out) read and its SHA-256 handed
 * to on_file, which may stop the walk with a reason. */
int vmc_tree_sums(const char *root, vmc_file_seen on_file, void *ctx,
                  apr_pool_t *p, const char **err);

/* Copy src into dst, which must not exist yet (unless c->update).  Each
 * file keeps its source's modification time. */
int vmc_tree_copy(const char *src, const char *dst, const vmc_copy *c,
                  apr_pool_t *p, const char **err);

/* Remove the folder root and everything in it, not following links, not
 * crossing mount points.  inside (or NULL) as for vmc_copy: root must lie
 * below it, and no folder between them may be a link.  A root that is
 * already gone is no error; one that is not a folder is refused. */
int vmc_tree_remove(const char *root, const char *inside, apr_pool_t *p,
                    const char **err);

/* The entry name of the folder dirfd removed (a folder with everything in
 * it, as vmc_tree_remove); shown names it in *err. */
int vmc_tree_remove_at(int dirfd, const char *name, const char *shown,
                       apr_pool_t *p, const char **err);

/* The folder holding path's last component, opened as a descriptor: below
 * inside (when not NULL) each folder is opened without following links,
 * so a folder swapped for a link on the way is refused.  *base gets the
 * last component.  The descriptor, or -1 with *err. */
int vmc_open_parent(const char *path, const char *inside, const char **base,
                    apr_pool_t *p, const char **err);

/* Why name in dirfd (AT_FDCWD: a path) would not open as a folder
 * without following links, given the errno of the attempt. */
const char *vmc_folder_why(int dirfd, const char *name, int error);

/* SHA-256 of a file as 64 hex digits. */
int vmc_sha256_file(const char *path, char hex[VMC_SHA256_HEX], apr_pool_t *p,
                    const char **err);

#endif
