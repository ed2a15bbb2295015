/* The compiled table: write, map, look up; its digest; files that must be
 * refused (damaged, truncated, or crafted with a valid checksum but bad
 * offsets); and the refresh step that writes new generations. */
#include "testutil.h"
#include "vm_cron_figures.h"
#include "vm_hash.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include "vm_refresh.h"
#include "vm_snapshot.h"
#include "vm_snapshot_format.h"

/* Two hosts whose 32-bit index hashes are equal (found by search). */
#define COLLIDE_A "c693596.example"
#define COLLIDE_B "c1170850.example"

static vm_table *table_of(apr_pool_t *p, long long n)
{
    apr_array_header_t *rows = tu_rows(p);
    long long id;

    for (id = 1; id <= n; id++)
        tu_push_valid(rows, id, p);
    return vm_table_build(rows, p);
}

static void write_ok(apr_pool_t *p, const char *path, const vm_table *t,
                     uint64_t generation)
{
    vm_snapshot_meta meta = { generation, 1700000000 + (int64_t)generation,
                              "json:/etc/vmoodle/instances.json" };
    const char *err = NULL;

    if (vm_snapshot_write(path, t, &meta, p, &err) != VM_OK)
        fail_msg("write: %s", err);
}

static vm_snapshot *open_ok(apr_pool_t *p, const char *path)
{
    vm_snapshot *s = NULL;
    const char *err = NULL;

    if (vm_snapshot_open(&s, path, p, &err) != VM_OK)
        fail_msg("open: %s", err);
    return s;
}

/* The file at path must be refused, with a reason naming it. */
static void expect_refused(apr_pool_t *p, const char *path, const char *what)
{
    vm_snapshot *s = NULL;
    const char *err = NULL;

    if (vm_snapshot_open(&s, path, p, &err) == VM_OK) {
        vm_snapshot_close(s);
        fail_msg("%s: accepted", what);
    }
    assert_non_null(err);
    assert_non_null(strstr(err, path));
}

static void assert_same_instance(const vm_instance *a, const vm_instance *b)
{
    assert_int_equal(a->id, b->id);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->shortname, b->shortname);
    assert_string_equal(a->vhostname, b->vhostname);
    assert_string_equal(a->key, b->key);
    assert_string_equal(a->wwwroot, b->wwwroot);
    assert_string_equal(a->dbtype, b->dbtype);
    assert_string_equal(a->dbhost, b->dbhost);
    assert_string_equal(a->dblogin, b->dblogin);
    assert_string_equal(a->dbpass, b->dbpass);
    assert_string_equal(a->dbname, b->dbname);
    assert_string_equal(a->dbprefix, b->dbprefix);
    assert_string_equal(a->datapath, b->datapath);
    assert_int_equal(a->dbpersist, b->dbpersist);
    assert_int_equal(a->mnet, b->mnet);
    assert_int_equal(a->enabled, b->enabled);
    assert_string_equal(a->platform, b->platform);
    assert_string_equal(a->aliases, b->aliases);
    assert_string_equal(a->path, b->path);
    /* a: from the snapshot, which carries no cron figures */
    assert_int_equal(a->croncount, 0);
    assert_int_equal(a->lastcron, 0);
    assert_int_equal(a->lastcrongap, 0);
}

/* Every instance of t is found by its key with every field intact, and in
 * id order by position. */
static void assert_round_trip(const vm_table *t, const vm_snapshot *s)
{
    int i;

    assert_int_equal(vm_snapshot_count(s), t->instances->nelts);
    for (i = 0; i < t->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        vm_instance got;

        if (!vm_snapshot_lookup(s, in->key, strlen(in->key), &got))
            fail_msg("%s not found", in->key);
        assert_same_instance(&got, in);
        vm_snapshot_instance(s, (uint32_t)i, &got);
        assert_same_instance(&got, in);
    }
}

/* Keys longer than the part a record keeps inline compare in full: two
 * that differ only past it are told apart. */
static void long_keys(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "snap");
    const char *stem = "a-very-long-label-for-a-school.region.example.edu";
    apr_array_header_t *rows = tu_rows(p);
    vm_instance got;
    vm_snapshot *s;
    vm_table *t;

    vm_row_set(tu_push_valid(rows, 1, p), VM_F_VHOSTNAME,
               apr_pstrcat(p, "https://one.", stem, NULL));
    vm_row_set(tu_push_valid(rows, 2, p), VM_F_VHOSTNAME,
               apr_pstrcat(p, "https://one.", stem, ":8443", NULL));
    t = vm_table_build(rows, p);
    assert_int_equal(t->instances->nelts, 2);
    write_ok(p, path, t, 1);
    s = open_ok(p, path);
    assert_round_trip(t, s);
    assert_false(vm_snapshot_lookup(s,
                                    apr_pstrcat(p, "one.", stem, ":8444", NULL),
                                    strlen(stem) + 9, &got));
    vm_snapshot_close(s);
}

