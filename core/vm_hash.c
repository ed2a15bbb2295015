#include <string.h>
#include "vm_hash.h"

/* Eight bytes at a time, multiply and rotate: fast enough to verify a
 * mapping of many megabytes on every generation change. */
uint64_t vm_hash_bytes(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t w;

    for (; len >= 8; p += 8, len -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h = (h << 29) | (h >> 35);
    }
    for (; len > 0; p++, len--)
        h = ((h ^ *p) * 0x100000001b3ULL);
    h ^= h >> 33;
    return h;
}
