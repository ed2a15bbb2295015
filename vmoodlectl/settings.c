/* vmoodlectl's settings, see settings.h.  The names are the options'
 * (options.c), spelled once in core/vm_settings.h. */
#include <unistd.h>
#include <apr_strings.h>
#include "options.h"
#include "roles.h"
#include "settings.h"
#include "vm_conf.h"
#include "vm_master.h"
#include "vm_settings.h"
#include "vm_siteuser.h"

static const char *setting(void *ctx, const char *name, const char *value,
                           apr_pool_t *p)
{
    if (vmc_option_apply_setting(ctx, name, value) || vm_settings_known(name))
        return NULL;
    return apr_psprintf(p, "unknown setting '%s'", name);
}

int vmc_settings_read(vmc_opts *o)
{
    const char *path = o->config_path, *err;

    if (!path)
        path = access(VMC_DEFAULT_CONFIG, F_OK) == 0 ? VMC_DEFAULT_CONFIG
            : access(VMC_FALLBACK_CONFIG, F_OK) == 0 ? VMC_FALLBACK_CONFIG
                                                     : NULL;
    if (!path)
        return 0;
    if ((err = vm_conf_read(path, 1, setting, o, o->pool)) != NULL) {
        vmc_error(302, "configuration %s", err);
        return -1;
    }
    return 0;
}

void vmc_settings_defaults(vmc_opts *o)
{
    if (!o->php)
        o->php = VM_DEFAULT_PHP;
    if (!o->moodle_dir)
        o->moodle_dir = VM_DEFAULT_MOODLE_DIR;
    if (!o->lock_dir)
        o->lock_dir = VM_DEFAULT_LOCK_DIR;
    /* The opcode file cache: off leaves no directory to use. */
    o->opcache_dir = o->opcache && !vm_settings_on(o->opcache) ? NULL
        : o->opcache_dir                                       ? o->opcache_dir
                         : VM_DEFAULT_OPCACHE_DIR;
    if (!o->web_user)
        o->web_user = VM_DEFAULT_USER;
    if (!o->templates_dir)
        o->templates_dir = VMC_DEFAULT_TEMPLATES;
    if (!o->data_parent)
        o->data_parent = VMC_DEFAULT_DATA;
    if (!o->backup_dir)
        o->backup_dir = VMC_DEFAULT_BACKUP_DIR;
    if (!o->jobs)
        o->jobs = VM_DEFAULT_JOBS;
    o->grace = VM_DEFAULT_GRACE;
}

/* site-user and db-client-host well formed; master-config read (root's,
 * 0600) for the master's runs (vm_master.h). */
int vmc_settings_tenant(vmc_opts *o)
{
    const char *why;

    if (o->site_user && (why = vm_site_user_check(o->site_user, o->pool))) {
        vmc_error(501, "%s", why);
        return -1;
    }
    if ((why = vmc_role_host_check(o->db_client_host, o->pool)) != NULL) {
        vmc_error(970, "%s", why);
        return -1;
    }
    if (!o->master_config)
        return 0;
    if ((why = vm_master_read(o->master_config, &o->master_settings, o->pool))
        != NULL) {
        vmc_error(500, "master-config %s", why);
        return -1;
    }
    vm_master_settings = &o->master_settings;
    return 0;
}
