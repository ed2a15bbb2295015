/* File-system helpers, see fsutil.h. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include "fsutil.h"

const char *vc_mkdirs(const char *dir, apr_pool_t *p)
{
    char *path = apr_pstrdup(p, dir);
    for (char *s = path + 1; ; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return apr_psprintf(p, "%s: %s", path, strerror(errno));
        *s = c;
        if (c == '\0')
            return NULL;
    }
}

const char *vc_mkdirs_for(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return NULL;
    return vc_mkdirs(apr_pstrndup(p, path, (apr_size_t)(slash - path)), p);
}
