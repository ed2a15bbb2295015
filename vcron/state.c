/* vcron's persistent state, see state.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "state.h"
#include "vm_file.h"

const char *vc_state_load(const char *path, vc_state *st, apr_pool_t *p)
{
    memset(st, 0, sizeof *st);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT
            ? NULL
            : apr_psprintf(p, "%s: %s", path, strerror(errno));
    char name[32];
    long long value;
    while (fscanf(f, "%31s %lld", name, &value) == 2) {
        if (strcmp(name, "cursor") == 0)
            st->cursor = value;
        else if (strcmp(name, "last_tick") == 0)
            st->last_tick = value;
        else if (strcmp(name, "tick") == 0)
            st->tick = value;
        else if (strcmp(name, "master_croncount") == 0)
            st->master_croncount = value;
        else if (strcmp(name, "master_lastcron") == 0)
            st->master_lastcron = value;
        else if (strcmp(name, "master_lastcrongap") == 0)
            st->master_lastcrongap = value;
    }
    fclose(f);
    return NULL;
}

/* The directory holding path, created if need be. */
static const char *make_parent(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');

    if (!slash || slash == path)
        return NULL;
    return vm_file_dir_make(apr_pstrndup(p, path, (apr_size_t)(slash - path)),
                            p);
}

const char *vc_state_save(const char *path, const vc_state *st, apr_pool_t *p)
{
    char text[256];
    int len =
        snprintf(text, sizeof text,
                 "cursor %lld\nlast_tick %lld\n"
                 "tick %lld\nmaster_croncount %lld\nmaster_lastcron %lld\n"
                 "master_lastcrongap %lld\n",
                 st->cursor, st->last_tick, st->tick, st->master_croncount,
                 st->master_lastcron, st->master_lastcrongap);
    if (len < 0 || (size_t)len >= sizeof text)
        return "state too long";
    const char *err = make_parent(path, p);
    if (!err)
        vm_file_replace(path, text, (size_t)len, 0600, NULL, p, &err);
    return err;
}

long long vc_state_tick(vc_state *st, long long now, long long nominal,
                        long long longest)
{
    long long measured = st->last_tick > 0 ? now - st->last_tick : 0;
    st->last_tick = now;
    if (measured < 1) /* first tick, or the clock went back */
        return st->tick > 0 ? st->tick : nominal;
    if (measured > longest) /* vcron was stopped for a while */
        measured = longest;
    /* Smoothed, so one manual run between two cron ticks does not make
     * the next ticks think the table must turn much faster. */
    st->tick = st->tick > 0 ? (3 * st->tick + measured + 2) / 4 : measured;
    return st->tick;
}

int vc_state_lock(const char *path, apr_pool_t *p, const char **err)
{
    if ((*err = make_parent(path, p)) != NULL)
        return -1;
    return vm_file_lock(apr_pstrcat(p, path, ".lock", NULL), 1, p, err);
}

const char *vc_state_edit(const char *path,
                          void (*edit)(vc_state *st, void *ctx), void *ctx,
                          apr_pool_t *p)
{
    const char *err = NULL;
    int lockfd = vc_state_lock(path, p, &err);
    if (lockfd < 0)
        return err;
    vc_state st;
    if (!(err = vc_state_load(path, &st, p))) {
        edit(&st, ctx);
        err = vc_state_save(path, &st, p);
    }
    vm_file_unlock(lockfd);
    return err;
}
