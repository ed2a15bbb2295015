/* Label values for the Prometheus text format, see vm_prom.h. */
#include <string.h>
#include "vm_prom.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
        : s[0] >= 0xe0                 ? 3
        : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                                       : 0;
    if (len == 0 || len > n)
        return 0;
    cp = s[0] & (0xff >> (len + 1));
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

const char *vm_prom_label(const char *s, apr_pool_t *p)
{
    const unsigned char *v = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)v), i = 0, o = 0;
    char *out = apr_palloc(p, 2 * n + 1);

    while (i < n) {
        size_t len = utf8_len(v + i, n - i);
        /* not UTF-8, a C0 control or DEL, a C1 control (U+0080-U+009F) */
        if (len == 0 || (len == 1 && (v[i] < 0x20 || v[i] == 0x7f))
            || (len == 2 && v[i] == 0xc2 && v[i + 1] < 0xa0)) {
            out[o++] = '?';
            i += len ? len : 1;
            continue;
        }
        if (v[i] == '\\' || v[i] == '"')
            out[o++] = '\\';
        memcpy(out + o, v + i, len);
        o += len;
        i += len;
    }
    out[o] = '\0';
    return out;
}
