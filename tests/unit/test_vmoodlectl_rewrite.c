/* vmc_replace_all, which makes a template's config values the new site's:
 * one pass (a replacement is never replaced again), the longest name wins
 * where two start at one place, empty names ignored; and vmc_random_text,
 * the random part of a new siteidentifier. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include "rewrite.h"
#include "util.h"

static apr_pool_t *pool;

static const char *const from[] = { "http://site1.test", "/data/site1", "",
                                    "site1.test" };
static const char *const to[] = { "https://www.site1.test:8443",
                                  "/data/www_site1", "", "www.site1.test" };

static const char *replaced(const char *text)
{
    return vmc_replace_all(text, 4, from, to, pool);
}

static void test_each_name(void **state)
{
    (void)state;
    assert_string_equal(replaced("noreply@site1.test"),
                        "noreply@www.site1.test");
    assert_string_equal(replaced("/data/site1/geoip/GeoLite2-City.mmdb"),
                        "/data/www_site1/geoip/GeoLite2-City.mmdb");
    assert_string_equal(replaced("http://site1.test/login"),
                        "https://www.site1.test:8443/login");
}

/* The new host holds the old one: replacing it again would grow it. */
static void test_one_pass(void **state)
{
    (void)state;
    assert_string_equal(replaced("site1.test,site1.test"),
                        "www.site1.test,www.site1.test");
    assert_string_equal(replaced("www.site1.test"), "www.www.site1.test");
}

static void test_untouched(void **state)
{
    (void)state;
    assert_string_equal(replaced(""), "");
    assert_string_equal(replaced("site1.tes"), "site1.tes");
    assert_string_equal(replaced("/usr/bin/php"), "/usr/bin/php");
}

static void test_random_text(void **state)
{
    const char *err = NULL, *a = vmc_random_text(32, pool, &err);
    const char *b = vmc_random_text(32, pool, &err);

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a,
                            "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
                     32);
    assert_string_not_equal(a, b);
    assert_string_equal(vmc_random_text(0, pool, &err), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_name),
        cmocka_unit_test(test_one_pass),
        cmocka_unit_test(test_untouched),
        cmocka_unit_test(test_random_text),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
