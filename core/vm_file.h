/* Whole-file reads and crash-safe replacement: a reader sees the old file
 * or the new one, never half of one. */
#ifndef VM_FILE_H
#define VM_FILE_H

#include <stddef.h>
#include <apr_pools.h>
#include "vm_status.h"

/* Read a whole file, to its end (a pipe too), into a NUL-terminated copy
 * from p; more than max bytes is an error. */
vm_status vm_file_read(const char *path, size_t max, apr_pool_t *p,
                       char **data, size_t *len, const char **err);

/* Write data to a new temporary file beside path (random name, O_EXCL,
 * in the directory's descriptor: nothing planted in the directory is
 * followed), give it mode, fsync, optionally link the old file to backup,
 * rename over path, fsync the directory.  The writer owns the new file.
 * On any failure path is untouched and the temporary file removed; those
 * of writers killed long ago are removed too. */
vm_status vm_file_replace(const char *path, const void *data, size_t len,
                          int mode, const char *backup, apr_pool_t *p,
                          const char **err);

/* The same, the new file taking the owner, group and mode of like (path
 * itself when NULL: a rewrite keeps them) when like is a regular file,
 * else mode.  Only root gives a file to another owner. */
vm_status vm_file_rewrite(const char *path, const void *data, size_t len,
                          const char *like, int mode, const char *backup,
                          apr_pool_t *p, const char **err);

/* An exclusive advisory lock (flock) on lockpath, created 0600 if needed
 * (a symbolic link there is refused);
 * released by vm_file_unlock or when the process dies.  Returns the fd or
 * -1 with *err set. */
int vm_file_lock(const char *lockpath, int wait, apr_pool_t *p,
                 const char **err);
void vm_file_unlock(int fd);

#endif
