/* The job engine (core/vm_job.h): exit statuses, exec errors through the
 * report pipe, the whole group ended at the timeout (a grandchild that
 * ignores TERM too), what a child left behind ended with it, an interrupt
 * passed on, descriptors closed, a session of its own, a pseudo-terminal,
 * exactly the environment given, output made visible into a log by a
 * copier that leaves nothing running. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pwd.h>
#include <time.h>
#include "testutil.h"
#include "vm_job.h"
#include "vm_relay.h"
#include "vm_text.h"

static const char *const no_env[] = { NULL };

/* /bin/sh -c script, stdout a pipe unless told otherwise. */
static vm_job_opts shell(const char *script, apr_pool_t *p)
{
    const char **argv = apr_pcalloc(p, 4 * sizeof(char *));
    vm_job_opts o = { 0 };
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = script;
    o.argv = argv;
    o.envp = no_env;
    o.io[1].kind = VM_JOB_PIPE;
    return o;
}

/* Everything fd gives until its end (EIO: a pty with no writer left). */
static const char *read_all(int fd, apr_pool_t *p)
{
    char buf[4096];
    const char *all = "";
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf - 1)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) {
            buf[n] = '\0';
            all = apr_pstrcat(p, all, buf, NULL);
        }
    return all;
}

static const char *run(vm_job_opts *o, vm_job *j, apr_pool_t *p)
{
    const char *err = NULL, *out;
    assert_int_equal(vm_job_start(j, o, p, &err), 0);
    out = read_all(j->fds[1] >= 0 ? j->fds[1] : j->pty, p);
    vm_job_wait(j, NULL);
    vm_job_close(j);
    return out;
}

static void exit_statuses(void **state)
{
    apr_pool_t *p = *state;
    vm_job j;
    vm_job_opts o = shell("echo hi; exit 3", p);
    assert_string_equal(run(&o, &j, p), "hi\n");
    assert_int_equal(j.code, 3);
    assert_int_equal(j.signal, 0);
    assert_int_equal(j.timed_out, 0);
    assert_int_equal(j.pid, 0);
    assert_true(j.duration_ms >= 0);
    o = shell("kill -USR1 $$", p);
    run(&o, &j, p);
    assert_int_equal(j.signal, SIGUSR1);
    assert_int_equal(j.code, 128 + SIGUSR1);
}

static void exec_error_reported_by_start(void **state)
{
    apr_pool_t *p = *state;
    const char *argv[] = { "/nonexistent/php", "x.php", NULL }, *err = NULL;
    vm_job j;
    vm_job_opts o = { .argv = argv, .envp = no_env };
    assert_int_equal(vm_job_start(&j, &o, p, &err), -1);
    assert_non_null(strstr(err, "cannot run /nonexistent/php"));
    assert_non_null(strstr(err, strerror(ENOENT)));
    assert_int_equal(j.pid, 0);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* reaped */
    argv[0] = "php";
    assert_int_equal(vm_job_start(&j, &o, p, &err), -1);
    assert_non_null(strstr(err, "absolute path"));
    o.dir = "/nonexistent";
    argv[0] = "/bin/true";
    assert_int_equal(vm_job_start(&j, &o, p, &err), -1);
    assert_non_null(strstr(err, "working directory"));
}

static int gone(pid_t pid)
{
    char path[64], text[512] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *end = strrchr(text, ')');
    return end && end[1] == ' ' && end[2] == 'Z';
}

/* o started; its first line of output is the pid of a grandchild it
 * started in the background. */
static pid_t start_with_grandchild(vm_job *j, const vm_job_opts *o,
                                   apr_pool_t *p)
{
    const char *err = NULL;
    char buf[64] = "";
    assert_int_equal(vm_job_start(j, o, p, &err), 0);
    assert_true(read(j->fds[1], buf, sizeof buf - 1) > 0);
    pid_t grandchild = (pid_t)atol(buf);
    assert_true(grandchild > 0);
    return grandchild;
}

/* pid gone within ten seconds? If not, killed: nothing of the test's
 * outlives it. */
