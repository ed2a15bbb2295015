/* vmoodlectl's commands, each declared once in commands.c: its name, its
 * handler, what it needs and the options it takes.  Its usage, its --help
 * and the refusal of any other option come from that declaration. */
#ifndef VMOODLECTL_COMMANDS_H
#define VMOODLECTL_COMMANDS_H

#include <stdio.h>
#include "ctl.h"
#include "options.h"

/* What a command needs; each also says which options come with it. */
enum {
    VMC_NEEDS_TABLE = 1u, /* reads the instance table */
    VMC_ONE_SITE = 2u,    /* exactly one HOST|ID */
    VMC_SITES = 4u,       /* a selection: --all, --match, --master,
                               --include-disabled, HOST... (select.h) */
    VMC_WRITES = 8u,      /* changes something: --dry-run */
    VMC_FOREGROUND = 16u, /* one site selected alone runs in the
                             foreground (fleet_cmds.h) */
};

typedef struct {
    const char *name;
    int (*run)(vmc_opts *o);
    const char *args;           /* what follows the name: "HOST|ID" */
    const char *summary;        /* one line */
    unsigned needs;             /* VMC_NEEDS_TABLE | ... */
    const char *const *options; /* its own options' keys, NULL-terminated */
} vmc_command;

/* The command of that name, or NULL. */
const vmc_command *vmc_command_find(const char *name);

/* The i-th command, NULL after the last. */
const vmc_command *vmc_command_at(int i);

/* Whether c takes opt: its own, those its needs bring, the settings. */
int vmc_command_takes(const vmc_command *c, const vmc_option *opt);

/* vmoodlectl --help: every command, then the settings. */
void vmc_usage(FILE *out);

/* vmoodlectl COMMAND --help. */
void vmc_command_usage(const vmc_command *c, FILE *out);

#endif
