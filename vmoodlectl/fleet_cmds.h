/* What the fleet commands share: the job from the flags. */
#ifndef VMOODLECTL_FLEET_CMDS_H
#define VMOODLECTL_FLEET_CMDS_H

#include "ctl.h"
#include "fleet.h"

/* Load the table, select the sites (HOSTs from args[first_host]), the
 * sites' run (vmc_siterun_prepare), fill job from the flags (label, jobs,
 * timeout, log dir: --log-dir or /var/log/vmoodle/vmoodlectl/LABEL-DATE).
 * *foreground: one site named alone.  An exit code; the error is said. */
int vmc_job_prepare(vmc_opts *o, const char *label, int first_host,
                    vmc_table *t, vmc_job *job, int *foreground);

/* Each site's child stays as we are (root: its work is root's, a
 * backup, a dataroot walked, a deploy): no switch to --user nor to the
 * site's user.  A caller whose work runs Moodle's scripts as the site
 * keeps a copy of job->cli first. */
void vmc_job_stay(vmc_job *job, apr_pool_t *p);

/* vcron's lock directory, created if missing.  An exit code. */
int vmc_job_lock_dir(vmc_opts *o);

#endif
