/* Run a database tool without a shell: fork, execvp, wait; feed its stdin
 * or watch its output file for progress. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "interrupt.h"
#include "spawn.h"
#include "util.h"

#define FEED_CHUNK  65536
#define OUTPUT_TAIL 1500

/* An unlinked temporary file for the child's stdout and stderr. */
static int output_file(void)
{
    char path[] = "/tmp/vmoodlectl-out-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);

    if (fd >= 0)
        unlink(path);
    return fd;
}

static void child(const vmc_cmd *c, int in_fd, int out_fd)
{
    int null_fd = open("/dev/null", O_RDONLY);

    dup2(in_fd >= 0 ? in_fd : null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    if (c->secret_env && c->secret)
        setenv(c->secret_env, c->secret, 1);
    signal(SIGPIPE, SIG_DFL);
    execvp(c->argv[0], (char *const *)c->argv);
    dprintf(STDERR_FILENO, "cannot run %s: %s\n", c->argv[0],
            strerror(errno));
    _exit(127);
}

/* Copy feed_path into the pipe; stop early when the child closes it. */
static int feed(const vmc_cmd *c, int pipe_fd, const char **err,
                apr_pool_t *p)
{
    char *buf = apr_palloc(p, FEED_CHUNK);
    int fd = open(c->feed_path, O_RDONLY | O_CLOEXEC);
    ssize_t n = 0;

    if (fd < 0) {
        *err = apr_psprintf(p, "%s: %s", c->feed_path, strerror(errno));
        return -1;
    }
    while (!vmc_interrupted() && (n = read(fd, buf, FEED_CHUNK)) > 0) {
        ssize_t off = 0, w;
        while (off < n && (w = write(pipe_fd, buf + off,
                                     (size_t)(n - off))) > 0)
            off += w;
        if (off < n)
            break;          /* the tool stopped reading: its status says why */
        if (c->progress)
            vmc_progress_add(c->progress, (uint64_t)n, 0);
    }
    close(fd);
    return 0;
}

/* Wait for the child, sampling the size of watch_path meanwhile. */
static int wait_child(const vmc_cmd *c, pid_t pid)
{
    struct timespec tick = {0, 100 * 1000 * 1000};
    struct stat st;
    int status = 0, forwarded = 0;

    for (;;) {
        pid_t r = waitpid(pid, &status, c->watch_path ? WNOHANG : 0);
        if (vmc_interrupted() && !forwarded)
            forwarded = kill(pid, SIGTERM) == 0;   /* the tool stops too */
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (c->watch_path && c->progress && stat(c->watch_path, &st) == 0)
            vmc_progress_set(c->progress, (uint64_t)st.st_size, 0);
        if (r == 0)
            nanosleep(&tick, NULL);
    }
}

/* The end of what the tool printed, with control bytes made visible. */
static const char *output_tail(int fd, apr_pool_t *p)
{
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > OUTPUT_TAIL ? size - OUTPUT_TAIL : 0;
    char *buf = apr_pcalloc(p, OUTPUT_TAIL + 1);
    ssize_t n = pread(fd, buf, OUTPUT_TAIL, from);
    ssize_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 && buf[i] != '\n')
            buf[i] = '?';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    return n > 0 ? buf : "(no output)";
}

static const char *how_it_ended(int status, apr_pool_t *p)
{
    if (status < 0)
        return "was lost";
    if (WIFSIGNALED(status))
        return apr_psprintf(p, "was killed by signal %d", WTERMSIG(status));
    return apr_psprintf(p, "exited with status %d", WEXITSTATUS(status));
}

int vmc_spawn(const vmc_cmd *c, apr_pool_t *p, const char **err)
{
    int pipe_fd[2] = {-1, -1}, out_fd = output_file(), status;
    const char *feed_err = NULL;
    void (*old_pipe)(int);
    pid_t pid;

    if (out_fd < 0 || (c->feed_path && pipe2(pipe_fd, O_CLOEXEC) != 0)) {
        *err = apr_psprintf(p, "cannot prepare %s: %s", c->argv[0],
                            strerror(errno));
        if (out_fd >= 0)
            close(out_fd);
        return -1;
    }
    old_pipe = signal(SIGPIPE, SIG_IGN);
    if ((pid = fork()) == 0)
        child(c, pipe_fd[0], out_fd);
    if (pipe_fd[0] >= 0)
        close(pipe_fd[0]);
    if (pid > 0 && c->feed_path)
        feed(c, pipe_fd[1], &feed_err, p);
    if (pipe_fd[1] >= 0)
        close(pipe_fd[1]);
    status = pid > 0 ? wait_child(c, pid) : -1;
    signal(SIGPIPE, old_pipe);
    if (pid > 0 && vmc_interrupted() && !feed_err)
        feed_err = "interrupted";
    if (pid > 0 && status == 0 && !feed_err) {
        close(out_fd);
        return 0;
    }
    *err = feed_err ? feed_err
         : pid < 0 ? apr_psprintf(p, "cannot start %s: %s", c->argv[0],
                                  strerror(errno))
         : apr_psprintf(p, "%s %s: %s", c->argv[0], how_it_ended(status, p),
                        output_tail(out_fd, p));
    close(out_fd);
    return -1;
}
