#include <stdio.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "vm_cronstate.h"
#include "vm_instance.h"
#include "vm_json.h"

static const vm_field stat_fields[] = { VM_F_CRONCOUNT, VM_F_LASTCRON,
                                        VM_F_LASTCRONGAP };

static const char *state_path(const char *jsonpath, apr_pool_t *p)
{
    return apr_pstrcat(p, jsonpath, ".cronstate", NULL);
}

/* The state's entries by id: one pass, so merging is linear in the rows
 * (cJSON's own lookup walks the object, which made it quadratic). */
static apr_hash_t *index_by_id(const cJSON *state, apr_pool_t *p)
{
    apr_hash_t *by_id = apr_hash_make(p);
    const cJSON *entry;

    /* The first of duplicate keys wins, as in cJSON's lookup. */
    cJSON_ArrayForEach(entry, state) if (entry->string
                                         && !apr_hash_get(by_id, entry->string,
                                                          APR_HASH_KEY_STRING))
        apr_hash_set(by_id, entry->string, APR_HASH_KEY_STRING, entry);
    return by_id;
}

static void merge_entry(vm_row *row, const cJSON *entry, apr_pool_t *p)
{
    size_t f;
    int bad;

    for (f = 0; f < sizeof stat_fields / sizeof *stat_fields; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(
            entry, vm_field_names[stat_fields[f]]);
        const char *text = v ? vm_json_text(v, p, &bad) : NULL;
        if (text && !bad)
            vm_row_set(row, stat_fields[f], text);
    }
}

vm_status vm_cronstate_merge(const char *jsonpath, apr_array_header_t *rows,
                             apr_pool_t *p, const char **err)
{
    cJSON *state;
    vm_status st = vm_json_load(state_path(jsonpath, p), 1, &state, p, err);
    apr_hash_t *by_id;
    int i;

    if (st != VM_OK || !state)
        return st;
    by_id = index_by_id(state, p);
    for (i = 0; i < rows->nelts; i++) {
        vm_row *row = &APR_ARRAY_IDX(rows, i, vm_row);
        const cJSON *entry;

        if (!row->present[VM_F_ID] || !row->value[VM_F_ID])
            continue;
        entry = apr_hash_get(by_id, row->value[VM_F_ID], APR_HASH_KEY_STRING);
        if (entry)
            merge_entry(row, entry, p);
    }
    cJSON_Delete(state);
    return VM_OK;
}

static double number_of(const cJSON *entry, const char *name, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, name);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* Update one entry of the state object, creating it if needed. */
static int update_entry(cJSON *state, long long id, long long started,
                        long long base_count, long long base_last)
{
    char key[24];
    cJSON *old, *entry = cJSON_CreateObject();
    double last;

    snprintf(key, sizeof key, "%lld", id);
    old = cJSON_GetObjectItemCaseSensitive(state, key);
    last = number_of(old, "lastcron", old ? 0 : (double)base_last);
    if (!entry
        || !cJSON_AddNumberToObject(entry, "croncount",
                                    number_of(old, "croncount",
                                              old ? 0 : (double)base_count)
                                        + 1)
        || !cJSON_AddNumberToObject(entry, "lastcron", (double)started)
        || !cJSON_AddNumberToObject(entry, "lastcrongap",
                                    last > 0 ? (double)started - last : 0)) {
        cJSON_Delete(entry);
        return -1;
    }
    if (old)
        cJSON_ReplaceItemInObjectCaseSensitive(state, key, entry);
    else
        cJSON_AddItemToObject(state, key, entry);
    return 0;
}

typedef struct {
    long long id, started, base_count, base_last;
} cron_run;

static vm_status record_run(cJSON *state, void *ctx, apr_pool_t *p,
                            const char **err)
{
    const cron_run *r = ctx;

    (void)p;
    if (update_entry(state, r->id, r->started, r->base_count, r->base_last)
        != 0) {
        *err = "out of memory";
        return VM_ERR_IO;
    }
    return VM_OK;
}

vm_status vm_cronstate_record(const char *jsonpath, long long id,
                              long long started, long long base_count,
                              long long base_last, apr_pool_t *p,
                              const char **err)
{
    cron_run r = { id, started, base_count, base_last };

    /* The table's readers, and no one else, read its cron figures. */
    return vm_json_edit(state_path(jsonpath, p), cJSON_Object, 1, jsonpath,
                        NULL, record_run, &r, p, err);
}
