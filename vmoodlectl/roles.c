/* A site's own database login, see roles.h.  Names are quoted by the SQL
 * layer (or checked to be plain before being quoted here); values go as
 * parameters; the statements that hand a database's objects over are
 * written by the server itself from its catalog (format's %I). */
#include <ctype.h>
#include <string.h>
#include <apr_base64.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include "roles.h"
#include "vm_hash.h"
#include "vm_text.h"
#include "util.h"

#define SCRAM_ITERATIONS 4096
#define SCRAM_SALT 16

static int is_pg(const vm_db *db)
{
    return vm_db_kind_of(db) == VM_DB_PGSQL;
}

static int fail(const char **err, const char *why)
{
    *err = why;
    return -1;
}

/* Only these characters may be pasted between quotes below. */
static int plain(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return 0;
    return 1;
}

int vmc_role_new(vmc_role *r, const char *dbname, apr_pool_t *p,
                 const char **err)
{
    char *name = apr_pstrcat(p, "vm_",
                             strncmp(dbname, "vm_", 3) == 0 ? dbname + 3
                                                            : dbname,
                             NULL),
         *c;

    for (c = name; *c; c++)
        *c = isalnum((unsigned char)*c) ? (char)tolower((unsigned char)*c)
                                        : '_';
    if (strlen(name) > VMC_ROLE_NAME_MAX) /* the start, and the whole's hash */
        apr_snprintf(name + VMC_ROLE_NAME_MAX - 7, 8, "_%06x",
                     (unsigned)(vm_hash_key(dbname, strlen(dbname))
                                & 0xffffff));
    memset(r, 0, sizeof *r);
    r->name = name;
    r->password = vmc_random_text(VMC_ROLE_PASS_LEN, p, err);
    return r->password ? 0 : -1;
}

static const char *b64(const unsigned char *data, int len, apr_pool_t *p)
{
    char *out = apr_palloc(p, (apr_size_t)apr_base64_encode_len(len));

    apr_base64_encode(out, (const char *)data, len);
    return out;
}

/* What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5803): the
 * password itself never reaches the server.  Generated passwords are
 * ASCII letters and digits, which SASLprep leaves as they are. */
static const char *scram_verifier(const char *password, apr_pool_t *p)
{
    unsigned char salt[SCRAM_SALT], salted[32], client[32], stored[32];
    unsigned char server[32];
    unsigned int len = 32;

    if (RAND_bytes(salt, sizeof salt) != 1
        || !PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt,
                              sizeof salt, SCRAM_ITERATIONS, EVP_sha256(), 32,
                              salted)
        || !HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key",
                 10, client, &len)
        || !HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Server Key",
                 10, server, &len))
        return NULL;
    SHA256(client, 32, stored);
    return apr_psprintf(p, "SCRAM-SHA-256$%d:%s$%s:%s", SCRAM_ITERATIONS,
                        b64(salt, sizeof salt, p), b64(stored, 32, p),
                        b64(server, 32, p));
}

/* mysql_native_password's stored form: "*" and SHA1(SHA1(password)). */
static const char *mysql_hash(const char *password, apr_pool_t *p)
{
    unsigned char once[20], twice[20];
    char *out = apr_palloc(p, 42);

    if (!EVP_Digest(password, strlen(password), once, NULL, EVP_sha1(), NULL)
        || !EVP_Digest(once, sizeof once, twice, NULL, EVP_sha1(), NULL))
        return NULL;
    out[0] = '*';
    for (int i = 0; i < 20; i++)
        apr_snprintf(out + 1 + 2 * i, 3, "%02X", twice[i]);
    return out;
}

#define HOST_CHARS ".:-_%/" /* names, addresses, netmasks, patterns */
#define HOST_MAX 255        /* MariaDB's mysql.user Host */

const char *vmc_role_host_check(const char *host, apr_pool_t *p)
{
    if (host && (!*host || strlen(host) > HOST_MAX || !plain(host, HOST_CHARS)))
        return apr_psprintf(p,
                            "db-client-host '%s': a host name, an IP "
                            "address, a netmask (a.b.c.d/m.m.m.m) or a "
                            "pattern with %% and _, at most %d characters",
                            vm_text_visible(host, p), HOST_MAX);
    return NULL;
}

/* 'name'@'host' for MySQL statements (both checked plain). */
static const char *account(const char *name, const char *host, apr_pool_t *p)
{
    if (!plain(name, "_") || !plain(host, HOST_CHARS))
        return NULL;
    return apr_psprintf(p, "'%s'@'%s'", name, host);
}

