/* The step runner: plan, run, undo in reverse. */
#include "ctl.h"
#include "interrupt.h"
#include "steps.h"

static int applies(const vmc_step *s, void *ctx)
{
    return !s->applies || s->applies(ctx);
}

void vmc_steps_plan(const vmc_step *steps, int n, void *ctx, apr_pool_t *p)
{
    int i, shown = 0;

    for (i = 0; i < n; i++) {
        if (!applies(&steps[i], ctx))
            continue;
        vmc_say("  %d. %s", ++shown,
                steps[i].plan ? steps[i].plan(ctx, p) : steps[i].name);
    }
}

static void undo_from(const vmc_step *steps, int last, void *ctx)
{
    int i;

    for (i = last; i >= 0; i--)
        if (steps[i].undo && applies(&steps[i], ctx))
            steps[i].undo(ctx);
}

/* An interrupt before a step: that step never started, so the undo
 * begins with the one before it; a failure: with the failed one. */
int vmc_steps_run(const vmc_step *steps, int n, void *ctx,
                  vmc_steps_outcome *out)
{
    int i;

    vmc_interrupt_install();
    for (i = 0; i < n; i++) {
        const char *err = NULL;
        int started = 0;

        if (!applies(&steps[i], ctx))
            continue;
        if (vmc_interrupt_check(&err) == 0) {
            started = 1;
            if (steps[i].run(ctx, &err) == 0)
                continue;
        }
        out->failed = steps[i].name;
        out->err = err ? err : "failed";
        undo_from(steps, started ? i : i - 1, ctx);
        return -1;
    }
    return 0;
}
