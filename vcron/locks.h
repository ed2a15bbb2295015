/* One instance's cron never runs twice at once.
 *
 * On this machine: an flock on lock_dir/<id>.lock.  The kernel drops it when
 * the last descriptor closes, so a SIGKILLed vcron leaves no stale lock;
 * the cron inherits the descriptor, so the lock lasts as long as the cron
 * even if vcron dies first.
 *
 * Across machines: the source's try_lock/unlock (PostgreSQL advisory lock,
 * MySQL GET_LOCK), held on vcron's connection, when the backend has them. */
#ifndef VC_LOCKS_H
#define VC_LOCKS_H

#include <apr_pools.h>
#include "vm_source.h"

typedef enum { VC_LOCK_GOT, VC_LOCK_BUSY, VC_LOCK_ERROR } vc_lock_result;

typedef struct {
    int fd;          /* local lock file, -1 when not held */
    int remote;      /* the source's lock is held */
} vc_lock;

/* Take both locks for instance id, the local one first; on BUSY or ERROR
 * nothing is held.  *err (static or from p) with ERROR. */
vc_lock_result vc_lock_take(vc_lock *lk, const char *lock_dir, vm_source *src,
                            long long id, apr_pool_t *p, const char **err);

/* Release what is held.  The local descriptor is closed here; a cron that
 * inherited it keeps the lock until it ends. */
void vc_lock_release(vc_lock *lk, vm_source *src, long long id);

#endif
