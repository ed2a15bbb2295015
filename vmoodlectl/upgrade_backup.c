/* upgrade --backup (upgrade.c, upgrade_to.c): each site backed up, in
 * maintenance, just before its upgrade.  The backup is root's, so the
 * site's child stays root and runs Moodle's scripts as the site's CLI
 * runs (vm_siterun.h) itself; a
 * site whose upgrade fails names the one restore command that puts it
 * back (upgrade --to restores it itself first). */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "backup.h"
#include "fleet.h"
#include "fleet_cmds.h"
#include "platforms.h"
#include "upgrade_backup.h"

int vmc_upgrade_backup_init(vmc_opts *o, vmc_table *t, const vmc_job *job,
                            vmc_upgrade_backup *ub)
{
    int rc;

    memset(ub, 0, sizeof *ub);
    if (!o->backup)
        return VMC_EXIT_OK;
    if ((rc = vmc_backup_dir_check(o, !o->dry_run)) != VMC_EXIT_OK)
        return rc;
    ub->on = 1;
    ub->run.o = o;
    ub->run.t = t;
    ub->run.dir = o->backup_dir;
    ub->run.keep = o->keep;
    ub->run.cli = job->cli;
    return VMC_EXIT_OK;
}

int vmc_upgrade_backup_prepare(vmc_opts *o, vmc_table *t, vmc_job *job,
                               vmc_upgrade_backup *ub)
{
    int rc;

    if ((rc = vmc_upgrade_backup_init(o, t, job, ub)) != VMC_EXIT_OK || !ub->on)
        return rc;
    vmc_job_stay(job, o->pool);
    return VMC_EXIT_OK;
}

int vmc_upgrade_step(const vmc_job *job, const vmc_upgrade_backup *ub,
                     const vm_instance *in, const char *script,
                     const char *const *args, int nargs)
{
    if (!ub->on)
        return vmc_fleet_step(job, in, script, args, nargs);
    return vmc_site_cli_run_args(&ub->run.cli, in, script, args, nargs);
}

int vmc_upgrade_backup_site(vmc_upgrade_backup *ub, const vm_instance *in,
                            apr_pool_t *p, const char **err)
{
    ub->path = NULL;
    fflush(stdout); /* its lines after ours */
    if (vmc_backup_one(&ub->run, in, p, &ub->path) != 0)
        return *err = "the backup failed: nothing upgraded", -1;
    return 0;
}

const char *vmc_upgrade_restore_hint(const vmc_upgrade_backup *ub,
                                     apr_pool_t *p)
{
    return ub->path
        ? apr_psprintf(p, "to put it back: vmoodlectl restore %s", ub->path)
        : "";
}
