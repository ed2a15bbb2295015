/* vmoodlectl's trees and what sites share: a copy or a removal never goes
 * through a link (in the tree, as its root, or on the way to it below the
 * trusted folder), a copy is private with stricter source modes kept, and
 * two sites' databases or dataroots are the same exactly when a
 * connection or a path would make them so. */
#include <fcntl.h>
#include "testutil.h"
#include "files.h"
#include "shared.h"

static const char *mkdirs(apr_pool_t *p, const char *dir, const char *rel)
{
    char *path = apr_pstrcat(p, dir, "/", rel, NULL), *s;

    for (s = path + strlen(dir) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(path, 0755);
            *s = '/';
        }
    mkdir(path, 0755);
    return path;
}

static int exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

/* A root-owned folder the tenant would like emptied: victim/keep. */
static const char *victim(apr_pool_t *p, const char *tmp)
{
    const char *v = mkdirs(p, tmp, "victim");

    tu_write_text(tu_path(p, v, "keep"), "mine");
    return v;
}

static void test_remove_unlinks_links_and_never_follows_them(void **state)
{
    apr_pool_t *p = *state;
    const char *tmp = tu_tmpdir(p), *v = victim(p, tmp), *err = NULL;
    const char *tree = mkdirs(p, tmp, "data/site");

    mkdirs(p, tmp, "data/site/a/b");
    tu_write_text(tu_path(p, tree, "a/b/file"), "x");
    assert_int_equal(symlink(v, tu_path(p, tree, "a/dir-link")), 0);
    assert_int_equal(symlink(tu_path(p, v, "keep"),
                             tu_path(p, tree, "file-link")),
                     0);
    assert_int_equal(mkfifo(tu_path(p, tree, "fifo"), 0600), 0);
    assert_int_equal(vmc_tree_remove(tree, tu_path(p, tmp, "data"), p, &err),
                     0);
    assert_false(exists(tree));
    assert_true(exists(tu_path(p, v, "keep")));
    /* already gone: nothing to do */
    assert_int_equal(vmc_tree_remove(tree, tu_path(p, tmp, "data"), p, &err),
                     0);
}

static void test_remove_refuses_a_root_or_a_way_through_a_link(void **state)
{
    apr_pool_t *p = *state;
    const char *tmp = tu_tmpdir(p), *v = victim(p, tmp), *err = NULL;
    const char *data = mkdirs(p, tmp, "data");

    assert_int_equal(symlink(v, tu_path(p, data, "linked")), 0);
    assert_int_equal(vmc_tree_remove(tu_path(p, data, "linked"), data, p, &err),
                     -1);
    assert_non_null(strstr(err, "symbolic link"));
    /* a folder on the way swapped for a link: outside the trusted one */
    mkdirs(p, tmp, "victim/site");
    assert_int_equal(vmc_tree_remove(tu_path(p, data, "linked/site"), data, p,
                                     &err),
                     -1);
    assert_non_null(strstr(err, "is not inside"));
    assert_true(exists(tu_path(p, v, "keep")) && exists(tu_path(p, v, "site")));
    assert_int_equal(vmc_tree_remove(tu_path(p, tmp, "victim"), data, p, &err),
                     -1);
    assert_true(exists(tu_path(p, v, "keep")));
}

static void test_copy_is_private_and_keeps_stricter_modes(void **state)
{
    apr_pool_t *p = *state;
    const char *tmp = tu_tmpdir(p), *v = victim(p, tmp), *err = NULL;
    const char *src = mkdirs(p, tmp, "src"), *dst;
    vmc_copy c;

    mkdirs(p, tmp, "src/secret/key");
    tu_write_text(tu_path(p, src, "secret/key/sodium.key"), "k");
    assert_int_equal(chmod(tu_path(p, src, "secret/key/sodium.key"), 0400), 0);
    tu_write_text(tu_path(p, src, "open.txt"), "o");
    assert_int_equal(chmod(tu_path(p, src, "open.txt"), 0666), 0);
    assert_int_equal(symlink(v, tu_path(p, src, "link")), 0);
    vmc_copy_private(&c, mkdirs(p, tmp, "templates"), NULL, NULL);
    dst = tu_path(p, c.inside, "tpl");
    assert_int_equal(vmc_tree_copy(src, dst, &c, p, &err), 0);
    assert_int_equal(mode_of(dst), 0700);
    assert_int_equal(mode_of(tu_path(p, dst, "secret/key")), 0700);
    assert_int_equal(mode_of(tu_path(p, dst, "secret/key/sodium.key")), 0400);
    assert_int_equal(mode_of(tu_path(p, dst, "open.txt")), 0600);
    assert_false(exists(tu_path(p, dst, "link")));
    /* deploy's modes: group may write, but not what the owner may not */
    c.dir_mode = 02770;
    c.file_mode = 0660;
    assert_int_equal(vmc_tree_copy(dst, tu_path(p, c.inside, "site"), &c, p,
                                   &err),
                     0);
    assert_int_equal(mode_of(tu_path(p, c.inside, "site/open.txt")), 0660);
    assert_int_equal(mode_of(
                         tu_path(p, c.inside, "site/secret/key/sodium.key")),
                     0440);
    assert_int_equal(mode_of(tu_path(p, c.inside, "site/secret")), 02770);
    /* never into an existing folder, never from a link */
    assert_int_equal(vmc_tree_copy(src, dst, &c, p, &err), -1);
    assert_int_equal(vmc_tree_copy(tu_path(p, src, "link"),
                                   tu_path(p, c.inside, "x"), &c, p, &err),
                     -1);
    assert_non_null(strstr(err, "symbolic link"));
}

