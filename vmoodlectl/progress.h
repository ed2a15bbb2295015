/* Progress of a long step: bytes (and files or rows) done, rate and time
 * left.  On a terminal one line redrawn in place; otherwise a plain line now
 * and then, so logs stay readable. */
#ifndef VMOODLECTL_PROGRESS_H
#define VMOODLECTL_PROGRESS_H

#include <stdint.h>

typedef struct {
    const char *label;
    uint64_t total;   /* bytes expected; 0 when unknown */
    uint64_t done;    /* bytes so far */
    uint64_t items;   /* files or rows so far */
    const char *unit; /* "files", "rows"; NULL: no item count */
    double start, last_shown;
    int tty;
} vmc_progress;

void vmc_progress_start(vmc_progress *pr, const char *label, uint64_t total,
                        const char *unit);
/* Set the bytes done (absolute) and add items; redraws at most 5 times a
 * second on a terminal, every 10 seconds otherwise. */
void vmc_progress_set(vmc_progress *pr, uint64_t done, uint64_t items_add);
void vmc_progress_add(vmc_progress *pr, uint64_t bytes, uint64_t items_add);
/* The final line, with the total time. */
void vmc_progress_end(vmc_progress *pr, int ok);

#endif
