/* vmoodlectl's messages: errors tagged on stderr, steps on stdout. */
#include <stdarg.h>
#include <stdio.h>
#include "ctl.h"

void vmc_error(int tag, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vmoodlectl: VM%05d: ", tag);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int vmc_fail(int tag, int rc, const char *why)
{
    vmc_error(tag, "%s", why);
    return rc;
}

void vmc_say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}
