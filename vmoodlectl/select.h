/* Which sites a command works on, for every command that takes sites:
 * --all, --match REGEX or HOST..., with --master and --include-disabled
 * (the fleet commands, check), or one HOST|ID (vmc_table_load_one, ctl.h:
 * show, edit, destroy...).  vmc_select is pure: the table in, the list
 * out, for the unit tests. */
#ifndef VMOODLECTL_SELECT_H
#define VMOODLECTL_SELECT_H

#include <apr_tables.h>
#include "ctl.h"

typedef struct {
    int all;              /* every instance */
    const char *match;    /* POSIX extended regex on the host, or NULL */
    int master;           /* the master too (VMOODLE_MASTER=1), first */
    int include_disabled; /* --all/--match also take disabled ones */
    char **hosts;         /* HOST|ID as given; always taken, even
                                disabled: the administrator named them */
    int nhosts;
} vmc_selection;

/* The sites, as const vm_instance * (the master is &vm_master): the
 * master first, then instances by ascending id, each once.  NULL with
 * *why (from p): nothing selected, --all with HOST..., a bad regex, an
 * unknown host, or nothing matching. */
apr_array_header_t *vmc_select(const vmc_table *t, const vmc_selection *sel,
                               apr_pool_t *p, const char **why);

/* The selection the command line gives: the flags, and the HOSTs from
 * o->args[first] on. */
vmc_selection vmc_selection_of(const vmc_opts *o, int first);

#endif
