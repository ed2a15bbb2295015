/* The per-site counters' layout: slots kept by id across syncs, given back
 * when a site leaves (its figures go to the table's totals), capacity
 * limits, two tables side by side; and the label escaping of the
 * Prometheus page. */
#include "testutil.h"
#include "vm_metrics.h"
#include "vm_prom.h"

static vm_metrics *fresh(apr_pool_t *p, uint32_t capacity)
{
    size_t size = vm_metrics_size(capacity);
    vm_metrics *m = vm_metrics_init(apr_pcalloc(p, size), size, capacity);

    assert_non_null(m);
    return m;
}

static void sites_keep_their_counts_across_syncs(void **state)
{
    apr_pool_t *p = *state;
    vm_metrics *m = fresh(p, 8);
    const int64_t first[] = { 1, 2, 3 }, second[] = { 3, 1, 7 };
    vm_metrics_site *s1, c;
    vm_metrics_totals tot;

    assert_int_equal(vm_metrics_sync(m, 10, first, 3), 0);
    assert_int_equal(vm_metrics_used(m), 3);
    s1 = vm_metrics_find(m, 10, 1);
    assert_non_null(s1);
    assert_null(vm_metrics_find(m, 11, 1)); /* another table */
    vm_metrics_count(s1, 200, 100, 1000);
    vm_metrics_count(s1, 404, 10, 30000);
    vm_metrics_count(s1, 503, 5, 20000000); /* beyond every bucket */
    vm_metrics_count(vm_metrics_find(m, 10, 2), 302, 1, 1);
    /* 2 leaves, 7 comes: 1 and 3 keep their slots and figures */
    assert_int_equal(vm_metrics_sync(m, 10, second, 3), 0);
    assert_ptr_equal(vm_metrics_find(m, 10, 1), s1);
    assert_null(vm_metrics_find(m, 10, 2));
    vm_metrics_read(s1, &c);
    assert_int_equal(c.requests[VM_METRICS_2XX], 1);
    assert_int_equal(c.requests[VM_METRICS_4XX], 1);
    assert_int_equal(c.requests[VM_METRICS_5XX], 1);
    assert_int_equal(c.bytes, 115);
    assert_int_equal(c.duration_us, 20031000);
    assert_int_equal(c.buckets[0], 1); /* 1 ms */
    assert_int_equal(c.buckets[1], 1); /* 30 ms */
    vm_metrics_read(vm_metrics_find(m, 10, 7), &c);
    assert_int_equal(c.requests[VM_METRICS_3XX], 0); /* a fresh slot */
    vm_metrics_table_totals(m, 10, &tot);
    assert_int_equal(tot.requests[VM_METRICS_3XX], 1); /* 2's, kept */
    assert_int_equal(tot.bytes, 116);
}

static void full_capacity_and_churn(void **state)
{
    apr_pool_t *p = *state;
    vm_metrics *m = fresh(p, 4);
    int64_t ids[6] = { 1, 2, 3, 4, 5, 6 };
    int64_t round;

    assert_int_equal(vm_metrics_sync(m, 1, ids, 6), 2); /* two left out */
    assert_int_equal(vm_metrics_used(m), 4);
    /* many generations of new sites: slots and index entries come back */
    for (round = 0; round < 1000; round++) {
        int64_t now[3] = { 100 + round * 3, 101 + round * 3, 102 + round * 3 };
        assert_int_equal(vm_metrics_sync(m, 1, now, 3), 0);
        assert_non_null(vm_metrics_find(m, 1, now[2]));
        assert_null(vm_metrics_find(m, 1, now[0] - 3));
    }
    assert_int_equal(vm_metrics_used(m), 3);
    vm_metrics_refused(m, VM_METRICS_BAD_HOST);
    vm_metrics_uncounted(m);
    assert_int_equal(vm_metrics_refusals(m, VM_METRICS_BAD_HOST), 1);
    assert_int_equal(vm_metrics_uncounted_requests(m), 1);
}

static void attach_checks_the_layout(void **state)
{
    apr_pool_t *p = *state;
    size_t size = vm_metrics_size(16);
    void *mem = apr_pcalloc(p, size);

    assert_null(vm_metrics_attach(mem, size, 16)); /* never laid out */
    assert_non_null(vm_metrics_init(mem, size, 16));
    assert_non_null(vm_metrics_attach(mem, size, 16));
    assert_null(vm_metrics_attach(mem, size, 32)); /* another size */
    assert_null(vm_metrics_init(mem, size - 1, 16));
    assert_int_equal(sizeof(vm_metrics_site), 128);
}

/* The master's key is a site like any other, never a row's. */
static void the_master_has_a_slot_of_its_own(void **state)
{
    apr_pool_t *p = *state;
    vm_metrics *m = fresh(p, 4);
    const int64_t with[] = { VM_METRICS_MASTER, 1, 2 }, without[] = { 1, 2 };
    vm_metrics_site *master, c;

    assert_int_equal(vm_metrics_sync(m, 10, with, 3), 0);
    master = vm_metrics_find(m, 10, VM_METRICS_MASTER);
    assert_non_null(master);
    assert_ptr_not_equal(master, vm_metrics_find(m, 10, 1));
    assert_null(vm_metrics_find(m, 11, VM_METRICS_MASTER));
    vm_metrics_count(master, 200, 7, 10);
    vm_metrics_read(master, &c);
    assert_int_equal(c.requests[VM_METRICS_2XX], 1);
    assert_int_equal(c.bytes, 7);
    /* VMoodleMaster gone: its slot given back, its figures in the totals */
    assert_int_equal(vm_metrics_sync(m, 10, without, 2), 0);
    assert_null(vm_metrics_find(m, 10, VM_METRICS_MASTER));
    assert_int_equal(vm_metrics_used(m), 2);
}

static void labels_escaped(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(vm_prom_label("plain", p), "plain");
    assert_string_equal(vm_prom_label("a\"b\\c", p), "a\\\"b\\\\c");
    assert_string_equal(vm_prom_label("line\nbreak\x7f", p), "line?break?");
    assert_string_equal(vm_prom_label("caf\xc3\xa9", p), "caf\xc3\xa9");
    assert_string_equal(vm_prom_label("bad\xc3(\xff", p), "bad?(?");
    assert_string_equal(vm_prom_label("c1\xc2\x85", p), "c1?");
    assert_string_equal(vm_prom_label("\xed\xa0\x80", p),
                        "???"); /* surrogate */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(sites_keep_their_counts_across_syncs),
        TU_TEST(full_capacity_and_churn),
        TU_TEST(attach_checks_the_layout),
        TU_TEST(the_master_has_a_slot_of_its_own),
        TU_TEST(labels_escaped),
    };

    return TU_RUN(tests);
}
