/* Rewrite a freshly loaded template database for its new site.  Table
 * names are quoted identifiers; every value is a statement parameter. */
#include <string.h>
#include <apr_strings.h>
#include "rewrite.h"
#include "vm_host.h"

/* What names the template in config values, and what names the new site:
 * wwwroot, dataroot, host:port, host; the longest match wins. */
#define NAMES 4

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
    const char *params[2] = { s->r->old_prefix, s->r->old_prefix };
    apr_array_header_t *names;

    if (vmc_db_column(s->db, list_sql, 2, params, &names, s->p, s->err) != 0)
        return -1;
    for (int i = 0; i < names->nelts; i++) {
        const char *old = APR_ARRAY_IDX(names, i, const char *);
        const char *from = table(s, "", old);
        const char *to = from
            ? table(s, s->r->new_prefix, old + strlen(s->r->old_prefix))
            : NULL;
        if (!to
            || vmc_db_exec(s->db,
                           apr_pstrcat(s->p, alter, from, to_word, to, NULL), 0,
                           NULL, s->p, s->err)
                != 0)
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
        return rename_all(
            s,
            apr_pstrcat(s->p,
                        "SELECT TABLE_NAME FROM "
                        "information_schema.TABLES WHERE TABLE_SCHEMA = "
                        "DATABASE() AND ",
                        prefixed(s, "TABLE_NAME"), NULL),
            "RENAME TABLE ", " TO ");
    return rename_all(
               s,
               apr_pstrcat(s->p,
                           "SELECT tablename::text FROM "
                           "pg_tables WHERE schemaname = current_schema() AND ",
                           prefixed(s, "tablename"), NULL),
               "ALTER TABLE ", " RENAME TO ")
            || rename_all(
                s,
                apr_pstrcat(
                    s->p,
                    "SELECT sequence_name::text FROM "
                    "information_schema.sequences WHERE sequence_schema = "
                    "current_schema() AND ",
                    prefixed(s, "sequence_name"), NULL),
                "ALTER SEQUENCE ", " RENAME TO ")
        ? -1
        : 0;
}

/* The site's own mnet_host row: config mnet_localhost_id, else the row
 * that holds the template's wwwroot. */
static int own_mnet_host(const site *s, const char *config)
{
    const char *mnet = table(s, s->r->new_prefix, "mnet_host"), *id;
    const char *by_id[2],
        *by_root[2] = { s->r->new_wwwroot, s->r->old_wwwroot };

    if (!mnet
        || vmc_db_value(s->db,
                        apr_pstrcat(s->p, "SELECT value FROM ", config,
                                    " WHERE name = 'mnet_localhost_id'", NULL),
                        0, NULL, &id, s->p, s->err)
            != 0)
        return -1;
    by_id[0] = s->r->new_wwwroot;
    by_id[1] = id;
    return vmc_db_exec(s->db,
                       apr_pstrcat(s->p, "UPDATE ", mnet,
                                   " SET wwwroot = ", arg(s, 1), " WHERE ",
                                   id ? "id = " : "wwwroot = ", arg(s, 2),
                                   NULL),
                       2, id ? by_id : by_root, s->p, s->err);
}

/* The site course (category 0, SITEID): the new site's names. */
static int site_course(const site *s, const char *column, const char *value)
{
    const char *course;

    if (!value || !*value)
        return 0;
    if (!(course = table(s, s->r->new_prefix, "course")))
        return -1;
    return vmc_db_exec(s->db,
                       apr_pstrcat(s->p, "UPDATE ", course, " SET ", column,
                                   " = ", arg(s, 1), " WHERE category = 0",
                                   NULL),
                       1, &value, s->p, s->err);
}

/* A core setting, inserted when the template has none. */
static int set_config(const site *s, const char *config, const char *name,
                      const char *value)
{
    const char *params[2] = { value, name };
    const char *id;

    if (vmc_db_value(s->db,
                     apr_pstrcat(s->p, "SELECT id FROM ", config,
                                 " WHERE name = ", arg(s, 1), NULL),
                     1, &name, &id, s->p, s->err)
        != 0)
        return -1;
    return vmc_db_exec(s->db,
                       id ? apr_pstrcat(s->p, "UPDATE ", config,
                                        " SET value = ", arg(s, 1),
                                        " WHERE name = ", arg(s, 2), NULL)
                          : apr_pstrcat(s->p, "INSERT INTO ", config,
                                        " (value, name) VALUES (", arg(s, 1),
                                        ", ", arg(s, 2), ")", NULL),
                       2, params, s->p, s->err);
}

/* The host of a URL without its port ("[::1]" kept whole). */
static const char *host_of(const vm_url *u, apr_pool_t *p)
{
    const char *colon = strrchr(u->key, ':');

    return u->port && colon
        ? apr_pstrndup(p, u->key, (apr_size_t)(colon - u->key))
        : apr_pstrdup(p, u->key);
}

