/* Dataroot trees: measure, copy (leaving Moodle's run-time files out,
 * checksumming as it goes), remove.  Symbolic links are never followed. */
#ifndef VMOODLECTL_FILES_H
#define VMOODLECTL_FILES_H

#include <stdint.h>
#include <sys/types.h>
#include <apr_pools.h>
#include "progress.h"

#define VMC_SHA256_HEX 65

/* Called for each file copied, with its path below the root and its
 * SHA-256; a non-NULL return (the reason) stops the copy. */
typedef const char *(*vmc_file_seen)(void *ctx, const char *rel,
                                     uint64_t size, const char *sha256);

typedef struct {
    int skip_runtime;        /* leave out sessions, caches, temp, locks */
    uid_t uid;               /* owner of what is created; (uid_t)-1: ours */
    gid_t gid;
    mode_t dir_mode, file_mode;
    vmc_progress *progress;  /* bytes and files */
    vmc_file_seen on_file;
    void *ctx;
} vmc_copy;

/* Bytes and files that a copy with skip_runtime would take. */
int vmc_tree_measure(const char *root, int skip_runtime, uint64_t *bytes,
                     uint64_t *files, apr_pool_t *p, const char **err);

/* Copy src into dst, which must not exist yet. */
int vmc_tree_copy(const char *src, const char *dst, const vmc_copy *c,
                  apr_pool_t *p, const char **err);

/* Remove a tree (not following links, not crossing mount points). */
int vmc_tree_remove(const char *root, apr_pool_t *p, const char **err);

/* SHA-256 of a file as 64 hex digits. */
int vmc_sha256_file(const char *path, char hex[VMC_SHA256_HEX],
                    apr_pool_t *p, const char **err);

#endif
