/* A tenant's text made visible (vm_text.h): C0 controls, DEL and C1
 * controls in UTF-8 shown as \xNN, a backslash doubled so nothing shown
 * can pass for an escape, valid UTF-8 and printable bytes kept. */
#include "testutil.h"
#include "vm_text.h"

static void controls_shown(void **state)
{
    static const struct {
        const char *in, *out;
    } c[] = {
        { "plain name.txt", "plain name.txt" },
        { "\x1b]0;title\x07\x1b[2J", "\\x1b]0;title\\x07\\x1b[2J" },
        { "a\nb\rc\td", "a\\x0ab\\x0dc\\x09d" },
        { "del\x7f", "del\\x7f" },
        { "\x01\x1f", "\\x01\\x1f" },
        { "csi \xc2\x9b"
          "2J",
          "csi \\x9b2J" }, /* C1 CSI in UTF-8 */
        { "\xc2\x80 \xc2\x9f", "\\x80 \\x9f" },
        { "back\\slash", "back\\\\slash" },
        { "\\x1b", "\\\\x1b" }, /* no forged escape */
        { "caf\xc3\xa9 \xc2\xa0 \xe2\x82\xac \xf0\x9f\x98\x80",
          "caf\xc3\xa9 \xc2\xa0 \xe2\x82\xac \xf0\x9f\x98\x80" },
        { "", "" },
    };
    apr_pool_t *p = *state;

    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const char *got = vm_text_visible(c[i].in, p);
        if (strcmp(got, c[i].out) != 0)
            fail_msg("visible(case %zu) = %s, want %s", i, got, c[i].out);
    }
    assert_string_equal(vm_text_visible(NULL, p), "(null)");
}

/* Bytes with a length: a NUL inside is shown, a C1 lead byte at the very
 * end is not a control, and kept controls pass. */
static void lengths_and_kept_controls(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(vm_text_visible_n("a\0b", 3, NULL, p), "a\\x00b");
    assert_string_equal(vm_text_visible_n("end\xc2", 4, NULL, p), "end\xc2");
    assert_string_equal(vm_text_visible_n("l1\nl2\t\x1b", 7, "\n\t", p),
                        "l1\nl2\t\\x1b");
    /* a backslash kept: text already made visible passes unchanged, a
     * control still does not */
    const char *seen = vm_text_visible_n("a\x1b\\b", 4, NULL, p);
    assert_string_equal(seen, "a\\x1b\\\\b");
    assert_string_equal(vm_text_visible_n(seen, strlen(seen), "\\", p), seen);
    assert_string_equal(vm_text_visible_n("\\\x07", 2, "\n\\", p), "\\\\x07");
}

static void control_detected(void **state)
{
    (void)state;
    assert_false(vm_text_has_control("caf\xc3\xa9 \xe2\x82\xac"));
    assert_true(vm_text_has_control("a\x1b"));
    assert_true(vm_text_has_control("a\x7f"));
    assert_true(vm_text_has_control("a\xc2\x9b"));
    assert_false(vm_text_has_control("\xc2\xa0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(controls_shown),
        TU_TEST(lengths_and_kept_controls),
        TU_TEST(control_detected),
    };

    return TU_RUN(tests);
}
