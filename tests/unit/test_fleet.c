/* The fleet commands' pure parts: which sites a selection names, and the
 * summary printed at the end (vmoodlectl/select.c, vmoodlectl/summary.c). */
#include "testutil.h"
#include "ctl.h"
#include "select.h"
#include "summary.h"
#include "vm_cli.h"
#include "vm_table.h"

/* Sites 1..5 (host siteN.example.edu), 3 disabled; rows pushed out of
 * order so the selection must sort. */
static vmc_table fleet_table(apr_pool_t *p)
{
    static vm_source src;
    apr_array_header_t *rows = tu_rows(p);
    const long long ids[] = { 4, 1, 3, 5, 2 };
    vmc_table t;

    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        vm_row *row = tu_push_valid(rows, ids[i], p);
        if (ids[i] == 3)
            vm_row_set(row, VM_F_ENABLED, "0");
    }
    memset(&t, 0, sizeof t);
    src.pool = p; /* vmc_find's messages */
    t.src = &src;
    t.rows = rows;
    t.table = vm_table_build(rows, p);
    return t;
}

/* The selected sites as "master 1 2", or the reason. */
static const char *picked(const vmc_selection *sel, apr_pool_t *p)
{
    vmc_table t = fleet_table(p);
    const char *why = NULL, *out = "";
    apr_array_header_t *sites = vmc_select(&t, sel, p, &why);

    if (!sites)
        return apr_pstrcat(p, "error: ", why, NULL);
    for (int i = 0; i < sites->nelts; i++) {
        const vm_instance *in = APR_ARRAY_IDX(sites, i, const vm_instance *);
        out = apr_pstrcat(p, out, i ? " " : "",
                          in == &vm_master
                              ? "master"
                              : apr_psprintf(p, "%" APR_INT64_T_FMT,
                                             (apr_int64_t)in->id),
                          NULL);
    }
    return out;
}

static void all_is_the_enabled_instances_by_id(void **state)
{
    vmc_selection sel = { .all = 1 };
    assert_string_equal(picked(&sel, *state), "1 2 4 5");
    sel.include_disabled = 1;
    assert_string_equal(picked(&sel, *state), "1 2 3 4 5");
    sel.master = 1;
    assert_string_equal(picked(&sel, *state), "master 1 2 3 4 5");
}

static void match_is_a_regex_on_the_host(void **state)
{
    vmc_selection sel = { .match = "^site[2-4]\\.example" };
    assert_string_equal(picked(&sel, *state), "2 4");
    sel.include_disabled = 1;
    assert_string_equal(picked(&sel, *state), "2 3 4");
    sel.match = "nothing-like-it";
    assert_string_equal(picked(&sel, *state),
                        "error: no instance matches 'nothing-like-it'");
    sel.match = "site[";
    assert_non_null(strstr(picked(&sel, *state), "error: --match 'site['"));
}

static void named_hosts_are_taken_even_disabled_once_each(void **state)
{
    char *hosts[] = { "https://site5.example.edu/", "3", "site1.example.edu",
                      "5" };
    vmc_selection sel = { .hosts = hosts, .nhosts = 4 };
    assert_string_equal(picked(&sel, *state), "1 3 5");
    sel.master = 1;
    assert_string_equal(picked(&sel, *state), "master 1 3 5");
    char *unknown[] = { "site1.example.edu", "nosuch.example.edu" };
    vmc_selection bad = { .hosts = unknown, .nhosts = 2 };
    assert_string_equal(picked(&bad, *state),
                        "error: no instance 'nosuch.example.edu' in the "
                        "table");
}

static void the_master_alone_and_what_is_refused(void **state)
{
    vmc_selection master = { .master = 1 };
    assert_string_equal(picked(&master, *state), "master");
    vmc_selection none = { 0 };
    assert_non_null(strstr(picked(&none, *state), "error: no sites"));
    char *hosts[] = { "1" };
    vmc_selection both = { .all = 1, .hosts = hosts, .nhosts = 1 };
    assert_non_null(strstr(picked(&both, *state), "exclude each other"));
    vmc_selection all_match = { .all = 1, .match = "x" };
    assert_non_null(strstr(picked(&all_match, *state), "exclude each other"));
}

