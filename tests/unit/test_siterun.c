/* A site's CLI run (vm_siterun_opts): the site's platform's tree, its
 * user, the opcode file cache and its environment in the job's options;
 * a site whose platform the file lacks refused, never run elsewhere. */
#include "testutil.h"
#include "vm_siterun.h"

typedef struct {
    vm_siterun s;
    vm_identity who;
    vm_instance in;
    const char *next; /* the tree of platform "next" */
} rig;

/* Platform "next" in a platforms file, the default tree beside it, one
 * site on platform, as "nobody" (as root; else as we are). */
static void rig_make(rig *r, const char *platform, apr_pool_t *p)
{
    const char *dir = tu_tmpdir(p), *file = tu_path(p, dir, "platforms.conf");
    vm_platforms *pl = NULL;
    vm_row row;

    memset(r, 0, sizeof *r);
    r->next = tu_path(p, dir, "next");
    tu_write_text(file, apr_pstrcat(p, "next = ", r->next, "\n", NULL));
    assert_null(vm_platforms_read(file, &pl, p));
    assert_null(vm_identity_resolve(&r->who, "nobody", p));
    tu_valid_row(&row, 7, p);
    assert_null(vm_instance_from_row(&r->in, &row, p));
    r->in.platform = platform;
    r->s = (vm_siterun){
        "/usr/bin/php", tu_path(p, dir, "moodle"), pl, file, NULL, &r->who, NULL
    };
}

static int has(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

static void the_sites_tree_user_and_environment(void **state)
{
    apr_pool_t *p = *state;
    const char *args[] = { "--keep-alive=0" }, *why = NULL, *nocache = "x";
    vm_job_opts o = { 0 };
    rig r;

    rig_make(&r, "next", p);
    assert_int_equal(vm_siterun_opts(&r.s, &r.in, "admin/cli/cron.php", args, 1,
                                     &o, p, &why, &nocache),
                     0);
    assert_string_equal(o.argv[0], "/usr/bin/php");
    assert_true(
        has(o.argv, apr_pstrcat(p, r.next, "/admin/cli/cron.php", NULL)));
    assert_true(has(o.argv, "--keep-alive=0"));
    assert_string_equal(o.dir, r.next);
    assert_ptr_equal(o.who, &r.who);
    assert_true(has(o.envp, "VMOODLE_SHORTNAME=site7"));
    assert_true(has(o.envp, "LOGNAME=nobody"));
    assert_null(nocache); /* the cache is off */
    /* the default platform: the default tree */
    rig_make(&r, "", p);
    assert_int_equal(vm_siterun_opts(&r.s, &r.in, "x.php", NULL, 0, &o, p, &why,
                                     NULL),
                     0);
    assert_string_equal(o.dir, r.s.moodle_dir);
}

/* r's site refused: why holds each of words, nothing filled in. */
static void refused(const rig *r, const char *const *words, apr_pool_t *p)
{
    const char *why = NULL;
    vm_job_opts o = { 0 };

    assert_int_equal(vm_siterun_opts(&r->s, &r->in, "x.php", NULL, 0, &o, p,
                                     &why, NULL),
                     -1);
    for (; *words; words++)
        if (!strstr(why, *words))
            fail_msg("'%s' not in: %s", *words, why);
    assert_null(o.argv);
    assert_null(o.dir);
}

static void a_missing_platform_or_user_is_refused(void **state)
{
    apr_pool_t *p = *state;
    rig r;

    rig_make(&r, "gone", p);
    refused(&r,
            (const char *const[]){ "platform 'gone' is not in",
                                   r.s.platforms_file, NULL },
            p);
    rig_make(&r, "next", p);
    r.s.site_user = "vmtest-none-%id%";
    refused(&r, (const char *const[]){ "vmtest-none-7", NULL }, p);
}

static void the_cache_of_the_user_and_tree(void **state)
{
    apr_pool_t *p = *state;
    const char *why = NULL, *nocache = NULL, *base;
    vm_job_opts o = { 0 };
    rig r;

    if (geteuid() != 0)
        skip(); /* the cache's folder is given to the user: root's work */
    rig_make(&r, "next", p);
    assert_int_equal(mkdir(r.next, 0755), 0);
    base = tu_path(p, tu_tmpdir(p), "opcache");
    r.s.opcache_dir = base;
    assert_int_equal(vm_siterun_opts(&r.s, &r.in, "x.php", NULL, 0, &o, p, &why,
                                     &nocache),
                     0);
    assert_null(nocache);
    assert_true(has(o.argv, "-dopcache.enable_cli=1"));
    /* work of the caller's instead of a script: no command line */
    o.argv = NULL;
    assert_int_equal(vm_siterun_opts(&r.s, &r.in, NULL, NULL, 0, &o, p, &why,
                                     &nocache),
                     0);
    assert_null(o.argv);
    assert_string_equal(o.dir, r.next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(the_sites_tree_user_and_environment),
        TU_TEST(a_missing_platform_or_user_is_refused),
        TU_TEST(the_cache_of_the_user_and_tree),
    };
    return TU_RUN(tests);
}
