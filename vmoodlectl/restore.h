/* restore: the state of one run, shared by the command (restore.c:
 * checks, lock) and its steps (restore_steps.c). */
#ifndef VMOODLECTL_RESTORE_H
#define VMOODLECTL_RESTORE_H

#include <sys/types.h>
#include "ctl.h"
#include "db.h"
#include "dbowner.h"
#include "lifecycle.h"
#include "manifest.h"
#include "steps.h"
#include "vm_lock.h"

typedef struct {
    vmc_maintenance maint; /* first: the maintenance steps' */
    vmc_opts *o;
    apr_pool_t *p;
    const char *dir, *dump_path; /* the backup */
    vmc_manifest m;
    uint64_t files_checked;
    vmc_table t;
    const vm_instance *in; /* the site as the table has it */
    vm_instance cur;       /* as its CLI must see it now */
    vm_siterun cli;
    vmc_dbconf db;               /* the administrative login's */
    vmc_handover hand;           /* the new database to the site's login */
    vm_db *server;               /* connected while checking */
    const char *new_db, *old_db; /* this run's database names */
    const char *beside;          /* the dataroot copied beside */
    uid_t uid;                   /* the dataroot's owner */
    gid_t gid;
    vm_lock lock;
    /* how far the steps came, for their undo */
    int db_created, copy_made;
    int db_swapped, data_swapped;
} restore;

/* A file of the backup's dataroot as the manifest has it (a
 * vmc_file_seen; ctx: the restore). */
const char *vmc_restore_check_file(void *ctx, const char *rel, uint64_t size,
                                   const char *sha256);

extern const vmc_step vmc_restore_steps[];
extern const int vmc_restore_nsteps;

/* For a command that may restore a site in place later (upgrade --to
 * --backup): restore's checks of the site that need no backup yet
 * (nothing shared, the administrative login may make databases, the
 * dataroot).  NULL, or why not (from o->pool). */
const char *vmc_restore_possible(vmc_opts *o, const vmc_table *t,
                                 const vm_instance *in);

/* restore DIR in place, as the restore command does, for a caller that
 * holds the site's lock: cli runs Moodle's scripts (the site's code
 * tree).  Its lines say what it does and why it failed.  0 when the site
 * was restored and serves; -1 when not (the site as it was before). */
int vmc_restore_in_place(vmc_opts *o, const vm_siterun *cli, const char *dir);

#endif
