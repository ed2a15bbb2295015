/* The single writer: reads the source, writes a new snapshot generation
 * when the table changed, and publishes it to every process.  It runs
 * once at start-up (so the first request already routes), in a process
 * the parent forks and that drops to the server's User first, then in one
 * child through mod_watchdog, as User too: root never works inside the
 * snapshot directory, which User (every tenant's PHP) can write. */
#include "mod_vmoodle.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <http_log.h>
#include <ap_mpm.h>
#include <mod_watchdog.h>
#include <unixd.h>
#include <mod_unixd.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include "vm_cron_figures.h"
#include "vm_file.h"

APLOG_USE_MODULE(vmoodle);

#define VMOODLE_TICK AP_WD_TM_SLICE * 2 /* 200 ms */
#define VMOODLE_BACKOFF_MAX apr_time_from_sec(60)
#define VMOODLE_KEEP_FREE (4 * 1024 * 1024) /* bytes a pool may hoard */

/* Reading a large table takes hundreds of megabytes for a moment; hand
 * them back, or the parent would keep them and every child inherit them. */
static void give_back_memory(void)
{
#ifdef __GLIBC__
    /* malloc_trim releases free chunks but not the top of a thread's
     * arena, where a parse's millions of small blocks end; glibc trims
     * that top only when a large block (64 KiB or more) is freed. */
    free(malloc(128 * 1024));
    malloc_trim(0);
#endif
}

/* glibc raises its mmap and trim thresholds after a large block is freed
 * (up to 32 and 64 MiB), and malloc_trim never shrinks the top of a
 * thread's arena: after one read of 100,000 instances the writer kept
 * 50-64 MiB in each arena it had used.  Fixed thresholds make large
 * blocks mmap'd (unmapped when freed) and arena tops shrink on free. */
static void keep_malloc_thresholds(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
#endif
}

/* The table's fixed part: where its snapshot is, its source, its server. */
static const vmoodle_table_spec *spec(const vmoodle_table *t)
{
    return vmoodle_table_spec_of(t);
}

/* The writer's state for one table, in each child. */
struct vmoodle_writer {
    vmoodle_table *table;
    struct vmoodle_writer *following; /* this child's other writers */
    apr_pool_t *pool;                 /* owns the source and its connection */
    vm_source *source;
    apr_time_t next;             /* next scheduled read */
    apr_interval_time_t backoff; /* while the source fails */
    int failing;                 /* an outage is in progress */
};

static apr_thread_mutex_t *writer_lock; /* held by a tick */
static int writers_stopped;             /* the child is exiting */

/* The snapshot directory, without its trailing slash. */
static const char *snapshot_dir(vmoodle_table *t, apr_pool_t *p)
{
    char *dir = ap_make_dirstr_parent(p, spec(t)->snapshot_path);
    size_t len = strlen(dir);

    if (len > 1)
        dir[len - 1] = '\0';
    return dir;
}

/* Give User the snapshot directory when we have just created it, through
 * the descriptor of the directory we made (a link swapped in meanwhile
 * is not followed).  An existing directory is left as it is: its owner
 * chose who writes there. */
static void create_directory_for_user(const char *dir, apr_pool_t *p)
{
    int fd;
    struct stat st;

    apr_dir_make_recursive(ap_make_dirstr_parent(p, dir), APR_FPROT_OS_DEFAULT,
                           p);
    if (mkdir(dir, 0700) != 0)
        return;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    if (geteuid() == 0 && fstat(fd, &st) == 0 && st.st_uid == 0
        && fchown(fd, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
        /* reported by the writer, which then cannot write there */
    }
    close(fd);
}

/* As User: can the writer work in the snapshot directory? */
static int directory_usable(vmoodle_table *t, apr_pool_t *p)
{
    const char *dir = snapshot_dir(t, p);

    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0)
        return 1;
    ap_log_error(
        APLOG_MARK, APLOG_ERR, errno, spec(t)->server,
        VMLOGNO(
            00040) "table %s: the snapshot directory %s is not "
                   "writable by User %s: give it to that user or name another "
                   "VMoodleSnapshot (the module never changes the owner of a "
                   "directory it did not create)",
        spec(t)->source_display, dir, ap_unixd_config.user_name);
    return 0;
}

/* Children map a private copy of each generation, so a snapshot file
 * edited in place can never change what they are reading. */
