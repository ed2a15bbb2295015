#include "vm_status.h"

const char *vm_status_name(vm_status st)
{
    switch (st) {
    case VM_OK:
        return "ok";
    case VM_ERR_CONFIG:
        return "configuration error";
    case VM_ERR_UNREACHABLE:
        return "source unreachable";
    case VM_ERR_DATA:
        return "malformed data";
    case VM_ERR_IO:
        return "file system error";
    case VM_ERR_UNSUPPORTED:
        return "not supported by this source";
    }
    return "unknown error";
}
