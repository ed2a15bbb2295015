/* The quota file, see quota.h. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include "quota.h"
#include "vm_conf.h"

int vmc_size_parse(const char *text, uint64_t *bytes)
{
    static const char units[] = "KMGT";
    char *end;
    const char *u;
    unsigned long long n;

    if (!isdigit((unsigned char)*text))
        return -1;
    errno = 0;
    n = strtoull(text, &end, 10);
    if (errno)
        return -1;
    if (*end && (u = strchr(units, toupper((unsigned char)*end))) != NULL) {
        for (int i = 0; i <= u - units; i++) {
            if (n > UINT64_MAX / 1024)
                return -1;
            n *= 1024;
        }
        end++;
        if (!strcasecmp(end, "iB") || !strcasecmp(end, "B"))
            end += strlen(end);
    }
    if (*end)
        return -1;
    *bytes = n;
    return 0;
}

static const char *set_quota(void *ctx, const char *name, const char *value,
                             apr_pool_t *p)
{
    vmc_quotas *q = ctx;
    uint64_t *bytes = apr_palloc(p, sizeof *bytes);

    if (vmc_size_parse(value, bytes) != 0)
        return apr_psprintf(p,
                            "quota '%s' of %s: want bytes or a number "
                            "with K, M, G or T",
                            value, name);
    if (strcmp(name, "default") == 0)
        q->fallback = *bytes;
    else
        apr_hash_set(q->hosts, apr_pstrdup(p, name), APR_HASH_KEY_STRING,
                     bytes);
    return NULL;
}

const char *vmc_quotas_read(vmc_quotas *q, const char *path, apr_pool_t *p)
{
    q->hosts = apr_hash_make(p);
    q->fallback = 0;
    return path ? vm_conf_read(path, 1, set_quota, q, p) : NULL;
}

uint64_t vmc_quota_of(const vmc_quotas *q, const vm_instance *in)
{
    const uint64_t *b = q->hosts
        ? apr_hash_get(q->hosts, in->key, APR_HASH_KEY_STRING)
        : NULL;
    return b ? *b : q->fallback;
}
