/* Starting, ending and reaping a child, see vm_job.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "vm_copier.h"
#include "vm_job.h"
#include "vm_time.h"

#ifndef CLOSE_RANGE_UNSHARE
#include <linux/close_range.h>
#endif

#define HIGH_FD 10 /* the child's working copies live from here */
#define POLL_MS 50

extern char **environ;

/* The descriptors a start needs: pipes' two ends, the pty's two, the
 * visible streams' pipe and log (the copier's). */
typedef struct {
    int child[3];  /* what becomes 0, 1, 2 in the child, or -1 */
    int parent[3]; /* our ends of the pipes */
    int master, slave;
    int from, to; /* VM_JOB_VISIBLE: the copier's pipe end and log */
    int to_given; /* the log as the caller gave it */
} job_fds;

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void close_all(job_fds *f)
{
    for (int i = 0; i < 3; i++) {
        close_fd(&f->child[i]);
        close_fd(&f->parent[i]);
    }
    close_fd(&f->master);
    close_fd(&f->slave);
    close_fd(&f->from);
    close_fd(&f->to);
}

static const char *open_pty(job_fds *f, const vm_job_opts *o, apr_pool_t *p)
{
    char name[64];
    f->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (f->master < 0 || grantpt(f->master) != 0 || unlockpt(f->master) != 0
        || ptsname_r(f->master, name, sizeof name) != 0
        || (f->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        return apr_psprintf(p, "pseudo-terminal: %s", strerror(errno));
    if (o->termios)
        tcsetattr(f->slave, TCSANOW, o->termios);
    if (o->winsize)
        ioctl(f->slave, TIOCSWINSZ, o->winsize);
    return NULL;
}

/* Stream i made visible: the child writes into the copier's pipe (one
 * for both streams). */
static const char *open_visible(job_fds *f, const vm_job_opts *o, int i)
{
    int ends[2], fd = o->io[i].fd;
    if (i == 0)
        return "standard input cannot be made visible";
    if (f->from >= 0) {
        if (fd != f->to_given)
            return "the visible streams must share one descriptor";
        f->child[i] = fcntl(f->child[1], F_DUPFD_CLOEXEC, 0);
        return NULL;
    }
    if ((f->to = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0
        || pipe2(ends, O_CLOEXEC) != 0)
        return NULL; /* the caller names errno */
    f->from = ends[0];
    f->child[i] = ends[1];
    f->to_given = fd;
    return NULL;
}

/* Stream i: what the child gets, our end where there is one.  The
 * child's ends are the caller's descriptors or ours, never closed by the
 * child's set-up before they are copied. */
static const char *open_stream(job_fds *f, const vm_job_opts *o, int i,
                               apr_pool_t *p)
{
    int ends[2];
    switch (o->io[i].kind) {
    case VM_JOB_NULL:
        f->child[i] = open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
        break;
    case VM_JOB_FD:
        f->child[i] = fcntl(o->io[i].fd, F_DUPFD_CLOEXEC, 0);
        break;
    case VM_JOB_PIPE:
        if (pipe2(ends, O_CLOEXEC) != 0)
            break;
        f->child[i] = ends[i ? 1 : 0];
        f->parent[i] = ends[i ? 0 : 1];
        break;
    case VM_JOB_PTY:
        if (f->master < 0) {
            const char *why = open_pty(f, o, p);
            if (why)
                return why;
        }
        f->child[i] = fcntl(f->slave, F_DUPFD_CLOEXEC, 0);
        break;
    case VM_JOB_INHERIT:
        return NULL;
    case VM_JOB_VISIBLE: {
        const char *why = open_visible(f, o, i);
        if (why)
            return why;
        break;
    }
    }
    return f->child[i] < 0
        ? apr_psprintf(p, "descriptor %d: %s", i, strerror(errno))
        : NULL;
}

/* ---------------------------------------------------------------- child */

/* Everything the child needs, moved above HIGH_FD so that putting them
 * at 0-3 cannot overwrite one not yet placed. */
static int lift(int *fd)
{
    if (*fd < 0)
        return 0;
    int high = fcntl(*fd, F_DUPFD_CLOEXEC, HIGH_FD);
    if (high < 0)
        return -1;
    *fd = high; /* the old one goes with close_range */
    return 0;
}

/* dup2 clears close-on-exec on the copy; a descriptor already in place
 * keeps it, so clear it there. */
static int place(int from, int to)
{
    if (from == to)
        return fcntl(to, F_SETFD, 0);
    return dup2(from, to) < 0 ? -1 : 0;
}

static const char *set_up_fds(const vm_job_opts *o, job_fds *f, int *report)
{
    int keep = o->keep_fd > 0 ? o->keep_fd : -1;
    if (lift(report) || lift(&keep) || lift(&f->child[0]) || lift(&f->child[1])
        || lift(&f->child[2]))
        return "cannot move descriptors";
    for (int i = 0; i < 3; i++)
        if (f->child[i] >= 0 && place(f->child[i], i) != 0)
            return "cannot set up stdin/stdout/stderr";
    if (keep >= 0 && place(keep, 3) != 0)
        return "cannot keep the lock";
    unsigned top = keep >= 0 ? 4 : 3, r = (unsigned)*report;
    if ((r > top && close_range(top, r - 1, 0) != 0)
        || close_range(r + 1, ~0U, 0) != 0)
        return "cannot close inherited descriptors";
    return NULL;
}

static const char *new_session(const vm_job_opts *o, const job_fds *f)
{
    if (o->group == VM_JOB_SAME_GROUP && f->slave < 0)
        return NULL;
    if (setsid() < 0)
        return "setsid failed";
    /* The pty becomes the terminal of the new session: a site's code sees
     * a tty that is ours to read, never the caller's. */
    if (f->slave >= 0 && ioctl(f->slave, TIOCSCTTY, 0) != 0)
        return "cannot make the pseudo-terminal the child's terminal";
    return NULL;
}

/* A fresh child's signals: nothing of the caller's handlers or mask. */
static void default_signals(void)
{
    static const int sigs[] = { SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
                                SIGCHLD, SIGTTOU, SIGTTIN, SIGTSTP };
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
}

static const char *prepare(const vm_job_opts *o, job_fds *f, int *report)
{
    default_signals();
    const char *why = new_session(o, f);
    if (!why)
        why = set_up_fds(o, f, report);
    if (why)
        return why;
    if (chdir(o->dir ? o->dir : "/") != 0)
        return "cannot chdir to the working directory";
    if (o->who && vm_identity_assume(o->who, &why) != 0)
        return why;
    umask(022);
    return NULL;
}

/* Never returns.  A reason reaches the parent through report; a
 * successful exec closes it empty. */
static void become(const vm_job_opts *o, job_fds *f, int report)
{
    const char *why = prepare(o, f, &report);
    char text[256];
    if (!why && o->fn) {
        close(report);
        int code = o->fn(o->ctx);
        fflush(NULL);
        _exit(code);
    }
    if (!why) {
        execve(o->argv[0], (char *const *)o->argv, (char *const *)o->envp);
        snprintf(text, sizeof text, "cannot run %s: %s", o->argv[0],
                 strerror(errno));
        why = text;
    }
    if (write(report, why, strlen(why)) < 0)
        _exit(125);
    _exit(126);
}

/* The copier's side of its fork (vm_copier.h): in a session of its own,
 * nothing of ours but the pipe at 0, the log at 1, the engine's
 * end-of-child pipe at 2, as nobody before it reads a byte.  Never
 * returns. */
static void become_copier(job_fds *f, int done, const vm_identity *nobody)
{
    const char *why = NULL;
    default_signals();
    if (setsid() < 0 || lift(&f->from) || lift(&f->to) || lift(&done)
        || place(f->from, 0) || place(f->to, 1) || place(done, 2)
        || close_range(3, ~0U, 0) != 0
        || (nobody && vm_identity_assume(nobody, &why) != 0))
        _exit(126);
    _exit(vm_copier_run());
}

/* --------------------------------------------------------------- parent */

/* VM_JOB_VISIBLE: the copier, started before the child (when it cannot
 * start, no child is left running). */
static const char *start_copier(vm_job *j, job_fds *f, apr_pool_t *p)
{
    vm_identity nobody, *as = NULL;
    int done[2];
    if (f->from < 0)
        return NULL;
    if (geteuid() == 0) {
        const char *why = vm_identity_resolve(&nobody, "nobody", p);
        if (why)
            return apr_psprintf(p, "output copier: %s", why);
        as = &nobody;
    }
    if (pipe2(done, O_CLOEXEC) != 0)
        return apr_psprintf(p, "pipe: %s", strerror(errno));
    fflush(NULL);
    j->copier = fork();
    if (j->copier == 0) {
        close(done[1]);
        become_copier(f, done[0], as);
    }
    close(done[0]);
    if (j->copier < 0) {
        j->copier = 0;
        close(done[1]);
        return apr_psprintf(p, "fork: %s", strerror(errno));
    }
    j->copier_done = done[1];
    close_fd(&f->from);
    close_fd(&f->to);
    return NULL;
}

/* The child has ended: the copier takes what is left in the pipe and
 * exits; its status is not the job's. */
static void finish_copier(vm_job *j)
{
    if (j->copier <= 0)
        return;
    close_fd(&j->copier_done);
    while (waitpid(j->copier, NULL, 0) < 0 && errno == EINTR)
        ;
    j->copier = 0;
}

static void result(vm_job *j, int status)
{
    j->status = status;
    j->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    j->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + j->signal;
    j->duration_ms = vm_time_mono_ms() - j->start_ms;
    j->pid = 0;
}

/* With its rusage: what a run costs is planned from it (vcron's tiers). */
static void reap_now(vm_job *j)
{
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(j->pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    result(j, status);
    j->cpu_ms = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000
        + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
    finish_copier(j);
}

/* The child's report: empty when it runs. */
static const char *started(vm_job *j, int report, apr_pool_t *p)
{
    char why[256];
    ssize_t n;
    while ((n = read(report, why, sizeof why - 1)) < 0 && errno == EINTR)
        ;
    close(report);
    if (n <= 0)
        return NULL;
    why[n] = '\0';
    reap_now(j);
    return apr_pstrdup(p, why);
}

static void init(vm_job *j, const vm_job_opts *o)
{
    memset(j, 0, sizeof *j);
    j->fds[0] = j->fds[1] = j->fds[2] = j->pty = j->copier_done = -1;
    j->own_group = o->group != VM_JOB_SAME_GROUP || o->io[0].kind == VM_JOB_PTY
        || o->io[1].kind == VM_JOB_PTY || o->io[2].kind == VM_JOB_PTY;
    j->grace_ms = o->grace_ms;
}

int vm_job_start(vm_job *j, const vm_job_opts *o, apr_pool_t *p,
                 const char **err)
{
    job_fds f = { { -1, -1, -1 }, { -1, -1, -1 }, -1, -1, -1, -1, -1 };
    int report[2];
    const char *why = NULL;
    init(j, o);
    if (!o->fn && (!o->argv || !o->argv[0] || o->argv[0][0] != '/'))
        why = "the command must be an absolute path";
    for (int i = 0; i < 3 && !why; i++)
        why = open_stream(&f, o, i, p);
    if (!why && pipe2(report, O_CLOEXEC) != 0)
        why = apr_psprintf(p, "pipe: %s", strerror(errno));
    else if (!why && (why = start_copier(j, &f, p)) != NULL) {
        close(report[0]);
        close(report[1]);
    }
    if (why) {
        close_all(&f);
        *err = why;
        return -1;
    }
    fflush(NULL); /* nothing of ours is written twice by the child */
    j->start_ms = vm_time_mono_ms();
    j->term_at_ms = o->timeout_ms > 0 ? j->start_ms + o->timeout_ms : 0;
    j->pid = fork();
    if (j->pid == 0) {
        close(report[0]);
        become(o, &f, report[1]);
    }
    close(report[1]);
    if (j->pid < 0) {
        *err = apr_psprintf(p, "fork: %s", strerror(errno));
        j->pid = 0;
        close(report[0]);
        close_all(&f);
        finish_copier(j);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        j->fds[i] = f.parent[i];
        f.parent[i] = -1;
    }
    j->pty = f.master;
    f.master = -1;
    close_all(&f);
    if ((*err = started(j, report[0], p)) != NULL) {
        vm_job_close(j);
        return -1;
    }
    return 0;
}

static void signal_group(const vm_job *j, int sig)
{
    if (j->pid > 0)
        kill(j->own_group ? -j->pid : j->pid, sig);
}

void vm_job_end(vm_job *j, int sig, long long now_ms)
{
    if (j->pid <= 0 || j->terminated)
        return;
    signal_group(j, sig);
    j->terminated = 1;
    j->kill_at_ms = now_ms + j->grace_ms;
}

void vm_job_tick(vm_job *j, long long now_ms)
{
    if (j->pid <= 0)
        return;
    if (!j->terminated && j->term_at_ms > 0 && now_ms >= j->term_at_ms) {
        j->timed_out = 1;
        vm_job_end(j, SIGTERM, now_ms);
    }
    if (j->terminated && !j->killed && now_ms >= j->kill_at_ms) {
        signal_group(j, SIGKILL);
        j->killed = 1;
    }
}

long long vm_job_deadline(const vm_job *j)
{
    if (j->pid <= 0 || j->killed)
        return -1;
    if (j->terminated)
        return j->kill_at_ms;
    return j->term_at_ms > 0 ? j->term_at_ms : -1;
}

int vm_job_reap(vm_job *j)
{
    siginfo_t info;
    if (j->pid <= 0)
        return 0;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)j->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0
        || info.si_pid == 0)
        return 0;
    /* What is left of its group (a background process it started, which
     * may hold its descriptors) goes with it, while the group's id cannot
     * be reused: nothing a site's code starts outlives its run. */
    if (j->own_group)
        kill(-j->pid, SIGKILL);
    reap_now(j);
    return 1;
}

int vm_job_wait(vm_job *j, int (*interrupted)(void))
{
    while (!vm_job_reap(j)) {
        long long now = vm_time_mono_ms(), at = vm_job_deadline(j);
        int sig = interrupted ? interrupted() : 0;
        if (sig)
            vm_job_end(j, sig, now);
        vm_job_tick(j, now);
        long ms = POLL_MS;
        if (at >= 0 && at - now < ms)
            ms = at - now < 1 ? 1 : (long)(at - now);
        struct timespec ts = { 0, ms * 1000000L };
        nanosleep(&ts, NULL);
    }
    return j->code;
}

void vm_job_close(vm_job *j)
{
    for (int i = 0; i < 3; i++)
        close_fd(&j->fds[i]);
    close_fd(&j->pty);
}

const char *vm_job_which(const char *name, const char *path, apr_pool_t *p)
{
    char *dirs, *save = NULL;
    if (strchr(name, '/'))
        return name[0] == '/' ? name : NULL;
    dirs = apr_pstrdup(p, path ? path : "/usr/local/bin:/usr/bin:/bin");
    for (char *d = strtok_r(dirs, ":", &save); d;
         d = strtok_r(NULL, ":", &save)) {
        const char *full = apr_pstrcat(p, d, "/", name, NULL);
        struct stat st;
        if (d[0] == '/' && stat(full, &st) == 0 && S_ISREG(st.st_mode)
            && access(full, X_OK) == 0)
            return full;
    }
    return NULL;
}

/* Does "name=value" entry set the same name as var? */
static int same_name(const char *entry, const char *var)
{
    size_t n = strcspn(var, "=");
    return strncmp(entry, var, n) == 0 && entry[n] == '=';
}

const char *const *vm_job_env_with(const char *const *add, apr_pool_t *p)
{
    apr_array_header_t *env = apr_array_make(p, 32, sizeof(char *));
    for (char **e = environ; e && *e; e++) {
        int replaced = 0;
        for (const char *const *a = add; a && *a && !replaced; a++)
            replaced = same_name(*e, *a);
        if (!replaced)
            APR_ARRAY_PUSH(env, const char *) = *e;
    }
    for (const char *const *a = add; a && *a; a++)
        APR_ARRAY_PUSH(env, const char *) = *a;
    APR_ARRAY_PUSH(env, const char *) = NULL;
    return (const char *const *)env->elts;
}
