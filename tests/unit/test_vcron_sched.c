/* vcron's schedulers over simulated time: round robin never skips or
 * repeats; lowest gap keeps every gap within period + tick when capacity
 * allows and shares the lack fairly when it does not; two cron hosts on one
 * table share the due work instead of doing it twice. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sched.h"

#define MAXN 1200

typedef struct {
    vc_sched_item items[MAXN];
    long long prev[MAXN]; /* start of the run before lastcron */
    long long maxgap[MAXN];
    size_t n;
    vc_sched_item scratch[MAXN];
    long long out[MAXN];
} sim;

/* Ids 7, 10, 13, ... handed to the scheduler in a scrambled order. */
static void sim_init(sim *s, size_t n)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        size_t slot = (i * 7919) % n; /* 7919 is prime: a permutation */
        if (n % 7919 == 0)
            slot = i;
        s->items[slot].id = 7 + 3 * (long long)i;
        s->items[slot].enabled = 1;
    }
}

static sim *sim_new(size_t n)
{
    sim *s = malloc(sizeof *s);
    assert_non_null(s);
    sim_init(s, n);
    return s;
}

static vc_sched_item *sim_find(sim *s, long long id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].id == id)
            return &s->items[i];
    return NULL;
}

/* The runs of one tick happen at 'now': record them and their gaps. */
static void sim_run(sim *s, const long long *ids, size_t count, long long now)
{
    for (size_t k = 0; k < count; k++) {
        vc_sched_item *it = sim_find(s, ids[k]);
        assert_non_null(it);
        size_t i = (size_t)(it - s->items);
        if (it->lastcron > 0 && now - it->lastcron > s->maxgap[i])
            s->maxgap[i] = now - it->lastcron;
        s->prev[i] = it->lastcron;
        it->lastcron = now;
    }
}

/* ---- round robin ---- */

/* What a tick does with the scheduler's order: the first budget ids not
 * held elsewhere, into ran; returns how many, *tried how far it went. */
static size_t take(const long long *order, size_t count, size_t budget,
                   const long long *held, size_t nheld, long long *ran,
                   size_t *tried)
{
    size_t got = 0, k = 0;
    for (; k < count && got < budget; k++) {
        int busy = 0;
        for (size_t h = 0; h < nheld; h++)
            busy |= held[h] == order[k];
        if (!busy)
            ran[got++] = order[k];
    }
    if (tried)
        *tried = k;
    return got;
}

static void check_round_robin(size_t n, size_t per_tick)
{
    sim *s = sim_new(n);
    long long cursor = 0;
    size_t position = 0; /* place in the endless cycle 7, 10, 13, ... */
    long long ran[MAXN];
    for (int tick = 0; tick < 60; tick++) {
        size_t m = vc_sched_round_robin(s->items, s->n, cursor, s->out,
                                        s->scratch);
        assert_int_equal(m, n);
        size_t count = take(s->out, m, per_tick, NULL, 0, ran, NULL);
        assert_int_equal(count, per_tick < n ? per_tick : n);
        for (size_t k = 0; k < count; k++, position++)
            assert_int_equal(ran[k], 7 + 3 * (long long)(position % n));
        cursor = ran[count - 1];
    }
    free(s);
}

static void rr_never_skips_or_repeats(void **state)
{
    (void)state;
    const size_t sizes[] = { 1, 5, 16, 17, 1000 };
    const size_t widths[] = { 1, 3, 5, 16, 17, 999, 1000, 1001 };
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (size_t b = 0; b < sizeof widths / sizeof *widths; b++)
            check_round_robin(sizes[a], widths[b]);
}

static void rr_cursor_beyond_table_wraps(void **state)
{
    (void)state;
    sim *s = sim_new(5);
    size_t count = vc_sched_round_robin(s->items, s->n, 1000, s->out,
                                        s->scratch);
    assert_int_equal(count, 5);
    assert_int_equal(s->out[0], 7);
    assert_int_equal(s->out[1], 10);
    free(s);
}

