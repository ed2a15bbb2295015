/* A site's Unix user from a naming rule, see vm_siteuser.h. */
#include <ctype.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_cli.h"
#include "vm_siteuser.h"

/* Lower case; letters, digits, '-', '_' kept, the rest '_'. */
static const char *plain(const char *s, apr_pool_t *p)
{
    char *out = apr_pstrdup(p, s), *c;

    for (c = out; *c; c++)
        *c = isalnum((unsigned char)*c) || *c == '-' || *c == '_'
            ? (char)tolower((unsigned char)*c)
            : '_';
    return out;
}

/* The value of the placeholder at rule (after '%'), its length in *len. */
static const char *placeholder(const char *rule, size_t *len,
                               const vm_instance *in, apr_pool_t *p)
{
    static const char *const names[] = { "shortname%", "id%", "dbname%" };

    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(rule, names[i], n) != 0)
            continue;
        *len = n;
        if (!in)
            return "x";
        return i == 0 ? plain(in->shortname, p)
            : i == 1  ? apr_psprintf(p, "%d", (int)in->id)
                      : plain(in->dbname, p);
    }
    return NULL;
}

static const char *expand(const char *rule, const vm_instance *in,
                          apr_pool_t *p, const char **why)
{
    const char *out = "", *v;
    size_t len;

    while (*rule) {
        size_t n = strcspn(rule, "%");
        out = apr_pstrcat(p, out, apr_pstrndup(p, rule, n), NULL);
        rule += n;
        if (!*rule)
            break;
        if (!(v = placeholder(rule + 1, &len, in, p))) {
            *why = apr_psprintf(p,
                                "site-user '%s': unknown placeholder "
                                "(%%shortname%%, %%id%%, %%dbname%%)",
                                rule);
            return NULL;
        }
        out = apr_pstrcat(p, out, v, NULL);
        rule += 1 + len;
    }
    if (!*out || strlen(out) > VM_SITE_USER_MAX || out[0] == '-'
        || strspn(out, "abcdefghijklmnopqrstuvwxyz0123456789-_")
            != strlen(out)) {
        *why = apr_psprintf(p,
                            "site-user gives '%s': not a user name (1 to "
                            "%d of a-z, 0-9, '-', '_')",
                            out, VM_SITE_USER_MAX);
        return NULL;
    }
    return out;
}

const char *vm_site_user(const char *rule, const char *fallback,
                         const vm_instance *in, apr_pool_t *p, const char **why)
{
    if (!rule || !*rule || !in || in->id == VM_MASTER_ID)
        return fallback;
    return expand(rule, in, p, why);
}

const char *vm_site_user_check(const char *rule, apr_pool_t *p)
{
    const char *why = NULL;

    return expand(rule, NULL, p, &why) ? NULL : why;
}

const vm_identity *vm_site_identity(const char *rule, const vm_identity *base,
                                    const vm_instance *in, apr_pool_t *p,
                                    const char **why)
{
    const char *user = vm_site_user(rule, NULL, in, p, why);
    vm_identity *who;

    if (!user)
        return rule && *rule && in && in->id != VM_MASTER_ID ? NULL : base;
    who = apr_pcalloc(p, sizeof *who);
    if ((*why = vm_identity_resolve(who, user, p)) != NULL)
        return NULL;
    return who;
}
