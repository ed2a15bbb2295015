/* The embedded default source: a JSON file holding an array of objects
 * with local_vmoodle's columns.  Unknown keys (description, timecreated,
 * ...) are kept on rewrite and ignored on load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <apr_strings.h>
#include "vm_cronstate.h"
#include "vm_file.h"
#include "vm_json.h"
#include "vm_source.h"

/* What identifies one version of a file: a rewrite (temporary file and
 * rename) changes the inode, an edit in place the size or the time. */
typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int exists;
} file_version;

typedef struct {
    const char *path;
    const char *state_path; /* cron figures beside it */
    file_version loaded[2]; /* both files, at the last good load */
    int have_loaded;
    int racy; /* changed too recently to trust times */
} json_backend;

static const char *json_path(const vm_source *src)
{
    return ((const json_backend *)src->backend)->path;
}

static void version_of(const char *path, file_version *v)
{
    struct stat st;

    memset(v, 0, sizeof *v);
    if (stat(path, &st) != 0)
        return;
    v->exists = 1;
    v->dev = st.st_dev;
    v->ino = st.st_ino;
    v->size = st.st_size;
    v->mtime = st.st_mtim;
}

static void versions_now(const json_backend *b, file_version v[2])
{
    version_of(b->path, &v[0]);
    version_of(b->state_path, &v[1]);
}

/* File times have a coarse grain: a file written again within the same
 * tick, at the same size (and perhaps the same recycled inode) would look
 * unchanged.  Only a version older than a second is trusted. */
static int recently_changed(const file_version v[2])
{
    time_t now = time(NULL);

    return v[0].mtime.tv_sec >= now - 1 || v[1].mtime.tv_sec >= now - 1;
}

static vm_status json_configure(vm_source *src, const char *arg,
                                const char **err)
{
    if (!*arg) {
        *err = "json: source needs a file path";
        return VM_ERR_CONFIG;
    }
    json_backend *b = apr_pcalloc(src->pool, sizeof *b);
    b->path = apr_pstrdup(src->pool, arg);
    b->state_path = apr_pstrcat(src->pool, arg, ".cronstate", NULL);
    src->backend = b;
    return VM_OK;
}

static void object_to_row(const cJSON *obj, vm_row *row, apr_pool_t *p)
{
    const cJSON *item;

    memset(row, 0, sizeof *row);
    if (!cJSON_IsObject(obj)) {
        row->error = "entry is not a JSON object";
        return;
    }
    cJSON_ArrayForEach(item, obj)
    {
        int f = vm_field_by_name(item->string), bad;
        const char *text;

        if (f < 0)
            continue;
        text = vm_json_text(item, p, &bad);
        if (bad) {
            row->error = apr_psprintf(p, "%s is not a scalar", item->string);
            /* keep reading: the id still names the row */
        }
        vm_row_set(row, (vm_field)f, text);
    }
}

static vm_status json_read_array(const vm_source *src, cJSON **json,
                                 apr_pool_t *p, const char **err)
{
    vm_status st = vm_json_load(json_path(src), 0, json, p, err);

    if (st == VM_OK && !cJSON_IsArray(*json)) {
        cJSON_Delete(*json);
        *json = NULL;
        *err = apr_psprintf(p, "%s: top level is not an array", json_path(src));
        return VM_ERR_DATA;
    }
    return st;
}

static vm_status json_load(vm_source *src, apr_array_header_t *rows,
                           apr_pool_t *p, const char **err)
{
    json_backend *b = src->backend;
    file_version before[2];
    cJSON *json, *obj;
    vm_status st;

    versions_now(b, before); /* before reading: a later change shows */
    if ((st = json_read_array(src, &json, p, err)) != VM_OK)
        return st;
    cJSON_ArrayForEach(obj, json) object_to_row(obj, apr_array_push(rows), p);
    cJSON_Delete(json);
    st = vm_cronstate_merge(json_path(src), rows, p, err);
    if (st == VM_OK) {
        memcpy(b->loaded, before, sizeof before);
        b->have_loaded = 1;
        b->racy = recently_changed(before);
    }
    return st;
}

/* Two stat() calls instead of reading and parsing a file that may hold
 * a hundred thousand instances. */
static vm_status json_unchanged(vm_source *src, int *same, const char **err)
{
    json_backend *b = src->backend;
    file_version now[2];

    (void)err;
    versions_now(b, now);
    *same = b->have_loaded && !b->racy
        && memcmp(now, b->loaded, sizeof now) == 0;
    return VM_OK;
}

/* The object whose "id" is id, or NULL; *max_id the largest id seen.  An
 * object's id is read as a row's (vm_id_from_text): a number or a string
 * of digits. */
static cJSON *find_by_id(cJSON *array, long long id, long long *max_id,
                         apr_pool_t *p)
{
    cJSON *obj, *found = NULL;

    *max_id = 0;
    cJSON_ArrayForEach(obj, array)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "id");
        int bad;
        const char *text = v ? vm_json_text(v, p, &bad) : NULL;
        long long oid = text ? vm_id_from_text(text) : 0;

        if (oid > *max_id)
            *max_id = oid;
        if (oid == id && id > 0)
            found = obj;
    }
    return found;
}

