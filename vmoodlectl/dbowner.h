/* The databases restore and move make for a site whose row names a login
 * of its own (issue 19: no CREATEDB): made as the administrative login
 * (--admin-dbuser, as deploy), then given to the site's login as deploy
 * gives a new site's (roles.c); the row keeps the site's login. */
#ifndef VMOODLECTL_DBOWNER_H
#define VMOODLECTL_DBOWNER_H

#include "ctl.h"
#include "db.h"
#include "roles.h"

/* The login that makes the databases: --admin-dbuser with its
 * --admin-dbpass-file (else none: ~/.pgpass, a socket's peer), else the
 * row's own login and password.  0, or -1 with *err. */
int vmc_admin_dbconf(const vmc_opts *o, const char *dbtype, const char *dbhost,
                     const char *dblogin, const char *dbpass,
                     const char *dbname, vmc_dbconf *c, apr_pool_t *p,
                     const char **err);

typedef struct {
    vmc_role role; /* the site's login (no password: it exists) */
    int given;     /* PostgreSQL: the administrative login joined it */
} vmc_handover;

/* dbname, made on server (connected as admin), becomes login's with
 * everything in it, unless login is admin's own.  The administrative
 * login stays a member of login (PostgreSQL: to rename and drop its
 * databases) until vmc_handover_end.  0, or -1 with *err. */
int vmc_handover_give(vmc_handover *h, vm_db *server, const vmc_dbconf *admin,
                      const char *login, const char *dbname, apr_pool_t *p,
                      const char **err);

/* The administrative login's membership ended (a line when it cannot). */
void vmc_handover_end(vmc_handover *h, vm_db *server, apr_pool_t *p);

/* A site's database dropped (an old copy, or a new one undone).  MariaDB
 * keeps the grants of a dropped database: login's on dbname are revoked
 * first, so that a database made later under the name is not its (that
 * needs a login that may read mysql.db and revoke: the administrative
 * one).  0, or -1 with *err (nothing dropped when the revoke failed). */
int vmc_site_db_drop(vm_db *server, const char *login, const char *dbname,
                     apr_pool_t *p, const char **err);

#endif
