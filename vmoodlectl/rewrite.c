/* Rewrite a freshly loaded template database for its new site.  Table
 * names are quoted identifiers; every value is a statement parameter. */
#include <string.h>
#include <apr_strings.h>
#include "rewrite.h"

static const char *table(vmc_db *db, const char *prefix, const char *name)
{
    return vmc_db_ident(db, apr_pstrcat(vmc_db_pool(db), prefix, name, NULL));
}

static int rename_all(vmc_db *db, const char *list_sql, const char *alter,
                      const vmc_rewrite *r, const char **err)
{
    const char *params[2] = {r->old_prefix, r->old_prefix};
    apr_pool_t *p = vmc_db_pool(db);
    apr_array_header_t *names;
    int i;

    if (vmc_db_column(db, list_sql, 2, params, &names, err) != 0)
        return -1;
    for (i = 0; i < names->nelts; i++) {
        const char *old = APR_ARRAY_IDX(names, i, const char *);
        const char *from = vmc_db_ident(db, old);
        const char *to = table(db, r->new_prefix,
                               old + strlen(r->old_prefix));
        if (!from || !to) {
            *err = apr_psprintf(p, "table name %s cannot be quoted", old);
            return -1;
        }
        if (vmc_db_exec(db, vmc_db_is_pg(db)
                        ? apr_pstrcat(p, alter, from, " RENAME TO ", to, NULL)
                        : apr_pstrcat(p, alter, from, " TO ", to, NULL),
                        0, NULL, err) < 0)
            return -1;
    }
    return 0;
}

static int change_prefix(vmc_db *db, const vmc_rewrite *r, const char **err)
{
    if (strcmp(r->old_prefix, r->new_prefix) == 0)
        return 0;
    if (!vmc_db_is_pg(db))
        return rename_all(db, "SELECT TABLE_NAME FROM information_schema."
                          "TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
                          "LEFT(TABLE_NAME, CHAR_LENGTH(?)) = ?",
                          "RENAME TABLE ", r, err);
    return rename_all(db, "SELECT tablename::text FROM pg_tables WHERE "
                      "schemaname = current_schema() AND "
                      "left(tablename, char_length(?)) = ?",
                      "ALTER TABLE ", r, err)
        || rename_all(db, "SELECT sequence_name::text FROM information_schema."
                      "sequences WHERE sequence_schema = current_schema() "
                      "AND left(sequence_name, char_length(?)) = ?",
                      "ALTER SEQUENCE ", r, err) ? -1 : 0;
}

/* The site's own mnet_host row: config mnet_localhost_id, else the row
 * that holds the template's wwwroot. */
static int own_mnet_host(vmc_db *db, const vmc_rewrite *r, const char *config,
                         const char **err)
{
    apr_pool_t *p = vmc_db_pool(db);
    const char *mnet = table(db, r->new_prefix, "mnet_host"), *id;
    const char *by_id[2], *by_root[2] = {r->new_wwwroot, r->old_wwwroot};

    if (vmc_db_value(db, apr_pstrcat(p, "SELECT value FROM ", config,
                                     " WHERE name = 'mnet_localhost_id'",
                                     NULL), 0, NULL, &id, err) != 0)
        return -1;
    by_id[0] = r->new_wwwroot;
    by_id[1] = id;
    return vmc_db_exec(db, apr_pstrcat(p, "UPDATE ", mnet, " SET wwwroot = ? "
                                       "WHERE ", id ? "id = ?" : "wwwroot = ?",
                                       NULL), 2, id ? by_id : by_root,
                       err) < 0 ? -1 : 0;
}

static int site_course(vmc_db *db, const vmc_rewrite *r, const char *column,
                       const char *old, const char *new, const char **err)
{
    const char *params[2] = {new, old};
    const char *course = table(db, r->new_prefix, "course");

    if (!old || !*old || !new || !*new)
        return 0;
    return vmc_db_exec(db, apr_pstrcat(vmc_db_pool(db), "UPDATE ", course,
                                       " SET ", column, " = ? WHERE "
                                       "category = 0 AND ", column, " = ?",
                                       NULL), 2, params, err) < 0 ? -1 : 0;
}

static int session_cookie(vmc_db *db, const vmc_rewrite *r,
                          const char *config, const char **err)
{
    apr_pool_t *p = vmc_db_pool(db);
    const char *id;

    if (vmc_db_value(db, apr_pstrcat(p, "SELECT id FROM ", config,
                                     " WHERE name = 'sessioncookie'", NULL),
                     0, NULL, &id, err) != 0)
        return -1;
    return vmc_db_exec(db, apr_pstrcat(p, id ? "UPDATE " : "INSERT INTO ",
                                       config, id
                                       ? " SET value = ? WHERE name = "
                                         "'sessioncookie'"
                                       : " (name, value) VALUES "
                                         "('sessioncookie', ?)", NULL),
                       1, &r->cookie, err) < 0 ? -1 : 0;
}

int vmc_rewrite_site(vmc_db *db, const vmc_rewrite *r, const char **err)
{
    const char *config, *ignored;

    if (change_prefix(db, r, err) != 0)
        return -1;
    if (!(config = table(db, r->new_prefix, "config")))
        return (*err = "table prefix cannot be quoted"), -1;
    if (vmc_db_exec(db, "BEGIN", 0, NULL, err) < 0)
        return -1;
    if (own_mnet_host(db, r, config, err) != 0
        || site_course(db, r, "fullname", r->old_name, r->new_name, err)
        || site_course(db, r, "shortname", r->old_shortname,
                       r->new_shortname, err)
        || session_cookie(db, r, config, err) != 0) {
        vmc_db_exec(db, "ROLLBACK", 0, NULL, &ignored);
        return -1;
    }
    return vmc_db_exec(db, "COMMIT", 0, NULL, err) < 0 ? -1 : 0;
}
