/* The record of a moved site's old copies (lock-dir/<id>.moved, root's,
 * 0600, "name = value" lines, never a password) and move --cleanup, which
 * removes them once no row uses them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "dbadmin.h"
#include "dbowner.h"
#include "files.h"
#include "move.h"
#include "shared.h"
#include "util.h"
#include "vm_conf.h"

static const char *const keys[] = { "dbtype", "dbhost", "dblogin", "dbname",
                                    "dataroot" };
#define NKEYS 5

typedef struct {
    const char *value[NKEYS]; /* "" when that part did not move */
} old_place;

const char *vmc_move_record_path(const vmc_opts *o, const vm_instance *in,
                                 apr_pool_t *p)
{
    return apr_psprintf(p, "%s/%s.moved", o->lock_dir, vmc_id_text(in->id, p));
}

int vmc_move_record_write(const move_run *m, const char **err)
{
    const char *v[NKEYS] = { m->in->dbtype, m->in->dbhost, m->in->dblogin,
                             m->same_db ? "" : m->in->dbname,
                             m->same_data ? "" : m->in->datapath };
    int fd = open(m->record,
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        return *err = apr_psprintf(m->p, "%s: %s", m->record, strerror(errno)),
               -1;
    for (int i = 0; i < NKEYS; i++)
        if (strpbrk(v[i], "\r\n")
            || dprintf(fd, "%s = %s\n", keys[i], v[i]) < 0) {
            close(fd);
            unlink(m->record);
            return *err = "cannot write the record of the old copies", -1;
        }
    return close(fd) == 0 ? 0 : (*err = strerror(errno), -1);
}

static const char *read_key(void *ctx, const char *name, const char *value,
                            apr_pool_t *p)
{
    old_place *o = ctx;
    for (int i = 0; i < NKEYS; i++)
        if (strcmp(name, keys[i]) == 0) {
            o->value[i] = apr_pstrdup(p, value);
            return NULL;
        }
    return apr_psprintf(p, "unknown name '%s'", name);
}

/* A row of the table (this site's included) still uses them. */
static const char *in_use(const vmc_table *t, const old_place *o, apr_pool_t *p)
{
    vmc_place old = { o->value[0], o->value[1], o->value[3] };
    const apr_array_header_t *all = t->table->instances;

    for (int i = 0; i < all->nelts; i++) {
        const vm_instance *in = &APR_ARRAY_IDX(all, i, vm_instance);
        vmc_place there = { in->dbtype, in->dbhost, in->dbname };
        if (*o->value[3] && vmc_same_database(&old, &there, p))
            return apr_psprintf(p, "%s uses database %s", in->key, o->value[3]);
        if (*o->value[4] && vmc_paths_overlap(o->value[4], in->datapath, p))
            return apr_psprintf(p, "%s uses %s", in->key, o->value[4]);
    }
    return NULL;
}

/* The old database, dropped by its owner on PostgreSQL (the old login,
 * with the site's password when it is the site's: the record keeps
 * none); on MariaDB with the old login's grants on it, which take the
 * administrative login when one is given. */
static const char *drop_old(const vmc_opts *opts, const vm_instance *in,
                            const old_place *o, apr_pool_t *p)
{
    const char *err,
        *pass = strcmp(in->dblogin, o->value[2]) == 0 ? in->dbpass : "";
    vmc_dbconf c;
    vm_db *server;

    if (vmc_dbconf_make(&c, o->value[0], o->value[1], o->value[2], pass,
                        o->value[3], p, &err)
            != 0
        || (!c.pg
            && vmc_admin_dbconf(opts, o->value[0], o->value[1], o->value[2],
                                pass, o->value[3], &c, p, &err)
                != 0)
        || !(server = vmc_db_open(&c, NULL, p, &err))
        || vmc_site_db_drop(server, o->value[2], o->value[3], p, &err) != 0)
        return err;
    return NULL;
}

int vmc_move_cleanup(vmc_opts *o, vmc_table *t, const vm_instance *in)
{
    const char *path = vmc_move_record_path(o, in, o->pool), *why;
    old_place old = { { "", "", "", "", "" } };

    if ((why = vm_conf_read(path, 1, read_key, &old, o->pool)) != NULL)
        return vmc_fail(776, VMC_EXIT_FAIL,
                        apr_pstrcat(o->pool,
                                    "no old "
                                    "copies of a move recorded: ",
                                    why, NULL));
    if ((why = in_use(t, &old, o->pool)) != NULL)
        return vmc_fail(777, VMC_EXIT_FAIL,
                        apr_pstrcat(o->pool,
                                    "cleanup "
                                    "refused: ",
                                    why, NULL));
    if (o->dry_run) {
        vmc_say("plan: drop database %s on %s; remove %s", old.value[3],
                old.value[1], old.value[4]);
        return VMC_EXIT_OK;
    }
    if (*old.value[3] && (why = drop_old(o, in, &old, o->pool)) != NULL)
        return vmc_fail(778, VMC_EXIT_FAIL,
                        apr_psprintf(o->pool,
                                     "drop the "
                                     "old database %s: %s",
                                     old.value[3], why));
    if (*old.value[4]
        && vmc_tree_remove(old.value[4], NULL, o->pool, &why) != 0)
        return vmc_fail(779, VMC_EXIT_FAIL, why);
    unlink(path);
    vmc_say("removed the old copies of %s%s%s%s%s", in->key,
            *old.value[3] ? ": database " : "", old.value[3],
            *old.value[4] ? ", dataroot " : "", old.value[4]);
    return VMC_EXIT_OK;
}
