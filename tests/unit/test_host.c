/* Host canonicalisation: the key from an instance's vhostname and the key
 * from a request's Host must meet exactly when they name the same site. */
#include "testutil.h"
#include "vm_hash.h"
#include "vm_host.h"

typedef struct {
    const char *in;
    const char *key; /* expected key; NULL: must be rejected */
} url_case;

typedef struct {
    const char *in;
    int https;
    const char *key;
} req_case;

static void check_urls(const url_case *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        vm_url u;
        const char *why = vm_host_parse_url(c[i].in, &u);

        if (c[i].key) {
            if (why)
                fail_msg("%s rejected: %s", c[i].in, why);
            assert_string_equal(u.key, c[i].key);
        } else if (!why) {
            fail_msg("%s accepted as %s", c[i].in, u.key);
        }
    }
}

static void check_requests(const req_case *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char key[VM_KEY_MAX], again[VM_KEY_MAX];
        size_t keylen;
        uint32_t hash;
        const char *why = vm_host_request_key_hashed(c[i].in, strlen(c[i].in),
                                                     c[i].https, key,
                                                     sizeof key, &keylen,
                                                     &hash);

        /* the hash made on the way is the snapshot index's */
        assert_ptr_equal(why,
                         vm_host_request_key(c[i].in, strlen(c[i].in),
                                             c[i].https, again, sizeof again));
        if (c[i].key) {
            if (why)
                fail_msg("%s rejected: %s", c[i].in, why);
            assert_string_equal(key, c[i].key);
            assert_int_equal(keylen, strlen(key));
            assert_int_equal(hash, vm_hash_key(key, keylen));
        } else if (!why) {
            fail_msg("%s accepted as %s", c[i].in, key);
        }
    }
}

#define CHECK_URLS(a) check_urls(a, sizeof a / sizeof a[0])
#define CHECK_REQUESTS(a) check_requests(a, sizeof a / sizeof a[0])

static void url_lower_cases_and_builds_wwwroot(void **state)
{
    vm_url u;

    (void)state;
    assert_null(vm_host_parse_url("https://Site1.Example.EDU/", &u));
    assert_string_equal(u.key, "site1.example.edu");
    assert_string_equal(u.wwwroot, "https://site1.example.edu");
    assert_int_equal(u.https, 1);
    assert_int_equal(u.port, 0);
    assert_null(vm_host_parse_url("http://A.b:8080", &u));
    assert_string_equal(u.key, "a.b:8080");
    assert_string_equal(u.wwwroot, "http://a.b:8080");
    assert_int_equal(u.https, 0);
    assert_int_equal(u.port, 8080);
}

static void url_default_ports_dropped(void **state)
{
    static const url_case c[] = {
        { "http://a.example:80", "a.example" },
        { "https://a.example:443/", "a.example" },
        { "http://a.example:443", "a.example:443" },
        { "https://a.example:80", "a.example:80" },
        { "https://a.example:8443", "a.example:8443" },
        { "http://a.example:00080", "a.example" },
        { "https://a.example:65535", "a.example:65535" },
        { "https://a.example:1", "a.example:1" },
    };
    vm_url u;

    (void)state;
    CHECK_URLS(c);
    assert_null(vm_host_parse_url("https://a.example:443", &u));
    assert_int_equal(u.port, 0);
    assert_string_equal(u.wwwroot, "https://a.example");
}

static void url_trailing_dot_and_slashes(void **state)
{
    static const url_case c[] = {
        { "https://a.example./", "a.example" },
        { "https://a.example.:8443/", "a.example:8443" },
        { "https://a.example//", "a.example" },
        { "https://a.example///", "a.example" },
        { "https://a.example", "a.example" },
        { "https://a.example..", NULL },
        { "https://a.example/moodle", "a.example/moodle" },
        { "https://a.example/moodle/", "a.example/moodle" },
        { "https://A.example:8443/s-1.x_y//", "a.example:8443/s-1.x_y" },
        { "https://a.example//x", NULL },
        { "https://a.example/a/b", NULL },
        { "https://a.example/School1", NULL },
        { "https://a.example/..", NULL },
        { "https://a.example/./", NULL },
        { "https://a.example/sch%6fol", NULL },
        { "https://a.example/"
          "0123456789012345678901234567890123456789012345678901234567890123",
          NULL },
    };

    (void)state;
    CHECK_URLS(c);
}

