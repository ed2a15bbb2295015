#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_file.h"
#include "vm_json.h"

vm_status vm_json_load(const char *path, int missing_ok, cJSON **json,
                       apr_pool_t *p, const char **err)
{
    char *data;
    const char *end = NULL;
    size_t len;
    vm_status st;

    *json = NULL;
    st = vm_file_read(path, VM_JSON_MAX, p, &data, &len, err);
    if (st != VM_OK)
        return (missing_ok && errno == ENOENT) ? VM_OK : st;
    *json = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (*json && end + strspn(end, " \t\r\n") != data + len) {
        cJSON_Delete(*json); /* "[...] x": cJSON stops after a value */
        *json = NULL;
    }
    if (!*json) {
        *err = apr_psprintf(p, "%s: invalid JSON near byte %ld", path,
                            end ? (long)(end - data) : 0L);
        return VM_ERR_DATA;
    }
    return VM_OK;
}

/* Written with like's owner, group and mode (path's when NULL), else
 * 0600: a JSON file here holds passwords or sits beside one that does. */
static vm_status save_like(const char *path, const cJSON *json,
                           const char *like, const char *backup, apr_pool_t *p,
                           const char **err)
{
    char *text = cJSON_Print(json);
    vm_status st;

    if (!text) {
        *err = "out of memory";
        return VM_ERR_IO;
    }
    st = vm_file_rewrite(path, text, strlen(text), like, 0600, backup, p, err);
    free(text);
    return st;
}

vm_status vm_json_save(const char *path, const cJSON *json, const char *backup,
                       apr_pool_t *p, const char **err)
{
    return save_like(path, json, NULL, backup, p, err);
}

vm_status vm_json_edit(const char *path, int type, int missing_ok,
                       const char *like, const char *backup,
                       vm_json_edit_fn edit, void *ctx, apr_pool_t *p,
                       const char **err)
{
    int lock = vm_file_lock(apr_pstrcat(p, path, ".lock", NULL), 1, p, err);
    cJSON *json = NULL;
    vm_status st;

    if (lock < 0)
        return VM_ERR_IO;
    st = vm_json_load(path, missing_ok, &json, p, err);
    if (st == VM_OK && !json
        && !(json = type == cJSON_Array ? cJSON_CreateArray()
                                        : cJSON_CreateObject()))
        st = VM_ERR_IO, *err = "out of memory";
    if (st == VM_OK && !(json->type & type))
        st = VM_ERR_DATA,
        *err = apr_psprintf(p,
                            "%s: top level is not an "
                            "%s",
                            path, type == cJSON_Array ? "array" : "object");
    if (st == VM_OK)
        st = edit(json, ctx, p, err);
    if (st == VM_OK)
        st = save_like(path, json, like, backup, p, err);
    cJSON_Delete(json);
    vm_file_unlock(lock);
    return st;
}

const char *vm_json_text(const cJSON *item, apr_pool_t *p, int *bad)
{
    *bad = 0;
    if (cJSON_IsNull(item))
        return NULL;
    if (cJSON_IsString(item))
        return apr_pstrdup(p, item->valuestring);
    if (cJSON_IsBool(item))
        return cJSON_IsTrue(item) ? "1" : "0";
    if (cJSON_IsNumber(item)) {
        double v = item->valuedouble;
        if (v == floor(v) && fabs(v) < 9007199254740992.0)
            return apr_psprintf(p, "%.0f", v);
        return apr_psprintf(p, "%.17g", v);
    }
    *bad = 1;
    return NULL;
}
