/* Running the database tools (pg_dump, pg_restore, mariadb-dump, mariadb):
 * through the core's job engine with an argv array, never a shell; the
 * password only in the child's environment; the tool's error output kept
 * for the message. */
#ifndef VMOODLECTL_SPAWN_H
#define VMOODLECTL_SPAWN_H

#include <apr_pools.h>
#include "progress.h"

typedef struct {
    const char *const *argv; /* NULL-terminated; argv[0] found in PATH */
    const char *secret_env;  /* e.g. "PGPASSWORD", "MYSQL_PWD"; or NULL */
    const char *secret;      /* its value */
    const char *feed_path;   /* copied by us to the child's stdin, with
                                  progress; NULL: stdin is /dev/null */
    const char *watch_path;  /* a file the child writes: its size is the
                                  progress; or NULL */
    vmc_progress *progress;  /* started by the caller, or NULL */
} vmc_cmd;

/* Run and wait.  0 when the tool exited 0; otherwise -1 and *err names the
 * tool, how it ended and the end of what it printed. */
int vmc_spawn(const vmc_cmd *c, apr_pool_t *p, const char **err);

#endif
