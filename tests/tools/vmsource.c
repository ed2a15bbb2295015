/* vmsource: drive one instance source from the tests, through the same
 * vm_source_open / vm_table_build path as the module, vcron and vmoodlectl.
 *
 *   vmsource [--table T] [--passwords] SOURCE load
 *   vmsource [--table T] SOURCE record-cron ID STARTED
 *   vmsource [--table T] SOURCE lock ID [hold]   (hold: until stdin closes)
 *   vmsource [--table T] SOURCE watch SECONDS    (a line per change seen)
 *   vmsource [--table T] SOURCE save < row.json  (prints the id)
 *   vmsource [--table T] SOURCE delete ID
 *
 * Every command prints one JSON object per line on stdout; a failure is
 * {"status": "<vm_status name>", "error": "..."} and exit code 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cJSON.h>
#include <apr_general.h>
#include "vm_instance_json.h"
#include "vm_json.h"
#include "vm_source.h"
#include "vm_table.h"

typedef struct {
    vm_source *src;
    apr_pool_t *pool;
    int passwords; /* print vdbpass */
    int argc;      /* command arguments after the command name */
    char **argv;
} tool;

/* Print obj as one line and free it. */
static void emit(cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    cJSON_Delete(obj);
}

static int fail(vm_status st, const char *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", vm_status_name(st));
    cJSON_AddStringToObject(o, "error", err ? err : "");
    emit(o);
    return 1;
}

static int ok(const char *key, double value)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", vm_status_name(VM_OK));
    if (key)
        cJSON_AddNumberToObject(o, key, value);
    emit(o);
    return 0;
}

/* The struct's member names, not the columns' (the tests read these), so
 * not the core's vm_instance_json. */
static cJSON *instance_json(const vm_instance *in, int passwords)
{
    cJSON *o = cJSON_CreateObject();
    const char *texts[][2] = {
        { "name", in->name },           { "shortname", in->shortname },
        { "vhostname", in->vhostname }, { "key", in->key },
        { "wwwroot", in->wwwroot },     { "dbtype", in->dbtype },
        { "dbhost", in->dbhost },       { "dblogin", in->dblogin },
        { "dbname", in->dbname },       { "dbprefix", in->dbprefix },
        { "datapath", in->datapath },   { "platform", in->platform },
        { "aliases", in->aliases },     { "path", in->path }
    };
    const struct {
        const char *k;
        long long v;
    } nums[] = {
        { "dbpersist", in->dbpersist }, { "mnet", in->mnet },
        { "enabled", in->enabled },     { "croncount", in->croncount },
        { "lastcron", in->lastcron },   { "lastcrongap", in->lastcrongap }
    };
    cJSON_AddNumberToObject(o, "id", (double)in->id);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        cJSON_AddStringToObject(o, texts[i][0], texts[i][1]);
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        cJSON_AddNumberToObject(o, nums[i].k, (double)nums[i].v);
    if (passwords)
        cJSON_AddStringToObject(o, "dbpass", in->dbpass);
    return o;
}

static int cmd_load(tool *t)
{
    const char *err = NULL;
    apr_array_header_t *rows;
    vm_status st = vm_source_load(t->src, &rows, t->pool, &err);
    if (st != VM_OK)
        return fail(st, err);
    vm_table *table = vm_table_build(rows, t->pool);
    cJSON *o = cJSON_CreateObject(), *ins = cJSON_CreateArray(),
          *rej = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "status", vm_status_name(VM_OK));
    for (int i = 0; i < table->instances->nelts; i++)
        cJSON_AddItemToArray(ins,
                             instance_json(&APR_ARRAY_IDX(table->instances, i,
                                                          vm_instance),
                                           t->passwords));
    for (int i = 0; i < table->rejections->nelts; i++)
        cJSON_AddItemToArray(rej,
                             vm_rejection_json(&APR_ARRAY_IDX(table->rejections,
                                                              i,
                                                              vm_rejection)));
    cJSON_AddItemToObject(o, "instances", ins);
    cJSON_AddItemToObject(o, "rejections", rej);
    emit(o);
    return 0;
}

/* The n-th command argument as a number; exits on a missing one. */
static long long arg_number(const tool *t, int n)
{
    if (n >= t->argc) {
        fprintf(stderr, "vmsource: missing argument\n");
        exit(2);
    }
    return strtoll(t->argv[n], NULL, 10);
}

