/* The instance record: the columns of VMoodle's local_vmoodle table, so a
 * row moves between JSON and a database unchanged. */
#ifndef VM_INSTANCE_H
#define VM_INSTANCE_H

#include <apr_pools.h>
#include "vm_host.h"

typedef enum {
    VM_F_ID,
    VM_F_NAME,
    VM_F_SHORTNAME,
    VM_F_VHOSTNAME,
    VM_F_VDBTYPE,
    VM_F_VDBHOST,
    VM_F_VDBLOGIN,
    VM_F_VDBPASS,
    VM_F_VDBNAME,
    VM_F_VDBPREFIX,
    VM_F_VDBPERSIST,
    VM_F_VDATAPATH,
    VM_F_MNET,
    VM_F_ENABLED,
    VM_F_CRONCOUNT,
    VM_F_LASTCRON,
    VM_F_LASTCRONGAP,
    /* Not VMoodle's: optional columns, read when the table has them. */
    VM_F_PLATFORM,
    VM_F_ALIASES,
    VM_F_COUNT
} vm_field;

/* Column names, indexed by vm_field. */
extern const char *const vm_field_names[VM_F_COUNT];

/* One row as a source read it, every value as text.  present[f] = 0: the
 * column is absent (a JSON key left out: the column default applies);
 * present[f] = 1 with value[f] = NULL: SQL NULL or JSON null (rejected). */
typedef struct {
    const char *value[VM_F_COUNT];
    unsigned char present[VM_F_COUNT];
    const char *error; /* the source could not read this row: why */
} vm_row;

void vm_row_set(vm_row *row, vm_field f, const char *value);

/* The id a row claims: a decimal integer from 1 up, written in digits
 * only; 0 when it claims none (absent, NULL, "0", a sign or a blank, other
 * characters, too large).  Whether the row is valid is for
 * vm_instance_from_row to say.  vm_id_from_text reads such a text. */
long long vm_row_id(const vm_row *row);
long long vm_id_from_text(const char *text);

/* Find a field by column name; -1 when unknown. */
int vm_field_by_name(const char *name);

/* A validated instance.  Strings are never NULL. */
typedef struct {
    long long id;
    const char *name, *shortname, *vhostname;
    const char *key;     /* canonical lookup key from vhostname */
    const char *wwwroot; /* canonical scheme://host[:port] */
    const char *dbtype;  /* pgsql | mariadb | mysqli */
    const char *dbhost, *dblogin, *dbpass, *dbname, *dbprefix, *datapath;
    int dbpersist, mnet, enabled;
    long long croncount, lastcron, lastcrongap;
    const char *platform; /* platform name; "" = the default platform */
    const char *aliases;  /* alias keys (host[:port][/segment]), each
                              followed by one space: "" or "a b " */
    const char *path;     /* "/segment" of a site under a path, or "" */
} vm_instance;

/* Whether field f is one of the optional columns (platform, aliases). */
#define VM_FIELD_OPTIONAL(f) ((f) >= VM_F_PLATFORM)

/* A platform name: 1 to 64 of [A-Za-z0-9._-].  NULL or a static reason. */
const char *vm_platform_name_check(const char *name);

/* Parse a list of aliases (hosts or URLs, separated by blanks or commas)
 * into their keys, each followed by one space, into *keys (from p).
 * NULL, or a reason from p naming the alias. */
const char *vm_aliases_parse(const char *text, apr_pool_t *p,
                             const char **keys);

/* A canonical alias list as a column holds it: "a b" (no last space). */
const char *vm_aliases_text(const char *aliases, apr_pool_t *p);

/* Call fn for each key of a canonical alias list (vm_instance.aliases);
 * stops and returns fn's first non-zero answer. */
int vm_aliases_each(const char *aliases,
                    int (*fn)(const char *key, size_t len, void *ctx),
                    void *ctx);

/* Validate one row.  Returns NULL and fills *out (strings from p), or a
 * reason allocated from p naming the column and the problem. */
const char *vm_instance_from_row(vm_instance *out, const vm_row *row,
                                 apr_pool_t *p);

/* Whether path has a ".." component (a dataroot may not). */
int vm_path_has_dotdot(const char *path);

/* The reverse, for writing an instance back to a source. */
void vm_instance_to_row(const vm_instance *in, vm_row *row, apr_pool_t *p);

#endif
