/* Helpers shared by the database sources; see vm_source_db.h. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_hash.h"
#include "vm_source_db.h"

/* Length of the identifier at s ([A-Za-z0-9_]+), 0 when none. */
static size_t ident_len(const char *s)
{
    size_t n = 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '_')
        n++;
    return n;
}

const char *vm_db_quote_table(const char *table, int allow_schema, char q,
                              apr_pool_t *p)
{
    size_t first = ident_len(table);
    if (first == 0 || first > 64)
        return NULL;
    if (table[first] == '\0')
        return apr_psprintf(p, "%c%s%c", q, table, q);
    if (!allow_schema || table[first] != '.')
        return NULL;
    const char *second = table + first + 1;
    size_t rest = ident_len(second);
    if (rest == 0 || rest > 64 || second[rest] != '\0')
        return NULL;
    return apr_psprintf(p, "%c%.*s%c.%c%s%c", q, (int)first, table, q,
                        q, second, q);
}

/* One value at *s: bare (up to white space) or in single quotes, with
 * backslash escapes (libpq's rules, which vm_source_mask knows).  Returns NULL and advances *s, or a reason. */
static const char *kv_value(const char **s, apr_pool_t *p, char **out)
{
    const char *c = *s;
    char quote = *c == '\'' ? *c++ : 0;
    char *buf = apr_palloc(p, strlen(c) + 1), *w = buf;
    while (*c && (quote ? *c != quote : !isspace((unsigned char)*c))) {
        if (*c == '\\' && c[1])
            c++;
        *w++ = *c++;
    }
    if (quote && *c != quote)
        return "unterminated quoted value";
    *w = '\0';
    *s = quote ? c + 1 : c;
    *out = buf;
    return NULL;
}

static int kv_allowed(const char *key, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(key, *allowed) == 0)
            return 1;
    return 0;
}

const char *vm_db_parse_kv(const char *s, const char *const *allowed,
                           apr_table_t *out)
{
    apr_pool_t *p = apr_table_elts(out)->pool;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            return NULL;
        size_t klen = ident_len(s);
        if (klen == 0)
            return "expected a key (letters, digits, _)";
        char *key = apr_pstrmemdup(p, s, klen);
        if (!kv_allowed(key, allowed))
            return apr_psprintf(p, "unknown key \"%s\"", key);
        s += klen;
        while (isspace((unsigned char)*s))
            s++;
        if (*s++ != '=')
            return apr_psprintf(p, "missing \"=\" after \"%s\"", key);
        while (isspace((unsigned char)*s))
            s++;
        char *value;
        const char *why = kv_value(&s, p, &value);
        if (why)
            return apr_psprintf(p, "%s for \"%s\"", why, key);
        apr_table_setn(out, key, value);
    }
}

const char *vm_db_select_sql(const char *qtable, apr_pool_t *p)
{
    const char *cols = vm_field_names[0];
    for (int f = 1; f < VM_F_COUNT; f++)
        cols = apr_pstrcat(p, cols, ", ", vm_field_names[f], NULL);
    return apr_psprintf(p, "SELECT %s FROM %s ORDER BY id", cols, qtable);
}

unsigned vm_db_table_hash(const char *scope, const char *table)
{
    char name[256];
    int n = snprintf(name, sizeof name, "vmoodle:%s.%s", scope, table);
    return vm_hash_key(name, n < 0 ? 0 : (size_t)n < sizeof name
                                          ? (size_t)n : sizeof name - 1);
}

/* Copy msg into p with every occurrence of secret replaced by "***" and
 * line breaks flattened, trailing white space dropped. */
static char *scrub(const char *msg, const char *secret, apr_pool_t *p)
{
    size_t slen = secret ? strlen(secret) : 0;
    char *out = apr_palloc(p, strlen(msg) * 3 + 1), *w = out;
    while (*msg) {
        if (slen && strncmp(msg, secret, slen) == 0) {
            memcpy(w, "***", 3), w += 3, msg += slen;
        } else if (*msg == '\n' || *msg == '\r') {
            memcpy(w, "; ", 2), w += 2, msg++;
        } else if (*msg == '\t') {
            *w++ = ' ', msg++;
        } else {
            *w++ = *msg++;
        }
    }
    while (w > out && (isspace((unsigned char)w[-1]) || w[-1] == ';'))
        w--;
    *w = '\0';
    return out;
}

const char *vm_db_message(apr_pool_t *p, const vm_source *src,
                          const char *secret, const char *tag,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *msg = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    const char *display = src->display ? src->display
                                       : vm_source_mask(src->spec, p);
    return apr_psprintf(p, "%s: source %s: %s", tag, display,
                        scrub(msg, secret, p));
}
