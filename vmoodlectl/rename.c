/* rename HOST NEWURL: the site under a new URL, same database, dataroot
 * and identity.  In maintenance: the row's vhostname changed, every URL
 * of the old wwwroot in the site's database rewritten by Moodle's own
 * admin/tool/replace/cli/replace.php (run as the site), caches purged,
 * maintenance left as it was.  A failure or an interrupt undoes each step
 * (the rewrite by the reverse rewrite). */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "alias.h"
#include "ctl.h"
#include "lifecycle.h"
#include "steps.h"
#include "vm_host.h"

#define REPLACE "admin/tool/replace/cli/replace.php"

typedef struct {
    vmc_maintenance maint; /* first: the maintenance steps' */
    vmc_opts *o;
    apr_pool_t *p;
    vmc_table t;
    const vm_instance *in; /* as it is */
    vm_instance renamed;   /* as it will be */
    vm_row row;            /* its raw row, renamed */
    vm_siterun cli;
    int row_saved;
} rename_run;

static const char *plan_row(void *ctx, apr_pool_t *p)
{
    rename_run *r = ctx;
    return apr_psprintf(p, "change the row's vhostname from %s to %s%s",
                        r->in->vhostname, r->renamed.vhostname,
                        r->o->keep_alias ? ", the old URL kept as an alias"
                                         : "");
}

static int change_row(void *ctx, const char **err)
{
    rename_run *r = ctx;
    return vmc_row_change(&r->t, &r->row, &r->row_saved, r->p, err);
}

static void undo_row(void *ctx)
{
    rename_run *r = ctx;
    const char *err = vmc_row_change_undo(&r->t, r->in->id, &r->row_saved,
                                          r->p);
    if (err)
        vmc_error(751, "undo: the row of %s: %s", r->in->wwwroot, err);
}

/* replace.php as the renamed site; --shorten only when the new text is
 * longer (the tool refuses otherwise). */
static int replace(rename_run *r, const char *from, const char *to,
                   const char **err)
{
    const char *args[4] = { apr_pstrcat(r->p, "--search=", from, NULL),
                            apr_pstrcat(r->p, "--replace=", to, NULL),
                            "--non-interactive", "--shorten" };
    int code = vmc_site_cli_run_args(&r->cli, &r->renamed, REPLACE, args,
                                     strlen(to) > strlen(from) ? 4 : 3);
    if (code != 0)
        *err = apr_psprintf(r->p, "%s exited %d", REPLACE, code);
    return code ? -1 : 0;
}

static const char *plan_replace(void *ctx, apr_pool_t *p)
{
    rename_run *r = ctx;
    return apr_psprintf(p,
                        "%s --search=%s --replace=%s: every URL of the "
                        "old wwwroot in the site's database",
                        REPLACE, r->in->wwwroot, r->renamed.wwwroot);
}

static int rewrite(void *ctx, const char **err)
{
    rename_run *r = ctx;
    return replace(r, r->in->wwwroot, r->renamed.wwwroot, err);
}

static void undo_rewrite(void *ctx)
{
    rename_run *r = ctx;
    const char *err;
    if (replace(r, r->renamed.wwwroot, r->in->wwwroot, &err) != 0)
        vmc_error(752, "undo: %s", err);
}

/* Moodle's replace tool leaves config and config_plugins alone: values
 * naming the old URL or host there are the site's settings too. */
static int settings(rename_run *r, int forward, const char **err)
{
    vmc_dbconf c;
    const vm_instance *a = forward ? r->in : &r->renamed;
    const vm_instance *b = forward ? &r->renamed : r->in;

    if (vmc_site_dbconf(r->in, &c, r->p, err) != 0)
        return -1;
    return vmc_site_settings_moved(&c, r->in->dbname, r->in->dbprefix,
                                   a->wwwroot, b->wwwroot, NULL, NULL, r->p,
                                   err);
}

static const char *plan_settings(void *ctx, apr_pool_t *p)
{
    rename_run *r = ctx;
    return apr_psprintf(p,
                        "settings (config, config_plugins) naming %s "
                        "or its host: the new ones",
                        r->in->wwwroot);
}

static int rewrite_settings(void *ctx, const char **err)
{
    return settings(ctx, 1, err);
}

