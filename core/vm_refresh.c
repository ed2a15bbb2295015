#include <string.h>
#include <time.h>
#include <apr_strings.h>
#include "vm_cron_figures.h"
#include "vm_refresh.h"

static int had_rejection(const vm_snapshot *old, const vm_rejection *r)
{
    uint32_t i, n = old ? vm_snapshot_rejection_count(old) : 0;
    vm_rejection o;

    for (i = 0; i < n; i++) {
        vm_snapshot_rejection(old, i, &o);
        if (o.id == r->id && strcmp(o.reason, r->reason) == 0)
            return 1;
    }
    return 0;
}

static void collect_new_rejections(const vm_table *t, const vm_snapshot *old,
                                   vm_refresh_result *res)
{
    int i;

    for (i = 0; i < t->rejections->nelts; i++) {
        const vm_rejection *r = &APR_ARRAY_IDX(t->rejections, i, vm_rejection);
        if (!had_rejection(old, r))
            *(vm_rejection *)apr_array_push(res->new_rejections) = *r;
    }
}

static void write_generation(const vm_table *t, vm_snapshot_image *img,
                             const vm_snapshot *old, vm_source *src,
                             const char *path, uint64_t floor, apr_pool_t *p,
                             vm_refresh_result *res)
{
    uint64_t last = old ? vm_snapshot_generation(old) : 0;
    vm_snapshot_meta meta;

    meta.generation = (last > floor ? last : floor) + 1;
    meta.created = (int64_t)time(NULL);
    meta.source = src->display;
    res->status = vm_snapshot_image_write(img, path, &meta, p, &res->error);
    if (res->status != VM_OK)
        return;
    res->changed = 1;
    res->generation = meta.generation;
    res->count = (uint32_t)t->instances->nelts;
    collect_new_rejections(t, old, res);
}

/* One build: the image whose digest is compared is the one written.  The
 * cron figures are not in it; they go to their own file, which a failure
 * to write leaves stale without failing the refresh. */
static void write_if_changed(const vm_table *t, const vm_snapshot *old,
                             vm_source *src, const char *path, uint64_t floor,
                             apr_pool_t *p, vm_refresh_result *res)
{
    vm_snapshot_image *img;
    int ignored;

    res->status = vm_snapshot_build(&img, t, src->display, p, &res->error);
    if (res->status != VM_OK)
        return;
    if (!old || vm_snapshot_image_digest(img) != vm_snapshot_digest(old))
        write_generation(t, img, old, src, path, floor, p, res);
    if (res->status == VM_OK
        && vm_cron_figures_save(vm_cron_figures_path(path, p), t, &ignored, p,
                                &res->figures_error)
            != VM_OK)
        res->figures_error = apr_pstrcat(p,
                                         "cron figures: ", res->figures_error,
                                         NULL);
}

/* Skip the read when the source can tell it has not changed and the
 * snapshot on disk is intact. */
static int source_unchanged(vm_source *src)
{
    const char *ignored;
    int same = 0;

    return src->ops->unchanged
        && src->ops->unchanged(src, &same, &ignored) == VM_OK && same;
}

void vm_refresh(vm_source *src, const char *path, uint64_t floor, apr_pool_t *p,
                vm_refresh_result *res)
{
    vm_snapshot *old = NULL;
    apr_array_header_t *rows;
    const char *ignored;
    vm_table *t;

    memset(res, 0, sizeof *res);
    res->new_rejections = apr_array_make(p, 4, sizeof(vm_rejection));
    if (vm_snapshot_open(&old, path, p, &ignored) != VM_OK)
        old = NULL; /* missing or corrupt: replaced below */
    if (old) {
        res->generation = vm_snapshot_generation(old);
        res->count = vm_snapshot_count(old);
    }
    if (old && !src->unsaved && source_unchanged(src)) {
        vm_snapshot_close(old);
        return;
    }
    res->status = vm_source_load(src, &rows, p, &res->error);
    if (res->status == VM_OK) {
        t = vm_table_build(rows, p);
        write_if_changed(t, old, src, path, floor, p, res);
        /* Until its table is on disk a load must be read again, whatever
         * the source says about changes (a full disk, say). */
        src->unsaved = res->status != VM_OK;
    }
    vm_snapshot_close(old);
}
