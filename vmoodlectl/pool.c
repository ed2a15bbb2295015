/* pool HOST [--dir DIR]: the php-fpm pool of one site under a user of its
 * own (site-user), so that its PHP reaches its own dataroot and the code,
 * and nothing of another site's, the snapshot or vmoodlectl's files.
 * Printed, or written to DIR/vmoodle-USER.conf (0644, root's, replaced
 * atomically).  The pool needs no VMOODLE_* of its own: mod_vmoodle hands
 * each request its site's. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "ctl.h"
#include "vm_file.h"
#include "vm_siteuser.h"

#define POOL_SOCKET_DIR "/run/php"

static const char *pool_text(const vmc_opts *o, const vm_instance *in,
                             const char *user, const char *group, apr_pool_t *p)
{
    const char *sock = apr_psprintf(p, POOL_SOCKET_DIR "/vmoodle-%s.sock",
                                    user);

    return apr_psprintf(
        p,
        "; php-fpm pool of %s (id %" APR_INT64_T_FMT "), written by "
        "vmoodlectl pool.\n"
        "; Apache sends this site's requests here, e.g. in its virtual host:\n"
        ";   <If \"reqenv('VMOODLE_ID') == '%" APR_INT64_T_FMT "'\">\n"
        ";       SetHandler \"proxy:unix:%s|fcgi://localhost\"\n"
        ";   </If>\n"
        "[vmoodle-%s]\n"
        "user = %s\n"
        "group = %s\n"
        "listen = %s\n"
        "; only Apache (its User) connects\n"
        "listen.owner = %s\n"
        "listen.group = %s\n"
        "listen.mode = 0660\n"
        "pm = ondemand\n"
        "pm.max_children = 5\n"
        "pm.process_idle_timeout = 30s\n"
        "clear_env = yes\n"
        "security.limit_extensions = .php\n"
        "; the code and the site's own dataroot, nothing else\n"
        "php_admin_value[open_basedir] = %s:%s\n"
        "php_admin_value[max_input_vars] = 5000\n"
        "php_admin_value[upload_tmp_dir] = %s/temp\n"
        "php_admin_value[session.save_path] = %s/sessions\n",
        in->wwwroot, (apr_int64_t)in->id, (apr_int64_t)in->id, sock, user, user,
        group, sock, o->web_user, o->web_user, o->moodle_dir, in->datapath,
        in->datapath, in->datapath);
}

int vmc_cmd_pool(vmc_opts *o)
{
    const vm_instance *in;
    const char *why = NULL, *user, *text, *path;
    struct passwd *pw;
    struct group *gr;
    vmc_table t;
    int rc;

    if ((rc = vmc_table_load_one(o, "pool", &t, &in, &why)) != VMC_EXIT_OK)
        return vmc_fail(486, rc, why);
    if (!o->site_user)
        return vmc_fail(487, VMC_EXIT_USAGE,
                        "pool: set site-user (e.g. "
                        "site-user = vm-%shortname%): a pool of its own "
                        "needs a user of its own");
    if (!(user = vm_site_user(o->site_user, o->web_user, in, o->pool, &why)))
        return vmc_fail(488, VMC_EXIT_FAIL, why);
    if (!(pw = getpwnam(user)) || !(gr = getgrgid(pw->pw_gid)))
        return vmc_fail(477, VMC_EXIT_FAIL,
                        apr_psprintf(o->pool,
                                     "no user "
                                     "'%s' (site-user): create it first",
                                     user));
    text = pool_text(o, in, user, gr->gr_name, o->pool);
    if (!o->out_dir) {
        fputs(text, stdout);
        return VMC_EXIT_OK;
    }
    path = apr_psprintf(o->pool, "%s/vmoodle-%s.conf", o->out_dir, user);
    if (o->dry_run) {
        vmc_say("dry run: would write %s", path);
        return VMC_EXIT_OK;
    }
    if (vm_file_replace(path, text, strlen(text), 0644, NULL, o->pool, &why)
        != VM_OK)
        return vmc_fail(489, VMC_EXIT_FAIL, why);
    vmc_say("wrote %s (pool of %s as %s)", path, in->wwwroot, user);
    return VMC_EXIT_OK;
}
