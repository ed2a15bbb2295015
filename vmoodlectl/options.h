/* vmoodlectl's options: each defined once in options.c (its spelling, its
 * argument, its help, where its value goes, its name in the configuration
 * file), and the command line read against the command it is for: an
 * option the command does not take is refused, exit 2. */
#ifndef VMOODLECTL_OPTIONS_H
#define VMOODLECTL_OPTIONS_H

#include <stddef.h>
#include <stdio.h>
#include "ctl.h"

typedef struct vmc_option vmc_option;

struct vmc_option {
    const char *key;  /* unique; what a command's list names */
    const char *name; /* the spelling: --name (several keys may share
                             one, never within one command) */
    const char *arg;  /* "FILE": takes a value; NULL: a flag */
    const char *help;
    const char *setting; /* its name in the configuration file (every
                             command takes a setting), or NULL */
    const char *old;     /* an older spelling still accepted, or NULL */
    /* Store the value: 0, or -1 after printing why (exit 2). */
    int (*apply)(vmc_opts *o, const vmc_option *opt, const char *arg);
    size_t at;  /* offsetof(vmc_opts, ...) of its value */
    int column; /* a vm_field, for the column options */
};

/* The option of that key, or NULL. */
const vmc_option *vmc_option_by_key(const char *key);

/* The i-th option, NULL after the last. */
const vmc_option *vmc_option_at(int i);

/* Settings: every option with a configuration-file name, in order; NULL
 * after the last. */
const vmc_option *vmc_option_setting(int i);

/* Lines "  --name ARG   help" for the keys (NULL-terminated). */
void vmc_options_print(FILE *out, const char *const *keys);

/* The settings' help lines (the options every command takes). */
void vmc_options_print_settings(FILE *out);

/* Apply a configuration-file setting: flags win, so a field already set
 * is kept.  1 when name is one of ours, 0 when not. */
int vmc_option_apply_setting(vmc_opts *o, const char *name, const char *value);

#endif
