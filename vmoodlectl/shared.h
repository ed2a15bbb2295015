/* What sites may share and destroy must not take from another: a database
 * (VMoodle sites often share one, each with its own prefix, and the
 * instance table lives in the master's) and a dataroot. */
#ifndef VMOODLECTL_SHARED_H
#define VMOODLECTL_SHARED_H

#include "ctl.h"

/* Where a database is, in the table's terms (vdbtype, vdbhost, vdbname). */
typedef struct {
    const char *dbtype, *dbhost, *dbname;
} vmc_place;

/* A row's database, its columns' defaults applied (the row need not be
 * one the module accepts). */
vmc_place vmc_row_place(const vm_row *row);

/* The database holding the instance table, which is the master Moodle's:
 * 1 and *home filled for a database source, 0 for a JSON file. */
int vmc_table_home(const vmc_table *t, vmc_place *home, apr_pool_t *p);

/* The same database on the same server.  Servers are compared as
 * connections see them: host names without case, every loopback name,
 * an empty host and a socket are this machine; a missing port is the
 * default one; a MariaDB socket matches any local port.  An unknown
 * dbtype matches either kind. */
int vmc_same_database(const vmc_place *a, const vmc_place *b, apr_pool_t *p);

/* a and b are the same folder or one lies inside the other (resolved
 * when they exist, else compared as written, repeated and final '/'
 * aside). */
int vmc_paths_overlap(const char *a, const char *b, apr_pool_t *p);

#endif