static void round_trip_every_field(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "snap");
    apr_array_header_t *rows = tu_rows(p);
    vm_row *r = tu_push_valid(rows, 12, p);
    vm_snapshot *s;
    vm_table *t;

    vm_row_set(r, VM_F_VHOSTNAME, "http://[2001:DB8::5]:8080/");
    vm_row_set(r, VM_F_VDBTYPE, "postgres");
    vm_row_set(r, VM_F_VDBPERSIST, "1");
    vm_row_set(r, VM_F_MNET, "-1");
    vm_row_set(r, VM_F_ENABLED, "0");
    vm_row_set(r, VM_F_CRONCOUNT, "9007199254740991");
    vm_row_set(r, VM_F_LASTCRON, "1700000000");
    vm_row_set(r, VM_F_LASTCRONGAP, "59");
    vm_row_set(r, VM_F_NAME,
               "\xc3\x89"
               "cole \"quoted\" <b>");
    tu_push_valid(rows, 13, p);
    t = vm_table_build(rows, p);
    write_ok(p, path, t, 7);
    s = open_ok(p, path);
    assert_round_trip(t, s);
    assert_int_equal(vm_snapshot_generation(s), 7);
    assert_int_equal(vm_snapshot_created(s), 1700000007);
    assert_string_equal(vm_snapshot_source(s),
                        "json:/etc/vmoodle/instances.json");
    assert_int_equal(vm_snapshot_digest(s), vm_table_digest(t));
    vm_snapshot_close(s);
}

static void many_instances(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "snap");
    vm_table *t = table_of(p, 5000);
    vm_snapshot *s;

    write_ok(p, path, t, 1);
    s = open_ok(p, path);
    assert_round_trip(t, s);
    vm_snapshot_close(s);
}

/* Keys that share the low bits of their hash (same bucket in any index of
 * up to 65536 buckets), and two with the very same 32-bit hash. */
static void colliding_keys(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "snap");
    apr_array_header_t *rows = tu_rows(p);
    uint32_t low = 0;
    char host[32];
    long long id = 1;
    unsigned i;
    vm_snapshot *s;
    vm_table *t;
    vm_instance got;

    assert_int_equal(vm_hash_key(COLLIDE_A, strlen(COLLIDE_A)),
                     vm_hash_key(COLLIDE_B, strlen(COLLIDE_B)));
    vm_row_set(tu_push_valid(rows, id++, p), VM_F_VHOSTNAME,
               "https://" COLLIDE_A);
    for (i = 0; id <= 8; i++) {
        uint32_t h;

        snprintf(host, sizeof host, "h%u.example", i);
        h = vm_hash_key(host, strlen(host)) & 0xffff;
        if (id > 2 && h != low)
            continue;
        low = h;
        vm_row_set(tu_push_valid(rows, id++, p), VM_F_VHOSTNAME,
                   apr_pstrcat(p, "https://", host, NULL));
    }
    t = vm_table_build(rows, p);
    assert_int_equal(t->instances->nelts, 8);
    write_ok(p, path, t, 1);
    s = open_ok(p, path);
    assert_round_trip(t, s);
    /* same hash, different key: not found, and never another instance */
    assert_int_equal(vm_snapshot_lookup(s, COLLIDE_B, strlen(COLLIDE_B), &got),
                     0);
    for (i = 0; i < 200000; i++) {
        snprintf(host, sizeof host, "x%u.example", i);
        if ((vm_hash_key(host, strlen(host)) & 0xffff) == low)
            assert_int_equal(vm_snapshot_lookup(s, host, strlen(host), &got),
                             0);
    }
    vm_snapshot_close(s);
}

static void absent_keys(void **state)
{
    static const char *const absent[] = {
        "",
        "site1.example.ed",
        "site1.example.edu.",
        "site1.example.eduu",
        "SITE1.example.edu",
        "site1.example.edu:443",
        "site0.example.edu",
        "site11.example.edu",
    };
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "snap");
    vm_snapshot *s;
    vm_instance got;
    size_t i;

    write_ok(p, path, table_of(p, 10), 1);
    s = open_ok(p, path);
    for (i = 0; i < sizeof absent / sizeof absent[0]; i++)
        if (vm_snapshot_lookup(s, absent[i], strlen(absent[i]), &got))
            fail_msg("'%s' found as %s", absent[i], got.key);
    /* the length given is the key: a longer buffer does not matter */
    assert_int_equal(vm_snapshot_lookup(s, "site1.example.edu:8080", 17, &got),
                     1);
    assert_int_equal(got.id, 1);
    vm_snapshot_close(s);
}

static void empty_table_and_rejections(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "snap");
    apr_array_header_t *rows = tu_rows(p);
    vm_rejection rej;
    vm_instance got;
    vm_snapshot *s;

    vm_row_set(tu_push_valid(rows, 4, p), VM_F_VDBTYPE, "oracle");
    tu_push_valid(rows, 2, p)->present[VM_F_VDBNAME] = 0;
    write_ok(p, path, vm_table_build(rows, p), 3);
    s = open_ok(p, path);
    assert_int_equal(vm_snapshot_count(s), 0);
    assert_int_equal(vm_snapshot_lookup(s, "site4.example.edu", 17, &got), 0);
    assert_int_equal(vm_snapshot_rejection_count(s), 2);
    vm_snapshot_rejection(s, 0, &rej);
    assert_int_equal(rej.id, 2);
    assert_string_equal(rej.reason, "vdbname is missing");
    vm_snapshot_rejection(s, 1, &rej);
    assert_int_equal(rej.id, 4);
    assert_non_null(strstr(rej.reason, "oracle"));
    vm_snapshot_close(s);
}

/* The request path: the entry found for a key hands over exactly the
 * variables vm_env_build gives for the instance, numbers already text, and
 * every record starts on a cache line. */
