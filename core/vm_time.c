#include <stdio.h>
#include <time.h>
#include "vm_time.h"

static char *format(long long t, const char *fmt, char buf[VM_TIME_TEXT])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || !gmtime_r(&tt, &tm)
        || strftime(buf, VM_TIME_TEXT, fmt, &tm) == 0)
        snprintf(buf, VM_TIME_TEXT, "never");
    return buf;
}

char *vm_time_text(long long t, char buf[VM_TIME_TEXT])
{
    return format(t, "%Y-%m-%dT%H:%M:%SZ", buf);
}

char *vm_time_human(long long t, char buf[VM_TIME_TEXT])
{
    return format(t, "%Y-%m-%d %H:%M:%S UTC", buf);
}

char *vm_time_stamp(long long t, char buf[VM_TIME_TEXT])
{
    return format(t, "%Y%m%dT%H%M%SZ", buf);
}

long long vm_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
