/* vmoodlectl's options, each defined once: see options.h.  To add one:
 * an entry below (TEXT, FLAG, NUMBER, SETTING or COLUMN; a new field in
 * vmc_opts when it needs one), then its key in the list of each command
 * that takes it (commands.c).  A SETTING (text) is also read from the
 * configuration file under its name, which vm_settings.h holds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "options.h"
#include "roles.h"
#include "vm_file.h"
#include "vm_settings.h"

#define PASSWORD_FILE_MAX 65536

static int apply_text(vmc_opts *o, const vmc_option *opt, const char *arg)
{
    *(const char **)((char *)o + opt->at) = arg;
    return 0;
}

static int apply_flag(vmc_opts *o, const vmc_option *opt, const char *arg)
{
    (void)arg;
    *(int *)((char *)o + opt->at) = 1;
    return 0;
}

/* A whole number from min into the option's field. */
static int apply_long(vmc_opts *o, const vmc_option *opt, const char *arg,
                      long min)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < min) {
        vmc_error(383, "--%s wants a whole number >= %ld, not '%s'", opt->name,
                  min, arg);
        return -1;
    }
    *(long *)((char *)o + opt->at) = v;
    return 0;
}

/* A whole number from 1: --jobs, --timeout. */
static int apply_number(vmc_opts *o, const vmc_option *opt, const char *arg)
{
    return apply_long(o, opt, arg, 1);
}

/* Whole seconds, 0 allowed: isolate --wait. */
static int apply_seconds(vmc_opts *o, const vmc_option *opt, const char *arg)
{
    return apply_long(o, opt, arg, 0);
}

static int apply_column(vmc_opts *o, const vmc_option *opt, const char *arg)
{
    vm_row_set(&o->fields, (vm_field)opt->column, arg);
    return 0;
}

/* --column COLUMN=VALUE: any column by its table name. */
static int apply_any_column(vmc_opts *o, const vmc_option *opt, const char *arg)
{
    const char *eq = strchr(arg, '=');
    int f = eq
        ? vm_field_by_name(apr_pstrndup(o->pool, arg, (apr_size_t)(eq - arg)))
        : -1;

    if (f < 0 || f == VM_F_ID) {
        vmc_error(300,
                  "--%s wants COLUMN=VALUE with a column other than "
                  "id: '%s'",
                  opt->name, arg);
        return -1;
    }
    vm_row_set(&o->fields, (vm_field)f, eq + 1);
    return 0;
}

/* The first line of the file: <(pass show x) works too.  NULL after
 * saying why. */
static const char *password_file(vmc_opts *o, const vmc_option *opt,
                                 const char *path)
{
    const char *err;
    char *pass;
    size_t len;

    if (vm_file_read(path, PASSWORD_FILE_MAX, o->pool, &pass, &len, &err)
        != VM_OK) {
        vmc_error(301, "--%s: %s", opt->name, err);
        return NULL;
    }
    return apr_pstrndup(o->pool, pass, strcspn(pass, "\r\n"));
}

static int apply_password_file(vmc_opts *o, const vmc_option *opt,
                               const char *path)
{
    const char *pass = password_file(o, opt, path);

    if (pass)
        vm_row_set(&o->fields, VM_F_VDBPASS, pass);
    return pass ? 0 : -1;
}

/* --db-client-host: a wrong one is a wrong command line (a settings
 * file's is checked with the other settings). */
static int apply_client_host(vmc_opts *o, const vmc_option *opt,
                             const char *host)
{
    const char *why = vmc_role_host_check(host, o->pool);
    if (why) {
        vmc_error(971, "--%s", why);
        return -1;
    }
    return apply_text(o, opt, host);
}

/* --admin-dbpass-file: the administrative login's, never a column. */
static int apply_admin_password_file(vmc_opts *o, const vmc_option *opt,
                                     const char *path)
{
    return (o->admin_dbpass = password_file(o, opt, path)) ? 0 : -1;
}

