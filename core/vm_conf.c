/* Settings files, see vm_conf.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "vm_conf.h"

#define LINE_MAX_BYTES 4096

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* One line; NULL, or why it is not a setting. */
static const char *one_line(char *line, vm_conf_set_fn set, void *ctx,
                            apr_pool_t *p)
{
    char *text = trim(line), *eq;

    if (*text == '#' || *text == '\0')
        return NULL;
    if (!(eq = strchr(text, '=')))
        return "want name = value";
    *eq = '\0';
    if (!*trim(text))
        return "want name = value";
    return set(ctx, trim(text), trim(eq + 1), p);
}

const char *vm_conf_read(const char *path, int required, vm_conf_set_fn set,
                         void *ctx, apr_pool_t *p)
{
    FILE *f = fopen(path, "r");
    char line[LINE_MAX_BYTES];
    const char *err = NULL;
    int lineno;

    if (!f)
        return (errno == ENOENT && !required)
            ? NULL
            : apr_psprintf(p, "%s: %s", path, strerror(errno));
    for (lineno = 1; !err && fgets(line, sizeof line, f); lineno++) {
        err = !strchr(line, '\n') && !feof(f) ? "line too long"
                                              : one_line(line, set, ctx, p);
        if (err)
            err = apr_psprintf(p, "%s:%d: %s", path, lineno, err);
    }
    if (!err && ferror(f))
        err = apr_psprintf(p, "%s: %s", path, strerror(errno));
    fclose(f);
    return err;
}
