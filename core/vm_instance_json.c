/* vm_instance <-> JSON object, driven by one list of its members. */
#include <stddef.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_instance_json.h"

#define SECRET_MASK "***"

/* Text members in output order; flags: which VM_JSON_* brings them. */
static const struct {
    const char *key;
    size_t offset;
    unsigned flags;
} texts[] = {
    { "host", offsetof(vm_instance, key), 0 },
    { "key", offsetof(vm_instance, key), VM_JSON_COLUMNS },
    { "wwwroot", offsetof(vm_instance, wwwroot), 0 },
    { "name", offsetof(vm_instance, name), 0 },
    { "shortname", offsetof(vm_instance, shortname), 0 },
    { "vhostname", offsetof(vm_instance, vhostname), VM_JSON_COLUMNS },
    { "vdbtype", offsetof(vm_instance, dbtype), VM_JSON_COLUMNS },
    { "vdbhost", offsetof(vm_instance, dbhost), VM_JSON_COLUMNS },
    { "vdblogin", offsetof(vm_instance, dblogin), VM_JSON_COLUMNS },
    { "vdbpass", offsetof(vm_instance, dbpass), VM_JSON_COLUMNS },
    { "vdbname", offsetof(vm_instance, dbname), VM_JSON_COLUMNS },
    { "vdbprefix", offsetof(vm_instance, dbprefix), VM_JSON_COLUMNS },
    { "vdatapath", offsetof(vm_instance, datapath), VM_JSON_COLUMNS },
    { "platform", offsetof(vm_instance, platform), 0 },
    { "path", offsetof(vm_instance, path), 0 },
};
#define N_TEXTS (sizeof texts / sizeof texts[0])

static const char **text_at(const vm_instance *in, size_t i)
{
    return (const char **)((const char *)in + texts[i].offset);
}

static int add_alias(const char *key, size_t len, void *ctx)
{
    char one[VM_KEY_MAX];
    cJSON *item;

    if (len >= sizeof one)
        return 1;
    memcpy(one, key, len);
    one[len] = '\0';
    item = cJSON_CreateString(one);
    return item && cJSON_AddItemToArray(ctx, item) ? 0 : 1;
}

/* "aliases": the keys as an array. */
static int add_aliases(cJSON *j, const char *aliases)
{
    cJSON *list = cJSON_AddArrayToObject(j, "aliases");

    return list && vm_aliases_each(aliases, add_alias, list) == 0;
}

cJSON *vm_instance_json(const vm_instance *in, unsigned flags)
{
    cJSON *j = cJSON_CreateObject();
    size_t i;

    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "id", (double)in->id);
    for (i = 0; i < N_TEXTS; i++) {
        const char *v = *text_at(in, i) ? *text_at(in, i) : "";
        if ((texts[i].flags & flags) != texts[i].flags)
            continue;
        if (texts[i].offset == offsetof(vm_instance, dbpass)
            && !(flags & VM_JSON_SECRETS) && *v)
            v = SECRET_MASK;
        cJSON_AddStringToObject(j, texts[i].key, v);
    }
    if (flags & VM_JSON_COLUMNS) {
        cJSON_AddNumberToObject(j, "vdbpersist", in->dbpersist);
        cJSON_AddNumberToObject(j, "mnet", in->mnet);
    }
    if (!add_aliases(j, in->aliases ? in->aliases : "")) {
        cJSON_Delete(j);
        return NULL;
    }
    cJSON_AddNumberToObject(j, "enabled", in->enabled);
    if (flags & VM_JSON_CRON) {
        cJSON_AddNumberToObject(j, "croncount", (double)in->croncount);
        cJSON_AddNumberToObject(j, "lastcron", (double)in->lastcron);
        cJSON_AddNumberToObject(j, "lastcrongap", (double)in->lastcrongap);
    }
    return j;
}

void vm_instance_strings_from_json(vm_instance *in, const cJSON *obj,
                                   apr_pool_t *p)
{
    size_t i;

    for (i = 0; i < N_TEXTS; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, texts[i].key);
        if (cJSON_IsString(v))
            *text_at(in, i) = apr_pstrdup(p, v->valuestring);
        else if (!*text_at(in, i))
            *text_at(in, i) = "";
    }
}

cJSON *vm_rejection_json(const vm_rejection *r)
{
    cJSON *j = cJSON_CreateObject();

    cJSON_AddNumberToObject(j, "id", (double)r->id);
    cJSON_AddStringToObject(j, "reason", r->reason);
    return j;
}
