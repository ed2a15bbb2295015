/* vmoodlectl: command line, configuration file and dispatch. */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "ctl.h"
#include "lifecycle.h"
#include "vm_conf.h"
#include "vm_file.h"
#include "../vcron/config.h"

static const char usage_text[] =
"usage: vmoodlectl [options] COMMAND [ARGS]\n"
"commands:\n"
"  list [--json]                    the instance table\n"
"  show HOST|ID                     one instance\n"
"  add --host URL --dbname N --dataroot DIR [fields]\n"
"  edit HOST|ID [fields]            change columns\n"
"  enable HOST|ID, disable HOST|ID, remove HOST|ID\n"
"  check [HOST...] [--no-dns]       database, dataroot (and DNS: a warning)\n"
"  snapshot --from HOST|master --name NAME\n"
"  deploy --template NAME --host URL [fields]\n"
"  destroy HOST|ID --yes            drop the database, remove the dataroot\n"
"  templates [--json]               the templates: name, source, date, size\n"
"  template-remove NAME             a template and its template database\n"
"Moodle's CLI on sites (SITES: --all | --match REGEX | HOST...; --master,\n"
"  --include-disabled; many at once: --jobs N --fail-fast --log-dir DIR\n"
"  --timeout S; one HOST or --master alone runs in the foreground):\n"
"  run SITES -- SCRIPT [ARGS...]   php MOODLE_DIR/SCRIPT as each site\n"
"  upgrade SITES [--no-master] [--backup [--dir DIR] [--keep N]]\n"
"                                   the sites whose database is behind the\n"
"                                   code, each in maintenance (--dry-run)\n"
"  purge-caches SITES, maintenance on|off SITES, cron SITES\n"
"  config SITES --name N [--set V | --unset] [--plugin P]\n"
"options:\n"
"  --source SPEC --table NAME --config FILE\n"
"  --templates DIR (" VMC_DEFAULT_TEMPLATES ")  --data-parent DIR ("
VMC_DEFAULT_DATA ")\n"
"  --user USER (" VMC_DEFAULT_USER ")  --dry-run  --yes  --show-secrets\n"
"  --template-db (snapshot, PostgreSQL: keep a template database)\n"
"  --php PATH --moodle-dir DIR --lock-dir DIR (vcron's settings)\n"
"  --no-dns (check: no DNS look-up)\n"
"fields: --fullname --shortname --host URL --dbtype --dbhost --dbuser\n"
"  --dbpass --dbpass-file FILE --dbname --prefix --dataroot --mnet N\n"
"  --persist 0|1 --enabled 0|1 --set COLUMN=VALUE\n"
"  (--dbpass shows in the process list: prefer --dbpass-file)\n"
"configuration: " VMC_DEFAULT_CONFIG ", else " VMC_FALLBACK_CONFIG ":\n"
"  source, table, templates, data-parent, user, master-dataroot, php,\n"
"  moodle-dir, lock-dir\n"
"  (name = value)\n";

#define PASSWORD_FILE_MAX 65536