static void last_line_is_the_end_of_the_output_made_safe(void **state)
{
    apr_pool_t *p = *state;
    const char *text = "first\nsecond line\n\n  \n";
    assert_string_equal(vmc_last_line(text, strlen(text), 80, p),
                        "second line");
    assert_string_equal(vmc_last_line("", 0, 80, p), "");
    assert_string_equal(vmc_last_line("\n\n", 2, 80, p), "");
    const char *ctl = "ok\nred \033[31mtext\a \xc2\x9b"
                      "2J\r\n";
    assert_string_equal(vmc_last_line(ctl, strlen(ctl), 80, p),
                        "red \\x1b[31mtext\\x07 \\x9b2J");
    const char *seen = "ok\nalready \\x1b[2J C:\\\\dir\n"; /* a log's */
    assert_string_equal(vmc_last_line(seen, strlen(seen), 80, p),
                        "already \\x1b[2J C:\\\\dir");
    const char *lng = "0123456789abcdef";
    assert_string_equal(vmc_last_line(lng, strlen(lng), 10, p), "0123456...");
}

/* The summary of r[n] as printed. */
static char *printed(const vmc_site_result *r, int n, const char *logs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vmc_summary_print(f, r, n, logs);
    fclose(f);
    return buf;
}

static void summary_has_a_row_per_site_and_the_totals(void **state)
{
    (void)state;
    vm_instance a = { .id = 1, .key = "a.example.edu" };
    vm_instance b = { .id = 2, .key = "long-name.example.edu" };
    vm_instance c = { .id = 3, .key = "c.example.edu" };
    vmc_site_result r[] = {
        { &vm_master, VMC_SITE_DONE, 0, 0, 1, 2.5, "/l/master.log", "done" },
        { &a, VMC_SITE_DONE, 3, 0, 0, 1.25, "/l/a.example.edu.log",
          "it broke" },
        { &b, VMC_SITE_DONE, 143, 1, 0, 30.0, "/l/b.log", "still going" },
        { &c, VMC_SITE_WAITING, -1, 0, 0, 0, NULL, NULL },
    };
    char *out = printed(r, 4, "/l");
    assert_string_equal(
        out,
        "SITE                  RESULT EXIT  SECONDS  LAST LINE\n"
        "master                ok        0      2.5  done\n"
        "a.example.edu         FAILED    3      1.2  it broke\n"
        "long-name.example.edu FAILED  143     30.0  timed out\n"
        "c.example.edu         -         -      0.0  not started "
        "(interrupted or stopped)\n"
        "4 site(s): 1 ok, 2 failed, 1 not started; logs in /l\n"
        "  a.example.edu failed: see /l/a.example.edu.log\n"
        "  long-name.example.edu failed: see /l/b.log\n");
    free(out);
    assert_int_equal(vmc_summary_exit(r, 4), VMC_EXIT_FAIL);
    assert_int_equal(vmc_summary_exit(r, 1), VMC_EXIT_OK);
    r[1].ok = 1, r[2].ok = 1;
    assert_int_equal(vmc_summary_exit(r, 3), VMC_EXIT_FAIL); /* timed out */
    vmc_tally t = vmc_summary_tally(r, 4);
    assert_int_equal(t.done, 3);
    assert_int_equal(t.waiting, 1);
}

static void a_site_that_could_not_start_says_why(void **state)
{
    (void)state;
    vm_instance a = { .id = 1, .key = "a" };
    vmc_site_result r[] = {
        { &a, VMC_SITE_NOT_STARTED, -1, 0, 0, 0, NULL,
          "locked (its cron or an upgrade runs)" },
    };
    char *out = printed(r, 1, NULL);
    assert_non_null(strstr(out, "a    FAILED    -      0.0  locked (its cron"));
    assert_non_null(strstr(out, "1 site(s): 0 ok, 1 failed, 0 not started\n"));
    free(out);
    assert_int_equal(vmc_summary_exit(r, 1), VMC_EXIT_FAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(all_is_the_enabled_instances_by_id),
        TU_TEST(match_is_a_regex_on_the_host),
        TU_TEST(named_hosts_are_taken_even_disabled_once_each),
        TU_TEST(the_master_alone_and_what_is_refused),
        TU_TEST(last_line_is_the_end_of_the_output_made_safe),
        TU_TEST(summary_has_a_row_per_site_and_the_totals),
        TU_TEST(a_site_that_could_not_start_says_why),
    };
    return TU_RUN(tests);
}
