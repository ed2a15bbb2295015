/* For monitoring systems (Nagios, Icinga, NRPE): exit 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN, and one line of text.
 *
 *   check --nagios   the fleet: table readable, snapshot as current as the
 *                    table (--snapshot PATH), each enabled site's database
 *                    and dataroot, crons overdue (--cron-warn/--cron-crit)
 *   health SITES     Moodle's admin/cli/checks.php on each site through
 *                    the fleet runner: its exit 1 is a warning, not a
 *                    failure; a fleet summary and the worst state. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <apr_strings.h>
#include "ctl.h"
#include "fleet.h"
#include "fleet_cmds.h"
#include "vm_snapshot.h"
#include "vm_text.h"

enum { NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN };
static const char *const state_names[] = { "OK", "WARNING", "CRITICAL",
                                           "UNKNOWN" };

#define NAMES_SHOWN 3   /* sites named per problem in the line */
#define CRON_WARN 3600  /* --cron-warn default: an hour */
#define CRON_CRIT 86400 /* --cron-crit default: VMoodle's red day */

/* One kind of problem: how many sites, the first few named. */
typedef struct {
    int count;
    const char *names;
} problem;

static void note(problem *pb, const char *what, apr_pool_t *p)
{
    if (pb->count++ < NAMES_SHOWN)
        pb->names = pb->names ? apr_pstrcat(p, pb->names, ", ", what, NULL)
                              : what;
}

static const char *problem_text(const problem *pb, const char *label,
                                apr_pool_t *p)
{
    return apr_psprintf(p, "; %s: %d (%s%s)", label, pb->count, pb->names,
                        pb->count > NAMES_SHOWN ? ", ..." : "");
}

/* The snapshot holds the table as the source has it now? */
static int snapshot_state(const vmc_opts *o, const vmc_table *t,
                          const char **text)
{
    vm_snapshot *snap;
    const char *err;
    int state = NAGIOS_OK;

    if (!o->snapshot_path) {
        *text = "";
        return NAGIOS_OK;
    }
    if (vm_snapshot_open(&snap, o->snapshot_path, o->pool, &err) != VM_OK) {
        *text = apr_psprintf(o->pool, "; snapshot unreadable: %s",
                             vm_text_visible(err, o->pool));
        return NAGIOS_CRITICAL;
    }
    if (vm_snapshot_digest(snap) != vm_table_digest(t->table)) {
        *text = apr_psprintf(o->pool,
                             "; snapshot generation %" APR_UINT64_T_FMT
                             " differs from the table",
                             (apr_uint64_t)vm_snapshot_generation(snap));
        state = NAGIOS_WARNING;
    } else
        *text = apr_psprintf(o->pool,
                             "; snapshot generation %" APR_UINT64_T_FMT
                             " current",
                             (apr_uint64_t)vm_snapshot_generation(snap));
    vm_snapshot_close(snap);
    return state;
}

static int worse(int a, int b)
{
    static const int rank[] = { 0, 2, 3, 1 }; /* OK < UNKNOWN < WARN < CRIT */
    return rank[b] > rank[a] ? b : a;
}

