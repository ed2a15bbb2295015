/* move HOST [--dbhost H] [--dbname N] [--dataroot DIR] [--cleanup]: the
 * site to another database server or database name, or another disk, with
 * the same URL and identity.  While the site serves: the dataroot copied
 * (owned as the live one).  Then in maintenance: the database dumped and
 * loaded into the new place (it cannot be copied consistently while Moodle
 * writes it), what changed in the dataroot since copied, both verified
 * (Moodle's version read back, the files counted), the row switched,
 * caches purged, maintenance off, the site asked.  The old copies stay
 * until move HOST --cleanup (a record in lock-dir/<id>.moved says what
 * they are).  A failure or an interrupt undoes every step. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "dbadmin.h"
#include "dbtools.h"
#include "files.h"
#include "fleet.h"
#include "lifecycle.h"
#include "move.h"
#include "shared.h"
#include "steps.h"
#include "util.h"
#include "vm_file.h"

static vm_field moved_fields[] = { VM_F_VDBHOST, VM_F_VDBLOGIN, VM_F_VDBPASS,
                                   VM_F_VDBNAME, VM_F_VDATAPATH };

/* The row with the flags' new place; the instance it makes. */
static const char *new_row(move_run *m)
{
    const vm_row *raw = vmc_raw_row(&m->t, m->in->id);
    const char *why;
    int changed = 0;

    if (!raw)
        return "the site's row is not in the table";
    m->row = *raw;
    for (size_t i = 0; i < sizeof moved_fields / sizeof moved_fields[0]; i++)
        if (m->o->fields.present[moved_fields[i]]) {
            vm_row_set(&m->row, moved_fields[i],
                       m->o->fields.value[moved_fields[i]]);
            changed += moved_fields[i] != VM_F_VDBLOGIN
                && moved_fields[i] != VM_F_VDBPASS;
        }
    for (int f = 0; f < VM_F_COUNT; f++)
        if (m->o->fields.present[f] && f != VM_F_VDBHOST && f != VM_F_VDBLOGIN
            && f != VM_F_VDBPASS && f != VM_F_VDBNAME && f != VM_F_VDATAPATH)
            return "move takes only --dbhost, --dbuser, --dbpass-file, "
                   "--dbname and --dataroot";
    if (!changed)
        return "give where to: --dbhost, --dbname and/or --dataroot";
    if ((why = vm_instance_from_row(&m->to, &m->row, m->p)))
        return why;
    return NULL;
}

/* A site with a login of its own keeps it on another server: made there
 * (same name and password) when that server has none, which the
 * administrative login must then be allowed to do. */
static const char *check_login(move_run *m, const char *server)
{
    const char *err, *why;
    int exists;

    if (strcmp(m->to.dblogin, m->admin_db.user) == 0)
        return NULL;
    if ((exists = vmc_role_exists(m->server, m->to.dblogin, m->p, &err)) != 0)
        return exists < 0 ? err : NULL;
    if ((why = vmc_role_check(m->server, m->to.dblogin, m->p)))
        return apr_psprintf(m->p, "login %s must be made on %s: %s",
                            m->to.dblogin, server, why);
    m->login_needed = 1;
    return NULL;
}

static const char *check_db(move_run *m)
{
    vmc_place from = { m->in->dbtype, m->in->dbhost, m->in->dbname };
    vmc_place to = { m->to.dbtype, m->to.dbhost, m->to.dbname };
    const char *err, *server;
    int can, exists;

    m->same_db = vmc_same_database(&from, &to, m->p);
    if (vmc_dbconf_make(&m->from_db, m->in->dbtype, m->in->dbhost,
                        m->in->dblogin, m->in->dbpass, m->in->dbname, m->p,
                        &err)
            != 0
        || vmc_dbconf_make(&m->to_db, m->to.dbtype, m->to.dbhost, m->to.dblogin,
                           m->to.dbpass, m->to.dbname, m->p, &err)
            != 0
        || vmc_admin_dbconf(m->o, m->to.dbtype, m->to.dbhost, m->to.dblogin,
                            m->to.dbpass, m->to.dbname, &m->admin_db, m->p,
                            &err)
            != 0)
        return err;
    if (m->same_db)
        return NULL;
    if (!vmc_dbname_ok(m->to.dbname))
        return apr_psprintf(m->p,
                            "database name '%s' may hold only "
                            "letters, digits, '_', '-'",
                            m->to.dbname);
    server = vmc_dbconf_server(&m->to_db, m->p);
    if (!(m->server = vmc_db_open(&m->admin_db, NULL, m->p, &err)))
        return apr_psprintf(m->p, "cannot connect to %s as %s: %s", server,
                            m->admin_db.user, err);
    if ((can = vmc_dbadmin_can_create(m->server, m->p, &err)) <= 0)
        return can < 0 ? err
                       : apr_psprintf(m->p,
                                      "%s may not create "
                                      "databases on %s (CREATEDB): give "
                                      "an administrative login "
                                      "(--admin-dbuser, --admin-dbpass-file)",
                                      m->admin_db.user, server);
    if ((exists = vmc_dbadmin_exists(m->server, m->to.dbname, m->p, &err)))
        return exists < 0 ? err
                          : apr_psprintf(m->p,
                                         "database %s already "
                                         "exists on %s",
                                         m->to.dbname, server);
    return check_login(m, server);
}