static int ends(pid_t pid)
{
    struct timespec tick = { 0, 20 * 1000 * 1000 };
    for (int i = 0; i < 500 && !gone(pid); i++)
        nanosleep(&tick, NULL);
    if (gone(pid))
        return 1;
    kill(pid, SIGKILL);
    return 0;
}

/* The grandchild ignores TERM: only the KILL after the grace ends it. */
static void timeout_ends_the_whole_group(void **state)
{
    apr_pool_t *p = *state;
    vm_job j;
    vm_job_opts o = shell("trap '' TERM; sleep 1000 & echo $!; wait", p);
    o.timeout_ms = 200;
    o.grace_ms = 300;
    pid_t grandchild = start_with_grandchild(&j, &o, p);
    vm_job_wait(&j, NULL);
    vm_job_close(&j);
    assert_int_equal(j.timed_out, 1);
    assert_int_equal(j.killed, 1);
    assert_int_equal(j.signal, SIGKILL);
    assert_true(ends(grandchild));
}

/* The child exits, leaving a background grandchild that holds its
 * output: gone once the child has been waited for, never left to hold a
 * descriptor of ours (or a terminal). */
static void what_the_child_left_behind_ends_with_it(void **state)
{
    apr_pool_t *p = *state;
    vm_job j;
    vm_job_opts o = shell("sleep 1000 & echo $!", p);
    pid_t grandchild = start_with_grandchild(&j, &o, p);
    assert_int_equal(vm_job_wait(&j, NULL), 0);
    vm_job_close(&j);
    assert_true(ends(grandchild));
}

static int calls;
static int interrupt_at_third_call(void)
{
    return ++calls >= 3 ? SIGINT : 0;
}

static void interrupt_passed_to_the_group(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;
    vm_job j;
    vm_job_opts o = shell("exec sleep 1000", p);
    o.grace_ms = 5000;
    calls = 0;
    assert_int_equal(vm_job_start(&j, &o, p, &err), 0);
    assert_int_equal(vm_job_wait(&j, interrupt_at_third_call), 128 + SIGINT);
    assert_int_equal(j.signal, SIGINT);
    assert_int_equal(j.timed_out, 0);
    assert_int_equal(j.terminated, 1);
    vm_job_close(&j);
}

static void only_std_and_kept_descriptors(void **state)
{
    apr_pool_t *p = *state;
    int null = open("/dev/null", O_RDONLY);
    int stray = dup2(null, 20); /* not close-on-exec */
    int lock = fcntl(null, F_DUPFD_CLOEXEC, 21);
    close(null);
    assert_int_equal(stray, 20);
    assert_int_equal(lock, 21);
    const char *script = apr_psprintf(p,
                                      "for f in 0 1 2 3 %d %d; do "
                                      "[ -e /proc/$$/fd/$f ] && printf $f; "
                                      "done; :",
                                      stray, lock);
    vm_job j;
    vm_job_opts o = shell(script, p);
    assert_string_equal(run(&o, &j, p), "012");
    o.keep_fd = lock;
    assert_string_equal(run(&o, &j, p), "0123");
    o.io[0].kind = o.io[2].kind = VM_JOB_NULL;
    o.io[1].kind = VM_JOB_FD;
    o.io[1].fd = stray; /* /dev/null, read-only: writes fail */
    run(&o, &j, p);
    close(stray);
    close(lock);
}

static int own_session(void *ctx)
{
    pid_t caller_sid = *(pid_t *)ctx;
    int no_tty = open("/dev/tty", O_RDWR) < 0;
    return getsid(0) == getpid() && getsid(0) != caller_sid && no_tty ? 0 : 1;
}

static int same_group(void *ctx)
{
    return getpgrp() == *(pid_t *)ctx ? 0 : 1;
}

