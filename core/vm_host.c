/* Host canonicalisation.  Stricter than Apache's own check: names are
 * [A-Za-z0-9_-] labels (IDNs arrive as punycode), IPv6 only in brackets. */
#include <string.h>
#include <stdio.h>
#include <arpa/inet.h>
#include "vm_hash.h"
#include "vm_host.h"

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* A name character lower-cased, 0 for anything else (the dot too: one
 * test per character on every request, the dot sorted out after it).
 * [A-Za-z0-9_-]. */
static const unsigned char name_map[256] = {
    ['-'] = '-', ['_'] = '_', ['0'] = '0', ['1'] = '1', ['2'] = '2',
    ['3'] = '3', ['4'] = '4', ['5'] = '5', ['6'] = '6', ['7'] = '7',
    ['8'] = '8', ['9'] = '9',
#define L(c) [c] = c, [c - 'a' + 'A'] = c
    L('a'),      L('b'),      L('c'),      L('d'),      L('e'),
    L('f'),      L('g'),      L('h'),      L('i'),      L('j'),
    L('k'),      L('l'),      L('m'),      L('n'),      L('o'),
    L('p'),      L('q'),      L('r'),      L('s'),      L('t'),
    L('u'),      L('v'),      L('w'),      L('x'),      L('y'),
    L('z'),
#undef L
};

/* A DNS name or IPv4 literal, lower-cased into out; one trailing dot
 * dropped.  Label by label: the inner loop, a table load and a store per
 * character, stops at anything that is no name character, and the label
 * is checked there (a bad character after 63 of a label is reported as
 * the long label it ends). */
static const char *canon_name(const char *h, size_t len, char *out,
                              size_t outsize, size_t *outlen, uint32_t *hash)
{
    size_t i = 0, start;
    uint32_t fnv = VM_HASH_KEY_START;
    unsigned char c;

    if (len > 0 && h[len - 1] == '.')
        len--;
    if (len == 0)
        return "empty host";
    if (len > VM_HOST_MAX || len >= outsize)
        return "host too long";
    for (;;) {
        start = i;
        while (i < len && (c = name_map[(unsigned char)h[i]]) != 0) {
            out[i++] = (char)c;
            fnv = vm_hash_key_byte(fnv, c);
        }
        if (i - start > 63)
            return "host label longer than 63 characters";
        if (i < len && h[i] != '.')
            return "invalid character in host";
        if (i == start) /* "a..b", or "a.b.." once one dot is dropped */
            return "empty label in host";
        if (i == len)
            break;
        out[i++] = '.';
        fnv = vm_hash_key_byte(fnv, '.');
    }
    out[len] = '\0';
    *outlen = len;
    *hash = fnv;
    return NULL;
}

/* "[v6]" validated with inet_pton and rewritten in its one standard form
 * (RFC 5952, as inet_ntop writes it), brackets kept: [0:0::1] is [::1]. */
static const char *canon_v6(const char *h, size_t len, char *out,
                            size_t outsize, size_t *outlen)
{
    char addr[64];
    unsigned char bin[16];
    size_t i, n = len - 2;

    if (len < 4 || h[len - 1] != ']' || n >= sizeof addr || len >= outsize)
        return "invalid IPv6 literal";
    for (i = 0; i < n; i++)
        addr[i] = lower(h[i + 1]);
    addr[n] = '\0';
    if (inet_pton(AF_INET6, addr, bin) != 1
        || !inet_ntop(AF_INET6, bin, addr, sizeof addr))
        return "invalid IPv6 literal";
    n = strlen(addr);
    if (n + 3 > outsize)
        return "host too long";
    snprintf(out, outsize, "[%s]", addr);
    *outlen = n + 2;
    return NULL;
}

const char *vm_host_parse_port(const char *s, size_t len, unsigned *port)
{
    unsigned long v = 0;
    size_t i;

    if (len == 0 || len > 5)
        return "invalid port";
    for (i = 0; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0'; /* > 9: no digit */

        if (d > 9)
            return "invalid port";
        v = v * 10 + d;
    }
    if (v == 0 || v > 65535)
        return "port out of range";
    *port = (unsigned)v;
    return NULL;
}

/* Split "host[:port]" / "[v6][:port]" and canonicalise the host part. */
static const char *canon_hostport(const char *s, size_t len, char *host,
                                  size_t hostsize, size_t *hostlen,
                                  unsigned *port)
{
    const char *end = s + len, *colon = NULL, *p;
    uint32_t fnv; /* a URL's key is hashed by the snapshot's writer */

    *port = 0;
    if (len == 0)
        return "empty host";
    if (s[0] == '[') {
        p = memchr(s, ']', len);
        if (!p)
            return "invalid IPv6 literal";
        if (p + 1 < end) {
            if (p[1] != ':')
                return "invalid character after IPv6 literal";
            colon = p + 1;
        }
    } else {
        colon = memchr(s, ':', len);
    }
    if (colon) {
        const char *reason = vm_host_parse_port(colon + 1,
                                                (size_t)(end - colon - 1),
                                                port);
        if (reason)
            return reason;
        len = (size_t)(colon - s);
    }
    return s[0] == '[' ? canon_v6(s, len, host, hostsize, hostlen)
                       : canon_name(s, len, host, hostsize, hostlen, &fnv);
}

/* host[:port], the port left out when it is the scheme's.  Written by
 * hand: this runs on every request, and snprintf costs a thousand
 * instructions here. */
