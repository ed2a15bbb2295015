/* templates: the templates under --templates (name, source, date, size);
 * template-remove NAME: one deleted, its PostgreSQL template database
 * (vmtpl_*) first, then its folder.  And what deploy shares with them:
 * opening a template, the password of the row it came from. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <cjson/cJSON.h>
#include "ctl.h"
#include "db.h"
#include "dbadmin.h"
#include "files.h"
#include "template.h"
#include "util.h"

const char *vmc_template_open(const vmc_opts *o, const char *name,
                              vmc_manifest *m, const char **dir)
{
    const char *err;

    if (!vmc_name_ok(name))
        return apr_psprintf(o->pool,
                            "template name '%s' may hold only "
                            "letters, digits, '.', '_', '-'",
                            name);
    *dir = apr_pstrcat(o->pool, o->templates_dir, "/", name, NULL);
    if (access(*dir, F_OK) != 0)
        return apr_psprintf(o->pool, "no template %s in %s", name,
                            o->templates_dir);
    if (vmc_manifest_read(m,
                          apr_pstrcat(o->pool, *dir, "/", VMC_MANIFEST, NULL),
                          o->pool, &err)
        != 0)
        return apr_psprintf(o->pool, "template %s: %s", name, err);
    return NULL;
}

const char *vmc_template_pass(const vmc_table *t, const vmc_manifest *m,
                              const char *dbhost, const char *login)
{
    const vm_instance *src;
    const char *why;

    if (!t->table || !(src = vmc_find(t, m->source.wwwroot, &why)))
        return NULL;
    if (strcmp(src->dbhost, dbhost ? dbhost : "") != 0
        || strcmp(src->dblogin, login ? login : "") != 0 || !*src->dbpass)
        return NULL;
    return src->dbpass;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The template names under the folder, sorted; NULL with *err. */
static apr_array_header_t *template_names(const vmc_opts *o, const char **err)
{
    apr_array_header_t *names = apr_array_make(o->pool, 8, sizeof(char *));
    DIR *dir = opendir(o->templates_dir);
    struct dirent *e;

    if (!dir) {
        if (errno == ENOENT)
            return names;
        *err = apr_psprintf(o->pool, "%s: %s", o->templates_dir,
                            strerror(errno));
        return NULL;
    }
    while ((e = readdir(dir)) != NULL)
        if (vmc_name_ok(e->d_name)) /* leaves out .NAME.partial-PID */
            APR_ARRAY_PUSH(names, char *) = apr_pstrdup(o->pool, e->d_name);
    closedir(dir);
    qsort(names->elts, (size_t)names->nelts, sizeof(char *), by_name);
    return names;
}

static cJSON *template_json(const vmc_manifest *m, const char *name)
{
    cJSON *e = cJSON_CreateObject();

    cJSON_AddStringToObject(e, "name", name);
    cJSON_AddStringToObject(e, "source", m->source.wwwroot);
    cJSON_AddStringToObject(e, "created", m->created ? m->created : "");
    cJSON_AddStringToObject(e, "dbtype", m->source.dbtype);
    cJSON_AddNumberToObject(e, "bytes", (double)(m->dump_size + m->data_bytes));
    cJSON_AddNumberToObject(e, "files", (double)m->data_files);
    if (m->pg_template_db)
        cJSON_AddStringToObject(e, "template_db", m->pg_template_db);
    return e;
}

static void print_json(cJSON *list)
{
    char *text = cJSON_Print(list);

    if (text)
        puts(text);
    free(text);
}

int vmc_cmd_templates(vmc_opts *o)
{
    apr_array_header_t *names;
    cJSON *list = cJSON_CreateArray();
    const char *err = "";
    int rc = VMC_EXIT_OK;

    if (!(names = template_names(o, &err))) {
        cJSON_Delete(list);
        return vmc_fail(361, VMC_EXIT_FAIL, err);
    }
    if (!o->json)
        printf("%-20s %-32s %-20s %10s\n", "NAME", "SOURCE", "CREATED", "SIZE");
    for (int i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *), *dir;
        vmc_manifest m;
        if ((err = vmc_template_open(o, name, &m, &dir)) != NULL) {
            vmc_error(362, "%s", err);
            rc = VMC_EXIT_FAIL;
        } else if (o->json)
            cJSON_AddItemToArray(list, template_json(&m, name));
        else
            printf("%-20s %-32s %-20s %10s%s%s\n", name, m.source.wwwroot,
                   m.created ? m.created : "?",
                   vmc_bytes(m.dump_size + m.data_bytes, o->pool),
                   m.pg_template_db ? "  template database " : "",
                   m.pg_template_db ? m.pg_template_db : "");
    }
    if (o->json)
        print_json(list);
    cJSON_Delete(list);
    return rc;
}

