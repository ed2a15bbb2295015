/* Databases made as the administrative login for a site's own login,
 * see dbowner.h. */
#include <string.h>
#include <apr_strings.h>
#include "dbadmin.h"
#include "dbowner.h"

int vmc_admin_dbconf(const vmc_opts *o, const char *dbtype, const char *dbhost,
                     const char *dblogin, const char *dbpass,
                     const char *dbname, vmc_dbconf *c, apr_pool_t *p,
                     const char **err)
{
    const char *user = o->admin_dbuser ? o->admin_dbuser : dblogin;
    const char *pass = o->admin_dbpass ? o->admin_dbpass
        : o->admin_dbuser              ? ""
                                       : dbpass;

    return vmc_dbconf_make(c, dbtype, dbhost, user, pass, dbname, p, err);
}

int vmc_handover_give(vmc_handover *h, vm_db *server, const vmc_dbconf *admin,
                      const char *login, const char *dbname, apr_pool_t *p,
                      const char **err)
{
    apr_pool_t *sub;
    vm_db *site;
    int rc = -1;

    memset(h, 0, sizeof *h);
    if (strcmp(login, admin->user) == 0)
        return 0; /* an old-style site: the login that made it owns it */
    h->role.name = login;
    if (!admin->pg
        && (vmc_db_value(server,
                         "SELECT Host FROM mysql.user WHERE User = ? "
                         "ORDER BY Host LIMIT 1",
                         1, &login, &h->role.host, p, err)
                != 0
            || !h->role.host))
        return h->role.host ? -1
                            : (*err = apr_psprintf(p,
                                                   "login %s does not "
                                                   "exist on this server",
                                                   login),
                               -1);
    apr_pool_create(&sub, p); /* closed before any DROP */
    if ((site = vmc_db_open(admin, dbname, sub, err)) != NULL) {
        h->given = admin->pg; /* its first statement: the membership */
        rc = vmc_role_give(server, site, &h->role, dbname, NULL, sub, err);
    }
    if (rc != 0)
        *err = apr_pstrdup(p, *err);
    apr_pool_destroy(sub);
    return rc;
}

void vmc_handover_end(vmc_handover *h, vm_db *server, apr_pool_t *p)
{
    const char *err;

    if (!h->given)
        return;
    if (vmc_role_release(server, &h->role, NULL, p, &err) != 0)
        vmc_error(900, "the administrative login is still a member of %s: %s",
                  h->role.name, err);
    else
        h->given = 0;
}

int vmc_site_db_drop(vm_db *server, const char *login, const char *dbname,
                     apr_pool_t *p, const char **err)
{
    const char *still; /* global privileges: not ours to take */

    if (vm_db_kind_of(server) != VM_DB_PGSQL
        && vmc_role_revoke(server, NULL, login, dbname, &still, p, err) != 0)
        return -1;
    return vmc_dbadmin_drop(server, dbname, p, err);
}
