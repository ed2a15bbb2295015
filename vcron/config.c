/* vcron's settings, see config.h. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "config.h"
#include "vm_conf.h"
#include "vm_settings.h"
#include "vm_source.h"

typedef enum { T_STR, T_LONG, T_MODE, T_ARGV, T_BOOL, T_TIERS } setting_type;

typedef struct {
    const char *name;
    setting_type type;
    size_t offset;
    long min;         /* T_LONG: smallest value accepted */
    const char *dflt; /* as the file would say it; NULL: none */
    const char *help;
} setting;

#define AT(field) offsetof(vc_config, field)
#define STR_(x) #x
#define STR(x) STR_(x)

/* Every setting with its default: --help and vc_config_defaults read
 * them from here. */
static const setting settings[] = {
    { VM_SET_CONFIG, T_STR, AT(config_file), 0, VC_DEFAULT_CONFIG,
      "configuration file" },
    { VM_SET_SOURCE, T_STR, AT(source), 0, NULL,
      "instance table: json:/path | pgsql:\"conninfo\" | mysql:\"...\"" },
    { VM_SET_TABLE, T_STR, AT(table), 0, VM_DEFAULT_TABLE, "database table" },
    { VM_SET_MODE, T_MODE, AT(mode), 0, "round-robin",
      "round-robin | lowest-gap | activity" },
    { VM_SET_PER_TICK, T_LONG, AT(per_tick), 0, NULL,
      "round-robin: instances per tick (default " STR(
          VC_RR_DEFAULT_PER_TICK) "); lowest-gap: cap (default 0 = none)" },
    { VM_SET_PERIOD, T_LONG, AT(period), 1, "900",
      "lowest-gap: seconds between two crons of an instance" },
    { VM_SET_TICK, T_LONG, AT(tick), 1, "60", "daemon: seconds between ticks" },
    { VM_SET_JOBS, T_LONG, AT(jobs), 1, VM_DEFAULT_JOBS_TEXT,
      "crons running at once" },
    { VM_SET_TIMEOUT, T_LONG, AT(timeout), 1, "600",
      "seconds before a cron is ended" },
    { VM_SET_GRACE, T_LONG, AT(grace), 0, VM_DEFAULT_GRACE_TEXT,
      "seconds between TERM and KILL of a late cron" },
    { VM_SET_PHP, T_STR, AT(php), 0, VM_DEFAULT_PHP, "PHP CLI binary" },
    { VM_SET_MOODLE_DIR, T_STR, AT(moodle_dir), 0, VM_DEFAULT_MOODLE_DIR,
      "Moodle code directory (the default platform)" },
    { VM_SET_PLATFORMS, T_STR, AT(platforms_file), 0, NULL,
      "platforms file: 'name = /path/to/moodle' a line (sites' code)" },
    { VM_SET_COMMAND, T_ARGV, AT(command), 0, NULL,
      "PATH ARGS...: run this instead of php cron.php (last flag)" },
    { VM_SET_USER, T_STR, AT(user), 0, VM_DEFAULT_USER,
      "user for the crons when root" },
    { VM_SET_SITE_USER, T_STR, AT(site_user), 0, NULL,
      "a user per site, e.g. vm-%shortname% (%id%, %dbname%); unset: user" },
    { VM_SET_LOG_DIR, T_STR, AT(log_dir), 0, "/var/log/vmoodle/vcron",
      "per-instance logs" },
    { VM_SET_LOG_MAX, T_LONG, AT(log_max), 1024, "1048576",
      "bytes before a log is rotated to .1" },
    { VM_SET_LOCK_DIR, T_STR, AT(lock_dir), 0, VM_DEFAULT_LOCK_DIR,
      "per-instance lock files" },
    { VM_SET_STATE_FILE, T_STR, AT(state_file), 0,
      "/var/lib/vmoodle/vcron.state",
      "cursor, measured tick, the master's figures" },
    { VM_SET_RUNS_FILE, T_STR, AT(runs_file), 0, NULL,
      "each site's runs, failures, timeouts, last duration and exit "
      "(VMoodleCronRuns reads it; default cron-runs beside state-file; "
      "%h: this host's name)" },
    { VM_SET_QUIET, T_BOOL, AT(quiet), 0, NULL, "no summary line per tick" },
    { VM_SET_MASTER, T_BOOL, AT(master), 0, NULL,
      "also run the master Moodle's cron each tick (VMOODLE_MASTER=1)" },
    { VM_SET_MASTER_CONFIG, T_STR, AT(master_config), 0, NULL,
      "the master's settings file (root's, 0600): its runs get them" },
    { VM_SET_OPCACHE, T_BOOL, AT(opcache), 0, "on",
      "PHP's opcode cache kept in files between runs: on | off" },
    { VM_SET_OPCACHE_DIR, T_STR, AT(opcache_dir), 0, VM_DEFAULT_OPCACHE_DIR,
      "its base: DIR/<code tree>/<user>" },
    { VM_SET_TIERS, T_TIERS, AT(tiers), 0, VC_TIERS_DEFAULT,
      "activity: EVENTS:PERIOD per tier, busiest first" },
    { VM_SET_DEFAULT_TIER, T_LONG, AT(default_tier), 1, "3",
      "activity: tier of a site not measured yet (at most the last)" },
    { VM_SET_TIER_FILE, T_STR, AT(tier_file), 0, "/etc/vmoodle/vcron.tiers",
      "activity: per-site overrides, 'host = tier' (vcron tier)" },
    { VM_SET_ACTIVITY_DAYS, T_LONG, AT(activity_days), 1, "3",
      "activity: log events over this many days" },
    { VM_SET_ACTIVITY_EVERY, T_LONG, AT(activity_every), 60, "86400",
      "activity: seconds between two measures of a site" },
    { VM_SET_ACTIVITY_PER_TICK, T_LONG, AT(activity_per_tick), 0, "200",
      "activity: sites measured at most per tick" },
    { VM_SET_FAST_PATH, T_BOOL, AT(fast_path), 0, "on",
      "activity: a site with ad hoc work waiting runs at once: on | off" },
    { VM_SET_FAST_PATH_FROM, T_LONG, AT(fast_path_from), 1, "1",
      "activity: probe the sites of this tier and quieter ones" },
    { VM_SET_PROBE_THREADS, T_LONG, AT(probe_threads), 1, "8",
      "activity: site databases probed at once" },
    { VM_SET_CORES, T_LONG, AT(cores), 0, "0",
      "CPU cores of the cron hosts, for capacity (0: this host's)" },
    { VM_SET_RUN_COST_MS, T_LONG, AT(run_cost_ms), 1, "300",
      "CPU ms per run assumed before any is measured" },
};

