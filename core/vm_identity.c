/* Dropping privileges in a child, see vm_identity.h. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "vm_identity.h"

static const char *user_groups(vm_identity *who, apr_pool_t *p)
{
    int n = 16;
    for (int attempt = 0; attempt < 8; attempt++) {
        gid_t *groups = apr_palloc(p, sizeof(gid_t) * (size_t)n);
        int want = n;
        if (getgrouplist(who->name, who->gid, groups, &want) >= 0) {
            who->groups = groups;
            who->ngroups = want;
            return NULL;
        }
        n = want > n ? want : n * 2;
    }
    return apr_psprintf(p, "user %s: too many groups", who->name);
}

const char *vm_identity_resolve(vm_identity *who, const char *user,
                                apr_pool_t *p)
{
    memset(who, 0, sizeof *who);
    int root = geteuid() == 0;
    errno = 0;
    struct passwd *pw = root ? getpwnam(user) : getpwuid(geteuid());
    if (!pw)
        return apr_psprintf(p, "user %s: %s", root ? user : "(self)",
                            errno ? strerror(errno) : "no such user");
    who->switch_user = root;
    who->uid = pw->pw_uid;
    who->gid = pw->pw_gid;
    who->name = apr_pstrdup(p, pw->pw_name);
    who->home = apr_pstrdup(p, pw->pw_dir);
    if (root && (who->uid == 0 || who->gid == 0))
        return apr_psprintf(p,
                            "user %s has uid or gid 0: a cron or a check "
                            "never runs as root",
                            user);
    return root ? user_groups(who, p) : NULL;
}

int vm_identity_assume(const vm_identity *who, const char **why)
{
    if (!who->switch_user)
        return 0;
    if (setgroups((size_t)who->ngroups, who->groups) != 0) {
        *why = "setgroups failed";
        return -1;
    }
    if (setgid(who->gid) != 0 || setuid(who->uid) != 0) {
        *why = "setgid/setuid failed";
        return -1;
    }
    /* Verify: every id is the user's, and root cannot be regained. */
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0
        || ru != who->uid || eu != who->uid || su != who->uid || rg != who->gid
        || eg != who->gid || sg != who->gid || setuid(0) == 0) {
        *why = "privileges were not dropped";
        return -1;
    }
    return 0;
}
