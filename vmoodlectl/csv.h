/* One line of CSV as RFC 4180 writes it: fields separated by ',', a field
 * "quoted" when it holds a comma or a quote ("" for a quote). */
#ifndef VMOODLECTL_CSV_H
#define VMOODLECTL_CSV_H

#include <apr_pools.h>

/* Split line into at most max fields (out[max], strings from p); *n gets
 * their number.  NULL, or why the line is not CSV or has more. */
const char *vmc_csv_split(const char *line, int max, const char **out, int *n,
                          apr_pool_t *p);

#endif
