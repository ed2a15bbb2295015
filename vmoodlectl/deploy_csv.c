/* deploy --from-csv FILE: many new sites, one CSV line each:
 *     host,fullname,shortname,template[,dbname[,dataroot]]
 * (a first line starting "host," is a header; fields may be "quoted" with
 * "" for a quote).  Every line is checked as deploy --dry-run checks one
 * site (template, database server, names free, dataroot), and the lines
 * against each other, before the first site is made; then the sites are
 * deployed as the fleet commands run sites: --jobs at once, a log each,
 * the summary.  --dry-run stops after the checks, printing each plan. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "csv.h"
#include "ctl.h"
#include "fleet.h"
#include "fleet_cmds.h"
#include "vm_cli.h"
#include "vm_file.h"
#include "vm_host.h"

#define CSV_MAX (4 * 1024 * 1024)
#define CSV_FIELDS 6

enum { C_HOST, C_FULLNAME, C_SHORTNAME, C_TEMPLATE, C_DBNAME, C_DATAROOT };

typedef struct {
    int line;
    const char *f[CSV_FIELDS]; /* "" when absent */
} csv_site;

static const char *parse_line(const char *text, int line, csv_site *site,
                              apr_pool_t *p)
{
    const char *why;
    int n;

    memset(site, 0, sizeof *site);
    site->line = line;
    if ((why = vmc_csv_split(text, CSV_FIELDS, site->f, &n, p)) != NULL)
        return why;
    if (n < 4)
        return "want host,fullname,shortname,template[,dbname[,dataroot]]";
    for (; n < CSV_FIELDS; n++)
        site->f[n] = "";
    return NULL;
}

/* The lines of the file, or NULL with *why naming the line. */
static apr_array_header_t *read_csv(const char *path, apr_pool_t *p,
                                    const char **why)
{
    apr_array_header_t *out = apr_array_make(p, 16, sizeof(csv_site));
    char *text, *line, *save;
    size_t len;
    int n = 0;

    if (vm_file_read(path, CSV_MAX, p, &text, &len, why) != VM_OK)
        return NULL;
    for (line = apr_strtok(text, "\n", &save); line;
         line = apr_strtok(NULL, "\n", &save)) {
        csv_site site;
        n++;
        line[strcspn(line, "\r")] = '\0';
        if (!*line || (n == 1 && !strncmp(line, "host,", 5)))
            continue;
        if ((*why = parse_line(line, n, &site, p)) != NULL) {
            *why = apr_psprintf(p, "%s:%d: %s", path, n, *why);
            return NULL;
        }
        APR_ARRAY_PUSH(out, csv_site) = site;
    }
    if (!out->nelts)
        *why = apr_psprintf(p, "%s: no site in it", path);
    return out->nelts ? out : NULL;
}

/* The flags deploy reads, for one line: the command's own, then the
 * line's. */
static void apply_line(vmc_opts *o, const vm_row *base, const csv_site *s)
{
    static const vm_field cols[] = { VM_F_VHOSTNAME, VM_F_NAME,
                                     VM_F_SHORTNAME, 0,
                                     VM_F_VDBNAME,   VM_F_VDATAPATH };
    o->fields = *base;
    for (int i = 0; i < CSV_FIELDS; i++)
        if (i != C_TEMPLATE && *s->f[i])
            vm_row_set(&o->fields, cols[i], s->f[i]);
    o->template_name = s->f[C_TEMPLATE];
}

/* The lines against each other: hosts, and the database names and
 * dataroots given, each once. */
static const char *check_distinct(const apr_array_header_t *sites,
                                  apr_pool_t *p)
{
    apr_hash_t *seen = apr_hash_make(p);

    for (int i = 0; i < sites->nelts; i++) {
        const csv_site *s = &APR_ARRAY_IDX(sites, i, csv_site);
        vm_url url;
        const char *keys[3], *why;
        if ((why = vm_host_parse_url(s->f[C_HOST], &url)) != NULL)
            return apr_psprintf(p, "line %d: host %s: %s", s->line,
                                s->f[C_HOST], why);
        keys[0] = apr_pstrcat(p, "host ", url.key, NULL);
        keys[1] = *s->f[C_DBNAME]
            ? apr_pstrcat(p, "database ", s->f[C_DBNAME], NULL)
            : NULL;
        keys[2] = *s->f[C_DATAROOT]
            ? apr_pstrcat(p, "dataroot ", s->f[C_DATAROOT], NULL)
            : NULL;
        for (int k = 0; k < 3; k++) {
            const int *first = keys[k]
                ? apr_hash_get(seen, keys[k], APR_HASH_KEY_STRING)
                : NULL;
            if (first)
                return apr_psprintf(p, "line %d: %s is on line %d too", s->line,
                                    keys[k], *first);
            if (keys[k])
                apr_hash_set(seen, keys[k], APR_HASH_KEY_STRING, &s->line);
        }
    }
    return NULL;
}

