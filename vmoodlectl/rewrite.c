/* Rewrite a freshly loaded template database for its new site.  Table
 * names are quoted identifiers; every value is a statement parameter. */
#include <string.h>
#include <apr_strings.h>
#include "rewrite.h"

typedef struct {
    vm_db *db;
    const vmc_rewrite *r;
    apr_pool_t *p;
    const char **err;
} site;

static int is_pg(const site *s)
{
    return vm_db_kind_of(s->db) == VM_DB_PGSQL;
}

/* Placeholder i. */
static const char *arg(const site *s, int i)
{
    return vm_db_param(s->db, i, s->p);
}

/* The new site's table called name, quoted; NULL with *err. */
static const char *table(const site *s, const char *prefix, const char *name)
{
    const char *full = apr_pstrcat(s->p, prefix, name, NULL);
    const char *q = vm_db_ident(s->db, full, s->p);

    if (!q)
        *s->err = apr_psprintf(s->p, "table name %s cannot be quoted", full);
    return q;
}

/* Every table (or sequence) that list_sql names, given the old prefix
 * twice, renamed with alter ... to the new prefix. */
static int rename_all(const site *s, const char *list_sql, const char *alter,
                      const char *to_word)
{
    const char *params[2] = {s->r->old_prefix, s->r->old_prefix};
    apr_array_header_t *names;

    if (vmc_db_column(s->db, list_sql, 2, params, &names, s->p, s->err) != 0)
        return -1;
    for (int i = 0; i < names->nelts; i++) {
        const char *old = APR_ARRAY_IDX(names, i, const char *);
        const char *from = table(s, "", old);
        const char *to = from ? table(s, s->r->new_prefix,
                                      old + strlen(s->r->old_prefix)) : NULL;
        if (!to || vmc_db_exec(s->db, apr_pstrcat(s->p, alter, from, to_word,
                                                  to, NULL), 0, NULL, s->p,
                               s->err) != 0)
            return -1;
    }
    return 0;
}

/* "column starts with the old prefix", the prefix given twice. */
static const char *prefixed(const site *s, const char *column)
{
    return apr_pstrcat(s->p, "left(", column, ", char_length(", arg(s, 1),
                       ")) = ", arg(s, 2), NULL);
}

static int change_prefix(const site *s)
{
    if (strcmp(s->r->old_prefix, s->r->new_prefix) == 0)
        return 0;
    if (!is_pg(s))
        return rename_all(s, apr_pstrcat(s->p, "SELECT TABLE_NAME FROM "
                          "information_schema.TABLES WHERE TABLE_SCHEMA = "
                          "DATABASE() AND ", prefixed(s, "TABLE_NAME"), NULL),
                          "RENAME TABLE ", " TO ");
    return rename_all(s, apr_pstrcat(s->p, "SELECT tablename::text FROM "
                      "pg_tables WHERE schemaname = current_schema() AND ",
                      prefixed(s, "tablename"), NULL), "ALTER TABLE ",
                      " RENAME TO ")
        || rename_all(s, apr_pstrcat(s->p, "SELECT sequence_name::text FROM "
                      "information_schema.sequences WHERE sequence_schema = "
                      "current_schema() AND ", prefixed(s, "sequence_name"),
                      NULL), "ALTER SEQUENCE ", " RENAME TO ") ? -1 : 0;
}

/* The site's own mnet_host row: config mnet_localhost_id, else the row
 * that holds the template's wwwroot. */
static int own_mnet_host(const site *s, const char *config)
{
    const char *mnet = table(s, s->r->new_prefix, "mnet_host"), *id;
    const char *by_id[2], *by_root[2] = {s->r->new_wwwroot, s->r->old_wwwroot};

    if (!mnet || vmc_db_value(s->db, apr_pstrcat(s->p, "SELECT value FROM ",
                              config, " WHERE name = 'mnet_localhost_id'",
                              NULL), 0, NULL, &id, s->p, s->err) != 0)
        return -1;
    by_id[0] = s->r->new_wwwroot;
    by_id[1] = id;
    return vmc_db_exec(s->db, apr_pstrcat(s->p, "UPDATE ", mnet,
                       " SET wwwroot = ", arg(s, 1), " WHERE ",
                       id ? "id = " : "wwwroot = ", arg(s, 2), NULL), 2,
                       id ? by_id : by_root, s->p, s->err);
}

static int site_course(const site *s, const char *column, const char *old,
                       const char *new)
{
    const char *params[2] = {new, old};
    const char *course;

    if (!old || !*old || !new || !*new)
        return 0;
    if (!(course = table(s, s->r->new_prefix, "course")))
        return -1;
    return vmc_db_exec(s->db, apr_pstrcat(s->p, "UPDATE ", course, " SET ",
                       column, " = ", arg(s, 1), " WHERE category = 0 AND ",
                       column, " = ", arg(s, 2), NULL), 2, params, s->p,
                       s->err);
}

static int session_cookie(const site *s, const char *config)
{
    const char *id;

    if (vmc_db_value(s->db, apr_pstrcat(s->p, "SELECT id FROM ", config,
                     " WHERE name = 'sessioncookie'", NULL), 0, NULL, &id,
                     s->p, s->err) != 0)
        return -1;
    return vmc_db_exec(s->db, id
        ? apr_pstrcat(s->p, "UPDATE ", config, " SET value = ", arg(s, 1),
                      " WHERE name = 'sessioncookie'", NULL)
        : apr_pstrcat(s->p, "INSERT INTO ", config, " (name, value) VALUES "
                      "('sessioncookie', ", arg(s, 1), ")", NULL),
        1, &s->r->cookie, s->p, s->err);
}

int vmc_rewrite_site(vm_db *db, const vmc_rewrite *r, apr_pool_t *p,
                     const char **err)
{
    site s = {db, r, p, err};
    const char *config, *ignored;

    if (change_prefix(&s) != 0
        || !(config = table(&s, r->new_prefix, "config")))
        return -1;
    if (vmc_db_exec(db, "BEGIN", 0, NULL, p, err) != 0)
        return -1;
    if (own_mnet_host(&s, config) != 0
        || site_course(&s, "fullname", r->old_name, r->new_name) != 0
        || site_course(&s, "shortname", r->old_shortname,
                       r->new_shortname) != 0
        || session_cookie(&s, config) != 0) {
        vmc_db_exec(db, "ROLLBACK", 0, NULL, p, &ignored);
        return -1;
    }
    return vmc_db_exec(db, "COMMIT", 0, NULL, p, err);
}
