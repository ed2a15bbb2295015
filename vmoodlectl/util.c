/* Small helpers of vmoodlectl: names and paths checked before use. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <apr_strings.h>
#include "util.h"
#include "vm_instance.h"
#include "vm_usage.h"

static int only(const char *s, const char *allowed)
{
    return strspn(s, allowed) == strlen(s);
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

int vmc_name_ok(const char *name)
{
    return *name && *name != '.' && *name != '-' && strlen(name) <= 100
        && only(name, ALNUM "._-");
}

int vmc_dbname_ok(const char *name)
{
    return *name && strlen(name) <= 63 && !(*name >= '0' && *name <= '9')
        && *name != '-' && only(name, ALNUM "_-");
}

const char *vmc_path_inside(const char *path, const char *parent, apr_pool_t *p)
{
    char real_parent[PATH_MAX], real_dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *dir, *base;
    size_t plen;

    if (path[0] != '/' || vm_path_has_dotdot(path))
        return "must be an absolute path without '..'";
    base = slash + 1;
    if (!*base || !strcmp(base, "."))
        return "must name a directory, not end in '/' or '.'";
    dir = slash == path ? "/"
                        : apr_pstrndup(p, path, (apr_size_t)(slash - path));
    if (!realpath(parent, real_parent))
        return apr_psprintf(p, "cannot be checked: data parent %s: %s", parent,
                            strerror(errno));
    if (!realpath(dir, real_dir))
        return apr_psprintf(p, "cannot be resolved: %s: %s", dir,
                            strerror(errno));
    plen = strlen(real_parent);
    if (strncmp(real_dir, real_parent, plen) != 0
        || (real_dir[plen] != '/' && real_dir[plen] != '\0'))
        return apr_psprintf(p, "is outside the data parent %s", parent);
    return NULL;
}

const char *vmc_bytes(unsigned long long n, apr_pool_t *p)
{
    return vm_bytes_text(n, p);
}

const char *vmc_id_text(long long id, apr_pool_t *p)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)id);
}

/* Bytes below 248 only: 248 = 4 * 62, so every character is as likely. */
const char *vmc_random_text(size_t n, apr_pool_t *p, const char **err)
{
    static const char pool[] = ALNUM;
    char *out = apr_palloc(p, n + 1);
    unsigned char buf[64];
    size_t have = 0;

    while (have < n) {
        ssize_t got = getrandom(buf, sizeof buf, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            *err = apr_psprintf(p, "getrandom: %s", strerror(errno));
            return NULL;
        }
        for (ssize_t i = 0; i < got && have < n; i++)
            if (buf[i] < 248)
                out[have++] = pool[buf[i] % 62];
    }
    out[n] = '\0';
    return out;
}