typedef struct {
    vmc_opts *o;
    vm_row base;
    apr_array_header_t *sites;
} csv_run;

/* Every line as deploy --dry-run: the plan printed, or why not. */
static int check_all(csv_run *r)
{
    int bad = 0, dry = r->o->dry_run;

    r->o->dry_run = 1;
    for (int i = 0; i < r->sites->nelts; i++) {
        const csv_site *s = &APR_ARRAY_IDX(r->sites, i, csv_site);
        apply_line(r->o, &r->base, s);
        vmc_say("line %d: %s", s->line, s->f[C_HOST]);
        if (vmc_cmd_deploy(r->o) != VMC_EXIT_OK) {
            vmc_error(780, "line %d (%s) refused", s->line, s->f[C_HOST]);
            bad++;
        }
    }
    r->o->dry_run = dry;
    return bad;
}

/* In the site's child (root, as deploy runs): deploy its line. */
static int deploy_line(const vmc_job *job, const vm_instance *in)
{
    csv_run *r = job->ctx;
    const csv_site *s = &APR_ARRAY_IDX(r->sites, in->id - 1, csv_site);

    apply_line(r->o, &r->base, s);
    return vmc_cmd_deploy(r->o) == VMC_EXIT_OK ? 0 : 1;
}

/* A stand-in instance per line for the fleet runner: its host names its
 * log and its summary line. */
static apr_array_header_t *line_sites(const csv_run *r)
{
    apr_pool_t *p = r->o->pool;
    apr_array_header_t *out = apr_array_make(p, r->sites->nelts,
                                             sizeof(vm_instance *));
    for (int i = 0; i < r->sites->nelts; i++) {
        const csv_site *s = &APR_ARRAY_IDX(r->sites, i, csv_site);
        vm_instance *in = apr_pcalloc(p, sizeof *in);
        vm_url url;
        vm_host_parse_url(s->f[C_HOST], &url);
        *in = vm_master;
        in->id = i + 1;
        in->key = apr_pstrdup(p, url.key);
        in->wwwroot = apr_pstrdup(p, url.wwwroot);
        APR_ARRAY_PUSH(out, const vm_instance *) = in;
    }
    return out;
}

int vmc_cmd_deploy_csv(vmc_opts *o)
{
    csv_run r = { o, o->fields, NULL };
    vmc_job job;
    vmc_table t;
    const char *why;
    int fg, rc, bad;
    if (o->template_name || o->fields.present[VM_F_VHOSTNAME])
        return vmc_fail(781, VMC_EXIT_USAGE,
                        "deploy --from-csv: the template "
                        "and the host come from each line");
    const char *path = o->from_csv;

    o->from_csv = NULL; /* each line is a plain deploy */
    if (!(r.sites = read_csv(path, o->pool, &why))
        || (why = check_distinct(r.sites, o->pool)) != NULL)
        return vmc_fail(782, VMC_EXIT_USAGE, why);
    if ((bad = check_all(&r)) != 0) {
        vmc_error(783, "%d of %d line(s) refused: no site made", bad,
                  r.sites->nelts);
        return VMC_EXIT_FAIL;
    }
    if (o->dry_run)
        return VMC_EXIT_OK;
    o->master = 1; /* the job's settings as for any fleet command; */
    if ((rc = vmc_job_prepare(o, "deploy", o->nargs, &t, &job, &fg))
        != VMC_EXIT_OK)
        return rc;
    vmc_job_stay(&job, o->pool);
    job.sites = line_sites(&r); /* its sites: the lines */
    job.work = deploy_line;
    job.ctx = &r;
    return vmc_fleet_run(&job, o->pool, NULL);
}
