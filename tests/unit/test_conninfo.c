/* The one masking rule for connection strings (vm_conninfo.h): every form
 * libpq and the MySQL driver read, the password hidden whole; and the
 * source strings built on it (vm_source_mask). */
#include "testutil.h"
#include "vm_conninfo.h"
#include "vm_source.h"

typedef struct {
    const char *in, *out;
} mask_case;

static void check_cases(const mask_case *c, size_t n,
                        const char *(*mask)(const char *, apr_pool_t *),
                        apr_pool_t *p)
{
    for (size_t i = 0; i < n; i++) {
        const char *got = mask(c[i].in, p);

        if (strcmp(got, c[i].out) != 0)
            fail_msg("mask(%s) = %s, want %s", c[i].in, got, c[i].out);
        if (strcasestr(got, "S3cret") || strstr(got, "XYZ")
            || strstr(got, "tail"))
            fail_msg("mask(%s) = %s shows part of the password", c[i].in, got);
    }
}

/* libpq's key=value: bare values with backslash escapes, quoted values,
 * blanks around '=', password first, last or in the middle. */
static void keyword_values(void **state)
{
    static const mask_case c[] = {
        { "password=Sup3r\\ S3cret-tail", "password=***" },
        { "host=db password=Sup3r\\ S3cret-tail dbname=m",
          "host=db password=*** dbname=m" },
        { "password=abc\"XYZ", "password=***" },
        { "password=abc\"XYZ host=db", "password=*** host=db" },
        { "password=S3cret host=db user=u", "password=*** host=db user=u" },
        { "host=db user=u password=S3cret", "host=db user=u password=***" },
        { "host=db password='S3cret with tail' user=x",
          "host=db password=*** user=x" },
        { "host=db password='S3cret \\' tail' user=x",
          "host=db password=*** user=x" },
        { "host=db password='S3cret\\\\' user=x",
          "host=db password=*** user=x" },
        { "host=db password = S3cret user=x", "host=db password = *** user=x" },
        { "host=db password\t=\tS3cret", "host=db password\t=\t***" },
        { "host=db password=", "host=db password=***" },
        /* libpq skips blanks after '=': the next word is the value */
        { "password= S3cret-tail host=db", "password= *** host=db" },
        { "host=db PASSWORD=S3cret user=u Password=S3cret",
          "host=db PASSWORD=*** user=u Password=***" },
        { "host=db dbpassword=x", "host=db dbpassword=x" },
        /* libpq hides the client key's passphrase too */
        { "host=db sslkey=/k sslpassword=S3cret-tail user=u",
          "host=db sslkey=/k sslpassword=*** user=u" },
        { "sslpassword='S3cret tail' password=S3cret",
          "sslpassword=*** password=***" },
        { "host=db SSLPassword = S3cret", "host=db SSLPassword = ***" },
        { "host=db mysslpassword=x", "host=db mysslpassword=x" },
        { "user=passwordless host=db", "user=passwordless host=db" },
        /* refused by the drivers: nothing after the fault is shown */
        { "host=db password='S3cret tail", "host=db ***" },
        { "host=db password S3cret-tail", "host=db ***" },
        { "dbname='host=x password=S3cret' user=u", "dbname=*** user=u" },
        { "", "" },
    };

    check_cases(c, sizeof c / sizeof c[0], vm_conninfo_mask, *state);
    assert_string_equal(vm_conninfo_mask(NULL, *state), "");
}

/* libpq's URI: user information and query parameters. */
static void uri_values(void **state)
{
    static const mask_case c[] = {
        { "postgresql://moodle:S3cret@db.example/m",
          "postgresql://moodle:***@db.example/m" },
        { "postgres://moodle:S3cret%20tail@db/m?sslmode=require",
          "postgres://moodle:***@db/m?sslmode=require" },
        { "postgresql://moodle:S3cret@tail@db/m",
          "postgresql://moodle:***@db/m" },
        { "postgresql://db/m?user=u&password=S3cret-tail",
          "postgresql://db/m?user=u&password=***" },
        { "postgresql://db/m?password=S3cret-tail&sslmode=require",
          "postgresql://db/m?password=***&sslmode=require" },
        { "postgresql://db/m?pass%77ord=S3cret-tail",
          "postgresql://db/m?pass%77ord=***" },
        { "postgresql://db?PASSWORD=S3cret", "postgresql://db?PASSWORD=***" },
        { "postgresql://u@db/m?sslkey=/k&sslpassword=S3cret-tail&sslmode=x",
          "postgresql://u@db/m?sslkey=/k&sslpassword=***&sslmode=x" },
        { "postgresql://u:S3cret@db/m?ssl%70assword=S3cret-tail",
          "postgresql://u:***@db/m?ssl%70assword=***" },
        { "postgresql://moodle@db/m", "postgresql://moodle@db/m" },
        { "mysql://u:p%40S3cret@db:3306/m", "mysql://u:***@db:3306/m" },
    };

    check_cases(c, sizeof c / sizeof c[0], vm_conninfo_mask, *state);
}

/* The MySQL form of vm_db_mysql.c: the same grammar, its own keys. */
static void mysql_values(void **state)
{
    static const mask_case c[] = {
        { "host=127.0.0.1 port=3306 dbname=m user=u password=S3cret",
          "host=127.0.0.1 port=3306 dbname=m user=u password=***" },
        { "socket=/run/mysqld/mysqld.sock password='S3cret tail' dbname=m",
          "socket=/run/mysqld/mysqld.sock password=*** dbname=m" },
        { "password=Sup3r\\ S3cret-tail dbname=m", "password=*** dbname=m" },
    };

    check_cases(c, sizeof c / sizeof c[0], vm_conninfo_mask, *state);
}

/* Source strings: the argument masked, the quotes taken off as
 * vm_source_unquote does, JSON paths as they are. */
static void source_strings(void **state)
{
    static const mask_case c[] = {
        { "pgsql:\"host=db password=Sup3r\\ S3cret-tail dbname=m\"",
          "pgsql:host=db password=*** dbname=m" },
        { "pgsql:\"host=db password=abc\"XYZ\"", "pgsql:host=db password=***" },
        { "\"pgsql:host=db password='S3cret tail'\"",
          "pgsql:host=db password=***" },
        { "pgsql:host=db password=S3cret", "pgsql:host=db password=***" },
        { "mysql:\"dbname=m password=S3cret user=u\"",
          "mysql:dbname=m password=*** user=u" },
        { "pgsql:\"postgresql://moodle:S3cret@db/m?password=S3cret\"",
          "pgsql:postgresql://moodle:***@db/m?password=***" },
        { "postgresql://moodle:S3cret@db/m", "postgresql://moodle:***@db/m" },
        { "password=S3cret", "password=***" },
        { "json:/etc/vmoodle/instances.json",
          "json:/etc/vmoodle/instances.json" },
        { "\"json:/etc/my instances.json\"", "json:/etc/my instances.json" },
    };

    check_cases(c, sizeof c / sizeof c[0], vm_source_mask, *state);
    assert_string_equal(vm_source_mask(NULL, *state), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(keyword_values),
        TU_TEST(uri_values),
        TU_TEST(mysql_values),
        TU_TEST(source_strings),
    };

    return TU_RUN(tests);
}
