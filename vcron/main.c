/* vcron: keeps every enabled virtual Moodle's cron turning, from one
 * crontab line (vcron run) or as a daemon (vcron daemon). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "vm_source.h"
#include "config.h"
#include "vm_platforms.h"
#include "vm_master.h"
#include "vm_identity.h"
#include "vm_version.h"
#include "tick.h"
#include "status.h"
#include "plan.h"
#include "signals.h"
#include "jobs.h"
#include "vm_time.h"
#include "log.h"

typedef struct {
    apr_pool_t *pool; /* owns everything below */
    vc_config cfg;
    vm_identity who;
    vm_source *src;
    vm_instance master; /* master-config's settings */
} setup;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vcron [settings] run | daemon | status [--json] | plan\n"
            "             | tier HOST TIER|auto\n"
            "       vcron --help | --version\n"
            "  run      one tick, then exit (crontab: * * * * * vcron run)\n"
            "  daemon   a tick every --tick seconds until TERM; HUP re-reads\n"
            "  status   per instance (and the master with --master): "
            "croncount,\n"
            "           lastcron, seconds since, lastcrongap; mode activity: "
            "tier,\n"
            "           why, CPU per run, demand against capacity\n"
            "  plan     what the tiers ask for: runs and CPU s an hour per "
            "tier\n"
            "           against the cores; the sites whose gaps grow\n"
            "  tier     set a site's tier (1 busiest) in tier-file, or auto\n"
            "settings (also 'name = value' in the configuration file):\n");
    vc_config_usage(out);
    fprintf(out,
            "exit codes: 0 all crons succeeded, 1 a cron failed, timed out or "
            "did not start,\n  2 usage or configuration, 3 instance table "
            "unreadable, 4 local files (state, locks, logs)\n");
}

/* Flags once to find --config, then the file, then the flags again so
 * they override it. */
static const char *read_settings(setup *s, int argc, char **argv,
                                 const char **rest, int *nrest)
{
    vc_config first;
    vc_config_defaults(&first);
    const char *err = vc_config_parse_args(&first, argc, argv, rest, nrest,
                                           s->pool);
    if (err)
        return err;
    vc_config_defaults(&s->cfg);
    int explicit = strcmp(first.config_file, VC_DEFAULT_CONFIG) != 0;
    err = vc_config_read_file(&s->cfg, first.config_file, explicit, s->pool);
    if (!err)
        err = vc_config_parse_args(&s->cfg, argc, argv, rest, nrest, s->pool);
    if (!err)
        err = vc_config_check(&s->cfg, s->pool);
    if (!err && s->cfg.platforms_file)
        err = vm_platforms_read(s->cfg.platforms_file, &s->cfg.platforms,
                                s->pool);
    return err;
}

/* Settings, the cron user and the source, into a fresh pool.  Returns an
 * exit code; on failure the pool is gone. */
static int open_setup(setup *s, int argc, char **argv, const char **rest,
                      int *nrest, int need_user)
{
    apr_pool_create(&s->pool, NULL);
    const char *err = read_settings(s, argc, argv, rest, nrest);
    int code = err ? VC_EXIT_USAGE : VC_EXIT_OK;
    if (!err && need_user
        && (err = vm_identity_resolve(&s->who, s->cfg.user, s->pool)))
        code = VC_EXIT_USAGE;
    if (!err && s->cfg.master_config) {
        if ((err = vm_master_read(s->cfg.master_config, &s->master, s->pool))
            != NULL) {
            vc_log(245, "master-config %s", err);
            apr_pool_destroy(s->pool);
            s->pool = NULL;
            return VC_EXIT_USAGE;
        }
        vm_master_settings = &s->master;
    }
    if (!err
        && vm_source_open(&s->src, s->cfg.source, s->cfg.table, s->pool, &err)
            != VM_OK)
        code = VC_EXIT_SOURCE;
    if (code != VC_EXIT_OK) {
        vc_log(code == VC_EXIT_SOURCE ? 243 : 200, "%s",
               err ? err : "cannot open the source");
        apr_pool_destroy(s->pool);
        s->pool = NULL;
    }
    return code;
}

