/* The two schedulers of vcron, as pure functions over simulated time: they
 * see instances (id, enabled, last cron) and the clock, never a process, a
 * file or a source, so the unit tests can drive them through thousands of
 * ticks in a few milliseconds. */
#ifndef VC_SCHED_H
#define VC_SCHED_H

#include <stddef.h>

typedef enum {
    VC_MODE_ROUND_ROBIN,
    VC_MODE_LOWEST_GAP,
    VC_MODE_ACTIVITY
} vc_mode;

typedef struct {
    long long id;
    int enabled;
    long long lastcron; /* start of the last run, seconds; 0 = never */
} vc_sched_item;

/* Round robin: every enabled instance, in ascending id order from the
 * first after the id cursor, wrapping round once: the order a tick tries
 * them in.  The tick runs the first per_tick of them that are not locked
 * (a locked one is being run elsewhere: it takes the next) and moves the
 * cursor to the last one it tried.  items need not be sorted.  Writes the
 * ids into out (room for n), returns their number.  Uses scratch, room
 * for n, as working space. */
size_t vc_sched_round_robin(const vc_sched_item *items, size_t n,
                            long long cursor, long long *out,
                            vc_sched_item *scratch);

typedef struct {
    long long now;    /* start of this tick */
    long long period; /* nominal time between two runs of an instance */
    long long tick;   /* measured time between two ticks */
    int spread;       /* rate by vc_sched_rate_at: a small set runs no
                           more often than its period */
} vc_gap_params;

/* How many instances one tick must run so that n instances each run once
 * per period: ceil(n * tick / period), at most n. */
size_t vc_sched_rate(size_t n, long long period, long long tick);

/* The same rate as a fraction carried from tick to tick: the tick's share
 * of n * (tick index + 1) * tick / period, the tick index being
 * now / tick, so every host computes the same and 5 instances with a day's
 * period run 5 times a day, not once a tick. */
size_t vc_sched_rate_at(size_t n, long long period, long long tick,
                        long long now);

/* Lowest gap: the instances this tick must see run, the most overdue
 * first (never run, then oldest last cron, then lowest id): as many as the
 * rate asks, less those that ran since the last tick (lastcron within one
 * tick of now: another cron host ran them), and more when waiting one more
 * tick would take an instance past its period.  What is due is worked out
 * from the table alone, so every cron host sharing it agrees: each tries
 * them in this order, runs those whose lock it gets, up to its capacity,
 * and leaves the locked ones to the host that holds them.  Writes the ids
 * into out (room for n), returns their number.  Uses scratch, room for n,
 * as working space: its first count entries are then the chosen ones, in
 * out's order. */
size_t vc_sched_lowest_gap(const vc_sched_item *items, size_t n,
                           const vc_gap_params *gp, long long *out,
                           vc_sched_item *scratch);

/* "round-robin" / "lowest-gap" / "activity" and back; -1 for an unknown name. */
int vc_mode_parse(const char *name);
const char *vc_mode_name(vc_mode m);

#endif
