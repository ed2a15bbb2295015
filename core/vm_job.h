/* The one way vcron and vmoodlectl start a process (in the spirit of
 * libuv's uv_spawn): an options struct says what the child gets, exec
 * errors come back through a close-on-exec pipe (so "php not found" is an
 * error from vm_job_start, never an exit code), every other descriptor is
 * closed in the child, its environment is exactly envp (nothing is set
 * after fork).  The parent then ends the child's whole process group at
 * its timeout (TERM, then KILL after the grace), reaps it and reports how
 * it ended; once the child has exited, whatever is left of its group
 * (a background process it started) is killed.  fork() and exec live here and nowhere else
 * (tests/lint/test_one_job_engine.py names the one exception: the
 * module's start-up child, in httpd's parent). */
#ifndef VM_JOB_H
#define VM_JOB_H

#include <sys/ioctl.h>
#include <sys/types.h>
#include <termios.h>
#include <apr_pools.h>
#include "vm_identity.h"

/* What one of the child's standard descriptors is. */
typedef enum {
    VM_JOB_NULL = 0, /* /dev/null (the default) */
    VM_JOB_FD,       /* io.fd, given by the caller */
    VM_JOB_PIPE,     /* a pipe; the parent's end in vm_job.fds[] */
    VM_JOB_PTY,      /* a pseudo-terminal the parent owns (its master in
                          vm_job.fds[]; one pty serves every stream set so;
                          implies a session of its own) */
    VM_JOB_INHERIT,  /* ours as it is (a step inside a site's child) */
    VM_JOB_VISIBLE   /* io.fd (a site's log), through a pipe: a copier
                          process of ours, as nobody, writes what comes
                          through vm_text_visible into io.fd, newlines and
                          tabs kept (stdout and stderr only; both visible
                          share one io.fd and one pipe) */
} vm_job_io_kind;

typedef struct {
    vm_job_io_kind kind;
    int fd; /* VM_JOB_FD */
} vm_job_io;

typedef enum {
    VM_JOB_SESSION = 0, /* setsid: own session and group, no terminal of
                             the caller's (the default) */
    VM_JOB_SAME_GROUP   /* stays in our process group (a step of a job
                             that already has its own) */
} vm_job_group;

/* Zero-initialise, then set what matters: new fields keep zero meaning
 * "as before". */
typedef struct {
    const char *const *argv; /* argv[0] an absolute path */
    const char *const *envp; /* exactly the child's environment */
    const vm_identity *who;  /* dropped to before exec; NULL: stay */
    const char *dir;         /* working directory; NULL: "/" */
    vm_job_io io[3];         /* stdin, stdout, stderr */
    int keep_fd;             /* kept open in the child as fd 3 (a lock);
                                  -1 or 0: none (0 is never a lock) */
    vm_job_group group;
    /* Run fn(ctx) in the child instead of exec (its return value is the
     * exit code): work already set up as the site (an upgrade's steps). */
    int (*fn)(void *ctx);
    void *ctx;
    long long timeout_ms;          /* 0: none */
    long long grace_ms;            /* between TERM and KILL */
    const struct winsize *winsize; /* VM_JOB_PTY: its size, or NULL */
    const struct termios *termios; /* VM_JOB_PTY: its modes, or NULL */
} vm_job_opts;

/* A started child and, once reaped, how it ended. */
typedef struct {
    pid_t pid;  /* 0 once reaped */
    int fds[3]; /* the parent's ends of PIPE streams, or -1 */
    int pty;    /* the pseudo-terminal's master, or -1 */
    /* VM_JOB_VISIBLE: the copier, and our end of the pipe whose closing
     * tells it the child has ended (it takes what is left and exits). */
    pid_t copier;
    int copier_done;
    int own_group;
    long long start_ms, term_at_ms, kill_at_ms, grace_ms;
    int terminated, killed;
    /* Results. */
    int status;    /* as waitpid gives it */
    int code;      /* exit code, or 128 + signal */
    int signal;    /* the signal that ended it, or 0 */
    int timed_out; /* ended at its timeout (or by vm_job_end) */
    long long duration_ms;
    long long cpu_ms; /* its CPU time, user + system (rusage) */
} vm_job;

/* Start the child.  0, or -1 with *err (from p) when it could not be set
 * up or started (it has then been reaped: nothing is left running). */
int vm_job_start(vm_job *j, const vm_job_opts *o, apr_pool_t *p,
                 const char **err);

/* End it now: sig (SIGTERM, or the SIGINT we caught) to its group, KILL
 * after the grace (vm_job_tick). */
void vm_job_end(vm_job *j, int sig, long long now_ms);

/* At the timeout TERM, after the grace KILL, to the whole group. */
void vm_job_tick(vm_job *j, long long now_ms);

/* When vm_job_tick next has something to do (monotonic ms), or -1. */
long long vm_job_deadline(const vm_job *j);

/* Without blocking: 1 when the child has ended and is reaped (when it
 * has a group of its own, what is left of the group is killed first,
 * while the id cannot be reused: a process it left behind does not
 * survive it), the results set and pid 0; else 0.  Its copier
 * (VM_JOB_VISIBLE) has then written what the child left in the pipe and
 * is reaped too; output a descendant writes later is refused (EPIPE).
 * The copier's own end never changes the results. */
int vm_job_reap(vm_job *j);

/* Block until the child ends, applying the timeout; interrupted() (may be
 * NULL), when it returns a signal, ends the child's group with it.
 * Returns j->code. */
int vm_job_wait(vm_job *j, int (*interrupted)(void));

/* Close the parent's ends still open. */
void vm_job_close(vm_job *j);

/* name looked up in path (":"-separated) as execvp would, in the parent:
 * an absolute path, or NULL. */
const char *vm_job_which(const char *name, const char *path, apr_pool_t *p);

/* Our environment with the name=value of add (NULL-terminated, may be
 * NULL) replacing or joining it: an envp for a tool of ours. */
const char *const *vm_job_env_with(const char *const *add, apr_pool_t *p);

#endif
