/* list, show, add, edit, enable, disable, remove: the instance table as an
 * administrator reads and changes it.  Passwords stay hidden unless asked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <cjson/cJSON.h>
#include "ctl.h"
#include "vm_instance_json.h"
#include "vm_text.h"
#include "vm_time.h"

static void print_json(cJSON *j)
{
    char *text = cJSON_Print(j);

    if (text)
        puts(text);
    free(text);
    cJSON_Delete(j);
}

/* Every column; the password only with --show-secrets. */
static unsigned json_flags(const vmc_opts *o)
{
    return VM_JSON_COLUMNS | VM_JSON_CRON
        | (o->show_secrets ? VM_JSON_SECRETS : 0);
}

static void list_json(const vmc_opts *o, const vm_table *t)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *ins = cJSON_AddArrayToObject(root, "instances");
    cJSON *rej = cJSON_AddArrayToObject(root, "rejected");
    int i;

    for (i = 0; i < t->instances->nelts; i++)
        cJSON_AddItemToArray(ins,
                             vm_instance_json(&APR_ARRAY_IDX(t->instances, i,
                                                             vm_instance),
                                              json_flags(o)));
    for (i = 0; i < t->rejections->nelts; i++)
        cJSON_AddItemToArray(rej,
                             vm_rejection_json(&APR_ARRAY_IDX(t->rejections, i,
                                                              vm_rejection)));
    print_json(root);
}

static void list_text(const vm_table *t, apr_pool_t *p)
{
    int i;

    printf("%-6s %-3s %-36s %-7s %-20s %6s %-23s %7s %-12s %s\n", "ID", "ON",
           "HOST", "DBTYPE", "DBNAME", "CRONS", "LASTCRON", "GAP", "PLATFORM",
           "ALIASES");
    for (i = 0; i < t->instances->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(t->instances, i, vm_instance);
        char date[VM_TIME_TEXT];
        size_t na = strlen(in->aliases);
        printf("%-6lld %-3s %-36s %-7s %-20s %6lld %-23s %6llds %-12s %.*s\n",
               in->id, in->enabled ? "yes" : "no", in->key, in->dbtype,
               vm_text_visible(in->dbname, p), in->croncount,
               vm_time_human(in->lastcron, date), in->lastcrongap,
               *in->platform ? in->platform : "-", (int)(na ? na - 1 : 0),
               in->aliases);
    }
    for (i = 0; i < t->rejections->nelts; i++) {
        const vm_rejection *r = &APR_ARRAY_IDX(t->rejections, i, vm_rejection);
        printf("rejected id %lld: %s\n", r->id, vm_text_visible(r->reason, p));
    }
}

int vmc_cmd_list(vmc_opts *o)
{
    const char *why;
    vmc_table t;
    int rc = vmc_table_load(o, &t, &why);

    if (rc != VMC_EXIT_OK)
        return vmc_fail(311, rc, why);
    if (o->json)
        list_json(o, t.table);
    else
        list_text(t.table, o->pool);
    return VMC_EXIT_OK;
}

/* A value as it is (a password copied from here must be exact), made
 * visible only if it holds control characters. */
static const char *plain(const char *v, apr_pool_t *p)
{
    return vm_text_has_control(v) ? vm_text_visible(v, p) : v;
}

int vmc_cmd_show(vmc_opts *o)
{
    const vm_instance *in;
    const char *why;
    cJSON *j, *item;
    vmc_table t;
    int rc;

    if ((rc = vmc_table_load_one(o, "show", &t, &in, &why)) != VMC_EXIT_OK)
        return vmc_fail(315, rc, why);
    j = vm_instance_json(in, json_flags(o));
    if (o->json) {
        print_json(j);
        return VMC_EXIT_OK;
    }
    cJSON_ArrayForEach(item, j)
    {
        char date[VM_TIME_TEXT];
        if (strcmp(item->string, "lastcron") == 0)
            printf("%-12s %s\n", item->string,
                   vm_time_human((long long)item->valuedouble, date));
        else if (cJSON_IsString(item))
            printf("%-12s %s\n", item->string,
                   plain(item->valuestring, o->pool));
        else if (cJSON_IsArray(item))
            printf("%-12s %s\n", item->string,
                   vm_aliases_text(in->aliases, o->pool));
        else
            printf("%-12s %.0f\n", item->string, item->valuedouble);
    }
    cJSON_Delete(j);
    return VMC_EXIT_OK;
}

