/* The step runner under every multi-step command (snapshot, deploy,
 * upgrade, backup, restore, rename, move...): the steps are declared once,
 * so --dry-run prints the plan from the very steps that run, an interrupt
 * is noticed between steps (and inside the long ones, which call
 * vmc_interrupt_check), and a failure undoes what was started. */
#ifndef VMOODLECTL_STEPS_H
#define VMOODLECTL_STEPS_H

#include <apr_pools.h>

typedef struct {
    const char *name; /* "copy the dataroot": names the step in errors */
    /* One line of the --dry-run plan (from p); NULL: the name is the plan. */
    const char *(*plan)(void *ctx, apr_pool_t *p);
    /* Whether the step applies to this run (NULL: always); a step that
     * does not apply is neither planned, run nor undone. */
    int (*applies)(void *ctx);
    /* Do it: 0, or -1 with *err (from the command's pool). */
    int (*run)(void *ctx, const char **err);
    /* Undo it (NULL: nothing to undo).  Called for every step that
     * started, the failed one too, in reverse order: it must cope with a
     * step half done, and say what it could not undo itself. */
    void (*undo)(void *ctx);
} vmc_step;

typedef struct {
    const char *failed; /* the step that failed or was interrupted */
    const char *err;    /* why */
} vmc_steps_outcome;

/* Print the plan ("  1. ...") of the steps that apply; runs nothing. */
void vmc_steps_plan(const vmc_step *steps, int n, void *ctx, apr_pool_t *p);

/* Run the steps that apply, in order, checking for an interrupt (INT,
 * TERM, HUP: the runner installs the handler, interrupt.h) before each.
 * 0 when all ran; -1 with *out filled when one failed or an interrupt
 * came (out->failed: the step that failed, or the one that was not
 * started), after every started step was undone in reverse. */
int vmc_steps_run(const vmc_step *steps, int n, void *ctx,
                  vmc_steps_outcome *out);

#endif
