/* Validation of one row: every rule of vm_instance_from_row, and the
 * reasons it gives (they name the column, for the administrator). */
#include "testutil.h"
#include "vm_instance.h"

/* Validate the valid row with column f set to value (or left out when
 * absent); returns the reason or NULL, filling *in. */
static const char *with_value(apr_pool_t *p, vm_field f, const char *value,
                              int absent, vm_instance *in)
{
    vm_row row;

    tu_valid_row(&row, 7, p);
    if (absent)
        row.present[f] = 0, row.value[f] = NULL;
    else
        vm_row_set(&row, f, value);
    return vm_instance_from_row(in, &row, p);
}

static void expect_reject(apr_pool_t *p, vm_field f, const char *value,
                          const char *words)
{
    vm_instance in;
    const char *why = with_value(p, f, value, 0, &in);

    if (!why)
        fail_msg("%s = '%s' accepted", vm_field_names[f], value);
    if (!strstr(why, vm_field_names[f]) || (words && !strstr(why, words)))
        fail_msg("%s = '%s': reason '%s' should name the column and say '%s'",
                 vm_field_names[f], value, why, words ? words : "");
}

static vm_instance expect_accept(apr_pool_t *p, vm_field f, const char *value)
{
    vm_instance in;
    const char *why = with_value(p, f, value, 0, &in);

    if (why)
        fail_msg("%s = '%s' rejected: %s", vm_field_names[f], value, why);
    return in;
}

typedef struct {
    const char *in, *out;
} in_out;

/* Column f accepts every ok[].in, canonicalised to ok[].out in the
 * instance's string at offset member, and refuses every bad[]. */
static void check_column(apr_pool_t *p, vm_field f, size_t member,
                         const in_out *ok, size_t nok, const char *const *bad,
                         size_t nbad)
{
    size_t i;

    for (i = 0; i < nok; i++) {
        vm_instance in = expect_accept(p, f, ok[i].in);
        assert_string_equal(*(const char **)((char *)&in + member), ok[i].out);
    }
    for (i = 0; i < nbad; i++)
        expect_reject(p, f, bad[i], NULL);
}

#define CHECK_COLUMN(p, f, member, ok, bad)               \
    check_column(p, f, offsetof(vm_instance, member), ok, \
                 sizeof ok / sizeof ok[0], bad, sizeof bad / sizeof bad[0])

static void valid_row_copies_every_field(void **state)
{
    apr_pool_t *p = *state;
    vm_row row;
    vm_instance in;

    tu_valid_row(&row, 42, p);
    vm_row_set(&row, VM_F_VHOSTNAME, "https://Site42.Example.edu:8443/");
    vm_row_set(&row, VM_F_VDBPERSIST, "1");
    vm_row_set(&row, VM_F_MNET, "3");
    vm_row_set(&row, VM_F_ENABLED, "0");
    vm_row_set(&row, VM_F_CRONCOUNT, "12");
    vm_row_set(&row, VM_F_LASTCRON, "1700000000");
    vm_row_set(&row, VM_F_LASTCRONGAP, "61");
    assert_null(vm_instance_from_row(&in, &row, p));
    assert_int_equal(in.id, 42);
    assert_string_equal(in.name, "Site 42");
    assert_string_equal(in.shortname, "site42");
    assert_string_equal(in.vhostname, "https://Site42.Example.edu:8443/");
    assert_string_equal(in.key, "site42.example.edu:8443");
    assert_string_equal(in.wwwroot, "https://site42.example.edu:8443");
    assert_string_equal(in.dbtype, "pgsql");
    assert_string_equal(in.dbhost, "db.example.edu");
    assert_string_equal(in.dblogin, "moodle");
    assert_string_equal(in.dbpass, "secret");
    assert_string_equal(in.dbname, "moodle42");
    assert_string_equal(in.dbprefix, "mdl_");
    assert_string_equal(in.datapath, "/var/moodledata/site42");
    assert_int_equal(in.dbpersist, 1);
    assert_int_equal(in.mnet, 3);
    assert_int_equal(in.enabled, 0);
    assert_int_equal(in.croncount, 12);
    assert_int_equal(in.lastcron, 1700000000);
    assert_int_equal(in.lastcrongap, 61);
}

