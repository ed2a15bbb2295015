/* A site's aliases (the hosts that answer 301 to it), changed by
 * alias add|remove and by rename --keep-alias. */
#ifndef VMOODLECTL_ALIAS_H
#define VMOODLECTL_ALIAS_H

#include <apr_pools.h>
#include "vm_instance.h"

/* The site's aliases with alias added (verb "add") or removed: the
 * column's text, or NULL with *why. */
const char *vmc_aliases_changed(const vm_instance *in, const char *verb,
                                const char *alias, apr_pool_t *p,
                                const char **why);

#endif
