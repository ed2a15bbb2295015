/* vm_instance <-> JSON object, driven by one list of its columns. */
#include <stddef.h>
#include <apr_strings.h>
#include "instance_json.h"

#define SECRET_MASK "***"

static const struct {
    const char *key;
    size_t offset;
} text_fields[] = {
    {"key", offsetof(vm_instance, key)},
    {"wwwroot", offsetof(vm_instance, wwwroot)},
    {"name", offsetof(vm_instance, name)},
    {"shortname", offsetof(vm_instance, shortname)},
    {"vhostname", offsetof(vm_instance, vhostname)},
    {"vdbtype", offsetof(vm_instance, dbtype)},
    {"vdbhost", offsetof(vm_instance, dbhost)},
    {"vdblogin", offsetof(vm_instance, dblogin)},
    {"vdbpass", offsetof(vm_instance, dbpass)},
    {"vdbname", offsetof(vm_instance, dbname)},
    {"vdbprefix", offsetof(vm_instance, dbprefix)},
    {"vdatapath", offsetof(vm_instance, datapath)},
};
#define N_TEXT (sizeof text_fields / sizeof text_fields[0])

static const char **text_at(const vm_instance *in, size_t i)
{
    return (const char **)((const char *)in + text_fields[i].offset);
}

cJSON *vmc_instance_json(const vm_instance *in, int show_secrets)
{
    cJSON *j = cJSON_CreateObject();
    size_t i;

    cJSON_AddNumberToObject(j, "id", (double)in->id);
    for (i = 0; i < N_TEXT; i++) {
        const char *v = *text_at(in, i);
        if (text_fields[i].offset == offsetof(vm_instance, dbpass)
            && !show_secrets && *v)
            v = SECRET_MASK;
        cJSON_AddStringToObject(j, text_fields[i].key, v);
    }
    cJSON_AddNumberToObject(j, "vdbpersist", in->dbpersist);
    cJSON_AddNumberToObject(j, "mnet", in->mnet);
    cJSON_AddNumberToObject(j, "enabled", in->enabled);
    cJSON_AddNumberToObject(j, "croncount", (double)in->croncount);
    cJSON_AddNumberToObject(j, "lastcron", (double)in->lastcron);
    cJSON_AddNumberToObject(j, "lastcrongap", (double)in->lastcrongap);
    return j;
}

void vmc_instance_strings_from_json(vm_instance *in, const cJSON *obj,
                                    apr_pool_t *p)
{
    size_t i;

    for (i = 0; i < N_TEXT; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj,
                                                          text_fields[i].key);
        *text_at(in, i) = cJSON_IsString(v) ? apr_pstrdup(p, v->valuestring)
                                            : "";
    }
}
