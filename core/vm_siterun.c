/* A site's CLI run, see vm_siterun.h. */
#include <apr_strings.h>
#include "vm_cli.h"
#include "vm_opcache.h"
#include "vm_siterun.h"
#include "vm_siteuser.h"
#include "vm_text.h"

const char *vm_siterun_tree(const vm_siterun *s, const vm_instance *in,
                            apr_pool_t *p, const char **why)
{
    const char *tree = vm_platform_path(s->platforms, in->platform,
                                        s->moodle_dir);
    if (!tree)
        *why = apr_psprintf(p, "platform '%s' is not in %s",
                            vm_text_visible(in->platform, p),
                            s->platforms_file ? s->platforms_file
                                              : "any platforms file "
                                                "(set platforms = FILE)");
    return tree;
}

int vm_siterun_opts(const vm_siterun *s, const vm_instance *in,
                    const char *script, const char *const *args, int nargs,
                    vm_job_opts *o, apr_pool_t *p, const char **why,
                    const char **nocache)
{
    const char *tree = vm_siterun_tree(s, in, p, why), *cache_why = NULL;
    const vm_identity *who = tree
        ? vm_site_identity(s->site_user, s->who, in, p, why)
        : NULL;
    const char *const *argv;

    if (nocache)
        *nocache = NULL;
    if (!who)
        return -1;
    if (script) {
        argv = vm_cli_argv(s->php, tree, script, args, nargs, p);
        o->argv = vm_opcache_argv(argv, s->opcache_dir, tree, who, p,
                                  &cache_why);
    }
    o->envp = vm_cli_env(in, who, p);
    o->who = who;
    o->dir = tree;
    if (nocache)
        *nocache = cache_why;
    return 0;
}
