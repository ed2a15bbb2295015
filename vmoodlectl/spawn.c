/* Run a database tool without a shell through the core's job engine; feed
 * its stdin or watch its output file for progress. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "interrupt.h"
#include "spawn.h"
#include "util.h"
#include "vm_job.h"
#include "vm_text.h"
#include "vm_time.h"

#define GRACE_MS 10000 /* after the interrupt's TERM, before KILL */

#define FEED_CHUNK 65536
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

/* argv[0] found in PATH here, the password in the environment built
 * here: the child only execs. */
static int start(vm_job *j, const vmc_cmd *c, int in_pipe, int out_fd,
                 apr_pool_t *p, const char **err)
{
    const char *add[2] = { NULL, NULL };
    const char **argv;
    size_t n = 0;
    vm_job_opts o = { 0 };
    while (c->argv[n])
        n++;
    argv = apr_pmemdup(p, c->argv, sizeof(char *) * (n + 1));
    if (!(argv[0] = vm_job_which(c->argv[0], getenv("PATH"), p))) {
        *err = apr_psprintf(p, "cannot start %s: not found", c->argv[0]);
        return -1;
    }
    if (c->secret_env && c->secret)
        add[0] = apr_pstrcat(p, c->secret_env, "=", c->secret, NULL);
    o.argv = argv;
    o.envp = vm_job_env_with(add, p);
    o.dir = ".";
    o.io[0].kind = in_pipe ? VM_JOB_PIPE : VM_JOB_NULL;
    o.io[1] = o.io[2] = (vm_job_io){ VM_JOB_FD, out_fd };
    o.grace_ms = GRACE_MS;
    if (vm_job_start(j, &o, p, err) != 0) {
        *err = apr_psprintf(p, "cannot start %s: %s", c->argv[0], *err);
        return -1;
    }
    return 0;
}

/* Copy feed_path into the pipe; stop early when the child closes it. */
static int feed(const vmc_cmd *c, int pipe_fd, const char **err, apr_pool_t *p)
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
        while (off < n
               && (w = write(pipe_fd, buf + off, (size_t)(n - off))) > 0)
            off += w;
        if (off < n)
            break; /* the tool stopped reading: its status says why */
        if (c->progress)
            vmc_progress_add(c->progress, (uint64_t)n, 0);
    }
    close(fd);
    return 0;
}

/* Wait for the child, sampling the size of watch_path meanwhile; an
 * interrupt ends the tool's group too. */
static void wait_child(const vmc_cmd *c, vm_job *j)
{
    struct timespec tick = { 0, 100 * 1000 * 1000 };
    struct stat st;

    while (!vm_job_reap(j)) {
        if (vmc_interrupted())
            vm_job_end(j, SIGTERM, vm_time_mono_ms());
        vm_job_tick(j, vm_time_mono_ms());
        if (c->watch_path && c->progress && stat(c->watch_path, &st) == 0)
            vmc_progress_set(c->progress, (uint64_t)st.st_size, 0);
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

    while (n > 0 && buf[n - 1] == '\n')
        n--;
    return n > 0 ? vm_text_visible_n(buf, (apr_size_t)n, "\n", p)
                 : "(no output)";
}

static const char *how_it_ended(const vm_job *j, apr_pool_t *p)
{
    if (j->signal)
        return apr_psprintf(p, "was killed by signal %d", j->signal);
    return apr_psprintf(p, "exited with status %d", j->code);
}

int vmc_spawn(const vmc_cmd *c, apr_pool_t *p, const char **err)
{
    int out_fd = output_file();
    const char *feed_err = NULL;
    void (*old_pipe)(int);
    vm_job j;

    if (out_fd < 0) {
        *err = apr_psprintf(p, "cannot prepare %s: %s", c->argv[0],
                            strerror(errno));
        return -1;
    }
    if (start(&j, c, c->feed_path != NULL, out_fd, p, err) != 0) {
        close(out_fd);
        return -1;
    }
    old_pipe = signal(SIGPIPE, SIG_IGN);
    if (c->feed_path)
        feed(c, j.fds[0], &feed_err, p);
    vm_job_close(&j); /* the tool sees the end of its input */
    wait_child(c, &j);
    signal(SIGPIPE, old_pipe);
    if (vmc_interrupted() && !feed_err)
        feed_err = "interrupted";
    if (j.status == 0 && !feed_err) {
        close(out_fd);
        return 0;
    }
    *err = feed_err ? feed_err
                    : apr_psprintf(p, "%s %s: %s", c->argv[0],
                                   how_it_ended(&j, p), output_tail(out_fd, p));
    close(out_fd);
    return -1;
}
