/* Make a loaded template database the new site's own: table prefix, its
 * mnet_host row's wwwroot, the site course's names, sessioncookie, a new
 * siteidentifier, and config / config_plugins values that name the
 * template's wwwroot, dataroot or host. */
#ifndef VMOODLECTL_REWRITE_H
#define VMOODLECTL_REWRITE_H

#include "db.h"

typedef struct {
    const char *old_prefix, *new_prefix;
    const char *old_wwwroot, *new_wwwroot;
    const char *old_dataroot, *new_dataroot;
    const char *new_name, *new_shortname; /* site course (category 0) */
    const char *cookie;                   /* sessioncookie value */
    const char *siteidentifier;
} vmc_rewrite;

/* db: connected to the new database.  0, or -1 with *err. */
int vmc_rewrite_site(vm_db *db, const vmc_rewrite *r, apr_pool_t *p,
                     const char **err);

/* Only the config and config_plugins values naming the old wwwroot, host
 * or dataroot, made the new ones' (new_prefix's tables; the names and
 * identifier fields unused), in one transaction: for rename and move. */
int vmc_rewrite_config(vm_db *db, const vmc_rewrite *r, apr_pool_t *p,
                       const char **err);

/* text with every occurrence of a pattern replaced, in one pass (what a
 * replacement put in is never looked at again); at each place the longest
 * pattern wins; empty patterns are ignored.  For config values. */
const char *vmc_replace_all(const char *text, int n, const char *const *from,
                            const char *const *to, apr_pool_t *p);

#endif
