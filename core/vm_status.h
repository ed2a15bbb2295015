/* Result codes shared by the core: one enum so callers can tell an outage
 * (retry later, keep serving) from a mistake (say so, do not retry blindly). */
#ifndef VM_STATUS_H
#define VM_STATUS_H

typedef enum {
    VM_OK = 0,
    VM_ERR_CONFIG, /* bad source string, wrong credentials, missing table */
    VM_ERR_UNREACHABLE, /* server down, network, timeout: transient */
    VM_ERR_DATA, /* the data read is malformed (whole source, not a row) */
    VM_ERR_IO,   /* local file system */
    VM_ERR_UNSUPPORTED /* this source cannot do that operation */
} vm_status;

const char *vm_status_name(vm_status st);

#endif