void vmc_error(int tag, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vmoodlectl: VM%05d: ", tag);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int vmc_fail(int tag, int rc, const char *why)
{
    vmc_error(tag, "%s", why);
    return rc;
}

void vmc_say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

enum {
    OPT_SOURCE = 256, OPT_TABLE, OPT_CONFIG, OPT_TEMPLATES, OPT_DATA_PARENT,
    OPT_USER, OPT_JSON, OPT_SECRETS, OPT_DRY, OPT_YES, OPT_FROM, OPT_NAME,
    OPT_TEMPLATE, OPT_TEMPLATE_DB, OPT_SET, OPT_PASSFILE, OPT_HELP,
    OPT_ALL, OPT_MATCH, OPT_MASTER, OPT_DISABLED, OPT_JOBS, OPT_FAIL_FAST,
    OPT_LOG_DIR, OPT_TIMEOUT, OPT_PHP, OPT_MOODLE_DIR, OPT_LOCK_DIR,
    OPT_NO_MASTER, OPT_UNSET, OPT_PLUGIN, OPT_NO_DNS,
    OPT_DIR, OPT_KEEP, OPT_MAINTENANCE, OPT_AS, OPT_QUOTA_FILE,
    OPT_KEEP_ALIAS, OPT_CLEANUP, OPT_FROM_CSV, OPT_BACKUP,
    OPT_FIELD /* + vm_field */
};

static const struct option long_opts[] = {
    {"source", 1, 0, OPT_SOURCE},       {"table", 1, 0, OPT_TABLE},
    {"config", 1, 0, OPT_CONFIG},       {"templates", 1, 0, OPT_TEMPLATES},
    {"data-parent", 1, 0, OPT_DATA_PARENT}, {"user", 1, 0, OPT_USER},
    {"json", 0, 0, OPT_JSON},           {"show-secrets", 0, 0, OPT_SECRETS},
    {"dry-run", 0, 0, OPT_DRY},         {"yes", 0, 0, OPT_YES},
    {"from", 1, 0, OPT_FROM},           {"name", 1, 0, OPT_NAME},
    {"template", 1, 0, OPT_TEMPLATE},   {"template-db", 0, 0, OPT_TEMPLATE_DB},
    {"set", 1, 0, OPT_SET},             {"dbpass-file", 1, 0, OPT_PASSFILE},
    {"help", 0, 0, OPT_HELP},
    {"all", 0, 0, OPT_ALL},             {"match", 1, 0, OPT_MATCH},
    {"master", 0, 0, OPT_MASTER},       {"include-disabled", 0, 0, OPT_DISABLED},
    {"jobs", 1, 0, OPT_JOBS},           {"fail-fast", 0, 0, OPT_FAIL_FAST},
    {"log-dir", 1, 0, OPT_LOG_DIR},     {"timeout", 1, 0, OPT_TIMEOUT},
    {"php", 1, 0, OPT_PHP},             {"moodle-dir", 1, 0, OPT_MOODLE_DIR},
    {"lock-dir", 1, 0, OPT_LOCK_DIR},   {"no-master", 0, 0, OPT_NO_MASTER},
    {"unset", 0, 0, OPT_UNSET},         {"plugin", 1, 0, OPT_PLUGIN},
    {"no-dns", 0, 0, OPT_NO_DNS},
    {"dir", 1, 0, OPT_DIR},             {"keep", 1, 0, OPT_KEEP},
    {"maintenance", 0, 0, OPT_MAINTENANCE}, {"as", 1, 0, OPT_AS},
    {"quota-file", 1, 0, OPT_QUOTA_FILE}, {"keep-alias", 0, 0, OPT_KEEP_ALIAS},
    {"cleanup", 0, 0, OPT_CLEANUP},     {"from-csv", 1, 0, OPT_FROM_CSV},
    {"backup", 0, 0, OPT_BACKUP},
    {"fullname", 1, 0, OPT_FIELD + VM_F_NAME},
    {"shortname", 1, 0, OPT_FIELD + VM_F_SHORTNAME},
    {"host", 1, 0, OPT_FIELD + VM_F_VHOSTNAME},
    {"dbtype", 1, 0, OPT_FIELD + VM_F_VDBTYPE},
    {"dbhost", 1, 0, OPT_FIELD + VM_F_VDBHOST},
    {"dbuser", 1, 0, OPT_FIELD + VM_F_VDBLOGIN},
    {"dbpass", 1, 0, OPT_FIELD + VM_F_VDBPASS},
    {"dbname", 1, 0, OPT_FIELD + VM_F_VDBNAME},
    {"prefix", 1, 0, OPT_FIELD + VM_F_VDBPREFIX},
    {"persist", 1, 0, OPT_FIELD + VM_F_VDBPERSIST},
    {"dataroot", 1, 0, OPT_FIELD + VM_F_VDATAPATH},
    {"mnet", 1, 0, OPT_FIELD + VM_F_MNET},
    {"enabled", 1, 0, OPT_FIELD + VM_F_ENABLED},
    {0, 0, 0, 0}
};

/* --set COLUMN=VALUE: any column by its table name. */
static int set_column(vmc_opts *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    int f = eq ? vm_field_by_name(apr_pstrndup(o->pool, arg,
                                               (apr_size_t)(eq - arg))) : -1;

    if (f < 0 || f == VM_F_ID) {
        vmc_error(300, "--set wants COLUMN=VALUE with a column other than "
                  "id: '%s'", arg);
        return -1;
    }
    vm_row_set(&o->fields, (vm_field)f, eq + 1);
    return 0;
}

/* The first line of the file: <(pass show x) works too. */
static int read_password_file(vmc_opts *o, const char *path)
{
    const char *err;
    char *pass;
    size_t len;

    if (vm_file_read(path, PASSWORD_FILE_MAX, o->pool, &pass, &len, &err)
        != VM_OK) {
        vmc_error(301, "--dbpass-file: %s", err);
        return -1;
    }
    vm_row_set(&o->fields, VM_F_VDBPASS,
               apr_pstrndup(o->pool, pass, strcspn(pass, "\r\n")));
    return 0;
}

/* --jobs and --timeout: a whole number from min. */
static int number(long *out, const char *flag, const char *arg, long min)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < min) {
        vmc_error(383, "--%s wants a whole number >= %ld, not '%s'", flag,
                  min, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int apply_fleet_option(vmc_opts *o, int c, const char *arg)
{
    switch (c) {
    case OPT_ALL: o->all = 1; return 0;
    case OPT_MATCH: o->match = arg; return 0;
    case OPT_MASTER: o->master = 1; return 0;
    case OPT_DISABLED: o->include_disabled = 1; return 0;
    case OPT_JOBS: return number(&o->jobs, "jobs", arg, 1);
    case OPT_FAIL_FAST: o->fail_fast = 1; return 0;
    case OPT_LOG_DIR: o->log_dir = arg; return 0;
    case OPT_TIMEOUT: return number(&o->timeout, "timeout", arg, 1);
    case OPT_PHP: o->php = arg; return 0;
    case OPT_MOODLE_DIR: o->moodle_dir = arg; return 0;
    case OPT_LOCK_DIR: o->lock_dir = arg; return 0;
    case OPT_NO_MASTER: o->no_master = 1; return 0;
    case OPT_UNSET: o->unset = 1; return 0;
    case OPT_PLUGIN: o->plugin = arg; return 0;
    case OPT_NO_DNS: o->no_dns = 1; return 0;
    case OPT_DIR: o->backup_dir = arg; return 0;
    case OPT_KEEP: return number(&o->keep, "keep", arg, 1);
    case OPT_MAINTENANCE: o->maintenance = 1; return 0;
    case OPT_AS: o->as_url = arg; return 0;
    case OPT_QUOTA_FILE: o->quota_file = arg; return 0;
    case OPT_KEEP_ALIAS: o->keep_alias = 1; return 0;
    case OPT_CLEANUP: o->cleanup = 1; return 0;
    case OPT_FROM_CSV: o->from_csv = arg; return 0;
    case OPT_BACKUP: o->backup = 1; return 0;
    }
    return -1;
}

static int apply_option(vmc_opts *o, int c, const char *arg)
{
    if (c >= OPT_ALL && c <= OPT_BACKUP)
        return apply_fleet_option(o, c, arg);
    switch (c) {
    case OPT_SOURCE: o->source_spec = arg; return 0;
    case OPT_TABLE: o->table_name = arg; return 0;
    case OPT_CONFIG: o->config_path = arg; return 0;
    case OPT_TEMPLATES: o->templates_dir = arg; return 0;
    case OPT_DATA_PARENT: o->data_parent = arg; return 0;
    case OPT_USER: o->web_user = arg; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case OPT_SECRETS: o->show_secrets = 1; return 0;
    case OPT_DRY: o->dry_run = 1; return 0;
    case OPT_YES: o->yes = 1; return 0;
    case OPT_FROM: o->from = arg; return 0;
    case OPT_NAME: o->snapshot_name = arg; return 0;
    case OPT_TEMPLATE: o->template_name = arg; return 0;
    case OPT_TEMPLATE_DB: o->template_db = 1; return 0;
    case OPT_SET: APR_ARRAY_PUSH(o->sets, const char *) = arg; return 0;
    case OPT_PASSFILE: return read_password_file(o, arg);
    }
    if (c >= OPT_FIELD && c < OPT_FIELD + VM_F_COUNT) {
        vm_row_set(&o->fields, (vm_field)(c - OPT_FIELD), arg);
        return 0;
    }
    return -1;
}

/* A setting of the configuration file; names are the flags'.  Flags win.
 * vcron's settings are ignored: vmoodlectl falls back to vcron.conf, and
 * one file may serve both. */
static const char *config_setting(void *ctx, const char *name,
                                  const char *value, apr_pool_t *p)
{
    static const struct {
        const char *name;
        size_t offset;
    } names[] = {
        {"source", offsetof(vmc_opts, source_spec)},
        {"table", offsetof(vmc_opts, table_name)},
        {"templates", offsetof(vmc_opts, templates_dir)},
        {"data-parent", offsetof(vmc_opts, data_parent)},
        {"user", offsetof(vmc_opts, web_user)},
        {"master-dataroot", offsetof(vmc_opts, master_dataroot)},
        {"php", offsetof(vmc_opts, php)},
        {"moodle-dir", offsetof(vmc_opts, moodle_dir)},
        {"lock-dir", offsetof(vmc_opts, lock_dir)},
        {"backup-dir", offsetof(vmc_opts, backup_dir)},
        {"quota-file", offsetof(vmc_opts, quota_file)},
    };
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char **field = (const char **)((char *)ctx + names[i].offset);
        if (strcmp(name, names[i].name) != 0)
            continue;
        if (!*field)
            *field = apr_pstrdup(p, value);
        return NULL;
    }
    return vc_config_known(name) ? NULL
         : apr_psprintf(p, "unknown setting '%s'", name);
}

/* Flags win; then the named file, else ours, else vcron's. */
static int read_config(vmc_opts *o)
{
    const char *path = o->config_path, *err;

    if (!path)
        path = access(VMC_DEFAULT_CONFIG, F_OK) == 0 ? VMC_DEFAULT_CONFIG
             : access(VMC_FALLBACK_CONFIG, F_OK) == 0 ? VMC_FALLBACK_CONFIG
             : NULL;
    if (!path)
        return 0;
    if ((err = vm_conf_read(path, 1, config_setting, o, o->pool)) != NULL) {
        vmc_error(302, "configuration %s", err);
        return -1;
    }
    return 0;
}

static void apply_defaults(vmc_opts *o)
{
    vc_config vcron;

    vc_config_defaults(&vcron);     /* vcron's defaults: one home */
    if (!o->php)
        o->php = vcron.php;
    if (!o->moodle_dir)
        o->moodle_dir = vcron.moodle_dir;
    if (!o->lock_dir)
        o->lock_dir = vcron.lock_dir;
    o->grace = vcron.grace;
    if (!o->jobs)
        o->jobs = vcron.jobs;
    if (!o->templates_dir)
        o->templates_dir = VMC_DEFAULT_TEMPLATES;
    if (!o->data_parent)
        o->data_parent = VMC_DEFAULT_DATA;
    if (!o->web_user)
        o->web_user = VMC_DEFAULT_USER;
    if (!o->backup_dir)
        o->backup_dir = VMC_DEFAULT_BACKUP_DIR;
}

static int parse_args(vmc_opts *o, int argc, char **argv)
{
    int c;

    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h' || c == OPT_HELP || c == '?'
            || apply_option(o, c, optarg) != 0) {
            fputs(usage_text, c == 'h' || c == OPT_HELP ? stdout : stderr);
            return c == 'h' || c == OPT_HELP ? 1 : -1;
        }
    }
    if (optind >= argc) {
        fputs(usage_text, stderr);
        return -1;
    }
    o->nargs = argc - optind - 1;
    o->args = argv + optind + 1;
    return 0;
}

