/* The command table.  Adding a command:
 *   1. its file, vmoodlectl/<name>.c, with int vmc_cmd_<name>(vmc_opts *o)
 *      (declared in ctl.h); sites from select.h, a multi-step command's
 *      steps on the runner (steps.h);
 *   2. one entry below: name, handler, the arguments after the name, a
 *      one-line summary, what it needs (VMC_NEEDS_TABLE, VMC_ONE_SITE,
 *      VMC_SITES, VMC_WRITES: these bring their options, see commands.h)
 *      and OPTIONS(...) with the keys of its own options (options.c; a new
 *      option is one entry there);
 *   3. the README's command list: `vmoodlectl --help`'s, pasted (a test
 *      compares them).
 * Its usage, `vmoodlectl NAME --help`, its line in `vmoodlectl --help` and
 * the refusal of any option it does not take follow from the entry. */
#include <string.h>
#include "commands.h"

#define OPTIONS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_OPTIONS ((const char *const[]){ NULL })

/* Running Moodle's CLI on many sites at once (fleet.h). */
#define FLEET "jobs", "fail-fast", "log-dir", "timeout"
/* The login that makes and drops the sites' own logins. */
#define ADMIN "admin-dbuser", "admin-dbpass-file"
/* The instance's columns (add, edit; snapshot --from master, deploy). */
#define COLUMNS                                                              \
    "host", "fullname", "shortname", "dbtype", "dbhost", "dbuser", "dbpass", \
        "dbpass-file", "dbname", "prefix", "dataroot", "mnet", "persist"