static vm_status write_live_copy(vmoodle_table *t, uint64_t generation,
                                 apr_pool_t *p, const char **err)
{
    const char *live = vmoodle_live_path(t, generation, p);
    char *data;
    size_t len;
    vm_status st = vm_file_read(spec(t)->snapshot_path, (size_t)1 << 32, p,
                                &data, &len, err);

    if (st == VM_OK) /* passwords: User's alone */
        st = vm_file_replace(live, data, len, 0600, NULL, p, err);
    return st;
}

/* Remove live copies other than keep and the one before it, which
 * processes may still be mapping (an unlinked file stays readable). */
static void remove_stale_copies(vmoodle_table *t, uint64_t keep, apr_pool_t *p)
{
    const char *dir = ap_make_dirstr_parent(p, spec(t)->snapshot_path);
    const char *prefix = apr_pstrcat(p, spec(t)->snapshot_path + strlen(dir),
                                     ".live.", NULL);
    apr_dir_t *d;
    apr_finfo_t fi;

    if (apr_dir_open(&d, dir, p) != APR_SUCCESS)
        return;
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        apr_uint64_t gen;
        if (strncmp(fi.name, prefix, strlen(prefix)) != 0)
            continue;
        gen = apr_strtoi64(fi.name + strlen(prefix), NULL, 10);
        if (gen + 1 < keep || gen > keep)
            apr_file_remove(apr_pstrcat(p, dir, fi.name, NULL), p);
    }
    apr_dir_close(d);
}

/* Every site of the generation keeps (or gets) its counters before any
 * process maps it. */
static void sync_counters(vmoodle_table *t, uint64_t generation, apr_pool_t *p)
{
    vm_snapshot *snap;
    const char *err;

    if (vm_snapshot_open(&snap, vmoodle_live_path(t, generation, p), p, &err)
        != VM_OK)
        return; /* the processes cannot map it either: VM00060 */
    vmoodle_metrics_sync(t, snap);
    vm_snapshot_close(snap);
}

static void publish(vmoodle_table *t, uint64_t generation, apr_pool_t *p)
{
    const char *err;

    if (write_live_copy(t, generation, p, &err) != VM_OK) {
        ap_log_error(
            APLOG_MARK, APLOG_ERR, 0, spec(t)->server,
            VMLOGNO(
                00004) "table %s: cannot publish generation %" APR_UINT64_T_FMT
                       ": %s",
            spec(t)->snapshot_path, (apr_uint64_t)generation, err);
        return;
    }
    sync_counters(t, generation, p);
    vmoodle_table_publish(t, generation);
    remove_stale_copies(t, generation, p);
}

static void log_rejections(vmoodle_table *t, const vm_refresh_result *res)
{
    int i;

    for (i = 0; i < res->new_rejections->nelts; i++) {
        const vm_rejection *r = &APR_ARRAY_IDX(res->new_rejections, i,
                                               vm_rejection);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, spec(t)->server,
                     VMLOGNO(00005) "table %s: instance id %" APR_INT64_T_FMT
                                    " skipped: %s",
                     spec(t)->source_display, (apr_int64_t)r->id, r->reason);
    }
}

static void set_info(vmoodle_table *t, const vm_refresh_result *res,
                     int from_disk, apr_time_t started)
{
    vmoodle_refresh_info info;
    apr_time_t last_ok;

    vmoodle_table_info_get(t, &info);
    last_ok = info.last_ok;
    memset(&info, 0, sizeof info);
    info.time = apr_time_now();
    info.ok = res->status == VM_OK;
    info.from_disk = from_disk;
    info.last_ok = info.ok && !from_disk ? info.time : last_ok;
    info.duration = info.time - started;
    if (!info.ok)
        apr_cpystrn(info.error,
                    res->error ? res->error : vm_status_name(res->status),
                    sizeof info.error);
    vmoodle_table_info_set(t, &info);
}

/* One read of the source; returns the result for the caller's logging. */
static void refresh_once(vmoodle_table *t, vm_source *src, apr_pool_t *p,
                         vm_refresh_result *res)
{
    vm_refresh(src, spec(t)->snapshot_path, vmoodle_table_newest(t), p, res);
    if (res->status != VM_OK)
        return;
    log_rejections(t, res);
    if (res->figures_error)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, spec(t)->server,
                     VMLOGNO(00090) "table %s: %s", spec(t)->source_display,
                     res->figures_error);
    if (res->changed) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, spec(t)->server,
                     VMLOGNO(00006) "table %s: generation %" APR_UINT64_T_FMT
                                    " with %u instances",
                     spec(t)->source_display, (apr_uint64_t)res->generation,
                     res->count);
        publish(t, res->generation, p);
    }
}

