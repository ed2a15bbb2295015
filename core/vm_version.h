/* The version of mod_vmoodle, vcron and vmoodlectl (--version, the status
 * page). */
#ifndef VM_VERSION_H
#define VM_VERSION_H

#ifndef VMOODLE_VERSION
#define VMOODLE_VERSION "0.9.0"
#endif

#endif