static void entry_env_ready(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "s");
    apr_array_header_t *rows = tu_rows(p);
    vm_row *r = tu_push_valid(rows, 9007199254740991LL, p);
    const char *values[VM_ENV_COUNT];
    vm_env_numbers nums;
    vm_env_var vars[VM_ENV_COUNT];
    const vm_snapshot_entry *e;
    const vm_instance *in;
    vm_snapshot *s;
    vm_table *t;
    char *img;
    int i;

    vm_row_set(r, VM_F_VDBPERSIST, "1");
    vm_row_set(r, VM_F_MNET, "-1");
    tu_push_valid(rows, 2, p);
    vm_row_set(tu_push_valid(rows, 3, p), VM_F_ENABLED, "0");
    t = vm_table_build(rows, p);
    write_ok(p, path, t, 1);
    s = open_ok(p, path);
    for (i = 0; i < t->instances->nelts; i++) {
        in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        e = vm_snapshot_find(s, in->key, strlen(in->key));
        assert_non_null(e);
        assert_int_equal(vm_snapshot_entry_id(e), in->id);
        assert_int_equal(vm_snapshot_entry_enabled(e), in->enabled);
        vm_snapshot_entry_env(s, e, values);
        vm_env_build(in, &nums, vars);
        for (int j = 0; j < VM_ENV_COUNT; j++) {
            assert_string_equal(vars[j].name, vm_env_names[j]);
            assert_string_equal(values[j], vars[j].value);
        }
    }
    e = vm_snapshot_find(s, "site9007199254740991.example.edu", 32);
    assert_non_null(e);
    vm_snapshot_entry_env(s, e, values);
    assert_string_equal(values[VM_E_ID], "9007199254740991");
    assert_string_equal(values[VM_E_DBPERSIST], "1");
    assert_string_equal(values[VM_E_MNET], "-1");
    assert_null(vm_snapshot_find(s, "site4.example.edu", 17));
    vm_snapshot_close(s);
    img = tu_read(p, path, NULL);
    assert_int_equal(((vm_snap_header *)img)->records_off % VM_SNAP_LINE, 0);
}

/* ---- digest ---- */

static uint64_t digest_with(apr_pool_t *p, vm_field f, const char *value)
{
    apr_array_header_t *rows = tu_rows(p);

    tu_push_valid(rows, 1, p);
    tu_push_valid(rows, 2, p);
    if (value)
        vm_row_set(tu_push_valid(rows, 3, p), f, value);
    else
        tu_push_valid(rows, 3, p);
    return vm_table_digest(vm_table_build(rows, p));
}

static void digest_follows_content(void **state)
{
    static const struct {
        vm_field f;
        const char *value;
    } changes[] = {
        { VM_F_ID, "4" },
        { VM_F_NAME, "Other" },
        { VM_F_SHORTNAME, "o" },
        { VM_F_VHOSTNAME, "https://other.example.edu" },
        { VM_F_VHOSTNAME, "https://Site3.example.edu/" },
        { VM_F_VDBTYPE, "mariadb" },
        { VM_F_VDBHOST, "db2" },
        { VM_F_VDBLOGIN, "other" },
        { VM_F_VDBPASS, "secreT" },
        { VM_F_VDBNAME, "other" },
        { VM_F_VDBPREFIX, "x_" },
        { VM_F_VDBPERSIST, "1" },
        { VM_F_VDATAPATH, "/srv/other" },
        { VM_F_MNET, "0" },
        { VM_F_ENABLED, "0" },
        { VM_F_VDBTYPE, "oracle" }, /* becomes a rejection */
    };
    apr_pool_t *p = *state;
    uint64_t base = digest_with(p, VM_F_ID, NULL);
    apr_array_header_t *rows = tu_rows(p);
    size_t i;

    assert_int_equal(digest_with(p, VM_F_ID, NULL), base);
    /* the same rows in another order are the same table */
    tu_push_valid(rows, 3, p);
    tu_push_valid(rows, 1, p);
    tu_push_valid(rows, 2, p);
    assert_int_equal(vm_table_digest(vm_table_build(rows, p)), base);
    for (i = 0; i < sizeof changes / sizeof changes[0]; i++)
        if (digest_with(p, changes[i].f, changes[i].value) == base)
            fail_msg("%s = %s: same digest", vm_field_names[changes[i].f],
                     changes[i].value);
    /* a different rejection reason is a different table too */
    assert_int_not_equal(digest_with(p, VM_F_VDBTYPE, "oracle"),
                         digest_with(p, VM_F_VDBTYPE, "sqlite"));
}

/* A cron run changes only the cron figures: the same routing table. */
static void digest_ignores_cron_figures(void **state)
{
    static const vm_field cron[] = { VM_F_CRONCOUNT, VM_F_LASTCRON,
                                     VM_F_LASTCRONGAP };
    apr_pool_t *p = *state;
    uint64_t base = digest_with(p, VM_F_ID, NULL);
    size_t i;

    for (i = 0; i < sizeof cron / sizeof cron[0]; i++)
        assert_int_equal(digest_with(p, cron[i], "1700000123"), base);
}

/* The image whose digest is compared is the image written: its digest is
 * the file's, and the table's. */
