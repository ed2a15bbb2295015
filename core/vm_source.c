/* Source strings and the backend registry. */
#include <string.h>
#include <apr_strings.h>
#include "vm_conninfo.h"
#include "vm_source.h"

static const vm_source_ops *const backends[] = {
    &vm_source_json_ops,
    &vm_source_pgsql_ops,
    &vm_source_mysql_ops,
};

static const vm_source_ops *find_backend(const char *scheme, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strlen(backends[i]->scheme) == len
            && strncmp(backends[i]->scheme, scheme, len) == 0)
            return backends[i];
    return NULL;
}

/* Apache honours quotes only at the start of a word, so the module takes
 * VMoodleSource's raw arguments; vcron and vmoodlectl get what the shell or
 * their configuration file leave.  One rule for all. */
const char *vm_source_unquote(const char *spec, apr_pool_t *p)
{
    char *s = apr_pstrdup(p, spec), *end, *colon;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    if (end - s >= 2 && s[0] == '"' && end[-1] == '"') {
        *--end = '\0';
        return s + 1;
    }
    colon = strchr(s, ':');
    if (colon && colon[1] == '"' && end - colon >= 3 && end[-1] == '"') {
        *--end = '\0';
        memmove(colon + 1, colon + 2, (size_t)(end - colon - 1));
    }
    return s;
}

static apr_status_t close_on_cleanup(void *data)
{
    vm_source_close(data);
    return APR_SUCCESS;
}

vm_status vm_source_open(vm_source **out, const char *spec, const char *table,
                         apr_pool_t *p, const char **err)
{
    const char *plain = spec ? vm_source_unquote(spec, p) : NULL;
    const char *colon = plain ? strchr(plain, ':') : NULL;
    vm_source *src;
    vm_status st;

    if (!colon) {
        *err = "source must be json:PATH, pgsql:\"...\" or mysql:\"...\"";
        return VM_ERR_CONFIG;
    }
    src = apr_pcalloc(p, sizeof *src);
    src->ops = find_backend(plain, (size_t)(colon - plain));
    if (!src->ops) {
        *err = apr_psprintf(p, "unknown source type '%.*s'",
                            (int)(colon - plain), plain);
        return VM_ERR_CONFIG;
    }
    src->spec = apr_pstrdup(p, spec);
    src->display = vm_source_mask(spec, p);
    src->table = apr_pstrdup(p, table ? table : VM_DEFAULT_TABLE);
    src->pool = p;
    st = src->ops->configure(src, colon + 1, err);
    if (st != VM_OK)
        return st;
    apr_pool_cleanup_register(p, src, close_on_cleanup, apr_pool_cleanup_null);
    *out = src;
    return VM_OK;
}

vm_status vm_source_load(vm_source *src, apr_array_header_t **rows,
                         apr_pool_t *p, const char **err)
{
    *rows = apr_array_make(p, 64, sizeof(vm_row));
    return src->ops->load(src, *rows, p, err);
}

void vm_source_close(vm_source *src)
{
    if (src->ops->close)
        src->ops->close(src);
}

/* The argument as the backend reads it, its passwords masked by the one
 * rule (vm_conninfo.h); a JSON path holds none. */
const char *vm_source_mask(const char *spec, apr_pool_t *p)
{
    const char *plain, *colon;

    if (!spec)
        return "";
    plain = vm_source_unquote(spec, p);
    colon = strchr(plain, ':');
    if (colon && strncmp(plain, "json:", 5) == 0)
        return plain;
    if (!colon || strncmp(colon, "://", 3) == 0) /* no scheme: as is */
        return vm_conninfo_mask(plain, p);
    return apr_pstrcat(p, apr_pstrndup(p, plain, (apr_size_t)(colon - plain)),
                       ":", vm_conninfo_mask(colon + 1, p), NULL);
}