/* Copy over the row every column given on the command line. */
static void overlay(vm_row *row, const vm_row *given)
{
    int f;

    for (f = 0; f < VM_F_COUNT; f++)
        if (given->present[f])
            vm_row_set(row, (vm_field)f, given->value[f]);
}

static int validate_and_save(vmc_opts *o, vmc_table *t, const vm_row *row,
                             const char *verb)
{
    const char *why = vmc_table_validate(t, row, o->pool);
    long long id;

    if (why) {
        vmc_error(321, "%s refused, nothing written: %s", verb, why);
        return VMC_EXIT_FAIL;
    }
    if (o->dry_run) {
        vmc_say("dry run: the row is valid; would %s it in %s", verb,
                t->src->display);
        return VMC_EXIT_OK;
    }
    if ((why = vmc_table_save(t, row, &id, o->pool)) != NULL)
        return vmc_fail(314, VMC_EXIT_FAIL, why);
    vmc_say("%s: id %lld", verb, id);
    return VMC_EXIT_OK;
}

int vmc_cmd_add(vmc_opts *o)
{
    const char *why;
    vmc_table t;
    vm_row row;
    int rc;

    if (o->nargs != 0) {
        vmc_error(322, "add takes its columns as options (--host URL ...)");
        return VMC_EXIT_USAGE;
    }
    if ((rc = vmc_table_load(o, &t, &why)) != VMC_EXIT_OK)
        return vmc_fail(470, rc, why);
    memset(&row, 0, sizeof row);
    overlay(&row, &o->fields);
    return validate_and_save(o, &t, &row, "add");
}

static int change(vmc_opts *o, const char *verb, const char *enabled)
{
    const vm_instance *in;
    const vm_row *old;
    const char *why;
    vmc_table t;
    vm_row row;
    int rc;

    if ((rc = vmc_table_load_one(o, verb, &t, &in, &why)) != VMC_EXIT_OK)
        return vmc_fail(473, rc, why);
    if (!(old = vmc_raw_row(&t, in->id)))
        return vmc_fail(324, VMC_EXIT_FAIL, "the instance's row is gone");
    row = *old;
    overlay(&row, &o->fields);
    if (enabled)
        vm_row_set(&row, VM_F_ENABLED, enabled);
    return validate_and_save(o, &t, &row, verb);
}

int vmc_cmd_edit(vmc_opts *o)
{
    return change(o, "edit", NULL);
}

int vmc_cmd_enable(vmc_opts *o)
{
    return change(o, "enable", "1");
}

int vmc_cmd_disable(vmc_opts *o)
{
    return change(o, "disable", "0");
}

/* By id, so a rejected row (no usable host) can be removed too. */
int vmc_cmd_remove(vmc_opts *o)
{
    const vm_instance *in;
    const char *err = NULL, *why;
    long long id;
    vmc_table t;
    int rc;

    if (o->nargs == 1 && *o->args[0]
        && strspn(o->args[0], "0123456789") == strlen(o->args[0])) {
        if ((rc = vmc_table_load(o, &t, &why)) != VMC_EXIT_OK)
            return vmc_fail(471, rc, why);
        id = strtoll(o->args[0], NULL, 10); /* a rejected row too */
    } else if ((rc = vmc_table_load_one(o, "remove", &t, &in, &why))
               != VMC_EXIT_OK) {
        return vmc_fail(474, rc, why);
    } else {
        id = in->id;
    }
    if (o->dry_run) {
        vmc_say("dry run: would remove id %lld from %s", id, t.src->display);
        return VMC_EXIT_OK;
    }
    if (!t.src->ops->delete_row
        || t.src->ops->delete_row(t.src, id, o->pool, &err) != VM_OK) {
        vmc_error(323, "removing id %lld from %s failed: %s", id,
                  t.src->display, err ? err : "source cannot be written");
        return VMC_EXIT_FAIL;
    }
    vmc_say("remove: id %lld", id);
    return VMC_EXIT_OK;
}