static const vmc_command commands[] = {
    { "list", vmc_cmd_list, "", "the instance table", VMC_NEEDS_TABLE,
      OPTIONS("json", "show-secrets") },
    { "show", vmc_cmd_show, "HOST|ID", "one instance",
      VMC_NEEDS_TABLE | VMC_ONE_SITE, OPTIONS("json", "show-secrets") },
    { "add", vmc_cmd_add, "--host URL --dbname N --dataroot DIR", "a new row",
      VMC_NEEDS_TABLE | VMC_WRITES, OPTIONS(COLUMNS, "enabled", "column") },
    { "edit", vmc_cmd_edit, "HOST|ID", "change columns",
      VMC_NEEDS_TABLE | VMC_ONE_SITE | VMC_WRITES,
      OPTIONS(COLUMNS, "enabled", "column") },
    { "enable", vmc_cmd_enable, "HOST|ID", "serve the site",
      VMC_NEEDS_TABLE | VMC_ONE_SITE | VMC_WRITES, NO_OPTIONS },
    { "disable", vmc_cmd_disable, "HOST|ID", "stop serving the site",
      VMC_NEEDS_TABLE | VMC_ONE_SITE | VMC_WRITES, NO_OPTIONS },
    { "remove", vmc_cmd_remove, "HOST|ID", "the row (nothing else)",
      VMC_NEEDS_TABLE | VMC_ONE_SITE | VMC_WRITES, NO_OPTIONS },
    { "check", vmc_cmd_check, "[HOST...]",
      "database, dataroot, platform, DNS (a warning)", VMC_NEEDS_TABLE,
      OPTIONS("no-dns", "nagios", "snapshot", "cron-warn", "cron-crit") },
    { "snapshot", vmc_cmd_snapshot, "--from HOST|master --name NAME",
      "a template: database dump, dataroot", VMC_WRITES,
      OPTIONS("from", "template-name", "template-db", COLUMNS) },
    { "deploy", vmc_cmd_deploy, "--template NAME --host URL | --from-csv FILE",
      "a new site from a template, its own login", VMC_NEEDS_TABLE | VMC_WRITES,
      OPTIONS("template", COLUMNS, ADMIN, "from-csv", FLEET) },
    { "destroy", vmc_cmd_destroy, "HOST|ID --yes",
      "drop its database, login, dataroot, row",
      VMC_NEEDS_TABLE | VMC_ONE_SITE | VMC_WRITES, OPTIONS("yes", ADMIN) },
    { "isolate", vmc_cmd_isolate, "SITES",
      "a database login of its own for each site",
      VMC_NEEDS_TABLE | VMC_SITES | VMC_WRITES, OPTIONS(ADMIN, "wait") },
    { "pool", vmc_cmd_pool, "HOST|ID",
      "the site's php-fpm pool under its own user",
      VMC_NEEDS_TABLE | VMC_ONE_SITE, OPTIONS("dir") },
    { "templates", vmc_cmd_templates, "",
      "the templates: name, source, date, size", 0, OPTIONS("json") },
    { "template-remove", vmc_cmd_template_remove, "NAME",
      "a template and its template database", VMC_WRITES,
      OPTIONS("dbuser", "dbpass", "dbpass-file") },
    { "run", vmc_cmd_run, "SITES -- SCRIPT [ARGS...]",
      "php MOODLE_DIR/SCRIPT as each site",
      VMC_NEEDS_TABLE | VMC_SITES | VMC_FOREGROUND, OPTIONS(FLEET) },
    { "upgrade", vmc_cmd_upgrade, "SITES [--to PLATFORM] [--backup]",
      "behind the code, or --to a platform",
      VMC_NEEDS_TABLE | VMC_SITES | VMC_WRITES,
      OPTIONS(FLEET, "no-master", "to", "settle", "backup", "backups-dir",
              "keep", ADMIN) },
    { "purge-caches", vmc_cmd_purge_caches, "SITES", "Moodle's caches",
      VMC_NEEDS_TABLE | VMC_SITES | VMC_FOREGROUND, OPTIONS(FLEET) },
    { "maintenance", vmc_cmd_maintenance, "on|off SITES",
      "Moodle's maintenance mode", VMC_NEEDS_TABLE | VMC_SITES | VMC_FOREGROUND,
      OPTIONS(FLEET) },
    { "config", vmc_cmd_config, "SITES --name N [--value V | --unset]",
      "a setting of Moodle (admin/cli/cfg.php)",
      VMC_NEEDS_TABLE | VMC_SITES | VMC_FOREGROUND,
      OPTIONS(FLEET, "setting-name", "value", "unset", "plugin") },
    { "cron", vmc_cmd_cron, "SITES", "the cron now, under vcron's lock",
      VMC_NEEDS_TABLE | VMC_SITES | VMC_FOREGROUND, OPTIONS(FLEET) },
    { "platforms", vmc_cmd_platforms, "",
      "code trees: path, Moodle version, sites", VMC_NEEDS_TABLE,
      OPTIONS("json") },
    { "alias", vmc_cmd_alias, "add|remove HOST ALIAS | list [HOST]",
      "hosts that answer 301 to a site", VMC_NEEDS_TABLE | VMC_WRITES,
      NO_OPTIONS },
    { "health", vmc_cmd_health, "SITES [-- ARGS]",
      "Moodle's checks.php on each, NRPE exit codes",
      VMC_NEEDS_TABLE | VMC_SITES | VMC_FOREGROUND, OPTIONS(FLEET) },
    /* The site lifecycle. */
    { "backup", vmc_cmd_backup, "SITES",
      "each one's database, dataroot, manifest",
      VMC_NEEDS_TABLE | VMC_SITES | VMC_WRITES,
      OPTIONS(FLEET, "backups-dir", "keep", "maintenance") },
    { "backups", vmc_cmd_backups, "[SITES]", "the backups kept in --dir",
      VMC_NEEDS_TABLE | VMC_SITES, OPTIONS("backups-dir", "json") },
    { "restore", vmc_cmd_restore, "BACKUP", "into its site, or --as a new one",
      VMC_NEEDS_TABLE | VMC_WRITES, OPTIONS("as", COLUMNS, ADMIN) },
    { "usage", vmc_cmd_usage, "[SITES]", "disk, database, users, quota of each",
      VMC_NEEDS_TABLE | VMC_SITES, OPTIONS(FLEET, "json") },
    { "rename", vmc_cmd_rename, "HOST NEWURL", "the site under a new URL",
      VMC_NEEDS_TABLE | VMC_WRITES, OPTIONS("keep-alias") },
    { "move", vmc_cmd_move, "HOST",
      "to another database server, database or disk",
      VMC_NEEDS_TABLE | VMC_WRITES,
      OPTIONS("dbhost", "dbuser", "dbpass", "dbpass-file", "dbname", "dataroot",
              "cleanup", ADMIN) },
};

