/* One row of the instance table: column names, defaults and the rules a
 * row must pass before it may be routed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_instance.h"
#include "vm_text.h"

const char *const vm_field_names[VM_F_COUNT] = {
    "id",         "name",        "shortname", "vhostname", "vdbtype",
    "vdbhost",    "vdblogin",    "vdbpass",   "vdbname",   "vdbprefix",
    "vdbpersist", "vdatapath",   "mnet",      "enabled",   "croncount",
    "lastcron",   "lastcrongap", "platform",  "aliases"
};

/* VMoodle's column defaults, for a JSON key left out; NULL = required. */
static const char *const field_defaults[VM_F_COUNT] = {
    NULL, "",   "",   NULL, "mysqli", "localhost", "",  "", NULL, "mdl_",
    "0",  NULL, "-1", "1",  "0",      "0",         "0", "", ""
};

#define VM_VALUE_MAX 4096
#define VM_ID_MAX 9007199254740991LL /* 2^53 - 1: exact in JSON */

void vm_row_set(vm_row *row, vm_field f, const char *value)
{
    row->value[f] = value;
    row->present[f] = 1;
}

long long vm_id_from_text(const char *v)
{
    char *end;
    long long id;

    if (!v || *v < '0' || *v > '9')
        return 0;
    errno = 0;
    id = strtoll(v, &end, 10);
    return (errno || *end) ? 0 : id;
}

long long vm_row_id(const vm_row *row)
{
    return vm_id_from_text(row->present[VM_F_ID] ? row->value[VM_F_ID] : NULL);
}

int vm_field_by_name(const char *name)
{
    int f;

    for (f = 0; f < VM_F_COUNT; f++)
        if (strcmp(vm_field_names[f], name) == 0)
            return f;
    return -1;
}

/* Columns VMoodle leaves nullable: NULL reads as the default.  NULL in any
 * other column rejects the row. */
static const unsigned char field_nullable[VM_F_COUNT] = {
    [VM_F_NAME] = 1,        [VM_F_SHORTNAME] = 1, [VM_F_VDBLOGIN] = 1,
    [VM_F_VDBPASS] = 1,     [VM_F_CRONCOUNT] = 1, [VM_F_LASTCRON] = 1,
    [VM_F_LASTCRONGAP] = 1, [VM_F_PLATFORM] = 1,  [VM_F_ALIASES] = 1,
};

static const char *row_text(const vm_row *row, vm_field f)
{
    if (!row->present[f] || (!row->value[f] && field_nullable[f]))
        return field_defaults[f];
    return row->value[f];
}

