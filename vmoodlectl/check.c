/* check [HOST...]: is each instance's database reachable with its
 * credentials, is its dataroot a folder the web server's user can write,
 * does its host resolve?  One line per instance; exit 1 when the database
 * or the dataroot fails.  A name without a DNS record (the site's, or an
 * alias's) is only a warning (test domains, names only the balancer
 * resolves); --no-dns skips the look-ups. */
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "quota.h"
#include "db.h"
#include "logins.h"
#include "platforms.h"
#include "vm_text.h"
#include "select.h"
#include "vm_identity.h"
#include "vm_job.h"
#include "vm_siteuser.h"
#include "vm_text.h"

static const char OK[] = "ok"; /* compared by address */

/* The host of a key: no port, no IPv6 brackets. */
static const char *key_host(const char *key, apr_pool_t *p)
{
    const char *close;

    if (key[0] == '[' && (close = strchr(key, ']')) != NULL)
        return apr_pstrndup(p, key + 1, (apr_size_t)(close - key - 1));
    return apr_pstrndup(p, key, strcspn(key, ":/"));
}

/* Does the host of key (a site's or an alias's) resolve? */
static const char *check_dns(const char *key, apr_pool_t *p)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(key_host(key, p), NULL, &hints, &res);
    if (res)
        freeaddrinfo(res);
    return rc == 0 ? OK
                   : apr_psprintf(p, "does not resolve: %s", gai_strerror(rc));
}

struct alias_dns {
    apr_pool_t *pool;
    const char *failed; /* NULL while every alias resolves */
};

static int check_alias_dns(const char *key, size_t len, void *ctx)
{
    struct alias_dns *a = ctx;
    const char *alias = apr_pstrndup(a->pool, key, len);
    const char *dns = check_dns(alias, a->pool);

    if (dns != OK)
        a->failed = apr_pstrcat(a->pool, a->failed ? a->failed : "",
                                a->failed ? ", " : "", alias, " ", dns, NULL);
    return 0;
}

/* "; aliases 'a b': ok" for a site with aliases (each one's DNS: a
 * warning, as the site's), "" for one without.  *warn when one fails. */
static const char *check_aliases(const vmc_opts *o, const vm_instance *in,
                                 int *warn)
{
    struct alias_dns a = { o->pool, NULL };
    const char *list = vm_aliases_text(in->aliases, o->pool);

    *warn = 0;
    if (!*list)
        return "";
    if (!o->no_dns)
        vm_aliases_each(in->aliases, check_alias_dns, &a);
    *warn = a.failed != NULL;
    return apr_psprintf(o->pool, "; aliases '%s': %s%s", list,
                        a.failed        ? "warning: "
                            : o->no_dns ? "not checked"
                                        : OK,
                        a.failed ? a.failed : "");
}

static const char *check_db(const vm_instance *in, apr_pool_t *p)
{
    apr_pool_t *sub;
    const char *err;
    vmc_dbconf c;
    int ok;

    if (vmc_dbconf_make(&c, in->dbtype, in->dbhost, in->dblogin, in->dbpass,
                        in->dbname, p, &err)
        != 0)
        return err;
    apr_pool_create(&sub, p);
    ok = vmc_db_open(&c, in->dbname, sub, &err) != NULL;
    if (!ok)
        err = apr_pstrdup(p, err);
    apr_pool_destroy(sub);
    return ok ? OK : err;
}

/* In the child, as the user: can a file be created in dir? */
static int probe(void *ctx)
{
    const char *dir = ctx;
    char *path;
    int fd;

    if (asprintf(&path, "%s/.vmoodlectl-check-XXXXXX", dir) < 0
        || (fd = mkstemp(path)) < 0)
        return 1;
    close(fd);
    unlink(path);
    return 0;
}

static int probe_as(const vm_identity *who, const char *dir, apr_pool_t *p)
{
    const char *why;
    vm_job j;
    vm_job_opts o = { .who = who, .fn = probe, .ctx = (void *)dir };

    if (vm_job_start(&j, &o, p, &why) != 0)
        return -1;
    return vm_job_wait(&j, NULL);
}

/* Without root: from the owner, group and mode bits. */
static int writable_by_mode(const struct passwd *pw, const struct stat *st)
{
    if (st->st_uid == pw->pw_uid)
        return (st->st_mode & S_IWUSR) && (st->st_mode & S_IXUSR);
    if (st->st_gid == pw->pw_gid)
        return (st->st_mode & S_IWGRP) && (st->st_mode & S_IXGRP);
    return (st->st_mode & S_IWOTH) && (st->st_mode & S_IXOTH);
}

