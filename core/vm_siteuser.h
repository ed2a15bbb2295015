/* Which Unix user a site's code runs as (issue 19): one user for every
 * site (vcron's and vmoodlectl's `user`, www-data), or, with a naming rule
 * (`site-user = vm-%shortname%`), a user per site, so that one tenant's
 * cron, CLI runs and php-fpm pool reach its own dataroot and nothing of
 * another's.  Placeholders: %shortname% (lower-cased; any character but a
 * letter, a digit, '-' and '_' made '_'), %id%, %dbname% (the same
 * rule).  The master always runs as the one user. */
#ifndef VM_SITEUSER_H
#define VM_SITEUSER_H

#include <apr_pools.h>
#include "vm_identity.h"
#include "vm_instance.h"

#define VM_SITE_USER_MAX 32 /* useradd's limit */

/* The user for in: rule expanded, or fallback when rule is NULL or in is
 * the master.  NULL with *why when the result is no valid user name
 * (empty, too long, an unknown placeholder). */
const char *vm_site_user(const char *rule, const char *fallback,
                         const vm_instance *in, apr_pool_t *p,
                         const char **why);

/* Who in's command-line runs are: base (the one user) when rule is NULL
 * or in is the master, else rule's user, looked up now (vm_identity.h).
 * NULL with *why (from p). */
const vm_identity *vm_site_identity(const char *rule, const vm_identity *base,
                                    const vm_instance *in, apr_pool_t *p,
                                    const char **why);

/* Whether rule is well formed (placeholders known, some text): NULL or
 * why not. */
const char *vm_site_user_check(const char *rule, apr_pool_t *p);

#endif
