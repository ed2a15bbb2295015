/* The copied encryption keys of a new site's dataroot, removed through
 * directory descriptors opened without following links: the dataroot
 * belongs to the web user, whose PHP may have put links there. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "sitekey.h"

/* Moodle's methods: encryption::METHOD_SODIUM and METHOD_OPENSSL. */
static const char *const key_files[] = { "sodium.key", "openssl.key" };

/* dir/name as a directory, or -1 (errno ENOENT: it is not there). */
static int open_dir_at(int dir, const char *name)
{
    return openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* dataroot/secret/key, or -1; *absent when a part of it does not exist. */
static int open_key_dir(const char *dataroot, int *absent)
{
    int root = open_dir_at(AT_FDCWD, dataroot), secret = -1, key = -1, e;

    if (root >= 0 && (secret = open_dir_at(root, "secret")) >= 0)
        key = open_dir_at(secret, "key");
    e = errno;
    *absent = root >= 0 && key < 0 && e == ENOENT;
    if (secret >= 0)
        close(secret);
    if (root >= 0)
        close(root);
    errno = e;
    return key;
}

int vmc_sitekey_remove(const char *dataroot, int *removed, apr_pool_t *p,
                       const char **err)
{
    int dir, absent;

    *removed = 0;
    if ((dir = open_key_dir(dataroot, &absent)) < 0) {
        if (absent)
            return 0;
        *err = apr_psprintf(p, "%s/%s: %s", dataroot, VMC_SITEKEY_DIR,
                            strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof key_files / sizeof key_files[0]; i++) {
        if (unlinkat(dir, key_files[i], 0) == 0)
            ++*removed;
        else if (errno != ENOENT) {
            *err = apr_psprintf(p, "%s/%s/%s: %s", dataroot, VMC_SITEKEY_DIR,
                                key_files[i], strerror(errno));
            close(dir);
            return -1;
        }
    }
    close(dir);
    return 0;
}