/* Note that this process reads this table (path, source and name), and
 * say whether it had at an earlier (re)start: then a writer has kept its
 * snapshot on disk current since.  Kept in the process pool, which
 * outlives restarts. */
static int note_read(const vmoodle_table *t, apr_pool_t *p)
{
    apr_pool_t *process = spec(t)->server->process->pool;
    const char *key = apr_pstrcat(p, "vmoodle-read:", spec(t)->snapshot_path,
                                  "|", spec(t)->source_spec, "|",
                                  spec(t)->table_name, NULL);
    void *seen = NULL;

    apr_pool_userdata_get(&seen, key, process);
    if (!seen)
        apr_pool_userdata_set("1", apr_pstrdup(process, key), NULL, process);
    return seen != NULL;
}

/* A graceful restart serves the snapshot on disk at once and leaves the
 * read to the writer (within VMoodleRefresh): while the parent reads,
 * no child accepts, so a read of 100,000 instances, or a database that
 * does not answer, would be a pause in service. */
static int reuse_snapshot(vmoodle_table *t, int read_earlier, apr_pool_t *p)
{
    vm_snapshot *snap;
    const char *err;

    if (!read_earlier
        || vm_snapshot_open(&snap, spec(t)->snapshot_path, p, &err) != VM_OK)
        return 0;
    vm_snapshot_close(snap);
    return 1;
}

/* At start-up, as User: the source once, else the last snapshot on
 * disk.  The source is closed again before any child is forked.
 * read_earlier: the parent read this table at an earlier (re)start. */
static void startup_refresh(vmoodle_table *t, int read_earlier)
{
    int reused;
    apr_pool_t *p;
    vm_source *src;
    vm_refresh_result res;
    vm_snapshot *snap;
    const char *err;
    apr_time_t started = apr_time_now();

    apr_pool_create_unmanaged(&p); /* its memory can be given back */
    if (!directory_usable(t, p)) {
        memset(&res, 0, sizeof res);
        res.status = VM_ERR_IO;
        res.error = "the snapshot directory is not writable by User";
        set_info(t, &res, 0, started);
        apr_pool_destroy(p);
        return;
    }
    memset(&res, 0, sizeof res);
    reused = reuse_snapshot(t, read_earlier, p);
    if (!reused
        && (res.status = vm_source_open(&src, spec(t)->source_spec,
                                        spec(t)->table_name, p, &res.error))
            == VM_OK)
        refresh_once(t, src, p, &res);
    if (vm_snapshot_open(&snap, spec(t)->snapshot_path, p, &err) != VM_OK) {
        ap_log_error(
            APLOG_MARK, APLOG_ERR, 0, spec(t)->server,
            VMLOGNO(
                00007) "table %s: no usable snapshot (%s) and the source "
                       "failed (%s): every host answers 503 until the source "
                       "answers",
            spec(t)->source_display, err, res.error);
    } else {
        if (res.status != VM_OK)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, spec(t)->server,
                         VMLOGNO(00008) "table %s: source failed at start-up "
                                        "(%s): serving the snapshot on disk, "
                                        "generation %" APR_UINT64_T_FMT,
                         spec(t)->source_display, res.error,
                         (apr_uint64_t)vm_snapshot_generation(snap));
        publish(t, vm_snapshot_generation(snap), p);
        vm_snapshot_close(snap);
    }
    set_info(t, &res, reused || res.status != VM_OK, started);
    apr_pool_destroy(p); /* closes the source: no connection is inherited */
    give_back_memory();
}

/* Root creates a missing snapshot directory, then forks; the child drops
 * to User (as Apache's own children do: group, chroot, user) and does the
 * refresh, publishing through the shared memory it inherited.  Its
 * connection and memory end with it. */
