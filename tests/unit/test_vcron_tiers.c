/* vcron's mode activity over simulated time: tiers from activity and
 * overrides, every tier's gaps within its period plus a tick, queued work
 * run at once whatever the tier while a quiet site with nothing queued is
 * left alone, and the capacity arithmetic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include "tiers.h"

#define TICK 60
#define DAY_TICKS (86400 / TICK)

static vc_tiers agora(void)
{
    vc_tiers t;
    assert_null(vc_tiers_parse(VC_TIERS_DEFAULT, &t));
    return t;
}

static void parse_default_and_errors(void **state)
{
    (void)state;
    vc_tiers t = agora();
    assert_int_equal(t.n, 5);
    const long long periods[] = { 600, 1200, 3600, 28800, 86400 };
    for (int i = 0; i < 5; i++)
        assert_int_equal(t.tier[i].period, periods[i]);
    assert_null(vc_tiers_parse("100:10m, 0:1d", &t));
    assert_int_equal(t.n, 2);
    assert_int_equal(t.tier[0].period, 600);
    assert_int_equal(t.tier[1].period, 86400);
    const char *bad[] = {
        "",          "100:600",    "0:600 10:60", "10:600 10:60 0:1",
        "x:600 0:1", "100:0 0:60", "100:-5 0:60", "100:60q 0:60"
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_non_null(vc_tiers_parse(bad[i], &t));
}

static void tier_from_activity(void **state)
{
    (void)state;
    vc_tiers t = agora();
    const long long events[] = { 1000000, 40000, 39999, 4000, 3999,
                                 180,     179,   30,    29,   0 };
    const int tier[] = { 1, 1, 2, 2, 3, 3, 4, 4, 5, 5 };
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        assert_int_equal(vc_tier_of(&t, events[i]), tier[i]);
}

static void override_then_activity_then_default(void **state)
{
    (void)state;
    vc_tiers t = agora();
    vc_tier_why why;
    assert_int_equal(vc_tier_choose(&t, 50000, 5, 3, &why), 5);
    assert_int_equal(why, VC_TIER_OVERRIDE);
    assert_int_equal(vc_tier_choose(&t, 0, 1, 3, &why), 1);
    assert_int_equal(why, VC_TIER_OVERRIDE);
    assert_int_equal(vc_tier_choose(&t, 50000, 0, 3, &why), 1);
    assert_int_equal(why, VC_TIER_MEASURED);
    assert_int_equal(vc_tier_choose(&t, -1, 0, 3, &why), 3);
    assert_int_equal(why, VC_TIER_UNMEASURED);
    /* An override out of range is no override. */
    assert_int_equal(vc_tier_choose(&t, 10, 9, 3, &why), 5);
    assert_int_equal(why, VC_TIER_MEASURED);
}

typedef struct {
    vc_tier_item *items;
    long long *maxgap, *runs, *out;
    size_t n;
} fleet;

static fleet fleet_new(size_t n, apr_pool_t *p)
{
    fleet f = { apr_pcalloc(p, sizeof *f.items * n),
                apr_pcalloc(p, sizeof *f.maxgap * n),
                apr_pcalloc(p, sizeof *f.runs * n),
                apr_pcalloc(p, sizeof *f.out * n), n };
    for (size_t i = 0; i < n; i++)
        f.items[i] = (vc_tier_item){ 100 + (long long)i, 1, 0, 1 + (int)(i % 5),
                                     0 };
    return f;
}

static vc_tier_item *find(fleet *f, long long id)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->items[i].id == id)
            return &f->items[i];
    fail();
    return NULL;
}

/* One tick at now: run all it chose (capacity enough). */
static size_t tick(fleet *f, const vc_tiers *t, long long now, apr_pool_t *p)
{
    size_t count = vc_sched_activity(f->items, f->n, t, now, TICK, f->out, p);
    for (size_t k = 0; k < count; k++) {
        vc_tier_item *it = find(f, f->out[k]);
        size_t i = (size_t)(it - f->items);
        if (it->lastcron > 0 && now - it->lastcron > f->maxgap[i])
            f->maxgap[i] = now - it->lastcron;
        it->lastcron = now;
        it->queued = 0;
        f->runs[i]++;
    }
    return count;
}

