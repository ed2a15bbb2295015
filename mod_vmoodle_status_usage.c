/* The status page's usage and quota figures: vmoodlectl usage records
 * each site's bytes and quota in its usage file (vm_usage.h), read here
 * once per page (VMoodleUsage), never on the request path. */
#include "mod_vmoodle_status.h"
#include <apr_strings.h>

vm_usage *vmoodle_status_usage(request_rec *r, const char **err)
{
    const char *path = VMOODLE_CONF(r->server)->usage_file;
    vm_usage *u;

    *err = NULL;
    if (!path)
        return NULL;
    return vm_usage_load(&u, path, r->pool, err) == VM_OK ? u : NULL;
}

void vmoodle_status_usage_add(const vm_usage *u, const vm_instance *in,
                              cJSON *o, vmoodle_quota_counts *n)
{
    const vm_usage_entry *e = u ? vm_usage_get(u, in->id) : NULL;
    vm_usage_level l;
    int pc;

    if (!e)
        return;
    l = vm_usage_level_of(vm_usage_used(e), e->quota_bytes, &pc);
    if (n) {
        n->warning += l >= VM_USAGE_WARNING;
        n->over += l == VM_USAGE_OVER;
    }
    if (!o)
        return;
    cJSON_AddNumberToObject(o, "usage_bytes", (double)vm_usage_used(e));
    cJSON_AddNumberToObject(o, "dataroot_bytes", (double)e->dataroot_bytes);
    cJSON_AddNumberToObject(o, "database_bytes", (double)e->database_bytes);
    cJSON_AddNumberToObject(o, "usage_measured", (double)e->measured);
    if (l == VM_USAGE_NO_QUOTA)
        return;
    cJSON_AddNumberToObject(o, "quota_bytes", (double)e->quota_bytes);
    cJSON_AddNumberToObject(o, "quota_percent", pc);
    cJSON_AddStringToObject(o, "quota", vm_usage_level_name(l));
}

void vmoodle_status_quota_counts(cJSON *root, const vmoodle_quota_counts *n)
{
    cJSON_AddNumberToObject(root, "quota_warn_percent", VM_USAGE_WARN_PERCENT);
    cJSON_AddNumberToObject(root, "quota_warning", n->warning);
    cJSON_AddNumberToObject(root, "quota_over", n->over);
}

static double number_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

const char *vmoodle_status_usage_html(request_rec *r, const cJSON *o)
{
    double used = number_of(o, "usage_bytes"),
           quota = number_of(o, "quota_bytes");
    const cJSON *level = cJSON_GetObjectItemCaseSensitive(o, "quota");
    const char *text, *l = cJSON_GetStringValue(level);

    if (used < 0)
        return "";
    text = vm_bytes_text((uint64_t)used, r->pool);
    if (quota < 0 || !l)
        return text;
    text = apr_psprintf(r->pool, "%s of %s (%.0f%%)", text,
                        vm_bytes_text((uint64_t)quota, r->pool),
                        number_of(o, "quota_percent"));
    return strcmp(l, "over") == 0
        ? apr_pstrcat(r->pool, "<strong class=\"quota-over\">", text,
                      " OVER QUOTA</strong>", NULL)
        : strcmp(l, "warning") == 0
        ? apr_pstrcat(r->pool, "<strong class=\"quota-warning\">", text,
                      " WARNING</strong>", NULL)
        : text;
}
