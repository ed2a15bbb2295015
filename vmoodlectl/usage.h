/* One site's usage (usage_site.c), measured for `usage` (usage.c) and
 * `check` (vmc_quota_note, quota.h): the disk its dataroot takes (as du
 * counts it, never through a link: files.h), its database's size
 * (pg_database_size; MariaDB: data and indexes in information_schema),
 * its users, their last access and Moodle's release. */
#ifndef VMOODLECTL_USAGE_H
#define VMOODLECTL_USAGE_H

#include <stdint.h>
#include "quota.h"
#include "vm_usage.h"

typedef struct {
    const vm_instance *in;
    uint64_t disk, files, db, quota;
    const char *users, *last_access, *release, *err; /* NULL: unknown */
} vmc_site_usage;

/* Measure u->in, its quota from q; u->err says what failed. */
void vmc_usage_measure(vmc_site_usage *u, const vmc_quotas *q, apr_pool_t *p);

/* Its use against its quota (vm_usage.h), *pc the percent. */
vm_usage_level vmc_usage_level(const vmc_site_usage *u, int *pc);

/* "91% of 5.0 GiB" with "warning: " or "over quota: " before it from the
 * warning level on, "none" without a quota.  From p. */
const char *vmc_usage_quota_text(const vmc_site_usage *u, apr_pool_t *p);

#endif