static void a_session_of_its_own(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;
    pid_t sid = getsid(0), pgrp = getpgrp();
    vm_job j;
    vm_job_opts o = { .fn = own_session, .ctx = &sid };
    assert_int_equal(vm_job_start(&j, &o, p, &err), 0);
    assert_int_equal(vm_job_wait(&j, NULL), 0);
    o = (vm_job_opts){ .fn = same_group,
                       .ctx = &pgrp,
                       .group = VM_JOB_SAME_GROUP };
    assert_int_equal(vm_job_start(&j, &o, p, &err), 0);
    assert_int_equal(vm_job_wait(&j, NULL), 0);
}

static void a_pseudo_terminal_of_ours(void **state)
{
    apr_pool_t *p = *state;
    struct winsize ws = { .ws_row = 33, .ws_col = 99 };
    vm_job j;
    vm_job_opts o = shell("test -t 1 && test -t 2 && stty size </dev/tty; "
                          "echo x >/dev/tty",
                          p);
    o.io[1].kind = o.io[2].kind = VM_JOB_PTY;
    o.winsize = &ws;
    o.envp = (const char *const[]){ "PATH=/usr/bin:/bin", NULL };
    assert_string_equal(run(&o, &j, p), "33 99\r\nx\r\n");
    assert_int_equal(j.code, 0);
    assert_int_equal(j.fds[1], -1);
}

static void exactly_the_environment_given(void **state)
{
    apr_pool_t *p = *state;
    const char *env[] = { "A=1", NULL };
    vm_job j;
    vm_job_opts o = shell("echo \"$A:${HOME-unset}:${LEAK-unset}\"", p);
    setenv("LEAK", "x", 1);
    o.envp = env;
    assert_string_equal(run(&o, &j, p), "1:unset:unset\n");
    unsetenv("LEAK");
}

static void which_and_env_with(void **state)
{
    apr_pool_t *p = *state;
    const char *add[] = { "VMJOBTEST=2", NULL };
    setenv("VMJOBTEST", "1", 1);
    assert_string_equal(vm_job_which("sh", "/nonexistent:/bin", p), "/bin/sh");
    assert_null(vm_job_which("no-such-tool-here", "/bin", p));
    assert_null(vm_job_which("./sh", "/bin", p));
    int seen = 0;
    for (const char *const *e = vm_job_env_with(add, p); *e; e++) {
        assert_string_not_equal(*e, "VMJOBTEST=1");
        seen += strcmp(*e, "VMJOBTEST=2") == 0;
    }
    assert_int_equal(seen, 1);
    unsetenv("VMJOBTEST");
}

/* A C1 control split between two reads is still caught. */
static void text_stream_catches_a_split_c1(void **state)
{
    (void)state;
    char out[VM_TEXT_CHUNK_ROOM(16)];
    vm_text_stream st = { 0 };
    size_t n = vm_text_visible_chunk(&st, "a\xc2", 2, "\n", out);
    n += vm_text_visible_chunk(&st,
                               "\x9b"
                               "2J\x1b]0;t\x07\n\xc2",
                               11, "\n", out + n);
    n += vm_text_visible_chunk(&st, "\xa9", 1, "\n", out + n); /* © */
    n += vm_text_visible_chunk(&st, "\xc2", 1, "\n", out + n);
    n += vm_text_visible_flush(&st, out + n);
    out[n] = '\0';
    assert_string_equal(out, "a\\x9b2J\\x1b]0;t\\x07\n\xc2\xa9\xc2");
}

/* Relayed through pipes: stdout and stderr apart, every control but the
 * kept ones shown escaped (a C1 split across two writes too), our input
 * copied in, the exit code passed on. */