static void every_tier_within_period_plus_tick(void **state)
{
    apr_pool_t *p = *state;
    vc_tiers t = agora();
    fleet f = fleet_new(500, p);
    long long start = 1700000000, days = 3;
    for (long long now = start; now < start + days * 86400; now += TICK) {
        apr_pool_t *tp;
        apr_pool_create(&tp, p);
        tick(&f, &t, now, tp);
        apr_pool_destroy(tp);
    }
    for (size_t i = 0; i < f.n; i++) {
        long long period = vc_tier_period(&t, f.items[i].tier);
        assert_true(f.maxgap[i] <= period + TICK);
        /* Not run more often than its tier asks. */
        assert_true(f.runs[i] <= days * 86400 / period + 2);
        assert_true(f.runs[i] >= days * 86400 / period - 1);
    }
}

static int chosen(const long long *out, size_t n, long long id)
{
    for (size_t k = 0; k < n; k++)
        if (out[k] == id)
            return 1;
    return 0;
}

static void queued_work_runs_at_once_whatever_the_tier(void **state)
{
    apr_pool_t *p = *state;
    vc_tiers t = agora();
    fleet f = fleet_new(3, p);
    long long now = 1700000000;
    /* A daily site that ran an hour ago, a busy one that ran a minute ago
     * (before the last tick), one that ran this tick. */
    f.items[0] = (vc_tier_item){ 1, 1, now - 3600, 5, 0 };
    f.items[1] = (vc_tier_item){ 2, 1, now - 90, 5, 0 };
    f.items[2] = (vc_tier_item){ 3, 1, now - 10, 5, 1 };
    size_t n = vc_sched_activity(f.items, f.n, &t, now, TICK, f.out, p);
    assert_int_equal(n, 0); /* quiet and nothing queued: left alone */
    f.items[0].queued = 1;
    f.items[1].queued = 1;
    n = vc_sched_activity(f.items, f.n, &t, now, TICK, f.out, p);
    assert_int_equal(n, 2); /* oldest first; not the one just run */
    assert_int_equal(f.out[0], 1);
    assert_int_equal(f.out[1], 2);
    assert_false(chosen(f.out, n, 3));
    /* Never run: at once too (a new site), whatever its tier. */
    f.items[2] = (vc_tier_item){ 3, 1, 0, 5, 0 };
    n = vc_sched_activity(f.items, f.n, &t, now, TICK, f.out, p);
    assert_int_equal(n, 3);
    assert_int_equal(f.out[0], 3);
    /* Disabled: never. */
    f.items[0].enabled = 0;
    n = vc_sched_activity(f.items, f.n, &t, now, TICK, f.out, p);
    assert_false(chosen(f.out, n, 1));
}

static void queued_first_then_most_overdue(void **state)
{
    apr_pool_t *p = *state;
    vc_tiers t = agora();
    fleet f = fleet_new(3, p);
    long long now = 1700000000;
    /* Past their periods: 2 by half its period, 3 by a tenth; 1 queued. */
    f.items[0] = (vc_tier_item){ 1, 1, now - 3000, 5, 1 };
    f.items[1] = (vc_tier_item){ 2, 1, now - 1800, 2, 0 };
    f.items[2] = (vc_tier_item){ 3, 1, now - 660, 1, 0 };
    size_t n = vc_sched_activity(f.items, f.n, &t, now, TICK, f.out, p);
    assert_int_equal(n, 3);
    assert_int_equal(f.out[0], 1);
    assert_int_equal(f.out[1], 2);
    assert_int_equal(f.out[2], 3);
}

static void capacity_arithmetic(void **state)
{
    apr_pool_t *p = *state;
    vc_tiers t = agora();
    const size_t per_tier[] = { 50, 450, 1500, 1500, 1500 };
    size_t n = 5000;
    vc_tier_item *items = apr_pcalloc(p, sizeof *items * (n + 1));
    double *cost = apr_pcalloc(p, sizeof *cost * (n + 1));
    size_t k = 0;
    for (int tier = 1; tier <= 5; tier++)
        for (size_t i = 0; i < per_tier[tier - 1]; i++, k++) {
            items[k] = (vc_tier_item){ (long long)k + 1, 1, 0, tier, 0 };
            cost[k] = 0.5;
        }
    vc_capacity cap;
    vc_capacity_of(items, cost, n, &t, 2, 0.3, &cap);
    /* 50*6 + 450*3 + 1500*1 + 1500/8 + 1500/24 runs an hour. */
    assert_true(cap.runs_total > 3399.99 && cap.runs_total < 3400.01);
    assert_true(cap.cpu_total > 1699.99 && cap.cpu_total < 1700.01);
    assert_true(cap.runs_per_hour[0] > 299.99 && cap.runs_per_hour[0] < 300.01);
    assert_int_equal(cap.sites[2], 1500);
    assert_true(cap.capacity == 7200.0);
    /* Not measured: the measured mean is assumed; disabled: nothing. */
    cost[0] = -1;
    items[1].enabled = 0;
    vc_capacity_of(items, cost, n, &t, 2, 0.3, &cap);
    assert_true(cap.cost_assumed == 0.5);
    assert_true(cap.cpu_total > 1696.99 && cap.cpu_total < 1697.01);
    /* None measured: the default. */
    for (size_t i = 0; i < n; i++)
        cost[i] = -1;
    vc_capacity_of(items, cost, n, &t, 1, 0.3, &cap);
    assert_true(cap.cost_assumed == 0.3);
    assert_true(cap.capacity == 3600.0);
}