#define AT(field) offsetof(vmc_opts, field)
#define TEXT(k, n, a, field, h)                                        \
    {                                                                  \
        .key = k, .name = n, .arg = a, .help = h, .apply = apply_text, \
        .at = AT(field)                                                \
    }
#define FLAG(n, field, h)                                                    \
    {                                                                        \
        .key = n, .name = n, .help = h, .apply = apply_flag, .at = AT(field) \
    }
#define NUMBER(n, field, h)                                                \
    {                                                                      \
        .key = n, .name = n, .arg = "N", .help = h, .apply = apply_number, \
        .at = AT(field)                                                    \
    }
#define SETTING(s, a, field, h)                                 \
    {                                                           \
        .key = s, .name = s, .arg = a, .help = h, .setting = s, \
        .apply = apply_text, .at = AT(field)                    \
    }
#define COLUMN(n, a, f, h)                                               \
    {                                                                    \
        .key = n, .name = n, .arg = a, .help = h, .apply = apply_column, \
        .column = f                                                      \
    }

static const vmc_option options[] = {
    /* Settings: every command takes them, as the file may hold them all. */
    SETTING(VM_SET_SOURCE, "SPEC", source_spec,
            "the table: json:/path | pgsql:\"...\" | mysql:\"...\""),
    SETTING(VM_SET_TABLE, "NAME", table_name, "its database table"),
    SETTING(VM_SET_TEMPLATES, "DIR", templates_dir,
            "templates (default " VMC_DEFAULT_TEMPLATES ")"),
    SETTING(VM_SET_DATA_PARENT, "DIR", data_parent,
            "where new dataroots go (default " VMC_DEFAULT_DATA ")"),
    SETTING(VM_SET_USER, "USER", web_user,
            "the web server's user (default " VM_DEFAULT_USER ")"),
    SETTING(VM_SET_MASTER_DATAROOT, "DIR", master_dataroot,
            "the master's dataroot: destroy never removes it"),
    SETTING(VM_SET_PHP, "PATH", php, "PHP CLI (default " VM_DEFAULT_PHP ")"),
    SETTING(VM_SET_MOODLE_DIR, "DIR", moodle_dir,
            "the Moodle code (default " VM_DEFAULT_MOODLE_DIR ")"),
    SETTING(VM_SET_LOCK_DIR, "DIR", lock_dir,
            "vcron's per-site locks (default " VM_DEFAULT_LOCK_DIR ")"),
    SETTING(VM_SET_PLATFORMS, "FILE", platforms_file,
            "code trees: 'name = /path/to/moodle' lines"),
    SETTING(VM_SET_BACKUP_DIR, "DIR", backup_dir,
            "backups (default " VMC_DEFAULT_BACKUP_DIR ")"),
    SETTING(VM_SET_QUOTA_FILE, "FILE", quota_file,
            "per-site quotas: HOST = SIZE lines (usage, check)"),
    SETTING(VM_SET_USAGE_FILE, "FILE", usage_file,
            "usage records its figures here (VMoodleUsage reads it)"),
    SETTING(VM_SET_SITE_USER, "RULE", site_user,
            "a user per site: vm-%shortname% (%id%, %dbname%)"),
    SETTING(VM_SET_MASTER_CONFIG, "FILE", master_config,
            "the master's settings (root's, 0600): its runs get them"),
    SETTING(VM_SET_OPCACHE, "on|off", opcache,
            "PHP's opcode file cache for every CLI run (default on)"),
    SETTING(VM_SET_OPCACHE_DIR, "DIR", opcache_dir,
            "its base (default " VM_DEFAULT_OPCACHE_DIR ")"),
    TEXT("config", "config", "FILE", config_path,
         "settings (" VMC_DEFAULT_CONFIG " or vcron.conf)"),
    /* What a command does. */
    FLAG("help", help, "this help"),
    FLAG("dry-run", dry_run, "print the plan, change nothing"),
    FLAG("yes", yes, "really do it"),
    FLAG("json", json, "as JSON"),
    FLAG("show-secrets", show_secrets, "passwords too"),
    FLAG("no-dns", no_dns, "no DNS look-up"),
    /* check --nagios (monitor.c) */
    FLAG("nagios", nagios, "the fleet in one line, exit 0/1/2/3"),
    TEXT("snapshot", "snapshot", "PATH", snapshot_path,
         "the module's VMoodleSnapshot: compared with the table"),
    NUMBER("cron-warn", cron_warn,
           "WARNING past this many seconds without cron (default 3600)"),
    NUMBER("cron-crit", cron_crit,
           "CRITICAL past this many seconds (default 86400)"),
    TEXT("from", "from", "HOST|master", from, "the template's site"),
    TEXT("template-name", "name", "NAME", snapshot_name,
         "the template's name (letters, digits, '.', '_', '-')"),
    FLAG("template-db", template_db,
         "PostgreSQL: keep a template database too"),
    TEXT("template", "template", "NAME", template_name, "the template"),
    /* The sites' own database logins (roles.h). */
    TEXT("admin-dbuser", "admin-dbuser", "USER", admin_dbuser,
         "the login that makes and drops the sites' logins"),
    { .key = "admin-dbpass-file",
      .name = "admin-dbpass-file",
      .arg = "FILE",
      .help = "its password: the file's first line",
      .apply = apply_admin_password_file },
    { .key = VM_SET_DB_CLIENT_HOST,
      .name = VM_SET_DB_CLIENT_HOST,
      .arg = "HOST",
      .setting = VM_SET_DB_CLIENT_HOST,
      .at = AT(db_client_host),
      .help = "MariaDB: the host part of new sites' accounts (default: "
              "the one the server sees us connect from)",
      .apply = apply_client_host },
    { .key = "wait",
      .name = "wait",
      .arg = "S",
      .at = AT(isolate_wait),
      .help = "seconds both logins work (default 20)",
      .apply = apply_seconds },
    TEXT("dir", "dir", "DIR", out_dir, "write the pool file there"),
    /* Which sites, and how many at once. */
    FLAG("all", all, "every enabled instance"),
    TEXT("match", "match", "REGEX", match,
         "the enabled instances whose host matches"),
    FLAG("master", master, "the master Moodle too (first)"),
    FLAG("include-disabled", include_disabled,
         "--all/--match: the disabled ones too"),
    FLAG("no-master", no_master, "--all/--match without the master"),
    NUMBER("jobs", jobs, "sites at once (default " VM_DEFAULT_JOBS_TEXT ")"),
    FLAG("fail-fast", fail_fast, "start no new site after a failure"),
    TEXT("log-dir", "log-dir", "DIR", log_dir, "one log per site"),
    NUMBER("timeout", timeout, "seconds per site (default: none)"),
    /* upgrade --to: a site moved to another platform. */
    TEXT("to", "to", "PLATFORM", to, "move each site to this platform"),
    TEXT("settle", "settle", "S", settle_text,
         "seconds for web servers to see the move (default 15)"),
    /* The site lifecycle (backup, restore, rename, move, deploy CSV). */
    { .key = "backups-dir",
      .name = "dir",
      .arg = "DIR",
      .help = "where the backups are (the backup-dir setting)",
      .apply = apply_text,
      .at = AT(backup_dir) },
    NUMBER("keep", keep, "keep the newest N backups of each site"),
    FLAG("maintenance", maintenance, "in maintenance while it is taken"),
    FLAG("backup", backup,
         "each site backed up before its upgrade (--to: restored if it "
         "fails)"),
    TEXT("as", "as", "URL", as_url, "a new site of the backup at URL"),
    FLAG("keep-alias", keep_alias, "the old URL answers 301 to the new"),
    FLAG("cleanup", cleanup, "remove the copies an earlier move kept"),
    TEXT("from-csv", "from-csv", "FILE", from_csv,
         "one site a line: host,fullname,shortname,template[,dbname"
         "[,dataroot]]"),
    /* config: Moodle's cfg.php. */
    TEXT("setting-name", "name", "N", cfg_name, "the setting"),
    { .key = "value",
      .name = "value",
      .arg = "V",
      .old = "set",
      .help = "its new value (--set V too)",
      .apply = apply_text,
      .at = AT(cfg_value) },
    FLAG("unset", unset, "remove the setting"),
    TEXT("plugin", "plugin", "P", plugin, "the plugin's setting"),
    /* The instance's columns. */
    COLUMN("fullname", "TEXT", VM_F_NAME, "site name"),
    COLUMN("shortname", "TEXT", VM_F_SHORTNAME, "short name"),
    COLUMN("host", "URL", VM_F_VHOSTNAME, "wwwroot"),
    COLUMN("dbtype", "TYPE", VM_F_VDBTYPE, "pgsql | mariadb | mysqli"),
    COLUMN("dbhost", "HOST[:PORT]", VM_F_VDBHOST, "database server"),
    COLUMN("dbuser", "USER", VM_F_VDBLOGIN, "database login"),
    COLUMN("dbpass", "PASS", VM_F_VDBPASS,
           "its password (seen in ps: prefer --dbpass-file)"),
    { .key = "dbpass-file",
      .name = "dbpass-file",
      .arg = "FILE",
      .help = "the password: the file's first line",
      .apply = apply_password_file },
    COLUMN("dbname", "NAME", VM_F_VDBNAME, "database"),
    COLUMN("prefix", "PREFIX", VM_F_VDBPREFIX, "table prefix"),
    COLUMN("dataroot", "DIR", VM_F_VDATAPATH, "dataroot"),
    COLUMN("mnet", "N", VM_F_MNET, "mnet host id"),
    COLUMN("persist", "0|1", VM_F_VDBPERSIST, "persistent connection"),
    COLUMN("enabled", "0|1", VM_F_ENABLED, "served or not"),
    { .key = "column",
      .name = "column",
      .arg = "COLUMN=VALUE",
      .old = "set",
      .help = "any column by its table name (--set too)",
      .apply = apply_any_column },
};

