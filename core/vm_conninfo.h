/* Connection strings read as the database drivers read them, so that a
 * password is hidden whole before the string reaches a page or a log.
 *
 * Two forms:
 *   - key=value pairs (libpq's conninfo, and the MySQL form of
 *     vm_db_mysql.c): blanks around '=', a value bare up to white space or
 *     in single quotes, a backslash escaping the next character in both;
 *   - a URI, scheme://user:password@host/db?key=value&... (libpq's), the
 *     keys percent-decoded.
 * The value of every "password" and "sslpassword" key (any case) is
 * masked, and the user
 * information's password of a URI; a libpq "dbname" that holds a whole
 * connection string (libpq expands it) is masked when it names a password.
 * A string the drivers would refuse is masked from the point where it
 * stops making sense: nothing after that point is shown. */
#ifndef VM_CONNINFO_H
#define VM_CONNINFO_H

#include <apr_pools.h>

#define VM_CONNINFO_MASK "***"

/* text with every password replaced by VM_CONNINFO_MASK; "" for NULL.
 * From p. */
const char *vm_conninfo_mask(const char *text, apr_pool_t *p);

#endif
