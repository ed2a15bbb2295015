/* A validated table: the rows that may be routed, and the ones refused with
 * their reason.  Cross-row rules (duplicate id, duplicate host) live here. */
#ifndef VM_TABLE_H
#define VM_TABLE_H

#include <apr_tables.h>
#include "vm_instance.h"

#define VM_NO_ID -1 /* a rejected row that claimed no usable id */

typedef struct {
    long long id; /* or VM_NO_ID */
    const char *reason;
} vm_rejection;

typedef struct {
    apr_array_header_t *instances;  /* vm_instance, by ascending id */
    apr_array_header_t *rejections; /* vm_rejection, by ascending id */
} vm_table;

/* Validate rows (vm_row).  Of two rows sharing an id or a host key, the one
 * with the lower id (or seen first) stays and the other is rejected. */
vm_table *vm_table_build(const apr_array_header_t *rows, apr_pool_t *p);

/* Find an instance by key or id; NULL when absent. */
const vm_instance *vm_table_find_key(const vm_table *t, const char *key);
const vm_instance *vm_table_find_id(const vm_table *t, long long id);

#endif
