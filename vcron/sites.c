/* vcron's per-site figures for mode = activity, see sites.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "sites.h"
#include "state.h"
#include "vm_file.h"

#define SITES_MAGIC "vcron-sites 1"
#define SITES_MAX ((size_t)64 << 20)

const char *vc_sites_path(const char *state_file, apr_pool_t *p)
{
    return apr_pstrcat(p, state_file, ".sites", NULL);
}

vc_site_rec *vc_sites_get(vc_sites *s, long long id)
{
    vc_site_rec *r = apr_hash_get(s->by_id, &id, sizeof id);
    if (r)
        return r;
    r = apr_pcalloc(s->pool, sizeof *r);
    *r = (vc_site_rec){ id, -1, 0, -1, 0 };
    apr_hash_set(s->by_id, &r->id, sizeof r->id, r);
    return r;
}

static void parse_line(vc_sites *s, const char *line)
{
    vc_site_rec r;
    if (sscanf(line, "%lld %lld %lld %lf %lld", &r.id, &r.events, &r.measured,
               &r.cost, &r.runs)
        == 5)
        *vc_sites_get(s, r.id) = r;
    else
        sscanf(line, "over_capacity %d", &s->over_capacity);
}

const char *vc_sites_load(const char *path, vc_sites *s, apr_pool_t *p)
{
    memset(s, 0, sizeof *s);
    s->pool = p;
    s->by_id = apr_hash_make(p);
    char *data;
    size_t len;
    const char *err = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return NULL;
    if (vm_file_read(path, SITES_MAX, p, &data, &len, &err) != VM_OK)
        return err;
    if (strncmp(data, SITES_MAGIC "\n", sizeof SITES_MAGIC) != 0)
        return apr_psprintf(p, "%s: not vcron's per-site figures", path);
    char *save = NULL;
    for (char *line = strtok_r(data + sizeof SITES_MAGIC, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        parse_line(s, line);
    return NULL;
}

static const char *save(const char *path, const vc_sites *s, apr_pool_t *p)
{
    apr_array_header_t *lines = apr_array_make(p, 64, sizeof(char *));
    APR_ARRAY_PUSH(lines, const char *) = SITES_MAGIC;
    APR_ARRAY_PUSH(lines, const char *) = apr_psprintf(p, "over_capacity %d",
                                                       s->over_capacity);
    for (apr_hash_index_t *hi = apr_hash_first(p, s->by_id); hi;
         hi = apr_hash_next(hi)) {
        const vc_site_rec *r = apr_hash_this_val(hi);
        APR_ARRAY_PUSH(lines, const char *) = apr_psprintf(
            p,
            "%" APR_INT64_T_FMT " %" APR_INT64_T_FMT " %" APR_INT64_T_FMT
            " %.4f %" APR_INT64_T_FMT,
            (apr_int64_t)r->id, (apr_int64_t)r->events,
            (apr_int64_t)r->measured, r->cost, (apr_int64_t)r->runs);
    }
    char *text = apr_pstrcat(p, apr_array_pstrcat(p, lines, '\n'), "\n", NULL);
    const char *err = NULL;
    vm_file_replace(path, text, strlen(text), 0600, NULL, p, &err);
    return err;
}

const char *vc_sites_edit(const char *path,
                          void (*edit)(vc_sites *s, void *ctx), void *ctx,
                          apr_pool_t *p)
{
    const char *err = NULL;
    int lockfd = vc_state_lock(path, p, &err);
    if (lockfd < 0)
        return err;
    vc_sites s;
    if (!(err = vc_sites_load(path, &s, p))) {
        edit(&s, ctx);
        err = save(path, &s, p);
    }
    vm_file_unlock(lockfd);
    return err;
}

void vc_site_add_cost(vc_site_rec *r, double cpu)
{
    /* Smoothed: one slow run (a backup) moves it, it does not set it. */
    r->cost = r->cost < 0 ? cpu : 0.7 * r->cost + 0.3 * cpu;
    r->runs++;
}