/* A MySQL database name in a GRANT: '_' and '%' are patterns there. */
static const char *grant_db(vm_db *server, const char *dbname, apr_pool_t *p)
{
    const char *q = vm_db_ident(server, dbname, p);
    char *out, *w;

    if (!q)
        return NULL;
    out = w = apr_palloc(p, strlen(q) * 2 + 1);
    for (; *q; q++) {
        if (*q == '_' || *q == '%')
            *w++ = '\\';
        *w++ = *q;
    }
    *w = '\0';
    return out;
}

int vmc_role_exists(vm_db *server, const char *name, apr_pool_t *p,
                    const char **err)
{
    const char
        *sql = apr_pstrcat(p,
                           is_pg(server)
                               ? "SELECT rolname FROM pg_roles WHERE rolname = "
                               : "SELECT User FROM mysql.user WHERE User = ",
                           vm_db_param(server, 1, p), NULL),
        *found;

    if (vmc_db_value(server, sql, 1, &name, &found, p, err) != 0)
        return -1;
    return found != NULL;
}

const char *vmc_role_current(vm_db *server, apr_pool_t *p, const char **err)
{
    const char *me;

    if (vmc_db_value(server,
                     is_pg(server)
                         ? "SELECT current_user::text"
                         : "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)",
                     0, NULL, &me, p, err)
        != 0)
        return NULL;
    return me ? me : "";
}

const char *vmc_role_check(vm_db *server, const char *name, apr_pool_t *p)
{
    const char *can, *err, *me = vmc_role_current(server, p, &err);
    int exists;

    if (!me)
        return err;
    if (vmc_db_value(
            server,
            is_pg(server)
                ? "SELECT (rolcreaterole OR rolsuper)::text FROM pg_roles "
                  "WHERE rolname = current_user"
                : "SELECT IF(COUNT(*) > 0, 'true', 'false') FROM "
                  "information_schema.USER_PRIVILEGES WHERE GRANTEE = "
                  "CONCAT('''', REPLACE(CURRENT_USER(), '@', '''@'''), '''') "
                  "AND PRIVILEGE_TYPE = 'CREATE USER' AND IS_GRANTABLE = 'YES'",
            0, NULL, &can, p, &err)
        != 0)
        return err;
    if (!can || strcmp(can, "true") != 0)
        return apr_psprintf(p,
                            "%s may not make logins for the sites (%s): "
                            "give an administrative login "
                            "(--admin-dbuser, --admin-dbpass-file)",
                            me,
                            is_pg(server) ? "CREATEROLE"
                                          : "CREATE USER, GRANT OPTION");
    if ((exists = vmc_role_exists(server, name, p, &err)) != 0)
        return exists < 0
            ? err
            : apr_psprintf(p, "a login named %s already exists", name);
    return NULL;
}

static int pg_create(vm_db *server, vmc_role *r, apr_pool_t *p,
                     const char **err)
{
    const char *q = vm_db_ident(server, r->name, p);
    const char *secret = scram_verifier(r->password, p);

    if (!q || !secret || !plain(secret, "-$:+/="))
        return fail(err, "cannot make the login's password verifier");
    return vmc_db_exec(
        server,
        apr_pstrcat(p, "CREATE ROLE ", q,
                    " LOGIN "
                    "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                    "PASSWORD '",
                    secret, "'", NULL),
        0, NULL, p, err);
}

/* The account is for db-client-host when set, else for the host the
 * server sees this connection from: the web server, on this machine,
 * connects the same way. */
static int my_create(vm_db *server, vmc_role *r, apr_pool_t *p,
                     const char **err)
{
    const char *host = r->host, *who, *hash = mysql_hash(r->password, p);

    if (!host
        && vmc_db_value(server, "SELECT SUBSTRING_INDEX(USER(), '@', -1)", 0,
                        NULL, &host, p, err)
            != 0)
        return -1;
    if (!host || !(who = account(r->name, host, p)) || !hash)
        return fail(err, "cannot tell the client host this server sees");
    r->host = host;
    return vmc_db_exec(server,
                       apr_pstrcat(p, "CREATE USER ", who,
                                   " IDENTIFIED BY PASSWORD '", hash, "'",
                                   NULL),
                       0, NULL, p, err);
}

int vmc_role_create(vm_db *server, vmc_role *r, apr_pool_t *p, const char **err)
{
    return is_pg(server) ? pg_create(server, r, p, err)
                         : my_create(server, r, p, err);
}

