/* Host canonicalisation: one rule for instance URLs and request hosts, so
 * that the key computed from a vhostname and the key computed from a Host
 * header meet.  Key = lower-case host, no trailing dot, ":port" only when the
 * port is not the scheme's default; IPv6 literals keep their brackets. */
#ifndef VM_HOST_H
#define VM_HOST_H

#include <stddef.h>

#define VM_HOST_MAX 253          /* DNS limit on a name */
#define VM_KEY_MAX  (VM_HOST_MAX + 2 + 1 + 5 + 1) /* [host]:port + NUL */
#define VM_URL_MAX  (8 + VM_KEY_MAX)             /* https:// + key */

typedef struct {
    int https;                 /* scheme is https */
    unsigned port;             /* explicit port, 0 when absent or default */
    char key[VM_KEY_MAX];      /* lookup key */
    char wwwroot[VM_URL_MAX];  /* scheme://key, what Moodle gets as wwwroot */
} vm_url;

/* Parse a vhostname as VMoodle stores it ("https://Site1.Example.edu/").
 * Returns NULL on success, else a static reason. */
const char *vm_host_parse_url(const char *url, vm_url *out);

/* Canonicalise a request's host ("Site1.example.edu:8080", "[::1]") for a
 * request made over https (1) or http (0).  Writes the key into
 * key[keysize].  Returns NULL on success, else a static reason. */
const char *vm_host_request_key(const char *hostport, size_t len, int https,
                                char *key, size_t keysize);

/* A TCP port: 1 to 65535 in decimal digits (no sign, no blank), len bytes
 * at s.  NULL, or a static reason. */
const char *vm_host_parse_port(const char *s, size_t len, unsigned *port);

#endif
