/* vcron's settings: one list of names shared by the configuration file
 * ("name = value") and the command line ("--name value"), so both always
 * know the same settings.  The file is read first; flags override it. */
#ifndef VC_CONFIG_H
#define VC_CONFIG_H

#include <stdio.h>
#include <apr_pools.h>
#include "sched.h"
#include "tiers.h"

#define VC_DEFAULT_CONFIG "/etc/vmoodle/vcron.conf"
#define VC_RR_DEFAULT_PER_TICK 16 /* VMoodle's own figure */

typedef struct {
    const char *config_file; /* --config only */
    const char *source;      /* json:/path | pgsql:"..." | mysql:"..." */
    const char *table;       /* NULL: the core's default */
    vc_mode mode;
    long per_tick;              /* round robin: per tick; lowest gap: cap */
    long period;                /* lowest gap: seconds between two runs */
    long tick;                  /* daemon: seconds between ticks */
    long jobs;                  /* crons at once */
    long timeout;               /* seconds before a cron is ended */
    long grace;                 /* seconds between TERM and KILL */
    const char *php;            /* PHP command-line binary */
    const char *moodle_dir;     /* the default platform's Moodle code */
    const char *platforms_file; /* platforms: name = code tree; NULL none */
    struct vm_platforms_s *platforms; /* its contents, read at start */
    const char *const *command; /* replaces php cron.php; NULL-terminated */
    const char *user;           /* who runs the crons when vcron is root */
    const char *site_user;      /* per-site user rule (vm_siteuser.h) */
    const char *log_dir;        /* one log per instance */
    long log_max;               /* bytes before a log is rotated */
    const char *lock_dir;       /* one lock file per instance */
    const char *state_file;     /* round-robin cursor, measured tick */
    const char *runs_file;      /* each site's run records (vm_cron_runs);
                                  NULL: vc_config_runs_file's default */
    int quiet;                  /* no summary line */
    int master;                 /* also the master's cron, VMOODLE_MASTER=1 */
    /* PHP's opcode file cache (core/vm_opcache.h) */
    int opcache;             /* on unless "off" */
    const char *opcache_dir; /* its base directory */
    /* mode = activity (tiers.h) */
    vc_tiers tiers;            /* parsed "tiers" */
    long default_tier;         /* a site whose activity is not known yet */
    const char *tier_file;     /* per-site overrides: "host = tier" */
    long activity_days;        /* activity: log events over these days */
    long activity_every;       /* seconds between two measures of a site */
    long activity_per_tick;    /* sites measured at most per tick */
    int fast_path;             /* a site with queued work runs at once */
    long probe_threads;        /* site databases probed at once */
    long fast_path_from;       /* probe sites of this tier and quieter */
    long cores;                /* CPU cores of the cron hosts; 0 = nproc */
    long run_cost_ms;          /* CPU per run assumed before any is known */
    const char *master_config; /* the master's settings (vm_master.h) */
} vc_config;

void vc_config_defaults(vc_config *cfg);

/* Set one setting by name from text.  Returns NULL or a reason (from p). */
const char *vc_config_set(vc_config *cfg, const char *name, const char *value,
                          apr_pool_t *p);

/* Read a settings file (vm_conf.h): every name must be a setting.  A
 * missing file is an error only when required.  Returns NULL or a reason
 * naming the file and line (from p). */
const char *vc_config_read_file(vc_config *cfg, const char *path, int required,
                                apr_pool_t *p);

/* Apply "--name value", "--name=value" and "--command PATH ARGS..." (the
 * rest of the line) from argv; other words are left in order in *rest
 * (room for argc).  Returns NULL or a reason (from p). */
const char *vc_config_parse_args(vc_config *cfg, int argc, char **argv,
                                 const char **rest, int *nrest, apr_pool_t *p);

/* runs-file (each %h this host's name), else cron-runs beside
 * state-file (an absolute path once vc_config_check passed).  From p. */
const char *vc_config_runs_file(const vc_config *cfg, apr_pool_t *p);

/* Cross-setting rules (absolute paths, a source).  NULL or a reason. */
const char *vc_config_check(const vc_config *cfg, apr_pool_t *p);

/* The settings as "name = value" lines, for --help and the sample. */
void vc_config_usage(FILE *out);

#endif
