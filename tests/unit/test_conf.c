/* Settings files (vm_conf_read): what a line may hold, and errors that
 * name the file and the line. */
#include "testutil.h"
#include "vm_conf.h"

/* Collects "name=value;" and refuses the name "bad". */
static const char *collect(void *ctx, const char *name, const char *value,
                           apr_pool_t *p)
{
    char **seen = ctx;

    if (strcmp(name, "bad") == 0)
        return apr_psprintf(p, "unknown setting '%s'", name);
    *seen = apr_pstrcat(p, *seen, name, "=", value, ";", NULL);
    return NULL;
}

static const char *read_text(apr_pool_t *p, const char *text, char **seen,
                             const char **path)
{
    *path = tu_path(p, tu_tmpdir(p), "x.conf");
    tu_write_text(*path, text);
    *seen = "";
    return vm_conf_read(*path, 1, collect, seen, p);
}

static void lines_comments_and_blanks(void **state)
{
    apr_pool_t *p = *state;
    const char *path, *err;
    char *seen;

    err = read_text(p,
                    "# a comment\n\n  source = json:/a b \n"
                    "\tmode=round-robin\nempty =\nlast = x = y",
                    &seen, &path);
    assert_null(err);
    assert_string_equal(seen,
                        "source=json:/a b;mode=round-robin;empty=;"
                        "last=x = y;");
}

static void errors_name_file_and_line(void **state)
{
    static const struct {
        const char *text, *want;
    } c[] = {
        { "a = 1\nno equals sign\n", ":2: want name = value" },
        { "a = 1\n = 2\n", ":2: want name = value" },
        { "# x\n\nbad = 1\n", ":3: unknown setting 'bad'" },
    };
    apr_pool_t *p = *state;
    const char *path, *err;
    char *seen;
    size_t i;

    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        err = read_text(p, c[i].text, &seen, &path);
        assert_non_null(err);
        if (strcmp(err, apr_pstrcat(p, path, c[i].want, NULL)) != 0)
            fail_msg("'%s': got '%s', want '%s%s'", c[i].text, err, path,
                     c[i].want);
    }
}

static void overlong_line(void **state)
{
    apr_pool_t *p = *state;
    char *text = apr_palloc(p, 9000), *seen;
    const char *path, *err;

    memset(text, 'x', 8998);
    memcpy(text, "a = ", 4);
    text[8998] = '\n';
    text[8999] = '\0';
    err = read_text(p, text, &seen, &path);
    assert_non_null(err);
    assert_non_null(strstr(err, ":1: line too long"));
}

static void missing_file(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "none.conf");
    char *seen = "";
    const char *err;

    assert_null(vm_conf_read(path, 0, collect, &seen, p));
    err = vm_conf_read(path, 1, collect, &seen, p);
    assert_non_null(err);
    assert_non_null(strstr(err, path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(lines_comments_and_blanks),
        TU_TEST(errors_name_file_and_line),
        TU_TEST(overlong_line),
        TU_TEST(missing_file),
    };

    return TU_RUN(tests);
}