static const char *parse_int(const char *s, long long lo, long long hi,
                             long long *out)
{
    char *end;
    long long v;

    /* strtoll would also take leading blanks and '+' */
    if (!((*s >= '0' && *s <= '9')
          || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
        return "is not an integer";
    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return "is not an integer";
    if (v < lo || v > hi)
        return "is out of range";
    *out = v;
    return NULL;
}

static const char *canon_dbtype(const char *t)
{
    if (!strcasecmp(t, "pgsql") || !strcasecmp(t, "postgres"))
        return "pgsql";
    if (!strcasecmp(t, "mariadb"))
        return "mariadb";
    if (!strcasecmp(t, "mysqli"))
        return "mysqli";
    return NULL;
}

static int prefix_ok(const char *s)
{
    return strspn(s,
                  "abcdefghijklmnopqrstuvwxyz"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
        == strlen(s);
}

int vm_path_has_dotdot(const char *path)
{
    const char *c;

    for (c = path; (c = strstr(c, "..")) != NULL; c += 2)
        if ((c == path || c[-1] == '/') && (c[2] == '/' || c[2] == '\0'))
            return 1;
    return 0;
}

/* An absolute path, not "/", without a ".." component; trailing slashes
 * are dropped. */
static const char *canon_datapath(const char *s, apr_pool_t *p,
                                  const char **out)
{
    size_t len = strlen(s);

    if (s[0] != '/')
        return "is not an absolute path";
    if (vm_path_has_dotdot(s))
        return "contains a '..' component";
    while (len > 1 && s[len - 1] == '/')
        len--;
    if (len == 1)
        return "is the root directory";
    *out = apr_pstrndup(p, s, len);
    return NULL;
}

static const char *fail(apr_pool_t *p, vm_field f, const char *why)
{
    return apr_psprintf(p, "%s %s", vm_field_names[f], why);
}

/* Every column as text: present, not NULL, bounded, no control bytes. */
static const char *check_texts(const vm_row *row, const char *text[],
                               apr_pool_t *p)
{
    int f;

    for (f = 0; f < VM_F_COUNT; f++) {
        text[f] = row_text(row, (vm_field)f);
        if (!text[f])
            return fail(p, (vm_field)f,
                        row->present[f] ? "is NULL" : "is missing");
        if (strlen(text[f]) > VM_VALUE_MAX)
            return fail(p, (vm_field)f, "is too long");
        if (vm_text_has_control(text[f]))
            return fail(p, (vm_field)f, "contains control characters");
    }
    return NULL;
}

static const char *check_numbers(const char *text[], vm_instance *out,
                                 apr_pool_t *p)
{
    static const struct {
        vm_field f;
        long long lo, hi;
    } ranges[] = {
        { VM_F_ID, 1, VM_ID_MAX },          { VM_F_VDBPERSIST, 0, 1 },
        { VM_F_MNET, -1, 2147483647 },      { VM_F_ENABLED, 0, 1 },
        { VM_F_CRONCOUNT, 0, VM_ID_MAX },   { VM_F_LASTCRON, 0, VM_ID_MAX },
        { VM_F_LASTCRONGAP, 0, VM_ID_MAX },
    };
    long long v[sizeof ranges / sizeof ranges[0]];
    size_t i;

    for (i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        const char *why = parse_int(text[ranges[i].f], ranges[i].lo,
                                    ranges[i].hi, &v[i]);
        if (why)
            return fail(p, ranges[i].f, why);
    }
    out->id = v[0];
    out->dbpersist = (int)v[1];
    out->mnet = (int)v[2];
    out->enabled = (int)v[3];
    out->croncount = v[4];
    out->lastcron = v[5];
    out->lastcrongap = v[6];
    return NULL;
}

const char *vm_platform_name_check(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > 64)
        return "a platform name has 1 to 64 characters";
    if (strspn(name,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
               "0123456789._-")
        != len)
        return "a platform name may hold only letters, digits, . _ -";
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return "a platform name may not be . or ..";
    return NULL;
}

#define ALIAS_SEPARATORS " ,"

const char *vm_aliases_parse(const char *text, apr_pool_t *p, const char **keys)
{
    const char *list = "";

    while (*(text += strspn(text, ALIAS_SEPARATORS))) {
        size_t len = strcspn(text, ALIAS_SEPARATORS);
        char *one = apr_pstrndup(p, text, len);
        const char *why;
        vm_url url;

        why = vm_host_parse_url(strstr(one, "://")
                                    ? one
                                    : apr_pstrcat(p, "http://", one, NULL),
                                &url);
        if (why)
            return apr_psprintf(p, "aliases: '%.80s': %s", one, why);
        if (strstr(list, apr_pstrcat(p, url.key, " ", NULL)) == list
            || strstr(list, apr_pstrcat(p, " ", url.key, " ", NULL)))
            return apr_psprintf(p, "aliases: '%.80s' given twice", one);
        list = apr_pstrcat(p, list, url.key, " ", NULL);
        text += len;
    }
    *keys = list;
    return NULL;
}

int vm_aliases_each(const char *aliases,
                    int (*fn)(const char *key, size_t len, void *ctx),
                    void *ctx)
{
    const char *end;
    int rc;

    for (; (end = strchr(aliases, ' ')) != NULL; aliases = end + 1)
        if ((rc = fn(aliases, (size_t)(end - aliases), ctx)) != 0)
            return rc;
    return 0;
}

static int same_key(const char *key, size_t len, void *ctx)
{
    const char *own = ctx;

    return strlen(own) == len && memcmp(own, key, len) == 0;
}

static const char *alias_not_self(const char *aliases, const char *key,
                                  apr_pool_t *p)
{
    return vm_aliases_each(aliases, same_key, (void *)key)
        ? apr_psprintf(p, "aliases: %s is the site's own host", key)
        : NULL;
}

static const char *check_strings(const char *text[], vm_instance *out,
                                 apr_pool_t *p)
{
    vm_url url;
    const char *why;

    if ((why = vm_host_parse_url(text[VM_F_VHOSTNAME], &url)) != NULL)
        return apr_psprintf(p, "vhostname '%.80s': %s", text[VM_F_VHOSTNAME],
                            why);
    if (!(out->dbtype = canon_dbtype(text[VM_F_VDBTYPE])))
        return apr_psprintf(p,
                            "vdbtype '%.20s' is not one of pgsql, "
                            "postgres, mariadb, mysqli",
                            text[VM_F_VDBTYPE]);
    if (!*text[VM_F_VDBNAME])
        return fail(p, VM_F_VDBNAME, "is empty");
    if (!prefix_ok(text[VM_F_VDBPREFIX]))
        return fail(p, VM_F_VDBPREFIX, "may hold only letters, digits, _");
    if ((why = canon_datapath(text[VM_F_VDATAPATH], p, &out->datapath)))
        return fail(p, VM_F_VDATAPATH, why);
    if (*text[VM_F_PLATFORM]
        && (why = vm_platform_name_check(text[VM_F_PLATFORM])) != NULL)
        return apr_psprintf(p, "platform '%.80s': %s", text[VM_F_PLATFORM],
                            why);
    if ((why = vm_aliases_parse(text[VM_F_ALIASES], p, &out->aliases)))
        return why;
    if ((why = alias_not_self(out->aliases, url.key, p)) != NULL)
        return why;
    out->platform = apr_pstrdup(p, text[VM_F_PLATFORM]);
    out->key = apr_pstrdup(p, url.key);
    out->path = vm_host_key_path(out->key);
    out->wwwroot = apr_pstrdup(p, url.wwwroot);
    out->vhostname = apr_pstrdup(p, text[VM_F_VHOSTNAME]);
    out->name = apr_pstrdup(p, text[VM_F_NAME]);
    out->shortname = apr_pstrdup(p, text[VM_F_SHORTNAME]);
    out->dbhost = apr_pstrdup(p, text[VM_F_VDBHOST]);
    out->dblogin = apr_pstrdup(p, text[VM_F_VDBLOGIN]);
    out->dbpass = apr_pstrdup(p, text[VM_F_VDBPASS]);
    out->dbname = apr_pstrdup(p, text[VM_F_VDBNAME]);
    out->dbprefix = apr_pstrdup(p, text[VM_F_VDBPREFIX]);
    return NULL;
}

const char *vm_instance_from_row(vm_instance *out, const vm_row *row,
                                 apr_pool_t *p)
{
    const char *text[VM_F_COUNT];
    const char *why;

    memset(out, 0, sizeof *out);
    if (row->error)
        return row->error;
    if ((why = check_texts(row, text, p)) != NULL
        || (why = check_numbers(text, out, p)) != NULL)
        return why;
    return check_strings(text, out, p);
}

const char *vm_aliases_text(const char *aliases, apr_pool_t *p)
{
    size_t len = aliases ? strlen(aliases) : 0;

    return len ? apr_pstrndup(p, aliases, len - 1) : "";
}

void vm_instance_to_row(const vm_instance *in, vm_row *row, apr_pool_t *p)
{
    memset(row, 0, sizeof *row);
    vm_row_set(row, VM_F_ID,
               apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)in->id));
    vm_row_set(row, VM_F_NAME, in->name);
    vm_row_set(row, VM_F_SHORTNAME, in->shortname);
    vm_row_set(row, VM_F_VHOSTNAME, in->vhostname);
    vm_row_set(row, VM_F_VDBTYPE, in->dbtype);
    vm_row_set(row, VM_F_VDBHOST, in->dbhost);
    vm_row_set(row, VM_F_VDBLOGIN, in->dblogin);
    vm_row_set(row, VM_F_VDBPASS, in->dbpass);
    vm_row_set(row, VM_F_VDBNAME, in->dbname);
    vm_row_set(row, VM_F_VDBPREFIX, in->dbprefix);
    vm_row_set(row, VM_F_VDBPERSIST, in->dbpersist ? "1" : "0");
    vm_row_set(row, VM_F_VDATAPATH, in->datapath);
    vm_row_set(row, VM_F_MNET, apr_psprintf(p, "%d", in->mnet));
    vm_row_set(row, VM_F_ENABLED, in->enabled ? "1" : "0");
    vm_row_set(row, VM_F_CRONCOUNT,
               apr_psprintf(p, "%" APR_INT64_T_FMT,
                            (apr_int64_t)in->croncount));
    vm_row_set(row, VM_F_LASTCRON,
               apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)in->lastcron));
    vm_row_set(row, VM_F_LASTCRONGAP,
               apr_psprintf(p, "%" APR_INT64_T_FMT,
                            (apr_int64_t)in->lastcrongap));
    vm_row_set(row, VM_F_PLATFORM, in->platform ? in->platform : "");
    vm_row_set(row, VM_F_ALIASES, vm_aliases_text(in->aliases, p));
}
