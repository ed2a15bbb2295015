/* The JSON source on real files: what load makes of each kind of content,
 * how save/delete rewrite the file (atomically, keeping a .bak and the
 * keys we do not know), cron statistics in FILE.cronstate; and the one
 * unquoting rule of source strings. */
#include <dirent.h>
#include <cJSON.h>
#include "testutil.h"
#include "vm_source.h"
#include "vm_table.h"

#define ROW_A                                                             \
    "{\"id\": 3, \"name\": \"A\", \"vhostname\": \"https://a.example/\"," \
    " \"vdbname\": \"a\", \"vdatapath\": \"/srv/a\", \"description\": "   \
    "\"keep\","                                                           \
    " \"timecreated\": 1600000000}"
#define ROW_B                                            \
    "{\"id\": 10, \"vhostname\": \"https://b.example\"," \
    " \"vdbname\": \"b\", \"vdatapath\": \"/srv/b\", \"enabled\": false}"

typedef struct {
    apr_pool_t *p;
    const char *dir, *path;
    vm_source *src;
} fixture;

/* A directory with instances.json holding text, and the source on it. */
static fixture open_with(apr_pool_t *p, const char *text)
{
    fixture f = { p, tu_tmpdir(p), NULL, NULL };
    const char *err = NULL;

    f.path = tu_path(p, f.dir, "instances.json");
    if (text)
        tu_write_text(f.path, text);
    assert_int_equal(vm_source_open(&f.src,
                                    apr_pstrcat(p, "json:", f.path, NULL), NULL,
                                    p, &err),
                     VM_OK);
    return f;
}

static apr_array_header_t *load_ok(fixture *f)
{
    apr_array_header_t *rows;
    const char *err = NULL;
    vm_status st = vm_source_load(f->src, &rows, f->p, &err);

    if (st != VM_OK)
        fail_msg("load: %s", err);
    return rows;
}

static vm_status load_fails(fixture *f, const char **err)
{
    apr_array_header_t *rows;
    vm_status st;

    *err = NULL;
    st = vm_source_load(f->src, &rows, f->p, err);
    assert_int_not_equal(st, VM_OK);
    assert_non_null(*err);
    assert_non_null(strstr(*err, f->path));
    return st;
}

static const vm_row *row_at(const apr_array_header_t *rows, int i)
{
    assert_true(i < rows->nelts);
    return &APR_ARRAY_IDX(rows, i, vm_row);
}

static void valid_file(void **state)
{
    fixture f = open_with(*state, "[" ROW_A ", " ROW_B "]");
    apr_array_header_t *rows = load_ok(&f);
    const vm_row *a = row_at(rows, 0), *b = row_at(rows, 1);
    vm_table *t;

    assert_int_equal(rows->nelts, 2);
    assert_null(a->error);
    assert_string_equal(a->value[VM_F_ID], "3");
    assert_string_equal(a->value[VM_F_NAME], "A");
    assert_string_equal(b->value[VM_F_ENABLED], "0");
    assert_false(b->present[VM_F_NAME]);
    t = vm_table_build(rows, f.p);
    assert_int_equal(t->instances->nelts, 2);
    assert_int_equal(t->rejections->nelts, 0);
    assert_int_equal(vm_table_find_key(t, "b.example")->enabled, 0);
    assert_string_equal(vm_table_find_id(t, 3)->dbtype, "mysqli");
    assert_string_equal(f.src->display,
                        apr_pstrcat(f.p, "json:", f.path, NULL));
}

static void scalars_as_text(void **state)
{
    fixture f = open_with(
        *state,
        "[{\"id\": 7, \"enabled\": true,"
        " \"vdbpersist\": false, \"mnet\": -1, \"lastcron\": 1700000000,"
        " \"croncount\": \"12\", \"name\": \"\\u00e9t\\u00e9 \\\"q\\\"\","
        " \"lastcrongap\": 1.5, \"vdbpass\": 123}]");
    const vm_row *r = row_at(load_ok(&f), 0);

    assert_null(r->error);
    assert_string_equal(r->value[VM_F_ID], "7");
    assert_string_equal(r->value[VM_F_ENABLED], "1");
    assert_string_equal(r->value[VM_F_VDBPERSIST], "0");
    assert_string_equal(r->value[VM_F_MNET], "-1");
    assert_string_equal(r->value[VM_F_LASTCRON], "1700000000");
    assert_string_equal(r->value[VM_F_CRONCOUNT], "12");
    assert_string_equal(r->value[VM_F_NAME], "\xc3\xa9t\xc3\xa9 \"q\"");
    assert_string_equal(r->value[VM_F_LASTCRONGAP], "1.5");
    assert_string_equal(r->value[VM_F_VDBPASS], "123");
}

