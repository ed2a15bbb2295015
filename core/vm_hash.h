/* Hashes for the snapshot: a 32-bit one for host keys in the index, a
 * 64-bit one to detect corrupt or truncated files.  Neither is meant to
 * resist an attacker: keys come from the administrator's table. */
#ifndef VM_HASH_H
#define VM_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a, one byte at a time: from VM_HASH_KEY_START, each byte of the
 * key in turn (a request's host is hashed as it is canonicalised). */
#define VM_HASH_KEY_START 2166136261u

static inline uint32_t vm_hash_key_byte(uint32_t h, unsigned char c)
{
    return (h ^ c) * 16777619u;
}

/* The hash h of a key, continued over s[0..len) (a path site's key is its
 * host's, then "/segment"). */
static inline uint32_t vm_hash_key_more(uint32_t h, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        h = vm_hash_key_byte(h, (unsigned char)s[i]);
    return h;
}

static inline uint32_t vm_hash_key(const char *s, size_t len)
{
    return vm_hash_key_more(VM_HASH_KEY_START, s, len);
}

/* Continue a 64-bit checksum over len bytes. */
uint64_t vm_hash_bytes(uint64_t h, const void *data, size_t len);

#define VM_HASH_SEED 0x9e3779b97f4a7c15ULL

#endif