static void test_copy_refuses_a_hard_link_to_another_users_file(void **state)
{
    apr_pool_t *p = *state;
    const char *tmp = tu_tmpdir(p), *v = victim(p, tmp), *err = NULL;
    const char *src = mkdirs(p, tmp, "tenant");
    vmc_copy c;

    if (geteuid() != 0)
        skip();
    memset(&c, 0, sizeof c);
    c.uid = (uid_t)-1;
    c.dir_mode = 0700;
    c.file_mode = 0600;
    tu_write_text(tu_path(p, src, "own"), "o");
    assert_int_equal(link(tu_path(p, src, "own"), tu_path(p, src, "own2")), 0);
    assert_int_equal(chown(src, 65534, 65534), 0);
    assert_int_equal(chown(tu_path(p, src, "own"), 65534, 65534), 0);
    /* the tenant's own hard links are its files */
    assert_int_equal(vmc_tree_copy(src, tu_path(p, tmp, "a"), &c, p, &err), 0);
    assert_true(exists(tu_path(p, tmp, "a/own2")));
    assert_int_equal(link(tu_path(p, v, "keep"), tu_path(p, src, "stolen")), 0);
    assert_int_equal(vmc_tree_copy(src, tu_path(p, tmp, "b"), &c, p, &err), -1);
    assert_non_null(strstr(err, "stolen is a hard link"));
}

typedef struct {
    const char *type_a, *host_a, *name_a, *type_b, *host_b, *name_b;
    int same;
} db_case;

static void test_same_database(void **state)
{
    static const db_case cases[] = {
        { "pgsql", "127.0.0.1:5432", "moodle", "pgsql", "localhost", "moodle",
          1 },
        { "pgsql", "", "moodle", "pgsql", "/var/run/postgresql", "moodle", 1 },
        { "pgsql", "", "moodle", "pgsql", "localhost:5433", "moodle", 0 },
        { "pgsql", "db.example.edu", "m", "pgsql", "DB.Example.Edu.:5432", "m",
          1 },
        { "pgsql", "db1", "m", "pgsql", "db2", "m", 0 },
        { "pgsql", "db1", "Moodle", "pgsql", "db1", "moodle", 0 },
        { "mariadb", "db1", "Moodle", "mysqli", "db1:3306", "moodle", 1 },
        { "mariadb", "localhost", "m", "mariadb", "127.0.0.1:3307", "m", 1 },
        { "mariadb", "/run/mysqld/mysqld.sock", "m", "mysqli", "[::1]:3306",
          "m", 1 },
        { "mariadb", "127.0.0.1:3306", "m", "mariadb", "127.0.0.1:3307", "m",
          0 },
        { "pgsql", "db1", "m", "mariadb", "db1", "m", 0 },
        { "oracle", "db1", "m", "pgsql", "db1", "m", 1 }, /* a refused row */
        { "pgsql", "db1", "m", "pgsql", "db1", "n", 0 },
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const db_case *c = &cases[i];
        vmc_place a = { c->type_a, c->host_a, c->name_a };
        vmc_place b = { c->type_b, c->host_b, c->name_b };
        if (vmc_same_database(&a, &b, *state) != c->same
            || vmc_same_database(&b, &a, *state) != c->same)
            fail_msg("%s %s/%s vs %s %s/%s: expected %d", c->type_a, c->host_a,
                     c->name_a, c->type_b, c->host_b, c->name_b, c->same);
    }
}