static void rr_follows_table_changes(void **state)
{
    (void)state;
    sim *s = sim_new(10); /* ids 7 .. 34 */
    vc_sched_round_robin(s->items, s->n, 0, s->out, s->scratch);
    long long cursor = s->out[2]; /* ran 7 10 13 */
    assert_int_equal(cursor, 13);
    /* Remove the cursor's instance, disable 16, add 15 just after it. */
    sim_find(s, 13)->id = 15;
    sim_find(s, 16)->enabled = 0;
    size_t count = vc_sched_round_robin(s->items, s->n, cursor, s->out,
                                        s->scratch);
    assert_int_equal(count, 9);
    assert_int_equal(s->out[0], 15);
    assert_int_equal(s->out[1], 19);
    assert_int_equal(s->out[2], 22);
    assert_int_equal(s->out[8], 10); /* wrapped round, once */
    /* Everything disabled: nothing to run. */
    for (size_t i = 0; i < s->n; i++)
        s->items[i].enabled = 0;
    count = vc_sched_round_robin(s->items, s->n, cursor, s->out, s->scratch);
    assert_int_equal(count, 0);
    free(s);
}

/* A locked instance (its cron still running, here or on another host)
 * does not use up the tick: the next ones run instead. */
static void rr_passes_over_locked_instances(void **state)
{
    (void)state;
    sim *s = sim_new(10); /* ids 7 .. 34 */
    const long long held[] = { 10, 13 };
    long long ran[MAXN];
    size_t tried;
    size_t m = vc_sched_round_robin(s->items, s->n, 0, s->out, s->scratch);
    size_t count = take(s->out, m, 3, held, 2, ran, &tried);
    assert_int_equal(count, 3);
    assert_int_equal(ran[0], 7);
    assert_int_equal(ran[1], 16);
    assert_int_equal(ran[2], 19);
    assert_int_equal(tried, 5); /* the cursor moves to 19 */
    free(s);
}

/* ---- lowest gap ---- */

/* One lowest-gap choice at now on a single cron host, into s->out: what
 * is due, the first capacity of it (0: no cap).  Returns how many. */
static size_t lg_choose(sim *s, long long now, long long period, long long tick,
                        size_t capacity)
{
    vc_gap_params gp = { now, period, tick, 0 };
    size_t count = vc_sched_lowest_gap(s->items, s->n, &gp, s->out, s->scratch);
    return capacity && count > capacity ? capacity : count;
}

/* Run ticks t0, t0 + tick, ... ; return the most instances one tick ran. */
static size_t run_ticks(sim *s, long long t0, int ticks, long long period,
                        long long tick, size_t capacity)
{
    size_t most = 0;
    for (int k = 0; k < ticks; k++) {
        long long now = t0 + k * tick;
        size_t count = lg_choose(s, now, period, tick, capacity);
        if (capacity)
            assert_true(count <= capacity);
        for (size_t a = 0; a < count; a++)
            for (size_t b = a + 1; b < count; b++)
                assert_true(s->out[a] != s->out[b]);
        sim_run(s, s->out, count, now);
        if (count > most)
            most = count;
    }
    return most;
}

static void assert_all_gaps_within(const sim *s, long long bound)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].enabled) {
            assert_true(s->items[i].lastcron > 0);
            assert_true(s->maxgap[i] > 0);
            assert_true(s->maxgap[i] <= bound);
        }
}

static void lg_rate(void **state)
{
    (void)state;
    assert_int_equal(vc_sched_rate(1000, 900, 60), 67);
    assert_int_equal(vc_sched_rate(1, 900, 60), 1);
    assert_int_equal(vc_sched_rate(0, 900, 60), 0);
    assert_int_equal(vc_sched_rate(10, 60, 120), 10);
    assert_int_equal(vc_sched_rate(15, 900, 60), 1);
}

static void lg_keeps_gaps_within_period_plus_tick(void **state)
{
    (void)state;
    const size_t capacities[] = { 0, 67, 100 };
    for (size_t c = 0; c < 3; c++) {
        sim *s = sim_new(1000);
        long long t0 = 1700000000;
        /* From the first tick: a rate's worth, not the whole table. */
        assert_int_equal(lg_choose(s, t0, 900, 60, capacities[c]), 67);
        size_t most = run_ticks(s, t0, 200, 900, 60, capacities[c]);
        assert_true(most <= 100);
        assert_all_gaps_within(s, 900 + 60);
        free(s);
    }
}

static void lg_first_period_runs_everyone(void **state)
{
    (void)state;
    sim *s = sim_new(1000);
    run_ticks(s, 1700000000, 15, 900, 60, 0); /* one period of ticks */
    for (size_t i = 0; i < s->n; i++)
        assert_true(s->items[i].lastcron > 0);
    free(s);
}

