/* A foreground run's output relayed by us (as sudo's use_pty does): the
 * child writes into a pipe or a pseudo-terminal we own, never into our
 * terminal, and what it writes reaches ours through the one rule of
 * vm_text.h, so no escape sequence of a tenant's reaches root's terminal
 * and no keystroke it pushes (TIOCSTI) reaches root's shell. */
#ifndef VM_RELAY_H
#define VM_RELAY_H

#include "vm_job.h"

/* What a tenant's output may keep: line ends, tabs and carriage returns
 * (progress lines); any other control is shown escaped. */
#define VM_RELAY_LINES "\n\t\r"

typedef struct {
    int in_fd;          /* ours, copied to the child's stdin (its pipe or
                           the pty), or -1: the child reads nothing of ours */
    int out_fd, err_fd; /* where its stdout and stderr go (a pty: out_fd) */
    const char *keep;   /* controls passed as they are (e.g. "\n\t\r") */
    int (*interrupted)(void); /* a signal we caught ends its group, or 0 */
} vm_relay;

/* Relay until the child has ended and its output is drained, applying
 * its timeout; then close our ends.  Returns j->code. */
int vm_relay_run(vm_job *j, const vm_relay *r);

/* Options for relaying as r says: stdout into a pty when r->out_fd is a
 * terminal (the child still sees a tty, sized and moded like ours, but
 * without echo and newline translation: ours does both), else a pipe; stderr the same way by r->err_fd;
 * stdin from the pty or a pipe when r->in_fd is given, else /dev/null; a
 * session of its own.  Sets o->io, group, winsize, termios (their storage
 * in *ws and *tio). */
void vm_relay_options(vm_job_opts *o, const vm_relay *r, struct winsize *ws,
                      struct termios *tio);

/* o (argv, envp, who, dir, timeout... filled in) started as
 * vm_relay_options says and relayed as r says (vm_relay_run): its exit
 * code, or -1 with *why (from p) when it could not start. */
int vm_relay_job(vm_job_opts *o, const vm_relay *r, apr_pool_t *p,
                 const char **why);

#endif
