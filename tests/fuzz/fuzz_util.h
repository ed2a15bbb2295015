/* Shared by the fuzz harnesses: APR start-up and a private scratch
 * directory (on tmpfs when there is one, so fsync costs nothing). */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Initialise APR once and return the scratch directory. */
const char *fuzz_setup(void);

/* out = scratch directory + "/" + name. */
void fuzz_path(char *out, size_t outsize, const char *name);

/* Replace path with exactly len bytes; aborts on I/O failure (that is
 * the machine, not the code under test). */
void fuzz_write_file(const char *path, const void *data, size_t len);

#endif
