/* Progress lines for the long steps of snapshot and deploy. */
#include <stdio.h>
#include <unistd.h>
#include "progress.h"
#include "vm_time.h"

#define TTY_INTERVAL 0.2
#define PLAIN_INTERVAL 10.0

static double now(void)
{
    return (double)vm_time_mono_ms() / 1000.0;
}

static void human(char *buf, size_t size, double n)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;

    while (n >= 1024 && u < 4) {
        n /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", n, units[u]);
}

static void show(const vmc_progress *pr, double t, const char *end)
{
    double elapsed = t - pr->start, rate = elapsed > 0 ? pr->done / elapsed : 0;
    char done[32], total[32], speed[32], items[48] = "", left[32] = "";

    human(done, sizeof done, (double)pr->done);
    human(total, sizeof total, (double)pr->total);
    human(speed, sizeof speed, rate);
    if (pr->unit)
        snprintf(items, sizeof items, ", %llu %s",
                 (unsigned long long)pr->items, pr->unit);
    if (pr->total && rate > 0 && pr->done <= pr->total && !*end)
        snprintf(left, sizeof left, ", %.0f s left",
                 (double)(pr->total - pr->done) / rate);
    if (pr->total)
        fprintf(stdout, "%s%s: %s of %s (%.0f%%)%s, %s/s%s%s%s",
                pr->tty ? "\r\033[K" : "", pr->label, done, total,
                100.0 * (double)pr->done / (double)pr->total, items, speed,
                left, end, pr->tty && !*end ? "" : "\n");
    else
        fprintf(stdout, "%s%s: %s%s, %s/s%s%s", pr->tty ? "\r\033[K" : "",
                pr->label, done, items, speed, end,
                pr->tty && !*end ? "" : "\n");
    fflush(stdout);
}

void vmc_progress_start(vmc_progress *pr, const char *label, uint64_t total,
                        const char *unit)
{
    pr->label = label;
    pr->total = total;
    pr->done = pr->items = 0;
    pr->unit = unit;
    pr->start = pr->last_shown = now();
    pr->tty = isatty(STDOUT_FILENO);
    show(pr, pr->start, "");
}

void vmc_progress_set(vmc_progress *pr, uint64_t done, uint64_t items_add)
{
    double t = now();

    pr->done = done;
    pr->items += items_add;
    if (t - pr->last_shown >= (pr->tty ? TTY_INTERVAL : PLAIN_INTERVAL)) {
        pr->last_shown = t;
        show(pr, t, "");
    }
}

void vmc_progress_add(vmc_progress *pr, uint64_t bytes, uint64_t items_add)
{
    vmc_progress_set(pr, pr->done + bytes, items_add);
}

void vmc_progress_end(vmc_progress *pr, int ok)
{
    double t = now();
    char end[48];

    snprintf(end, sizeof end, ", %s in %.1f s", ok ? "done" : "FAILED",
             t - pr->start);
    show(pr, t, end);
}