static void url_schemes(void **state)
{
    static const url_case c[] = {
        { "HTTPS://a.example", "a.example" },
        { "Http://a.example", "a.example" },
        { "ftp://a.example", NULL },
        { "a.example", NULL },
        { "//a.example", NULL },
        { "https:/a.example", NULL },
        { "https:a.example", NULL },
        { "httpss://a.example", NULL },
        { "https://", NULL },
        { "https:///", NULL },
        { "", NULL },
    };
    vm_url u;

    (void)state;
    CHECK_URLS(c);
    assert_null(vm_host_parse_url("HTTPS://a.example", &u));
    assert_int_equal(u.https, 1);
    assert_string_equal(u.wwwroot, "https://a.example");
    assert_non_null(vm_host_parse_url(NULL, &u));
}

static void url_user_query_fragment(void **state)
{
    static const url_case c[] = {
        { "https://user@a.example/", NULL },
        { "https://user:pw@a.example", NULL },
        { "https://a.example?x=1", NULL },
        { "https://a.example/?x=1", NULL },
        { "https://a.example#top", NULL },
        { "https://a.example/#top", NULL },
        { "https://a.example:8443?x", NULL },
    };
    vm_url u;

    (void)state;
    CHECK_URLS(c);
    assert_non_null(
        strstr(vm_host_parse_url("https://u@a.example", &u), "user"));
    assert_non_null(
        strstr(vm_host_parse_url("https://a.example?q", &u), "query"));
    assert_non_null(
        strstr(vm_host_parse_url("https://a.example/a/b", &u), "path"));
}

/* A site under a path: the key and wwwroot carry it, hostlen ends the
 * host. */
static void url_path_site(void **state)
{
    vm_url u;

    (void)state;
    assert_null(vm_host_parse_url("HTTPS://Example.EDU:443/school1/", &u));
    assert_string_equal(u.key, "example.edu/school1");
    assert_string_equal(u.wwwroot, "https://example.edu/school1");
    assert_int_equal(u.hostlen, strlen("example.edu"));
    assert_string_equal(vm_host_key_path(u.key), "/school1");
    assert_string_equal(vm_host_key_path("example.edu"), "");
    assert_null(vm_host_check_segment("a.b_c-1", 7));
    assert_non_null(vm_host_check_segment("..", 2));
    assert_non_null(vm_host_check_segment("", 0));
    assert_non_null(vm_host_check_segment("a\0b", 3));
}

static void url_ipv6(void **state)
{
    static const url_case c[] = {
        { "https://[::1]/", "[::1]" },
        { "http://[2001:DB8::A]:8080/", "[2001:db8::a]:8080" },
        { "https://[2001:db8::1]:443", "[2001:db8::1]" },
        { "https://[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]" },
        /* one standard form: the same address always meets */
        { "https://[0:0::1]", "[::1]" },
        { "https://[2001:0DB8:0000:0000:0000:0000:0000:0001]",
          "[2001:db8::1]" },
        { "https://[::g]", NULL },
        { "https://[1:2:3:4:5:6:7:8:9]", NULL },
        { "https://[::1", NULL },
        { "https://[::1]x", NULL },
        { "https://[]", NULL },
        { "https://[::1]:", NULL },
        { "https://::1", NULL },
        { "https://[fe80::1%eth0]", NULL },
        { "https://[192.0.2.1]", NULL },
    };

    (void)state;
    CHECK_URLS(c);
}

static void url_ipv4(void **state)
{
    static const url_case c[] = {
        { "http://192.0.2.1:8080", "192.0.2.1:8080" },
        { "https://127.0.0.1", "127.0.0.1" },
    };

    (void)state;
    CHECK_URLS(c);
}

