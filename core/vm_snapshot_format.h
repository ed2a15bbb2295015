/* On-disk layout of a snapshot, shared by its writer and its reader.
 * Native byte order: a snapshot is written and read on the same host.
 *
 * A lookup reads two places: its slot in the index (a key fingerprint and
 * a record number, 8 bytes) and the record's first cache line (key length,
 * flags, the key's head, the id).  A routed request then reads the
 * record's second line: the offsets of its VMOODLE_* values, stored ready
 * (numbers already written as text), handed to Apache without a copy. */
#ifndef VM_SNAPSHOT_FORMAT_H
#define VM_SNAPSHOT_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include "vm_env.h"
#include "vm_instance.h"

#define VM_SNAP_MAGIC "VMSNAP\r\n" /* \r\n catches text-mode damage */
#define VM_SNAP_VERSION 4u

/* String slots of a record: the VMOODLE_* values in vm_env order, the
 * platform (a request under VMoodlePlatforms reads it), then one "cold"
 * block holding the columns no request reads, one after the other, each
 * NUL-terminated: name, vhostname, aliases (vm_snap_cold). */
enum { VM_R_PLATFORM = VM_ENV_COUNT, VM_R_COLD, VM_R_COUNT };

/* Where each string of a vm_instance lives in a record, so the writer's
 * checks and the reader walk one list. */
static const struct {
    size_t field; /* offsetof(vm_instance, ...) */
    int slot;     /* index into vm_snap_record.str */
} vm_snap_strings[] = {
    { offsetof(vm_instance, key), VM_E_HOST },
    { offsetof(vm_instance, wwwroot), VM_E_WWWROOT },
    { offsetof(vm_instance, platform), VM_R_PLATFORM },
    { offsetof(vm_instance, shortname), VM_E_SHORTNAME },
    { offsetof(vm_instance, dbtype), VM_E_DBTYPE },
    { offsetof(vm_instance, dbhost), VM_E_DBHOST },
    { offsetof(vm_instance, dblogin), VM_E_DBUSER },
    { offsetof(vm_instance, dbpass), VM_E_DBPASS },
    { offsetof(vm_instance, dbname), VM_E_DBNAME },
    { offsetof(vm_instance, dbprefix), VM_E_DBPREFIX },
    { offsetof(vm_instance, datapath), VM_E_DATAROOT },
};
#define VM_SNAP_STRING_COUNT \
    (sizeof vm_snap_strings / sizeof vm_snap_strings[0])

static inline const char **vm_snap_string_field(vm_instance *in, size_t i)
{
    return (const char **)((char *)in + vm_snap_strings[i].field);
}

/* The cold block's strings, in order. */
static const size_t vm_snap_cold[] = {
    offsetof(vm_instance, name),
    offsetof(vm_instance, vhostname),
    offsetof(vm_instance, aliases),
};
#define VM_SNAP_COLD_COUNT (sizeof vm_snap_cold / sizeof vm_snap_cold[0])

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint64_t file_size;
    uint64_t checksum; /* of the whole file with this field zero */
    uint64_t generation;
    int64_t created;
    uint64_t digest; /* of records, rejections and their strings */
    uint32_t count;  /* instance records */
    uint32_t nslots; /* index size, a power of two > count */
    uint32_t nrejections;
    uint32_t source; /* string offset of the source description */
    uint32_t nlinks; /* alias and path-host entries */
    uint32_t pad;
    uint64_t index_off;      /* vm_snap_slot[nslots] */
    uint64_t records_off;    /* vm_snap_record[count], by id; 64-aligned */
    uint64_t rejections_off; /* vm_snap_rejection[nrejections] */
    uint64_t links_off;      /* vm_snap_link[nlinks] */
    uint64_t strings_off;    /* NUL-terminated strings */
    uint64_t strings_len;    /* ends with a NUL byte */
} vm_snap_header;

typedef struct {
    uint32_t fingerprint; /* vm_hash_key of the record's key */
    uint32_t record;      /* record index + 1, or VM_SNAP_LINK | link
                                index + 1; 0: empty slot */
} vm_snap_slot;

#define VM_SNAP_LINK 0x80000000u

/* The start of the key is kept in the record, so that most keys compare
 * without a third, random read in the string area. */
#define VM_SNAP_KEYHEAD 48
#define VM_SNAP_LINE 64 /* records start on a cache line */

/* VM_SNAP_PATHS: sites live under paths of this host (keys host/segment):
 * a request for it looks its first path segment up as well. */
enum { VM_SNAP_ENABLED = 1u, VM_SNAP_DBPERSIST = 2u, VM_SNAP_PATHS = 4u };

typedef struct vm_snap_record {
    /* first line: what a lookup reads */
    uint32_t keylen;
    uint32_t flags;                /* VM_SNAP_ENABLED | VM_SNAP_DBPERSIST */
    char keyhead[VM_SNAP_KEYHEAD]; /* the key's first bytes, zero-padded */
    int64_t id;
    /* second line: what a routed request reads */
    uint32_t str[VM_R_COUNT]; /* string offsets */
    int32_t mnet;
} vm_snap_record;

_Static_assert(sizeof(vm_snap_record) == 2 * VM_SNAP_LINE,
               "a record is two cache lines");
_Static_assert(offsetof(vm_snap_record, str) == VM_SNAP_LINE,
               "the variables start the second line");

typedef struct {
    int64_t id;
    uint32_t reason;
    uint32_t pad;
} vm_snap_rejection;

/* A key that is no site's own: an alias (target: the site's record + 1),
 * or a host that has sites under paths and none at its root (target 0).
 * Its first bytes match a record's, so a lookup reads either alike. */
typedef struct {
    uint32_t keylen;
    uint32_t flags; /* VM_SNAP_PATHS */
    char keyhead[VM_SNAP_KEYHEAD];
    uint32_t key; /* string offset */
    uint32_t target;
} vm_snap_link;

_Static_assert(sizeof(vm_snap_link) == VM_SNAP_LINE, "a link is one line");

#endif