static void build_once_write_that_image(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "s"), *err = NULL;
    vm_table *t = table_of(p, 50);
    vm_snapshot_meta meta = { 4, 1700000004, "json:/x" };
    vm_snapshot_image *img;
    vm_snapshot *s;

    assert_int_equal(vm_snapshot_build(&img, t, meta.source, p, &err), VM_OK);
    assert_int_equal(vm_snapshot_image_digest(img), vm_table_digest(t));
    assert_int_equal(vm_snapshot_image_write(img, path, &meta, p, &err), VM_OK);
    s = open_ok(p, path);
    assert_int_equal(vm_snapshot_digest(s), vm_snapshot_image_digest(img));
    assert_int_equal(vm_snapshot_generation(s), 4);
    assert_round_trip(t, s);
    vm_snapshot_close(s);
}

static void digest_ignores_generation_and_source(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p);
    const char *a = tu_path(p, dir, "a"), *b = tu_path(p, dir, "b");
    vm_table *t = table_of(p, 3);
    vm_snapshot_meta meta = { 99, 1, "pgsql:\"host=x password=***\"" };
    const char *err = NULL;
    vm_snapshot *sa, *sb;

    write_ok(p, a, t, 1);
    assert_int_equal(vm_snapshot_write(b, t, &meta, p, &err), VM_OK);
    sa = open_ok(p, a);
    sb = open_ok(p, b);
    assert_int_equal(vm_snapshot_digest(sa), vm_snapshot_digest(sb));
    assert_int_equal(vm_snapshot_generation(sb), 99);
    assert_string_equal(vm_snapshot_source(sb),
                        "pgsql:\"host=x password=***\"");
    vm_snapshot_close(sa);
    vm_snapshot_close(sb);
}

/* ---- files that must be refused ---- */

typedef struct {
    apr_pool_t *p;
    const char *dir, *path, *bad;
    char *image;
    size_t size;
} damage_fixture;

/* A valid snapshot with instances and rejections, read into memory. */
static damage_fixture damage_setup(apr_pool_t *p, long long n)
{
    damage_fixture d;
    apr_array_header_t *rows = tu_rows(p);
    long long id;

    d.p = p;
    d.dir = tu_tmpdir(p);
    d.path = tu_path(p, d.dir, "good");
    d.bad = tu_path(p, d.dir, "bad");
    for (id = 1; id <= n; id++)
        tu_push_valid(rows, id, p);
    vm_row_set(tu_push_valid(rows, n + 1, p), VM_F_VDATAPATH, "rel");
    write_ok(p, d.path, vm_table_build(rows, p), 5);
    d.image = tu_read(p, d.path, &d.size);
    assert_true(d.size > sizeof(vm_snap_header));
    return d;
}

static void truncated_at_every_length(void **state)
{
    damage_fixture d = damage_setup(*state, 3);
    char *longer;
    size_t len;

    for (len = 0; len < d.size; len++) {
        tu_write(d.bad, d.image, len);
        expect_refused(d.p, d.bad,
                       apr_psprintf(d.p, "truncated to %" APR_SIZE_T_FMT, len));
    }
    /* and extended */
    longer = apr_pcalloc(d.p, d.size + 8);
    memcpy(longer, d.image, d.size);
    tu_write(d.bad, longer, d.size + 8);
    expect_refused(d.p, d.bad, "extended");
}

static void flipped_byte_at_every_offset(void **state)
{
    static const unsigned char masks[] = { 0x01, 0x80, 0xff };
    damage_fixture d = damage_setup(*state, 3);
    char *copy = apr_palloc(d.p, d.size);
    size_t off, m;

    for (off = 0; off < d.size; off++) {
        for (m = 0; m < sizeof masks; m++) {
            memcpy(copy, d.image, d.size);
            copy[off] ^= (char)masks[m];
            tu_write(d.bad, copy, d.size);
            expect_refused(d.p, d.bad,
                           apr_psprintf(d.p, "byte %" APR_SIZE_T_FMT " ^ %#x",
                                        off, masks[m]));
        }
    }
}

static void garbage_empty_missing(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *path = tu_path(p, dir, "x");
    char junk[4096];
    vm_snapshot *s;
    const char *err = NULL;
    size_t i, sizes[] = { 1, 7, 8, 100, sizeof(vm_snap_header), 4096 };

    srand(7);
    for (i = 0; i < sizeof junk; i++)
        junk[i] = (char)rand();
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        tu_write(path, junk, sizes[i]);
        expect_refused(p, path, "garbage");
        memcpy(junk, VM_SNAP_MAGIC, 8); /* right magic, garbage after */
        tu_write(path, junk, sizes[i]);
        expect_refused(p, path, "garbage after magic");
    }
    tu_write(path, "", 0);
    expect_refused(p, path, "empty");
    tu_write_text(
        path,
        "VMSNAP\n\n and some text that is not a snapshot......"
        "...........................................................");
    expect_refused(p, path, "wrong magic");
    assert_int_equal(vm_snapshot_open(&s, tu_path(p, dir, "none"), p, &err),
                     VM_ERR_IO);
    assert_non_null(strstr(err, "none"));
    expect_refused(p, dir, "a directory");
    vm_snapshot_close(NULL);
}

/* Recompute the checksum as the writer does, so only the structural
 * checks stand between a crafted file and the reader. */