static void lg_overdue_run_at_once(void **state)
{
    (void)state;
    sim *s = sim_new(1000);
    long long t0 = 1700000000;
    for (size_t i = 0; i < s->n; i++) /* last run long ago */
        s->items[i].lastcron = t0 - 86400 - (long long)i;
    assert_int_equal(lg_choose(s, t0, 900, 60, 0), 1000);
    free(s);
}

/* The most recent last cron among the chosen s->out[0 .. count-1]. */
static long long newest_of(sim *s, size_t count)
{
    long long newest = 0;
    for (size_t a = 0; a < count; a++) {
        long long lc = sim_find(s, s->out[a])->lastcron;
        if (lc > newest)
            newest = lc;
    }
    return newest;
}

/* Capacity 40 of the 67 needed: every instance waits about as long as the
 * others (1000 / 40 ticks), and each tick takes the oldest. */
static void lg_degrades_fairly(void **state)
{
    (void)state;
    sim *s = sim_new(1000);
    long long t0 = 1700000000, period = 900, tick = 60;
    run_ticks(s, t0, 100, period, tick, 40);
    memset(s->maxgap, 0, sizeof s->maxgap);
    long long now = t0 + 100 * tick;
    for (int k = 0; k < 100; k++, now += tick) {
        size_t count = lg_choose(s, now, period, tick, 40);
        assert_int_equal(count, 40);
        long long newest_chosen = newest_of(s, count);
        sim_run(s, s->out, count, now);
        for (size_t i = 0; i < s->n; i++) /* nobody left older */
            if (s->items[i].lastcron != now)
                assert_true(s->items[i].lastcron >= newest_chosen);
    }
    long long lo = -1, hi = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (lo < 0 || s->maxgap[i] < lo)
            lo = s->maxgap[i];
        if (s->maxgap[i] > hi)
            hi = s->maxgap[i];
    }
    assert_true(hi - lo <= tick);
    assert_true(hi <= (1000 / 40 + 1) * tick);
    free(s);
}

static void lg_follows_table_changes(void **state)
{
    (void)state;
    sim *s = sim_new(600);
    long long t0 = 1700000000, period = 900, tick = 60;
    run_ticks(s, t0, 40, period, tick, 0);
    /* Disable 50, remove 50 (by overwriting them with 50 new ones). */
    for (size_t i = 0; i < 50; i++)
        s->items[i].enabled = 0;
    long long disabled_last = s->items[0].lastcron;
    for (size_t i = 50; i < 100; i++) {
        s->items[i].id = 100000 + (long long)i;
        s->items[i].lastcron = 0;
        s->maxgap[i] = 0;
    }
    long long now = t0 + 40 * tick;
    size_t count = lg_choose(s, now, period, tick, 0);
    size_t fresh = 0;
    for (size_t k = 0; k < count; k++)
        fresh += s->out[k] >= 100000;
    assert_int_equal(fresh, count < 50 ? count : 50); /* new ones first */
    run_ticks(s, now, 60, period, tick, 0);
    assert_int_equal(s->items[0].lastcron, disabled_last);
    assert_all_gaps_within(s, period + tick);
    free(s);
}

static void lg_single_instance_and_slow_ticks(void **state)
{
    (void)state;
    sim *s = sim_new(1);
    run_ticks(s, 1700000000, 100, 900, 60, 0);
    assert_all_gaps_within(s, 960);
    free(s);
    s = sim_new(17); /* ticks slower than the period */
    run_ticks(s, 1700000000, 10, 60, 300, 0);
    assert_all_gaps_within(s, 300);
    free(s);
}

/* ---- several cron hosts on one table ---- */

typedef struct {
    size_t capacity;  /* most runs a tick; 0 = no cap */
    long long offset; /* its ticks come this long after t0 + k * tick */
    size_t runs;
} cron_host;

/* Ticks of hosts (in ascending offset) sharing one table.  Hosts with the
 * same offset tick at the same moment: each finds the others' crons
 * running (locked, not yet recorded) and passes over them.  Crons last
 * less than the gap between two offsets.  Returns the runs in all. */