int vmc_check_nagios(vmc_opts *o)
{
    problem failing = { 0, NULL }, late = { 0, NULL }, very_late = { 0, NULL };
    long long now = (long long)time(NULL);
    const char *why, *snap_text, *detail = "";
    int state, i, enabled = 0;
    vmc_table t;

    if ((state = vmc_table_load(o, &t, &why)) != VMC_EXIT_OK) {
        /* no source given: the check itself is wrong, not the fleet */
        state = state == VMC_EXIT_USAGE ? NAGIOS_UNKNOWN : NAGIOS_CRITICAL;
        printf("VMOODLE %s - instance table %s: %s\n", state_names[state],
               state == NAGIOS_UNKNOWN ? "not configured" : "unreadable",
               vm_text_visible(why, o->pool));
        return state;
    }
    if (!o->cron_warn)
        o->cron_warn = CRON_WARN;
    if (!o->cron_crit)
        o->cron_crit = CRON_CRIT;
    state = snapshot_state(o, &t, &snap_text);
    for (i = 0; i < t.table->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t.table->instances, i,
                                               vm_instance);
        long long since = in->lastcron > 0 ? now - in->lastcron : -1;
        if (!in->enabled)
            continue;
        enabled++;
        if (vmc_check_site(o, in, &why) != 0)
            note(&failing,
                 apr_pstrcat(o->pool, in->key, " ",
                             vm_text_visible(why, o->pool), NULL),
                 o->pool);
        if (since < 0 || since > o->cron_crit)
            note(&very_late, in->key, o->pool);
        else if (since > o->cron_warn)
            note(&late, in->key, o->pool);
    }
    if (failing.count)
        detail = problem_text(&failing, "failing", o->pool);
    if (very_late.count)
        detail = apr_pstrcat(o->pool, detail,
                             problem_text(&very_late,
                                          apr_psprintf(o->pool,
                                                       "no cron for %lds",
                                                       o->cron_crit),
                                          o->pool),
                             NULL);
    if (late.count)
        detail = apr_pstrcat(o->pool, detail,
                             problem_text(&late,
                                          apr_psprintf(o->pool,
                                                       "no cron for %lds",
                                                       o->cron_warn),
                                          o->pool),
                             NULL);
    state = worse(state,
                  failing.count || very_late.count ? NAGIOS_CRITICAL
                      : late.count                 ? NAGIOS_WARNING
                                                   : NAGIOS_OK);
    printf("VMOODLE %s - %d enabled site(s)%s%s | sites=%d failing=%d "
           "cron_overdue=%d\n",
           state_names[state], enabled, snap_text, detail, enabled,
           failing.count, late.count + very_late.count);
    return state;
}

/* ---- health ----------------------------------------------------------- */

/* checks.php's own codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; a site
 * that did not run, was killed or timed out is UNKNOWN. */
static int site_state(const vmc_site_result *r)
{
    if (r->state != VMC_SITE_DONE || r->timed_out || r->code < 0
        || r->code > NAGIOS_UNKNOWN)
        return NAGIOS_UNKNOWN;
    return r->code;
}

/* The NRPE line first (Nagios keeps the first line, NRPE v2 its first
 * KiB), each site that is not OK, then the fleet's table. */
static int health_summary(const vmc_job *job, const vmc_site_result *r, int n,
                          apr_pool_t *p)
{
    int count[4] = { 0, 0, 0, 0 }, state = NAGIOS_OK, i;

    for (i = 0; i < n; i++) {
        count[site_state(&r[i])]++;
        state = worse(state, site_state(&r[i]));
    }
    printf("VMOODLE HEALTH %s - %d site(s): %d ok, %d warning, %d critical, "
           "%d unknown | ok=%d warning=%d critical=%d unknown=%d\n",
           state_names[state], n, count[0], count[1], count[2], count[3],
           count[0], count[1], count[2], count[3]);
    for (i = 0; i < n; i++)
        if (site_state(&r[i]) != NAGIOS_OK)
            printf("  %s %s: %s\n", r[i].in->key,
                   state_names[site_state(&r[i])],
                   vm_text_visible(r[i].last_line ? r[i].last_line : "", p));
    vmc_summary_print(stdout, r, n, job->log_dir);
    fflush(stdout);
    return state;
}

int vmc_cmd_health(vmc_opts *o)
{
    vmc_table t;
    vmc_job job;
    vmc_site_result *results = NULL;
    int fg, rc = vmc_job_prepare(o, "health", 0, &t, &job, &fg);

    if (rc != VMC_EXIT_OK)
        return rc == VMC_EXIT_USAGE ? NAGIOS_UNKNOWN : NAGIOS_CRITICAL;
    job.script = "admin/cli/checks.php";
    job.args = (const char *const *)o->script; /* after "--" */
    job.nargs = o->nscript;
    job.ok_codes = 1u << 0 | 1u << 1; /* a warning ran fine */
    job.report_first = 1;
    if (fg)
        return vmc_fleet_run_one(&job,
                                 APR_ARRAY_IDX(job.sites, 0,
                                               const vm_instance *),
                                 o->pool);
    vmc_fleet_run(&job, o->pool, &results);
    if (!results) { /* nothing ran (its reason on stderr) */
        printf("VMOODLE HEALTH UNKNOWN - no site checked (see stderr)\n");
        return NAGIOS_UNKNOWN;
    }
    return health_summary(&job, results, job.sites->nelts, o->pool);
}
