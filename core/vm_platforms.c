/* The platforms file: one home for its rules. */
#include <string.h>
#include <apr_strings.h>
#include "vm_instance.h"
#include "vm_conf.h"
#include "vm_platforms.h"

static const char *add_platform(void *ctx, const char *name, const char *value,
                                apr_pool_t *p)
{
    vm_platforms *pl = ctx;
    vm_platform *one;
    size_t len = strlen(value);
    const char *why = vm_platform_name_check(name);

    if (why)
        return apr_psprintf(p, "platform '%s': %s", name, why);
    if (value[0] != '/' || vm_path_has_dotdot(value))
        return apr_psprintf(p,
                            "platform %s: '%s' is not an absolute path "
                            "without '..'",
                            name, value);
    if (apr_hash_get(pl->by_name, name, APR_HASH_KEY_STRING))
        return apr_psprintf(p, "platform %s given twice", name);
    while (len > 1 && value[len - 1] == '/')
        len--;
    one = apr_array_push(pl->list);
    one->name = apr_pstrdup(p, name);
    one->path = apr_pstrndup(p, value, len);
    apr_hash_set(pl->by_name, one->name, APR_HASH_KEY_STRING, one);
    return NULL;
}

const char *vm_platforms_read(const char *path, vm_platforms **out,
                              apr_pool_t *p)
{
    vm_platforms *pl = apr_pcalloc(p, sizeof *pl);
    const char *why;

    pl->list = apr_array_make(p, 4, sizeof(vm_platform));
    pl->by_name = apr_hash_make(p);
    if ((why = vm_conf_read(path, 1, add_platform, pl, p)) != NULL)
        return why;
    *out = pl;
    return NULL;
}

const char *vm_platform_path(const vm_platforms *pl, const char *name,
                             const char *default_tree)
{
    const vm_platform *one;

    if (!name || !*name)
        return default_tree;
    one = pl ? apr_hash_get(pl->by_name, name, APR_HASH_KEY_STRING) : NULL;
    return one ? one->path : NULL;
}