/* A JSON key left out takes VMoodle's column default. */
static void absent_columns_take_defaults(void **state)
{
    apr_pool_t *p = *state;
    vm_row row;
    vm_instance in;

    memset(&row, 0, sizeof row);
    vm_row_set(&row, VM_F_ID, "1");
    vm_row_set(&row, VM_F_VHOSTNAME, "http://a.example");
    vm_row_set(&row, VM_F_VDBNAME, "a");
    vm_row_set(&row, VM_F_VDATAPATH, "/srv/a");
    assert_null(vm_instance_from_row(&in, &row, p));
    assert_string_equal(in.name, "");
    assert_string_equal(in.shortname, "");
    assert_string_equal(in.dbtype, "mysqli");
    assert_string_equal(in.dbhost, "localhost");
    assert_string_equal(in.dblogin, "");
    assert_string_equal(in.dbpass, "");
    assert_string_equal(in.dbprefix, "mdl_");
    assert_int_equal(in.dbpersist, 0);
    assert_int_equal(in.mnet, -1);
    assert_int_equal(in.enabled, 1);
    assert_int_equal(in.croncount, 0);
    assert_int_equal(in.lastcron, 0);
    assert_int_equal(in.lastcrongap, 0);
}

static void required_missing_or_null(void **state)
{
    static const vm_field required[] = { VM_F_ID, VM_F_VHOSTNAME, VM_F_VDBNAME,
                                         VM_F_VDATAPATH };
    apr_pool_t *p = *state;
    vm_instance in;
    size_t i;
    int f;

    for (i = 0; i < sizeof required / sizeof required[0]; i++) {
        const char *why = with_value(p, required[i], NULL, 1, &in);
        assert_non_null(why);
        assert_non_null(strstr(why, vm_field_names[required[i]]));
        assert_non_null(strstr(why, "missing"));
    }
    /* NULL (SQL NULL, JSON null) reads as the default in the columns
     * VMoodle leaves nullable, and is refused in every other one */
    for (f = 0; f < VM_F_COUNT; f++) {
        const char *why = with_value(p, (vm_field)f, NULL, 0, &in);
        int nullable = f == VM_F_NAME || f == VM_F_SHORTNAME
            || f == VM_F_VDBLOGIN || f == VM_F_VDBPASS || f == VM_F_CRONCOUNT
            || f == VM_F_LASTCRON || f == VM_F_LASTCRONGAP || f == VM_F_PLATFORM
            || f == VM_F_ALIASES;

        if (nullable ? why != NULL
                     : !why || !strstr(why, vm_field_names[f])
                    || !strstr(why, "NULL"))
            fail_msg("%s NULL: %s", vm_field_names[f], why ? why : "accepted");
    }
    assert_null(with_value(p, VM_F_VDBPASS, NULL, 0, &in));
    assert_string_equal(in.dbpass, "");
    assert_null(with_value(p, VM_F_LASTCRON, NULL, 0, &in));
    assert_int_equal(in.lastcron, 0);
}

static void control_characters(void **state)
{
    static const char *const bad[] = { "a\nb",     "a\rb",  "a\tb",
                                       "\x1b[31m", "a\x7f", "\x01" };
    apr_pool_t *p = *state;
    size_t i;
    int f;

    for (f = 0; f < VM_F_COUNT; f++)
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
            expect_reject(p, (vm_field)f, bad[i], NULL);
    expect_reject(p, VM_F_NAME, "x\ny", "control");
    expect_reject(p, VM_F_VDBPASS, "pw\n", "control");
    /* UTF-8 in a display name is fine */
    assert_string_equal(expect_accept(p, VM_F_NAME, "Universit\xc3\xa9").name,
                        "Universit\xc3\xa9");
}

