/* epoll_shim.so, preloaded into a test's Apache: each epoll_ctl(ADD) of a
 * connection (a socket with a peer: not a listener, not a pipe) first reads
 * the file named by VMOODLE_EPOLL_SHIM and acts on its first byte:
 *   w  wait until another thread closes the descriptor, at most 10 s
 *      (a worker preempted on its way to the pollset while Apache stops)
 *   c  close the descriptor (a descriptor closed twice elsewhere)
 * anything else, or no file: nothing.  Test-only, never installed. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int (*epoll_ctl_fn)(int, int, int, struct epoll_event *);

static char mode(void)
{
    const char *path = getenv("VMOODLE_EPOLL_SHIM");
    char c = 0;
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;

    if (fd >= 0) {
        if (read(fd, &c, 1) != 1)
            c = 0;
        close(fd);
    }
    return c;
}

static int is_connection(int fd)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;

    return getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
}

static void wait_for_close(int fd)
{
    for (int i = 0; i < 1000 && fcntl(fd, F_GETFD) != -1; i++)
        usleep(10 * 1000);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
    epoll_ctl_fn real = (epoll_ctl_fn)dlsym(RTLD_NEXT, "epoll_ctl");
    char m = op == EPOLL_CTL_ADD && is_connection(fd) ? mode() : 0;

    if (m == 'w')
        wait_for_close(fd);
    else if (m == 'c')
        close(fd);
    return real(epfd, op, fd, event);
}
