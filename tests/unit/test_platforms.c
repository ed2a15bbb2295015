/* The platforms file (vm_platforms_read): names, paths, order, errors
 * naming the file and the line; and which tree a platform name means. */
#include "testutil.h"
#include "vm_platforms.h"

static const char *read_text(apr_pool_t *p, const char *text,
                             vm_platforms **out)
{
    const char *path = tu_path(p, tu_tmpdir(p), "platforms.conf");

    tu_write_text(path, text);
    return vm_platforms_read(path, out, p);
}

static void names_paths_and_order(void **state)
{
    apr_pool_t *p = *state;
    vm_platforms *pl;

    assert_null(read_text(p,
                          "# code trees\n4.5.6 = /srv/moodle/4.5.6//\n"
                          "old-4.4 = /srv/moodle/4.4\n",
                          &pl));
    assert_int_equal(pl->list->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(pl->list, 0, vm_platform).name, "4.5.6");
    assert_string_equal(vm_platform_path(pl, "4.5.6", "/var/www/moodle"),
                        "/srv/moodle/4.5.6");
    assert_string_equal(vm_platform_path(pl, "old-4.4", "/d"),
                        "/srv/moodle/4.4");
    /* the default platform: the tree configured as before */
    assert_string_equal(vm_platform_path(pl, "", "/var/www/moodle"),
                        "/var/www/moodle");
    assert_string_equal(vm_platform_path(NULL, NULL, "/d"), "/d");
    /* a name the file lacks: no tree, never the default one */
    assert_null(vm_platform_path(pl, "4.5.7", "/d"));
    assert_null(vm_platform_path(NULL, "4.5.6", "/d"));
}

static void bad_lines_are_refused_by_line(void **state)
{
    apr_pool_t *p = *state;
    vm_platforms *pl;
    static const struct {
        const char *text, *words;
    } bad[] = {
        { "a = relative/path\n", "absolute" },
        { "a = /srv/../etc\n", "'..'" },
        { "a b = /srv/a\n", "letters, digits" },
        { "a = /srv/a\na = /srv/b\n", "twice" },
        { "just a line\n", ":1:" },
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *err = read_text(p, bad[i].text, &pl);
        if (!err || !strstr(err, bad[i].words)
            || !strstr(err, "platforms.conf"))
            fail_msg("%s: %s", bad[i].text, err ? err : "accepted");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(names_paths_and_order),
        TU_TEST(bad_lines_are_refused_by_line),
    };

    return TU_RUN(tests);
}
