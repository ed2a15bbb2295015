/* Starting one cron, see runner.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "vm_env.h"
#include "runner.h"
#include "log.h"

#ifndef CLOSE_RANGE_UNSHARE
#include <linux/close_range.h>
#endif

const vm_instance vc_master = {
    .id = VC_MASTER_ID, .name = "master", .shortname = "master",
    .vhostname = "", .key = "master", .wwwroot = "", .dbtype = "",
    .dbhost = "", .dblogin = "", .dbpass = "", .dbname = "", .dbprefix = "",
    .datapath = "", .enabled = 1,
};

const char *const *vc_cron_argv(const vc_config *cfg, apr_pool_t *p)
{
    if (cfg->command)
        return cfg->command;
    const char **argv = apr_pcalloc(p, 4 * sizeof(char *));
    argv[0] = cfg->php;
    argv[1] = apr_pstrcat(p, cfg->moodle_dir, "/admin/cli/cron.php", NULL);
    argv[2] = "--keep-alive=0";
    return argv;
}

const char *const *vc_cron_env(const vm_instance *in, const vm_identity *who,
                               apr_pool_t *p)
{
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];
    apr_array_header_t *env = apr_array_make(p, VM_ENV_COUNT + 5,
                                             sizeof(char *));
    if (in == &vc_master) {
        APR_ARRAY_PUSH(env, const char *) = VM_ENV_MASTER "=1";
    } else {
        vm_env_build(in, &nums, vars);
        for (int i = 0; i < VM_ENV_COUNT; i++)
            APR_ARRAY_PUSH(env, const char *) =
                apr_pstrcat(p, vars[i].name, "=", vars[i].value, NULL);
    }
    APR_ARRAY_PUSH(env, const char *) =
        "PATH=/usr/local/bin:/usr/bin:/bin";
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "HOME=", who->home, NULL);
    APR_ARRAY_PUSH(env, const char *) =
        apr_pstrcat(p, "LOGNAME=", who->name, NULL);
    APR_ARRAY_PUSH(env, const char *) = "LANG=C.UTF-8";
    APR_ARRAY_PUSH(env, const char *) = NULL;
    return (const char *const *)env->elts;
}

const char *vc_cron_log_name(const vm_instance *in, apr_pool_t *p)
{
    char *name = apr_pstrcat(p, in->key, ".log", NULL);
    size_t stem = strlen(in->key);
    for (size_t i = 0; i < stem; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                 || c == '-' || (c == '.' && i > 0);
        if (!ok)
            name[i] = '_';
    }
    return name;
}

int vc_cron_log_open(const char *log_dir, const vm_instance *in, long max,
                     apr_pool_t *p, const char **err)
{
    const char *path = apr_pstrcat(p, log_dir, "/",
                                   vc_cron_log_name(in, p), NULL);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size >= max
        && rename(path, apr_pstrcat(p, path, ".1", NULL)) != 0) {
        *err = apr_psprintf(p, "%s: rotate: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                  0640);
    if (fd < 0)
        *err = apr_psprintf(p, "%s: %s", path, strerror(errno));
    return fd;
}

/* Put from at to, open across exec (dup2 leaves the flags alone when the
 * two are the same descriptor). */
static int keep_fd(int from, int to)
{
    if (from == to)
        return fcntl(to, F_SETFD, 0);
    return dup2(from, to) < 0 ? -1 : 0;
}

/* In the child: own session, stdio on the log, the lock on fd 3, nothing
 * else inherited, the cron's user.  NULL or a static reason. */
static const char *prepare_child(const vc_spawn *sp, int *errfd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (setsid() < 0)
        return "setsid failed";
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || keep_fd(null, 0) || keep_fd(sp->log_fd, 1)
        || keep_fd(sp->log_fd, 2))
        return "cannot set up stdin/stdout/stderr";
    *errfd = 2;
    if (sp->lock_fd >= 0 && keep_fd(sp->lock_fd, 3))
        return "cannot keep the lock";
    if (close_range(sp->lock_fd >= 0 ? 4 : 3, ~0U, 0) != 0)
        return "cannot close inherited descriptors";
    if (chdir("/") != 0)
        return "cannot chdir to /";
    const char *why = NULL;
    if (vm_identity_assume(sp->who, &why) != 0)
        return why;
    umask(022);
    return NULL;
}

/* The child's side: never returns. */
static void become_cron(const vc_spawn *sp)
{
    int errfd = sp->log_fd;
    const char *why = prepare_child(sp, &errfd);
    if (!why) {
        execve(sp->argv[0], (char *const *)sp->argv, (char *const *)sp->envp);
        vc_log_fd(2, 213, "cannot run %s: %s", sp->argv[0], strerror(errno));
        _exit(127);
    }
    vc_log_fd(errfd, 212, "cron not started: %s", why);
    _exit(126);
}

pid_t vc_spawn_cron(const vc_spawn *sp, apr_pool_t *p, const char **err)
{
    pid_t pid = fork();
    if (pid < 0) {
        *err = apr_psprintf(p, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        become_cron(sp);
    return pid;
}