/* JSON null is kept apart from a key left out: null is refused in a
 * column VMoodle declares NOT NULL (vdbhost), a key left out takes the
 * column default, and null in a nullable column (name) reads as it. */
static void null_versus_missing(void **state)
{
    fixture f = open_with(
        *state,
        "[{\"id\": 1, \"vhostname\": \"http://a.ex\","
        " \"vdbname\": \"a\", \"vdatapath\": \"/a\", \"vdbhost\": null},"
        " {\"id\": 2, \"vhostname\": \"http://b.ex\", \"vdbname\": \"b\","
        " \"vdatapath\": \"/b\", \"name\": null}]");
    apr_array_header_t *rows = load_ok(&f);
    vm_table *t;

    assert_true(row_at(rows, 0)->present[VM_F_VDBHOST]);
    assert_null(row_at(rows, 0)->value[VM_F_VDBHOST]);
    assert_false(row_at(rows, 1)->present[VM_F_VDBHOST]);
    assert_true(row_at(rows, 1)->present[VM_F_NAME]);
    t = vm_table_build(rows, f.p);
    assert_int_equal(t->instances->nelts, 1);
    assert_string_equal(vm_table_find_id(t, 2)->dbhost, "localhost");
    assert_string_equal(vm_table_find_id(t, 2)->name, "");
    assert_int_equal(APR_ARRAY_IDX(t->rejections, 0, vm_rejection).id, 1);
    assert_string_equal(APR_ARRAY_IDX(t->rejections, 0, vm_rejection).reason,
                        "vdbhost is NULL");
}

static void entries_that_are_not_rows(void **state)
{
    fixture f =
        open_with(*state,
                  "[1, \"x\", [], null, " ROW_A ","
                  " {\"id\": 11, \"vdbname\": {\"nested\": 1}, \"vhostname\":"
                  " \"https://c.example\", \"vdatapath\": \"/c\"}]");
    apr_array_header_t *rows = load_ok(&f);
    vm_table *t;
    int i;

    assert_int_equal(rows->nelts, 6);
    for (i = 0; i < 4; i++)
        assert_string_equal(row_at(rows, i)->error,
                            "entry is not a JSON object");
    assert_null(row_at(rows, 4)->error);
    assert_string_equal(row_at(rows, 5)->error, "vdbname is not a scalar");
    t = vm_table_build(rows, f.p);
    assert_int_equal(t->instances->nelts, 1);
    assert_int_equal(t->rejections->nelts, 5);
    assert_int_equal(APR_ARRAY_IDX(t->rejections, 4, vm_rejection).id, 11);
}

static void empty_array(void **state)
{
    fixture f = open_with(*state, " [ ]\n");

    assert_int_equal(load_ok(&f)->nelts, 0);
}

/* Each of texts, as the whole file, fails to load as VM_ERR_DATA with
 * words in the message. */
static void expect_data_errors(apr_pool_t *p, const char *const *texts,
                               size_t n, const char *words)
{
    size_t i;

    for (i = 0; i < n; i++) {
        fixture f = open_with(p, texts[i]);
        const char *err;

        assert_int_equal(load_fails(&f, &err), VM_ERR_DATA);
        if (!strstr(err, words))
            fail_msg("'%s': %s", texts[i], err);
    }
}

static void not_an_array(void **state)
{
    static const char *const texts[] = { "{\"id\": 1}", "null", "42",
                                         "\"[]\"" };

    expect_data_errors(*state, texts, sizeof texts / sizeof texts[0],
                       "not an array");
}

