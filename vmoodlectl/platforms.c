/* platforms: the code trees, their Moodle version and how many sites each
 * serves; and the one rule for which tree a site's CLI runs in. */
#include <stdio.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <cjson/cJSON.h>
#include "platforms.h"
#include "vm_file.h"
#include "vm_text.h"

#define VERSION_PHP_MAX (64 * 1024)

int vmc_platforms_load(const vmc_opts *o, vm_platforms **out)
{
    const char *why;

    *out = NULL;
    if (!o->platforms_file)
        return VMC_EXIT_OK;
    if ((why = vm_platforms_read(o->platforms_file, out, o->pool)) != NULL)
        return vmc_fail(590, VMC_EXIT_FAIL, why);
    return VMC_EXIT_OK;
}

/* The value of "$name = ...;" in version.php: a quoted string's inside,
 * or the bare number. */
static const char *php_value(const char *text, const char *name, apr_pool_t *p)
{
    const char *at = text;
    size_t nlen = strlen(name);

    while ((at = strstr(at, name)) != NULL) {
        const char *v = at + nlen;
        at = v;
        v += strspn(v, " \t");
        if (*v != '=')
            continue;
        v += 1 + strspn(v + 1, " \t");
        if (*v == '\'' || *v == '"') {
            const char *end = strchr(v + 1, *v);
            return end ? apr_pstrndup(p, v + 1, (apr_size_t)(end - v - 1)) : "";
        }
        return apr_pstrndup(p, v, strspn(v, "0123456789."));
    }
    return "";
}

void vmc_moodle_version(const char *tree, apr_pool_t *p, const char **version,
                        const char **release)
{
    const char *err;
    char *text;
    size_t len;

    *version = *release = "";
    if (vm_file_read(apr_pstrcat(p, tree, "/version.php", NULL),
                     VERSION_PHP_MAX, p, &text, &len, &err)
        != VM_OK)
        return;
    *version = vm_text_visible(php_value(text, "$version", p), p);
    *release = vm_text_visible(php_value(text, "$release", p), p);
}

/* Sites per platform name ("" the default). */
static apr_hash_t *count_sites(const vm_table *t, apr_pool_t *p)
{
    apr_hash_t *counts = apr_hash_make(p);

    for (int i = 0; i < t->instances->nelts; i++) {
        const char *name = APR_ARRAY_IDX(t->instances, i, vm_instance).platform;
        int *n = apr_hash_get(counts, name, APR_HASH_KEY_STRING);
        if (!n) {
            n = apr_pcalloc(p, sizeof *n);
            apr_hash_set(counts, name, APR_HASH_KEY_STRING, n);
        }
        (*n)++;
    }
    return counts;
}

static int taken(apr_hash_t *counts, const char *name)
{
    int *n = apr_hash_get(counts, name, APR_HASH_KEY_STRING);
    int v = n ? *n : 0;

    apr_hash_set(counts, name, APR_HASH_KEY_STRING, NULL);
    return v;
}

static void one_line(const vmc_opts *o, cJSON *list, const char *name,
                     const char *path, int sites)
{
    const char *version = "", *release = "";

    if (path)
        vmc_moodle_version(path, o->pool, &version, &release);
    if (list) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", name);
        cJSON_AddStringToObject(j, "path", path ? path : "");
        cJSON_AddStringToObject(j, "version", version);
        cJSON_AddStringToObject(j, "release", release);
        cJSON_AddNumberToObject(j, "sites", sites);
        cJSON_AddBoolToObject(j, "missing", path == NULL);
        cJSON_AddItemToArray(list, j);
        return;
    }
    printf("%-16s %-40s %-16s %5d  %s\n", name,
           path ? path
                : "(not in the "
                  "platforms file)",
           *version ? version : "-", sites, *release ? release : "-");
}

int vmc_cmd_platforms(vmc_opts *o)
{
    vm_platforms *pl;
    const char *why;
    vmc_table t;
    apr_hash_t *counts;
    apr_hash_index_t *hi;
    cJSON *root = o->json ? cJSON_CreateObject() : NULL;
    cJSON *list = root ? cJSON_AddArrayToObject(root, "platforms") : NULL;
    int rc;

    if (o->nargs != 0)
        return vmc_fail(591, VMC_EXIT_USAGE, "platforms takes no argument");
    if ((rc = vmc_platforms_load(o, &pl)) != VMC_EXIT_OK
        || (rc = vmc_table_load(o, &t, &why)) != VMC_EXIT_OK) {
        cJSON_Delete(root);
        return rc == VMC_EXIT_OK ? rc : vmc_fail(592, rc, why);
    }
    counts = count_sites(t.table, o->pool);
    if (!root)
        printf("%-16s %-40s %-16s %5s  %s\n", "PLATFORM", "PATH", "VERSION",
               "SITES", "RELEASE");
    one_line(o, list, "(default)", o->moodle_dir, taken(counts, ""));
    for (int i = 0; pl && i < pl->list->nelts; i++) {
        const vm_platform *one = &APR_ARRAY_IDX(pl->list, i, vm_platform);
        one_line(o, list, one->name, one->path, taken(counts, one->name));
    }
    /* sites on a platform the file does not name (never served) */
    for (hi = apr_hash_first(o->pool, counts); hi; hi = apr_hash_next(hi)) {
        const void *name;
        void *n;
        apr_hash_this(hi, &name, NULL, &n);
        one_line(o, list, vm_text_visible(name, o->pool), NULL, *(int *)n);
    }
    if (root) {
        char *text = cJSON_Print(root);
        if (text)
            puts(text);
        cJSON_free(text);
        cJSON_Delete(root);
    }
    return VMC_EXIT_OK;
}