#define NCOMMANDS (int)(sizeof commands / sizeof *commands)
#define SYNOPSIS_WIDTH 30

/* The options a need brings. */
static const struct {
    unsigned need;
    const char *const *keys;
} brought[] = {
    { VMC_SITES, OPTIONS("all", "match", "master", "include-disabled") },
    { VMC_WRITES, OPTIONS("dry-run") },
};

const vmc_command *vmc_command_find(const char *name)
{
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

const vmc_command *vmc_command_at(int i)
{
    return i >= 0 && i < NCOMMANDS ? &commands[i] : NULL;
}

static int listed(const char *const *keys, const char *key)
{
    for (; *keys; keys++)
        if (strcmp(*keys, key) == 0)
            return 1;
    return 0;
}

int vmc_command_takes(const vmc_command *c, const vmc_option *opt)
{
    if (opt->setting || strcmp(opt->key, "config") == 0
        || strcmp(opt->key, "help") == 0 || listed(c->options, opt->key))
        return 1;
    for (size_t i = 0; i < sizeof brought / sizeof *brought; i++)
        if ((c->needs & brought[i].need) && listed(brought[i].keys, opt->key))
            return 1;
    return 0;
}

/* "  name args   summary", the summary on a line of its own when the
 * synopsis is long. */
static void print_command(FILE *out, const vmc_command *c)
{
    int width = (int)(strlen(c->name) + strlen(c->args) + (*c->args != 0));

    fprintf(out, "  %s%s%s", c->name, *c->args ? " " : "", c->args);
    if (width > SYNOPSIS_WIDTH)
        fprintf(out, "\n%*s", SYNOPSIS_WIDTH + 2, "");
    else
        fprintf(out, "%*s", SYNOPSIS_WIDTH - width, "");
    fprintf(out, "  %s\n", c->summary);
}

void vmc_usage(FILE *out)
{
    fputs("usage: vmoodlectl COMMAND [ARGS] [OPTIONS]\n"
          "       vmoodlectl COMMAND --help    its arguments and options\n"
          "       vmoodlectl --version\n"
          "commands:\n",
          out);
    for (int i = 0; i < NCOMMANDS; i++)
        print_command(out, &commands[i]);
    fputs("SITES: --all | --match REGEX | HOST...; --master, "
          "--include-disabled\n"
          "settings (every command; also NAME = VALUE in the file):\n",
          out);
    vmc_options_print_settings(out);
}

void vmc_command_usage(const vmc_command *c, FILE *out)
{
    fprintf(out, "usage: vmoodlectl %s%s%s [OPTIONS]\n  %s\n", c->name,
            *c->args ? " " : "", c->args, c->summary);
    if (c->needs & VMC_NEEDS_TABLE)
        fputs("  (reads the instance table: --source, --table)\n", out);
    if (c->needs & VMC_SITES)
        fputs("SITES: --all | --match REGEX | HOST...\n", out);
    if (c->needs & VMC_FOREGROUND)
        fputs("  one HOST or --master alone runs in the foreground\n", out);
    fputs("options:\n", out);
    for (size_t i = 0; i < sizeof brought / sizeof *brought; i++)
        if (c->needs & brought[i].need)
            vmc_options_print(out, brought[i].keys);
    vmc_options_print(out, c->options);
    fputs("settings (every command; also NAME = VALUE in the file):\n", out);
    vmc_options_print_settings(out);
}
