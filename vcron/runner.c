/* Starting one cron, see runner.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "vm_cli.h"
#include "vm_file.h"
#include "vm_opcache.h"
#include "vm_platforms.h"
#include "vm_text.h"
#include "runner.h"

const char *const *vc_cron_argv(const vc_config *cfg, const vm_instance *in,
                                const vm_identity *who, apr_pool_t *p,
                                const char **err, const char **nocache)
{
    const char *tree = vm_platform_path(cfg->platforms, in->platform,
                                        cfg->moodle_dir);
    const char *const *argv;

    *nocache = NULL;
    if (cfg->command)
        return cfg->command;
    if (!tree) {
        *err = apr_psprintf(p, "platform '%s' is not in %s",
                            vm_text_visible(in->platform, p),
                            cfg->platforms_file ? cfg->platforms_file
                                                : "any platforms file");
        return NULL;
    }
    argv = vm_cli_argv(cfg->php, tree, VM_CLI_CRON_SCRIPT, vm_cli_cron_args,
                       VM_CLI_CRON_NARGS, p);
    if (!cfg->opcache)
        return argv;
    return vm_opcache_argv(argv, cfg->opcache_dir, tree, who, p, nocache);
}

int vc_cron_log_open(const char *log_dir, const vm_instance *in, long max,
                     apr_pool_t *p, const char **err)
{
    const char *name = vm_cli_log_name(in, p);
    const char *path = apr_pstrcat(p, log_dir, "/", name, NULL);
    struct stat st;
    int dir = vm_file_dir_open(log_dir, 0755, p, err), fd = -1;
    if (dir < 0)
        return -1;
    /* On the directory's descriptor: nothing on the way is followed. */
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_size >= max
        && renameat(dir, name, dir, apr_pstrcat(p, name, ".1", NULL)) != 0)
        *err = apr_psprintf(p, "%s: rotate: %s", path, strerror(errno));
    else if ((fd = openat(dir, name,
                          O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC
                              | O_NOFOLLOW,
                          0640))
             < 0)
        *err = apr_psprintf(p, "%s: %s", path, strerror(errno));
    close(dir);
    return fd;
}