/* Including content after the array, which cJSON alone would ignore. */
static void invalid_json(void **state)
{
    static const char *const texts[] = {
        "[{",
        "",
        "[1,]",
        "[{\"id\": 1}] x",
        "[{\"id\": 1}][{\"id\": 2}]",
        "[{'id': 1}]",
        "\xff\xfe[]",
    };
    fixture f = open_with(*state, NULL);
    const char *err;

    expect_data_errors(*state, texts, sizeof texts / sizeof texts[0],
                       "invalid JSON");
    tu_write(f.path, "[]\n\0[]", 6); /* a NUL byte does not end it */
    assert_int_equal(load_fails(&f, &err), VM_ERR_DATA);
}

static void missing_file(void **state)
{
    fixture f = open_with(*state, NULL);
    const char *err;

    assert_int_equal(load_fails(&f, &err), VM_ERR_IO);
    assert_non_null(strstr(err, "No such file"));
}

static void source_strings(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = tu_tmpdir(p), *path = tu_path(p, dir, "i.json");
    const char *err = NULL;
    apr_array_header_t *rows;
    vm_source *src;

    assert_int_equal(vm_source_open(&src, "json:", NULL, p, &err),
                     VM_ERR_CONFIG);
    assert_non_null(err);
    assert_int_equal(vm_source_open(&src, "json:\"\"", NULL, p, &err),
                     VM_ERR_CONFIG);
    assert_int_equal(vm_source_open(&src, "oracle:x", NULL, p, &err),
                     VM_ERR_CONFIG);
    assert_non_null(strstr(err, "oracle"));
    assert_int_equal(vm_source_open(&src, "/etc/x.json", NULL, p, &err),
                     VM_ERR_CONFIG);
    assert_int_equal(vm_source_open(&src, NULL, NULL, p, &err), VM_ERR_CONFIG);
    tu_write_text(path, "[" ROW_A "]");
    assert_int_equal(vm_source_open(&src,
                                    apr_pstrcat(p, "json:\"", path, "\"", NULL),
                                    NULL, p, &err),
                     VM_OK);
    assert_string_equal(src->table, VM_DEFAULT_TABLE);
    assert_int_equal(vm_source_load(src, &rows, p, &err), VM_OK);
    assert_int_equal(rows->nelts, 1);
}

/* ---- writing ---- */

static cJSON *parse_file(fixture *f)
{
    cJSON *json = cJSON_Parse(tu_read(f->p, f->path, NULL));

    assert_non_null(json);
    return json;
}

static cJSON *object_with_id(cJSON *array, int id)
{
    cJSON *obj;

    cJSON_ArrayForEach(obj, array) if (cJSON_GetNumberValue(
                                           cJSON_GetObjectItem(obj, "id"))
                                       == id) return obj;
    return NULL;
}

/* No temporary file left beside the instance file. */
static void assert_no_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp"))
            fail_msg("left behind: %s", e->d_name);
    closedir(d);
}

static void save_inserts_with_next_id(void **state)
{
    fixture f = open_with(*state, "[" ROW_A ", " ROW_B "]");
    vm_row row;
    long long id = 0;
    const char *err = NULL;
    cJSON *json, *obj;

    tu_valid_row(&row, 0, f.p);
    vm_row_set(&row, VM_F_VHOSTNAME, "https://new.example");
    vm_row_set(&row, VM_F_ENABLED, "0");
    assert_int_equal(f.src->ops->save_row(f.src, &row, &id, f.p, &err), VM_OK);
    assert_int_equal(id, 11);
    json = parse_file(&f);
    assert_int_equal(cJSON_GetArraySize(json), 3);
    obj = object_with_id(json, 11);
    assert_non_null(obj);
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItem(obj, "vhostname")),
                        "https://new.example");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(obj, "enabled")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(obj, "id")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(obj, "vdbpass")));
    cJSON_Delete(json);
    assert_int_equal(
        vm_table_find_key(vm_table_build(load_ok(&f), f.p), "new.example")->id,
        11);
}

