/* manifest.json of a template, written by snapshot and read by deploy. */
#include <string.h>
#include <apr_strings.h>
#include "vm_instance_json.h"
#include "manifest.h"
#include "vm_json.h"

#define MANIFEST_FORMAT 1

static void add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
}

static cJSON *to_json(const vmc_manifest *m)
{
    cJSON *root = cJSON_CreateObject(), *db, *data;
    vm_instance src = m->source;

    cJSON_AddNumberToObject(root, "format", MANIFEST_FORMAT);
    add_str(root, "name", m->name);
    add_str(root, "created", m->created);
    src.dbpass = "";
    cJSON_AddItemToObject(root, "source",
                          vm_instance_json(&src,
                                           VM_JSON_COLUMNS | VM_JSON_CRON));
    db = cJSON_AddObjectToObject(root, "database");
    add_str(db, "file", m->dump_file);
    cJSON_AddNumberToObject(db, "size", (double)m->dump_size);
    add_str(db, "sha256", m->dump_sha256);
    add_str(db, "pg_template_db", m->pg_template_db);
    add_str(db, "pg_server", m->pg_server);
    data = cJSON_AddObjectToObject(root, "dataroot");
    cJSON_AddNumberToObject(data, "bytes", (double)m->data_bytes);
    cJSON_AddNumberToObject(data, "files", (double)m->data_files);
    cJSON_AddItemReferenceToObject(data, "list", m->files);
    add_str(root, "kind", m->kind);
    if (m->kind) {
        cJSON *moodle = cJSON_AddObjectToObject(root, "moodle");
        add_str(moodle, "version", m->moodle_version);
        add_str(moodle, "release", m->moodle_release);
        add_str(moodle, "siteidentifier", m->siteidentifier);
    }
    return root;
}

const char *vmc_manifest_list_file(void *ctx, const char *rel, uint64_t size,
                                   const char *sha256)
{
    cJSON *e = cJSON_CreateObject();

    cJSON_AddStringToObject(e, "path", rel);
    cJSON_AddNumberToObject(e, "size", (double)size);
    cJSON_AddStringToObject(e, "sha256", sha256);
    cJSON_AddItemToArray(ctx, e);
    return NULL;
}

const char *vmc_manifest_file_ok(const vmc_manifest *m, const char *rel,
                                 const char *sha256, apr_pool_t *p)
{
    const char *want = apr_hash_get(m->file_sums, rel, APR_HASH_KEY_STRING);

    return want && strcmp(want, sha256) == 0
        ? NULL
        : apr_psprintf(p, "dataroot file %s does not match the manifest", rel);
}

int vmc_manifest_write(const vmc_manifest *m, const char *path, apr_pool_t *p,
                       const char **err)
{
    cJSON *root = to_json(m);
    vm_status st = vm_json_save(path, root, NULL, p, err);

    cJSON_Delete(root);
    return st == VM_OK ? 0 : -1;
}

static const char *get_str(apr_pool_t *p, const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? apr_pstrdup(p, v->valuestring) : NULL;
}

static uint64_t get_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (uint64_t)v->valuedouble
                                                    : 0;
}

static void read_files(vmc_manifest *m, const cJSON *list, apr_pool_t *p)
{
    const cJSON *e;

    m->file_sums = apr_hash_make(p);
    cJSON_ArrayForEach(e, list)
    {
        const char *path = get_str(p, e, "path"),
                   *sum = get_str(p, e, "sha256");
        if (path && sum)
            apr_hash_set(m->file_sums, path, APR_HASH_KEY_STRING, sum);
    }
}

static const char *from_json(vmc_manifest *m, const cJSON *root, apr_pool_t *p)
{
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(root, "source");
    const cJSON *db = cJSON_GetObjectItemCaseSensitive(root, "database");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "dataroot");
    const cJSON *moodle = cJSON_GetObjectItemCaseSensitive(root, "moodle");

    if (get_num(root, "format") != MANIFEST_FORMAT || !src || !db || !data)
        return "not a template manifest of format 1";
    m->name = get_str(p, root, "name");
    m->created = get_str(p, root, "created");
    vm_instance_strings_from_json(&m->source, src, p);
    m->dump_file = get_str(p, db, "file");
    m->dump_size = get_num(db, "size");
    m->dump_sha256 = get_str(p, db, "sha256");
    m->pg_template_db = get_str(p, db, "pg_template_db");
    m->pg_server = get_str(p, db, "pg_server");
    m->data_bytes = get_num(data, "bytes");
    m->data_files = get_num(data, "files");
    read_files(m, cJSON_GetObjectItemCaseSensitive(data, "list"), p);
    m->kind = get_str(p, root, "kind");
    m->moodle_version = get_str(p, moodle, "version");
    m->moodle_release = get_str(p, moodle, "release");
    m->siteidentifier = get_str(p, moodle, "siteidentifier");
    if (!*m->source.wwwroot || !*m->source.dbtype || !m->dump_file
        || !m->dump_sha256 || strchr(m->dump_file, '/'))
        return "manifest lacks source or database fields";
    return NULL;
}

int vmc_manifest_read(vmc_manifest *m, const char *path, apr_pool_t *p,
                      const char **err)
{
    cJSON *root;

    memset(m, 0, sizeof *m);
    if (vm_json_load(path, 0, &root, p, err) != VM_OK)
        return -1;
    *err = from_json(m, root, p);
    cJSON_Delete(root);
    if (*err)
        *err = apr_psprintf(p, "%s: %s", path, *err);
    return *err ? -1 : 0;
}
