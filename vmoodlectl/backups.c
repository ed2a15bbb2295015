/* backups [SITES] [--json]: the backups kept under --dir, per site oldest
 * first, each with its time, Moodle release and sizes (from its
 * manifest).  Without SITES: every site folder found there, sites
 * removed from the table too. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <cjson/cJSON.h>
#include "ctl.h"
#include "lifecycle.h"
#include "manifest.h"
#include "select.h"
#include "util.h"
#include "vm_text.h"

/* The site folders: of the selected sites, or all under dir. */
static int site_dirs(vmc_opts *o, apr_array_header_t **out)
{
    vmc_selection sel = { o->all,  o->match, 0, o->include_disabled,
                          o->args, o->nargs };
    const char *why;
    vmc_table t;
    int rc;

    *out = apr_array_make(o->pool, 16, sizeof(const char *));
    if (!o->all && !o->match && o->nargs == 0) {
        DIR *d = opendir(o->backup_dir);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                APR_ARRAY_PUSH(*out, const char *) = apr_pstrcat(o->pool,
                                                                 o->backup_dir,
                                                                 "/", e->d_name,
                                                                 NULL);
        if (d)
            closedir(d);
        vmc_names_sort(*out);
        return VMC_EXIT_OK;
    }
    if ((rc = vmc_table_load(o, &t, &why)) != VMC_EXIT_OK)
        return vmc_fail(710, rc, why);
    apr_array_header_t *sites = vmc_select(&t, &sel, o->pool, &why);
    if (!sites)
        return vmc_fail(711, VMC_EXIT_USAGE, why);
    for (int i = 0; i < sites->nelts; i++)
        APR_ARRAY_PUSH(*out, const char *) = vmc_backup_site_dir(
            o->backup_dir, APR_ARRAY_IDX(sites, i, const vm_instance *),
            o->pool);
    return VMC_EXIT_OK;
}

static cJSON *entry_json(const vmc_manifest *m, const char *path)
{
    cJSON *e = cJSON_CreateObject();

    cJSON_AddStringToObject(e, "site", m->source.wwwroot);
    cJSON_AddStringToObject(e, "name", m->name ? m->name : "");
    cJSON_AddStringToObject(e, "path", path);
    cJSON_AddStringToObject(e, "created", m->created ? m->created : "");
    cJSON_AddStringToObject(e, "moodle_version",
                            m->moodle_version ? m->moodle_version : "");
    cJSON_AddStringToObject(e, "moodle_release",
                            m->moodle_release ? m->moodle_release : "");
    cJSON_AddNumberToObject(e, "database_bytes", (double)m->dump_size);
    cJSON_AddNumberToObject(e, "dataroot_bytes", (double)m->data_bytes);
    cJSON_AddNumberToObject(e, "dataroot_files", (double)m->data_files);
    return e;
}

static void print_line(const vmc_manifest *m, const char *path, apr_pool_t *p)
{
    printf("%-32s %-18s %-22s %10s %10s  %s\n",
           vm_text_visible(m->source.wwwroot, p), m->name ? m->name : "-",
           m->moodle_release ? vm_text_visible(m->moodle_release, p) : "-",
           vmc_bytes(m->dump_size, p), vmc_bytes(m->data_bytes, p), path);
}

int vmc_cmd_backups(vmc_opts *o)
{
    apr_array_header_t *dirs;
    cJSON *list = o->json ? cJSON_CreateArray() : NULL;
    int rc = site_dirs(o, &dirs), count = 0;

    if (rc != VMC_EXIT_OK) {
        cJSON_Delete(list);
        return rc;
    }
    if (!o->json)
        printf("%-32s %-18s %-22s %10s %10s  %s\n", "SITE", "BACKUP", "MOODLE",
               "DATABASE", "DATAROOT", "PATH");
    for (int i = 0; i < dirs->nelts; i++) {
        const char *dir = APR_ARRAY_IDX(dirs, i, const char *), *err;
        apr_array_header_t *names = vmc_backup_list(dir, o->pool);
        for (int j = 0; j < names->nelts; j++) {
            const char *path = apr_pstrcat(o->pool, dir, "/",
                                           APR_ARRAY_IDX(names, j,
                                                         const char *),
                                           NULL);
            vmc_manifest m;
            if (vmc_manifest_read(&m,
                                  apr_pstrcat(o->pool, path, "/", VMC_MANIFEST,
                                              NULL),
                                  o->pool, &err)
                != 0) {
                vmc_error(712, "%s", err);
                rc = VMC_EXIT_FAIL;
                continue;
            }
            count++;
            if (list)
                cJSON_AddItemToArray(list, entry_json(&m, path));
            else
                print_line(&m, path, o->pool);
        }
    }
    if (list) {
        char *text = cJSON_Print(list);
        puts(text);
        cJSON_free(text);
        cJSON_Delete(list);
    } else {
        printf("%d backup(s) in %s\n", count, o->backup_dir);
    }
    return rc;
}