static const char *make_key(const char *host, size_t hostlen, unsigned port,
                            int https, char *key, size_t keysize,
                            unsigned *keptport)
{
    char digits[5];
    size_t n = 0, need, i;

    if (port == (https ? 443u : 80u))
        port = 0;
    for (i = port; i > 0 && n < sizeof digits; i /= 10)
        digits[n++] = (char)('0' + i % 10); /* a port has <= 5 */
    need = hostlen + (port ? 1 + n : 0);
    if (need >= keysize)
        return "host too long";
    memcpy(key, host, hostlen);
    if (port) {
        key[hostlen] = ':';
        for (i = 0; i < n; i++)
            key[hostlen + 1 + i] = digits[n - 1 - i];
    }
    key[need] = '\0';
    if (keptport)
        *keptport = port;
    return NULL;
}

/* A name's key, written in one pass into key (every request's case): the
 * name lower-cased, then ":port" copied from the request when it is not
 * the scheme's, without its leading zeros (the digits are checked); its
 * vm_hash_key computed as it is written. */
static const char *name_key(const char *s, size_t len, int https, char *key,
                            size_t keysize, size_t *keylen, uint32_t *hash)
{
    const char *colon = memchr(s, ':', len), *digits, *reason;
    size_t hostlen = colon ? (size_t)(colon - s) : len;
    unsigned port = 0;

    if (colon
        && (reason = vm_host_parse_port(colon + 1, len - hostlen - 1, &port)))
        return reason;
    if ((reason = canon_name(s, hostlen, key, keysize, &hostlen, hash)))
        return reason;
    *keylen = hostlen;
    if (!port || port == (https ? 443u : 80u))
        return NULL;
    for (digits = colon + 1; *digits == '0'; digits++)
        ;
    if (hostlen + 1 + (size_t)(s + len - digits) >= keysize)
        return "host too long";
    key[hostlen++] = ':';
    while (digits < s + len) /* at most 5 */
        key[hostlen++] = *digits++;
    key[hostlen] = '\0';
    *hash = vm_hash_key_more(*hash, key + *keylen, hostlen - *keylen);
    *keylen = hostlen;
    return NULL;
}

const char *vm_host_request_key_hashed(const char *hostport, size_t len,
                                       int https, char *key, size_t keysize,
                                       size_t *keylen, uint32_t *hash)
{
    char host[VM_KEY_MAX];
    size_t hostlen;
    unsigned port;
    const char *reason;

    if (!hostport)
        return "no host";
    if (len == 0)
        return "empty host";
    if (hostport[0] != '[')
        return name_key(hostport, len, https, key, keysize, keylen, hash);
    reason = canon_hostport(hostport, len, host, sizeof host, &hostlen, &port);
    if (!reason)
        reason = make_key(host, hostlen, port, https, key, keysize, NULL);
    if (reason)
        return reason;
    *keylen = strlen(key);
    *hash = vm_hash_key(key, *keylen);
    return NULL;
}

const char *vm_host_request_key(const char *hostport, size_t len, int https,
                                char *key, size_t keysize)
{
    size_t keylen;
    uint32_t hash;

    return vm_host_request_key_hashed(hostport, len, https, key, keysize,
                                      &keylen, &hash);
}

static int prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (lower(*s) != *prefix)
            return 0;
    return 1;
}

const char *vm_host_check_segment(const char *seg, size_t len)
{
    size_t i;

    if (len == 0)
        return "empty path segment";
    if (len > VM_SEGMENT_MAX)
        return "path segment longer than 63 characters";
    if ((len == 1 && seg[0] == '.')
        || (len == 2 && seg[0] == '.' && seg[1] == '.'))
        return "path segment is . or ..";
    for (i = 0; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", seg[i])
            || !seg[i])
            return "path may hold only one segment of a-z 0-9 . _ -";
    return NULL;
}

const char *vm_host_key_path(const char *key)
{
    const char *slash = strchr(key, '/');

    return slash ? slash : "";
}

/* "/", "" or "/segment[/]" after the authority: the segment, or none. */
static const char *parse_path(const char *path, const char **seg,
                              size_t *seglen)
{
    size_t len = strlen(path);

    *seglen = 0;
    while (len > 0 && path[len - 1] == '/')
        len--;
    if (len == 0)
        return NULL;
    *seg = path + 1;
    *seglen = len - 1;
    if (memchr(*seg, '/', *seglen))
        return "path may hold only one segment of a-z 0-9 . _ -";
    return vm_host_check_segment(*seg, *seglen);
}

const char *vm_host_parse_url(const char *url, vm_url *out)
{
    const char *auth, *end, *reason, *seg = NULL;
    char host[VM_KEY_MAX];
    size_t hostlen, seglen;
    unsigned port;
    int n;

    if (!url || !*url)
        return "empty vhostname";
    if (prefix_nocase(url, "https://"))
        out->https = 1, auth = url + 8;
    else if (prefix_nocase(url, "http://"))
        out->https = 0, auth = url + 7;
    else
        return "vhostname must start with http:// or https://";
    end = auth + strcspn(auth, "/?#@");
    if (*end == '@')
        return "user information in vhostname";
    if (*end == '?' || *end == '#')
        return "query or fragment in vhostname";
    if ((reason = parse_path(end, &seg, &seglen)) != NULL)
        return reason;
    reason = canon_hostport(auth, (size_t)(end - auth), host, sizeof host,
                            &hostlen, &port);
    if (!reason)
        reason = make_key(host, hostlen, port, out->https, out->key,
                          VM_HOSTKEY_MAX, &out->port);
    if (reason)
        return reason;
    out->hostlen = strlen(out->key);
    if (seglen) {
        out->key[out->hostlen] = '/';
        memcpy(out->key + out->hostlen + 1, seg, seglen);
        out->key[out->hostlen + 1 + seglen] = '\0';
    }
    n = snprintf(out->wwwroot, sizeof out->wwwroot, "%s://%s",
                 out->https ? "https" : "http", out->key);
    return (n < 0 || (size_t)n >= sizeof out->wwwroot) ? "host too long" : NULL;
}
