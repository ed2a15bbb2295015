/* Site selection for every command that takes sites, see select.h. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "select.h"
#include "vm_cli.h"

static int by_id(const void *a, const void *b)
{
    const vm_instance *x = *(const vm_instance *const *)a;
    const vm_instance *y = *(const vm_instance *const *)b;
    return (x->id > y->id) - (x->id < y->id);
}

static int listed(const apr_array_header_t *out, const vm_instance *in)
{
    for (int i = 0; i < out->nelts; i++)
        if (APR_ARRAY_IDX(out, i, const vm_instance *) == in)
            return 1;
    return 0;
}

/* Named hosts: each must be in the table. */
static const char *add_named(const vmc_table *t, const vmc_selection *sel,
                             apr_array_header_t *out)
{
    const char *why;
    for (int i = 0; i < sel->nhosts; i++) {
        const vm_instance *in = vmc_find(t, sel->hosts[i], &why);
        if (!in)
            return why;
        if (!listed(out, in))
            APR_ARRAY_PUSH(out, const vm_instance *) = in;
    }
    return NULL;
}

/* --all or --match: the table's instances, enabled ones unless told. */
static const char *add_matching(const vmc_table *t, const vmc_selection *sel,
                                apr_array_header_t *out, apr_pool_t *p)
{
    regex_t re;
    int rc;
    if (sel->match
        && (rc = regcomp(&re, sel->match, REG_EXTENDED | REG_NOSUB)) != 0) {
        char msg[128];
        regerror(rc, &re, msg, sizeof msg);
        return apr_psprintf(p, "--match '%s': %s", sel->match, msg);
    }
    for (int i = 0; i < t->table->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->table->instances, i,
                                               vm_instance);
        if ((in->enabled || sel->include_disabled)
            && (!sel->match || regexec(&re, in->key, 0, NULL, 0) == 0))
            APR_ARRAY_PUSH(out, const vm_instance *) = in;
    }
    if (sel->match)
        regfree(&re);
    return NULL;
}

apr_array_header_t *vmc_select(const vmc_table *t, const vmc_selection *sel,
                               apr_pool_t *p, const char **why)
{
    apr_array_header_t *out = apr_array_make(p, 16, sizeof(vm_instance *));
    int ways = (sel->all != 0) + (sel->match != NULL) + (sel->nhosts > 0);

    if (ways > 1) {
        *why = "--all, --match and HOST... exclude each other";
        return NULL;
    }
    if (ways == 0 && !sel->master) {
        *why = "no sites: give --all, --match REGEX, HOST... or --master";
        return NULL;
    }
    if ((*why = sel->nhosts ? add_named(t, sel, out)
             : ways         ? add_matching(t, sel, out, p)
                            : NULL)
        != NULL)
        return NULL;
    if (ways && out->nelts == 0) {
        *why = sel->match
            ? apr_psprintf(p, "no instance matches '%s'%s", sel->match,
                           sel->include_disabled ? "" : " (enabled ones)")
            : "the table has no enabled instance";
        return NULL;
    }
    qsort(out->elts, (size_t)out->nelts, sizeof(vm_instance *), by_id);
    if (sel->master) {
        APR_ARRAY_PUSH(out, const vm_instance *) = NULL;
        memmove(out->elts + sizeof(vm_instance *), out->elts,
                sizeof(vm_instance *) * (size_t)(out->nelts - 1));
        APR_ARRAY_IDX(out, 0, const vm_instance *) = &vm_master;
    }
    return out;
}

vmc_selection vmc_selection_of(const vmc_opts *o, int first)
{
    vmc_selection sel = { o->all,          o->match,
                          o->master,       o->include_disabled,
                          o->args + first, o->nargs - first };
    return sel;
}

int vmc_table_load_one(vmc_opts *o, const char *verb, vmc_table *t,
                       const vm_instance **in, const char **why)
{
    if (o->nargs != 1) {
        *why = apr_psprintf(o->pool, "%s takes one HOST or ID", verb);
        return VMC_EXIT_USAGE;
    }
    return vmc_table_load_site(o, o->args[0], t, in, why);
}

int vmc_table_load_site(const vmc_opts *o, const char *host, vmc_table *t,
                        const vm_instance **in, const char **why)
{
    int rc;

    if ((rc = vmc_table_load(o, t, why)) != VMC_EXIT_OK)
        return rc;
    return (*in = vmc_find(t, host, why)) ? VMC_EXIT_OK : VMC_EXIT_FAIL;
}