static void reseal(char *img, size_t size)
{
    vm_snap_header *h = (vm_snap_header *)img;

    h->checksum = 0;
    h->checksum = vm_hash_bytes(vm_hash_bytes(VM_HASH_SEED, h, sizeof *h),
                                img + sizeof *h, size - sizeof *h);
}

typedef void (*craft_fn)(char *img, vm_snap_header *h);

#define H_SET(name, stmt)                          \
    static void name(char *img, vm_snap_header *h) \
    {                                              \
        (void)img;                                 \
        stmt;                                      \
    }
H_SET(nslots_zero, h->nslots = 0)
H_SET(nslots_odd, h->nslots = 12)
H_SET(nslots_too_small, h->nslots = 4)
H_SET(nslots_huge, h->nslots = 1u << 31)
H_SET(count_huge, h->count = 0x7fffffff)
H_SET(nrejections_huge, h->nrejections = 0xffffffff)
H_SET(index_misaligned, h->index_off += 4)
H_SET(index_in_header, h->index_off = 0)
H_SET(index_past_end, h->index_off = h->file_size + 8)
H_SET(index_offset_wraps, h->index_off = UINT64_MAX - 7)
H_SET(records_past_end, h->records_off = h->file_size - 8)
H_SET(records_off_line, h->records_off += 8)
H_SET(rejections_past_end, h->rejections_off = h->file_size)
H_SET(strings_past_end, h->strings_off = h->file_size + 1)
H_SET(strings_len_zero, h->strings_len = 0)
H_SET(strings_len_long, h->strings_len = h->file_size)
H_SET(strings_len_wraps, h->strings_len = UINT64_MAX)
H_SET(source_out, h->source = (uint32_t)h->strings_len)
H_SET(header_size, h->header_size = 8)
H_SET(version, h->version = VM_SNAP_VERSION + 1)
H_SET(strings_unterminated, img[h->strings_off + h->strings_len - 1] = 'x')

static vm_snap_record *first_record(char *img, vm_snap_header *h)
{
    return (vm_snap_record *)(img + h->records_off);
}

static vm_snap_slot *slot_of_record(char *img, vm_snap_header *h,
                                    uint32_t record, int used)
{
    vm_snap_slot *b = (vm_snap_slot *)(img + h->index_off);
    uint32_t i;

    for (i = 0; i < h->nslots; i++)
        if (used ? b[i].record == record : b[i].record == 0)
            return &b[i];
    fail_msg("no such slot");
    return NULL;
}

H_SET(record_string_out, first_record(img, h)->str[VM_E_DBPASS] = 0xfffffff0)
H_SET(record_name_out,
      first_record(img, h)->str[VM_R_COLD] = (uint32_t)h->strings_len + 1)
H_SET(record_key_out,
      first_record(img, h)->str[VM_E_HOST] = (uint32_t)h->strings_len)
H_SET(record_keylen_long, first_record(img, h)->keylen += 1000)
H_SET(record_keylen_short, first_record(img, h)->keylen -= 1)
H_SET(record_keyhead_differs, first_record(img, h)->keyhead[0] ^= 1)
H_SET(rejection_reason_out,
      ((vm_snap_rejection *)(img + h->rejections_off))->reason = 0xffffffff)
H_SET(slot_record_out, slot_of_record(img, h, 1, 1)->record = h->count + 1)
H_SET(slot_extra, *slot_of_record(img, h, 0, 0) = *slot_of_record(img, h, 1, 1))
H_SET(slot_lost, slot_of_record(img, h, 2, 1)->record = 0)
H_SET(slot_wrong_fingerprint, slot_of_record(img, h, 2, 1)->fingerprint ^= 1)
H_SET(slot_other_record, slot_of_record(img, h, 2, 1)->record = 3)
/* a link slot naming link 0 (index + 1 is 0), or one past the links */
H_SET(slot_link_zero, slot_of_record(img, h, 2, 1)->record = VM_SNAP_LINK)
H_SET(slot_link_out,
      slot_of_record(img, h, 2, 1)->record = VM_SNAP_LINK | (h->nlinks + 1))

static void expect_route(const vm_snapshot *s, const char *key,
                         const char *path, long long id, int alias,
                         size_t prefix)
{
    vm_snapshot_route_result r;
    int found = vm_snapshot_route(s, key, strlen(key), path, &r);

    if (!id) {
        if (found)
            fail_msg("%s %s: routed to %lld", key, path,
                     vm_snapshot_entry_id(r.site));
        return;
    }
    if (!found)
        fail_msg("%s %s: not routed", key, path);
    if (vm_snapshot_entry_id(r.site) != id || r.alias != alias
        || r.prefix != prefix)
        fail_msg("%s %s: id %lld alias %d prefix %zu", key, path,
                 vm_snapshot_entry_id(r.site), r.alias, r.prefix);
    /* the matched key's path: the request's first prefix bytes */
    if (strlen(r.path) != prefix || strncmp(r.path, path, prefix) != 0)
        fail_msg("%s %s: path '%s' for prefix %zu", key, path, r.path,
                 r.prefix);
}

/* The lookup rules: a root site beside path sites, the first segment
 * decides, a host with path sites only, aliases (a host, a path), and a
 * platform carried to the request. */
