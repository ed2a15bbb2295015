/* Platforms for vmoodlectl: the file (platforms = FILE) and the commands
 * that show and move them (platforms, upgrade --to); which tree a site's
 * CLI runs in is core/vm_siterun.h's. */
#ifndef VMOODLECTL_PLATFORMS_H
#define VMOODLECTL_PLATFORMS_H

#include "ctl.h"
#include "fleet.h"
#include "vm_platforms.h"

/* Read o->platforms_file (none set: no named platforms) into *out.
 * VMC_EXIT_OK, or VMC_EXIT_FAIL after saying why. */
int vmc_platforms_load(const vmc_opts *o, vm_platforms **out);

/* Moodle's $version and $release from TREE/version.php ("" when not
 * found), from p. */
void vmc_moodle_version(const char *tree, apr_pool_t *p, const char **version,
                        const char **release);

#endif
