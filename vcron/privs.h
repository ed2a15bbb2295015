/* Who a cron runs as.  Started as root, vcron runs every cron as the web
 * server's user, so the files a cron leaves in a dataroot stay writable by
 * the web server; it never runs a cron as root. */
#ifndef VC_PRIVS_H
#define VC_PRIVS_H

#include <sys/types.h>
#include <apr_pools.h>

typedef struct {
    int switch_user;     /* vcron is root: become uid/gid before exec */
    uid_t uid;
    gid_t gid;
    gid_t *groups;       /* supplementary groups of the user */
    int ngroups;
    const char *name, *home;
} vc_identity;

/* Look the user up now (not in the child).  As root: refuse a user whose
 * uid or gid is 0.  Not root: the crons run as vcron's own user.  Returns
 * NULL or a reason (from p). */
const char *vc_identity_resolve(vc_identity *who, const char *user,
                                apr_pool_t *p);

/* In the child, before exec: groups, gid, uid, then check that root cannot
 * be regained.  Returns 0, or -1 with a static reason in *why. */
int vc_identity_assume(const vc_identity *who, const char **why);

#endif