/* The server of the template database, as the template's source row
 * reached it: --dbuser and --dbpass(-file) first, else that row's. */
static const char *template_db_conf(vmc_opts *o, const vmc_manifest *m,
                                    vmc_dbconf *c)
{
    const vm_row *f = &o->fields;
    const char *login = f->present[VM_F_VDBLOGIN] ? f->value[VM_F_VDBLOGIN]
                                                  : m->source.dblogin;
    const char *pass = f->present[VM_F_VDBPASS] ? f->value[VM_F_VDBPASS] : NULL,
               *why, *err;
    vmc_table t;

    memset(&t, 0, sizeof t);
    if (!pass && vmc_table_load(o, &t, &why) == VMC_EXIT_OK)
        pass = vmc_template_pass(&t, m, m->source.dbhost, login);
    if (vmc_dbconf_make(c, "pgsql", m->pg_server, login, pass ? pass : "", NULL,
                        o->pool, &err)
        != 0)
        return err;
    return NULL;
}

/* 1 when the template database is there, 0 gone, -1 with *err (a failed
 * connection: nothing may be removed then). */
static int template_db_exists(vmc_opts *o, const vmc_manifest *m, vmc_dbconf *c,
                              const char **err)
{
    vm_db *server;

    if ((*err = template_db_conf(o, m, c)) != NULL)
        return -1;
    if (!(server = vmc_db_open(c, NULL, o->pool, err))) {
        *err = apr_psprintf(
            o->pool,
            "cannot connect to %s as %s to drop "
            "the template database %s: %s%s",
            m->pg_server, c->user, m->pg_template_db, *err,
            *c->pass ? ""
                     : "; no password given: --dbpass-file FILE, the "
                       "template's row, or ~/.pgpass");
        return -1;
    }
    return vmc_dbadmin_exists(server, m->pg_template_db, o->pool, err);
}

/* Out of deploy's sight at once (a hidden name), then removed. */
static int remove_folder(vmc_opts *o, const char *dir, const char **err)
{
    const char *hidden = apr_psprintf(o->pool, "%s/.%s.removing-%ld",
                                      o->templates_dir, o->template_name,
                                      (long)getpid());

    if (rename(dir, hidden) != 0) {
        *err = apr_psprintf(o->pool, "%s: %s", dir, strerror(errno));
        return -1;
    }
    return vmc_tree_remove(hidden, o->templates_dir, o->pool, err);
}

int vmc_cmd_template_remove(vmc_opts *o)
{
    const char *dir, *err;
    vmc_manifest m;
    vmc_dbconf c;
    int db = 0;

    if (o->nargs != 1) {
        vmc_error(363, "template-remove takes one template NAME");
        return VMC_EXIT_USAGE;
    }
    o->template_name = o->args[0];
    if ((err = vmc_template_open(o, o->template_name, &m, &dir)) != NULL)
        return vmc_fail(364, VMC_EXIT_FAIL, err);
    if (m.pg_template_db && m.pg_server
        && (db = template_db_exists(o, &m, &c, &err)) < 0) {
        vmc_error(365, "template-remove refused, nothing done: %s", err);
        return VMC_EXIT_FAIL;
    }
    if (o->dry_run) {
        vmc_say("plan: remove template %s (%s)", o->template_name,
                m.source.wwwroot);
        if (db)
            vmc_say("  1. drop the template database %s on %s",
                    m.pg_template_db, m.pg_server);
        vmc_say("  %d. remove %s", db ? 2 : 1, dir);
        return VMC_EXIT_OK;
    }
    if (db && vmc_pgtemplate_drop(&c, m.pg_template_db, o->pool, &err) != 0)
        return vmc_fail(
            366, VMC_EXIT_FAIL,
            apr_psprintf(o->pool,
                         "template-remove stopped, nothing removed: drop "
                         "database %s: %s",
                         m.pg_template_db, err));
    if (remove_folder(o, dir, &err) != 0)
        return vmc_fail(367, VMC_EXIT_FAIL,
                        apr_psprintf(o->pool, "template-remove: %s%s",
                                     db ? "template database "
                                          "dropped, but "
                                        : "",
                                     err));
    vmc_say("removed template %s%s%s", o->template_name,
            db ? " and its template database " : "",
            db ? m.pg_template_db : "");
    return VMC_EXIT_OK;
}