static int is_numeric_field(int f)
{
    return f == VM_F_ID || f == VM_F_VDBPERSIST || f == VM_F_MNET
        || f == VM_F_ENABLED || (f >= VM_F_CRONCOUNT && f <= VM_F_LASTCRONGAP);
}

/* Write row's columns into obj, keeping any other keys. */
static int fill_object(cJSON *obj, const vm_row *row, long long id)
{
    int f;

    for (f = 0; f < VM_F_COUNT; f++) {
        const char *v = row->value[f];
        cJSON *item;

        if (!row->present[f] && f != VM_F_ID)
            continue;
        /* an optional column left empty adds no key to a file without it */
        if (VM_FIELD_OPTIONAL(f) && v && !*v
            && !cJSON_GetObjectItemCaseSensitive(obj, vm_field_names[f]))
            continue;
        if (f == VM_F_ID)
            item = cJSON_CreateNumber((double)id);
        else if (!v)
            item = cJSON_CreateNull();
        else if (is_numeric_field(f))
            item = cJSON_CreateNumber(strtod(v, NULL));
        else
            item = cJSON_CreateString(v);
        if (!item)
            return -1;
        if (cJSON_GetObjectItemCaseSensitive(obj, vm_field_names[f]))
            cJSON_ReplaceItemInObjectCaseSensitive(obj, vm_field_names[f],
                                                   item);
        else
            cJSON_AddItemToObject(obj, vm_field_names[f], item);
    }
    return 0;
}

/* Read, change and atomically rewrite the file under its lock, keeping
 * the previous version as FILE.bak. */
static vm_status json_edit(vm_source *src, vm_json_edit_fn edit, void *ctx,
                           apr_pool_t *p, const char **err)
{
    const char *path = json_path(src);

    return vm_json_edit(path, cJSON_Array, 0, NULL,
                        apr_pstrcat(p, path, ".bak", NULL), edit, ctx, p, err);
}

typedef struct {
    const vm_row *row;
    long long id;
} save_ctx;

static vm_status no_row(long long id, apr_pool_t *p, const char **err)
{
    *err = apr_psprintf(p, "no row with id %" APR_INT64_T_FMT, (apr_int64_t)id);
    return VM_ERR_DATA;
}

static vm_status out_of_memory(const char **err)
{
    *err = "out of memory";
    return VM_ERR_IO;
}

static vm_status edit_save(cJSON *array, void *data, apr_pool_t *p,
                           const char **err)
{
    save_ctx *c = data;
    long long max_id;
    cJSON *obj = find_by_id(array, c->id, &max_id, p);

    if (c->id > 0 && !obj)
        return no_row(c->id, p, err);
    if (!obj) {
        c->id = max_id + 1;
        if (!(obj = cJSON_CreateObject()))
            return out_of_memory(err);
        cJSON_AddItemToArray(array, obj);
    }
    return fill_object(obj, c->row, c->id) == 0 ? VM_OK : out_of_memory(err);
}

static vm_status json_save_row(vm_source *src, const vm_row *row, long long *id,
                               apr_pool_t *p, const char **err)
{
    save_ctx c = { row, *id };
    vm_status st = json_edit(src, edit_save, &c, p, err);

    if (st == VM_OK)
        *id = c.id;
    return st;
}

static vm_status edit_delete(cJSON *array, void *data, apr_pool_t *p,
                             const char **err)
{
    long long id = *(long long *)data, max_id;
    cJSON *obj = find_by_id(array, id, &max_id, p);

    if (!obj)
        return no_row(id, p, err);
    cJSON_Delete(cJSON_DetachItemViaPointer(array, obj));
    return VM_OK;
}

static vm_status json_delete_row(vm_source *src, long long id, apr_pool_t *p,
                                 const char **err)
{
    return json_edit(src, edit_delete, &id, p, err);
}

static long long integer_of(const cJSON *obj, const char *name, apr_pool_t *p)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    int bad;
    const char *text = v ? vm_json_text(v, p, &bad) : NULL;

    return text ? atoll(text) : 0;
}

/* The state file continues the figures the instance file holds (VMoodle's
 * croncount and lastcron, carried over with the rows). */
static vm_status json_record_cron(vm_source *src, long long id,
                                  long long started, apr_pool_t *p,
                                  const char **err)
{
    cJSON *json = NULL;
    const cJSON *obj;
    long long max_id, count = 0, last = 0;

    if (json_read_array(src, &json, p, err) == VM_OK
        && (obj = find_by_id(json, id, &max_id, p)) != NULL) {
        count = integer_of(obj, "croncount", p);
        last = integer_of(obj, "lastcron", p);
    }
    cJSON_Delete(json);
    return vm_cronstate_record(json_path(src), id, started, count, last, p,
                               err);
}

const vm_source_ops vm_source_json_ops = {
    .scheme = "json",
    .configure = json_configure,
    .load = json_load,
    .unchanged = json_unchanged,
    .save_row = json_save_row,
    .delete_row = json_delete_row,
    .record_cron = json_record_cron,
};