static void routes_paths_and_aliases(void **state)
{
    apr_pool_t *p = *state;
    const char *path = tu_path(p, tu_tmpdir(p), "s");
    apr_array_header_t *rows = tu_rows(p);
    vm_instance back;
    vm_snapshot *s;
    vm_table *t;
    vm_row *four;

    vm_row_set(tu_push_valid(rows, 1, p), VM_F_VHOSTNAME,
               "https://example.edu/");
    vm_row_set(tu_push_valid(rows, 2, p), VM_F_VHOSTNAME,
               "https://example.edu/school1");
    vm_row_set(tu_push_valid(rows, 3, p), VM_F_VHOSTNAME,
               "https://paths.example.edu/a");
    four = tu_push_valid(rows, 4, p);
    vm_row_set(four, VM_F_ALIASES,
               "www.site4.example.edu "
               "old.example.edu/four example.edu:8080");
    vm_row_set(four, VM_F_PLATFORM, "next");
    t = vm_table_build(rows, p);
    assert_int_equal(t->rejections->nelts, 0);
    write_ok(p, path, t, 1);
    s = open_ok(p, path);
    expect_route(s, "example.edu", "/", 1, 0, 0);
    expect_route(s, "example.edu", "/course/view.php", 1, 0, 0);
    expect_route(s, "example.edu", "/school1/", 2, 0, 8);
    expect_route(s, "example.edu", "/school1", 2, 0, 8);
    expect_route(s, "example.edu", "/school1/theme/styles.php/x", 2, 0, 8);
    expect_route(s, "example.edu", "/school12/", 1, 0, 0);
    expect_route(s, "example.edu", "/School1/", 1, 0, 0);
    expect_route(s, "example.edu", "", 1, 0, 0);
    expect_route(s, "paths.example.edu", "/a/x", 3, 0, 2);
    expect_route(s, "paths.example.edu", "/b/x", 0, 0, 0);
    expect_route(s, "paths.example.edu", "/", 0, 0, 0);
    expect_route(s, "www.site4.example.edu", "/x?y", 4, 1, 0);
    expect_route(s, "old.example.edu", "/four/x", 4, 1, 5);
    expect_route(s, "old.example.edu", "/", 0, 0, 0);
    expect_route(s, "example.edu:8080", "/school1/", 4, 1, 0);
    expect_route(s, "site4.example.edu", "/", 4, 0, 0);
    /* an alias or a path host is no site of its own for the tools */
    assert_null(vm_snapshot_find(s, "www.site4.example.edu", 21));
    assert_null(vm_snapshot_find(s, "paths.example.edu", 17));
    assert_true(vm_snapshot_lookup(s, "site4.example.edu", 17, &back));
    assert_string_equal(back.platform, "next");
    assert_string_equal(back.aliases,
                        "www.site4.example.edu "
                        "old.example.edu/four example.edu:8080 ");
    assert_string_equal(vm_snapshot_entry_platform(
                            s, vm_snapshot_find(s, "site4.example.edu", 17)),
                        "next");
    assert_true(vm_snapshot_lookup(s, "example.edu/school1", 19, &back));
    assert_string_equal(back.path, "/school1");
    assert_string_equal(back.wwwroot, "https://example.edu/school1");
    vm_snapshot_close(s);
    /* the same table gives the same digest (the path hosts' order) */
    assert_true(vm_table_digest(t) == vm_table_digest(t));
}

static void crafted_files_refused(void **state)
{
    static const struct {
        const char *name;
        craft_fn fn;
    } c[] = {
#define C(fn) { #fn, fn }
        C(nslots_zero),
        C(nslots_odd),
        C(nslots_too_small),
        C(nslots_huge),
        C(count_huge),
        C(nrejections_huge),
        C(index_misaligned),
        C(index_in_header),
        C(index_past_end),
        C(index_offset_wraps),
        C(records_past_end),
        C(records_off_line),
        C(rejections_past_end),
        C(strings_past_end),
        C(strings_len_zero),
        C(strings_len_long),
        C(strings_len_wraps),
        C(source_out),
        C(header_size),
        C(version),
        C(strings_unterminated),
        C(record_string_out),
        C(record_name_out),
        C(record_key_out),
        C(record_keylen_long),
        C(record_keylen_short),
        C(record_keyhead_differs),
        C(rejection_reason_out),
        C(slot_record_out),
        C(slot_extra),
        C(slot_lost),
        C(slot_wrong_fingerprint),
        C(slot_other_record),
        C(slot_link_zero),
        C(slot_link_out),
#undef C
    };
    damage_fixture d = damage_setup(*state, 3);
    char *img = apr_palloc(d.p, d.size);
    size_t i;

    /* resealing an untouched image gives a file that opens */
    memcpy(img, d.image, d.size);
    reseal(img, d.size);
    tu_write(d.bad, img, d.size);
    vm_snapshot_close(open_ok(d.p, d.bad));
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        memcpy(img, d.image, d.size);
        c[i].fn(img, (vm_snap_header *)img);
        reseal(img, d.size);
        tu_write(d.bad, img, d.size);
        expect_refused(d.p, d.bad, c[i].name);
    }
}

/* ---- refresh ---- */

typedef struct {
    apr_pool_t *p;
    const char *json, *snap;
    vm_source *src;
} refresh_fixture;

static const char *instances_json(apr_pool_t *p, int n, const char *extra)
{
    const char *text = "[";
    int id;

    for (id = 1; id <= n; id++)
        text = apr_psprintf(p,
                            "%s%s{\"id\": %d, \"vhostname\":"
                            " \"https://s%d.example\", \"vdbname\": \"m%d\","
                            " \"vdatapath\": \"/srv/s%d\"}",
                            text, id > 1 ? ", " : "", id, id, id, id);
    return apr_pstrcat(p, text, extra ? extra : "", "]", NULL);
}

