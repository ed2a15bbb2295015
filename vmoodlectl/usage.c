#include "ctl.h"
int vmc_cmd_usage(vmc_opts *o) { (void)o; return 2; }
