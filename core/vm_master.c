/* The master's settings file, see vm_master.h. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include "vm_cli.h"
#include "vm_conf.h"
#include "vm_master.h"

const vm_instance *vm_master_settings;

static const struct {
    const char *name;
    vm_field field;
} keys[] = {
    { "wwwroot", VM_F_VHOSTNAME },  { "dbtype", VM_F_VDBTYPE },
    { "dbhost", VM_F_VDBHOST },     { "dbname", VM_F_VDBNAME },
    { "dbuser", VM_F_VDBLOGIN },    { "dbpass", VM_F_VDBPASS },
    { "prefix", VM_F_VDBPREFIX },   { "dbpersist", VM_F_VDBPERSIST },
    { "dataroot", VM_F_VDATAPATH },
};

static const char *set_key(void *ctx, const char *name, const char *value,
                           apr_pool_t *p)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(name, keys[i].name) == 0) {
            vm_row_set(ctx, keys[i].field, apr_pstrdup(p, value));
            return NULL;
        }
    return apr_psprintf(p,
                        "unknown setting '%s' (wwwroot, dbtype, dbhost, "
                        "dbname, dbuser, dbpass, prefix, dbpersist, "
                        "dataroot)",
                        name);
}

/* It holds a password: its owner's alone, and that owner root or us. */
static const char *check_mode(const char *path, apr_pool_t *p)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return apr_psprintf(p, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return apr_psprintf(p, "%s is not a regular file", path);
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return apr_psprintf(p,
                            "%s must be root's (it holds the master's "
                            "database password)",
                            path);
    if (st.st_mode & 077)
        return apr_psprintf(p,
                            "%s is readable or writable by others than "
                            "its owner (mode %04o): chmod 0600 it",
                            path, (unsigned)(st.st_mode & 07777));
    return NULL;
}

const char *vm_master_read(const char *path, vm_instance *out, apr_pool_t *p)
{
    const char *why;
    vm_row row;

    if ((why = check_mode(path, p)) != NULL)
        return why;
    memset(&row, 0, sizeof row);
    if ((why = vm_conf_read(path, 1, set_key, &row, p)) != NULL)
        return why;
    if (!row.present[VM_F_VHOSTNAME] || !row.present[VM_F_VDBNAME]
        || !row.present[VM_F_VDATAPATH] || !row.present[VM_F_VDBTYPE])
        return apr_psprintf(p,
                            "%s: wwwroot, dbtype, dbname and dataroot are "
                            "required",
                            path);
    vm_row_set(&row, VM_F_ID, "1");
    if ((why = vm_instance_from_row(out, &row, p)) != NULL)
        return apr_psprintf(p, "%s: %s", path, why);
    out->id = VM_MASTER_ID;
    out->key = "master";
    out->shortname = out->name = "master";
    return NULL;
}

int vm_master_env(const vm_instance *m, vm_env_numbers *nums,
                  vm_env_var out[VM_ENV_COUNT])
{
    vm_env_var all[VM_ENV_COUNT];
    int n = 0;

    vm_env_build(m, nums, all);
    for (int i = 0; i < VM_ENV_COUNT; i++)
        if (i != VM_E_HOST && i != VM_E_ID && i != VM_E_SHORTNAME
            && i != VM_E_MNET)
            out[n++] = all[i];
    return n;
}
