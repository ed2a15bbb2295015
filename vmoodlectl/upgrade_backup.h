/* upgrade --backup: what upgrade.c and upgrade_to.c call
 * (upgrade_backup.c). */
#ifndef VMOODLECTL_UPGRADE_BACKUP_H
#define VMOODLECTL_UPGRADE_BACKUP_H

#include "backup.h"
#include "fleet.h"

typedef struct {
    int on; /* --backup was given */
    vmc_backup_run run;
    const char *path; /* the site's backup, once made */
} vmc_upgrade_backup;

/* With --backup: --dir checked, ub ready (ub->on); without, ub->on 0.
 * An exit code. */
int vmc_upgrade_backup_init(vmc_opts *o, vmc_table *t, const vmc_job *job,
                            vmc_upgrade_backup *ub);

/* The same, and the site's child kept root (the backup is
 * root's), the site's run kept for Moodle's scripts.  An exit code. */
int vmc_upgrade_backup_prepare(vmc_opts *o, vmc_table *t, vmc_job *job,
                               vmc_upgrade_backup *ub);

/* A Moodle script of the site's upgrade: as the site's run (with
 * --backup, from the root child), else as vmc_fleet_step. */
int vmc_upgrade_step(const vmc_job *job, const vmc_upgrade_backup *ub,
                     const vm_instance *in, const char *script,
                     const char *const *args, int nargs);

/* In maintenance (upgrade: in the site's child): its backup, as
 * ub->run.cli (upgrade --to: the site's old code tree).  0, or -1 with
 * *err. */
int vmc_upgrade_backup_site(vmc_upgrade_backup *ub, const vm_instance *in,
                            apr_pool_t *p, const char **err);

/* "to put it back: vmoodlectl restore PATH" (the failed site's last
 * line, the one its summary shows), or "" without a backup. */
const char *vmc_upgrade_restore_hint(const vmc_upgrade_backup *ub,
                                     apr_pool_t *p);

#endif
