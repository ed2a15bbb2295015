/* Copying a job's output made visible, see vm_copier.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include "vm_copier.h"
#include "vm_file.h"
#include "vm_text.h"

#define PIECE 4096
/* What is still read after the child's end: a writer left over cannot
 * keep us going. */
#define DRAIN_MAX (1L << 20)
/* A backslash as it is: what a relay inside the run (a fleet run's
 * steps) made visible reaches the log once, not escaped twice. */
#define KEEP "\n\t\\"

enum { FROM = 0, TO = 1, DONE = 2 };

/* One piece from the pipe into the log: its length, 0 at the end, -1
 * when nothing is there (drained) or on error. */
static ssize_t copy_piece(vm_text_stream *st)
{
    char buf[PIECE], out[VM_TEXT_CHUNK_ROOM(PIECE)];
    ssize_t n;
    while ((n = read(FROM, buf, sizeof buf)) < 0 && errno == EINTR)
        ;
    if (n > 0
        && vm_file_write_all(TO, out,
                             vm_text_visible_chunk(st, buf, (apr_size_t)n, KEEP,
                                                   out))
            != 0)
        return -1; /* the log refuses: nothing more to do */
    return n;
}

/* Until the engine says the child has ended (or the pipe ends). */
static int follow(vm_text_stream *st)
{
    struct pollfd pfd[2] = { { FROM, POLLIN, 0 }, { DONE, POLLIN, 0 } };
    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        if (pfd[0].revents) {
            if (copy_piece(st) <= 0)
                return 0;
        } else if (pfd[1].revents)
            return 1;
    }
}

int vm_copier_run(void)
{
    vm_text_stream st = { 0 };
    char out[VM_TEXT_CHUNK_ROOM(0)];
    ssize_t n;
    long drained = 0;
    if (follow(&st) && fcntl(FROM, F_SETFL, O_NONBLOCK) == 0)
        while (drained < DRAIN_MAX && (n = copy_piece(&st)) > 0)
            drained += n;
    vm_file_write_all(TO, out, vm_text_visible_flush(&st, out));
    return 0;
}
