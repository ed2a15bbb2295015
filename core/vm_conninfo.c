/* Masking a connection string's passwords, reading it as libpq
 * (conninfo_parse, conninfo_uri_parse) and vm_db_mysql.c read it. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include "vm_conninfo.h"

/* The masked text so far (short strings: appended piece by piece). */
typedef struct {
    apr_pool_t *p;
    const char *out;
} masked;

static void put(masked *m, const char *s, size_t n)
{
    m->out = apr_pstrcat(m->p, m->out, apr_pstrmemdup(m->p, s, n), NULL);
}

static int blank(char c)
{
    return isspace((unsigned char)c);
}

/* End of a value at v: quoted ('...') or bare (up to white space), a
 * backslash escaping the next character in both; NULL when a quote is
 * left open (the drivers refuse the string). */
static const char *value_end(const char *v)
{
    int quoted = *v == '\'';

    for (v += quoted; *v; v++) {
        if (*v == '\\') {
            if (!*++v)
                break;
        } else if (quoted ? *v == '\'' : blank(*v)) {
            return quoted ? v + 1 : v;
        }
    }
    return quoted ? NULL : v;
}

/* libpq's password and sslpassword (the client key's passphrase). */
static int secret_key(const char *k, size_t n)
{
    return (n == 8 && strncasecmp(k, "password", 8) == 0)
        || (n == 11 && strncasecmp(k, "sslpassword", 11) == 0);
}

/* libpq expands a dbname holding '=' or a URI: mask it when it may hold a
 * password (any spelling of the word, escapes and all). */
static int secret_dbname(const char *k, size_t kn, const char *v, size_t vn,
                         apr_pool_t *p)
{
    return kn == 6 && strncasecmp(k, "dbname", 6) == 0
        && strcasestr(apr_pstrmemdup(p, v, vn), "pass") != NULL;
}

/* key = value ...: libpq's grammar (a key runs to '=' or white space). */
static void mask_pairs(masked *m, const char *s)
{
    for (;;) {
        const char *k = s + strspn(s, " \t\r\n\f\v"), *eq, *v, *end;
        size_t kn;

        put(m, s, (size_t)(k - s));
        if (!*k)
            return;
        kn = 0;
        while (k[kn] && k[kn] != '=' && !blank(k[kn]))
            kn++;
        eq = k + kn + strspn(k + kn, " \t\r\n\f\v");
        v = *eq == '=' ? eq + 1 + strspn(eq + 1, " \t\r\n\f\v") : NULL;
        end = v ? value_end(v) : NULL;
        if (!end) { /* refused by the driver: hide the rest */
            put(m, VM_CONNINFO_MASK, 3);
            return;
        }
        put(m, k, (size_t)(v - k));
        if (secret_key(k, kn)
            || secret_dbname(k, kn, v, (size_t)(end - v), m->p))
            put(m, VM_CONNINFO_MASK, 3);
        else
            put(m, v, (size_t)(end - v));
        s = end;
    }
}

static int hex(char c)
{
    return isdigit((unsigned char)c) ? c - '0'
        : isxdigit((unsigned char)c) ? (tolower((unsigned char)c) - 'a' + 10)
                                     : -1;
}

/* A URI's query key, percent-decoded as libpq decodes it. */
static const char *decoded(const char *s, size_t n, apr_pool_t *p)
{
    char *out = apr_palloc(p, n + 1), *w = out;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hex(s[i + 1]) >= 0
            && hex(s[i + 2]) >= 0) {
            *w++ = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            *w++ = s[i];
        }
    }
    *w = '\0';
    return out;
}

/* ?key=value&key=value: the values of password (and of a dbname naming
 * one) masked. */
static void mask_query(masked *m, const char *q)
{
    while (*q) {
        size_t n = strcspn(q, "&"), kn = strcspn(q, "=&");
        const char *key = decoded(q, kn, m->p);

        if (kn < n
            && (secret_key(key, strlen(key))
                || secret_dbname(key, strlen(key), q + kn + 1, n - kn - 1,
                                 m->p))) {
            put(m, q, kn + 1);
            put(m, VM_CONNINFO_MASK, 3);
        } else {
            put(m, q, n);
        }
        q += n;
        if (*q == '&')
            put(m, q++, 1);
    }
}

/* scheme://[user[:password]@]host[:port][/db][?query].  libpq looks for
 * the user information up to the first '@' or '/'; the password runs from
 * the first ':' in it to the '@' (to the last '@' before a '/', so a
 * stray '@' in a password never shows its tail). */
static void mask_uri(masked *m, const char *s, const char *auth)
{
    size_t span = strcspn(auth, "/");
    const char *at = NULL, *colon, *rest;

    for (const char *c = auth; c < auth + span; c++)
        if (*c == '@')
            at = c;
    put(m, s, (size_t)(auth - s));
    rest = auth;
    if (at) {
        colon = memchr(auth, ':', (size_t)(at - auth));
        put(m, auth, (size_t)((colon ? colon + 1 : at) - auth));
        if (colon)
            put(m, VM_CONNINFO_MASK, 3);
        rest = at;
    }
    span = strcspn(rest, "?");
    put(m, rest, span);
    if (rest[span] == '?') {
        put(m, "?", 1);
        mask_query(m, rest + span + 1);
    }
}

/* "scheme://" at s (after blanks): where the authority starts, or NULL. */
static const char *uri_authority(const char *s)
{
    const char *c = s + strspn(s, " \t\r\n\f\v");
    size_t n = 0;

    while (isalnum((unsigned char)c[n]) || c[n] == '+' || c[n] == '-'
           || c[n] == '.')
        n++;
    return n && strncmp(c + n, "://", 3) == 0 ? c + n + 3 : NULL;
}

const char *vm_conninfo_mask(const char *text, apr_pool_t *p)
{
    masked m = { p, "" };
    const char *auth;

    if (!text)
        return "";
    if ((auth = uri_authority(text)) != NULL)
        mask_uri(&m, text, auth);
    else
        mask_pairs(&m, text);
    return m.out;
}
