/* One instance's cron or CLI upgrade never runs twice at once: vcron and
 * vmoodlectl take the same lock before either starts one.
 *
 * On this machine: an flock on lock_dir/<id>.lock (master.lock for the
 * master).  The kernel drops it when the last descriptor closes, so a
 * SIGKILLed holder leaves no stale lock; the child inherits the
 * descriptor, so the lock lasts as long as the child even if its parent
 * dies first.
 *
 * Across machines: the source's try_lock/unlock (PostgreSQL advisory lock,
 * MySQL GET_LOCK), held on the holder's connection, when the backend has
 * them. */
#ifndef VM_LOCK_H
#define VM_LOCK_H

#include <apr_pools.h>
#include "vm_source.h"

typedef enum { VM_LOCK_GOT, VM_LOCK_BUSY, VM_LOCK_ERROR } vm_lock_result;

typedef struct {
    int fd;     /* local lock file, -1 when not held */
    int remote; /* the source's lock is held */
} vm_lock;

/* Take both locks for instance id, the local one first; on BUSY or ERROR
 * nothing is held.  *err (static or from p) with BUSY or ERROR. */
vm_lock_result vm_lock_take(vm_lock *lk, const char *lock_dir, vm_source *src,
                            long long id, apr_pool_t *p, const char **err);

/* Release what is held.  The local descriptor is closed here; a child that
 * inherited it keeps the lock until it ends.  NULL, or why the source's
 * lock could not be released (from p). */
const char *vm_lock_release(vm_lock *lk, vm_source *src, long long id,
                            apr_pool_t *p);

#endif
