/* The opcode file cache's directories and PHP settings, see vm_opcache.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include "vm_file.h"
#include "vm_hash.h"
#include "vm_opcache.h"

#define VERSION_MAX (1 << 20) /* version.php is a few kB */

static const char *const php_settings[] = {
    "-dopcache.enable_cli=1",
    "-dopcache.file_cache_only=1",
    "-dopcache.validate_timestamps=1",
    "-dopcache.revalidate_freq=0",
};
#define NSETTINGS (sizeof php_settings / sizeof *php_settings)

/* 16 hex digits of the tree's real path and its version.php. */
static const char *tree_key(const char *code_dir, apr_pool_t *p,
                            const char **err)
{
    char *real = realpath(code_dir, NULL), *version = NULL;
    size_t len = 0;
    if (!real) {
        *err = apr_psprintf(p, "%s: %s", code_dir, strerror(errno));
        return NULL;
    }
    uint64_t h = vm_hash_bytes(VM_HASH_SEED, real, strlen(real) + 1);
    const char *vpath = apr_pstrcat(p, real, "/version.php", NULL);
    free(real);
    /* A tree without one (not Moodle's): its path alone. */
    if (access(vpath, F_OK) == 0) {
        if (vm_file_read(vpath, VERSION_MAX, p, &version, &len, err) != VM_OK)
            return NULL;
        h = vm_hash_bytes(h, version, len);
    }
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    return apr_pstrdup(p, hex);
}

/* BASE/<tree>/<user>: made 0700 and given to the user on its descriptor;
 * an existing one must be the user's (or ours, not yet given) and closed
 * to everyone else. */
static const char *user_dir(int treefd, const vm_identity *who, apr_pool_t *p)
{
    const char *name = who->name;
    if (!*name || strchr(name, '/') || name[0] == '.')
        return apr_psprintf(p, "user name '%s' cannot name a directory", name);
    if (mkdirat(treefd, name, 0700) != 0 && errno != EEXIST)
        return apr_psprintf(p, "%s: mkdir: %s", name, strerror(errno));
    int fd = openat(treefd, name,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    const char *why = NULL;
    if (fd < 0 || fstat(fd, &st) != 0)
        why = apr_psprintf(p, "%s: %s (a link is refused)", name,
                           strerror(errno));
    else if (st.st_uid != who->uid && st.st_uid != geteuid())
        why = apr_psprintf(p, "%s: owned by uid %ld, not %s: refused", name,
                           (long)st.st_uid, name);
    else if (st.st_mode & 077)
        why = apr_psprintf(p, "%s: open to others (mode %04o): refused", name,
                           (unsigned)(st.st_mode & 07777));
    else if (st.st_uid != who->uid && fchown(fd, who->uid, who->gid) != 0)
        why = apr_psprintf(p, "%s: chown: %s", name, strerror(errno));
    if (fd >= 0)
        close(fd);
    return why;
}

const char *vm_opcache_dir(const char *base, const char *code_dir,
                           const vm_identity *who, apr_pool_t *p,
                           const char **dir)
{
    const char *err = NULL, *key = tree_key(code_dir, p, &err);
    if (!key)
        return err;
    /* BASE and BASE/<tree>: the one safe opener's rule (ours, nobody else
     * writing, no link on the way). */
    const char *tree = apr_pstrcat(p, base, "/", key, NULL);
    int treefd = vm_file_dir_open(tree, 0755, p, &err);
    if (treefd < 0)
        return err;
    err = user_dir(treefd, who, p);
    close(treefd);
    if (err)
        return apr_pstrcat(p, tree, "/", err, NULL);
    *dir = apr_pstrcat(p, tree, "/", who->name, NULL);
    return NULL;
}

const char *const *vm_opcache_php_args(const char *const *argv, const char *dir,
                                       apr_pool_t *p)
{
    size_t n = 0, at = 1;
    while (argv[n])
        n++;
    while (at < n && strncmp(argv[at], "-d", 2) == 0) /* after PHP's own */
        at++;
    const char **out = apr_pcalloc(p, sizeof(char *) * (n + NSETTINGS + 2));
    size_t k = 0;
    for (size_t i = 0; i < at; i++)
        out[k++] = argv[i];
    for (size_t i = 0; i < NSETTINGS; i++)
        out[k++] = php_settings[i];
    out[k++] = apr_pstrcat(p, "-dopcache.file_cache=", dir, NULL);
    for (size_t i = at; i < n; i++)
        out[k++] = argv[i];
    return out;
}

const char *const *vm_opcache_argv(const char *const *argv, const char *base,
                                   const char *code_dir, const vm_identity *who,
                                   apr_pool_t *p, const char **why)
{
    const char *dir = NULL;
    *why = NULL;
    if (!base || !*base)
        return argv;
    if ((*why = vm_opcache_dir(base, code_dir, who, p, &dir)) != NULL)
        return argv;
    return vm_opcache_php_args(argv, dir, p);
}
