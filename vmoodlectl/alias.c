/* alias add|remove HOST ALIAS, alias list [HOST]: the other hosts (and
 * paths) of a site, which answer 301 to it.  A change is validated against
 * the whole table as the module validates it: an alias that is another
 * site's host or alias is refused before anything is written. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "alias.h"
#include "ctl.h"
#include "vm_text.h"

static int print_one(const char *key, size_t len, void *ctx)
{
    const vm_instance *in = ctx;

    printf("%s %.*s\n", in->key, (int)len, key);
    return 0;
}

static int list(vmc_opts *o, vmc_table *t)
{
    const char *why;
    const vm_instance *in;

    if (o->nargs > 2)
        return vmc_fail(593, VMC_EXIT_USAGE,
                        "alias list takes one HOST "
                        "at most");
    if (o->nargs == 2) {
        if (!(in = vmc_find(t, o->args[1], &why)))
            return vmc_fail(594, VMC_EXIT_FAIL, why);
        vm_aliases_each(in->aliases, print_one, (void *)in);
        return VMC_EXIT_OK;
    }
    for (int i = 0; i < t->table->instances->nelts; i++) {
        in = &APR_ARRAY_IDX(t->table->instances, i, vm_instance);
        vm_aliases_each(in->aliases, print_one, (void *)in);
    }
    return VMC_EXIT_OK;
}

typedef struct {
    const char *drop; /* the key to leave out */
    const char *kept; /* the others, each followed by a space */
    int found;
    apr_pool_t *p;
} filter;

static int keep_others(const char *key, size_t len, void *ctx)
{
    filter *f = ctx;

    if (strlen(f->drop) == len && memcmp(f->drop, key, len) == 0)
        f->found = 1;
    else
        f->kept = apr_pstrcat(f->p, f->kept, apr_pstrndup(f->p, key, len), " ",
                              NULL);
    return 0;
}

const char *vmc_aliases_changed(const vm_instance *in, const char *verb,
                                const char *alias, apr_pool_t *p,
                                const char **why)
{
    const char *key;
    filter f = { NULL, "", 0, p };

    if ((*why = vm_aliases_parse(alias, p, &key)) != NULL)
        return NULL;
    if (!*key || strchr(key, ' ') != key + strlen(key) - 1) {
        *why = "give one alias";
        return NULL;
    }
    f.drop = apr_pstrndup(p, key, strlen(key) - 1);
    vm_aliases_each(in->aliases, keep_others, &f);
    if (strcmp(verb, "add") == 0) {
        if (f.found) {
            *why = apr_psprintf(p, "%s is already an alias of %s", f.drop,
                                in->key);
            return NULL;
        }
        return vm_aliases_text(apr_pstrcat(p, in->aliases, key, NULL), p);
    }
    if (!f.found) {
        *why = apr_psprintf(p, "%s is no alias of %s", f.drop, in->key);
        return NULL;
    }
    return vm_aliases_text(f.kept, p);
}

static int change(vmc_opts *o, vmc_table *t, const char *verb)
{
    const vm_instance *in;
    const vm_row *old;
    const char *why, *text;
    long long id;
    vm_row row;

    if (o->nargs != 3)
        return vmc_fail(614, VMC_EXIT_USAGE,
                        apr_psprintf(o->pool,
                                     "usage: vmoodlectl alias %s HOST ALIAS",
                                     verb));
    if (!(in = vmc_find(t, o->args[1], &why)))
        return vmc_fail(613, VMC_EXIT_FAIL, why);
    if (!(text = vmc_aliases_changed(in, verb, o->args[2], o->pool, &why)))
        return vmc_fail(596, VMC_EXIT_USAGE, vm_text_visible(why, o->pool));
    if (!(old = vmc_raw_row(t, in->id)))
        return vmc_fail(597, VMC_EXIT_FAIL, "the instance's row is gone");
    row = *old;
    vm_row_set(&row, VM_F_ALIASES, text);
    if ((why = vmc_table_validate(t, &row, o->pool)) != NULL)
        return vmc_fail(598, VMC_EXIT_FAIL,
                        apr_psprintf(o->pool,
                                     "alias %s refused, nothing written: %s",
                                     verb, vm_text_visible(why, o->pool)));
    if (o->dry_run) {
        vmc_say("dry run: would set the aliases of %s to '%s'", in->key, text);
        return VMC_EXIT_OK;
    }
    if ((why = vmc_table_save(t, &row, &id, o->pool)) != NULL)
        return vmc_fail(599, VMC_EXIT_FAIL, why);
    vmc_say("%s: aliases now '%s'", in->key, text);
    return VMC_EXIT_OK;
}

int vmc_cmd_alias(vmc_opts *o)
{
    const char *why;
    vmc_table t;
    int rc;

    if (o->nargs < 1
        || (strcmp(o->args[0], "add") && strcmp(o->args[0], "remove")
            && strcmp(o->args[0], "list")))
        return vmc_fail(595, VMC_EXIT_USAGE,
                        "usage: vmoodlectl alias "
                        "add|remove HOST ALIAS, alias list [HOST]");
    if ((rc = vmc_table_load(o, &t, &why)) != VMC_EXIT_OK)
        return vmc_fail(612, rc, why);
    return strcmp(o->args[0], "list") == 0 ? list(o, &t)
                                           : change(o, &t, o->args[0]);
}