static void undo_settings(void *ctx)
{
    const char *err;
    if (settings(ctx, 0, &err) != 0)
        vmc_error(748, "undo: %s", err);
}

static int purge(void *ctx, const char **err)
{
    rename_run *r = ctx;
    int code = vmc_site_cli_run(&r->cli, &r->renamed,
                                "admin/cli/purge_caches.php", NULL);
    if (code != 0)
        *err = apr_psprintf(r->p, "admin/cli/purge_caches.php exited %d", code);
    return code ? -1 : 0;
}

/* Maintenance off as the site is called now. */
static int off(void *ctx, const char **err)
{
    rename_run *r = ctx;
    r->maint.in = &r->renamed;
    return vmc_maintenance_off(&r->maint, err);
}

static void undo_off(void *ctx)
{
    rename_run *r = ctx;
    r->maint.in = r->in;
}

static const vmc_step steps[] = {
    { "maintenance on", vmc_maintenance_plan, NULL, vmc_maintenance_on,
      vmc_maintenance_undo },
    { "change the row", plan_row, NULL, change_row, undo_row },
    { "rewrite the old URL in the database", plan_replace, NULL, rewrite,
      undo_rewrite },
    { "rewrite the old URL in the settings", plan_settings, NULL,
      rewrite_settings, undo_settings },
    { "purge caches", NULL, NULL, purge, NULL },
    { "maintenance off", NULL, NULL, off, undo_off },
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

/* The renamed row, validated against the whole table as the module
 * would load it. */
static const char *prepare(rename_run *r)
{
    const vm_row *raw = vmc_raw_row(&r->t, r->in->id);
    const char *why, *aliases;
    vm_url url;

    if ((why = vm_host_parse_url(r->o->args[1], &url)) != NULL)
        return apr_psprintf(r->p, "NEWURL %s: %s", r->o->args[1], why);
    if (!raw)
        return "the site's row is not in the table";
    r->row = *raw;
    vm_row_set(&r->row, VM_F_VHOSTNAME, r->o->args[1]);
    /* --keep-alias: the old URL answers 301 to the new one */
    if (r->o->keep_alias) {
        if (!(aliases = vmc_aliases_changed(r->in, "add", r->in->wwwroot, r->p,
                                            &why)))
            return why;
        vm_row_set(&r->row, VM_F_ALIASES, aliases);
    }
    if ((why = vmc_table_validate(&r->t, &r->row, r->p))
        || (why = vm_instance_from_row(&r->renamed, &r->row, r->p)))
        return why;
    if (strcmp(r->renamed.key, r->in->key) == 0
        && strcmp(r->renamed.wwwroot, r->in->wwwroot) == 0)
        return "the new URL is the site's URL";
    /* Moodle's scripts of the site's own platform, or none */
    if (!vm_siterun_tree(&r->cli, r->in, r->p, &why))
        return why;
    vmc_maintenance_init(&r->maint, &r->cli, r->in, r->p);
    return NULL;
}

int vmc_cmd_rename(vmc_opts *o)
{
    rename_run r;
    const char *why;
    int rc;

    memset(&r, 0, sizeof r);
    r.o = o;
    r.p = o->pool;
    if (o->nargs != 2)
        return vmc_fail(753, VMC_EXIT_USAGE,
                        "rename HOST NEWURL "
                        "[--keep-alias]");
    if ((rc = vmc_table_load_site(o, o->args[0], &r.t, &r.in, &why))
        != VMC_EXIT_OK)
        return vmc_fail(755, rc, why);
    if ((rc = vmc_siterun_prepare(o, &r.cli, &why)) != VMC_EXIT_OK)
        return vmc_fail(759, rc, why);
    if ((why = prepare(&r)) != NULL)
        return vmc_fail(757, VMC_EXIT_FAIL,
                        apr_psprintf(r.p,
                                     "rename of "
                                     "%s refused, nothing changed: %s",
                                     r.in->wwwroot, why));
    rc = vmc_lifecycle_run(o,
                           apr_psprintf(r.p, "rename of %s to %s",
                                        r.in->wwwroot, r.renamed.wwwroot),
                           steps, NSTEPS, &r, 758);
    if (rc == VMC_EXIT_OK && !o->dry_run)
        vmc_say("renamed %s to %s", r.in->wwwroot, r.renamed.wwwroot);
    return rc;
}
