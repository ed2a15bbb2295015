/* Making a tenant's text visible before it reaches a terminal or a log. */
#include <string.h>
#include "vm_text.h"

int vm_text_is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* Is s[i] the start of a C1 control encoded in UTF-8 (U+0080-U+009F)? */
static int is_c1(const unsigned char *s, apr_size_t len, apr_size_t i)
{
    return s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f;
}

int vm_text_has_control(const char *s)
{
    apr_size_t len = strlen(s);

    for (apr_size_t i = 0; i < len; i++)
        if (vm_text_is_control((unsigned char)s[i])
            || is_c1((const unsigned char *)s, len, i))
            return 1;
    return 0;
}

const char *vm_text_visible_n(const char *text, apr_size_t len,
                              const char *keep, apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)text;
    char *out = apr_palloc(p, len * 4 + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = s[i];

        if (c == '\\') {
            *o++ = '\\';
            *o++ = '\\';
        } else if ((vm_text_is_control(c) || is_c1(s, len, i))
                   && !(c && keep && strchr(keep, c))) {
            if (c == 0xc2)
                c = s[++i];         /* show the C1 code itself */
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

const char *vm_text_visible(const char *s, apr_pool_t *p)
{
    if (!s)
        return "(null)";
    return vm_text_visible_n(s, strlen(s), NULL, p);
}
