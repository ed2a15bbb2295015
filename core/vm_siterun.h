/* A site's CLI run, assembled in one place for vcron's tick and every
 * command of vmoodlectl that runs Moodle's scripts: the site's Unix user
 * (vm_siteuser.h), its platform's code tree (vm_platforms.h), PHP with
 * the opcode file cache of that user and tree (vm_opcache.h), exactly
 * the site's environment (vm_cli.h).  The caller adds what is its own:
 * the timeout, the output, the lock. */
#ifndef VM_SITERUN_H
#define VM_SITERUN_H

#include <apr_pools.h>
#include "vm_identity.h"
#include "vm_instance.h"
#include "vm_job.h"
#include "vm_platforms.h"

/* What every run of a program shares (its settings). */
typedef struct {
    const char *php;               /* absolute */
    const char *moodle_dir;        /* the default platform's tree */
    const vm_platforms *platforms; /* the others, or NULL */
    const char *platforms_file;    /* its name, for messages, or NULL */
    const char *site_user;         /* per-site user rule, or NULL */
    const vm_identity *who;        /* the one user (`user`) */
    const char *opcache_dir;       /* PHP's opcode file cache; NULL off */
} vm_siterun;

/* The code tree in's CLI runs in: its platform's.  NULL with *why
 * ("platform 'x' is not in FILE", from p) when the platforms file does
 * not name it: such a site is refused, never run from another tree. */
const char *vm_siterun_tree(const vm_siterun *s, const vm_instance *in,
                            apr_pool_t *p, const char **why);

/* Fill o's argv (php TREE/script args, with the cache), envp, who (the
 * site's user) and dir (TREE) for in; the rest of o is left as it is.
 * 0, or -1 with *why (from p): no tree, no such user.  *nocache (may be
 * NULL) says why the cache is not used (the run goes ahead without it),
 * or NULL. */
int vm_siterun_opts(const vm_siterun *s, const vm_instance *in,
                    const char *script, const char *const *args, int nargs,
                    vm_job_opts *o, apr_pool_t *p, const char **why,
                    const char **nocache);

#endif