static void test_paths_overlap(void **state)
{
    apr_pool_t *p = *state;
    const char *tmp = tu_tmpdir(p), *data = mkdirs(p, tmp, "data/a/inner");

    (void)data;
    assert_true(vmc_paths_overlap("/srv/a", "/srv/a/", p));
    assert_true(vmc_paths_overlap("/srv//a", "/srv/a/b", p));
    assert_true(vmc_paths_overlap("/srv/a/b", "/srv/a", p));
    assert_false(vmc_paths_overlap("/srv/a", "/srv/ab", p));
    assert_false(vmc_paths_overlap("/srv/a", "", p));
    /* resolved: a link to a folder is that folder */
    assert_int_equal(symlink(tu_path(p, tmp, "data/a"),
                             tu_path(p, tmp, "alias")),
                     0);
    assert_true(vmc_paths_overlap(tu_path(p, tmp, "alias/inner"),
                                  tu_path(p, tmp, "data/a"), p));
    assert_true(vmc_paths_overlap(tu_path(p, tmp, "alias/new"),
                                  tu_path(p, tmp, "data/a/new"), p));
}

/* A later pass: what changed in the source is copied (a same-sized file
 * with another time too), what it lost goes, and what was put in the copy
 * meanwhile (a stray file, links to a victim) is removed, never
 * followed. */
static void test_update_pass_copies_only_the_changes(void **state)
{
    apr_pool_t *p = *state;
    const char *tmp = tu_tmpdir(p), *v = victim(p, tmp), *err = NULL;
    const char *src = mkdirs(p, tmp, "data/site"), *dst;
    struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
    struct stat st;
    ino_t kept;
    vmc_copy c;

    mkdirs(p, tmp, "data/site/gone/sub");
    mkdirs(p, tmp, "data/site/a");
    tu_write_text(tu_path(p, src, "gone/sub/f"), "x");
    tu_write_text(tu_path(p, src, "a/same"), "same");
    tu_write_text(tu_path(p, src, "a/edited"), "hello");
    tu_write_text(tu_path(p, src, "a/linked"), "l");
    tu_write_text(tu_path(p, src, "becomes-dir"), "f");
    vmc_copy_private(&c, tu_path(p, tmp, "data"), NULL, NULL);
    dst = tu_path(p, c.inside, "moved");
    assert_int_equal(vmc_tree_copy(src, dst, &c, p, &err), 0);
    kept = tu_inode(tu_path(p, dst, "a/same"));
    /* the site, meanwhile */
    tu_write_text(tu_path(p, src, "a/edited"), "HELLO");
    assert_int_equal(utimensat(AT_FDCWD, tu_path(p, src, "a/edited"), old, 0),
                     0);
    mkdirs(p, tmp, "data/site/new");
    tu_write_text(tu_path(p, src, "new/f"), "new");
    tu_rm_tree((void *)tu_path(p, src, "gone"));
    assert_int_equal(unlink(tu_path(p, src, "becomes-dir")), 0);
    mkdirs(p, tmp, "data/site/becomes-dir");
    /* a tenant, in the copy */
    tu_write_text(tu_path(p, dst, "stray"), "s");
    assert_int_equal(unlink(tu_path(p, dst, "a/linked")), 0);
    assert_int_equal(symlink(tu_path(p, v, "keep"),
                             tu_path(p, dst, "a/linked")),
                     0);
    assert_int_equal(symlink(v, tu_path(p, dst, "new")), 0);
    c.update = 1;
    assert_int_equal(vmc_tree_copy(src, dst, &c, p, &err), 0);
    assert_string_equal(tu_read(p, tu_path(p, dst, "a/edited"), NULL), "HELLO");
    assert_int_equal(lstat(tu_path(p, dst, "a/edited"), &st), 0);
    assert_int_equal(st.st_mtim.tv_sec, 1000000000);
    assert_true(tu_inode(tu_path(p, dst, "a/same")) == kept);
    assert_string_equal(tu_read(p, tu_path(p, dst, "new/f"), NULL), "new");
    assert_string_equal(tu_read(p, tu_path(p, dst, "a/linked"), NULL), "l");
    assert_int_equal(lstat(tu_path(p, dst, "a/linked"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_false(exists(tu_path(p, dst, "gone")));
    assert_false(exists(tu_path(p, dst, "stray")));
    assert_int_equal(lstat(tu_path(p, dst, "becomes-dir"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_string_equal(tu_read(p, tu_path(p, v, "keep"), NULL), "mine");
    assert_false(exists(tu_path(p, v, "f")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(test_remove_unlinks_links_and_never_follows_them),
        TU_TEST(test_remove_refuses_a_root_or_a_way_through_a_link),
        TU_TEST(test_copy_is_private_and_keeps_stricter_modes),
        TU_TEST(test_copy_refuses_a_hard_link_to_another_users_file),
        TU_TEST(test_update_pass_copies_only_the_changes),
        TU_TEST(test_same_database),
        TU_TEST(test_paths_overlap),
    };

    return TU_RUN(tests);
}
