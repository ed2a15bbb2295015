/* Make a loaded template database the new site's own: table prefix,
 * its mnet_host row's wwwroot, the site course's names, sessioncookie. */
#ifndef VMOODLECTL_REWRITE_H
#define VMOODLECTL_REWRITE_H

#include "db.h"

typedef struct {
    const char *old_prefix, *new_prefix;
    const char *old_wwwroot, *new_wwwroot;
    const char *old_name, *new_name;            /* site course fullname */
    const char *old_shortname, *new_shortname;  /* site course shortname */
    const char *cookie;                         /* sessioncookie value */
} vmc_rewrite;

/* db: connected to the new database.  0, or -1 with *err. */
int vmc_rewrite_site(vm_db *db, const vmc_rewrite *r, apr_pool_t *p,
                     const char **err);

#endif
