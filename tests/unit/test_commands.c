/* vmoodlectl's command and option tables (commands.c, options.c) and the
 * command line read against them (cmdline.c): every key a command lists
 * is an option, no command takes two options of one spelling, one spelling
 * always has one arity, each setting's name is a known setting, and
 * options a command does not take are refused. */
#include "testutil.h"
#include "cmdline.h"
#include "vm_settings.h"

static int takes_spelling(const vmc_command *c, const char *name)
{
    const vmc_option *opt;
    int n = 0;

    for (int i = 0; (opt = vmc_option_at(i)) != NULL; i++)
        n += vmc_command_takes(c, opt)
            && (strcmp(opt->name, name) == 0
                || (opt->old && strcmp(opt->old, name) == 0));
    return n;
}

static void every_listed_key_is_an_option(void **state)
{
    const vmc_command *c;

    (void)state;
    for (int i = 0; (c = vmc_command_at(i)) != NULL; i++) {
        for (const char *const *k = c->options; *k; k++)
            assert_non_null(vmc_option_by_key(*k));
        assert_ptr_equal(vmc_command_find(c->name), c); /* listed once */
    }
}

static void one_option_per_spelling_in_each_command(void **state)
{
    const vmc_command *c;
    const vmc_option *opt;

    (void)state;
    for (int i = 0; (c = vmc_command_at(i)) != NULL; i++)
        for (int k = 0; (opt = vmc_option_at(k)) != NULL; k++) {
            assert_true(takes_spelling(c, opt->name) <= 1);
            if (opt->old)
                assert_true(takes_spelling(c, opt->old) <= 1);
        }
}

static void a_spelling_has_one_arity(void **state)
{
    const vmc_option *a, *b;

    (void)state;
    for (int i = 0; (a = vmc_option_at(i)) != NULL; i++)
        for (int k = 0; (b = vmc_option_at(k)) != NULL; k++)
            if (strcmp(a->name, b->name) == 0)
                assert_int_equal(!a->arg, !b->arg);
}

static void settings_are_known_names(void **state)
{
    const vmc_option *opt;

    (void)state;
    for (int i = 0; (opt = vmc_option_setting(i)) != NULL; i++)
        assert_true(vm_settings_known(opt->setting));
}

/* Read argv (NULL-terminated) as main does. */
static vmc_cmdline read_line(apr_pool_t *p, vmc_opts *o, const char **words)
{
    const vmc_command *cmd = NULL;
    int argc = 0;

    while (words[argc])
        argc++;
    memset(o, 0, sizeof *o);
    o->pool = p;
    return vmc_cmdline_read(o, argc, (char **)words, &cmd);
}

static void options_go_where_the_table_says(void **state)
{
    apr_pool_t *p = *state;
    vmc_opts o;
    const char *config[] = { "vmoodlectl", "--dry-run", "config",      "--all",
                             "--name",     "theme",     "--set=boost", "--jobs",
                             "3",          NULL };
    const char *snapshot[] = { "vmoodlectl", "snapshot", "--from", "master",
                               "--name",     "t1",       NULL };

    assert_int_equal(read_line(p, &o, config), VMC_CMDLINE_BAD); /* dry */
    config[1] = "--fail-fast";
    assert_int_equal(read_line(p, &o, config), VMC_CMDLINE_RUN);
    assert_string_equal(o.cfg_name, "theme");
    assert_string_equal(o.cfg_value, "boost");
    assert_null(o.snapshot_name);
    assert_int_equal(o.jobs, 3);
    assert_true(o.all && o.fail_fast && o.nargs == 0);
    config[6] = "--value=dark"; /* the new spelling */
    assert_int_equal(read_line(p, &o, config), VMC_CMDLINE_RUN);
    assert_string_equal(o.cfg_value, "dark");
    assert_int_equal(read_line(p, &o, snapshot), VMC_CMDLINE_RUN);
    assert_string_equal(o.snapshot_name, "t1");
    assert_null(o.cfg_name);
}

static void what_a_command_does_not_take_is_refused(void **state)
{
    apr_pool_t *p = *state;
    vmc_opts o;
    const char *list[] = { "vmoodlectl", "list", "--jobs", "3", NULL };
    const char *enable[] = {
        "vmoodlectl", "enable", "h", "--dbname", "x", NULL
    };
    const char *settings[] = { "vmoodlectl", "--templates", "/t", "enable",
                               "h",          "--php",       "/p", NULL };

    assert_int_equal(read_line(p, &o, list), VMC_CMDLINE_BAD);
    assert_int_equal(read_line(p, &o, enable), VMC_CMDLINE_BAD);
    assert_false(o.fields.present[VM_F_VDBNAME]);
    assert_int_equal(read_line(p, &o, settings), VMC_CMDLINE_RUN);
    assert_string_equal(o.templates_dir, "/t");
    assert_string_equal(o.args[0], "h");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(every_listed_key_is_an_option),
        TU_TEST(one_option_per_spelling_in_each_command),
        TU_TEST(a_spelling_has_one_arity),
        TU_TEST(settings_are_known_names),
        TU_TEST(options_go_where_the_table_says),
        TU_TEST(what_a_command_does_not_take_is_refused),
    };

    return TU_RUN(tests);
}