static int cmd_record_cron(tool *t)
{
    const char *err = NULL;
    vm_status st = t->src->ops->record_cron(t->src, arg_number(t, 0),
                                            arg_number(t, 1), t->pool, &err);
    return st == VM_OK ? ok(NULL, 0) : fail(st, err);
}

/* Try the lock; with "hold", keep it until stdin reaches end of file. */
static int cmd_lock(tool *t)
{
    const char *err = NULL;
    long long id = arg_number(t, 0);
    int got = 0, hold = t->argc > 1 && strcmp(t->argv[1], "hold") == 0;
    vm_status st = t->src->ops->try_lock(t->src, id, &got, &err);
    if (st != VM_OK)
        return fail(st, err);
    ok("got", got);
    if (got && hold) {
        char buf[64];
        while (read(0, buf, sizeof buf) > 0)
            ;
    }
    if (got && (st = t->src->ops->unlock(t->src, id, &err)) != VM_OK)
        return fail(st, err);
    return ok("released", got);
}

/* Poll for changes every 50 ms for SECONDS; a line per poll that saw
 * one, and "ready" after the first poll. */
static int cmd_watch(tool *t)
{
    long long polls = arg_number(t, 0) * 20;
    if (t->src->ops->poll_change == NULL)
        return fail(VM_ERR_UNSUPPORTED, "this source cannot tell changes");
    for (long long i = 0; i < polls; i++) {
        const char *err = NULL;
        int changed = 0;
        vm_status st = t->src->ops->poll_change(t->src, &changed, &err);
        if (st != VM_OK)
            fail(st, err);
        else if (changed)
            ok("changed", 1);
        if (i == 0)
            ok("ready", 1);
        usleep(50 * 1000);
    }
    return 0;
}

/* A row from a JSON object on stdin: keys are column names, null is
 * SQL NULL. */
static int read_row(vm_row *row, apr_pool_t *p)
{
    char *text = apr_palloc(p, 1 << 16);
    size_t len = fread(text, 1, (1 << 16) - 1, stdin);
    text[len] = '\0';
    cJSON *obj = cJSON_Parse(text), *item;
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return -1;
    }
    memset(row, 0, sizeof *row);
    cJSON_ArrayForEach(item, obj)
    {
        int f = vm_field_by_name(item->string), bad = 0;
        if (f >= 0)
            vm_row_set(row, (vm_field)f, vm_json_text(item, p, &bad));
    }
    cJSON_Delete(obj);
    return 0;
}

static int cmd_save(tool *t)
{
    vm_row row;
    const char *err = NULL;
    long long id = 0;
    if (read_row(&row, t->pool) < 0)
        return fail(VM_ERR_DATA, "stdin is not a JSON object");
    vm_status st = t->src->ops->save_row(t->src, &row, &id, t->pool, &err);
    return st == VM_OK ? ok("id", (double)id) : fail(st, err);
}

static int cmd_delete(tool *t)
{
    const char *err = NULL;
    vm_status st = t->src->ops->delete_row(t->src, arg_number(t, 0), t->pool,
                                           &err);
    return st == VM_OK ? ok(NULL, 0) : fail(st, err);
}

static const struct {
    const char *name;
    int (*run)(tool *t);
} commands[] = {
    { "load", cmd_load }, { "record-cron", cmd_record_cron },
    { "lock", cmd_lock }, { "watch", cmd_watch },
    { "save", cmd_save }, { "delete", cmd_delete },
};

static int usage(void)
{
    fprintf(stderr,
            "usage: vmsource [--table T] [--passwords] SOURCE "
            "load|record-cron|lock|watch|save|delete [ARGS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    tool t = { 0 };
    const char *table = NULL, *err = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
            table = argv[++i];
        else if (strcmp(argv[i], "--passwords") == 0)
            t.passwords = 1;
        else
            return usage();
    }
    if (argc - i < 2)
        return usage();
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&t.pool, NULL);
    t.argc = argc - i - 2;
    t.argv = argv + i + 2;
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        if (strcmp(argv[i + 1], commands[c].name) != 0)
            continue;
        vm_status st = vm_source_open(&t.src, argv[i], table, t.pool, &err);
        if (st != VM_OK)
            return fail(st, err);
        int rc = commands[c].run(&t);
        apr_pool_destroy(t.pool);
        return rc;
    }
    return usage();
}
