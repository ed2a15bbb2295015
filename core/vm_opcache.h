/* PHP's opcode cache kept in files between CLI runs: without it every cron
 * run compiles Moodle's code again (about half of an idle site's cron).
 *
 * One directory per code tree and per user running it:
 *   BASE/<tree>/<user>    <tree>: 16 hex digits of the code tree's real
 *                         path and its version.php, so a new tree or a new
 *                         version starts an empty cache; PHP's timestamp
 *                         check sees any other changed file.
 * Whoever can write such a directory puts code into every process that
 * uses it: BASE and BASE/<tree> belong to the caller (root) and nobody
 * else writes them; BASE/<tree>/<user> is made 0700 and given to the user
 * through its descriptor, and refused when it exists owned by someone
 * else, open to others, or is a link. */
#ifndef VM_OPCACHE_H
#define VM_OPCACHE_H

#include <apr_pools.h>
#include "vm_identity.h"

/* BASE/<tree>/<user> for who running the code under code_dir, made and
 * checked as above; *dir from p.  NULL, or why not. */
const char *vm_opcache_dir(const char *base, const char *code_dir,
                           const vm_identity *who, apr_pool_t *p,
                           const char **dir);

/* argv (php first, from vm_cli_argv) with the cache's settings after
 * its leading -d settings: opcache.enable_cli, file_cache=dir, file_cache_only,
 * validate_timestamps with revalidate_freq=0.  From p. */
const char *const *vm_opcache_php_args(const char *const *argv, const char *dir,
                                       apr_pool_t *p);

/* Both: argv with the cache of who for code_dir, or argv as it is when
 * base is NULL or empty (the cache is off) or when the directory cannot be
 * used (*why then says why: a run is never held back by its cache). */
const char *const *vm_opcache_argv(const char *const *argv, const char *base,
                                   const char *code_dir, const vm_identity *who,
                                   apr_pool_t *p, const char **why);

#endif
