/* On-disk layout of a snapshot, shared by its writer and its reader.
 * Native byte order: a snapshot is written and read on the same host. */
#ifndef VM_SNAPSHOT_FORMAT_H
#define VM_SNAPSHOT_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include "vm_instance.h"

#define VM_SNAP_MAGIC   "VMSNAP\r\n"   /* \r\n catches text-mode damage */
#define VM_SNAP_VERSION 2u

enum {  /* string columns of a record, in this order */
    VM_S_KEY, VM_S_WWWROOT, VM_S_VHOSTNAME, VM_S_NAME, VM_S_SHORTNAME,
    VM_S_DBTYPE, VM_S_DBHOST, VM_S_DBLOGIN, VM_S_DBPASS, VM_S_DBNAME,
    VM_S_DBPREFIX, VM_S_DATAPATH,
    VM_S_COUNT
};

/* Where each string column lives in a vm_instance, so the writer and the
 * reader walk one list. */
static const size_t vm_snap_string_offset[VM_S_COUNT] = {
    [VM_S_KEY] = offsetof(vm_instance, key),
    [VM_S_WWWROOT] = offsetof(vm_instance, wwwroot),
    [VM_S_VHOSTNAME] = offsetof(vm_instance, vhostname),
    [VM_S_NAME] = offsetof(vm_instance, name),
    [VM_S_SHORTNAME] = offsetof(vm_instance, shortname),
    [VM_S_DBTYPE] = offsetof(vm_instance, dbtype),
    [VM_S_DBHOST] = offsetof(vm_instance, dbhost),
    [VM_S_DBLOGIN] = offsetof(vm_instance, dblogin),
    [VM_S_DBPASS] = offsetof(vm_instance, dbpass),
    [VM_S_DBNAME] = offsetof(vm_instance, dbname),
    [VM_S_DBPREFIX] = offsetof(vm_instance, dbprefix),
    [VM_S_DATAPATH] = offsetof(vm_instance, datapath),
};

static inline const char **vm_snap_string_field(vm_instance *in, int i)
{
    return (const char **)((char *)in + vm_snap_string_offset[i]);
}

static inline const char *vm_snap_string(const vm_instance *in, int i)
{
    return *(const char *const *)((const char *)in + vm_snap_string_offset[i]);
}

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint64_t file_size;
    uint64_t checksum;       /* of the whole file with this field zero */
    uint64_t generation;
    int64_t created;
    uint64_t digest;         /* of records, rejections and their strings */
    uint32_t count;          /* instance records */
    uint32_t nbuckets;       /* index size, a power of two > count */
    uint32_t nrejections;
    uint32_t source;         /* string offset of the source description */
    uint64_t index_off;      /* vm_snap_bucket[nbuckets] */
    uint64_t records_off;    /* vm_snap_record[count], by id */
    uint64_t rejections_off; /* vm_snap_rejection[nrejections] */
    uint64_t strings_off;    /* NUL-terminated strings */
    uint64_t strings_len;    /* ends with a NUL byte */
} vm_snap_header;

typedef struct {
    uint32_t hash;           /* vm_hash_key of the record's key */
    uint32_t record;         /* record index + 1; 0: empty bucket */
} vm_snap_bucket;

/* A lookup touches the bucket and the record: the start of the key is
 * kept in the record, so that most keys compare without a third, random
 * read in the string area. */
#define VM_SNAP_KEYHEAD 48

typedef struct {
    uint32_t keylen;
    char keyhead[VM_SNAP_KEYHEAD];   /* the key's first bytes, zero-padded */
    int32_t dbpersist, mnet, enabled;
    int64_t id, croncount, lastcron, lastcrongap;
    uint32_t str[VM_S_COUNT];
} vm_snap_record;

typedef struct {
    int64_t id;
    uint32_t reason;
    uint32_t pad;
} vm_snap_rejection;

#endif
