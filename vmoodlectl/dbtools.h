/* The database tools behind snapshot and deploy: dump a database to a
 * file, load a dump into a database.  PostgreSQL: pg_dump custom format and
 * pg_restore; MariaDB/MySQL: mariadb-dump and the mariadb client. */
#ifndef VMOODLECTL_DBTOOLS_H
#define VMOODLECTL_DBTOOLS_H

#include "db.h"
#include "progress.h"

/* File name of the dump inside a template. */
const char *vmc_dump_file(const vmc_dbconf *c);

/* exclude: tables left out of the dump, NULL-terminated (or NULL); names
 * checked with vm_db_table_check, "schema.table" on PostgreSQL. */
int vmc_dump(const vmc_dbconf *c, const char *out_path,
             const char *const *exclude, vmc_progress *pr, apr_pool_t *p,
             const char **err);

/* Load dump_path into the existing, empty database dbname. */
int vmc_load(const vmc_dbconf *c, const char *dbname, const char *dump_path,
             vmc_progress *pr, apr_pool_t *p, const char **err);

#endif