static refresh_fixture refresh_setup(apr_pool_t *p, const char *json_text)
{
    refresh_fixture f;
    const char *dir = tu_tmpdir(p), *err = NULL;

    f.p = p;
    f.json = tu_path(p, dir, "instances.json");
    f.snap = tu_path(p, dir, "instances.snap");
    tu_write_text(f.json, json_text);
    assert_int_equal(vm_source_open(&f.src,
                                    apr_pstrcat(p, "json:", f.json, NULL), NULL,
                                    p, &err),
                     VM_OK);
    return f;
}

static vm_refresh_result refresh(refresh_fixture *f, uint64_t floor)
{
    vm_refresh_result res;

    vm_refresh(f->src, f->snap, floor, f->p, &res);
    return res;
}

static uint64_t generation_on_disk(refresh_fixture *f)
{
    vm_snapshot *s = open_ok(f->p, f->snap);
    uint64_t g = vm_snapshot_generation(s);

    vm_snapshot_close(s);
    return g;
}

static void refresh_generations(void **state)
{
    refresh_fixture f = refresh_setup(*state, instances_json(*state, 3, NULL));
    vm_refresh_result r = refresh(&f, 0);
    ino_t ino;
    vm_snapshot *s;
    vm_instance got;

    assert_int_equal(r.status, VM_OK);
    assert_true(r.changed);
    assert_int_equal(r.generation, 1);
    assert_int_equal(r.count, 3);
    s = open_ok(f.p, f.snap);
    assert_int_equal(vm_snapshot_lookup(s, "s2.example", 10, &got), 1);
    assert_string_equal(got.dbname, "m2");
    assert_string_equal(vm_snapshot_source(s), f.src->display);
    vm_snapshot_close(s);
    /* unchanged: nothing written */
    ino = tu_inode(f.snap);
    r = refresh(&f, 0);
    assert_int_equal(r.status, VM_OK);
    assert_false(r.changed);
    assert_int_equal(r.generation, 1);
    assert_int_equal(r.count, 3);
    assert_int_equal(tu_inode(f.snap), ino);
    /* changed: next generation */
    tu_write_text(f.json, instances_json(f.p, 4, NULL));
    r = refresh(&f, 0);
    assert_true(r.changed);
    assert_int_equal(r.generation, 2);
    assert_int_equal(r.count, 4);
    assert_int_equal(generation_on_disk(&f), 2);
}

