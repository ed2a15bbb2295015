/* What a fleet command shows while it runs.  On a terminal: a line per
 * running site (its time and the last line of its log) and a progress bar
 * (done, failed, left, time left), redrawn in place; on a pipe: a plain
 * line when a site starts and when it ends. */
#ifndef VMOODLECTL_FLEETVIEW_H
#define VMOODLECTL_FLEETVIEW_H

#include <stdio.h>
#include <apr_pools.h>
#include "summary.h"

typedef struct {
    int tty;
    FILE *out; /* stdout; stderr for plain lines when asked */
    int drawn; /* lines of the live block on the screen */
    int jobs;
    double start, last_drawn;
    const char *label;
} vmc_view;

/* plain_to_stderr: on a pipe, the plain lines go to stderr (stdout
 * keeps the command's own report alone). */
void vmc_view_start(vmc_view *v, const char *label, int jobs, double now,
                    int plain_to_stderr);
/* A site started or ended (plain line, or one kept above the block). */
void vmc_view_event(vmc_view *v, const vmc_site_result *r);
/* A line of our own (an interrupt, a locked site) above the block. */
void vmc_view_note(vmc_view *v, const char *text);
/* Redraw the block (a terminal only, at most 4 times a second). */
void vmc_view_update(vmc_view *v, const vmc_site_result *r, int n, double now,
                     apr_pool_t *p);
/* Take the block away before the summary. */
void vmc_view_end(vmc_view *v);

#endif
