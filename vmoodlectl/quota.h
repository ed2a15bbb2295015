/* Per-site quotas: the quota file (setting quota-file) holds one
 * "HOST = SIZE" per site and optionally "default = SIZE" for the rest;
 * SIZE is bytes or a number with K, M, G or T (powers of 1024).  A site's
 * use is its dataroot on disk plus its database; from
 * VM_USAGE_WARN_PERCENT (vm_usage.h) usage, check and the status page
 * warn. */
#ifndef VMOODLECTL_QUOTA_H
#define VMOODLECTL_QUOTA_H

#include <stdint.h>
#include <apr_hash.h>
#include "vm_instance.h"

typedef struct {
    apr_hash_t *hosts; /* host key -> uint64_t * */
    uint64_t fallback; /* "default"; 0: none */
} vmc_quotas;

/* Read path (NULL: no quotas).  NULL, or why not (file and line). */
const char *vmc_quotas_read(vmc_quotas *q, const char *path, apr_pool_t *p);

/* The site's quota in bytes; 0: none. */
uint64_t vmc_quota_of(const vmc_quotas *q, const vm_instance *in);

/* For check: the site's use against its quota, "warning: 91% of 5.0 GiB"
 * (*warn set from VM_USAGE_WARN_PERCENT), "none" without a quota, or why
 * it could not be measured (*warn set).  From p.  (usage_site.c) */
const char *vmc_quota_note(const vmc_quotas *q, const vm_instance *in,
                           int *warn, apr_pool_t *p);

/* "5G" and the like; 0 or -1. */
int vmc_size_parse(const char *text, uint64_t *bytes);

#endif