/* names[0..NAMES) of a site: wwwroot, dataroot, host:port, host. */
static int site_names(const site *s, const char *wwwroot, const char *dataroot,
                      const char **names)
{
    vm_url u;
    const char *why = vm_host_parse_url(wwwroot, &u);

    if (why) {
        *s->err = apr_psprintf(s->p, "wwwroot %s: %s", wwwroot, why);
        return -1;
    }
    names[0] = apr_pstrdup(s->p, u.wwwroot);
    names[1] = dataroot ? dataroot : "";
    names[2] = u.port ? apr_pstrdup(s->p, u.key) : "";
    names[3] = host_of(&u, s->p);
    return 0;
}

/* Every value of table name (config, config_plugins) that holds the
 * template's host or dataroot, with the template's names made the site's. */
static int own_values(const site *s, const char *name, const char *const *from,
                      const char *const *to)
{
    const char *t = table(s, s->r->new_prefix, name);
    const char *find[2] = { from[3], *from[1] ? from[1] : from[3] };
    vm_db_result res;

    if (!t
        || vm_db_run(s->db,
                     apr_pstrcat(s->p, "SELECT id, value FROM ", t,
                                 " WHERE POSITION(", arg(s, 1),
                                 " IN value) > 0 OR "
                                 "POSITION(",
                                 arg(s, 2), " IN value) > 0", NULL),
                     2, find, &res, s->p, s->err)
            != VM_OK)
        return -1;
    for (int i = 0; i < res.rows; i++) {
        const char *value = vm_db_value(&res, i, 1);
        const char *set[2] = { NULL, vm_db_value(&res, i, 0) };
        if (!value || !set[1])
            continue;
        set[0] = vmc_replace_all(value, NAMES, from, to, s->p);
        if (strcmp(set[0], value) != 0
            && vmc_db_exec(s->db,
                           apr_pstrcat(s->p, "UPDATE ", t, " SET value = ",
                                       arg(s, 1), " WHERE id = ",
                                       vm_db_int_param(s->db, 2, s->p), NULL),
                           2, set, s->p, s->err)
                != 0)
            return -1;
    }
    return 0;
}

static int own_config(const site *s)
{
    const char *from[NAMES], *to[NAMES];

    if (site_names(s, s->r->old_wwwroot, s->r->old_dataroot, from) != 0
        || site_names(s, s->r->new_wwwroot, s->r->new_dataroot, to) != 0)
        return -1;
    return own_values(s, "config", from, to)
            || own_values(s, "config_plugins", from, to)
        ? -1
        : 0;
}

/* Index of the longest pattern at text, or -1. */
static int match_at(const char *text, int n, const char *const *from,
                    size_t *len)
{
    int best = -1;

    *len = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(from[i]);
        if (l > *len && strncmp(text, from[i], l) == 0) {
            best = i;
            *len = l;
        }
    }
    return best;
}

const char *vmc_replace_all(const char *text, int n, const char *const *from,
                            const char *const *to, apr_pool_t *p)
{
    size_t out_len = 0, len;
    const char *c;
    char *out, *w;
    int k;

    for (c = text; *c; c += len ? len : 1) {
        k = match_at(c, n, from, &len);
        out_len += k < 0 ? 1 : strlen(to[k]);
    }
    w = out = apr_palloc(p, out_len + 1);
    for (c = text; *c; c += len ? len : 1) {
        if ((k = match_at(c, n, from, &len)) < 0) {
            *w++ = *c;
            continue;
        }
        memcpy(w, to[k], strlen(to[k]));
        w += strlen(to[k]);
    }
    *w = '\0';
    return out;
}

int vmc_rewrite_config(vm_db *db, const vmc_rewrite *r, apr_pool_t *p,
                       const char **err)
{
    site s = { db, r, p, err };
    const char *ignored;

    if (vmc_db_exec(db, "BEGIN", 0, NULL, p, err) != 0)
        return -1;
    if (own_config(&s) != 0) {
        vmc_db_exec(db, "ROLLBACK", 0, NULL, p, &ignored);
        return -1;
    }
    return vmc_db_exec(db, "COMMIT", 0, NULL, p, err);
}

int vmc_rewrite_site(vm_db *db, const vmc_rewrite *r, apr_pool_t *p,
                     const char **err)
{
    site s = { db, r, p, err };
    const char *config, *ignored;

    if (change_prefix(&s) != 0
        || !(config = table(&s, r->new_prefix, "config")))
        return -1;
    if (vmc_db_exec(db, "BEGIN", 0, NULL, p, err) != 0)
        return -1;
    if (own_mnet_host(&s, config) != 0
        || site_course(&s, "fullname", r->new_name) != 0
        || site_course(&s, "shortname", r->new_shortname) != 0
        || set_config(&s, config, "sessioncookie", r->cookie) != 0
        || set_config(&s, config, "siteidentifier", r->siteidentifier) != 0
        || own_config(&s) != 0) {
        vmc_db_exec(db, "ROLLBACK", 0, NULL, p, &ignored);
        return -1;
    }
    return vmc_db_exec(db, "COMMIT", 0, NULL, p, err);
}