static void relay_makes_output_visible(void **state)
{
    apr_pool_t *p = *state;
    int out[2], err[2], in[2];
    const char *why = NULL;
    vm_job j;
    vm_job_opts o = shell("read line; printf '%s\\033[2J\\302' \"$line\"; "
                          "sleep 0.1; printf '\\233x\\r\\n'; "
                          "printf 'e\\007' >&2; exit 4",
                          p);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    assert_int_equal(pipe(in), 0);
    assert_int_equal(write(in[1], "hi\n", 3), 3);
    close(in[1]);
    vm_relay r = { in[0], out[1], err[1], "\n\r", NULL };
    struct winsize ws;
    struct termios tio;
    vm_relay_options(&o, &r, &ws, &tio);
    assert_int_equal(o.io[1].kind, VM_JOB_PIPE);
    assert_int_equal(o.io[0].kind, VM_JOB_PIPE);
    assert_int_equal(vm_job_start(&j, &o, p, &why), 0);
    assert_int_equal(vm_relay_run(&j, &r), 4);
    close(out[1]);
    close(err[1]);
    close(in[0]);
    assert_string_equal(read_all(out[0], p), "hi\\x1b[2J\\x9bx\r\n");
    assert_string_equal(read_all(err[0], p), "e\\x07");
    close(out[0]);
    close(err[0]);
    assert_int_equal(j.fds[0] + j.fds[1] + j.fds[2] + j.pty, -4);
}

/* A log file of the test's: its descriptor, its name in *path. */
static int temp_log(char *path, size_t room)
{
    snprintf(path, room, "/tmp/test_job_log.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    return fd;
}

static const char *log_text(const char *path, apr_pool_t *p)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    const char *text = read_all(fd, p);
    close(fd);
    unlink(path);
    return text;
}

