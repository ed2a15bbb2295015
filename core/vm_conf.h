/* Settings files (vcron.conf, vmoodlectl.conf): one "name = value" per
 * line, '#' comments and blank lines; blanks around the name and the value
 * are trimmed.  One reader for every program; what a name means is the
 * caller's. */
#ifndef VM_CONF_H
#define VM_CONF_H

#include <apr_pools.h>

/* Apply one setting: NULL, or why not (e.g. "unknown setting 'x'"). */
typedef const char *(*vm_conf_set_fn)(void *ctx, const char *name,
                                      const char *value, apr_pool_t *p);

/* Read path, calling set for each setting in order.  A missing file is an
 * error only when required.  Stops at the first bad line; NULL, or a
 * reason naming the file and the line ("PATH:3: want name = value"). */
const char *vm_conf_read(const char *path, int required, vm_conf_set_fn set,
                         void *ctx, apr_pool_t *p);

#endif