static void request_case_ports_dot(void **state)
{
    static const req_case c[] = {
        { "Site1.Example.EDU", 1, "site1.example.edu" },
        { "site1.example.edu:443", 1, "site1.example.edu" },
        { "site1.example.edu:443", 0, "site1.example.edu:443" },
        { "site1.example.edu:80", 0, "site1.example.edu" },
        { "site1.example.edu:80", 1, "site1.example.edu:80" },
        { "site1.example.edu.:8080", 0, "site1.example.edu:8080" },
        { "site1.example.edu.", 0, "site1.example.edu" },
        { "under_score.example", 0, "under_score.example" },
        { "[::1]:443", 1, "[::1]" },
        { "[0000::0001]", 0, "[::1]" },
        { "[2001:DB8::1]:8443", 1, "[2001:db8::1]:8443" },
        { "[::1]x", 1, NULL },
        { "::1", 0, NULL },
        { "", 0, NULL },
        { ":80", 0, NULL },
        { ".", 0, NULL },
    };

    (void)state;
    CHECK_REQUESTS(c);
}

static void request_invalid_characters(void **state)
{
    static const req_case c[] = {
        { "a b.example", 0, NULL },
        { "a/b.example", 0, NULL },
        { "a.example/", 0, NULL },
        { "a\\b.example", 0, NULL },
        { "caf\xc3\xa9.example", 0, NULL },
        { "a%2eb.example", 0, NULL },
        { "a.example\r\n", 0, NULL },
        { "a.example\t", 0, NULL },
        { "a@b.example", 0, NULL },
        { "a\"b.example", 0, NULL },
        { "<script>", 0, NULL },
    };
    char key[VM_KEY_MAX];

    (void)state;
    CHECK_REQUESTS(c);
    /* a NUL inside the length: the host must not be cut short there */
    assert_non_null(
        vm_host_request_key("a.example\0.evil", 15, 0, key, sizeof key));
    assert_non_null(vm_host_request_key("a\0", 2, 0, key, sizeof key));
    assert_non_null(vm_host_request_key(NULL, 0, 0, key, sizeof key));
    /* only len bytes are read */
    assert_null(
        vm_host_request_key("a.example:8080 junk", 14, 0, key, sizeof key));
    assert_string_equal(key, "a.example:8080");
}

static void empty_labels(void **state)
{
    static const req_case c[] = {
        { "a..example", 0, NULL },           { ".a.example", 0, NULL },
        { "a.example..", 0, NULL },          { "..", 0, NULL },
        { "a.example.:80", 0, "a.example" }, { "a.example..:80", 0, NULL },
    };

    (void)state;
    CHECK_REQUESTS(c);
}

