/* The cross-row rules of vm_table_build: an id and a host key may each be
 * claimed once; the lower id keeps it; every refused row is reported with
 * its id and reason and every other row still loads. */
#include "testutil.h"
#include "vm_table.h"

static vm_row *push_host(apr_array_header_t *rows, long long id,
                         const char *vhostname, apr_pool_t *p)
{
    vm_row *row = tu_push_valid(rows, id, p);

    vm_row_set(row, VM_F_VHOSTNAME, vhostname);
    return row;
}

static const vm_instance *instance_at(const vm_table *t, int i)
{
    assert_true(i < t->instances->nelts);
    return &APR_ARRAY_IDX(t->instances, i, vm_instance);
}

static const vm_rejection *rejection_at(const vm_table *t, int i)
{
    assert_true(i < t->rejections->nelts);
    return &APR_ARRAY_IDX(t->rejections, i, vm_rejection);
}

static void valid_rows_load_in_id_order(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *rows = tu_rows(p);
    static const long long ids[] = { 30, 4, 17, 1, 999 };
    vm_table *t;
    size_t i;

    for (i = 0; i < sizeof ids / sizeof ids[0]; i++)
        tu_push_valid(rows, ids[i], p);
    t = vm_table_build(rows, p);
    assert_int_equal(t->instances->nelts, 5);
    assert_int_equal(t->rejections->nelts, 0);
    assert_int_equal(instance_at(t, 0)->id, 1);
    assert_int_equal(instance_at(t, 1)->id, 4);
    assert_int_equal(instance_at(t, 2)->id, 17);
    assert_int_equal(instance_at(t, 3)->id, 30);
    assert_int_equal(instance_at(t, 4)->id, 999);
    assert_string_equal(vm_table_find_key(t, "site17.example.edu")->dbname,
                        "moodle17");
    assert_int_equal(vm_table_find_id(t, 999)->id, 999);
    assert_null(vm_table_find_key(t, "site2.example.edu"));
    assert_null(vm_table_find_id(t, 2));
}

static void empty_table(void **state)
{
    apr_pool_t *p = *state;
    vm_table *t = vm_table_build(tu_rows(p), p);

    assert_int_equal(t->instances->nelts, 0);
    assert_int_equal(t->rejections->nelts, 0);
    assert_null(vm_table_find_key(t, "a.example"));
}

static void duplicate_id_keeps_first_seen(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *rows = tu_rows(p);
    vm_table *t;

    push_host(rows, 5, "https://first.example", p);
    tu_push_valid(rows, 6, p);
    push_host(rows, 5, "https://second.example", p);
    t = vm_table_build(rows, p);
    assert_int_equal(t->instances->nelts, 2);
    assert_string_equal(vm_table_find_id(t, 5)->key, "first.example");
    assert_null(vm_table_find_key(t, "second.example"));
    assert_int_equal(t->rejections->nelts, 1);
    assert_int_equal(rejection_at(t, 0)->id, 5);
    assert_non_null(strstr(rejection_at(t, 0)->reason, "id"));
}

/* Spellings of one site: the row with the lower id keeps it, wherever it
 * stands in the source. */
static void duplicate_host_lower_id_kept(void **state)
{
    static const char *const spellings[] = {
        "https://Shared.Example.edu",    "https://shared.example.edu/",
        "https://shared.example.edu.",   "https://SHARED.example.edu:443//",
        "http://shared.example.edu:80/",
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 1; i < sizeof spellings / sizeof spellings[0]; i++) {
        apr_array_header_t *rows = tu_rows(p);
        vm_table *t;

        push_host(rows, 9, spellings[i], p);
        tu_push_valid(rows, 5, p);
        push_host(rows, 3, spellings[0], p);
        t = vm_table_build(rows, p);
        assert_int_equal(t->instances->nelts, 2);
        assert_int_equal(vm_table_find_key(t, "shared.example.edu")->id, 3);
        assert_int_equal(t->rejections->nelts, 1);
        assert_int_equal(rejection_at(t, 0)->id, 9);
        assert_string_equal(rejection_at(t, 0)->reason,
                            "host shared.example.edu already used by id 3");
    }
}

/* Another port is another site. */
static void same_name_other_port_loads(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *rows = tu_rows(p);
    vm_table *t;

    push_host(rows, 1, "https://a.example", p);
    push_host(rows, 2, "https://a.example:8443", p);
    push_host(rows, 3, "http://a.example:8080", p);
    t = vm_table_build(rows, p);
    assert_int_equal(t->instances->nelts, 3);
    assert_int_equal(t->rejections->nelts, 0);
    assert_int_equal(vm_table_find_key(t, "a.example:8443")->id, 2);
    assert_int_equal(vm_table_find_key(t, "a.example:8080")->id, 3);
}

/* Invalid rows are reported (by id when it can be read, else -1), sorted
 * by id, and do not stop the others. */
