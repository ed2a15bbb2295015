/* Per-instance locks, see vm_lock.h. */
#include <unistd.h>
#include <apr_strings.h>
#include "vm_cli.h"
#include "vm_file.h"
#include "vm_lock.h"

static vm_lock_result local_lock(vm_lock *lk, const char *lock_dir,
                                 long long id, apr_pool_t *p, const char **err)
{
    /* apr_psprintf has no %lld. */
    const char *path = id == VM_MASTER_ID
        ? apr_pstrcat(p, lock_dir, "/master.lock", NULL)
        : apr_psprintf(p, "%s/%" APR_INT64_T_FMT ".lock", lock_dir,
                       (apr_int64_t)id);
    int fd = vm_file_lock(path, 0, p, err);
    if (fd < 0)
        return fd == VM_FILE_LOCK_BUSY ? VM_LOCK_BUSY : VM_LOCK_ERROR;
    lk->fd = fd;
    return VM_LOCK_GOT;
}

static vm_lock_result remote_lock(vm_lock *lk, vm_source *src, long long id,
                                  const char **err)
{
    if (!src || !src->ops->try_lock)
        return VM_LOCK_GOT; /* a single-host source: local lock only */
    int got = 0;
    if (src->ops->try_lock(src, id, &got, err) != VM_OK)
        return VM_LOCK_ERROR;
    lk->remote = got;
    if (!got)
        *err = "held by another host";
    return got ? VM_LOCK_GOT : VM_LOCK_BUSY;
}

vm_lock_result vm_lock_take(vm_lock *lk, const char *lock_dir, vm_source *src,
                            long long id, apr_pool_t *p, const char **err)
{
    lk->fd = -1;
    lk->remote = 0;
    vm_lock_result r = local_lock(lk, lock_dir, id, p, err);
    if (r == VM_LOCK_GOT && (r = remote_lock(lk, src, id, err)) != VM_LOCK_GOT)
        vm_lock_release(lk, src, id, p);
    return r;
}

const char *vm_lock_release(vm_lock *lk, vm_source *src, long long id,
                            apr_pool_t *p)
{
    const char *err = NULL, *why = NULL;
    if (lk->remote && src->ops->unlock
        && src->ops->unlock(src, id, &err) != VM_OK)
        why = apr_psprintf(p, "cannot release the source's lock: %s",
                           err ? err : "unknown error");
    lk->remote = 0;
    if (lk->fd >= 0)
        close(lk->fd);
    lk->fd = -1;
    return why;
}
