/* Templates as deploy, templates and template-remove find them: a folder
 * NAME under --templates holding manifest.json. */
#ifndef VMOODLECTL_TEMPLATE_H
#define VMOODLECTL_TEMPLATE_H

#include "ctl.h"
#include "manifest.h"

/* Read template name's manifest; *dir gets its folder.  NULL, or why not
 * (a name that is not a template name, a missing or bad manifest). */
const char *vmc_template_open(const vmc_opts *o, const char *name,
                              vmc_manifest *m, const char **dir);

/* The password of the row the template was taken from, when that row is
 * still in t and uses the same database host and login; else NULL.  The
 * manifest never keeps one. */
const char *vmc_template_pass(const vmc_table *t, const vmc_manifest *m,
                              const char *dbhost, const char *login);

#endif
