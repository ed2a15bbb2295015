/* Relaying a child's output through us, see vm_relay.h. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "vm_file.h"
#include "vm_relay.h"
#include "vm_text.h"
#include "vm_time.h"

#define PIECE 4096
#define POLL_MS 100

enum { SRC_IN, SRC_PTY, SRC_OUT, SRC_ERR, NSRC, TO_CHILD = NSRC };

typedef struct {
    vm_job *j;
    const vm_relay *r;
    int to_child; /* the child's stdin: pipe or pty */
    int full;     /* it had no room: wait for some */
    vm_text_stream text[NSRC];
} relay;

/* A piece of the child's output, made visible, to fd. */
static void pass_out(relay *rl, int src, int fd, const char *buf, size_t n)
{
    char out[VM_TEXT_CHUNK_ROOM(PIECE)];
    size_t len = n
        ? vm_text_visible_chunk(&rl->text[src], buf, n, rl->r->keep, out)
        : vm_text_visible_flush(&rl->text[src], out);
    if (vm_file_write_all(fd, out, len) != 0)
        return; /* our reader went: the child's status says more */
}

/* Our stdin to the child's; at its end, the child's end too (a pty: its
 * end-of-file character at the start of a line). */
static void pass_in(relay *rl, int *fd)
{
    char buf[PIECE];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
        return;
    if (n > 0 && vm_file_write_all(rl->to_child, buf, (size_t)n) == 0)
        return;
    *fd = -1;
    if (rl->j->pty >= 0 && rl->to_child == rl->j->pty)
        vm_file_write_all(rl->to_child, "\004", 1);
    else if (rl->to_child == rl->j->fds[0]) {
        close(rl->j->fds[0]);
        rl->j->fds[0] = -1;
    }
}

/* One readable source: 0 when it has ended. */
static int pass(relay *rl, int src, int fd)
{
    char buf[PIECE];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
        return 1;
    int to = src == SRC_ERR ? rl->r->err_fd : rl->r->out_fd;
    if (n <= 0) { /* EOF, or EIO: the pty has no writer left */
        pass_out(rl, src, to, NULL, 0);
        return 0;
    }
    pass_out(rl, src, to, buf, (size_t)n);
    return 1;
}

/* The sources still open, into pfd, how many.  Our stdin only while the
 * child's has room, else the child's stdin until it has: a child that
 * reads nothing never blocks us, nor its own output. */
static int gather(const relay *rl, const int *fds, struct pollfd *pfd,
                  int *which)
{
    int n = 0;
    for (int s = 0; s < NSRC; s++)
        if (fds[s] >= 0 && (s != SRC_IN || !rl->full)) {
            pfd[n] = (struct pollfd){ fds[s], POLLIN, 0 };
            which[n++] = s;
        }
    if (fds[SRC_IN] >= 0 && rl->full) {
        pfd[n] = (struct pollfd){ rl->to_child, POLLOUT, 0 };
        which[n++] = TO_CHILD;
    }
    return n;
}

/* Room for a piece in the child's stdin now (or it is closed: the write
 * fails and our stdin is no longer read)? */
static int has_room(const relay *rl)
{
    struct pollfd p = { rl->to_child, POLLOUT, 0 };
    return poll(&p, 1, 0) == 1;
}

static long wait_ms(const vm_job *j, int ended)
{
    if (ended)
        return 0; /* drain what is there, wait for nothing */
    long long at = vm_job_deadline(j), now = vm_time_mono_ms();
    if (at >= 0 && at - now < POLL_MS)
        return at - now < 1 ? 1 : (long)(at - now);
    return POLL_MS;
}

int vm_relay_run(vm_job *j, const vm_relay *r)
{
    relay rl = {
        j, r, j->pty >= 0 && j->fds[0] < 0 ? j->pty : j->fds[0], 0, { { 0 } }
    };
    int fds[NSRC] = { rl.to_child >= 0 ? r->in_fd : -1, j->pty, j->fds[1],
                      j->fds[2] };
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    int ended = 0;
    for (;;) {
        struct pollfd pfd[NSRC + 1];
        int which[NSRC + 1], n = gather(&rl, fds, pfd, which);
        if (n == 0) { /* every output drained */
            if (!ended)
                vm_job_wait(j, r->interrupted);
            break;
        }
        int got = poll(pfd, (nfds_t)n, (int)wait_ms(j, ended));
        for (int i = 0; got > 0 && i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (which[i] == TO_CHILD)
                rl.full = 0;
            else if (which[i] != SRC_IN)
                fds[which[i]] = pass(&rl, which[i], pfd[i].fd) ? fds[which[i]]
                                                               : -1;
            else if (!(rl.full = !has_room(&rl)))
                pass_in(&rl, &fds[SRC_IN]);
        }
        if (ended && got == 0)
            break; /* ended, and nothing more is waiting */
        int sig = r->interrupted ? r->interrupted() : 0;
        if (sig)
            vm_job_end(j, sig, vm_time_mono_ms());
        vm_job_tick(j, vm_time_mono_ms());
        if (!ended && (ended = vm_job_reap(j)) != 0)
            fds[SRC_IN] = -1; /* nobody reads it any more */
    }
    for (int s = SRC_PTY; s < NSRC; s++)
        if (fds[s] >= 0)
            pass_out(&rl, s, s == SRC_ERR ? r->err_fd : r->out_fd, NULL, 0);
    vm_job_close(j);
    signal(SIGPIPE, old_pipe);
    return j->code;
}

void vm_relay_options(vm_job_opts *o, const vm_relay *r, struct winsize *ws,
                      struct termios *tio)
{
    int tty = isatty(r->out_fd), in_fd = r->in_fd;
    o->io[1].kind = tty ? VM_JOB_PTY : VM_JOB_PIPE;
    o->io[2].kind = tty && isatty(r->err_fd) ? VM_JOB_PTY : VM_JOB_PIPE;
    o->io[0].kind = in_fd < 0  ? VM_JOB_NULL
        : tty && isatty(in_fd) ? VM_JOB_PTY
                               : VM_JOB_PIPE;
    o->group = VM_JOB_SESSION;
    if (!tty)
        return;
    if (ioctl(r->out_fd, TIOCGWINSZ, ws) == 0)
        o->winsize = ws;
    if (tcgetattr(r->out_fd, tio) == 0) {
        tio->c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        tio->c_oflag &= ~(tcflag_t)ONLCR; /* ours turns \n into \r\n */
        o->termios = tio;
    }
}

int vm_relay_job(vm_job_opts *o, const vm_relay *r, apr_pool_t *p,
                 const char **why)
{
    struct winsize ws;
    struct termios tio;
    vm_job j;

    vm_relay_options(o, r, &ws, &tio);
    int started = vm_job_start(&j, o, p, why);
    o->winsize = NULL; /* ours, gone with this call */
    o->termios = NULL;
    return started != 0 ? -1 : vm_relay_run(&j, r);
}
