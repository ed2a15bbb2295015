/* vmoodlectl's command line, see cmdline.h.  Two passes: the first finds
 * the command (an option's value is never taken for it), the second
 * applies each option in order, refusing any the command does not take. */
#include <string.h>
#include <apr_strings.h>
#include "cmdline.h"
#include "vm_version.h"

/* The option spelled name (or an older spelling) that c takes; the first
 * of that spelling when c is NULL. */
static const vmc_option *spelled(const char *name, const vmc_command *c)
{
    const vmc_option *opt, *any = NULL;

    for (int i = 0; (opt = vmc_option_at(i)) != NULL; i++) {
        if (strcmp(opt->name, name) != 0
            && (!opt->old || strcmp(opt->old, name) != 0))
            continue;
        if (!c || vmc_command_takes(c, opt))
            return opt;
        any = opt;
    }
    return c ? NULL : any;
}

/* "--name=value" or "--name": the name alone, from p. */
static const char *option_name(const char *word, apr_pool_t *p)
{
    const char *eq = strchr(word, '=');

    return eq ? apr_pstrndup(p, word + 2, (apr_size_t)(eq - word - 2))
              : word + 2;
}

static int is_option(const char *word)
{
    return word[0] == '-' && word[1] != '\0';
}

/* Pass 1: the positional words (the command first) into o->args. */
static void find_words(vmc_opts *o, int end, char **argv, int *help,
                       int *version)
{
    o->args = apr_pcalloc(o->pool, sizeof(char *) * (size_t)(end + 1));
    o->nargs = 0;
    for (int i = 1; i < end; i++) {
        const vmc_option *opt;
        if (!is_option(argv[i])) {
            o->args[o->nargs++] = argv[i];
            continue;
        }
        *help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
        *version |= strcmp(argv[i], "--version") == 0;
        if (strncmp(argv[i], "--", 2) == 0 && !strchr(argv[i], '=')
            && (opt = spelled(argv[i] + 2, NULL)) != NULL && opt->arg)
            i++; /* its value */
    }
}

/* One option word (and its value): 0, or -1 after saying why. */
static int apply_word(vmc_opts *o, const vmc_command *c, int end, char **argv,
                      int *i)
{
    const char *word = argv[*i], *name, *eq, *value = NULL;
    const vmc_option *opt;

    if (strcmp(word, "-h") == 0)
        return 0;
    if (strncmp(word, "--", 2) != 0 || word[2] == '\0')
        return vmc_fail(431, -1,
                        apr_psprintf(o->pool,
                                     "unknown option '%s' "
                                     "(vmoodlectl %s --help)",
                                     word, c->name));
    name = option_name(word, o->pool);
    eq = strchr(word, '=');
    if (!spelled(name, NULL))
        return vmc_fail(431, -1,
                        apr_psprintf(o->pool,
                                     "unknown option --%s "
                                     "(vmoodlectl %s --help)",
                                     name, c->name));
    if (!(opt = spelled(name, c)))
        return vmc_fail(
            430, -1,
            apr_psprintf(o->pool,
                         "%s does not take "
                         "--%s (vmoodlectl %s --help lists its options)",
                         c->name, name, c->name));
    if (opt->arg)
        value = eq ? eq + 1 : *i + 1 < end ? argv[++*i] : NULL;
    if (opt->arg && !value)
        return vmc_fail(432, -1,
                        apr_psprintf(o->pool, "--%s needs %s", name, opt->arg));
    if (!opt->arg && eq)
        return vmc_fail(476, -1,
                        apr_psprintf(o->pool, "--%s takes no value", name));
    return opt->apply(o, opt, value);
}

/* The positional arguments the command's declaration allows. */
static int check_args(const vmc_opts *o, const vmc_command *c, int dashes)
{
    const char *why = NULL;

    if (!*c->args && o->nargs)
        why = apr_psprintf(o->pool, "%s takes no arguments ('%s')", c->name,
                           o->args[0]);
    else if ((c->needs & VMC_ONE_SITE) && o->nargs != 1)
        why = apr_psprintf(o->pool, "%s takes one HOST or ID", c->name);
    else if (dashes && !strstr(c->args, " -- "))
        why = apr_psprintf(o->pool, "%s takes nothing after '--'", c->name);
    return why ? vmc_fail(433, -1, why) : 0;
}

static vmc_cmdline no_command(vmc_opts *o, int help)
{
    if (help) {
        vmc_usage(stdout);
        return VMC_CMDLINE_DONE;
    }
    if (o->nargs)
        vmc_error(303, "unknown command '%s'", o->args[0]);
    vmc_usage(stderr);
    return VMC_CMDLINE_BAD;
}

vmc_cmdline vmc_cmdline_read(vmc_opts *o, int argc, char **argv,
                             const vmc_command **cmd)
{
    int end = 1, help = 0, version = 0;

    while (end < argc && strcmp(argv[end], "--") != 0)
        end++;
    o->script = argv + (end < argc ? end + 1 : argc);
    o->nscript = end < argc ? argc - end - 1 : 0;
    find_words(o, end, argv, &help, &version);
    if (version) {
        printf("vmoodlectl %s\n", VMOODLE_VERSION);
        return VMC_CMDLINE_DONE;
    }
    if (!o->nargs || !(*cmd = vmc_command_find(o->args[0])))
        return no_command(o, help);
    if (help) {
        vmc_command_usage(*cmd, stdout);
        return VMC_CMDLINE_DONE;
    }
    o->args++;
    o->nargs--;
    for (int i = 1; i < end; i++)
        if (is_option(argv[i]) && apply_word(o, *cmd, end, argv, &i) != 0)
            return VMC_CMDLINE_BAD;
    return check_args(o, *cmd, end < argc) ? VMC_CMDLINE_BAD : VMC_CMDLINE_RUN;
}