#define NSETTINGS (sizeof settings / sizeof *settings)

/* Defaults are static strings: kept as they are, never parsed into the
 * pool, so this needs none. */
void vc_config_defaults(vc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->per_tick = -1; /* unset: the mode's default */
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting *s = &settings[i];
        void *field = (char *)cfg + s->offset;
        if (!s->dflt)
            continue;
        if (s->type == T_STR)
            *(const char **)field = s->dflt;
        else if (s->type == T_LONG)
            *(long *)field = strtol(s->dflt, NULL, 10);
        else if (s->type == T_MODE)
            *(vc_mode *)field = (vc_mode)vc_mode_parse(s->dflt);
        else if (s->type == T_BOOL)
            *(int *)field = vm_settings_on(s->dflt);
        else if (s->type == T_TIERS)
            vc_tiers_parse(s->dflt, field);
    }
}

static const setting *find_setting(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

/* "PATH ARG ARG": split on blanks, no quoting and no shell. */
static const char *const *split_words(const char *text, apr_pool_t *p)
{
    apr_array_header_t *words = apr_array_make(p, 4, sizeof(char *));
    char *copy = apr_pstrdup(p, text), *save = NULL;
    for (char *w = strtok_r(copy, " \t", &save); w;
         w = strtok_r(NULL, " \t", &save))
        APR_ARRAY_PUSH(words, const char *) = w;
    APR_ARRAY_PUSH(words, const char *) = NULL;
    return (const char *const *)words->elts;
}

static const char *set_long(long *field, const setting *s, const char *value,
                            apr_pool_t *p)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < s->min)
        return apr_psprintf(p, "%s: want a whole number >= %ld, not '%s'",
                            s->name, s->min, value);
    *field = v;
    return NULL;
}

const char *vc_config_set(vc_config *cfg, const char *name, const char *value,
                          apr_pool_t *p)
{
    const setting *s = find_setting(name);
    if (!s)
        return apr_psprintf(p, "unknown setting '%s'", name);
    void *field = (char *)cfg + s->offset;
    int mode;
    switch (s->type) {
    case T_STR:
        *(const char **)field = apr_pstrdup(p, value);
        return NULL;
    case T_LONG:
        return set_long(field, s, value, p);
    case T_MODE:
        if ((mode = vc_mode_parse(value)) < 0)
            return apr_psprintf(p,
                                "mode: round-robin, lowest-gap or "
                                "activity, not '%s'",
                                value);
        *(vc_mode *)field = (vc_mode)mode;
        return NULL;
    case T_ARGV:
        *(const char *const **)field = split_words(value, p);
        return NULL;
    case T_BOOL:
        *(int *)field = vm_settings_on(value);
        return NULL;
    case T_TIERS:
        return vc_tiers_parse(value, field);
    }
    return NULL;
}