static void startup_refresh_as_user(vmoodle_table *t)
{
    apr_pool_t *p;
    pid_t pid;
    int status;
    int read_earlier;

    apr_pool_create_unmanaged(&p);
    read_earlier = note_read(t, p); /* the parent's memory, not the child's */
    if (geteuid() != 0) {
        apr_pool_destroy(p);
        startup_refresh(t, read_earlier);
        return;
    }
    create_directory_for_user(snapshot_dir(t, p), p);
    apr_pool_destroy(p);
    if ((pid = fork()) == 0) {
        if (ap_unixd_setup_child() != 0 || geteuid() == 0)
            _exit(1);
        startup_refresh(t, read_earlier);
        _exit(0); /* no pool cleanups: the parent's pools are its own */
    }
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        ap_log_error(
            APLOG_MARK, APLOG_ERR, pid < 0 ? errno : 0, spec(t)->server,
            VMLOGNO(
                00041) "table %s: the start-up "
                       "refresh as User %s failed (%s): the writer tries again "
                       "in a child",
            spec(t)->source_display, ap_unixd_config.user_name,
            pid < 0                 ? "cannot fork"
                : WIFEXITED(status) ? "cannot drop privileges"
                                    : "killed by a signal");
}

/* An outage is logged when it starts and when it ends, not per attempt;
 * retries back off from one second to a minute. */
static void note_outcome(vmoodle_table *t, struct vmoodle_writer *w,
                         const vm_refresh_result *res)
{
    apr_time_t now = apr_time_now();

    if (res->status == VM_OK) {
        if (w->failing)
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, spec(t)->server,
                         VMLOGNO(00009) "table %s: source answers again",
                         spec(t)->source_display);
        w->failing = 0;
        w->backoff = 0;
        w->next = now + spec(t)->refresh;
        return;
    }
    if (!w->failing)
        ap_log_error(
            APLOG_MARK, APLOG_ERR, 0, spec(t)->server,
            VMLOGNO(
                00010) "table %s: %s: %s; serving generation %" APR_UINT64_T_FMT
                       " meanwhile",
            spec(t)->source_display, vm_status_name(res->status), res->error,
            (apr_uint64_t)vmoodle_table_newest(t));
    w->failing = 1;
    w->backoff = w->backoff ? w->backoff * 2 : apr_time_from_sec(1);
    if (w->backoff > VMOODLE_BACKOFF_MAX)
        w->backoff = VMOODLE_BACKOFF_MAX;
    w->next = now + w->backoff;
    if (res->status == VM_ERR_UNREACHABLE && w->source) {
        vm_source_close(w->source); /* reconnect on the next attempt */
    }
}

/* Has the source announced a change (PostgreSQL NOTIFY)?  A failed poll
 * closes the source (reopened on the next read) and answers yes. */
static int poll_change_or_close(struct vmoodle_writer *w)
{
    const char *err;
    int changed = 0;

    if (!w->source || !w->source->ops->poll_change || w->failing)
        return 0;
    if (w->source->ops->poll_change(w->source, &changed, &err) != VM_OK) {
        vm_source_close(w->source);
        return 1; /* read now: the error is reported with the result */
    }
    return changed;
}

/* The status page says "from disk" until the source answers: a failed
 * retry does not make the snapshot the parent found any fresher. */
static int still_from_disk(vmoodle_table *t, const vm_refresh_result *res)
{
    vmoodle_refresh_info info;

    if (res->status == VM_OK)
        return 0;
    vmoodle_table_info_get(t, &info);
    return info.from_disk;
}

/* The source is opened at the first tick, not at the first timed read:
 * a source that announces changes (LISTEN) can only hear them once open.
 * While failing, it is reopened only when the back-off is over.
 * Returns whether the source was read. */
static int writer_tick(struct vmoodle_writer *w, apr_pool_t *p)
{
    vmoodle_table *t = w->table;
    vm_refresh_result res;
    apr_time_t started = apr_time_now();
    int due = started >= w->next;

    memset(&res, 0, sizeof res);
    if (!w->source && (due || !w->failing))
        res.status = vm_source_open(&w->source, spec(t)->source_spec,
                                    spec(t)->table_name, w->pool, &res.error);
    if (res.status == VM_OK && !due && !poll_change_or_close(w))
        return 0;
    if (res.status == VM_OK)
        refresh_once(t, w->source, p, &res);
    note_outcome(t, w, &res);
    set_info(t, &res, still_from_disk(t, &res), started);
    return 1;
}

/* Each child prepares the writer's state, so that whichever child
 * mod_watchdog elects can run it.  The pool is the process's own, never
 * destroyed: the watchdog thread may still run while the child's pool is
 * torn down at exit, and the pools it passes to callbacks are temporary.
 * The source's connection ends with the process. */
