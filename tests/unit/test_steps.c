/* The step runner (vmoodlectl/steps.c): steps run in order, a failure or
 * an interrupt undoes every started step in reverse, a step that does not
 * apply is neither planned, run nor undone, and the plan runs nothing. */
#include <signal.h>
#include "testutil.h"
#include "steps.h"

typedef struct {
    char journal[256];
    char fail_in;   /* the step whose run fails */
    char signal_in; /* the step whose run is interrupted (it ends) */
    int b_applies;
    apr_pool_t *pool;
} trace;

static void note(trace *t, const char *what, char step)
{
    size_t n = strlen(t->journal);
    snprintf(t->journal + n, sizeof t->journal - n, "%s%s:%c", n ? " " : "",
             what, step);
}

#define STEP_FNS(x)                                       \
    static int run_##x(void *ctx, const char **err)       \
    {                                                     \
        trace *t = ctx;                                   \
        note(t, "run", #x[0]);                            \
        if (t->signal_in == #x[0])                        \
            raise(SIGTERM);                               \
        if (t->fail_in != #x[0])                          \
            return 0;                                     \
        *err = "it broke";                                \
        return -1;                                        \
    }                                                     \
    static const char *plan_##x(void *ctx, apr_pool_t *p) \
    {                                                     \
        note(ctx, "plan", #x[0]);                         \
        return apr_psprintf(p, "step %s", #x);            \
    }

STEP_FNS(a)
STEP_FNS(b)
STEP_FNS(c)
STEP_FNS(d)

#define UNDO_FN(x)                  \
    static void undo_##x(void *ctx) \
    {                               \
        note(ctx, "undo", #x[0]);   \
    }

UNDO_FN(a)
UNDO_FN(b)
UNDO_FN(d)

static int b_applies(void *ctx)
{
    return ((trace *)ctx)->b_applies;
}

static const vmc_step steps[] = {
    { "a", plan_a, NULL, run_a, undo_a },
    { "b", plan_b, b_applies, run_b, undo_b },
    { "c", plan_c, NULL, run_c, NULL }, /* nothing to undo */
    { "d", plan_d, NULL, run_d, undo_d },
};

static trace fresh(apr_pool_t *p)
{
    trace t;

    memset(&t, 0, sizeof t);
    t.b_applies = 1;
    t.pool = p;
    return t;
}

static void all_run_in_order_and_nothing_is_undone(void **state)
{
    trace t = fresh(*state);
    vmc_steps_outcome out = { NULL, NULL };

    assert_int_equal(vmc_steps_run(steps, 4, &t, &out), 0);
    assert_string_equal(t.journal, "run:a run:b run:c run:d");
    assert_null(out.failed);
}

static void a_failure_undoes_the_started_steps_in_reverse(void **state)
{
    trace t = fresh(*state);
    vmc_steps_outcome out = { NULL, NULL };

    t.fail_in = 'd';
    assert_int_equal(vmc_steps_run(steps, 4, &t, &out), -1);
    /* d failed half done: its undo runs too, first */
    assert_string_equal(t.journal,
                        "run:a run:b run:c run:d undo:d undo:b "
                        "undo:a");
    assert_string_equal(out.failed, "d");
    assert_string_equal(out.err, "it broke");
}

static void a_step_that_does_not_apply_is_skipped(void **state)
{
    trace t = fresh(*state);
    vmc_steps_outcome out = { NULL, NULL };

    t.b_applies = 0;
    t.fail_in = 'c';
    assert_int_equal(vmc_steps_run(steps, 4, &t, &out), -1);
    assert_string_equal(t.journal, "run:a run:c undo:a");
    assert_string_equal(out.failed, "c");
}

/* stdout (vmc_say's) into a file while the plan is printed. */
static char *plan_text(trace *t)
{
    char path[] = "/tmp/test_steps.XXXXXX";
    int fd = mkstemp(path), saved = dup(1);
    char *text;
    size_t len;

    assert_true(fd >= 0 && saved >= 0);
    fflush(stdout);
    dup2(fd, 1);
    vmc_steps_plan(steps, 4, t, t->pool);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fd);
    text = tu_read(t->pool, path, &len);
    unlink(path);
    return text;
}

static void the_plan_runs_nothing(void **state)
{
    trace t = fresh(*state);

    t.b_applies = 0;
    assert_string_equal(plan_text(&t),
                        "  1. step a\n  2. step c\n"
                        "  3. step d\n");
    assert_string_equal(t.journal, "plan:a plan:c plan:d");
}

/* Last: the interrupt flag stays set for the rest of the program. */
static void an_interrupt_stops_before_the_next_step(void **state)
{
    trace t = fresh(*state);
    vmc_steps_outcome out = { NULL, NULL };

    t.signal_in = 'b';
    assert_int_equal(vmc_steps_run(steps, 4, &t, &out), -1);
    /* b ended; c never started: the undo starts with b */
    assert_string_equal(t.journal, "run:a run:b undo:b undo:a");
    assert_string_equal(out.failed, "c");
    assert_string_equal(out.err, "interrupted by a signal");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(all_run_in_order_and_nothing_is_undone),
        TU_TEST(a_failure_undoes_the_started_steps_in_reverse),
        TU_TEST(a_step_that_does_not_apply_is_skipped),
        TU_TEST(the_plan_runs_nothing),
        TU_TEST(an_interrupt_stops_before_the_next_step),
    };

    return TU_RUN(tests);
}
