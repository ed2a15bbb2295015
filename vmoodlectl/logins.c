/* Who else uses a site's database login, see logins.h. */
#include <string.h>
#include <apr_strings.h>
#include "logins.h"
#include "shared.h"
#include "vm_master.h"
#include "vm_source_db.h"

/* The same server: vmc_same_database with one database name for both. */
static int same_server(vmc_place a, vmc_place b, apr_pool_t *p)
{
    a.dbname = b.dbname = "-";
    return vmc_same_database(&a, &b, p);
}

static const char *master_login(const vmc_table *t, vmc_place *home,
                                apr_pool_t *p)
{
    const vm_source_db *sd;

    if (!vmc_table_home(t, home, p))
        return NULL;
    sd = t->src->backend;
    return vm_db_option(sd->db, "user");
}

const char *vmc_login_sharer(const vmc_table *t, const vm_instance *in,
                             apr_pool_t *p)
{
    vmc_place mine = { in->dbtype, in->dbhost, in->dbname }, home;
    const vm_row *me = vmc_raw_row(t, in->id);
    const char *master;

    for (int i = 0; i < t->rows->nelts; i++) {
        const vm_row *r = &APR_ARRAY_IDX(t->rows, i, vm_row);
        const char *login = r->present[VM_F_VDBLOGIN] ? r->value[VM_F_VDBLOGIN]
                                                      : NULL;
        const char *id = r->present[VM_F_ID] ? r->value[VM_F_ID] : "";
        if (r == me || !login || strcmp(login, in->dblogin) != 0
            || !same_server(mine, vmc_row_place(r), p))
            continue;
        return apr_psprintf(p, "%s (id %s)",
                            r->present[VM_F_VHOSTNAME]
                                ? r->value[VM_F_VHOSTNAME]
                                : "a row",
                            id);
    }
    master = master_login(t, &home, p);
    if (master && strcmp(master, in->dblogin) == 0
        && same_server(mine, home, p))
        return "the master";
    /* the master's own login, from master-config */
    if (vm_master_settings
        && strcmp(vm_master_settings->dblogin, in->dblogin) == 0
        && same_server(mine,
                       (vmc_place){ vm_master_settings->dbtype,
                                    vm_master_settings->dbhost, "-" },
                       p))
        return "the master";
    return NULL;
}
