/* The master Moodle's own settings, out of config.php (issue 19): every
 * php-fpm pool reads config.php, so it holds no password; the master's
 * database login is in a root-only "name = value" file instead, which the
 * module reads at start-up (and at each restart) as root and hands to the
 * master's requests as VMOODLE_* variables, and which vcron and vmoodlectl
 * read for the master's command-line runs.
 *
 *   wwwroot = https://moodle.example.edu
 *   dbtype = pgsql              (pgsql, mariadb, mysqli)
 *   dbhost = localhost          (host, host:port, or a socket path)
 *   dbname = moodle
 *   dbuser = moodle
 *   dbpass = ...
 *   prefix = mdl_               (default mdl_)
 *   dbpersist = 0               (default 0)
 *   dataroot = /var/moodledata
 */
#ifndef VM_MASTER_H
#define VM_MASTER_H

#include <apr_pools.h>
#include "vm_env.h"
#include "vm_instance.h"

/* Read and check path: a regular file no one but its owner (root, or the
 * reader) may read or write (mode 0600 or stricter), every setting known,
 * the values valid as an instance row's are.  *out is the master (id
 * VM_MASTER_ID, key "master").  NULL, or why not naming the file. */
const char *vm_master_read(const char *path, vm_instance *out, apr_pool_t *p);

/* The master's variables for its requests and runs: VMOODLE_WWWROOT,
 * VMOODLE_DBTYPE, _DBHOST, _DBNAME, _DBUSER, _DBPASS, _DBPREFIX,
 * _DBPERSIST, _DATAROOT (no host, id, shortname or mnet: those mark an
 * instance).  Fills out and returns how many (at most VM_ENV_COUNT). */
int vm_master_env(const vm_instance *m, vm_env_numbers *nums,
                  vm_env_var out[VM_ENV_COUNT]);

/* What vcron and vmoodlectl read from their master-config setting, for
 * vm_cli_env's master runs; NULL: none (VMOODLE_MASTER=1 alone). */
extern const vm_instance *vm_master_settings;

#endif