static struct vmoodle_writer *writers; /* this child's, one per table */

/* The child's pool goes (with the tables' mutexes and mappings) before
 * mod_watchdog joins its thread, at exit: a tick still running would use
 * them freed.  This cleanup, registered after theirs, so run before, waits
 * for the tick in progress and lets no other start. */
static apr_status_t stop_writers(void *unused)
{
    (void)unused;
    apr_thread_mutex_lock(writer_lock);
    writers_stopped = 1;
    apr_thread_mutex_unlock(writer_lock);
    return APR_SUCCESS;
}

void vmoodle_refresh_child_init(apr_pool_t *pchild, server_rec *s)
{
    struct vmoodle_writer *w;
    vmoodle_table *t;
    apr_pool_t *pool;
    vmoodle_refresh_info info;

    writers = NULL;
    /* in the process pool: it outlives the watchdog's thread */
    if (apr_thread_mutex_create(&writer_lock, APR_THREAD_MUTEX_DEFAULT,
                                s->process->pool)
        != APR_SUCCESS) {
        ap_log_error(
            APLOG_MARK, APLOG_CRIT, 0, s,
            VMLOGNO(
                00042) "cannot create the writer's mutex: this child does not "
                       "refresh the table");
        return;
    }
    writers_stopped = 0;
    apr_pool_cleanup_register(pchild, NULL, stop_writers,
                              apr_pool_cleanup_null);
    for (t = vmoodle_tables_first(); t; t = vmoodle_table_next(t)) {
        if (apr_pool_create_unmanaged(&pool) != APR_SUCCESS)
            continue;
        apr_allocator_max_free_set(apr_pool_allocator_get(pool),
                                   VMOODLE_KEEP_FREE);
        w = apr_pcalloc(pool, sizeof *w);
        w->table = t;
        w->pool = pool;
        /* An outage already reported (by the parent at start-up, or by
         * the writer of an earlier child) goes on: log its end, not a
         * second start.  A snapshot on disk the source has not confirmed
         * (a graceful restart reuses it) is read again at once. */
        vmoodle_table_info_get(t, &info);
        w->next = apr_time_now() + (info.from_disk ? 0 : spec(t)->refresh);
        w->failing = info.time != 0 && !info.ok;
        w->following = writers;
        writers = w;
    }
}

static apr_status_t vmoodle_watchdog(int state, void *data, apr_pool_t *wdp)
{
    struct vmoodle_writer *w;
    apr_pool_t *p;
    int read;

    (void)data;
    (void)wdp;
    if (state != AP_WATCHDOG_STATE_RUNNING || !writer_lock)
        return APR_SUCCESS;
    apr_thread_mutex_lock(writer_lock);
    for (w = writers; w && !writers_stopped; w = w->following) {
        apr_pool_create(&p, w->pool);
        read = writer_tick(w, p);
        apr_pool_destroy(p);
        if (read)
            give_back_memory();
    }
    apr_thread_mutex_unlock(writer_lock);
    return APR_SUCCESS;
}

static int start_watchdog(apr_pool_t *pconf, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) * get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) * register_cb;
    ap_watchdog_t *wd;
    apr_status_t rv;

    /* Assigned apart: clang-format 14 indents the one-line form two ways. */
    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_cb = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);

    if (!get_instance || !register_cb) {
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, s,
            VMLOGNO(
                00011) "mod_watchdog is not loaded: the instance table is read "
                       "at start-up and on restart only");
        return OK;
    }
    if ((rv = get_instance(&wd, "_vmoodle_refresh_", 0, 1, pconf))
            != APR_SUCCESS
        || (rv = register_cb(wd, VMOODLE_TICK, NULL, vmoodle_watchdog))
            != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     VMLOGNO(00012) "cannot start the table refresh watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

int vmoodle_refresh_post_config(apr_pool_t *pconf, server_rec *s)
{
    vmoodle_table *t;

    if (!vmoodle_tables_first())
        return OK;
    if (vmoodle_tables_init_shared(pconf, s) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;
    keep_malloc_thresholds(); /* the children inherit them */
    for (t = vmoodle_tables_first(); t; t = vmoodle_table_next(t))
        startup_refresh_as_user(t);
    return start_watchdog(pconf, s);
}
