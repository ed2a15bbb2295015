/* destroy HOST --yes: take an instance out of service for good: disable
 * its row, drop its database, remove its dataroot (only inside the data
 * parent), then remove the row.  Never what another site uses: a database
 * or a dataroot shared with another row or with the master is refused. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include "ctl.h"
#include "db.h"
#include "dbadmin.h"
#include "files.h"
#include "shared.h"
#include "util.h"

static const char *check_dataroot(const vmc_opts *o, const vm_instance *in)
{
    const char *why = vmc_path_inside(in->datapath, o->data_parent, o->pool);
    struct stat st;

    if (why)
        return apr_psprintf(o->pool, "dataroot %s %s; refusing to remove it",
                            in->datapath, why);
    if (lstat(in->datapath, &st) == 0 && !S_ISDIR(st.st_mode))
        return apr_psprintf(o->pool, "dataroot %s is not a directory",
                            in->datapath);
    return NULL;
}

static const char *row_name(const vm_row *r, apr_pool_t *p)
{
    const char *host = r->present[VM_F_VHOSTNAME] ? r->value[VM_F_VHOSTNAME]
                                                  : NULL;
    const char *id = r->present[VM_F_ID] ? r->value[VM_F_ID] : NULL;

    return apr_psprintf(p, "%s (id %s)", host && *host ? host : "a row",
                        id && *id ? id : "none");
}

/* Another row, or the master, using in's database or dataroot: why. */
static const char *check_shared(const vmc_opts *o, const vmc_table *t,
                                const vm_instance *in)
{
    const vm_row *mine = vmc_raw_row(t, in->id);
    vmc_place place = {in->dbtype, in->dbhost, in->dbname}, home;
    apr_pool_t *p = o->pool;
    int i;

    for (i = 0; i < t->rows->nelts; i++) {
        const vm_row *r = &APR_ARRAY_IDX(t->rows, i, vm_row);
        vmc_place other = vmc_row_place(r);
        if (r == mine)
            continue;
        if (vmc_same_database(&place, &other, p))
            return apr_psprintf(p, "database %s on %s is also %s's; refusing "
                                "to drop it", in->dbname, in->dbhost,
                                row_name(r, p));
        if (r->present[VM_F_VDATAPATH]
            && vmc_paths_overlap(in->datapath, r->value[VM_F_VDATAPATH], p))
            return apr_psprintf(p, "dataroot %s overlaps %s, the dataroot of "
                                "%s; refusing to remove it", in->datapath,
                                r->value[VM_F_VDATAPATH], row_name(r, p));
    }
    if (vmc_table_home(t, &home, p) && vmc_same_database(&place, &home, p))
        return apr_psprintf(p, "database %s on %s is the master's (it holds "
                            "the instance table %s); refusing to drop it",
                            in->dbname, in->dbhost, t->src->table);
    if (o->master_dataroot
        && vmc_paths_overlap(in->datapath, o->master_dataroot, p))
        return apr_psprintf(p, "dataroot %s overlaps the master's %s "
                            "(master-dataroot); refusing to remove it",
                            in->datapath, o->master_dataroot);
    return NULL;
}

static void plan(const vm_instance *in)
{
    vmc_say("plan: destroy %s (id %lld)", in->wwwroot, in->id);
    vmc_say("  1. disable its row");
    vmc_say("  2. drop %s database %s on %s", in->dbtype, in->dbname,
            in->dbhost);
    vmc_say("  3. remove %s", in->datapath);
    vmc_say("  4. remove its row");
}

/* NULL, or why not. */
static const char *disable_row(vmc_opts *o, vmc_table *t,
                               const vm_instance *in)
{
    const vm_row *old = vmc_raw_row(t, in->id);
    vm_row row;
    long long id;

    if (!old)
        return "the instance's row is gone";
    row = *old;
    vm_row_set(&row, VM_F_ENABLED, "0");
    return vmc_table_save(t, &row, &id, o->pool);
}

static int drop_database(vmc_opts *o, const vm_instance *in,
                         const char **err)
{
    vmc_dbconf c;
    vm_db *server;
    int exists;

    if (vmc_dbconf_make(&c, in->dbtype, in->dbhost, in->dblogin, in->dbpass,
                        in->dbname, o->pool, err) != 0
        || !(server = vmc_db_open(&c, NULL, o->pool, err))
        || (exists = vmc_dbadmin_exists(server, in->dbname, o->pool,
                                        err)) < 0)
        return -1;
    if (!exists) {
        vmc_say("database %s was already gone", in->dbname);
        return 0;
    }
    return vmc_dbadmin_drop(server, in->dbname, o->pool, err);
}

static int run_steps(vmc_opts *o, vmc_table *t, const vm_instance *in,
                     const char **step, const char **err)
{
    struct stat st;

    *step = "disable the row";
    if ((*err = disable_row(o, t, in)) != NULL)
        return -1;
    *step = "drop the database";
    if (drop_database(o, in, err) != 0)
        return -1;
    *step = "remove the dataroot";
    if (lstat(in->datapath, &st) == 0
        && vmc_tree_remove(in->datapath, o->data_parent, o->pool, err) != 0)
        return -1;
    *step = "remove the row";
    if (t->src->ops->delete_row(t->src, in->id, o->pool, err) != VM_OK)
        return -1;
    return 0;
}

int vmc_cmd_destroy(vmc_opts *o)
{
    const char *why, *step = "", *err = "";
    const vm_instance *in;
    vmc_table t;
    int rc;

    if ((rc = vmc_table_load_one(o, "destroy", &t, &in, &why)) != VMC_EXIT_OK)
        return vmc_fail(475, rc, why);
    if ((why = check_dataroot(o, in)) != NULL
        || (why = check_shared(o, &t, in)) != NULL) {
        vmc_error(351, "destroy refused, nothing done: %s", why);
        return VMC_EXIT_FAIL;
    }
    if (o->dry_run || !o->yes) {
        plan(in);
        if (!o->yes && !o->dry_run)
            vmc_error(352, "nothing done: add --yes to destroy %s",
                      in->wwwroot);
        return o->dry_run ? VMC_EXIT_OK : VMC_EXIT_USAGE;
    }
    if (!t.src->ops->save_row || !t.src->ops->delete_row) {
        vmc_error(353, "source %s cannot be written", t.src->display);
        return VMC_EXIT_FAIL;
    }
    if (run_steps(o, &t, in, &step, &err) != 0) {
        vmc_error(354, "destroy of %s stopped at step '%s': %s", in->wwwroot,
                  step, err);
        return VMC_EXIT_FAIL;
    }
    vmc_say("destroyed %s: database %s dropped, %s removed, row %lld "
            "removed", in->wwwroot, in->dbname, in->datapath, in->id);
    return VMC_EXIT_OK;
}
