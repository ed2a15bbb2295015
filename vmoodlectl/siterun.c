/* One site's Moodle CLI in the foreground, and the steps of a site's work
 * in a fleet run, see fleet.h. */
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "vm_siteuser.h"
#include "fleet.h"
#include "lifecycle.h"
#include "interrupt.h"
#include "platforms.h"
#include "vm_cli.h"
#include "vm_job.h"
#include "vm_lock.h"
#include "vm_relay.h"

/* The site's script in a session of its own, its output relayed through
 * a pipe or a pseudo-terminal of ours; our stdin copied in only when the
 * command is interactive.  Its exit code, or -1 with *why. */
static int relayed(const vmc_job *job, const vm_instance *in, int lock_fd,
                   apr_pool_t *p, const char **why)
{
    vm_relay r = { job->interactive ? STDIN_FILENO : -1, STDOUT_FILENO,
                   STDERR_FILENO, VM_RELAY_LINES, vmc_interrupted };
    vm_job_opts o = { 0 };
    if (vmc_siterun_opts(&job->cli, in, job->script, job->args, job->nargs, &o,
                         p, why)
        != 0)
        return -1;
    o.keep_fd = lock_fd;
    o.timeout_ms = job->timeout * 1000LL;
    o.grace_ms = job->grace * 1000LL;
    return vm_relay_job(&o, &r, p, why);
}

int vmc_fleet_run_one(const vmc_job *job, const vm_instance *in, apr_pool_t *p)
{
    const char *why = NULL;
    vm_lock lock = { -1, 0 };
    if (job->lock_dir
        && vm_lock_take(&lock, job->lock_dir, job->src, in->id, p, &why)
            != VM_LOCK_GOT) {
        vmc_error(381,
                  "%s: not started: locked (its cron or an upgrade "
                  "runs): %s",
                  in->key, why);
        return VMC_EXIT_FAIL;
    }
    /* Ctrl-C, TERM, HUP: caught here, passed on to the site's group. */
    vmc_interrupt_install();
    int code = relayed(job, in, lock.fd, p, &why);
    if (code < 0) {
        vmc_error(382, "%s: not started: %s", in->key, why);
        code = VMC_EXIT_FAIL;
    }
    if ((why = vm_lock_release(&lock, job->src, in->id, p)) != NULL)
        vmc_error(393, "%s: %s", in->key, why);
    return code;
}

int vmc_fleet_step(const vmc_job *job, const vm_instance *in,
                   const char *script, const char *const *args, int nargs)
{
    apr_pool_t *p;
    const char *why = NULL;
    vm_job j;
    vm_job_opts o = { 0 };
    apr_pool_create(&p, NULL);
    if (vmc_siterun_opts(&job->cli, in, script, args, nargs, &o, p, &why)
        != 0) {
        printf("vmoodlectl: step not started: %s\n", why);
        apr_pool_destroy(p);
        return 127;
    }
    printf("vmoodlectl: step:");
    int i = 1;
    while (o.argv[i] && strncmp(o.argv[i], "-d", 2) == 0) /* PHP's */
        i++;
    for (; o.argv[i]; i++)
        printf(" %s", o.argv[i]);
    printf("\n");
    fflush(stdout);
    /* Already the site's user in the site's session, output to its log:
     * no switch, the same streams, the same group (its timeout ends both). */
    o.who = NULL;
    o.io[0].kind = o.io[1].kind = o.io[2].kind = VM_JOB_INHERIT;
    o.group = VM_JOB_SAME_GROUP;
    int code = vm_job_start(&j, &o, p, &why) == 0 ? vm_job_wait(&j, NULL) : 127;
    if (code == 127 && why)
        printf("vmoodlectl: step not started: %s\n", why);
    fflush(stdout);
    apr_pool_destroy(p);
    return code;
}
