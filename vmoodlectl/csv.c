/* CSV lines, see csv.h. */
#include <string.h>
#include "csv.h"

/* One field at *s; *s moves past it and its comma, *more says whether a
 * comma followed.  NULL: a quote left open, or text after a closing
 * quote. */
static const char *field(const char **s, int *more, apr_pool_t *p)
{
    const char *c = *s;
    char *out = apr_palloc(p, strlen(c) + 1), *o = out;

    if (*c == '"') {
        for (c++; *c && !(*c == '"' && c[1] != '"'); c++)
            *o++ = *c == '"' ? *++c : *c;
        if (*c++ != '"' || (*c && *c != ','))
            return NULL;
    } else {
        while (*c && *c != ',')
            *o++ = *c++;
    }
    *o = '\0';
    *more = *c == ',';
    *s = *more ? c + 1 : c;
    return out;
}

const char *vmc_csv_split(const char *line, int max, const char **out, int *n,
                          apr_pool_t *p)
{
    int more = 1;

    *n = 0;
    while (more) {
        if (*n == max)
            return "too many fields";
        if (!(out[(*n)++] = field(&line, &more, p)))
            return "a quoted field is not closed where it should be";
    }
    return NULL;
}
