/* vmoodlectl's settings file: --config FILE, else vmoodlectl.conf, else
 * vcron.conf (one file may serve both programs: the other's names are
 * left alone).  Flags win over the file; the defaults fill the rest. */
#ifndef VMOODLECTL_SETTINGS_H
#define VMOODLECTL_SETTINGS_H

#include "ctl.h"

/* Read the file into what the flags left unset: 0, or -1 after saying
 * why. */
int vmc_settings_read(vmc_opts *o);

/* After reading: the site-user rule checked, master-config read (for the
 * master's runs).  0, or -1 after saying why. */
int vmc_settings_tenant(vmc_opts *o);

/* The defaults of what is still unset. */
void vmc_settings_defaults(vmc_opts *o);

#endif
