/* vcron's schedulers: pure functions, see sched.h. */
#include <stdlib.h>
#include <string.h>
#include "sched.h"

static const char *const mode_names[] = { "round-robin", "lowest-gap",
                                          "activity" };

int vc_mode_parse(const char *name)
{
    for (int m = 0; m < 3; m++)
        if (strcmp(name, mode_names[m]) == 0)
            return m;
    return -1;
}

const char *vc_mode_name(vc_mode m)
{
    return mode_names[m >= VC_MODE_ROUND_ROBIN && m <= VC_MODE_ACTIVITY ? m
                                                                        : 0];
}

static int by_id(const void *a, const void *b)
{
    const vc_sched_item *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Never run first (the oldest of all), then the oldest run, then by id so
 * that equal times still give one order. */
static int most_overdue_first(const void *a, const void *b)
{
    const vc_sched_item *x = a, *y = b;
    int xnever = x->lastcron <= 0, ynever = y->lastcron <= 0;
    if (xnever != ynever)
        return ynever - xnever;
    if (!xnever && x->lastcron != y->lastcron)
        return (x->lastcron > y->lastcron) - (x->lastcron < y->lastcron);
    return by_id(a, b);
}

/* Copy the enabled items into scratch; return how many. */
static size_t enabled_only(const vc_sched_item *items, size_t n,
                           vc_sched_item *scratch)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].enabled)
            scratch[m++] = items[i];
    return m;
}

size_t vc_sched_round_robin(const vc_sched_item *items, size_t n,
                            long long cursor, long long *out,
                            vc_sched_item *scratch)
{
    size_t m = enabled_only(items, n, scratch);
    qsort(scratch, m, sizeof *scratch, by_id);
    size_t start = 0;
    while (start < m && scratch[start].id <= cursor)
        start++;
    /* Each enabled instance once: a tick wider than the table runs the
     * table once, it does not wrap round onto itself. */
    for (size_t k = 0; k < m; k++)
        out[k] = scratch[(start + k) % m].id;
    return m;
}

size_t vc_sched_rate(size_t n, long long period, long long tick)
{
    if (n == 0)
        return 0;
    if (tick < 1)
        tick = 1;
    if (period <= tick)
        return n;
    unsigned long long want = ((unsigned long long)n * (unsigned long long)tick
                               + (unsigned long long)period - 1)
        / (unsigned long long)period;
    return want < n ? (size_t)want : n;
}

size_t vc_sched_rate_at(size_t n, long long period, long long tick,
                        long long now)
{
    if (n == 0 || now < 0)
        return 0;
    if (tick < 1)
        tick = 1;
    if (period <= tick)
        return n;
    unsigned long long k = (unsigned long long)(now / tick);
    unsigned long long per = (unsigned long long)n * (unsigned long long)tick;
    unsigned long long want = ((k + 1) * per) / (unsigned long long)period
        - (k * per) / (unsigned long long)period;
    return want < n ? (size_t)want : n;
}

/* Past its period before the next tick if it is not run in this one. */
static int urgent(const vc_sched_item *it, const vc_gap_params *gp,
                  long long tick)
{
    return it->lastcron > 0 && gp->now - it->lastcron + tick > gp->period;
}

/* Started since the last tick, here or on another cron host. */
static int ran_this_tick(const vc_sched_item *it, const vc_gap_params *gp,
                         long long tick)
{
    return it->lastcron > gp->now - tick;
}

size_t vc_sched_lowest_gap(const vc_sched_item *items, size_t n,
                           const vc_gap_params *gp, long long *out,
                           vc_sched_item *scratch)
{
    size_t m = enabled_only(items, n, scratch);
    if (m == 0)
        return 0;
    long long tick = gp->tick < 1 ? 1 : gp->tick;
    qsort(scratch, m, sizeof *scratch, most_overdue_first);
    /* The fleet's rate, less what the other hosts (or an earlier run of
     * this one) already did since the last tick: those sort last. */
    size_t ran = 0;
    while (ran < m && ran_this_tick(&scratch[m - 1 - ran], gp, tick))
        ran++;
    size_t rate = gp->spread ? vc_sched_rate_at(m, gp->period, tick, gp->now)
                             : vc_sched_rate(m, gp->period, tick);
    size_t count = rate > ran ? rate - ran : 0;
    if (count > m - ran)
        count = m - ran;
    /* Urgent ones come right after the never-run ones in this order: the
     * prefix up to the last urgent one must run whatever the rate says. */
    for (size_t i = m; i > count; i--)
        if (urgent(&scratch[i - 1], gp, tick)) {
            count = i;
            break;
        }
    for (size_t k = 0; k < count; k++)
        out[k] = scratch[k].id;
    return count;
}