static const char *set_from_file(void *cfg, const char *name, const char *value,
                                 apr_pool_t *p)
{
    return vc_config_set(cfg, name, value, p);
}

const char *vc_config_read_file(vc_config *cfg, const char *path, int required,
                                apr_pool_t *p)
{
    return vm_conf_read(path, required, set_from_file, cfg, p);
}

/* A flag alone is on; "--flag on" and "--flag off" say it. */
static const char *bool_word(int argc, char **argv, int *i)
{
    static const char *const words[] = { "on",   "off",   "yes", "no",
                                         "true", "false", "1",   "0" };
    for (size_t k = 0; *i + 1 < argc && k < sizeof words / sizeof *words; k++)
        if (strcmp(argv[*i + 1], words[k]) == 0)
            return argv[++*i];
    return "1";
}

/* "--command PATH ARGS...": the rest of the line, taken word for word. */
static const char *take_command(vc_config *cfg, int argc, char **argv, int i,
                                apr_pool_t *p)
{
    if (i >= argc)
        return "--command needs a program";
    const char **words = apr_pcalloc(p,
                                     sizeof(char *) * (size_t)(argc - i + 1));
    for (int k = i; k < argc; k++)
        words[k - i] = apr_pstrdup(p, argv[k]);
    cfg->command = words;
    return NULL;
}

const char *vc_config_parse_args(vc_config *cfg, int argc, char **argv,
                                 const char **rest, int *nrest, apr_pool_t *p)
{
    *nrest = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        const char *name = strncmp(arg, "--", 2) == 0 ? arg + 2 : NULL;
        if (name && eq)
            name = apr_pstrndup(p, name, (apr_size_t)(eq - name));
        const setting *s = name ? find_setting(name) : NULL;
        if (!s) {
            rest[(*nrest)++] = arg;
            continue;
        }
        if (s->type == T_ARGV && !eq)
            return take_command(cfg, argc, argv, i + 1, p);
        const char *value = eq  ? eq + 1
            : s->type == T_BOOL ? bool_word(argc, argv, &i)
            : i + 1 < argc      ? argv[++i]
                                : NULL;
        if (!value)
            return apr_psprintf(p, "--%s needs a value", s->name);
        const char *err = vc_config_set(cfg, s->name, value, p);
        if (err)
            return err;
    }
    return NULL;
}

const char *vc_config_check(const vc_config *cfg, apr_pool_t *p)
{
    if (!cfg->source || !*cfg->source)
        return "no source: set --source or 'source =' in the configuration";
    const char *program = cfg->command ? cfg->command[0] : cfg->php;
    if (!program || program[0] != '/')
        return apr_psprintf(p,
                            "the cron program must be an absolute path, "
                            "not '%s'",
                            program ? program : "");
    const char *paths[] = { cfg->moodle_dir, cfg->log_dir,     cfg->lock_dir,
                            cfg->state_file, cfg->opcache_dir, cfg->tier_file };
    if (cfg->runs_file && cfg->runs_file[0] != '/')
        return apr_psprintf(p, "'%s' is not an absolute path", cfg->runs_file);
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (!paths[i] || paths[i][0] != '/')
            return apr_psprintf(p, "'%s' is not an absolute path",
                                paths[i] ? paths[i] : "");
    return NULL;
}

/* path with each %h this host's name: several cron hosts, a file each on
 * shared storage (the module merges them: VMoodleCronRuns with a glob). */
static const char *with_host_name(const char *path, apr_pool_t *p)
{
    char host[256];
    const char *at = strstr(path, "%h");

    if (!at)
        return path;
    if (gethostname(host, sizeof host) != 0 || !*host)
        apr_cpystrn(host, "localhost", sizeof host);
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == '/')
            *c = '_'; /* a name, never a folder */
    return apr_pstrcat(p, apr_pstrndup(p, path, (apr_size_t)(at - path)), host,
                       with_host_name(at + 2, p), NULL);
}

const char *vc_config_runs_file(const vc_config *cfg, apr_pool_t *p)
{
    const char *slash = strrchr(cfg->state_file, '/');

    if (cfg->runs_file)
        return with_host_name(cfg->runs_file, p);
    return apr_pstrcat(p,
                       apr_pstrndup(p, cfg->state_file,
                                    (apr_size_t)(slash - cfg->state_file)),
                       "/cron-runs", NULL);
}

void vc_config_usage(FILE *out)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        fprintf(out, "  --%-12s %s%s%s%s\n", settings[i].name, settings[i].help,
                settings[i].dflt ? " (default " : "",
                settings[i].dflt ? settings[i].dflt : "",
                settings[i].dflt ? ")" : "");
}