static void save_inserts_into_empty_and_string_ids(void **state)
{
    fixture f = open_with(*state, "[]");
    fixture g = open_with(*state, "[{\"id\": \"41\"}]");
    vm_row row;
    long long id = 0;
    const char *err = NULL;

    tu_valid_row(&row, 0, f.p);
    assert_int_equal(f.src->ops->save_row(f.src, &row, &id, f.p, &err), VM_OK);
    assert_int_equal(id, 1);
    id = 0;
    assert_int_equal(g.src->ops->save_row(g.src, &row, &id, g.p, &err), VM_OK);
    assert_int_equal(id, 42);
}

static void save_replaces_keeping_unknown_keys(void **state)
{
    fixture f = open_with(*state, "[" ROW_A ", " ROW_B "]");
    char *before = tu_read(f.p, f.path, NULL);
    struct stat old_st, new_st;
    vm_row row;
    long long id = 3;
    const char *err = NULL;
    cJSON *json, *obj;

    assert_int_equal(stat(f.path, &old_st), 0);
    memset(&row, 0, sizeof row);
    vm_row_set(&row, VM_F_NAME, "Renamed");
    vm_row_set(&row, VM_F_VDBPASS, "s3cret");
    assert_int_equal(f.src->ops->save_row(f.src, &row, &id, f.p, &err), VM_OK);
    assert_int_equal(id, 3);
    json = parse_file(&f);
    obj = object_with_id(json, 3);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(obj, "name")),
                        "Renamed");
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItem(obj, "description")),
                        "keep");
    assert_int_equal(cJSON_GetNumberValue(
                         cJSON_GetObjectItem(obj, "timecreated")),
                     1600000000);
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItem(obj, "vhostname")),
                        "https://a.example/");
    assert_int_equal(cJSON_GetArraySize(json), 2);
    cJSON_Delete(json);
    /* previous version kept; the new file was renamed into place */
    assert_string_equal(tu_read(f.p, apr_pstrcat(f.p, f.path, ".bak", NULL),
                                NULL),
                        before);
    assert_int_equal(stat(f.path, &new_st), 0);
    assert_true(new_st.st_ino != old_st.st_ino);
    assert_int_equal(new_st.st_mode & 0777, 0644);
    assert_no_temporaries(f.dir);
}

/* A reader holding the old file keeps seeing all of it. */
static void save_is_atomic_for_readers(void **state)
{
    fixture f = open_with(*state, "[" ROW_A "]");
    char *before = tu_read(f.p, f.path, NULL);
    FILE *reader = fopen(f.path, "r");
    char buf[4096];
    size_t n;
    vm_row row;
    long long id = 0;
    const char *err = NULL;

    assert_non_null(reader);
    tu_valid_row(&row, 0, f.p);
    assert_int_equal(f.src->ops->save_row(f.src, &row, &id, f.p, &err), VM_OK);
    n = fread(buf, 1, sizeof buf - 1, reader);
    buf[n] = '\0';
    fclose(reader);
    assert_string_equal(buf, before);
}

static void save_errors_leave_file(void **state)
{
    fixture f = open_with(*state, "[" ROW_A "]");
    fixture g = open_with(*state, "[{");
    char *before = tu_read(f.p, f.path, NULL);
    vm_row row;
    long long id = 77;
    const char *err = NULL;

    tu_valid_row(&row, 0, f.p);
    assert_int_equal(f.src->ops->save_row(f.src, &row, &id, f.p, &err),
                     VM_ERR_DATA);
    assert_string_equal(err, "no row with id 77");
    assert_string_equal(tu_read(f.p, f.path, NULL), before);
    id = 0;
    assert_int_not_equal(g.src->ops->save_row(g.src, &row, &id, g.p, &err),
                         VM_OK);
    assert_string_equal(tu_read(g.p, g.path, NULL), "[{");
    assert_no_temporaries(f.dir);
}

static void delete_row(void **state)
{
    fixture f = open_with(*state, "[" ROW_A ", " ROW_B "]");
    const char *err = NULL;
    apr_array_header_t *rows;

    assert_int_equal(f.src->ops->delete_row(f.src, 3, f.p, &err), VM_OK);
    rows = load_ok(&f);
    assert_int_equal(rows->nelts, 1);
    assert_string_equal(row_at(rows, 0)->value[VM_F_ID], "10");
    assert_int_equal(f.src->ops->delete_row(f.src, 3, f.p, &err), VM_ERR_DATA);
    assert_string_equal(err, "no row with id 3");
    assert_true(tu_exists(apr_pstrcat(f.p, f.path, ".bak", NULL)));
}

