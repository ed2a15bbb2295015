/* argv for pg_dump, pg_restore, mariadb-dump and mariadb.  Every value is
 * one "--option=value" element (a value can never pass for an option), the
 * password travels in the environment only. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "dbadmin.h"
#include "dbtools.h"
#include "spawn.h"

#define ARGV_MAX 24

typedef struct {
    const char *v[ARGV_MAX + 1];
    int n;
} argv_list;

static void add(argv_list *a, const char *s)
{
    if (a->n < ARGV_MAX)
        a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

/* Several fixed arguments, NULL-terminated. */
static void add_all(argv_list *a, ...)
{
    const char *s;
    va_list ap;

    va_start(ap, a);
    while ((s = va_arg(ap, const char *)) != NULL)
        add(a, s);
    va_end(ap);
}

static void add_opt(argv_list *a, const char *opt, const char *value,
                    apr_pool_t *p)
{
    if (value && *value)
        add(a, apr_pstrcat(p, opt, "=", value, NULL));
}

/* dbname as a libpq connection string, so a name holding '=' stays a
 * name: dbname='it''s' with quotes and backslashes escaped. */
static const char *pg_conninfo_dbname(const char *dbname, apr_pool_t *p)
{
    char *out = apr_palloc(p, strlen(dbname) * 2 + 10), *o = out;

    o += sprintf(o, "dbname='");
    for (; *dbname; dbname++) {
        if (*dbname == '\'' || *dbname == '\\')
            *o++ = '\\';
        *o++ = *dbname;
    }
    strcpy(o, "'");
    return out;
}

static void connection(argv_list *a, const vmc_dbconf *c, apr_pool_t *p)
{
    const char *port = c->port ? apr_psprintf(p, "%u", c->port) : NULL;
    int socket = c->host && c->host[0] == '/';

    if (c->pg) {
        add_opt(a, "--host", c->host, p);
        add_opt(a, "--port", port, p);
        add_opt(a, "--username", c->user, p);
        add(a, "--no-password");
    } else {
        add_opt(a, socket ? "--socket" : "--host", c->host, p);
        add_opt(a, "--port", port, p);
        add_opt(a, "--user", c->user, p);
    }
}

static vmc_cmd command(const vmc_dbconf *c, argv_list *a, vmc_progress *pr)
{
    vmc_cmd cmd;

    memset(&cmd, 0, sizeof cmd);
    cmd.argv = a->v;
    cmd.secret_env = c->pg ? "PGPASSWORD" : "MYSQL_PWD";
    cmd.secret = c->pass && *c->pass ? c->pass : NULL;
    cmd.progress = pr;
    return cmd;
}

const char *vmc_dump_file(const vmc_dbconf *c)
{
    return c->pg ? "database.dump" : "database.sql";
}

/* A table left out: pg_dump takes a pattern, where double quotes match
 * the name exactly (a checked name holds no quote); mariadb-dump wants
 * database.table. */
static void add_excluded(argv_list *a, const vmc_dbconf *c, const char *table,
                         apr_pool_t *p)
{
    const char *dot = strchr(table, '.');

    if (!c->pg)
        add_opt(a, "--ignore-table",
                apr_pstrcat(p, c->dbname, ".", table, NULL), p);
    else if (dot)
        add_opt(a, "--exclude-table",
                apr_psprintf(p, "\"%.*s\".\"%s\"", (int)(dot - table), table,
                             dot + 1),
                p);
    else
        add_opt(a, "--exclude-table", apr_pstrcat(p, "\"", table, "\"", NULL),
                p);
}

int vmc_dump(const vmc_dbconf *c, const char *out_path,
             const char *const *exclude, vmc_progress *pr, apr_pool_t *p,
             const char **err)
{
    argv_list a = { { 0 }, 0 };
    vmc_cmd cmd;

    if (c->pg) {
        add_all(&a, "pg_dump", "--format=custom", "--no-owner",
                "--no-privileges", NULL);
        add_opt(&a, "--file", out_path, p);
        connection(&a, c, p);
        add_opt(&a, "--dbname", pg_conninfo_dbname(c->dbname, p), p);
    } else {
        add_all(&a, "mariadb-dump", "--no-defaults", "--single-transaction",
                "--routines", "--hex-blob", NULL);
        add_opt(&a, "--result-file", out_path, p);
        connection(&a, c, p);
    }
    for (; exclude && *exclude; exclude++)
        add_excluded(&a, c, *exclude, p);
    if (!c->pg)
        add_all(&a, "--", c->dbname, NULL);
    cmd = command(c, &a, pr);
    cmd.watch_path = out_path;
    return vmc_spawn(&cmd, p, err);
}

int vmc_load(const vmc_dbconf *c, const char *dbname, const char *dump_path,
             vmc_progress *pr, apr_pool_t *p, const char **err)
{
    argv_list a = { { 0 }, 0 };
    vmc_cmd cmd;

    if (c->pg) {
        add_all(&a, "pg_restore", "--no-owner", "--no-privileges",
                "--exit-on-error", "--single-transaction", NULL);
        connection(&a, c, p);
        add_opt(&a, "--dbname", pg_conninfo_dbname(dbname, p), p);
    } else {
        add_all(&a, "mariadb", "--no-defaults", "--batch", NULL);
        connection(&a, c, p);
        add_opt(&a, "--database", dbname, p);
    }
    cmd = command(c, &a, pr);
    cmd.feed_path = dump_path;
    return vmc_spawn(&cmd, p, err);
}

int vmc_create_and_load(vm_db *server, const vmc_dbconf *c, const char *dbname,
                        const char *template, const char *dump_path,
                        uint64_t size, int *made, apr_pool_t *p,
                        const char **err)
{
    vmc_progress pr;
    int rc;

    if (vmc_dbadmin_create(server, dbname, template, p, err) != 0)
        return -1;
    *made = 1;
    if (template)
        return 0;
    vmc_progress_start(&pr, "load database", size, NULL);
    rc = vmc_load(c, dbname, dump_path, &pr, p, err);
    vmc_progress_end(&pr, rc == 0);
    return rc;
}
