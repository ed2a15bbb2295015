/* Running Moodle's CLI for one site, see vm_cli.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "vm_env.h"
#include "vm_cli.h"
#include "vm_master.h"

#ifndef CLOSE_RANGE_UNSHARE
#include <linux/close_range.h>
#endif

/* Moodle's installer refuses less, and other scripts post as many. */
#define PHP_MAX_INPUT_VARS "-dmax_input_vars=5000"

const vm_instance vm_master = {
    .id = VM_MASTER_ID, .name = "master", .shortname = "master",
    .vhostname = "", .key = "master", .wwwroot = "", .dbtype = "",
    .dbhost = "", .dblogin = "", .dbpass = "", .dbname = "", .dbprefix = "",
    .datapath = "", .enabled = 1,
};

const char *const *vm_cli_argv(const char *php, const char *moodle_dir,
                               const char *script, const char *const *args,
                               int nargs, apr_pool_t *p)
{
    const char **argv = apr_pcalloc(p, sizeof(char *) * (size_t)(nargs + 4));
    while (*script == '/')
        script++;
    argv[0] = php;
    argv[1] = PHP_MAX_INPUT_VARS;
    argv[2] = apr_pstrcat(p, moodle_dir, "/", script, NULL);
    for (int i = 0; i < nargs; i++)
        argv[3 + i] = args[i];
    return argv;
}

/* The master's settings (vm_master.h), when the program read them. */
static void push_master_settings(apr_array_header_t *env, apr_pool_t *p)
{
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];
    int n;

    if (!vm_master_settings)
        return;
    n = vm_master_env(vm_master_settings, &nums, vars);
    for (int i = 0; i < n; i++)
        APR_ARRAY_PUSH(env, const char *) =
            apr_pstrcat(p, vars[i].name, "=", vars[i].value, NULL);
}

const char *const *vm_cli_env(const vm_instance *in, const vm_identity *who,
                              apr_pool_t *p)
{
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];
    apr_array_header_t *env = apr_array_make(p, VM_ENV_COUNT + 5,
                                             sizeof(char *));
    if (in->id == VM_MASTER_ID) {
        APR_ARRAY_PUSH(env, const char *) = VM_ENV_MASTER "=1";
        push_master_settings(env, p);
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

const char *vm_cli_log_name(const vm_instance *in, apr_pool_t *p)
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

/* Put from at to, open across exec (dup2 leaves the flags alone when the
 * two are the same descriptor). */
static int keep_fd(int from, int to)
{
    if (from == to)
        return fcntl(to, F_SETFD, 0);
    return dup2(from, to) < 0 ? -1 : 0;
}

/* Standard streams: the log with stdin from /dev/null in a session of its
 * own, or ours.  Then the lock at 3 and nothing else but report_fd, the
 * channel to the parent (close-on-exec), first moved out of the way. */
static const char *set_up_fds(const vm_child *c, int *report_fd)
{
    int moved = fcntl(*report_fd, F_DUPFD_CLOEXEC, 10);
    if (moved < 0)
        return "cannot move the report channel";
    close(*report_fd);
    *report_fd = moved;
    if (c->out_fd >= 0) {
        if (setsid() < 0)
            return "setsid failed";
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || keep_fd(null, 0) || keep_fd(c->out_fd, 1)
            || keep_fd(c->out_fd, 2))
            return "cannot set up stdin/stdout/stderr";
    }
    if (c->keep_fd >= 0 && keep_fd(c->keep_fd, 3))
        return "cannot keep the lock";
    unsigned top = c->keep_fd >= 0 ? 4 : 3, report = (unsigned)moved;
    if ((report > top && close_range(top, report - 1, 0) != 0)
        || close_range(report + 1, ~0U, 0) != 0)
        return "cannot close inherited descriptors";
    return NULL;
}

static const char *prepare(const vm_child *c, int *report_fd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    const char *why = set_up_fds(c, report_fd);
    if (why)
        return why;
    if (chdir(c->dir ? c->dir : "/") != 0)
        return "cannot chdir to the working directory";
    if (vm_identity_assume(c->who, &why) != 0)
        return why;
    umask(022);
    return NULL;
}

/* The child's side: never returns.  A reason reaches the parent through
 * report_fd; a successful exec closes it empty. */
static void become(const vm_child *c, int (*fn)(void *), void *ctx,
                   int report_fd)
{
    const char *why = prepare(c, &report_fd);
    char text[256];
    if (!why && fn) {
        close(report_fd);
        int code = fn(ctx);
        fflush(NULL);
        _exit(code);
    }
    if (!why) {
        execve(c->argv[0], (char *const *)c->argv, (char *const *)c->envp);
        snprintf(text, sizeof text, "cannot run %s: %s", c->argv[0],
                 strerror(errno));
        why = text;
    }
    if (write(report_fd, why, strlen(why)) < 0)
        _exit(125);
    _exit(126);
}

pid_t vm_child_start(const vm_child *c, int (*fn)(void *ctx), void *ctx,
                     apr_pool_t *p, const char **err)
{
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *err = apr_psprintf(p, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);       /* nothing of ours is written twice by the child */
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        become(c, fn, ctx, report[1]);
    }
    close(report[1]);
    if (pid < 0) {
        *err = apr_psprintf(p, "fork: %s", strerror(errno));
        close(report[0]);
        return -1;
    }
    char why[256];
    ssize_t n;
    while ((n = read(report[0], why, sizeof why - 1)) < 0 && errno == EINTR)
        ;
    close(report[0]);
    if (n <= 0)
        return pid;
    why[n] = '\0';
    *err = apr_pstrdup(p, why);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return -1;
}
