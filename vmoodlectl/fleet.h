/* Running Moodle's CLI on many sites: up to --jobs at once, each as its
 * CLI runs (core/vm_siterun.h: its user, its platform's code, the cache,
 * exactly its own environment), its output in one log
 * per site, a timeout per site, a live view (a line per running site and a
 * progress bar on a terminal, plain lines on a pipe), and the summary
 * table at the end.  INT/TERM start nothing new and let the running ones
 * finish within their timeout.  One site named alone runs in the
 * foreground instead: its output relayed to ours, its exit code ours. */
#ifndef VMOODLECTL_FLEET_H
#define VMOODLECTL_FLEET_H

#include <apr_tables.h>
#include "summary.h"
#include "vm_identity.h"
#include "vm_siterun.h"
#include "vm_source.h"

typedef struct vmc_job vmc_job;

struct vmc_job {
    const char *label;         /* "run", "upgrade": for messages */
    apr_array_header_t *sites; /* const vm_instance *, from vmc_select */
    vm_siterun cli;            /* how each site's CLI runs (vm_siterun.h) */
    /* What each site runs: one script with its arguments, */
    const char *script;
    const char *const *args;
    int nargs;
    /* or, when set, work(in, ctx) in the site's child (as the site's
     * user, or as we are after vmc_job_stay; output to its log); its
     * return value is the site's exit code. */
    int (*work)(const vmc_job *job, const vm_instance *in);
    void *ctx;
    int interactive;   /* foreground: our stdin is copied in
                                     (else it reads /dev/null) */
    unsigned ok_codes; /* bit n: exit code n is good (0: 0 only) */
    int jobs, fail_fast;
    int first_alone; /* the first site ends before others start */
    /* The command prints its own report and then the table (NRPE reads
     * the first line): no table here, plain progress lines to stderr. */
    int report_first;
    long timeout, grace;  /* seconds; timeout 0: none */
    const char *log_dir;  /* one log per site */
    const char *lock_dir; /* take the site's vcron lock, or NULL */
    vm_source *src;       /* the lock across cron hosts */
    /* In the parent, with the lock held: before a site starts (non-zero:
     * it does not, *why says why) and once it has ended. */
    int (*before)(const vmc_job *job, const vm_instance *in, const char **why);
    void (*after)(const vmc_job *job, const vmc_site_result *r);
};

/* Run the job on every site, print the summary (unless report_first);
 * VMC_EXIT_OK only when every site ran and ended with a good code.  *out (may be NULL) gets the
 * results, one per site in order. */
int vmc_fleet_run(const vmc_job *job, apr_pool_t *p, vmc_site_result **out);

/* The job's script on one site in the foreground, in a session of its
 * own: its stdout and stderr relayed to ours through a pseudo-terminal of
 * ours (ours is a terminal) or pipes, every control but line ends, tabs
 * and carriage returns shown escaped; our stdin copied in when
 * job->interactive; INT/TERM/HUP passed on to its process group.  Its
 * exit code (128 + signal when killed) is returned. */
int vmc_fleet_run_one(const vmc_job *job, const vm_instance *in, apr_pool_t *p);

/* In work(): run a script of the site as a step, output to the log after
 * a line naming it.  Its exit code, 128 + signal, or 127 when it could not
 * start. */
int vmc_fleet_step(const vmc_job *job, const vm_instance *in,
                   const char *script, const char *const *args, int nargs);

/* vm_file_dir_open(dir) for a run's logs: a descriptor, or -1 with *why
 * (from p). */
int vmc_log_dir_open(const char *dir, apr_pool_t *p, const char **why);

#endif
