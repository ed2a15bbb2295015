/* Who a child process runs as.  Started as root, vcron runs every cron as
 * the web server's user, so the files a cron leaves in a dataroot stay
 * writable by the web server, and vmoodlectl check probes a dataroot as
 * that user; neither ever runs anything as root this way. */
#ifndef VM_IDENTITY_H
#define VM_IDENTITY_H

#include <sys/types.h>
#include <apr_pools.h>

typedef struct {
    int switch_user; /* we are root: become uid/gid in the child */
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* supplementary groups of the user */
    int ngroups;
    const char *name, *home;
} vm_identity;

/* Look the user up now (not in the child).  As root: refuse a user whose
 * uid or gid is 0.  Not root: the child runs as our own user.  Returns
 * NULL or a reason (from p). */
const char *vm_identity_resolve(vm_identity *who, const char *user,
                                apr_pool_t *p);

/* In the child (before exec): groups, gid, uid, then check that root
 * cannot be regained.  Returns 0, or -1 with a static reason in *why. */
int vm_identity_assume(const vm_identity *who, const char **why);

#endif