static void overlong_value(void **state)
{
    apr_pool_t *p = *state;
    char *s = apr_palloc(p, 5000);

    memset(s, 'x', 4999);
    s[4999] = '\0';
    expect_reject(p, VM_F_NAME, s, "too long");
    expect_reject(p, VM_F_VDBPASS, s, "too long");
}

static void numbers(void **state)
{
    static const struct {
        vm_field f;
        const char *value;
        int ok;
    } c[] = {
        { VM_F_ID, "1", 1 },
        { VM_F_ID, "9007199254740991", 1 },
        { VM_F_ID, "0", 0 },
        { VM_F_ID, "-3", 0 },
        { VM_F_ID, "9007199254740992", 0 },
        { VM_F_ID, "99999999999999999999999", 0 },
        { VM_F_ID, "1.5", 0 },
        { VM_F_ID, "1e3", 0 },
        { VM_F_ID, "abc", 0 },
        { VM_F_ID, "", 0 },
        { VM_F_ID, "12abc", 0 },
        { VM_F_ID, "0x10", 0 },
        { VM_F_ENABLED, "0", 1 },
        { VM_F_ENABLED, "1", 1 },
        { VM_F_ENABLED, "2", 0 },
        { VM_F_ENABLED, "-1", 0 },
        { VM_F_ENABLED, "yes", 0 },
        { VM_F_ENABLED, "true", 0 },
        { VM_F_VDBPERSIST, "1", 1 },
        { VM_F_VDBPERSIST, "2", 0 },
        { VM_F_MNET, "-1", 1 },
        { VM_F_MNET, "0", 1 },
        { VM_F_MNET, "2147483647", 1 },
        { VM_F_MNET, "2147483648", 0 },
        { VM_F_MNET, "-2", 0 },
        { VM_F_CRONCOUNT, "0", 1 },
        { VM_F_CRONCOUNT, "-1", 0 },
        { VM_F_LASTCRON, "1700000000", 1 },
        { VM_F_LASTCRON, "-5", 0 },
        { VM_F_LASTCRONGAP, "x", 0 },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        if (c[i].ok)
            expect_accept(p, c[i].f, c[i].value);
        else
            expect_reject(p, c[i].f, c[i].value, NULL);
    }
    expect_reject(p, VM_F_ID, "abc", "not an integer");
    expect_reject(p, VM_F_ENABLED, "2", "out of range");
    /* one spelling per number: no blanks, no plus sign */
    expect_reject(p, VM_F_ID, " 7", "not an integer");
    expect_reject(p, VM_F_ID, "+7", "not an integer");
    expect_reject(p, VM_F_MNET, "-", "not an integer");
    assert_int_equal(expect_accept(p, VM_F_ID, "9007199254740991").id,
                     9007199254740991LL);
    assert_int_equal(expect_accept(p, VM_F_MNET, "-1").mnet, -1);
}

static void dbtypes(void **state)
{
    static const in_out ok[] = {
        { "pgsql", "pgsql" },     { "postgres", "pgsql" },
        { "PGSQL", "pgsql" },     { "Postgres", "pgsql" },
        { "mariadb", "mariadb" }, { "mysqli", "mysqli" },
        { "MySQLi", "mysqli" },
    };
    static const char *const bad[] = { "mysql",  "postgresql", "sqlite3", "oci",
                                       "sqlsrv", "",           "pgsql " };

    CHECK_COLUMN(*state, VM_F_VDBTYPE, dbtype, ok, bad);
}

