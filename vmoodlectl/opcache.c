/* A site's PHP command line with the opcode file cache, see fleet.h. */
#include "ctl.h"
#include "fleet.h"
#include "vm_cli.h"
#include "vm_opcache.h"

const char *const *vmc_job_argv(const vmc_job *job, const vm_identity *who,
                                const char *tree, const char *script,
                                const char *const *args, int nargs,
                                apr_pool_t *p)
{
    static int said; /* one line, not one per site */
    const char *why = NULL;
    const char *const *argv = vm_cli_argv(job->php, tree, script, args, nargs,
                                          p);
    argv = vm_opcache_argv(argv, job->opcache_dir, tree, who, p, &why);
    if (why && !said++)
        vmc_error(650, "opcode cache not used: %s", why);
    return argv;
}
