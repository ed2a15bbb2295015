/* The version, in one place: vcron and vmoodlectl --version, the status
 * page, the module's token in Apache's start-up line; the Makefile and the
 * packaging read it from here (debian/changelog must agree: lint test). */
#ifndef VM_VERSION_H
#define VM_VERSION_H

#define VMOODLE_VERSION "0.9.0"

#endif