static const struct {
    const char *name;
    int (*run)(vmc_opts *o);
} commands[] = {
    {"list", vmc_cmd_list},       {"show", vmc_cmd_show},
    {"add", vmc_cmd_add},         {"edit", vmc_cmd_edit},
    {"enable", vmc_cmd_enable},   {"disable", vmc_cmd_disable},
    {"remove", vmc_cmd_remove},   {"check", vmc_cmd_check},
    {"snapshot", vmc_cmd_snapshot}, {"deploy", vmc_cmd_deploy},
    {"destroy", vmc_cmd_destroy},
    {"templates", vmc_cmd_templates},
    {"template-remove", vmc_cmd_template_remove},
    {"destroy", vmc_cmd_destroy}, {"run", vmc_cmd_run},
    {"purge-caches", vmc_cmd_purge_caches},
    {"maintenance", vmc_cmd_maintenance}, {"config", vmc_cmd_config},
    {"cron", vmc_cmd_cron},       {"upgrade", vmc_cmd_upgrade},
    {"backup", vmc_cmd_backup},   {"backups", vmc_cmd_backups},
    {"restore", vmc_cmd_restore}, {"usage", vmc_cmd_usage},
    {"rename", vmc_cmd_rename},   {"move", vmc_cmd_move},
};

/* --set is config's value there, a COLUMN=VALUE everywhere else. */
static int apply_sets(vmc_opts *o, const char *command)
{
    if (strcmp(command, "config") == 0)
        return 0;
    for (int i = 0; i < o->sets->nelts; i++)
        if (set_column(o, APR_ARRAY_IDX(o->sets, i, const char *)) != 0)
            return -1;
    return 0;
}

/* "--" ends vmoodlectl's own arguments: the rest is the script's. */
static int split_script(vmc_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            o->script = argv + i + 1;
            o->nscript = argc - i - 1;
            return i;
        }
    return argc;
}

static int dispatch(vmc_opts *o, const char *name)
{
    size_t i;

    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run(o);
    vmc_error(303, "unknown command '%s'", name);
    fputs(usage_text, stderr);
    return VMC_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    vmc_opts o;
    int rc;

    memset(&o, 0, sizeof o);
    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&o.pool, NULL);
    o.sets = apr_array_make(o.pool, 2, sizeof(char *));
    rc = parse_args(&o, split_script(&o, argc, argv), argv);
    if (rc != 0)
        rc = rc > 0 ? VMC_EXIT_OK : VMC_EXIT_USAGE;
    else if (apply_sets(&o, argv[optind]) != 0)
        rc = VMC_EXIT_USAGE;
    else if (read_config(&o) != 0)
        rc = VMC_EXIT_FAIL;
    else {
        apply_defaults(&o);
        rc = dispatch(&o, argv[optind]);
    }
    apr_pool_destroy(o.pool);
    apr_terminate();
    return rc;
}
