/* Host canonicalisation: one rule for instance URLs and request hosts, so
 * that the key computed from a vhostname and the key computed from a Host
 * header meet.  Key = lower-case host, no trailing dot, ":port" only when the
 * port is not the scheme's default; IPv6 literals keep their brackets. */
#ifndef VM_HOST_H
#define VM_HOST_H

#include <stddef.h>
#include <stdint.h>

#define VM_HOST_MAX 253   /* DNS limit on a name */
#define VM_SEGMENT_MAX 63 /* a path site's one segment */
#define VM_HOSTKEY_MAX (VM_HOST_MAX + 2 + 1 + 5 + 1) /* [host]:port + NUL */
/* host[:port], and "/segment" for a site under a path */
#define VM_KEY_MAX (VM_HOSTKEY_MAX + 1 + VM_SEGMENT_MAX)
#define VM_URL_MAX (8 + VM_KEY_MAX) /* https:// + key */

typedef struct {
    int https;                /* scheme is https */
    unsigned port;            /* explicit port, 0 when absent or default */
    size_t hostlen;           /* key[0..hostlen): host[:port] */
    char key[VM_KEY_MAX];     /* lookup key: host[:port][/segment] */
    char wwwroot[VM_URL_MAX]; /* scheme://key, what Moodle gets as wwwroot */
} vm_url;

/* Parse a vhostname as VMoodle stores it ("https://Site1.Example.edu/",
 * "https://example.edu/school1/" for a site under a path).  Returns NULL
 * on success, else a static reason. */
const char *vm_host_parse_url(const char *url, vm_url *out);

/* A site's path segment: 1 to VM_SEGMENT_MAX of [a-z0-9._-], neither "."
 * nor "..".  NULL, or a static reason. */
const char *vm_host_check_segment(const char *seg, size_t len);

/* The path of key ("/school1"), or "" for a site at a host's root. */
const char *vm_host_key_path(const char *key);

/* Canonicalise a request's host ("Site1.example.edu:8080", "[::1]") for a
 * request made over https (1) or http (0).  Writes the key into
 * key[keysize].  Returns NULL on success, else a static reason. */
const char *vm_host_request_key(const char *hostport, size_t len, int https,
                                char *key, size_t keysize);
/* The same, also giving the key's length and its vm_hash_key (the
 * snapshot index's hash), computed as the key is written: a request's
 * lookup hashes nothing again (vm_snapshot_route_hashed). */
const char *vm_host_request_key_hashed(const char *hostport, size_t len,
                                       int https, char *key, size_t keysize,
                                       size_t *keylen, uint32_t *hash);

/* A TCP port: 1 to 65535 in decimal digits (no sign, no blank), len bytes
 * at s.  NULL, or a static reason. */
const char *vm_host_parse_port(const char *s, size_t len, unsigned *port);

#endif
