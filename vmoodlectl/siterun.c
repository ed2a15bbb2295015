/* One site's Moodle CLI in the foreground, and the steps of a site's work
 * in a fleet run, see fleet.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "fleet.h"
#include "platforms.h"
#include "vm_cli.h"
#include "vm_lock.h"

#define POLL_NS (100 * 1000 * 1000)

/* Wait for pid, ending it at the timeout (TERM, then KILL after the
 * grace); signals to us reach it through the terminal, not from us. */
static int wait_timed(pid_t pid, long timeout, long grace)
{
    struct timespec tick = { 0, POLL_NS }, t0, t;
    int status, terminated = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid(pid, &status, timeout > 0 ? WNOHANG : 0);
        if (r == pid)
            return vmc_exit_code(status);
        if (r < 0 && errno != EINTR)
            return 255;
        if (timeout <= 0)
            continue;
        nanosleep(&tick, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
        long secs = (long)(t.tv_sec - t0.tv_sec);
        if (!terminated && secs >= timeout)
            terminated = kill(pid, SIGTERM) == 0;
        if (terminated && secs >= timeout + grace)
            kill(pid, SIGKILL);
    }
}

int vmc_fleet_run_one(const vmc_job *job, const vm_instance *in,
                      apr_pool_t *p)
{
    const char *why = NULL;
    vm_lock lock = { -1, 0 };
    if (job->lock_dir && vm_lock_take(&lock, job->lock_dir, job->src, in->id,
                                      p, &why) != VM_LOCK_GOT) {
        vmc_error(381, "%s: not started: locked (its cron or an upgrade "
                  "runs): %s", in->key, why);
        return VMC_EXIT_FAIL;
    }
    const char *tree = vmc_code_dir(job, in);
    if (!tree) {
        vmc_error(381, "%s: not started: %s", in->key,
                  vmc_platform_missing(job, in, p));
        vm_lock_release(&lock, job->src, in->id, p);
        return VMC_EXIT_FAIL;
    }
    vm_child c = { vm_cli_argv(job->php, tree, job->script,
                               job->args, job->nargs, p),
                   vm_cli_env(in, job->who, p), job->who, tree,
                   -1, lock.fd };
    /* As system() does: the terminal's Ctrl-C is the child's to act on. */
    void (*old_int)(int) = signal(SIGINT, SIG_IGN);
    void (*old_quit)(int) = signal(SIGQUIT, SIG_IGN);
    pid_t pid = vm_child_start(&c, NULL, NULL, p, &why);
    int code = pid < 0 ? VMC_EXIT_FAIL : wait_timed(pid, job->timeout,
                                                    job->grace);
    signal(SIGINT, old_int);
    signal(SIGQUIT, old_quit);
    if (pid < 0)
        vmc_error(382, "%s: not started: %s", in->key, why);
    if ((why = vm_lock_release(&lock, job->src, in->id, p)) != NULL)
        vmc_error(393, "%s: %s", in->key, why);
    return code;
}

int vmc_fleet_step(const vmc_job *job, const vm_instance *in,
                   const char *script, const char *const *args, int nargs)
{
    apr_pool_t *p;
    const char *why = NULL;
    apr_pool_create(&p, NULL);
    const char *tree = vmc_code_dir(job, in);
    if (!tree) {
        printf("vmoodlectl: step not started: %s\n",
               vmc_platform_missing(job, in, p));
        apr_pool_destroy(p);
        return 127;
    }
    const char *const *argv = vm_cli_argv(job->php, tree, script,
                                          args, nargs, p);
    printf("vmoodlectl: step:");
    for (int i = 2; argv[i]; i++)
        printf(" %s", argv[i]);
    printf("\n");
    fflush(stdout);
    /* Already the site's user in the site's environment: no switch. */
    vm_identity self = *job->who;
    self.switch_user = 0;
    vm_child c = { argv, vm_cli_env(in, job->who, p), &self,
                   tree, -1, -1 };
    pid_t pid = vm_child_start(&c, NULL, NULL, p, &why);
    int code = pid < 0 ? 127 : wait_timed(pid, 0, 0);
    if (pid < 0)
        printf("vmoodlectl: step not started: %s\n", why);
    fflush(stdout);
    apr_pool_destroy(p);
    return code;
}
