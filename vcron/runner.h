/* Starting one cron: its command line and its log file; the environment
 * and the child process are the core's (vm_cli.h). */
#ifndef VC_RUNNER_H
#define VC_RUNNER_H

#include <sys/types.h>
#include <apr_pools.h>
#include "vm_instance.h"
#include "config.h"
#include "vm_identity.h"

/* vm_cli_argv() of the site's cron (vm_cli.h) in its platform's code
 * tree as who runs it, with PHP's opcode file cache (vm_opcache.h: one per
 * code tree and user) unless it is off; or the configured command.  The
 * instance is never on the command line.  NULL with *err when its platform
 * is not in the platforms file; *nocache says why the cache is not used
 * (the run goes ahead without it), or NULL. */
const char *const *vc_cron_argv(const vc_config *cfg, const vm_instance *in,
                                const vm_identity *who, apr_pool_t *p,
                                const char **err, const char **nocache);

/* Open log_dir/vm_cli_log_name()  for appending, first moving it to <name>.1 when it
 * has reached max bytes.  Returns the descriptor or -1 with *err. */
int vc_cron_log_open(const char *log_dir, const vm_instance *in, long max,
                     apr_pool_t *p, const char **err);

#endif
