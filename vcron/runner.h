/* Starting one cron: its command line and its log file; the environment
 * and the child process are the core's (vm_cli.h). */
#ifndef VC_RUNNER_H
#define VC_RUNNER_H

#include <sys/types.h>
#include <apr_pools.h>
#include "vm_instance.h"
#include "config.h"

/* vm_cli_argv() of the site's cron (vm_cli.h), or the configured
 * command; the instance is never on the command line. */
const char *const *vc_cron_argv(const vc_config *cfg, apr_pool_t *p);

/* Open log_dir/vm_cli_log_name()  for appending, first moving it to <name>.1 when it
 * has reached max bytes.  Returns the descriptor or -1 with *err. */
int vc_cron_log_open(const char *log_dir, const vm_instance *in, long max,
                     apr_pool_t *p, const char **err);

#endif