/* ---- cron statistics ---- */

static void expect_cron(fixture *f, int row, const char *count,
                        const char *last, const char *gap)
{
    const vm_row *r = row_at(load_ok(f), row);

    assert_string_equal(r->value[VM_F_CRONCOUNT], count);
    assert_string_equal(r->value[VM_F_LASTCRON], last);
    assert_string_equal(r->value[VM_F_LASTCRONGAP], gap);
}

static void record_cron_counts_and_gaps(void **state)
{
    fixture f = open_with(*state, "[" ROW_A ", " ROW_B "]");
    char *before = tu_read(f.p, f.path, NULL);
    const char *err = NULL;

    assert_int_equal(f.src->ops->record_cron(f.src, 10, 1700000000, f.p, &err),
                     VM_OK);
    assert_true(tu_exists(apr_pstrcat(f.p, f.path, ".cronstate", NULL)));
    expect_cron(&f, 1, "1", "1700000000", "0");
    assert_int_equal(f.src->ops->record_cron(f.src, 10, 1700000090, f.p, &err),
                     VM_OK);
    expect_cron(&f, 1, "2", "1700000090", "90");
    assert_int_equal(f.src->ops->record_cron(f.src, 10, 1700000150, f.p, &err),
                     VM_OK);
    expect_cron(&f, 1, "3", "1700000150", "60");
    /* the other row keeps its own figures; the instance file is untouched */
    assert_false(row_at(load_ok(&f), 0)->present[VM_F_CRONCOUNT]);
    assert_string_equal(tu_read(f.p, f.path, NULL), before);
}

/* Figures carried over from VMoodle's table are continued, not reset. */
static void record_cron_continues_file_figures(void **state)
{
    fixture f = open_with(*state,
                          "[{\"id\": 5, \"croncount\": 41,"
                          " \"lastcron\": 1700000000, \"lastcrongap\": 60}]");
    const char *err = NULL;

    expect_cron(&f, 0, "41", "1700000000", "60");
    assert_int_equal(f.src->ops->record_cron(f.src, 5, 1700000300, f.p, &err),
                     VM_OK);
    expect_cron(&f, 0, "42", "1700000300", "300");
}

/* One unquote for the module's directive and the tools' flags. */
static void unquote_source_strings(void **state)
{
    static const struct {
        const char *in, *out;
    } c[] = {
        { "json:/etc/i.json", "json:/etc/i.json" },
        { "\"json:/etc/i.json\"", "json:/etc/i.json" },
        { "json:\"/etc/my i.json\"", "json:/etc/my i.json" },
        { "  pgsql:\"host=db dbname=m\"\t", "pgsql:host=db dbname=m" },
        { "\"pgsql:host=db password='a b'\"", "pgsql:host=db password='a b'" },
        { "pgsql:\"", "pgsql:\"" },
        { "\"", "\"" },
        { "", "" },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof c / sizeof c[0]; i++)
        if (strcmp(vm_source_unquote(c[i].in, p), c[i].out) != 0)
            fail_msg("unquote(%s) = %s, want %s", c[i].in,
                     vm_source_unquote(c[i].in, p), c[i].out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(valid_file),
        TU_TEST(scalars_as_text),
        TU_TEST(null_versus_missing),
        TU_TEST(entries_that_are_not_rows),
        TU_TEST(empty_array),
        TU_TEST(not_an_array),
        TU_TEST(invalid_json),
        TU_TEST(missing_file),
        TU_TEST(source_strings),
        TU_TEST(save_inserts_with_next_id),
        TU_TEST(save_inserts_into_empty_and_string_ids),
        TU_TEST(save_replaces_keeping_unknown_keys),
        TU_TEST(save_is_atomic_for_readers),
        TU_TEST(save_errors_leave_file),
        TU_TEST(delete_row),
        TU_TEST(record_cron_counts_and_gaps),
        TU_TEST(record_cron_continues_file_figures),
        TU_TEST(unquote_source_strings),
    };

    return TU_RUN(tests);
}
