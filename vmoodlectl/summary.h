/* What a fleet command did on each site, and the table printed at its
 * end: site, exit code, seconds, last line of its output. */
#ifndef VMOODLECTL_SUMMARY_H
#define VMOODLECTL_SUMMARY_H

#include <stdio.h>
#include <apr_pools.h>
#include "vm_instance.h"

typedef enum {
    VMC_SITE_WAITING, /* not started (yet, or never: interrupted) */
    VMC_SITE_RUNNING,
    VMC_SITE_DONE,       /* ended: code says how */
    VMC_SITE_NOT_STARTED /* could not start: last_line says why */
} vmc_site_state;

typedef struct {
    const vm_instance *in;
    vmc_site_state state;
    int code; /* exit code; 128 + signal when killed */
    int timed_out;
    int ok; /* DONE with a code the command counts good */
    double seconds;
    const char *log_path;  /* NULL when none was opened */
    const char *last_line; /* of its output, or the reason */
} vmc_site_result;

/* The last non-empty line of text, control bytes shown as '?', cut to
 * max bytes ("..." marks the cut); "" when there is none.  From p. */
const char *vmc_last_line(const char *text, size_t len, size_t max,
                          apr_pool_t *p);

/* The last line of the file at path (its last 4 KiB), as above; "" when
 * it cannot be read. */
const char *vmc_log_last_line(const char *path, size_t max, apr_pool_t *p);

/* A wait status as an exit code: the code, or 128 + the signal. */
int vmc_exit_code(int wait_status);

/* The table, then one line of totals (and where the logs are). */
void vmc_summary_print(FILE *out, const vmc_site_result *r, int n,
                       const char *log_dir);

/* Counts for the totals and the progress line. */
typedef struct {
    int done, ok, failed, running, waiting;
} vmc_tally;
vmc_tally vmc_summary_tally(const vmc_site_result *r, int n);

/* VMC_EXIT_OK only when every site ran and counted good. */
int vmc_summary_exit(const vmc_site_result *r, int n);

#endif
