/* Whole-file reads and crash-safe replacement: a reader sees the old file
 * or the new one, never half of one. */
#ifndef VM_FILE_H
#define VM_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>
#include "vm_status.h"

/* Read a whole file, to its end (a pipe too), into a NUL-terminated copy
 * from p; more than max bytes is an error. */
vm_status vm_file_read(const char *path, size_t max, apr_pool_t *p, char **data,
                       size_t *len, const char **err);

/* A file of fixed-size records: a header (8 bytes of magic, the format's
 * version and the record count, each uint32_t) and the records.  Read
 * whole and checked: *records (aligned, from p) and *count; a missing
 * file is an empty one.  what ("usage") names it in *err. */
typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t count;
} vm_records_header;
vm_status vm_file_records_read(const char *path, const char *magic,
                               uint32_t version, size_t record, size_t max,
                               const char *what, apr_pool_t *p,
                               const void **records, uint32_t *count,
                               const char **err);

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

/* The one flock helper: an exclusive advisory lock on lockpath, created
 * 0600 if needed (a symbolic link there is refused), waiting for it or
 * not; released by vm_file_unlock or when the last descriptor closes (a
 * child that inherited it holds it on).  Returns the fd (close-on-exec),
 * or VM_FILE_LOCK_BUSY (not waiting, held elsewhere) or -1, with *err. */
#define VM_FILE_LOCK_BUSY (-2)
int vm_file_lock(const char *lockpath, int wait, apr_pool_t *p,
                 const char **err);
void vm_file_unlock(int fd);

/* All of data to fd, a write cut short by a signal resumed: 0, or -1
 * (errno set). */
int vm_file_write_all(int fd, const char *data, size_t len);

/* The one safe directory opener, for the places root writes (logs, locks,
 * state): dir (absolute, no "..") opened component by component on
 * descriptors, creating what is missing with mode, never following a
 * link; each directory above must be root's or ours and writable by
 * nobody else unless sticky (as /tmp, where what others create is refused
 * one step later); dir itself ours and writable by nobody else.  An
 * O_DIRECTORY descriptor (close-on-exec), or -1 with *why (from p). */
int vm_file_dir_open(const char *dir, mode_t mode, apr_pool_t *p,
                     const char **why);

/* The same, only to make sure dir is there and safe (0755 for what is
 * made): NULL, or why not (from p). */
const char *vm_file_dir_make(const char *dir, apr_pool_t *p);

/* How a site's run log is opened: for a fresh run, or after what it
 * holds. */
typedef enum { VM_FILE_LOG_APPEND = 0, VM_FILE_LOG_TRUNCATE } vm_file_log_mode;

/* The one opener of a site's run log: name in dir_fd (dir's descriptor
 * from vm_file_dir_open; dir only names it in messages), never through a
 * link, close-on-exec, 0640 when made.  Appending, it is first renamed to
 * name.1 once it holds rotate_at bytes (0: never).  A descriptor, or -1
 * with *why ("log DIR/NAME: ...", from p). */
int vm_file_log_open(int dir_fd, const char *dir, const char *name,
                     vm_file_log_mode mode, long rotate_at, apr_pool_t *p,
                     const char **why);

#endif
