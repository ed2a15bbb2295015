/* The Prometheus text exposition format's one rule for text: a label
 * value.  Tenant text (a shortname, a host) arrives here. */
#ifndef VM_PROM_H
#define VM_PROM_H

#include <apr_pools.h>

/* s as the inside of a label value: '\\' and '"' escaped; a control
 * character (C0, DEL, C1) or a byte that is not UTF-8 becomes '?', so
 * tenant text can neither end the value nor break the line.  From p. */
const char *vm_prom_label(const char *s, apr_pool_t *p);

#endif