static const char *check_dataroot(const vmc_opts *o, const vm_instance *in)
{
    const char *why = NULL;
    const char *user = vm_site_user(o->site_user, o->web_user, in, o->pool,
                                    &why);
    struct passwd *pw = user ? getpwnam(user) : NULL;
    vm_identity who;
    struct stat st;
    int writable;

    if (!user)
        return why;
    if (!pw)
        return apr_psprintf(o->pool, "no user '%s'", user);
    if (stat(in->datapath, &st) != 0)
        return apr_psprintf(o->pool, "%s: %s", in->datapath, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return apr_psprintf(o->pool, "%s is not a directory", in->datapath);
    if (geteuid() != 0)
        writable = writable_by_mode(pw, &st);
    else if ((why = vm_identity_resolve(&who, user, o->pool)) != NULL)
        return why;
    else
        writable = probe_as(&who, in->datapath, o->pool) == 0;
    return writable
        ? OK
        : apr_psprintf(o->pool, "%s is not writable by %s", in->datapath, user);
}

/* The site's code tree: a named platform in the platforms file, with
 * Moodle's admin/cli there (the default platform is moodle-dir, as
 * before). */
static const char *check_platform(const vmc_opts *o, const vm_platforms *pl,
                                  const vm_instance *in)
{
    const char *tree = vm_platform_path(pl, in->platform, o->moodle_dir);

    if (!*in->platform)
        return OK;
    if (!tree)
        return apr_psprintf(o->pool, "'%s' is not in the platforms file",
                            vm_text_visible(in->platform, o->pool));
    return access(apr_pstrcat(o->pool, tree, "/admin/cli/upgrade.php", NULL),
                  R_OK)
            == 0
        ? OK
        : apr_psprintf(o->pool, "%s has no admin/cli/upgrade.php", tree);
}

/* A login another site or the master uses too: a warning naming both. */
static void check_login(const vmc_opts *o, const vmc_table *t,
                        const vm_instance *in)
{
    const char *other = vmc_login_sharer(t, in, o->pool);

    if (other)
        printf("%-36s WARN database login %s is also %s's: each can reach "
               "the other's database (vmoodlectl isolate %s)\n",
               in->key, in->dblogin, vm_text_visible(other, o->pool), in->key);
}

static int check_one(const vmc_opts *o, const vmc_table *t,
                     const vm_platforms *pl, const vm_instance *in,
                     const vmc_quotas *q)
{
    const char *dns = o->no_dns ? "not checked" : check_dns(in->key, o->pool);
    const char *db = check_db(in, o->pool), *data = check_dataroot(o, in);
    const char *code = check_platform(o, pl, in);
    int ok = db == OK && data == OK && code == OK, over, alias_warn;
    const char *quota = vmc_quota_note(q, in, &over, o->pool);
    const char *aliases = check_aliases(o, in, &alias_warn);
    const char *verdict = !ok                              ? "FAIL"
        : (dns == OK || o->no_dns) && !over && !alias_warn ? "ok"
                                                           : "WARN";

    printf("%-36s %-4s dns: %s%s; database: %s; dataroot: %s; platform "
           "'%s': %s; quota: %s%s\n",
           in->key, verdict, dns == OK || o->no_dns ? "" : "warning: ", dns,
           vm_text_visible(db, o->pool), vm_text_visible(data, o->pool),
           vm_text_visible(in->platform, o->pool), code,
           vm_text_visible(quota, o->pool), vm_text_visible(aliases, o->pool));
    check_login(o, t, in);
    return ok;
}

int vmc_check_site(const vmc_opts *o, const vm_instance *in, const char **why)
{
    const char *db = check_db(in, o->pool), *data = check_dataroot(o, in);

    *why = db != OK  ? apr_pstrcat(o->pool, "database: ", db, NULL)
        : data != OK ? apr_pstrcat(o->pool, "dataroot: ", data, NULL)
                     : NULL;
    return *why != NULL;
}

int vmc_cmd_check(vmc_opts *o)
{
    int i, failed = 0, rc;
    apr_array_header_t *sites;
    vmc_selection sel;
    const char *why;
    vm_platforms *pl;
    vmc_table t;
    vmc_quotas q;

    if (o->nagios)
        return vmc_check_nagios(o);
    if ((rc = vmc_table_load(o, &t, &why)) != VMC_EXIT_OK)
        return vmc_fail(472, rc, why);
    if ((rc = vmc_platforms_load(o, &pl)) != VMC_EXIT_OK)
        return rc;
    if ((why = vmc_quotas_read(&q, o->quota_file, o->pool)) != NULL)
        return vmc_fail(743, VMC_EXIT_FAIL, why);
    if (!o->nargs && !t.table->instances->nelts)
        return VMC_EXIT_OK; /* nothing to check */
    sel = vmc_selection_of(o, 0);
    sel.all = sel.include_disabled = !o->nargs; /* none named: all */
    if (!(sites = vmc_select(&t, &sel, o->pool, &why)))
        return vmc_fail(312, VMC_EXIT_USAGE, why);
    for (i = 0; i < sites->nelts; i++)
        failed += !check_one(o, &t, pl,
                             APR_ARRAY_IDX(sites, i, const vm_instance *), &q);
    fflush(stdout);
    if (failed)
        vmc_error(360, "%d instance(s) failed the check", failed);
    return failed ? VMC_EXIT_FAIL : VMC_EXIT_OK;
}