static char *repeat(apr_pool_t *p, char c, size_t n)
{
    char *s = apr_palloc(p, n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void label_and_host_lengths(void **state)
{
    apr_pool_t *p = *state;
    const char *l63 = repeat(p, 'a', 63), *l61 = repeat(p, 'b', 61);
    const char *h253 = apr_pstrcat(p, l63, ".", l63, ".", l63, ".", l61, NULL);
    const char *h255 = apr_pstrcat(p, h253, ".b", NULL);
    char key[VM_KEY_MAX];
    vm_url u;

    assert_int_equal(strlen(h253), 253);
    assert_null(
        vm_host_parse_url(apr_pstrcat(p, "https://", l63, ".example", NULL),
                          &u));
    assert_non_null(
        vm_host_parse_url(apr_pstrcat(p, "https://", l63, "a.ex", NULL), &u));
    assert_null(
        vm_host_parse_url(apr_pstrcat(p, "http://", h253, ".:65535/", NULL),
                          &u));
    assert_string_equal(u.key, apr_pstrcat(p, h253, ":65535", NULL));
    assert_string_equal(u.wwwroot,
                        apr_pstrcat(p, "http://", h253, ":65535", NULL));
    assert_non_null(
        vm_host_parse_url(apr_pstrcat(p, "https://", h255, NULL), &u));
    assert_null(vm_host_request_key(h253, 253, 0, key, sizeof key));
    assert_non_null(vm_host_request_key(h255, 255, 0, key, sizeof key));
    assert_non_null(
        vm_host_request_key(repeat(p, 'a', 5000), 5000, 0, key, sizeof key));
    /* a label too long is named so wherever it ends: a dot, the end, a
     * character no name has (a request's reason in VM00015) */
    assert_string_equal(vm_host_request_key(apr_pstrcat(p, l63, "a.ex", NULL),
                                            68, 0, key, sizeof key),
                        "host label longer than 63 characters");
    assert_string_equal(vm_host_request_key(apr_pstrcat(p, "x.", l63, "a",
                                                        NULL),
                                            66, 0, key, sizeof key),
                        "host label longer than 63 characters");
    assert_string_equal(vm_host_request_key(apr_pstrcat(p, l63, "a!", NULL), 65,
                                            0, key, sizeof key),
                        "host label longer than 63 characters");
    assert_string_equal(vm_host_request_key(apr_pstrcat(p, l63, "!", NULL), 64,
                                            0, key, sizeof key),
                        "invalid character in host");
    /* the caller's buffer bounds the key */
    assert_non_null(vm_host_request_key("a.example", 9, 0, key, 5));
    assert_null(vm_host_request_key("a.example", 9, 0, key, 10));
}

static void ports(void **state)
{
    static const req_case c[] = {
        { "a.example:0", 0, NULL },
        { "a.example:65536", 0, NULL },
        { "a.example:99999", 0, NULL },
        { "a.example:123456", 0, NULL },
        { "a.example:http", 0, NULL },
        { "a.example:8o", 0, NULL },
        { "a.example:", 0, NULL },
        { "a.example:+80", 0, NULL },
        { "a.example:-1", 0, NULL },
        { "a.example:80:80", 0, NULL },
        { "a.example: 80", 0, NULL },
        { "a.example:65535", 0, "a.example:65535" },
        { "a.example:1", 0, "a.example:1" },
    };

    (void)state;
    CHECK_REQUESTS(c);
}

/* The key of an instance URL and the key of a request for the same site
 * are the same string; a different port or host is another site. */
static void url_and_request_keys_meet(void **state)
{
    static const struct {
        const char *url, *host;
        int https, same;
    } c[] = {
        { "https://Site1.Example.edu/", "site1.example.EDU", 1, 1 },
        { "https://Site1.Example.edu/", "site1.example.edu:443", 1, 1 },
        { "https://site1.example.edu.", "SITE1.example.edu", 1, 1 },
        { "http://a.example:8080//", "A.EXAMPLE.:8080", 0, 1 },
        { "https://[::1]:8443", "[::1]:8443", 1, 1 },
        { "https://[2001:db8::1]", "[2001:DB8::1]:443", 1, 1 },
        { "https://a.example:8443", "a.example", 1, 0 },
        { "https://a.example", "a.example:8443", 1, 0 },
        { "http://a.example", "a.example:443", 0, 0 },
        { "https://a.example", "b.example", 1, 0 },
        { "https://a.example", "a.example.org", 1, 0 },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        vm_url u;
        char key[VM_KEY_MAX];

        assert_null(vm_host_parse_url(c[i].url, &u));
        assert_null(vm_host_request_key(c[i].host, strlen(c[i].host),
                                        c[i].https, key, sizeof key));
        if ((strcmp(u.key, key) == 0) != c[i].same)
            fail_msg("%s vs %s: keys %s and %s", c[i].url, c[i].host, u.key,
                     key);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(url_lower_cases_and_builds_wwwroot),
        TU_TEST(url_default_ports_dropped),
        TU_TEST(url_trailing_dot_and_slashes),
        TU_TEST(url_schemes),
        TU_TEST(url_user_query_fragment),
        TU_TEST(url_path_site),
        TU_TEST(url_ipv6),
        TU_TEST(url_ipv4),
        TU_TEST(request_case_ports_dot),
        TU_TEST(request_invalid_characters),
        TU_TEST(empty_labels),
        TU_TEST(label_and_host_lengths),
        TU_TEST(ports),
        TU_TEST(url_and_request_keys_meet),
    };

    return TU_RUN(tests);
}