/* Every statement the server writes for sql (one per row), run on db. */
static int run_written(vm_db *db, const char *sql, const char *param,
                       apr_pool_t *p, const char **err)
{
    apr_array_header_t *stmts;

    if (vmc_db_column(db, sql, 1, &param, &stmts, p, err) != 0)
        return -1;
    for (int i = 0; i < stmts->nelts; i++)
        if (vmc_db_exec(db, APR_ARRAY_IDX(stmts, i, const char *), 0, NULL, p,
                        err)
            != 0)
            return -1;
    return 0;
}

#define PG_USER_SCHEMA(col) \
    "(" col " <> 'information_schema' AND " col " NOT LIKE 'pg\\_%')"
#define PG_NOT_EXTENSION(oid)                                    \
    "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.objid = " oid \
    " AND e.deptype = 'e')"

/* ALTER ... OWNER TO $1 for every object of the database's own schemas
 * that $1 does not own: relations (a serial's or identity's sequence goes
 * with its table), routines, types of their own, schemas. */
/* SQL with macros pasted in, laid out by hand: */
/* clang-format off */
static const char pg_hand_over[] =
    "SELECT format('ALTER %s %I.%I OWNER TO %I', CASE c.relkind "
    "WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN "
    "'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, "
    "n.nspname, c.relname, $1::text) FROM pg_class c JOIN pg_namespace n "
    "ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','S','f') "
    "AND " PG_USER_SCHEMA("n.nspname") " AND " PG_NOT_EXTENSION("c.oid")
    " AND pg_get_userbyid(c.relowner)::text <> $1::text AND NOT (c.relkind "
    "= 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
    "'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a','i'))) "
    "UNION ALL SELECT format('ALTER ROUTINE %I.%I(%s) OWNER TO %I', "
    "n.nspname, f.proname, pg_get_function_identity_arguments(f.oid), "
    "$1::text) FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace "
    "WHERE " PG_USER_SCHEMA("n.nspname") " AND " PG_NOT_EXTENSION("f.oid")
    " AND pg_get_userbyid(f.proowner)::text <> $1::text "
    "UNION ALL SELECT format('ALTER TYPE %I.%I OWNER TO %I', n.nspname, "
    "t.typname, $1::text) FROM pg_type t JOIN pg_namespace n ON n.oid = "
    "t.typnamespace WHERE t.typtype IN ('e','d','r','m') AND "
    PG_USER_SCHEMA("n.nspname") " AND " PG_NOT_EXTENSION("t.oid")
    " AND pg_get_userbyid(t.typowner)::text <> $1::text "
    "UNION ALL SELECT format('ALTER SCHEMA %I OWNER TO %I', nspname, "
    "$1::text) FROM pg_namespace WHERE " PG_USER_SCHEMA("nspname")
    " AND pg_get_userbyid(nspowner)::text NOT IN ($1::text, "
    "'pg_database_owner')";
/* clang-format on */

/* The administrative login joins old (when not already one of it) to
 * hand old's objects over. */
static int pg_join(vm_db *server, vmc_role *r, const char *old,
                   const char *qold, apr_pool_t *p, const char **err)
{
    const char *member;

    if (vmc_db_value(server,
                     "SELECT pg_has_role(current_user, $1, "
                     "'MEMBER')::text",
                     1, &old, &member, p, err)
        != 0)
        return -1;
    if (member && strcmp(member, "true") == 0)
        return 0;
    r->joined_old = 1;
    return vmc_db_exec(server,
                       apr_pstrcat(p, "GRANT ", qold, " TO CURRENT_USER", NULL),
                       0, NULL, p, err);
}

static int pg_give(vm_db *server, vm_db *site, vmc_role *r, const char *dbname,
                   const char *keep_also, apr_pool_t *p, const char **err)
{
    const char *q = vm_db_ident(server, r->name, p);
    const char *qdb = vm_db_ident(server, dbname, p);
    const char *qkeep = keep_also ? vm_db_ident(server, keep_also, p) : NULL;

    if (!q || !qdb || (keep_also && !qkeep))
        return fail(err, "a login or database name that cannot be quoted");
    if (vmc_db_exec(server,
                    apr_pstrcat(p, "GRANT ", q, " TO CURRENT_USER", NULL), 0,
                    NULL, p, err)
            != 0
        || (qkeep
            && vmc_db_exec(server,
                           apr_pstrcat(p, "GRANT ", q, " TO ", qkeep, NULL), 0,
                           NULL, p, err)
                != 0)
        || (qkeep && pg_join(server, r, keep_also, qkeep, p, err) != 0)
        || vmc_db_exec(server,
                       apr_pstrcat(p, "ALTER DATABASE ", qdb, " OWNER TO ", q,
                                   NULL),
                       0, NULL, p, err)
            != 0
        || run_written(site, pg_hand_over, r->name, p, err) != 0)
        return -1;
    return vmc_db_exec(server,
                       apr_pstrcat(p,
                                   "REVOKE CONNECT, TEMPORARY ON "
                                   "DATABASE ",
                                   qdb, " FROM PUBLIC", NULL),
                       0, NULL, p, err);
}