static void fractional_rate_adds_up_over_a_period(void **state)
{
    (void)state;
    /* 5 daily sites: 5 runs a day, not one a tick. */
    size_t total = 0;
    for (long long k = 0; k < DAY_TICKS; k++)
        total += vc_sched_rate_at(5, 86400, TICK, 1700000000 + k * TICK);
    assert_int_equal(total, 5);
    /* 700 sites every 10 minutes: 70 a tick. */
    assert_int_equal(vc_sched_rate_at(700, 600, TICK, 1700000040), 70);
    /* A period no longer than the tick: all of them. */
    assert_int_equal(vc_sched_rate_at(3, 60, TICK, 1700000000), 3);
}

static void growing_gaps(void **state)
{
    (void)state;
    vc_tiers t = agora();
    long long now = 1700000000;
    vc_tier_item late = { 1, 1, now - 600 - TICK - 1, 1, 0 };
    vc_tier_item ok = { 2, 1, now - 600 - TICK, 1, 0 };
    vc_tier_item never = { 3, 1, 0, 1, 0 };
    assert_true(vc_gap_growing(&late, &t, now, TICK));
    assert_false(vc_gap_growing(&ok, &t, now, TICK));
    assert_false(vc_gap_growing(&never, &t, now, TICK));
}

/* Each thing said once a crossing: over (gaps growing or not yet), the
 * growing gaps when they come, back within; over again says it again. */
static void capacity_log_once(void **state)
{
    (void)state;
    vc_cap_state st = VC_CAP_WITHIN;
    assert_int_equal(vc_capacity_log_step(&st, 0, 1), VC_CAP_SAY_NOTHING);
    assert_int_equal(vc_capacity_log_step(&st, 1, 0), VC_CAP_SAY_OVER);
    assert_int_equal(vc_capacity_log_step(&st, 1, 0), VC_CAP_SAY_NOTHING);
    assert_int_equal(vc_capacity_log_step(&st, 1, 1), VC_CAP_SAY_GROWING);
    assert_int_equal(vc_capacity_log_step(&st, 1, 1), VC_CAP_SAY_NOTHING);
    assert_int_equal(vc_capacity_log_step(&st, 1, 0), VC_CAP_SAY_NOTHING);
    assert_int_equal(vc_capacity_log_step(&st, 1, 1), VC_CAP_SAY_NOTHING);
    assert_int_equal(vc_capacity_log_step(&st, 0, 1), VC_CAP_SAY_BACK);
    assert_int_equal(vc_capacity_log_step(&st, 0, 0), VC_CAP_SAY_NOTHING);
    /* Over with gaps already growing: named at once, not again. */
    assert_int_equal(vc_capacity_log_step(&st, 1, 1), VC_CAP_SAY_OVER);
    assert_int_equal(st, VC_CAP_NAMED);
    assert_int_equal(vc_capacity_log_step(&st, 1, 1), VC_CAP_SAY_NOTHING);
    assert_int_equal(vc_capacity_log_step(&st, 0, 0), VC_CAP_SAY_BACK);
    assert_int_equal(st, VC_CAP_WITHIN);
}

static int setup(void **state)
{
    apr_pool_t *p;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        return -1;
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    apr_initialize();
    const struct CMUnitTest tests[] = {
        T(parse_default_and_errors),
        T(tier_from_activity),
        T(override_then_activity_then_default),
        T(every_tier_within_period_plus_tick),
        T(queued_work_runs_at_once_whatever_the_tier),
        T(queued_first_then_most_overdue),
        T(capacity_arithmetic),
        T(fractional_rate_adds_up_over_a_period),
        T(growing_gaps),
        T(capacity_log_once),
    };
    int rc = cmocka_run_group_tests_name("vcron_tiers", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
