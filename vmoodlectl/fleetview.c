/* The live view of a fleet command, see fleetview.h. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "fleetview.h"

#define REDRAW_EVERY 0.25
#define BAR_WIDTH 30
#define LIVE_LINE 60
#define LIVE_SITES 20 /* lines of running sites at most */

void vmc_view_start(vmc_view *v, const char *label, int jobs, double now,
                    int plain_to_stderr)
{
    memset(v, 0, sizeof *v);
    v->tty = isatty(STDOUT_FILENO);
    v->out = v->tty || !plain_to_stderr ? stdout : stderr;
    v->jobs = jobs;
    v->label = label;
    v->start = now;
}

static void erase(vmc_view *v)
{
    if (v->tty && v->drawn > 0)
        fprintf(v->out, "\033[%dA\033[J", v->drawn);
    v->drawn = 0;
}

void vmc_view_note(vmc_view *v, const char *text)
{
    erase(v);
    fprintf(v->out, "%s\n", text);
    fflush(v->out);
}

void vmc_view_event(vmc_view *v, const vmc_site_result *r)
{
    char line[512];
    if (r->state == VMC_SITE_RUNNING && v->tty)
        return; /* the block shows it */
    if (r->state == VMC_SITE_RUNNING)
        snprintf(line, sizeof line, "%s: %s started", r->in->key, v->label);
    else if (r->state == VMC_SITE_NOT_STARTED)
        snprintf(line, sizeof line, "%s: NOT STARTED: %s", r->in->key,
                 r->last_line ? r->last_line : "");
    else
        snprintf(line, sizeof line, "%s: %s (exit %d, %.1f s)%s", r->in->key,
                 r->ok ? "ok" : "FAILED", r->code, r->seconds,
                 r->timed_out ? ", timed out" : "");
    vmc_view_note(v, line);
}

/* Time left: the mean time of the sites done so far, for those left,
 * --jobs at a time. */
static double time_left(const vmc_view *v, const vmc_site_result *r, int n,
                        const vmc_tally *t)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (r[i].state == VMC_SITE_DONE)
            sum += r[i].seconds;
    return t->done ? sum / t->done * (t->waiting + t->running) / v->jobs : -1;
}

static void bar(const vmc_view *v, const vmc_site_result *r, int n)
{
    vmc_tally t = vmc_summary_tally(r, n);
    int filled = n ? t.done * BAR_WIDTH / n : BAR_WIDTH;
    double left = time_left(v, r, n, &t);
    printf("[%.*s%*s] %d done, %d failed, %d left", filled,
           "##############################", BAR_WIDTH - filled, "", t.done,
           t.failed, t.waiting + t.running);
    if (left >= 0)
        printf(", ~%.0f s left", left);
    printf("\n");
}

void vmc_view_update(vmc_view *v, const vmc_site_result *r, int n, double now,
                     apr_pool_t *p)
{
    if (!v->tty || now - v->last_drawn < REDRAW_EVERY)
        return;
    v->last_drawn = now;
    erase(v);
    int shown = 0, running = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].state != VMC_SITE_RUNNING || running++ >= LIVE_SITES)
            continue;
        printf("  %-30s %5.0f s  %s\n", r[i].in->key, r[i].seconds,
               vmc_log_last_line(r[i].log_path, LIVE_LINE, p));
        shown++;
    }
    if (running > shown) {
        printf("  ... and %d more running\n", running - shown);
        shown++;
    }
    v->drawn = shown;
    bar(v, r, n);
    v->drawn++;
    fflush(stdout);
}

void vmc_view_end(vmc_view *v)
{
    erase(v);
    fflush(stdout);
}
