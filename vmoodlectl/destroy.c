/* destroy HOST --yes: take an instance out of service for good: disable
 * its row, drop its database, remove its dataroot (only inside the data
 * parent), then remove the row. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include "ctl.h"
#include "db.h"
#include "dbadmin.h"
#include "files.h"
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
        && vmc_tree_remove(in->datapath, o->pool, err) != 0)
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
        return vmc_fail(315, rc, why);
    if ((why = check_dataroot(o, in)) != NULL) {
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
