/* The SQL layer's common part: dispatch to the driver, identifiers,
 * placeholders and messages; see vm_db.h. */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_db_driver.h"

#define IDENT_MAX 64

static const vm_db_driver *driver_of(vm_db_kind kind)
{
    return kind == VM_DB_PGSQL ? &vm_db_pgsql_driver : &vm_db_mysql_driver;
}

const char *vm_db_parse(vm_db_kind kind, const char *text, apr_table_t *options)
{
    return driver_of(kind)->parse(text, options);
}

/* apr_table_do callback: a deep copy (apr_table_copy shares the strings). */
static int copy_option(void *to, const char *key, const char *value)
{
    apr_table_set(to, key, value);
    return 1;
}

static apr_status_t close_on_cleanup(void *db)
{
    vm_db_close(db);
    return APR_SUCCESS;
}

const char *vm_db_make(vm_db **out, vm_db_kind kind, const apr_table_t *options,
                       const char *label, apr_pool_t *p)
{
    vm_db *db = apr_pcalloc(p, sizeof *db);
    const char *why;

    db->driver = driver_of(kind);
    db->kind = kind;
    db->options = apr_table_make(p, 8);
    apr_table_do(copy_option, db->options, options, NULL);
    db->label = label ? apr_pstrdup(p, label) : NULL;
    db->password = apr_table_get(db->options, "password");
    if ((why = db->driver->configure(db, db->options)) != NULL)
        return why;
    apr_pool_cleanup_register(p, db, close_on_cleanup, apr_pool_cleanup_null);
    *out = db;
    return NULL;
}

void vm_db_bound_replies(vm_db *db)
{
    db->reply_timeout = VM_DB_IO_TIMEOUT;
}

const char *vm_db_option(const vm_db *db, const char *key)
{
    return apr_table_get(db->options, key);
}

vm_status vm_db_connect(vm_db *db, apr_pool_t *p, const char **err)
{
    if (db->driver->alive(db))
        return VM_OK;
    vm_db_close(db);
    vm_status rc = db->driver->connect(db, p, err);
    if (rc == VM_OK)
        db->session++;
    return rc;
}

vm_status vm_db_run(vm_db *db, const char *sql, int n,
                    const char *const *params, vm_db_result *res, apr_pool_t *p,
                    const char **err)
{
    vm_db_result ignored;
    vm_status rc = vm_db_connect(db, p, err);

    if (rc != VM_OK)
        return rc;
    memset(res ? res : &ignored, 0, sizeof ignored);
    return db->driver->run(db, sql, n, params, res ? res : &ignored, p, err);
}

const char *vm_db_value(const vm_db_result *res, int r, int c)
{
    if (r < 0 || r >= res->rows || c < 0 || c >= res->cols)
        return NULL;
    return res->value[r * res->cols + c];
}

void vm_db_result_alloc(vm_db_result *res, int rows, int cols,
                        const char ***value, size_t **length, apr_pool_t *p)
{
    size_t cells = (size_t)rows * (size_t)cols;

    *value = apr_pcalloc(p, (cells + 1) * sizeof **value);
    *length = apr_pcalloc(p, (cells + 1) * sizeof **length);
    res->rows = rows;
    res->cols = cols;
    res->value = *value;
    res->length = *length;
}

vm_status vm_db_notified(vm_db *db, const char *channel, int *seen,
                         apr_pool_t *p, const char **err)
{
    *seen = 0;
    if (!db->driver->notified) {
        *err = vm_db_message(db, p, "this database sends no notifications");
        return VM_ERR_UNSUPPORTED;
    }
    return db->driver->notified(db, channel, seen, p, err);
}

int vm_db_connected(const vm_db *db)
{
    return db->driver->alive(db);
}

unsigned vm_db_session(const vm_db *db)
{
    return db->session;
}

vm_db_kind vm_db_kind_of(const vm_db *db)
{
    return db->kind;
}

const char *vm_db_param(const vm_db *db, int i, apr_pool_t *p)
{
    return db->driver->numbered ? apr_psprintf(p, "$%d", i) : "?";
}

/* MySQL would otherwise do arithmetic on a text parameter in floating
 * point. */
const char *vm_db_int_param(const vm_db *db, int i, apr_pool_t *p)
{
    return db->driver->numbered ? apr_psprintf(p, "$%d::bigint", i)
                                : "CAST(? AS SIGNED)";
}

/* Length of the identifier at s, 0 when there is none. */
static size_t ident_len(const char *s)
{
    size_t n = 0;

    while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '$'
           || s[n] == '-')
        n++;
    return n;
}

static int is_ident(const char *s, size_t n)
{
    return n > 0 && n <= IDENT_MAX && ident_len(s) >= n;
}

const char *vm_db_table_check(const char *name, int schemas)
{
    const char *dot = schemas ? strchr(name, '.') : NULL;

    if (dot ? is_ident(name, (size_t)(dot - name))
                && is_ident(dot + 1, strlen(dot + 1))
            : is_ident(name, strlen(name)))
        return NULL;
    return schemas ? "a table name is 1 to 64 letters, digits, _, $ and -, "
                     "after an optional schema."
                   : "a table name is 1 to 64 letters, digits, _, $ and -";
}

const char *vm_db_ident(const vm_db *db, const char *name, apr_pool_t *p)
{
    if (!is_ident(name, strlen(name)))
        return NULL;
    return apr_psprintf(p, "%c%s%c", db->driver->quote, name,
                        db->driver->quote);
}

const char *vm_db_table(const vm_db *db, const char *name, apr_pool_t *p)
{
    const char *dot = strchr(name, '.');

    if (vm_db_table_check(name, db->driver->schemas))
        return NULL;
    if (!dot)
        return vm_db_ident(db, name, p);
    return apr_psprintf(p, "%c%.*s%c.%s", db->driver->quote, (int)(dot - name),
                        name, db->driver->quote, vm_db_ident(db, dot + 1, p));
}

/* msg with every occurrence of secret replaced by "***" and line breaks
 * flattened, trailing white space dropped: a client library's message on
 * one log line. */
static char *scrub(const char *msg, const char *secret, apr_pool_t *p)
{
    size_t slen = secret ? strlen(secret) : 0;
    char *out = apr_palloc(p, strlen(msg) * 3 + 1), *w = out;

    while (*msg) {
        if (slen && strncmp(msg, secret, slen) == 0) {
            memcpy(w, "***", 3), w += 3, msg += slen;
        } else if (*msg == '\n' || *msg == '\r') {
            memcpy(w, "; ", 2), w += 2, msg++;
            msg += strspn(msg, "\r\n\t "); /* libpq indents with a tab */
        } else if (*msg == '\t') {
            *w++ = ' ', msg++;
        } else {
            *w++ = *msg++;
        }
    }
    while (w > out && (isspace((unsigned char)w[-1]) || w[-1] == ';'))
        w--;
    *w = '\0';
    return out;
}

const char *vm_db_message(const vm_db *db, apr_pool_t *p, const char *fmt, ...)
{
    va_list ap;
    const char *msg;

    va_start(ap, fmt);
    msg = scrub(apr_pvsprintf(p, fmt, ap), db->password, p);
    va_end(ap);
    return db->label ? apr_pstrcat(p, db->label, ": ", msg, NULL) : msg;
}

void vm_db_close(vm_db *db)
{
    if (db->conn)
        db->driver->drop(db);
    db->conn = NULL;
}