static void dbname_and_prefix(void **state)
{
    static const char *const bad_prefix[] = { "mdl-",  "a b", "x;drop",
                                              "mdl_'", "m.d", "\xc3\xa9_" };
    apr_pool_t *p = *state;
    size_t i;

    expect_reject(p, VM_F_VDBNAME, "", "empty");
    for (i = 0; i < sizeof bad_prefix / sizeof bad_prefix[0]; i++)
        expect_reject(p, VM_F_VDBPREFIX, bad_prefix[i], NULL);
    assert_string_equal(expect_accept(p, VM_F_VDBPREFIX, "Site_2_").dbprefix,
                        "Site_2_");
}

static void dataroots(void **state)
{
    static const in_out ok[] = {
        { "/var/moodledata/a", "/var/moodledata/a" },
        { "/var/moodledata/a/", "/var/moodledata/a" },
        { "/var/moodledata/a///", "/var/moodledata/a" },
        { "/srv/a..b", "/srv/a..b" },
        { "/srv/..a/b..", "/srv/..a/b.." },
        { "/srv/./a", "/srv/./a" },
        { "/a", "/a" },
    };
    static const char *const bad[] = {
        "var/moodledata",
        "./data",
        "../data",
        "",
        "~/data",
        "/srv/../etc",
        "/srv/a/..",
        "/srv/a/../",
        "/..",
        "/../x",
        "/",
        "//",
        "///",
    };
    apr_pool_t *p = *state;

    CHECK_COLUMN(p, VM_F_VDATAPATH, datapath, ok, bad);
    expect_reject(p, VM_F_VDATAPATH, "data", "absolute");
    expect_reject(p, VM_F_VDATAPATH, "/a/../b", "..");
    expect_reject(p, VM_F_VDATAPATH, "/", "root");
}

static void bad_vhostname_names_the_column(void **state)
{
    apr_pool_t *p = *state;

    expect_reject(p, VM_F_VHOSTNAME, "", NULL);
    expect_reject(p, VM_F_VHOSTNAME, "site.example.edu", "http");
    expect_reject(p, VM_F_VHOSTNAME, "https://a.example/a/b", "path");
    expect_reject(p, VM_F_VHOSTNAME, "https://a.example/A", "path");
    expect_reject(p, VM_F_VHOSTNAME, "https://a b.example", "invalid");
}

/* A site under a path; a platform name; aliases made keys, in order. */
static void paths_platforms_aliases(void **state)
{
    apr_pool_t *p = *state;
    vm_instance in = expect_accept(p, VM_F_VHOSTNAME,
                                   "https://Example.edu/school1/");
    static const in_out aliases[] = {
        { "", "" },
        { "  ", "" },
        { "www.site7.example.edu", "www.site7.example.edu " },
        { "http://Old.example.edu:80/, https://x.example.edu:8443/s1",
          "old.example.edu x.example.edu:8443/s1 " },
    };
    static const char *const bad_aliases[] = {
        "user@a.example",
        "https://a.example/a/b",
        "a b a",
        "http://www.site7.example.edu/?q",
        "https://site7.example.edu/",
    };
    static const in_out platforms[] = {
        { "", "" },
        { "4.5.6", "4.5.6" },
        { "Moodle_45-b", "Moodle_45-b" },
    };
    static const char *const bad_platforms[] = {
        "..",
        "a/b",
        "a b",
        "x$",
        "01234567890123456789012345678901234567890123456789012345678901234",
    };

    assert_string_equal(in.key, "example.edu/school1");
    assert_string_equal(in.wwwroot, "https://example.edu/school1");
    assert_string_equal(in.path, "/school1");
    in = expect_accept(p, VM_F_ID, "7");
    assert_string_equal(in.path, "");
    assert_string_equal(in.platform, "");
    assert_string_equal(in.aliases, "");
    check_column(p, VM_F_ALIASES, offsetof(vm_instance, aliases), aliases,
                 sizeof aliases / sizeof aliases[0], bad_aliases,
                 sizeof bad_aliases / sizeof bad_aliases[0]);
    check_column(p, VM_F_PLATFORM, offsetof(vm_instance, platform), platforms,
                 sizeof platforms / sizeof platforms[0], bad_platforms,
                 sizeof bad_platforms / sizeof bad_platforms[0]);
    assert_string_equal(vm_aliases_text("a b ", p), "a b");
    assert_string_equal(vm_aliases_text("", p), "");
}

