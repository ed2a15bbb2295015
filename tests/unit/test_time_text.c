/* Dates as the programs print them (core/vm_time.c): ISO 8601 for
 * machines, one format for people, one for file names, "never" for no
 * date. */
#include "testutil.h"
#include "vm_time.h"

static void machines_get_iso_8601_people_one_format(void **state)
{
    char buf[VM_TIME_TEXT];

    (void)state;
    assert_string_equal(vm_time_text(1796213901, buf), "2026-12-02T12:18:21Z");
    assert_string_equal(vm_time_human(1796213901, buf),
                        "2026-12-02 12:18:21 UTC");
}

static void names_get_the_basic_form_in_utc(void **state)
{
    char buf[VM_TIME_TEXT];

    (void)state;
    assert_string_equal(vm_time_stamp(1796213901, buf), "20261202T121821Z");
}

static void no_date_is_never(void **state)
{
    char buf[VM_TIME_TEXT];

    (void)state;
    assert_string_equal(vm_time_text(0, buf), "never");
    assert_string_equal(vm_time_human(-5, buf), "never");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(machines_get_iso_8601_people_one_format),
        TU_TEST(names_get_the_basic_form_in_utc),
        TU_TEST(no_date_is_never),
    };

    return TU_RUN(tests);
}
