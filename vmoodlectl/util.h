/* Small helpers of vmoodlectl: names and paths checked before use. */
#ifndef VMOODLECTL_UTIL_H
#define VMOODLECTL_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <apr_pools.h>

/* A template name: letters, digits, '.', '_', '-', not starting with '.'. */
int vmc_name_ok(const char *name);

/* A database name we are willing to create: letters, digits, '_', '-',
 * at most 63 bytes, not starting with a digit or '-'. */
int vmc_dbname_ok(const char *name);

/* path (absolute, no '..') lies strictly inside parent, once both are
 * resolved (path's last component need not exist).  NULL when it does,
 * else the reason. */
const char *vmc_path_inside(const char *path, const char *parent,
                            apr_pool_t *p);

/* An id as text.  (APR's formatter does not know %lld.) */
const char *vmc_id_text(long long id, apr_pool_t *p);

/* Human sizes: "12.3 MiB". */
const char *vmc_bytes(unsigned long long n, apr_pool_t *p);

/* n random letters and digits, as Moodle's random_string() makes them;
 * NULL with *err. */
const char *vmc_random_text(size_t n, apr_pool_t *p, const char **err);

#endif
