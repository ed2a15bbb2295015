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

/* deploy's, restore's and move's new database: made on server (as the
 * template's copy, PostgreSQL, when template is not NULL; then nothing is
 * loaded), *made set once it exists, the dump (size bytes, or 0) loaded
 * with c, shown as it goes.  0 or -1 with *err. */
int vmc_create_and_load(vm_db *server, const vmc_dbconf *c, const char *dbname,
                        const char *template, const char *dump_path,
                        uint64_t size, int *made, apr_pool_t *p,
                        const char **err);

#endif
