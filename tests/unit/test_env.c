/* The VMOODLE_* variables handed to PHP: the names templates/config.php
 * reads, each with its instance's value. */
#include "testutil.h"
#include "vm_env.h"

static const char *value_of(const vm_env_var *vars, const char *name)
{
    int i;

    for (i = 0; i < VM_ENV_COUNT; i++)
        if (strcmp(vars[i].name, name) == 0)
            return vars[i].value;
    fail_msg("%s not set", name);
    return NULL;
}

/* The variables of the instance that row validates into. */
static void env_of(const vm_row *row, apr_pool_t *p, vm_env_numbers *nums,
                   vm_env_var vars[VM_ENV_COUNT])
{
    vm_instance *in = apr_palloc(p, sizeof *in);

    assert_null(vm_instance_from_row(in, row, p));
    vm_env_build(in, nums, vars);
}

static void names_and_values(void **state)
{
    apr_pool_t *p = *state;
    vm_row row;
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];

    tu_valid_row(&row, 9007199254740991LL, p);
    vm_row_set(&row, VM_F_VHOSTNAME, "https://Site1.Example.edu:8443/");
    vm_row_set(&row, VM_F_VDBTYPE, "postgres");
    vm_row_set(&row, VM_F_VDBPERSIST, "1");
    vm_row_set(&row, VM_F_MNET, "-1");
    vm_row_set(&row, VM_F_VDATAPATH, "/var/moodledata/site1//");
    env_of(&row, p, &nums, vars);
    assert_string_equal(value_of(vars, "VMOODLE_HOST"),
                        "site1.example.edu:8443");
    assert_string_equal(value_of(vars, "VMOODLE_ID"), "9007199254740991");
    assert_string_equal(value_of(vars, "VMOODLE_SHORTNAME"),
                        "site9007199254740991");
    assert_string_equal(value_of(vars, "VMOODLE_WWWROOT"),
                        "https://site1.example.edu:8443");
    assert_string_equal(value_of(vars, "VMOODLE_DBTYPE"), "pgsql");
    assert_string_equal(value_of(vars, "VMOODLE_DBHOST"), "db.example.edu");
    assert_string_equal(value_of(vars, "VMOODLE_DBNAME"),
                        "moodle9007199254740991");
    assert_string_equal(value_of(vars, "VMOODLE_DBUSER"), "moodle");
    assert_string_equal(value_of(vars, "VMOODLE_DBPASS"), "secret");
    assert_string_equal(value_of(vars, "VMOODLE_DBPREFIX"), "mdl_");
    assert_string_equal(value_of(vars, "VMOODLE_DBPERSIST"), "1");
    assert_string_equal(value_of(vars, "VMOODLE_DATAROOT"),
                        "/var/moodledata/site1");
    assert_string_equal(value_of(vars, "VMOODLE_MNET"), "-1");
}

/* Exactly the 13 names of the interface, each once, none NULL. */
static void the_thirteen_names(void **state)
{
    static const char *const names[VM_ENV_COUNT] = {
        "VMOODLE_HOST",     "VMOODLE_ID",        "VMOODLE_SHORTNAME",
        "VMOODLE_WWWROOT",  "VMOODLE_DBTYPE",    "VMOODLE_DBHOST",
        "VMOODLE_DBNAME",   "VMOODLE_DBUSER",    "VMOODLE_DBPASS",
        "VMOODLE_DBPREFIX", "VMOODLE_DBPERSIST", "VMOODLE_DATAROOT",
        "VMOODLE_MNET",
    };
    apr_pool_t *p = *state;
    vm_row row;
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];
    int i, j, seen;

    tu_valid_row(&row, 1, p);
    env_of(&row, p, &nums, vars);
    for (i = 0; i < VM_ENV_COUNT; i++) {
        for (seen = 0, j = 0; j < VM_ENV_COUNT; j++)
            seen += strcmp(vars[j].name, names[i]) == 0;
        assert_int_equal(seen, 1);
        assert_non_null(vars[i].value);
    }
    assert_string_equal(VM_ENV_MASTER, "VMOODLE_MASTER");
}

/* Defaults of a sparse JSON row, and values that must stay numbers. */
static void defaults_and_numbers(void **state)
{
    apr_pool_t *p = *state;
    vm_row row;
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];

    memset(&row, 0, sizeof row);
    vm_row_set(&row, VM_F_ID, "5");
    vm_row_set(&row, VM_F_VHOSTNAME, "http://a.example");
    vm_row_set(&row, VM_F_VDBNAME, "a");
    vm_row_set(&row, VM_F_VDATAPATH, "/srv/a");
    vm_row_set(&row, VM_F_MNET, "2147483647");
    env_of(&row, p, &nums, vars);
    assert_string_equal(value_of(vars, "VMOODLE_ID"), "5");
    assert_string_equal(value_of(vars, "VMOODLE_WWWROOT"), "http://a.example");
    assert_string_equal(value_of(vars, "VMOODLE_DBTYPE"), "mysqli");
    assert_string_equal(value_of(vars, "VMOODLE_DBHOST"), "localhost");
    assert_string_equal(value_of(vars, "VMOODLE_DBPASS"), "");
    assert_string_equal(value_of(vars, "VMOODLE_DBPERSIST"), "0");
    assert_string_equal(value_of(vars, "VMOODLE_MNET"), "2147483647");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(names_and_values),
        TU_TEST(the_thirteen_names),
        TU_TEST(defaults_and_numbers),
    };

    return TU_RUN(tests);
}
