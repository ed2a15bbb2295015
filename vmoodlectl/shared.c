/* Whether two sites share a database or a dataroot, and where the master's
 * database is. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <apr_strings.h>
#include "db.h"
#include "shared.h"
#include "vm_source_db.h"

enum { KIND_ANY, KIND_PG, KIND_MY };

static int kind_of(const char *dbtype)
{
    if (!dbtype)
        return KIND_ANY;
    if (!strcasecmp(dbtype, "pgsql") || !strncasecmp(dbtype, "postgres", 8))
        return KIND_PG;
    if (!strcasecmp(dbtype, "mariadb") || !strncasecmp(dbtype, "mysql", 5))
        return KIND_MY;
    return KIND_ANY;
}

static const char *raw(const vm_row *row, vm_field f)
{
    return row->present[f] ? row->value[f] : NULL;
}

vmc_place vmc_row_place(const vm_row *row)
{
    vmc_place pl = { raw(row, VM_F_VDBTYPE), raw(row, VM_F_VDBHOST),
                     raw(row, VM_F_VDBNAME) };
    vm_instance in;
    apr_pool_t *p;

    /* A row the module takes: its columns as the module reads them, with
     * its defaults; otherwise what the row says, an unknown type. */
    apr_pool_create(&p, NULL);
    if (!vm_instance_from_row(&in, row, p))
        pl.dbtype = strcasecmp(in.dbtype, "pgsql") ? "mariadb" : "pgsql";
    else
        pl.dbtype = NULL;
    apr_pool_destroy(p);
    return pl;
}

int vmc_table_home(const vmc_table *t, vmc_place *home, apr_pool_t *p)
{
    int pg = strcmp(t->src->ops->scheme, "pgsql") == 0;
    const vm_source_db *sd = t->src->backend;
    const char *host, *port, *dbname;

    if (!pg && strcmp(t->src->ops->scheme, "mysql") != 0)
        return 0;
    host = vm_db_option(sd->db, pg ? "host" : "socket");
    if (!host)
        host = vm_db_option(sd->db, pg ? "hostaddr" : "host");
    port = vm_db_option(sd->db, "port");
    dbname = vm_db_option(sd->db, "dbname");
    if (!dbname && pg)
        dbname = vm_db_option(sd->db, "user"); /* libpq's default */
    host = host ? host : "";
    if (strchr(host, ':'))
        host = apr_pstrcat(p, "[", host, "]", NULL);
    home->dbtype = pg ? "pgsql" : "mariadb";
    home->dbhost = port && host[0] != '/'
        ? apr_pstrcat(p, host, ":", port, NULL)
        : host;
    home->dbname = dbname;
    return 1;
}

static int loopback(const char *host)
{
    char me[256];

    if (!strcasecmp(host, "localhost") || !strncasecmp(host, "localhost.", 10)
        || !strncmp(host, "127.", 4) || !strcmp(host, "::1")
        || !strcasecmp(host, "ip6-localhost"))
        return 1;
    if (gethostname(me, sizeof me) != 0)
        return 0;
    me[sizeof me - 1] = '\0';
    return strcasecmp(host, me) == 0;
}

typedef struct {
    const char *host; /* lower case, no final '.'; "" for this machine */
    unsigned port;    /* 0: any */
} server;

static server server_of(const char *dbhost, int kind, apr_pool_t *p)
{
    server s = { "", 0 };
    vmc_dbconf c;
    const char *err;
    char *h;
    int socket;

    if (vmc_dbconf_make(&c, kind == KIND_PG ? "pgsql" : "mariadb",
                        dbhost ? dbhost : "", NULL, NULL, NULL, p, &err)) {
        s.host = apr_pstrdup(p, dbhost); /* compared as written */
        return s;
    }
    socket = c.host && c.host[0] == '/';
    if (!socket && c.host && *c.host && !loopback(c.host)) {
        s.host = h = apr_pstrdup(p, c.host);
        for (; *h; h++)
            *h = (char)tolower((unsigned char)*h);
        if (h > s.host && h[-1] == '.')
            h[-1] = '\0';
    }
    /* MySQL's "localhost" is its socket, whatever the port */
    if (kind == KIND_MY && !*s.host && (socket || !c.host || !c.port))
        return s;
    s.port = c.port       ? c.port
        : kind == KIND_PG ? 5432
        : kind == KIND_MY ? 3306
                          : 0;
    return s;
}

int vmc_same_database(const vmc_place *a, const vmc_place *b, apr_pool_t *p)
{
    int ka = kind_of(a->dbtype), kb = kind_of(b->dbtype);
    int kind = ka ? ka : kb;
    server sa, sb;

    if ((ka && kb && ka != kb) || !a->dbname || !b->dbname || !*a->dbname)
        return 0;
    /* MySQL may fold names to lower case: the cautious answer is "same" */
    if (kind == KIND_PG ? strcmp(a->dbname, b->dbname)
                        : strcasecmp(a->dbname, b->dbname))
        return 0;
    sa = server_of(a->dbhost, kind, p);
    sb = server_of(b->dbhost, kind, p);
    return strcmp(sa.host, sb.host) == 0
        && (!sa.port || !sb.port || sa.port == sb.port);
}

/* path resolved (the folder holding it when it does not exist), else as
 * written with repeated and final '/' dropped. */
static const char *normal_path(const char *path, apr_pool_t *p)
{
    char real[PATH_MAX], *out = apr_pstrdup(p, path), *w = out;
    const char *r, *slash;

    if (realpath(path, real))
        return apr_pstrdup(p, real);
    for (r = path; *r; r++)
        if (*r != '/' || w == out || w[-1] != '/')
            *w++ = *r;
    *w = '\0';
    while (w > out + 1 && w[-1] == '/')
        *--w = '\0';
    slash = strrchr(out, '/');
    if (slash && slash > out
        && realpath(apr_pstrndup(p, out, (apr_size_t)(slash - out)), real))
        return apr_pstrcat(p, real, slash, NULL);
    return out;
}

/* a is b or lies inside it. */
static int within(const char *a, const char *b)
{
    size_t n = strlen(b);

    if (n == 1 && b[0] == '/')
        return 1;
    return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

int vmc_paths_overlap(const char *a, const char *b, apr_pool_t *p)
{
    const char *na, *nb;

    if (!a || !b || !*a || !*b)
        return 0;
    na = normal_path(a, p);
    nb = normal_path(b, p);
    return within(na, nb) || within(nb, na);
}
