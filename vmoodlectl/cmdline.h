/* Reading vmoodlectl's command line against the command table: options go
 * anywhere (before or after the command, "--name value" or
 * "--name=value"); "--" ends them, the rest is run's script. */
#ifndef VMOODLECTL_CMDLINE_H
#define VMOODLECTL_CMDLINE_H

#include "commands.h"

typedef enum {
    VMC_CMDLINE_RUN,  /* run *cmd */
    VMC_CMDLINE_DONE, /* help or the version printed: exit 0 */
    VMC_CMDLINE_BAD,  /* why printed: exit 2 */
} vmc_cmdline;

/* Fill o (o->pool set) from argv; *cmd is the command to run. */
vmc_cmdline vmc_cmdline_read(vmc_opts *o, int argc, char **argv,
                             const vmc_command **cmd);

#endif
