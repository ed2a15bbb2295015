/* libFuzzer harness: host canonicalisation.
 *
 * Input: one flag byte (bit 0: https), then a request host.  Besides
 * crashes and sanitizer reports it checks the properties routing relies
 * on: a key holds only canonical characters, canonicalising a key gives
 * the key back, and a vhostname "scheme://host" meets the request key of
 * the same host (else an instance could never be reached, or be reached
 * by another name); a vhostname's path is one valid segment. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vm_host.h"

static int key_is_canonical(const char *key)
{
    const char *c;

    for (c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
              || strchr(".-_:[]", *c)))
            return 0;
    return c != key && strlen(key) < VM_KEY_MAX;
}

static void check_request_key(const char *host, size_t len, int https)
{
    char key[VM_KEY_MAX], again[VM_KEY_MAX];

    if (vm_host_request_key(host, len, https, key, sizeof key))
        return;
    if (!key_is_canonical(key))
        abort();
    if (vm_host_request_key(key, strlen(key), https, again, sizeof again)
        || strcmp(key, again) != 0)
        abort();
}

/* "http(s)://" + host parsed as a vhostname must agree with the request
 * key of host, for hosts the URL parser takes whole. */
static void check_url_agrees(const char *host, size_t len, int https)
{
    const char *scheme = https ? "https://" : "http://";
    char key[VM_KEY_MAX];
    char *url;
    const char *url_why, *key_why;
    vm_url u;
    size_t i;

    for (i = 0; i < len; i++)
        if (host[i] == '\0' || strchr("/?#@", host[i]))
            return;
    url = malloc(strlen(scheme) + len + 1);
    if (!url)
        return;
    strcpy(url, scheme);
    memcpy(url + strlen(scheme), host, len);
    url[strlen(scheme) + len] = '\0';
    url_why = vm_host_parse_url(url, &u);
    key_why = vm_host_request_key(host, len, https, key, sizeof key);
    if ((url_why == NULL) != (key_why == NULL))
        abort();
    if (!url_why
        && (strcmp(u.key, key) != 0 || u.https != https
            || strcmp(u.wwwroot + strlen(scheme), key) != 0))
        abort();
    free(url);
}

/* The input as a vhostname, NUL-terminated, whatever it holds. */
static void check_url(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    vm_url u;

    if (!url)
        return;
    memcpy(url, data, size);
    url[size] = '\0';
    if (!vm_host_parse_url(url, &u)) {
        /* the host part is a request key; a site under a path has one
         * valid segment after it */
        char key[VM_KEY_MAX], host[VM_KEY_MAX];
        const char *seg = u.key + u.hostlen;
        memcpy(host, u.key, u.hostlen);
        host[u.hostlen] = '\0';
        if (!key_is_canonical(host)
            || vm_host_request_key(host, u.hostlen, u.https, key, sizeof key)
            || strcmp(key, host) != 0
            || (*seg
                && (*seg != '/'
                    || vm_host_check_segment(seg + 1, strlen(seg + 1))))
            || strcmp(vm_host_key_path(u.key), seg) != 0)
            abort();
    }
    free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *host;
    int https;

    if (size < 1)
        return 0;
    https = data[0] & 1;
    /* An exact-size copy, not NUL-terminated: reading past len is a bug
     * that AddressSanitizer reports. */
    host = malloc(size - 1 ? size - 1 : 1);
    if (!host)
        return 0;
    memcpy(host, data + 1, size - 1);
    check_request_key(host, size - 1, https);
    check_url_agrees(host, size - 1, https);
    free(host);
    check_url(data + 1, size - 1);
    return 0;
}
