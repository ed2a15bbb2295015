/* Where a site's backups live, see lifecycle.h. */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "lifecycle.h"
#include "manifest.h"
#include "vm_cli.h"

const char *vmc_backup_site_dir(const char *dir, const vm_instance *in,
                                apr_pool_t *p)
{
    const char *log = vm_cli_log_name(in, p);

    return apr_pstrcat(p, dir, "/", apr_pstrndup(p, log, strlen(log) - 4),
                       NULL);
}

/* 20261207T081500Z, perhaps -NN when two came in one second. */
int vmc_backup_name_ok(const char *name)
{
    static const char shape[] = "ddddddddTddddddZ";
    size_t i;

    for (i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)name[i])
                            : name[i] != shape[i])
            return 0;
    if (!name[i])
        return 1;
    return name[i] == '-' && isdigit((unsigned char)name[i + 1])
        && isdigit((unsigned char)name[i + 2]) && !name[i + 3];
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void vmc_names_sort(apr_array_header_t *names)
{
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), by_name);
}

apr_array_header_t *vmc_backup_list(const char *site_dir, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(const char *));
    DIR *d = opendir(site_dir);
    struct dirent *e;

    while (d && (e = readdir(d)) != NULL)
        if (vmc_backup_name_ok(e->d_name)
            && access(apr_pstrcat(p, site_dir, "/", e->d_name, "/",
                                  VMC_MANIFEST, NULL),
                      F_OK)
                == 0)
            APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(p, e->d_name);
    if (d)
        closedir(d);
    vmc_names_sort(out);
    return out;
}
