#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include "fuzz_util.h"

static char scratch[256];

static void remove_scratch(void)
{
    char cmd[300];

    /* The directory is ours (mkdtemp) and holds only our files. */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", scratch);
}

const char *fuzz_setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    if (scratch[0])
        return scratch;
    if (apr_initialize() != APR_SUCCESS)
        abort();
    snprintf(scratch, sizeof scratch, "%s/vmfuzz.XXXXXX", base);
    if (!mkdtemp(scratch))
        abort();
    atexit(remove_scratch);
    return scratch;
}

void fuzz_path(char *out, size_t outsize, const char *name)
{
    snprintf(out, outsize, "%s/%s", fuzz_setup(), name);
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
        abort();
}