static void rejections_carry_id_and_reason(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *rows = tu_rows(p);
    vm_row *r;
    vm_table *t;

    tu_push_valid(rows, 1, p);
    r = tu_push_valid(rows, 40, p);
    vm_row_set(r, VM_F_VDATAPATH, "relative/path");
    tu_push_valid(rows, 2, p);
    r = tu_push_valid(rows, 0, p);
    r->present[VM_F_ID] = 0;
    r = tu_push_valid(rows, 20, p);
    vm_row_set(r, VM_F_VDBTYPE, "oracle");
    r = tu_push_valid(rows, 3, p);
    vm_row_set(r, VM_F_ID, "three");
    r = tu_push_valid(rows, 10, p);
    r->error = "entry is not a JSON object";
    tu_push_valid(rows, 4, p);
    t = vm_table_build(rows, p);

    assert_int_equal(t->instances->nelts, 3);
    assert_int_equal(t->rejections->nelts, 5);
    assert_int_equal(rejection_at(t, 0)->id, -1);
    assert_int_equal(rejection_at(t, 1)->id, -1);
    assert_int_equal(rejection_at(t, 2)->id, 10);
    assert_string_equal(rejection_at(t, 2)->reason,
                        "entry is not a JSON object");
    assert_int_equal(rejection_at(t, 3)->id, 20);
    assert_non_null(strstr(rejection_at(t, 3)->reason, "vdbtype"));
    assert_int_equal(rejection_at(t, 4)->id, 40);
    assert_non_null(strstr(rejection_at(t, 4)->reason, "vdatapath"));
    assert_non_null(vm_table_find_id(t, 4));
}

/* A row refused for itself does not take its host or id from a valid
 * row. */
static void invalid_row_claims_nothing(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *rows = tu_rows(p);
    vm_row *r;
    vm_table *t;

    r = push_host(rows, 1, "https://a.example", p);
    vm_row_set(r, VM_F_ENABLED, "maybe");
    push_host(rows, 2, "https://a.example", p);
    r = tu_push_valid(rows, 2, p);
    vm_row_set(r, VM_F_VDBNAME, "");
    t = vm_table_build(rows, p);
    assert_int_equal(t->instances->nelts, 1);
    assert_int_equal(vm_table_find_key(t, "a.example")->id, 2);
    assert_string_equal(vm_table_find_id(t, 2)->key, "a.example");
    assert_int_equal(t->rejections->nelts, 2);
}

/* Aliases and path sites share the keys' one name space: a site's own
 * host wins over an alias whatever the ids; a taken alias refuses its
 * row, naming the owner. */
static void aliases_and_paths_claim_keys(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *rows = tu_rows(p);
    vm_table *t;

    push_host(rows, 1, "https://example.edu/", p);
    push_host(rows, 2, "https://example.edu/school1", p);
    push_host(rows, 3, "https://example.edu/school2/", p);
    vm_row_set(push_host(rows, 4, "https://four.example.edu", p), VM_F_ALIASES,
               "www.four.example.edu old.example.edu/four");
    /* alias = a site's host with a higher id: the alias loses */
    vm_row_set(push_host(rows, 5, "https://five.example.edu", p), VM_F_ALIASES,
               "six.example.edu");
    push_host(rows, 6, "https://six.example.edu", p);
    /* alias = another's alias; alias = a path site */
    vm_row_set(push_host(rows, 7, "https://seven.example.edu", p), VM_F_ALIASES,
               "www.four.example.edu");
    vm_row_set(push_host(rows, 8, "https://eight.example.edu", p), VM_F_ALIASES,
               "example.edu/school2");
    push_host(rows, 9, "https://example.edu/school1/", p); /* duplicate */
    t = vm_table_build(rows, p);

    assert_int_equal(t->instances->nelts, 5);
    assert_string_equal(instance_at(t, 1)->key, "example.edu/school1");
    assert_string_equal(instance_at(t, 3)->aliases,
                        "www.four.example.edu old.example.edu/four ");
    assert_int_equal(instance_at(t, 4)->id, 6);
    assert_int_equal(t->rejections->nelts, 4);
    assert_int_equal(rejection_at(t, 0)->id, 5);
    assert_non_null(
        strstr(rejection_at(t, 0)->reason,
               "aliases: host six.example.edu already used by id 6"));
    assert_non_null(strstr(rejection_at(t, 1)->reason, "by id 4"));
    assert_non_null(strstr(rejection_at(t, 2)->reason,
                           "example.edu/school2 already used by id 3"));
    assert_int_equal(rejection_at(t, 3)->id, 9);
}

static void many_rows(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *rows = tu_rows(p);
    vm_table *t;
    long long id;

    for (id = 2000; id >= 1; id--)
        tu_push_valid(rows, id, p);
    tu_push_valid(rows, 1000, p);
    t = vm_table_build(rows, p);
    assert_int_equal(t->instances->nelts, 2000);
    assert_int_equal(t->rejections->nelts, 1);
    for (id = 1; id <= 2000; id++)
        assert_int_equal(instance_at(t, (int)id - 1)->id, id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(valid_rows_load_in_id_order),
        TU_TEST(empty_table),
        TU_TEST(duplicate_id_keeps_first_seen),
        TU_TEST(duplicate_host_lower_id_kept),
        TU_TEST(same_name_other_port_loads),
        TU_TEST(rejections_carry_id_and_reason),
        TU_TEST(invalid_row_claims_nothing),
        TU_TEST(aliases_and_paths_claim_keys),
        TU_TEST(many_rows),
    };

    return TU_RUN(tests);
}