static int one_tick(setup *s)
{
    apr_pool_t *p;
    apr_pool_create(&p, s->pool);
    vc_tick_counts counts;
    int code = vc_tick(&s->cfg, &s->who, s->src, p, &counts);
    apr_pool_destroy(p);
    return code;
}

/* HUP: the new settings replace the old only when they are good. */
static void reload(setup *s, int argc, char **argv)
{
    setup fresh;
    apr_pool_t *args;
    apr_pool_create(&args, NULL);
    const char **rest = apr_pcalloc(args, sizeof(*rest) * (argc + 1));
    int nrest, code = open_setup(&fresh, argc, argv, rest, &nrest, 1);
    apr_pool_destroy(args);
    if (code != VC_EXIT_OK) {
        vc_log(242, "keeping the previous configuration");
        return;
    }
    apr_pool_destroy(s->pool);
    *s = fresh;
}

static int daemon_loop(setup *s, int argc, char **argv)
{
    long long next = vm_time_mono_ms();
    while (!vc_signals_stopping()) {
        one_tick(s);
        next += s->cfg.tick * 1000LL;
        long long now = vm_time_mono_ms();
        if (next < now) /* a long tick: start again, no burst */
            next = now;
        while (!vc_signals_stopping() && now < next) {
            vc_signals_wait(next - now < 1000 ? (long)(next - now) : 1000);
            if (vc_signals_take_reload())
                reload(s, argc, argv);
            now = vm_time_mono_ms();
        }
    }
    return VC_EXIT_OK;
}

/* cron and init may start us with 0, 1 or 2 closed: a later open() must
 * not land there and receive a cron's output or our log lines. */
static void ensure_std_fds(void)
{
    int fd = open("/dev/null", O_RDWR);
    while (fd >= 0 && fd <= 2)
        fd = open("/dev/null", O_RDWR);
    if (fd > 2)
        close(fd);
}

static int dispatch(setup *s, const char *cmd, int json,
                    const char *const *words, int argc, char **argv)
{
    if (strcmp(cmd, "plan") == 0)
        return vc_plan(&s->cfg, s->src, stdout, s->pool);
    if (strcmp(cmd, "tier") == 0)
        return vc_tier_command(&s->cfg, s->src, words[0], words[1], stdout,
                               s->pool);
    if (strcmp(cmd, "run") == 0)
        return one_tick(s);
    if (strcmp(cmd, "daemon") == 0)
        return daemon_loop(s, argc, argv);
    return vc_status(&s->cfg, s->src, json, stdout, s->pool);
}

int main(int argc, char **argv)
{
    ensure_std_fds();
    apr_initialize();
    vc_signals_init();
    apr_pool_t *args;
    apr_pool_create(&args, NULL);
    const char **rest = apr_pcalloc(args, sizeof(*rest) * (argc + 1));
    int nrest = 0, json = 0, nwords = 0;
    const char *cmd = NULL, *words[2] = { NULL, NULL };
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return VC_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("vcron %s\n", VMOODLE_VERSION);
            return VC_EXIT_OK;
        }
    setup s;
    int code = open_setup(&s, argc, argv, rest, &nrest, 1);
    for (int i = 0; code == VC_EXIT_OK && i < nrest; i++) {
        if (strcmp(rest[i], "--json") == 0)
            json = 1;
        else if (!cmd
                 && (strcmp(rest[i], "run") == 0
                     || strcmp(rest[i], "daemon") == 0
                     || strcmp(rest[i], "status") == 0
                     || strcmp(rest[i], "plan") == 0
                     || strcmp(rest[i], "tier") == 0))
            cmd = rest[i];
        else if (cmd && strcmp(cmd, "tier") == 0 && nwords < 2)
            words[nwords++] = rest[i];
        else {
            vc_log(244, "unexpected argument '%s' (see --help)", rest[i]);
            code = VC_EXIT_USAGE;
        }
    }
    if (code == VC_EXIT_OK
        && (!cmd || (strcmp(cmd, "tier") == 0 && nwords < 2))) {
        usage(stderr);
        code = VC_EXIT_USAGE;
    }
    if (code == VC_EXIT_OK)
        code = dispatch(&s, cmd, json, words, argc, argv);
    if (s.pool)
        apr_pool_destroy(s.pool);
    apr_pool_destroy(args);
    apr_terminate();
    return code;
}
