/* vmoodlectl: read the command line against the command table
 * (commands.c), then the settings, then run the command. */
#include <string.h>
#include <apr_general.h>
#include "cmdline.h"
#include "settings.h"

int main(int argc, char **argv)
{
    const vmc_command *cmd = NULL;
    vmc_opts o;
    int rc;

    memset(&o, 0, sizeof o);
    o.isolate_wait = -1; /* isolate --wait not given */
    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&o.pool, NULL);
    switch (vmc_cmdline_read(&o, argc, argv, &cmd)) {
    case VMC_CMDLINE_DONE:
        rc = VMC_EXIT_OK;
        break;
    case VMC_CMDLINE_BAD:
        rc = VMC_EXIT_USAGE;
        break;
    default:
        if (vmc_settings_read(&o) != 0 || vmc_settings_tenant(&o) != 0) {
            rc = VMC_EXIT_FAIL;
            break;
        }
        vmc_settings_defaults(&o);
        rc = cmd->run(&o);
    }
    apr_pool_destroy(o.pool);
    apr_terminate();
    return rc;
}
