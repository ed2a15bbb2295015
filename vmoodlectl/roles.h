/* A site's own database login (issue 19): one per site, owning its
 * database and nothing else, so that one tenant's credentials open no
 * other site's data.
 *   PostgreSQL: a LOGIN role without CREATEDB or CREATEROLE that owns the
 *   database and every object in it; CONNECT and TEMPORARY taken from
 *   PUBLIC.
 *   MariaDB/MySQL: a user for the client host the server sees (as the web
 *   server, on this machine, connects) or for db-client-host, with every
 *   privilege on that one database ('_' and '%' escaped: no pattern).
 * The password never travels in a statement a server could log: it gets
 * the hash (a SCRAM-SHA-256 verifier; mysql_native_password's).
 *
 * Every function takes the administrative connection to the server
 * (vmc_db_open with no database), which makes and drops logins. */
#ifndef VMOODLECTL_ROLES_H
#define VMOODLECTL_ROLES_H

#include "db.h"

#define VMC_ROLE_NAME_MAX 16 /* VMoodle's vdblogin column */
#define VMC_ROLE_PASS_LEN 32 /* its vdbpass column */

typedef struct {
    const char *name;     /* letters, digits, '_' */
    const char *password; /* generated: VMC_ROLE_PASS_LEN letters, digits */
    const char *host;     /* MySQL: the account's host: db-client-host,
                              else set by create */
    int joined_old;       /* PostgreSQL: the administrative login joined
                              keep_also (vmc_role_give) to hand its
                              objects over; left by release */
} vmc_role;

/* The login a site with database dbname gets: "vm_" and the name's
 * letters and digits, VMC_ROLE_NAME_MAX at most (a longer one: its start
 * and a hash of the whole), and a fresh password.
 * 0, or -1 with *err. */
int vmc_role_new(vmc_role *r, const char *dbname, apr_pool_t *p,
                 const char **err);

/* The db-client-host setting, the host part of each new site's MySQL
 * account (unset: the host the server sees vmoodlectl connect from; web
 * servers on other hosts need it): a host name, an IP address, a netmask
 * (10.0.0.0/255.0.0.0) or a pattern with '%' and '_'.  NULL, or why not. */
const char *vmc_role_host_check(const char *host, apr_pool_t *p);

/* Before anything: the administrative login may make logins, and the
 * name is free.  NULL, or why not. */
const char *vmc_role_check(vm_db *server, const char *name, apr_pool_t *p);

int vmc_role_create(vm_db *server, vmc_role *r, apr_pool_t *p,
                    const char **err);

/* Make the login the database's: PostgreSQL: the administrative login
 * joins it (to hand objects over), the database and each object in it
 * (site connects to that database as the administrative login) get it
 * as owner, PUBLIC loses CONNECT; MySQL: ALL on the database.  keep_also:
 * PostgreSQL, a login that keeps working meanwhile (isolate's old one,
 * made a member), or NULL. */
int vmc_role_give(vm_db *server, vm_db *site, vmc_role *r, const char *dbname,
                  const char *keep_also, apr_pool_t *p, const char **err);

/* Undo of vmc_role_give for a login that owned the database before
 * (isolate's old one): PostgreSQL: the database and its objects back to
 * old, CONNECT back to PUBLIC; MySQL: nothing (old's grants stayed). */
int vmc_role_give_back(vm_db *server, vm_db *site, const char *old,
                       const char *dbname, apr_pool_t *p, const char **err);

/* The end of the hand-over: the administrative login (and keep_also) no
 * longer members (PostgreSQL; nothing on MySQL). */
int vmc_role_release(vm_db *server, const vmc_role *r, const char *keep_also,
                     apr_pool_t *p, const char **err);

/* old loses every privilege of its own on dbname (PostgreSQL: on the
 * database; site: connected to it, on its schemas' tables, sequences and
 * functions; MySQL: the database's grants of every host of old).  *still:
 * set to why old still reaches it (global privileges), else NULL. */
int vmc_role_revoke(vm_db *server, vm_db *site, const char *old,
                    const char *dbname, const char **still, apr_pool_t *p,
                    const char **err);

/* 1 the login exists (MySQL: for any host), 0 not, -1 error. */
int vmc_role_exists(vm_db *server, const char *name, apr_pool_t *p,
                    const char **err);

/* The administrative login's own name (current_user). */
const char *vmc_role_current(vm_db *server, apr_pool_t *p, const char **err);

/* Drop the login (MySQL: every host's account of that name).  PostgreSQL:
 * it must own nothing any more (its database dropped first). */
int vmc_role_drop(vm_db *server, const char *name, apr_pool_t *p,
                  const char **err);

/* Drop dbname: PostgreSQL: when owner (the site's login) owns it and is
 * not the administrative login, that one joins it first (DROP DATABASE
 * is the owner's). */
int vmc_role_drop_database(vm_db *server, const char *owner, const char *dbname,
                           apr_pool_t *p, const char **err);

#endif
