/* Who else uses a site's database login (issue 19): a login two sites
 * share lets either tenant into the other's database.  check warns about
 * it, destroy keeps such a login, isolate ends it. */
#ifndef VMOODLECTL_LOGINS_H
#define VMOODLECTL_LOGINS_H

#include "ctl.h"

/* Another row (enabled or not), else the master (the login the instance
 * table's database source connects with, or master-config's), using in's
 * login on in's
 * database server: "HOST (id N)" or "the master", from p; NULL when
 * nobody else does. */
const char *vmc_login_sharer(const vmc_table *t, const vm_instance *in,
                             apr_pool_t *p);

#endif