/* Set a file's modification time n seconds into the past. */
static void age_file(const char *path, int n)
{
    struct timespec t[2];

    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= n;
    t[1] = t[0];
    assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* A JSON file whose inode, size and time did not move is not read again;
 * any of them moving, or a change too recent to judge, makes it read. */
static void refresh_skips_unchanged_json(void **state)
{
    refresh_fixture f = refresh_setup(*state, instances_json(*state, 2, NULL));
    const char *same_size = instances_json(*state, 2, NULL);
    vm_refresh_result r;
    struct stat st;
    struct timespec times[2];
    char *damaged;

    age_file(f.json, 10);
    assert_true(refresh(&f, 0).changed);
    /* damage in place, same size, same time: proof it is skipped */
    assert_int_equal(stat(f.json, &st), 0);
    damaged = apr_pstrdup(f.p, same_size);
    damaged[0] = '{';
    tu_write_text(f.json, damaged);
    times[0] = times[1] = st.st_mtim;
    assert_int_equal(utimensat(AT_FDCWD, f.json, times, 0), 0);
    r = refresh(&f, 0);
    assert_int_equal(r.status, VM_OK);
    assert_false(r.changed);
    /* the time moves: read, and the damage reported */
    age_file(f.json, 5);
    r = refresh(&f, 0);
    assert_int_equal(r.status, VM_ERR_DATA);
    /* a fresh change is read even at the same size */
    tu_write_text(f.json, instances_json(f.p, 3, NULL));
    assert_true(refresh(&f, 0).changed);
    tu_write_text(f.json, instances_json(f.p, 2, NULL));
    assert_true(refresh(&f, 0).changed);
}

static void refresh_source_error_keeps_file(void **state)
{
    refresh_fixture f = refresh_setup(*state, instances_json(*state, 2, NULL));
    vm_refresh_result r = refresh(&f, 0);
    char *before = tu_read(f.p, f.snap, NULL);
    ino_t ino = tu_inode(f.snap);

    tu_write_text(f.json, "[{\"id\": 1,");
    r = refresh(&f, 0);
    assert_int_equal(r.status, VM_ERR_DATA);
    assert_non_null(r.error);
    assert_false(r.changed);
    assert_int_equal(r.generation, 1);
    assert_int_equal(r.count, 2);
    assert_int_equal(tu_inode(f.snap), ino);
    assert_string_equal(tu_read(f.p, f.snap, NULL), before);
    assert_int_equal(remove(f.json), 0);
    r = refresh(&f, 0);
    assert_int_equal(r.status, VM_ERR_IO);
    assert_int_equal(generation_on_disk(&f), 1);
}

static void refresh_no_source_writes_nothing(void **state)
{
    refresh_fixture f = refresh_setup(*state, "not json");
    vm_refresh_result r = refresh(&f, 0);

    assert_int_equal(r.status, VM_ERR_DATA);
    assert_int_equal(r.generation, 0);
    assert_false(tu_exists(f.snap));
}

static void refresh_floor(void **state)
{
    refresh_fixture f = refresh_setup(*state, instances_json(*state, 1, NULL));
    vm_refresh_result r = refresh(&f, 41);

    /* file lost: numbered above what the caller last saw */
    assert_int_equal(r.generation, 42);
    tu_write_text(f.json, instances_json(f.p, 2, NULL));
    assert_int_equal(refresh(&f, 10).generation, 43);
    tu_write_text(f.json, instances_json(f.p, 3, NULL));
    assert_int_equal(refresh(&f, 100).generation, 101);
    assert_int_equal(generation_on_disk(&f), 101);
    /* a corrupt file is replaced, numbered above the floor */
    tu_write_text(f.snap, "garbage");
    r = refresh(&f, 101);
    assert_true(r.changed);
    assert_int_equal(r.generation, 102);
    assert_int_equal(generation_on_disk(&f), 102);
}

static void refresh_new_rejections(void **state)
{
    static const char *bad7 = ", {\"id\": 7, \"vhostname\": \"ftp://x\","
                              " \"vdbname\": \"x\", \"vdatapath\": \"/x\"}";
    static const char
        *bad8 = ", {\"id\": 8, \"vhostname\": \"https://s1.example\","
                " \"vdbname\": \"x\", \"vdatapath\": \"/x\"}";
    refresh_fixture f = refresh_setup(*state, instances_json(*state, 2, bad7));
    vm_refresh_result r = refresh(&f, 0);

    assert_int_equal(r.new_rejections->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(r.new_rejections, 0, vm_rejection).id, 7);
    /* unchanged, then changed elsewhere: the old rejection is not new */
    assert_int_equal(refresh(&f, 0).new_rejections->nelts, 0);
    tu_write_text(f.json, instances_json(f.p, 3, bad7));
    r = refresh(&f, 0);
    assert_true(r.changed);
    assert_int_equal(r.new_rejections->nelts, 0);
    /* a second refused row: only it is reported */
    tu_write_text(f.json,
                  instances_json(f.p, 3, apr_pstrcat(f.p, bad7, bad8, NULL)));
    r = refresh(&f, 0);
    assert_int_equal(r.new_rejections->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(r.new_rejections, 0, vm_rejection).id, 8);
    assert_non_null(
        strstr(APR_ARRAY_IDX(r.new_rejections, 0, vm_rejection).reason,
               "id 1"));
}

/* A cron run changes the cron figures file, never the snapshot. */
static void refresh_cron_run_makes_no_generation(void **state)
{
    refresh_fixture f = refresh_setup(*state, instances_json(*state, 3, NULL));
    const char *figures = vm_cron_figures_path(f.snap, f.p), *err = NULL;
    vm_cron_figures *cf;
    vm_refresh_result r = refresh(&f, 0);
    vm_instance in = { .id = 2 };
    ino_t ino = tu_inode(f.snap);
    int run;

    assert_int_equal(r.generation, 1);
    assert_true(tu_exists(figures));
    for (run = 1; run <= 3; run++) {
        assert_int_equal(f.src->ops->record_cron(f.src, 2,
                                                 1700000000 + 60 * run, f.p,
                                                 &err),
                         VM_OK);
        r = refresh(&f, 0);
        assert_int_equal(r.status, VM_OK);
        assert_null(r.figures_error);
        assert_false(r.changed);
        assert_int_equal(r.generation, 1);
        assert_int_equal(tu_inode(f.snap), ino);
        assert_int_equal(vm_cron_figures_load(&cf, figures, f.p, &err), VM_OK);
        assert_true(vm_cron_figures_get(cf, &in));
        assert_int_equal(in.croncount, run);
        assert_int_equal(in.lastcron, 1700000000 + 60 * run);
    }
    assert_int_equal(in.lastcrongap, 60);
    /* a routing change still makes one */
    tu_write_text(f.json, instances_json(f.p, 4, NULL));
    assert_int_equal(refresh(&f, 0).generation, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(round_trip_every_field),
        TU_TEST(long_keys),
        TU_TEST(many_instances),
        TU_TEST(colliding_keys),
        TU_TEST(absent_keys),
        TU_TEST(empty_table_and_rejections),
        TU_TEST(entry_env_ready),
        TU_TEST(digest_follows_content),
        TU_TEST(digest_ignores_generation_and_source),
        TU_TEST(digest_ignores_cron_figures),
        TU_TEST(build_once_write_that_image),
        TU_TEST(truncated_at_every_length),
        TU_TEST(flipped_byte_at_every_offset),
        TU_TEST(garbage_empty_missing),
        TU_TEST(routes_paths_and_aliases),
        TU_TEST(crafted_files_refused),
        TU_TEST(refresh_generations),
        TU_TEST(refresh_skips_unchanged_json),
        TU_TEST(refresh_source_error_keeps_file),
        TU_TEST(refresh_no_source_writes_nothing),
        TU_TEST(refresh_floor),
        TU_TEST(refresh_new_rejections),
        TU_TEST(refresh_cron_run_makes_no_generation),
    };

    return TU_RUN(tests);
}
