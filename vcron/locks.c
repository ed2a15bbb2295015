/* Per-instance locks, see locks.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <apr_strings.h>
#include "locks.h"
#include "runner.h"
#include "log.h"

static vc_lock_result local_lock(vc_lock *lk, const char *lock_dir,
                                 long long id, apr_pool_t *p,
                                 const char **err)
{
    /* apr_psprintf has no %lld. */
    const char *path = id == VC_MASTER_ID
        ? apr_pstrcat(p, lock_dir, "/master.lock", NULL)
        : apr_psprintf(p, "%s/%" APR_INT64_T_FMT ".lock", lock_dir,
                       (apr_int64_t)id);
    /* Read-only: the cron inherits it and needs no more. */
    int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        *err = apr_psprintf(p, "%s: %s", path, strerror(errno));
        return VC_LOCK_ERROR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        *err = apr_psprintf(p, "%s: %s", path, strerror(errno));
        close(fd);
        return busy ? VC_LOCK_BUSY : VC_LOCK_ERROR;
    }
    lk->fd = fd;
    return VC_LOCK_GOT;
}

static vc_lock_result remote_lock(vc_lock *lk, vm_source *src, long long id,
                                  const char **err)
{
    if (!src || !src->ops->try_lock)
        return VC_LOCK_GOT;      /* a single-host source: local lock only */
    int got = 0;
    if (src->ops->try_lock(src, id, &got, err) != VM_OK)
        return VC_LOCK_ERROR;
    lk->remote = got;
    return got ? VC_LOCK_GOT : VC_LOCK_BUSY;
}

vc_lock_result vc_lock_take(vc_lock *lk, const char *lock_dir, vm_source *src,
                            long long id, apr_pool_t *p, const char **err)
{
    lk->fd = -1;
    lk->remote = 0;
    vc_lock_result r = local_lock(lk, lock_dir, id, p, err);
    if (r == VC_LOCK_GOT && (r = remote_lock(lk, src, id, err)) != VC_LOCK_GOT)
        vc_lock_release(lk, src, id);
    return r;
}

void vc_lock_release(vc_lock *lk, vm_source *src, long long id)
{
    const char *err = NULL;
    if (lk->remote && src->ops->unlock && src->ops->unlock(src, id, &err) != VM_OK)
        vc_log(205, "instance %lld: cannot release the source's lock: %s",
               id, err ? err : "unknown error");
    lk->remote = 0;
    if (lk->fd >= 0)
        close(lk->fd);
    lk->fd = -1;
}