int vmc_role_give(vm_db *server, vm_db *site, vmc_role *r, const char *dbname,
                  const char *keep_also, apr_pool_t *p, const char **err)
{
    const char *who, *db;

    if (is_pg(server))
        return pg_give(server, site, r, dbname, keep_also, p, err);
    if (!(who = account(r->name, r->host ? r->host : "", p))
        || !(db = grant_db(server, dbname, p)))
        return fail(err, "a login or database name that cannot be quoted");
    return vmc_db_exec(server,
                       apr_pstrcat(p, "GRANT ALL PRIVILEGES ON ", db, ".* TO ",
                                   who, NULL),
                       0, NULL, p, err);
}

int vmc_role_give_back(vm_db *server, vm_db *site, const char *old,
                       const char *dbname, apr_pool_t *p, const char **err)
{
    const char *q = vm_db_ident(server, old, p);
    const char *qdb = vm_db_ident(server, dbname, p);

    if (!is_pg(server))
        return 0;
    if (!q || !qdb)
        return fail(err, "a login or database name that cannot be quoted");
    if (vmc_db_exec(server,
                    apr_pstrcat(p, "ALTER DATABASE ", qdb, " OWNER TO ", q,
                                NULL),
                    0, NULL, p, err)
            != 0
        || run_written(site, pg_hand_over, old, p, err) != 0)
        return -1;
    return vmc_db_exec(server,
                       apr_pstrcat(p,
                                   "GRANT CONNECT, TEMPORARY ON "
                                   "DATABASE ",
                                   qdb, " TO PUBLIC", NULL),
                       0, NULL, p, err);
}

int vmc_role_release(vm_db *server, const vmc_role *r, const char *keep_also,
                     apr_pool_t *p, const char **err)
{
    const char *q, *qkeep;

    if (!is_pg(server))
        return 0;
    q = vm_db_ident(server, r->name, p);
    qkeep = keep_also ? vm_db_ident(server, keep_also, p) : NULL;
    if (!q || (keep_also && !qkeep))
        return fail(err, "a login name that cannot be quoted");
    if (qkeep
        && vmc_db_exec(server,
                       apr_pstrcat(p, "REVOKE ", q, " FROM ", qkeep, NULL), 0,
                       NULL, p, err)
            != 0)
        return -1;
    if (r->joined_old
        && vmc_db_exec(server,
                       apr_pstrcat(p, "REVOKE ", qkeep, " FROM CURRENT_USER",
                                   NULL),
                       0, NULL, p, err)
            != 0)
        return -1;
    return vmc_db_exec(server,
                       apr_pstrcat(p, "REVOKE ", q, " FROM CURRENT_USER", NULL),
                       0, NULL, p, err);
}

/* REVOKE ALL ON <every kind> IN SCHEMA <each> FROM $1, written by the
 * server. */
/* SQL with macros pasted in, laid out by hand: */
/* clang-format off */
static const char pg_revoke_objects[] =
    "SELECT format('REVOKE ALL ON ALL %s IN SCHEMA %I FROM %I', k, nspname, "
    "$1::text) FROM pg_namespace, (VALUES ('TABLES'), ('SEQUENCES'), "
    "('ROUTINES')) AS kinds(k) WHERE " PG_USER_SCHEMA("nspname")
    " UNION ALL SELECT format('REVOKE ALL ON SCHEMA %I FROM %I', nspname, "
    "$1::text) FROM pg_namespace WHERE " PG_USER_SCHEMA("nspname");
/* clang-format on */

static int pg_revoke(vm_db *server, vm_db *site, const char *old,
                     const char *dbname, const char **still, apr_pool_t *p,
                     const char **err)
{
    const char *q = vm_db_ident(server, old, p);
    const char *qdb = vm_db_ident(server, dbname, p), *super;

    if (!q || !qdb)
        return fail(err, "a login or database name that cannot be quoted");
    if (run_written(site, pg_revoke_objects, old, p, err) != 0
        || vmc_db_exec(server,
                       apr_pstrcat(p, "REVOKE ALL ON DATABASE ", qdb, " FROM ",
                                   q, NULL),
                       0, NULL, p, err)
            != 0
        || vmc_db_value(server,
                        "SELECT rolsuper::text FROM pg_roles WHERE "
                        "rolname = $1",
                        1, &old, &super, p, err)
            != 0)
        return -1;
    *still = super && strcmp(super, "true") == 0
        ? apr_psprintf(p, "%s is a superuser", old)
        : NULL;
    return 0;
}

