/* Moodle's encryption key (\core\encryption, lib/classes/encryption.php):
 * dataroot/secret/key/sodium.key or openssl.key.  A deployed site must not
 * share the template's: the copied keys are removed, and Moodle makes a
 * new one (mode 0400) the first time it encrypts. */
#ifndef VMOODLECTL_SITEKEY_H
#define VMOODLECTL_SITEKEY_H

#include <apr_pools.h>

#define VMC_SITEKEY_DIR "secret/key"

/* Remove the key files below dataroot, never following a link (a link in
 * their place is removed itself).  *removed: how many.  0, or -1 with
 * *err. */
int vmc_sitekey_remove(const char *dataroot, int *removed, apr_pool_t *p,
                       const char **err);

#endif
