/* One site's backup (backup.c), for backup SITES and for upgrade --backup,
 * which backs each site up just before its upgrade. */
#ifndef VMOODLECTL_BACKUP_H
#define VMOODLECTL_BACKUP_H

#include "ctl.h"
#include "lifecycle.h"

typedef struct {
    vmc_opts *o;
    vm_siterun cli; /* Moodle's CLI as the site (maintenance) */
    vmc_table *t;
    const char *dir; /* --dir */
    int maintenance; /* the backup turns maintenance on and off */
    long keep;       /* then keeps the newest N; 0: all */
} vmc_backup_run;

/* Back the site up, as root, printing what it does: 0 and *path (from p) the
 * backup's folder, or 1 with nothing kept and the site as it was. */
int vmc_backup_one(const vmc_backup_run *run, const vm_instance *in,
                   apr_pool_t *p, const char **path);

/* --dir usable: absolute without '..'; with open_it, ours and nobody
 * else's (created if missing).  An exit code after saying why not. */
int vmc_backup_dir_check(const vmc_opts *o, int open_it);

#endif
