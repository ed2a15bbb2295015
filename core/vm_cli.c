/* Running Moodle's CLI for one site, see vm_cli.h. */
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "vm_env.h"
#include "vm_cli.h"
#include "vm_master.h"

/* Moodle's installer refuses less, and other scripts post as many. */
#define PHP_MAX_INPUT_VARS "-dmax_input_vars=5000"

const char *const vm_cli_cron_args[VM_CLI_CRON_NARGS] = { "--keep-alive=0" };

const vm_instance vm_master = {
    .id = VM_MASTER_ID,
    .name = "master",
    .shortname = "master",
    .vhostname = "",
    .key = "master",
    .wwwroot = "",
    .dbtype = "",
    .dbhost = "",
    .dblogin = "",
    .dbpass = "",
    .dbname = "",
    .dbprefix = "",
    .datapath = "",
    .enabled = 1,
};

const char *const *vm_cli_argv(const char *php, const char *moodle_dir,
                               const char *script, const char *const *args,
                               int nargs, apr_pool_t *p)
{
    const char **argv = apr_pcalloc(p, sizeof(char *) * (size_t)(nargs + 4));
    while (*script == '/')
        script++;
    argv[0] = php;
    argv[1] = PHP_MAX_INPUT_VARS;
    argv[2] = apr_pstrcat(p, moodle_dir, "/", script, NULL);
    for (int i = 0; i < nargs; i++)
        argv[3 + i] = args[i];
    return argv;
}

/* The master's settings (vm_master.h), when the program read them. */
static void push_master_settings(apr_array_header_t *env, apr_pool_t *p)
{
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];
    int n;

    if (!vm_master_settings)
        return;
    n = vm_master_env(vm_master_settings, &nums, vars);
    for (int i = 0; i < n; i++)
        APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, vars[i].name, "=",
                                                        vars[i].value, NULL);
}

const char *const *vm_cli_env(const vm_instance *in, const vm_identity *who,
                              apr_pool_t *p)
{
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];
    apr_array_header_t *env = apr_array_make(p, VM_ENV_COUNT + 5,
                                             sizeof(char *));
    if (in->id == VM_MASTER_ID) {
        APR_ARRAY_PUSH(env, const char *) = VM_ENV_MASTER "=1";
        push_master_settings(env, p);
    } else {
        vm_env_build(in, &nums, vars);
        for (int i = 0; i < VM_ENV_COUNT; i++)
            APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, vars[i].name,
                                                            "=", vars[i].value,
                                                            NULL);
    }
    APR_ARRAY_PUSH(env, const char *) = "PATH=/usr/local/bin:/usr/bin:/bin";
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "HOME=", who->home,
                                                    NULL);
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "LOGNAME=", who->name,
                                                    NULL);
    APR_ARRAY_PUSH(env, const char *) = "LANG=C.UTF-8";
    APR_ARRAY_PUSH(env, const char *) = NULL;
    return (const char *const *)env->elts;
}

const char *vm_cli_log_name(const vm_instance *in, apr_pool_t *p)
{
    char *name = apr_pstrcat(p, in->key, ".log", NULL);
    size_t stem = strlen(in->key);
    for (size_t i = 0; i < stem; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
            || (c == '.' && i > 0);
        if (!ok)
            name[i] = '_';
    }
    return name;
}