#define NOPTIONS (sizeof options / sizeof *options)

const vmc_option *vmc_option_by_key(const char *key)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcmp(options[i].key, key) == 0)
            return &options[i];
    return NULL;
}

const vmc_option *vmc_option_at(int i)
{
    return i >= 0 && (size_t)i < NOPTIONS ? &options[i] : NULL;
}

const vmc_option *vmc_option_setting(int i)
{
    for (size_t k = 0; k < NOPTIONS; k++)
        if (options[k].setting && i-- == 0)
            return &options[k];
    return NULL;
}

static void print_one(FILE *out, const vmc_option *opt)
{
    const char *arg = opt->arg ? opt->arg : "";
    int width = (int)(strlen(opt->name) + strlen(arg) + (*arg ? 1 : 0));

    fprintf(out, "  --%s%s%s%*s %s\n", opt->name, *arg ? " " : "", arg,
            width < 20 ? 20 - width : 0, "", opt->help);
}

void vmc_options_print(FILE *out, const char *const *keys)
{
    for (; keys && *keys; keys++)
        print_one(out, vmc_option_by_key(*keys));
}

void vmc_options_print_settings(FILE *out)
{
    const vmc_option *opt;

    print_one(out, vmc_option_by_key("config"));
    for (int i = 0; (opt = vmc_option_setting(i)) != NULL; i++)
        print_one(out, opt);
}

int vmc_option_apply_setting(vmc_opts *o, const char *name, const char *value)
{
    const vmc_option *opt;

    for (int i = 0; (opt = vmc_option_setting(i)) != NULL; i++) {
        const char **field = (const char **)((char *)o + opt->at);
        if (strcmp(opt->setting, name) != 0)
            continue;
        if (!*field)
            *field = apr_pstrdup(o->pool, value);
        return 1;
    }
    return 0;
}
