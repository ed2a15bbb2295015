/* Cron statistics of a JSON source, kept in "<file>.cronstate" beside it,
 * so that vcron never rewrites the administrator's instance file. */
#ifndef VM_CRONSTATE_H
#define VM_CRONSTATE_H

#include <apr_tables.h>
#include "vm_status.h"

/* Overwrite croncount/lastcron/lastcrongap of rows (vm_row) from the
 * state file, where it has them. */
vm_status vm_cronstate_merge(const char *jsonpath, apr_array_header_t *rows,
                             apr_pool_t *p, const char **err);

/* Record one finished run of instance id that started at 'started'.
 * base_count/base_last: the figures the instance file itself holds
 * (carried over from VMoodle), continued when the state has none yet. */
vm_status vm_cronstate_record(const char *jsonpath, long long id,
                              long long started, long long base_count,
                              long long base_last, apr_pool_t *p,
                              const char **err);

#endif
