/* run, purge-caches, maintenance, config and cron: one Moodle CLI script
 * on the selected sites, see fleet.h.  upgrade is in upgrade.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <apr_strings.h>
#include "ctl.h"
#include "fleet.h"
#include "lifecycle.h"
#include "fleet_cmds.h"
#include "platforms.h"
#include "select.h"
#include "vm_cli.h"
#include "vm_file.h"
#include "vm_time.h"

#define DEFAULT_LOG_PARENT "/var/log/vmoodle/vmoodlectl"

static const char *default_log_dir(const char *label, apr_pool_t *p)
{
    char stamp[VM_TIME_TEXT];

    vm_time_stamp((long long)time(NULL), stamp);
    return apr_psprintf(p, "%s/%s-%s", DEFAULT_LOG_PARENT, label, stamp);
}

int vmc_job_prepare(vmc_opts *o, const char *label, int first_host,
                    vmc_table *t, vmc_job *job, int *foreground)
{
    const char *why = NULL;
    vmc_selection sel = vmc_selection_of(o, first_host);
    int rc = vmc_table_load(o, t, &why);

    if (rc != VMC_EXIT_OK)
        return vmc_fail(384, rc, why);
    memset(job, 0, sizeof *job);
    if (!(job->sites = vmc_select(t, &sel, o->pool, &why)))
        return vmc_fail(385, VMC_EXIT_USAGE, why);
    if ((rc = vmc_siterun_prepare(o, &job->cli, &why)) != VMC_EXIT_OK)
        return vmc_fail(386, rc, why);
    job->label = label;
    job->jobs = (int)o->jobs;
    job->fail_fast = o->fail_fast;
    job->timeout = o->timeout;
    job->grace = o->grace;
    job->src = t->src;
    job->log_dir = o->log_dir ? o->log_dir : default_log_dir(label, o->pool);
    /* One site named alone (or the master alone): in the foreground. */
    *foreground = !o->all && !o->match && sel.nhosts + o->master == 1;
    return VMC_EXIT_OK;
}

void vmc_job_stay(vmc_job *job, apr_pool_t *p)
{
    vm_identity *self = apr_pmemdup(p, job->cli.who, sizeof *job->cli.who);

    self->switch_user = 0;
    job->cli.who = self;
    job->cli.site_user = NULL;
}

int vmc_job_lock_dir(vmc_opts *o)
{
    const char *why = vm_file_dir_make(o->lock_dir, o->pool);
    return why ? vmc_fail(390, VMC_EXIT_FAIL,
                          apr_pstrcat(o->pool, "lock directory ", why, NULL))
               : VMC_EXIT_OK;
}

/* script args... on the selected sites; interactive: our stdin reaches a
 * foreground run. */
static int run_script_io(vmc_opts *o, const char *label, int first_host,
                         const char *script, const char *const *args, int nargs,
                         int locked, int interactive)
{
    vmc_table t;
    vmc_job job;
    int fg, rc = vmc_job_prepare(o, label, first_host, &t, &job, &fg);

    if (rc != VMC_EXIT_OK)
        return rc;
    job.script = script;
    job.args = args;
    job.nargs = nargs;
    job.interactive = interactive;
    job.lock_dir = locked ? o->lock_dir : NULL;
    if (locked && (rc = vmc_job_lock_dir(o)) != VMC_EXIT_OK)
        return rc;
    if (fg)
        return vmc_fleet_run_one(&job,
                                 APR_ARRAY_IDX(job.sites, 0,
                                               const vm_instance *),
                                 o->pool);
    return vmc_fleet_run(&job, o->pool, NULL);
}

static int run_script(vmc_opts *o, const char *label, int first_host,
                      const char *script, const char *const *args, int nargs,
                      int locked)
{
    return run_script_io(o, label, first_host, script, args, nargs, locked, 0);
}

int vmc_cmd_run(vmc_opts *o)
{
    if (o->nscript < 1)
        return vmc_fail(388, VMC_EXIT_USAGE,
                        "run: give the script after "
                        "'--': run SITES -- admin/cli/cfg.php --name=...");
    /* Any script, some of which ask questions: interactive. */
    return run_script_io(o, "run", 0, o->script[0],
                         (const char *const *)o->script + 1, o->nscript - 1, 0,
                         1);
}

int vmc_cmd_purge_caches(vmc_opts *o)
{
    return run_script(o, "purge-caches", 0, "admin/cli/purge_caches.php", NULL,
                      0, 0);
}

int vmc_cmd_maintenance(vmc_opts *o)
{
    static const char *const on[] = { "--enable" },
                             *const off[] = { "--disable" };
    int enable = o->nargs > 0 && strcmp(o->args[0], "on") == 0;

    if (o->nargs < 1 || (!enable && strcmp(o->args[0], "off") != 0))
        return vmc_fail(391, VMC_EXIT_USAGE, "maintenance on|off SITES");
    return run_script(o, "maintenance", 1, "admin/cli/maintenance.php",
                      enable ? on : off, 1, 0);
}

/* cfg.php --name=N [--set=V | --unset] [--component=P] */
int vmc_cmd_config(vmc_opts *o)
{
    const char **args = apr_pcalloc(o->pool, 3 * sizeof(char *));
    int n = 0;

    if (!o->cfg_name || (o->cfg_value && o->unset))
        return vmc_fail(392, VMC_EXIT_USAGE,
                        "config SITES --name N "
                        "[--value V | --unset] [--plugin P]");
    args[n++] = apr_pstrcat(o->pool, "--name=", o->cfg_name, NULL);
    if (o->cfg_value)
        args[n++] = apr_pstrcat(o->pool, "--set=", o->cfg_value, NULL);
    else if (o->unset)
        args[n++] = "--unset";
    if (o->plugin)
        args[n++] = apr_pstrcat(o->pool, "--component=", o->plugin, NULL);
    return run_script(o, "config", 0, "admin/cli/cfg.php", args, n, 0);
}

/* One site's cron now, under vcron's lock: never beside vcron's. */
int vmc_cmd_cron(vmc_opts *o)
{
    return run_script(o, "cron", 0, VM_CLI_CRON_SCRIPT, vm_cli_cron_args,
                      VM_CLI_CRON_NARGS, 1);
}
