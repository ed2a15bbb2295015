/* vcron's log lines, see log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "vm_time.h"

/* One line, written with a single write() so concurrent writers to one
 * file do not interleave inside it. */
static void vlog_fd(int fd, int tag, const char *fmt, va_list ap)
{
    char line[1024];
    char stamp[VM_TIME_TEXT];
    vm_time_text((long long)time(NULL), stamp);
    int n = snprintf(line, sizeof line, "%s vcron[%ld]: VM%05d: ", stamp,
                     (long)getpid(), tag);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2; /* truncated, but still one line */
    line[len++] = '\n';
    ssize_t w = write(fd, line, len);
    (void)w;
}

void vc_log(int tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_fd(STDERR_FILENO, tag, fmt, ap);
    va_end(ap);
}

void vc_log_fd(int fd, int tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_fd(fd, tag, fmt, ap);
    va_end(ap);
}
