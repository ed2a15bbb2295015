/* Directories for vcron's state, locks and logs (the core's vm_file.h
 * does crash-safe writes and locks). */
#ifndef VC_FSUTIL_H
#define VC_FSUTIL_H

#include <apr_pools.h>

/* Create dir and its parents (mode 0755).  NULL or a reason (from p). */
const char *vc_mkdirs(const char *dir, apr_pool_t *p);
/* The same for the directory holding path. */
const char *vc_mkdirs_for(const char *path, apr_pool_t *p);


#endif