static size_t run_hosts(sim *s, cron_host *hosts, size_t nhosts, long long t0,
                        int ticks, long long period, long long tick)
{
    static long long held[MAXN];
    size_t total = 0;
    for (int k = 0; k < ticks; k++)
        for (size_t h = 0; h < nhosts;) {
            long long now = t0 + k * tick + hosts[h].offset;
            size_t nheld = 0;
            for (; h < nhosts && t0 + k * tick + hosts[h].offset == now; h++) {
                vc_gap_params gp = { now, period, tick, 0 };
                size_t due = vc_sched_lowest_gap(s->items, s->n, &gp, s->out,
                                                 s->scratch);
                size_t got = take(s->out, due,
                                  hosts[h].capacity ? hosts[h].capacity : MAXN,
                                  held, nheld, held + nheld, NULL);
                nheld += got;
                hosts[h].runs += got;
            }
            sim_run(s, held, nheld, now);
            total += nheld;
        }
    return total;
}

#define T0 1700000000
#define PERIOD 900
#define TICK 60
#define TICKS 200

/* 1000 instances, hosts of this capacity ticking at these offsets (one
 * host when offset is negative); *worst: the longest gap.  Returns the
 * runs in all; each host's in runs[]. */
static size_t fleet_of_hosts(size_t capacity, long long offset,
                             long long *worst, size_t runs[2])
{
    sim *s = sim_new(1000);
    cron_host hosts[] = { { capacity, 0, 0 }, { capacity, offset, 0 } };
    size_t total = run_hosts(s, hosts, offset < 0 ? 1 : 2, T0, TICKS, PERIOD,
                             TICK);
    *worst = 0;
    for (size_t i = 0; i < s->n; i++) {
        assert_true(s->items[i].lastcron > 0);
        if (s->maxgap[i] > *worst)
            *worst = s->maxgap[i];
    }
    runs[0] = hosts[0].runs;
    runs[1] = hosts[1].runs;
    free(s);
    return total;
}

/* A second host, at the same moment or half a tick later, adds no runs:
 * the table says what is due and what ran since the last tick. */
static void lg_two_hosts_do_the_work_once(void **state)
{
    (void)state;
    long long worst;
    size_t runs[2];
    size_t single = fleet_of_hosts(0, -1, &worst, runs);
    for (long long offset = 0; offset <= TICK / 2; offset += TICK / 2) {
        size_t total = fleet_of_hosts(0, offset, &worst, runs);
        assert_true(worst <= PERIOD + TICK);
        assert_true(total <= single + single / 20);
        assert_true(total + single / 20 >= single);
    }
}

/* Each host can run 40 a tick, 67 are due: one host falls behind, two
 * keep every gap within period + tick and both do a share. */
static void lg_second_host_adds_capacity(void **state)
{
    (void)state;
    long long worst;
    size_t runs[2];
    fleet_of_hosts(40, -1, &worst, runs);
    assert_true(worst > PERIOD + TICK);
    for (long long offset = 0; offset <= TICK / 2; offset += TICK / 2) {
        size_t total = fleet_of_hosts(40, offset, &worst, runs);
        assert_true(worst <= PERIOD + TICK);
        assert_true(runs[0] >= total / 3 && runs[1] >= total / 3);
    }
}

static void modes_parse(void **state)
{
    (void)state;
    assert_int_equal(vc_mode_parse("round-robin"), VC_MODE_ROUND_ROBIN);
    assert_int_equal(vc_mode_parse("lowest-gap"), VC_MODE_LOWEST_GAP);
    assert_int_equal(vc_mode_parse("LOWEST_POSSIBLE_GAP"), -1);
    assert_string_equal(vc_mode_name(VC_MODE_LOWEST_GAP), "lowest-gap");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rr_never_skips_or_repeats),
        cmocka_unit_test(rr_cursor_beyond_table_wraps),
        cmocka_unit_test(rr_follows_table_changes),
        cmocka_unit_test(rr_passes_over_locked_instances),
        cmocka_unit_test(lg_rate),
        cmocka_unit_test(lg_keeps_gaps_within_period_plus_tick),
        cmocka_unit_test(lg_first_period_runs_everyone),
        cmocka_unit_test(lg_overdue_run_at_once),
        cmocka_unit_test(lg_degrades_fairly),
        cmocka_unit_test(lg_follows_table_changes),
        cmocka_unit_test(lg_single_instance_and_slow_ticks),
        cmocka_unit_test(lg_two_hosts_do_the_work_once),
        cmocka_unit_test(lg_second_host_adds_capacity),
        cmocka_unit_test(modes_parse),
    };
    return cmocka_run_group_tests_name("vcron_sched", tests, NULL, NULL);
}
