/* Platforms: named Moodle code trees side by side ("4.5.5 =
 * /srv/moodle/4.5.5"), each site on one (vm_instance.platform; "" is the
 * default platform, the code tree configured as before: the DocumentRoot,
 * vcron's and vmoodlectl's moodle-dir).  One file, read by the module
 * (VMoodlePlatforms), vcron and vmoodlectl (platforms = FILE). */
#ifndef VM_PLATFORMS_H
#define VM_PLATFORMS_H

#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    const char *name;
    const char *path; /* absolute, no trailing slash, no ".." */
} vm_platform;

typedef struct vm_platforms_s {
    apr_array_header_t *list; /* vm_platform, in the file's order */
    apr_hash_t *by_name;      /* name -> vm_platform * */
} vm_platforms;

/* Read the platforms file: "name = /path/to/moodle" lines, '#' comments.
 * NULL, or a reason naming the file and the line. */
const char *vm_platforms_read(const char *path, vm_platforms **out,
                              apr_pool_t *p);

/* The code tree of a platform name: the default tree for "", the file's
 * for the others (pl may be NULL: no file); NULL when the name is not
 * there. */
const char *vm_platform_path(const vm_platforms *pl, const char *name,
                             const char *default_tree);

#endif
