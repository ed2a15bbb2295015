/* Databases as a whole: exists, create (PostgreSQL: optionally as a copy
 * of a template database), drop; and the template database a snapshot may
 * keep on a PostgreSQL server so deploys there are a file-level copy. */
#ifndef VMOODLECTL_DBADMIN_H
#define VMOODLECTL_DBADMIN_H

#include "db.h"
#include "manifest.h"

/* server: a connection to the server (vmc_db_open with no dbname).
 * 1 exists, 0 not, -1 error. */
int vmc_dbadmin_exists(vm_db *server, const char *name, apr_pool_t *p,
                       const char **err);
/* PostgreSQL: the login may create databases (CREATEDB or superuser).
 * MySQL: 1, its grants are left to CREATE DATABASE.  1, 0, or -1. */
int vmc_dbadmin_can_create(vm_db *server, apr_pool_t *p, const char **err);
/* template NULL: an empty database.  0 or -1. */
int vmc_dbadmin_create(vm_db *server, const char *name, const char *template,
                       apr_pool_t *p, const char **err);
int vmc_dbadmin_drop(vm_db *server, const char *name, apr_pool_t *p,
                     const char **err);

/* Restore the template's dump into a new database on the source server,
 * marked as a template; sets m->pg_template_db and m->pg_server. */
int vmc_pgtemplate_make(const vmc_dbconf *c, vmc_manifest *m,
                        const char *work_dir, apr_pool_t *p, const char **err);
int vmc_pgtemplate_drop(const vmc_dbconf *c, const char *name, apr_pool_t *p,
                        const char **err);

#endif
