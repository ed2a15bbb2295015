/* What vcron remembers between ticks: the round-robin cursor, the
 * measured tick and the master's cron figures (the master has no row to
 * keep them in).  Saved crash-safe (temporary file, fsync, rename), so a
 * vcron killed at any moment leaves the previous state or the new one. */
#ifndef VC_STATE_H
#define VC_STATE_H

#include <apr_file_io.h>
#include <apr_pools.h>

typedef struct {
    long long cursor;    /* id of the last instance round robin ran */
    long long last_tick; /* start of the last tick, seconds; 0 = none */
    long long tick;      /* measured seconds between ticks; 0 = none */
    long long master_croncount, master_lastcron, master_lastcrongap;
} vc_state;

/* A missing file is an empty state.  Returns NULL or a reason (from p). */
const char *vc_state_load(const char *path, vc_state *st, apr_pool_t *p);
const char *vc_state_save(const char *path, const vc_state *st, apr_pool_t *p);

/* Note a tick starting at now; returns the tick length to schedule with:
 * the measured one, smoothed, or nominal when there is no history. */
long long vc_state_tick(vc_state *st, long long now, long long nominal,
                        long long longest);

/* Hold the state's lock file (path + ".lock") while reading, choosing and
 * saving, so two vcron runs at once do not choose from the same cursor.
 * Returns the descriptor (vm_file_unlock releases it) or -1 with *err. */
int vc_state_lock(const char *path, apr_pool_t *p, const char **err);

/* Under the state's lock: load, edit(st, ctx), save.  NULL or a reason
 * (from p). */
const char *vc_state_edit(const char *path,
                          void (*edit)(vc_state *st, void *ctx), void *ctx,
                          apr_pool_t *p);

#endif
