/* Making a tenant's text visible before it reaches a terminal or a log. */
#include <string.h>
#include "vm_text.h"

int vm_text_is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static char *escape(char *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '\\';
    *o++ = 'x';
    *o++ = hex[c >> 4];
    *o++ = hex[c & 15];
    return o;
}

static int kept(unsigned char c, const char *keep)
{
    return c && keep && strchr(keep, c);
}

/* The one rule, over s; a 0xC2 at the very end is left to the caller
 * (*held) when held is not NULL, else passed as it is. */
static char *visible(const unsigned char *s, apr_size_t len, const char *keep,
                     char *o, int *held)
{
    for (apr_size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == 0xc2 && i + 1 == len && held) {
            *held = 1;
        } else if (c == 0xc2 && i + 1 < len && s[i + 1] >= 0x80
                   && s[i + 1] <= 0x9f) {
            o = escape(o, s[++i]); /* a C1 control: its code */
        } else if (c == '\\' && !kept(c, keep)) {
            *o++ = '\\';
            *o++ = '\\';
        } else if (vm_text_is_control(c) && !kept(c, keep)) {
            o = escape(o, c);
        } else {
            *o++ = (char)c;
        }
    }
    return o;
}

int vm_text_has_control(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    for (; *u; u++)
        if (vm_text_is_control(*u)
            || (*u == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f))
            return 1;
    return 0;
}

const char *vm_text_visible_n(const char *text, apr_size_t len,
                              const char *keep, apr_pool_t *p)
{
    char *out = apr_palloc(p, len * 4 + 1);
    char *end = visible((const unsigned char *)text, len, keep, out, NULL);
    *end = '\0';
    return out;
}

const char *vm_text_visible(const char *s, apr_pool_t *p)
{
    if (!s)
        return "(null)";
    return vm_text_visible_n(s, strlen(s), NULL, p);
}

apr_size_t vm_text_visible_chunk(vm_text_stream *st, const char *s,
                                 apr_size_t len, const char *keep, char *out)
{
    const unsigned char *u = (const unsigned char *)s;
    char *o = out;
    if (st->held && len > 0) {
        st->held = 0;
        if (u[0] >= 0x80 && u[0] <= 0x9f) {
            o = escape(o, u[0]);
            u++;
            len--;
        } else {
            *o++ = (char)0xc2;
        }
    }
    return (apr_size_t)(visible(u, len, keep, o, &st->held) - out);
}

apr_size_t vm_text_visible_flush(vm_text_stream *st, char *out)
{
    if (!st->held)
        return 0;
    st->held = 0;
    out[0] = (char)0xc2;
    return 1;
}
