/* Starting one cron: its command line, its environment, its log file and
 * the child process (own session and process group, the web server's user,
 * no shell). */
#ifndef VC_RUNNER_H
#define VC_RUNNER_H

#include <sys/types.h>
#include <apr_pools.h>
#include "vm_instance.h"
#include "config.h"
#include "vm_identity.h"

/* The master Moodle, which is no row of the table: id 0 (rows start at 1)
 * names its lock, "master" its log; its cron gets VMOODLE_MASTER=1. */
#define VC_MASTER_ID 0
extern const vm_instance vc_master;

/* PHP MOODLE_DIR/admin/cli/cron.php --keep-alive=0, or the configured
 * command; the instance is never on the command line. */
const char *const *vc_cron_argv(const vc_config *cfg, apr_pool_t *p);

/* The instance's VMOODLE_* variables (as the module sets them; the
 * master: VMOODLE_MASTER=1) and a minimal PATH, HOME, LOGNAME, LANG;
 * nothing inherited from vcron. */
const char *const *vc_cron_env(const vm_instance *in, const vm_identity *who,
                               apr_pool_t *p);

/* File name for an instance's log: its host key with anything but
 * [a-z0-9.-] made '_', then ".log". */
const char *vc_cron_log_name(const vm_instance *in, apr_pool_t *p);

/* Open log_dir/<name> for appending, first moving it to <name>.1 when it
 * has reached max bytes.  Returns the descriptor or -1 with *err. */
int vc_cron_log_open(const char *log_dir, const vm_instance *in, long max,
                     apr_pool_t *p, const char **err);

typedef struct {
    const char *const *argv;
    const char *const *envp;
    const vm_identity *who;
    int log_fd;        /* becomes the cron's stdout and stderr */
    int lock_fd;       /* kept open in the cron (fd 3): see locks.h */
} vc_spawn;

/* Fork and exec.  Returns the child's pid (also its process group), or -1
 * with *err (from p). */
pid_t vc_spawn_cron(const vc_spawn *sp, apr_pool_t *p, const char **err);

#endif
