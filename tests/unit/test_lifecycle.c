/* The lifecycle commands' pure parts: CSV lines (deploy --from-csv),
 * quota sizes, backup folder names (vmoodlectl/csv.c, quota.c,
 * lifecycle.c). */
#include "testutil.h"
#include "csv.h"
#include "lifecycle.h"
#include "quota.h"

static const char *joined(const char *line, int max, apr_pool_t *p)
{
    const char *f[8], *why, *out = "";
    int n;

    if ((why = vmc_csv_split(line, max, f, &n, p)) != NULL)
        return apr_pstrcat(p, "error: ", why, NULL);
    for (int i = 0; i < n; i++)
        out = apr_pstrcat(p, out, i ? "|" : "", f[i], NULL);
    return out;
}

static void test_csv(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(joined("a,b,c", 6, p), "a|b|c");
    assert_string_equal(joined("a,,c,", 6, p), "a||c|");
    assert_string_equal(joined("", 6, p), "");
    assert_string_equal(joined("\"x, y\",\"say \"\"hi\"\"\"", 6, p),
                        "x, y|say \"hi\"");
    assert_string_equal(joined("\"\"", 6, p), "");
    assert_string_equal(joined("a,b,c", 2, p), "error: too many fields");
    assert_string_equal(joined("\"open,b", 6, p),
                        "error: a quoted field is not closed where it should "
                        "be");
    assert_string_equal(joined("\"a\"b,c", 6, p),
                        "error: a quoted field is not closed where it should "
                        "be");
}

static void test_sizes(void **state)
{
    uint64_t b = 0;

    (void)state;
    assert_int_equal(vmc_size_parse("1024", &b), 0);
    assert_int_equal(b, 1024);
    assert_int_equal(vmc_size_parse("5G", &b), 0);
    assert_int_equal(b, 5ULL << 30);
    assert_int_equal(vmc_size_parse("2MiB", &b), 0);
    assert_int_equal(b, 2ULL << 20);
    assert_int_equal(vmc_size_parse("3kb", &b), 0);
    assert_int_equal(b, 3072);
    assert_int_equal(vmc_size_parse("1T", &b), 0);
    assert_int_equal(b, 1ULL << 40);
    assert_int_equal(vmc_size_parse("", &b), -1);
    assert_int_equal(vmc_size_parse("-1G", &b), -1);
    assert_int_equal(vmc_size_parse("5X", &b), -1);
    assert_int_equal(vmc_size_parse("5 G", &b), -1);
    assert_int_equal(vmc_size_parse("99999999999T", &b), -1);
}

static void test_backup_names(void **state)
{
    (void)state;
    assert_true(vmc_backup_name_ok("20261207T081500Z"));
    assert_true(vmc_backup_name_ok("20261207T081500Z-02"));
    assert_false(vmc_backup_name_ok(".partial-20261207T081500Z"));
    assert_false(vmc_backup_name_ok("20261207T081500"));
    assert_false(vmc_backup_name_ok("20261207T081500Z-2"));
    assert_false(vmc_backup_name_ok("20261207T081500Zx"));
    assert_false(vmc_backup_name_ok("2026120XT081500Z"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(test_csv),
        TU_TEST(test_sizes),
        TU_TEST(test_backup_names),
    };
    return TU_RUN(tests);
}
