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
#include "vm_platforms.h"
#include "vm_text.h"
#include "runner.h"

const char *const *vc_cron_argv(const vc_config *cfg, const vm_instance *in,
                                apr_pool_t *p, const char **err)
{
    static const char *const args[] = { "--keep-alive=0" };
    const char *tree = vm_platform_path(cfg->platforms, in->platform,
                                        cfg->moodle_dir);
    if (cfg->command)
        return cfg->command;
    if (!tree) {
        *err = apr_psprintf(p, "platform '%s' is not in %s",
                            vm_text_visible(in->platform, p),
                            cfg->platforms_file ? cfg->platforms_file
                                                : "any platforms file");
        return NULL;
    }
    return vm_cli_argv(cfg->php, tree, "admin/cli/cron.php", args, 1, p);
}

int vc_cron_log_open(const char *log_dir, const vm_instance *in, long max,
                     apr_pool_t *p, const char **err)
{
    const char *path = apr_pstrcat(p, log_dir, "/",
                                   vm_cli_log_name(in, p), NULL);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size >= max
        && rename(path, apr_pstrcat(p, path, ".1", NULL)) != 0) {
        *err = apr_psprintf(p, "%s: rotate: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                  0640);
    if (fd < 0)
        *err = apr_psprintf(p, "%s: %s", path, strerror(errno));
    return fd;
}