static void row_error_wins(void **state)
{
    apr_pool_t *p = *state;
    vm_row row;
    vm_instance in;

    tu_valid_row(&row, 3, p);
    row.error = "vdbname is not a scalar";
    assert_string_equal(vm_instance_from_row(&in, &row, p),
                        "vdbname is not a scalar");
}

static void to_row_round_trip(void **state)
{
    apr_pool_t *p = *state;
    vm_row row, back;
    vm_instance in, again;

    tu_valid_row(&row, 9, p);
    vm_row_set(&row, VM_F_VDBTYPE, "postgres");
    vm_row_set(&row, VM_F_MNET, "-1");
    vm_row_set(&row, VM_F_LASTCRON, "1700000123");
    assert_null(vm_instance_from_row(&in, &row, p));
    vm_instance_to_row(&in, &back, p);
    assert_null(vm_instance_from_row(&again, &back, p));
    assert_int_equal(again.id, 9);
    assert_string_equal(again.dbtype, "pgsql");
    assert_string_equal(again.key, in.key);
    assert_string_equal(again.vhostname, in.vhostname);
    assert_string_equal(again.datapath, in.datapath);
    assert_string_equal(again.dbpass, in.dbpass);
    assert_int_equal(again.mnet, -1);
    assert_int_equal(again.lastcron, 1700000123);
}

/* The id a row claims, for rejections and for writes. */
static void row_ids(void **state)
{
    static const struct {
        const char *v;
        long long id;
    } c[] = {
        { "7", 7 },
        { "007", 7 },
        { "9007199254740993", 9007199254740993LL },
        { "0", 0 },
        { "-3", 0 },
        { "+3", 0 },
        { " 3", 0 },
        { "3 ", 0 },
        { "3x", 0 },
        { "", 0 },
        { "99999999999999999999", 0 },
    };
    vm_row row;
    size_t i;

    (void)state;
    memset(&row, 0, sizeof row);
    assert_int_equal(vm_row_id(&row), 0); /* absent */
    vm_row_set(&row, VM_F_ID, NULL);
    assert_int_equal(vm_row_id(&row), 0); /* NULL */
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        vm_row_set(&row, VM_F_ID, c[i].v);
        if (vm_row_id(&row) != c[i].id)
            fail_msg("vm_row_id('%s') = %lld, want %lld", c[i].v,
                     vm_row_id(&row), c[i].id);
    }
}

static void field_names(void **state)
{
    int f;

    (void)state;
    for (f = 0; f < VM_F_COUNT; f++)
        assert_int_equal(vm_field_by_name(vm_field_names[f]), f);
    assert_string_equal(vm_field_names[VM_F_VDATAPATH], "vdatapath");
    assert_int_equal(vm_field_by_name("description"), -1);
    assert_int_equal(vm_field_by_name("ID"), -1);
    assert_int_equal(vm_field_by_name(""), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(valid_row_copies_every_field),
        TU_TEST(absent_columns_take_defaults),
        TU_TEST(required_missing_or_null),
        TU_TEST(control_characters),
        TU_TEST(overlong_value),
        TU_TEST(numbers),
        TU_TEST(dbtypes),
        TU_TEST(dbname_and_prefix),
        TU_TEST(dataroots),
        TU_TEST(bad_vhostname_names_the_column),
        TU_TEST(paths_platforms_aliases),
        TU_TEST(row_error_wins),
        TU_TEST(to_row_round_trip),
        TU_TEST(row_ids),
        TU_TEST(field_names),
    };

    return TU_RUN(tests);
}
