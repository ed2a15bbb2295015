/* Small file-system helpers vcron uses for its state, locks and logs. */
#ifndef VC_FSUTIL_H
#define VC_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <apr_pools.h>

/* Create dir and its parents (mode 0755).  NULL or a reason (from p). */
const char *vc_mkdirs(const char *dir, apr_pool_t *p);
/* The same for the directory holding path. */
const char *vc_mkdirs_for(const char *path, apr_pool_t *p);

/* Replace path with data: temporary file beside it, fsync, rename, fsync
 * of the directory.  NULL or a reason (from p). */
const char *vc_write_atomic(const char *path, const char *data, size_t len,
                            mode_t mode, apr_pool_t *p);

#endif
