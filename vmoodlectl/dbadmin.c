/* Create and drop whole databases; identifiers quoted by the driver, the
 * name compared as a parameter. */
#include <string.h>
#include <apr_strings.h>
#include "dbadmin.h"
#include "dbtools.h"
#include "progress.h"
#include "util.h"

#define PG_TEMPLATE_PREFIX "vmtpl_"

static const char *quoted(vmc_db *server, const char *name, const char **err)
{
    const char *q = vmc_db_ident(server, name);

    if (!q)
        *err = "database name cannot be quoted";
    return q;
}

int vmc_dbadmin_exists(vmc_db *server, const char *name, const char **err)
{
    const char *sql = vmc_db_is_pg(server)
        ? "SELECT datname FROM pg_database WHERE datname = ?"
        : "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
          "WHERE SCHEMA_NAME = ?";
    const char *found;

    if (vmc_db_value(server, sql, 1, &name, &found, err) != 0)
        return -1;
    return found != NULL;
}

int vmc_dbadmin_create(vmc_db *server, const char *name, const char *template,
                       const char **err)
{
    const char *q = quoted(server, name, err), *qt = NULL, *sql;

    if (!q || (template && !(qt = quoted(server, template, err))))
        return -1;
    if (vmc_db_is_pg(server))
        sql = qt ? apr_pstrcat(vmc_db_pool(server), "CREATE DATABASE ", q,
                               " TEMPLATE ", qt, NULL)
                 : apr_pstrcat(vmc_db_pool(server), "CREATE DATABASE ", q,
                               " ENCODING 'UTF8' TEMPLATE template0", NULL);
    else
        sql = apr_pstrcat(vmc_db_pool(server), "CREATE DATABASE ", q,
                          " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                          NULL);
    return vmc_db_exec(server, sql, 0, NULL, err) < 0 ? -1 : 0;
}

int vmc_dbadmin_drop(vmc_db *server, const char *name, const char **err)
{
    const char *q = quoted(server, name, err);

    if (!q)
        return -1;
    return vmc_db_exec(server, apr_pstrcat(vmc_db_pool(server),
                                           "DROP DATABASE ", q, NULL),
                       0, NULL, err) < 0 ? -1 : 0;
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

static int mark_template(vmc_db *server, const char *q, int on,
                         const char **err)
{
    const char *sql = apr_pstrcat(vmc_db_pool(server), "ALTER DATABASE ", q,
                                  on ? " WITH IS_TEMPLATE true "
                                       "ALLOW_CONNECTIONS false"
                                     : " WITH IS_TEMPLATE false", NULL);

    return vmc_db_exec(server, sql, 0, NULL, err) < 0 ? -1 : 0;
}

int vmc_pgtemplate_make(const vmc_dbconf *c, vmc_manifest *m,
                        const char *work_dir, apr_pool_t *p, const char **err)
{
    const char *name = template_db_name(m->name, p);
    const char *dump = apr_pstrcat(p, work_dir, "/", m->dump_file, NULL);
    vmc_db *server = vmc_db_open(c, NULL, p, err);
    vmc_progress pr;
    int rc;

    if (!server || vmc_dbadmin_create(server, name, NULL, err) != 0)
        return -1;
    vmc_progress_start(&pr, "load template database", m->dump_size, NULL);
    rc = vmc_load(c, name, dump, &pr, p, err);
    vmc_progress_end(&pr, rc == 0);
    if (rc != 0 || mark_template(server, vmc_db_ident(server, name), 1,
                                 err) != 0) {
        const char *ignored;
        vmc_dbadmin_drop(server, name, &ignored);
        return -1;
    }
    m->pg_template_db = name;
    m->pg_server = vmc_dbconf_server(c, p);
    return 0;
}

int vmc_pgtemplate_drop(const vmc_dbconf *c, const char *name, apr_pool_t *p,
                        const char **err)
{
    vmc_db *server = vmc_db_open(c, NULL, p, err);
    const char *q = server ? vmc_db_ident(server, name) : NULL;

    if (!q || mark_template(server, q, 0, err) != 0)
        return -1;
    return vmc_dbadmin_drop(server, name, err);
}
