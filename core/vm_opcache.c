/* The opcode file cache's directories and PHP settings, see vm_opcache.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include "vm_file.h"
#include "vm_hash.h"
#include "vm_opcache.h"

#define BASE_MODE (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE \
                   | APR_FPROT_GREAD | APR_FPROT_GEXECUTE \
                   | APR_FPROT_WREAD | APR_FPROT_WEXECUTE)
#define VERSION_MAX (1 << 20)   /* version.php is a few kB */

static const char *const php_settings[] = {
    "-dopcache.enable_cli=1", "-dopcache.file_cache_only=1",
    "-dopcache.validate_timestamps=1", "-dopcache.revalidate_freq=0",
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

/* A directory of ours (the caller's euid, or root's), nobody else may
 * write: open at dirfd (AT_FDCWD for a path), made mode when missing. */
static int own_dir(int dirfd, const char *name, mode_t mode, apr_pool_t *p,
                   const char **err)
{
    if (mkdirat(dirfd, name, mode) != 0 && errno != EEXIST) {
        *err = apr_psprintf(p, "%s: mkdir: %s", name, strerror(errno));
        return -1;
    }
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                 | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        *err = apr_psprintf(p, "%s: %s", name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if ((st.st_uid != geteuid() && st.st_uid != 0)
        || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        *err = apr_psprintf(p, "%s: owned by uid %ld or writable by others: "
                            "refused", name, (long)st.st_uid);
        close(fd);
        return -1;
    }
    return fd;
}

/* BASE/<tree>/<user>: made 0700 and given to the user on its descriptor;
 * an existing one must be the user's (or ours, not yet given) and closed
 * to everyone else. */
static const char *user_dir(int treefd, const vm_identity *who,
                            apr_pool_t *p)
{
    const char *name = who->name;
    if (!*name || strchr(name, '/') || name[0] == '.')
        return apr_psprintf(p, "user name '%s' cannot name a directory",
                            name);
    if (mkdirat(treefd, name, 0700) != 0 && errno != EEXIST)
        return apr_psprintf(p, "%s: mkdir: %s", name, strerror(errno));
    int fd = openat(treefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                  | O_CLOEXEC);
    struct stat st;
    const char *why = NULL;
    if (fd < 0 || fstat(fd, &st) != 0)
        why = apr_psprintf(p, "%s: %s (a link is refused)", name,
                           strerror(errno));
    else if (st.st_uid != who->uid && st.st_uid != geteuid())
        why = apr_psprintf(p, "%s: owned by uid %ld, not %s: refused", name,
                           (long)st.st_uid, name);
    else if (st.st_mode & 077)
        why = apr_psprintf(p, "%s: open to others (mode %04o): refused",
                           name, (unsigned)(st.st_mode & 07777));
    else if (st.st_uid != who->uid
             && fchown(fd, who->uid, who->gid) != 0)
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
    if (base[0] != '/')
        return apr_psprintf(p, "%s: not an absolute path", base);
    apr_status_t rv = apr_dir_make_recursive(base, BASE_MODE, p);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv))
        return apr_psprintf(p, "%s: cannot make it", base);
    int basefd = own_dir(AT_FDCWD, base, 0755, p, &err);
    if (basefd < 0)
        return err;
    int treefd = own_dir(basefd, key, 0755, p, &err);
    close(basefd);
    if (treefd < 0)
        return apr_pstrcat(p, base, "/", err, NULL);
    err = user_dir(treefd, who, p);
    close(treefd);
    if (err)
        return apr_pstrcat(p, base, "/", key, "/", err, NULL);
    *dir = apr_pstrcat(p, base, "/", key, "/", who->name, NULL);
    return NULL;
}

const char *const *vm_opcache_php_args(const char *const *argv,
                                       const char *dir, apr_pool_t *p)
{
    size_t n = 0, at = 1;
    while (argv[n])
        n++;
    while (at < n && strncmp(argv[at], "-d", 2) == 0)   /* after PHP's own */
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
                                   const char *code_dir,
                                   const vm_identity *who, apr_pool_t *p,
                                   const char **why)
{
    const char *dir = NULL;
    *why = NULL;
    if (!base || !*base)
        return argv;
    if ((*why = vm_opcache_dir(base, code_dir, who, p, &dir)) != NULL)
        return argv;
    return vm_opcache_php_args(argv, dir, p);
}