/* Every host's grants of old on the database (as stored, escaped or
 * not), then whether old has privileges on every database. */
static int my_revoke(vm_db *server, const char *old, const char *dbname,
                     const char **still, apr_pool_t *p, const char **err)
{
    const char *params[3] = { old, dbname, grant_db(server, dbname, p) };
    const char *global;
    vm_db_result res;

    if (!params[2])
        return fail(err, "a database name that cannot be quoted");
    params[2] = apr_pstrndup(p, params[2] + 1, strlen(params[2]) - 2);
    if (vm_db_run(server,
                  "SELECT Host, Db FROM mysql.db WHERE User = ? AND "
                  "(Db = ? OR Db = ?)",
                  3, params, &res, p, err)
        != VM_OK)
        return -1;
    for (int i = 0; i < res.rows; i++) {
        const char *who = account(old, vm_db_value(&res, i, 0), p);
        const char *db = vm_db_value(&res, i, 1);
        if (!who || !plain(db, "_$-\\%"))
            return fail(err, "a grant whose names cannot be quoted");
        if (vmc_db_exec(server,
                        apr_pstrcat(p, "REVOKE ALL PRIVILEGES ON `", db,
                                    "`.* FROM ", who, NULL),
                        0, NULL, p, err)
            != 0)
            return -1;
    }
    if (vmc_db_value(server,
                     "SELECT Host FROM mysql.user WHERE User = ? AND "
                     "Select_priv = 'Y' LIMIT 1",
                     1, &old, &global, p, err)
        != 0)
        return -1;
    *still = global ? apr_psprintf(p,
                                   "%s has privileges on every database "
                                   "(global grants, host %s)",
                                   old, global)
                    : NULL;
    return 0;
}

int vmc_role_revoke(vm_db *server, vm_db *site, const char *old,
                    const char *dbname, const char **still, apr_pool_t *p,
                    const char **err)
{
    return is_pg(server) ? pg_revoke(server, site, old, dbname, still, p, err)
                         : my_revoke(server, old, dbname, still, p, err);
}

int vmc_role_drop(vm_db *server, const char *name, apr_pool_t *p,
                  const char **err)
{
    apr_array_header_t *hosts;
    const char *q;

    if (is_pg(server)) {
        if (!(q = vm_db_ident(server, name, p)))
            return fail(err, "a login name that cannot be quoted");
        return vmc_db_exec(server,
                           apr_pstrcat(p, "DROP ROLE IF EXISTS ", q, NULL), 0,
                           NULL, p, err);
    }
    if (vmc_db_column(server, "SELECT Host FROM mysql.user WHERE User = ?", 1,
                      &name, &hosts, p, err)
        != 0)
        return -1;
    for (int i = 0; i < hosts->nelts; i++) {
        const char *who = account(name, APR_ARRAY_IDX(hosts, i, const char *),
                                  p);
        if (!who)
            return fail(err, "an account whose host cannot be quoted");
        if (vmc_db_exec(server, apr_pstrcat(p, "DROP USER ", who, NULL), 0,
                        NULL, p, err)
            != 0)
            return -1;
    }
    return 0;
}

int vmc_role_drop_database(vm_db *server, const char *owner, const char *dbname,
                           apr_pool_t *p, const char **err)
{
    const char *q = vm_db_ident(server, owner, p);
    const char *qdb = vm_db_ident(server, dbname, p), *has = NULL, *me = "";

    if (!q || !qdb)
        return fail(err, "a login or database name that cannot be quoted");
    if (is_pg(server)
        && (vmc_db_value(server,
                         "SELECT pg_get_userbyid(datdba)::text FROM "
                         "pg_database WHERE datname = $1",
                         1, &dbname, &has, p, err)
                != 0
            || !(me = vmc_role_current(server, p, err))))
        return -1;
    /* the site's own login owns it: join it to drop it */
    if (is_pg(server) && has && strcmp(has, owner) == 0
        && strcmp(me, owner) != 0
        && vmc_db_exec(server,
                       apr_pstrcat(p, "GRANT ", q, " TO CURRENT_USER", NULL), 0,
                       NULL, p, err)
            != 0)
        return -1;
    return vmc_db_exec(server, apr_pstrcat(p, "DROP DATABASE ", qdb, NULL), 0,
                       NULL, p, err);
}