static const char *check_dataroot(move_run *m)
{
    const char *why;
    struct stat st;

    m->same_data = strcmp(m->in->datapath, m->to.datapath) == 0;
    if (m->same_data)
        return NULL;
    if ((why = vmc_path_inside(m->to.datapath, m->o->data_parent, m->p)))
        return apr_psprintf(m->p, "dataroot %s %s", m->to.datapath, why);
    if (lstat(m->to.datapath, &st) == 0)
        return apr_psprintf(m->p, "dataroot %s already exists", m->to.datapath);
    if (lstat(m->in->datapath, &st) != 0 || !S_ISDIR(st.st_mode))
        return apr_psprintf(m->p, "dataroot %s is not a folder",
                            m->in->datapath);
    m->uid = st.st_uid;
    m->gid = st.st_gid;
    return vmc_tree_measure(m->in->datapath, 1, &m->bytes, &m->files, m->p,
                            &why)
        ? why
        : NULL;
}

static const char *prepare(move_run *m)
{
    const char *why;
    vmc_moodle_info mi;
    vm_db *db;

    m->record = vmc_move_record_path(m->o, m->in, m->p);
    if (access(m->record, F_OK) == 0)
        return apr_psprintf(m->p,
                            "an earlier move's old copies are kept "
                            "(%s): move %s --cleanup first",
                            m->record, m->in->key);
    if ((why = new_row(m)) || (why = vmc_table_validate(&m->t, &m->row, m->p))
        || (why = check_db(m)) || (why = check_dataroot(m)))
        return why;
    if (!(db = vmc_db_open(&m->from_db, m->in->dbname, m->p, &why))
        || vmc_moodle_info_read(db, m->in->dbprefix, &mi, m->p, &why) != 0)
        return apr_psprintf(m->p, "database %s: %s", m->in->dbname, why);
    vm_db_close(db);
    m->version = mi.version;
    /* Moodle's scripts of the site's own platform, or none */
    if (!vm_siterun_tree(&m->cli, m->in, m->p, &why))
        return why;
    vmc_maintenance_init(&m->maint, &m->cli, m->in, m->p);
    m->work = apr_psprintf(m->p, "%s/.vmoodlectl-move-%ld", m->o->lock_dir,
                           (long)getpid());
    return NULL;
}

int vmc_cmd_move(vmc_opts *o)
{
    move_run m;
    const char *why;
    int rc;

    memset(&m, 0, sizeof m);
    m.o = o;
    m.p = o->pool;
    if ((rc = vmc_table_load_one(o, "move", &m.t, &m.in, &why)) != VMC_EXIT_OK)
        return vmc_fail(761, rc, why);
    if (o->cleanup)
        return vmc_move_cleanup(o, &m.t, m.in);
    if ((rc = vmc_siterun_prepare(o, &m.cli, &why)) != VMC_EXIT_OK)
        return vmc_fail(766, rc, why);
    if ((why = prepare(&m)) != NULL)
        return vmc_fail(763, VMC_EXIT_FAIL,
                        apr_psprintf(m.p,
                                     "move of %s "
                                     "refused, nothing changed: %s",
                                     m.in->wwwroot, why));
    if (!o->dry_run && (why = vm_file_dir_make(o->lock_dir, m.p)) != NULL)
        return vmc_fail(764, VMC_EXIT_FAIL, why);
    rc = vmc_lifecycle_run(o, apr_psprintf(m.p, "move of %s", m.in->wwwroot),
                           vmc_move_steps, vmc_move_nsteps, &m, 765);
    if (rc == VMC_EXIT_OK && !o->dry_run)
        vmc_say("moved %s; the old copies stay until: vmoodlectl move %s "
                "--cleanup",
                m.in->wwwroot, m.in->key);
    return rc;
}
