/* move: the state of one run, shared by the command (move.c: checks), its
 * steps (move_steps.c) and the record of the old copies that --cleanup
 * removes (move_cleanup.c). */
#ifndef VMOODLECTL_MOVE_H
#define VMOODLECTL_MOVE_H

#include <sys/types.h>
#include "ctl.h"
#include "dbowner.h"
#include "db.h"
#include "lifecycle.h"
#include "roles.h"
#include "steps.h"

typedef struct {
    vmc_maintenance maint; /* first: the maintenance steps' */
    vmc_opts *o;
    apr_pool_t *p;
    vmc_table t;
    const vm_instance *in; /* where the site is */
    vm_instance to;        /* where it goes */
    vm_row row;            /* its row there */
    vmc_dbconf from_db, to_db;
    vmc_dbconf admin_db; /* makes the new database (dbowner.h) */
    vmc_handover hand;   /* which the site's login is given */
    vmc_role login;      /* the site's login, made on a new server */
    vm_db *server;       /* the new database's server, as admin_db */
    vm_siterun cli;
    const char *version;   /* Moodle's, read before the copy */
    uint64_t bytes, files; /* the dataroot, runtime files left out */
    uid_t uid;             /* the dataroot's owner */
    gid_t gid;
    const char *work, *record; /* the dump's folder; the record */
    int same_db, same_data;
    int login_needed; /* the new server has no such login yet */
    int login_made, work_made, db_made, data_made, row_saved, record_made;
} move_run;

extern const vmc_step vmc_move_steps[];
extern const int vmc_move_nsteps;

/* lock-dir/<id>.moved: the old place of a moved site until --cleanup. */
const char *vmc_move_record_path(const vmc_opts *o, const vm_instance *in,
                                 apr_pool_t *p);
/* Write it for m (0600, new): 0 or -1 with *err. */
int vmc_move_record_write(const move_run *m, const char **err);
/* move HOST --cleanup: the old copies removed unless a row still uses
 * them; an exit code. */
int vmc_move_cleanup(vmc_opts *o, vmc_table *t, const vm_instance *in);

#endif