/* Nothing of the job's is left to reap: the copier neither. */
static void no_child_left(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static vm_job_opts visible(const char *script, int log, apr_pool_t *p)
{
    vm_job_opts o = shell(script, p);
    o.io[1] = o.io[2] = (vm_job_io){ VM_JOB_VISIBLE, log };
    return o;
}

/* Escape sequences, a BEL and a split C1 control on stdout and stderr
 * reach the log shown escaped, in order, newlines and tabs kept; the
 * exit code is the child's. */
static void visible_output_reaches_the_log_escaped(void **state)
{
    apr_pool_t *p = *state;
    char path[64];
    const char *err = NULL;
    int log = temp_log(path, sizeof path);
    vm_job j;
    vm_job_opts o = visible("printf 'a\\033]0;t\\007\\tb\\n\\302'; "
                            "sleep 0.1; printf '\\233x\\n'; "
                            "printf 'e\\033[2J\\n' >&2; "
                            "printf 'seen \\\\x1b\\n'; exit 5",
                            log, p);
    assert_int_equal(vm_job_start(&j, &o, p, &err), 0);
    assert_true(j.copier > 0);
    assert_int_equal(vm_job_wait(&j, NULL), 5);
    vm_job_close(&j);
    close(log);
    assert_int_equal(j.copier, 0);
    assert_int_equal(j.timed_out, 0);
    no_child_left();
    /* a backslash as it is: text a relay made visible on its way (a
     * fleet run's steps) is not escaped twice */
    assert_string_equal(log_text(path, p),
                        "a\\x1b]0;t\\x07\tb\n\\x9bx\ne\\x1b[2J\nseen \\x1b\n");
}

/* At the timeout the group ends as before, and what it wrote is in the
 * log; a descendant that left the group (its own session) and holds the
 * pipe keeps neither the job nor the copier. */
static void visible_output_at_the_timeout_and_after_an_escape(void **state)
{
    apr_pool_t *p = *state;
    char path[64], buf[32] = "";
    const char *err = NULL;
    int log = temp_log(path, sizeof path);
    vm_job j;
    vm_job_opts o = visible("printf 'x\\033\\n'; trap '' TERM; sleep 1000", log,
                            p);
    o.timeout_ms = 200;
    o.grace_ms = 200;
    assert_int_equal(vm_job_start(&j, &o, p, &err), 0);
    assert_int_equal(vm_job_wait(&j, NULL), 128 + SIGKILL);
    assert_int_equal(j.timed_out, 1);
    no_child_left();
    assert_string_equal(log_text(path, p), "x\\x1b\n");
    close(log);

    log = temp_log(path, sizeof path);
    int pid_pipe[2];
    assert_int_equal(pipe(pid_pipe), 0);
    o = visible("setsid sleep 1000 & echo $! >&3; echo left", log, p);
    o.keep_fd = pid_pipe[1];
    assert_int_equal(vm_job_start(&j, &o, p, &err), 0);
    close(pid_pipe[1]);
    assert_true(read(pid_pipe[0], buf, sizeof buf - 1) > 0);
    close(pid_pipe[0]);
    assert_int_equal(vm_job_wait(&j, NULL), 0);
    no_child_left();
    kill((pid_t)atol(buf), SIGKILL);
    assert_string_equal(log_text(path, p), "left\n");
    close(log);
}

/* The copier runs as nobody (when we are root), in a session of its
 * own: read once it has written (it drops privileges before reading). */
static long uid_of(pid_t pid)
{
    char status[64], line[256];
    long uid = -1;
    snprintf(status, sizeof status, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(status, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Uid: %ld", &uid) == 1)
            break;
    fclose(f);
    return uid;
}

static void copier_runs_as_nobody(void **state)
{
    apr_pool_t *p = *state;
    char path[64];
    const char *err = NULL;
    struct stat st = { 0 };
    struct timespec tick = { 0, 20 * 1000 * 1000 };
    int log = temp_log(path, sizeof path);
    vm_job j;
    vm_job_opts o = visible("echo x; sleep 1000", log, p);
    assert_int_equal(vm_job_start(&j, &o, p, &err), 0);
    for (int i = 0; i < 500 && fstat(log, &st) == 0 && st.st_size == 0; i++)
        nanosleep(&tick, NULL);
    assert_true(st.st_size > 0);
    long want = geteuid() == 0 ? (long)getpwnam("nobody")->pw_uid
                               : (long)geteuid();
    assert_int_equal(uid_of(j.copier), want);
    assert_int_equal(getsid(j.copier), j.copier);
    vm_job_end(&j, SIGTERM, 0);
    vm_job_wait(&j, NULL);
    no_child_left();
    close(log);
    assert_string_equal(log_text(path, p), "x\n");
}

/* Refused before anything starts: visible stdin, two logs; an exec
 * error leaves no copier behind. */
static void visible_refusals_leave_nothing(void **state)
{
    apr_pool_t *p = *state;
    char path[64];
    const char *err = NULL;
    const char *argv[] = { "/nonexistent/php", NULL };
    int log = temp_log(path, sizeof path);
    vm_job j;
    vm_job_opts o = visible("true", log, p);
    o.io[0] = (vm_job_io){ VM_JOB_VISIBLE, log };
    assert_int_equal(vm_job_start(&j, &o, p, &err), -1);
    assert_non_null(strstr(err, "standard input"));
    o = visible("true", log, p);
    o.io[2].fd = 1;
    assert_int_equal(vm_job_start(&j, &o, p, &err), -1);
    assert_non_null(strstr(err, "share one descriptor"));
    o = visible("true", log, p);
    o.argv = argv;
    assert_int_equal(vm_job_start(&j, &o, p, &err), -1);
    assert_non_null(strstr(err, "cannot run /nonexistent/php"));
    no_child_left();
    close(log);
    assert_string_equal(log_text(path, p), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(exit_statuses),
        TU_TEST(exec_error_reported_by_start),
        TU_TEST(timeout_ends_the_whole_group),
        TU_TEST(what_the_child_left_behind_ends_with_it),
        TU_TEST(interrupt_passed_to_the_group),
        TU_TEST(only_std_and_kept_descriptors),
        TU_TEST(a_session_of_its_own),
        TU_TEST(a_pseudo_terminal_of_ours),
        TU_TEST(exactly_the_environment_given),
        TU_TEST(which_and_env_with),
        TU_TEST(text_stream_catches_a_split_c1),
        TU_TEST(relay_makes_output_visible),
        TU_TEST(visible_output_reaches_the_log_escaped),
        TU_TEST(visible_output_at_the_timeout_and_after_an_escape),
        TU_TEST(copier_runs_as_nobody),
        TU_TEST(visible_refusals_leave_nothing),
    };

    return TU_RUN(tests);
}
