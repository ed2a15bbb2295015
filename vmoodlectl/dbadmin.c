/* Create and drop whole databases; names quoted by the SQL layer, the
 * name compared as a parameter. */
#include <string.h>
#include <apr_strings.h>
#include "dbadmin.h"
#include "dbtools.h"
#include "progress.h"
#include "util.h"

#define PG_TEMPLATE_PREFIX "vmtpl_"

static const char *quoted(vm_db *server, const char *name, apr_pool_t *p,
                          const char **err)
{
    const char *q = vm_db_ident(server, name, p);

    if (!q)
        *err = apr_psprintf(p,
                            "database name '%s' cannot be quoted (letters, "
                            "digits, '_', '$', '-')",
                            name);
    return q;
}

static int is_pg(const vm_db *db)
{
    return vm_db_kind_of(db) == VM_DB_PGSQL;
}

int vmc_dbadmin_exists(vm_db *server, const char *name, apr_pool_t *p,
                       const char **err)
{
    const char *sql = apr_pstrcat(
        p,
        is_pg(server) ? "SELECT datname FROM pg_database WHERE datname = "
                      : "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                        "WHERE SCHEMA_NAME = ",
        vm_db_param(server, 1, p), NULL);
    const char *found;

    if (vmc_db_value(server, sql, 1, &name, &found, p, err) != 0)
        return -1;
    return found != NULL;
}

int vmc_dbadmin_can_create(vm_db *server, apr_pool_t *p, const char **err)
{
    const char *can;

    if (!is_pg(server))
        return 1;
    if (vmc_db_value(server,
                     "SELECT (rolcreatedb OR rolsuper)::text FROM "
                     "pg_roles WHERE rolname = current_user",
                     0, NULL, &can, p, err)
        != 0)
        return -1;
    return can && strcmp(can, "true") == 0;
}

int vmc_dbadmin_create(vm_db *server, const char *name, const char *template,
                       apr_pool_t *p, const char **err)
{
    const char *q = quoted(server, name, p, err), *qt = NULL, *sql;

    if (!q || (template && !(qt = quoted(server, template, p, err))))
        return -1;
    if (is_pg(server))
        sql = qt ? apr_pstrcat(p, "CREATE DATABASE ", q, " TEMPLATE ", qt, NULL)
                 : apr_pstrcat(p, "CREATE DATABASE ", q,
                               " ENCODING 'UTF8' TEMPLATE template0", NULL);
    else
        sql = apr_pstrcat(p, "CREATE DATABASE ", q,
                          " CHARACTER SET utf8mb4 "
                          "COLLATE utf8mb4_unicode_ci",
                          NULL);
    return vmc_db_exec(server, sql, 0, NULL, p, err);
}

int vmc_dbadmin_drop(vm_db *server, const char *name, apr_pool_t *p,
                     const char **err)
{
    const char *q = quoted(server, name, p, err);

    if (!q)
        return -1;
    return vmc_db_exec(server, apr_pstrcat(p, "DROP DATABASE ", q, NULL), 0,
                       NULL, p, err);
}

/* vmtpl_ + the template name with '.' and '-' made '_'. */
static const char *template_db_name(const char *name, apr_pool_t *p)
{
    char *n = apr_pstrcat(p, PG_TEMPLATE_PREFIX, name, NULL), *c;

    for (c = n; *c; c++)
        if (*c == '.' || *c == '-')
            *c = '_';
    if (strlen(n) > 63)
        n[63] = '\0';
    return n;
}

static int mark_template(vm_db *server, const char *name, int on, apr_pool_t *p,
                         const char **err)
{
    const char *q = quoted(server, name, p, err);

    if (!q)
        return -1;
    return vmc_db_exec(server,
                       apr_pstrcat(p, "ALTER DATABASE ", q,
                                   on ? " WITH IS_TEMPLATE true "
                                        "ALLOW_CONNECTIONS false"
                                      : " WITH IS_TEMPLATE false",
                                   NULL),
                       0, NULL, p, err);
}

int vmc_pgtemplate_make(const vmc_dbconf *c, vmc_manifest *m,
                        const char *work_dir, apr_pool_t *p, const char **err)
{
    const char *name = template_db_name(m->name, p);
    const char *dump = apr_pstrcat(p, work_dir, "/", m->dump_file, NULL);
    vm_db *server = vmc_db_open(c, NULL, p, err);
    vmc_progress pr;
    int rc;

    if (!server || vmc_dbadmin_create(server, name, NULL, p, err) != 0)
        return -1;
    vmc_progress_start(&pr, "load template database", m->dump_size, NULL);
    rc = vmc_load(c, name, dump, &pr, p, err);
    vmc_progress_end(&pr, rc == 0);
    if (rc != 0 || mark_template(server, name, 1, p, err) != 0) {
        const char *ignored;
        vmc_dbadmin_drop(server, name, p, &ignored);
        return -1;
    }
    m->pg_template_db = name;
    m->pg_server = vmc_dbconf_server(c, p);
    return 0;
}

int vmc_pgtemplate_drop(const vmc_dbconf *c, const char *name, apr_pool_t *p,
                        const char **err)
{
    vm_db *server = vmc_db_open(c, NULL, p, err);

    if (!server || mark_template(server, name, 0, p, err) != 0)
        return -1;
    return vmc_dbadmin_drop(server, name, p, err);
}
