/* A template's or a backup's manifest.json: where it came from, what it
 * holds, and the checksums a deploy or restore verifies.  Never a
 * password. */
#ifndef VMOODLECTL_MANIFEST_H
#define VMOODLECTL_MANIFEST_H

#include <stdint.h>
#include <apr_hash.h>
#include <cjson/cJSON.h>
#include "vm_instance.h"

#define VMC_MANIFEST "manifest.json"

typedef struct {
    const char *name, *created;
    vm_instance source; /* where it came from; dbpass never kept */
    const char *dump_file, *dump_sha256;
    uint64_t dump_size, data_bytes, data_files;
    cJSON *files;          /* writing: [{path, size, sha256}] */
    apr_hash_t *file_sums; /* reading: path -> sha256 */
    const char *pg_template_db, *pg_server; /* NULL: none */
    /* A site's backup (backup.c): kind "backup" and Moodle's own figures;
     * NULL in a template. */
    const char *kind, *moodle_version, *moodle_release, *siteidentifier;
} vmc_manifest;

/* A vmc_file_seen (files.h) for a copy being listed: ctx is the cJSON
 * array of m->files; appends {path, size, sha256}. */
const char *vmc_manifest_list_file(void *ctx, const char *rel, uint64_t size,
                                   const char *sha256);

/* The file rel of a copy checked against a read manifest: NULL when it is
 * listed with that checksum, else the reason. */
const char *vmc_manifest_file_ok(const vmc_manifest *m, const char *rel,
                                 const char *sha256, apr_pool_t *p);

int vmc_manifest_write(const vmc_manifest *m, const char *path, apr_pool_t *p,
                       const char **err);
int vmc_manifest_read(vmc_manifest *m, const char *path, apr_pool_t *p,
                      const char **err);

#endif
