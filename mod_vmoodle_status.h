/* The status page's query (?json, ?summary, ?q=, ?page=, ?per_page=,
 * ?overdue=) and its summary for monitors (mod_vmoodle_status_query.c),
 * shared with the page itself (mod_vmoodle_status.c). */
#ifndef MOD_VMOODLE_STATUS_H
#define MOD_VMOODLE_STATUS_H

#include "mod_vmoodle.h"
#include <cJSON.h>
#include "vm_cron_figures.h"
#include "vm_usage.h"

#define VMOODLE_STATUS_PER_PAGE 100      /* instances per page */
#define VMOODLE_STATUS_MAX_PER_PAGE 1000 /* the most ?per_page= gives */
#define VMOODLE_STATUS_WORST 10          /* sites in each summary list */
#define VMOODLE_STATUS_OVERDUE 3600      /* ?overdue= default, seconds */

typedef struct {
    int json, summary;
    const char *q;      /* search text; NULL: every instance */
    int page, per_page; /* page from 1 */
    long overdue;       /* seconds since the last cron */
} vmoodle_status_query;

/* 0 when a value is not understood (the handler answers 400). */
int vmoodle_status_parse(request_rec *r, vmoodle_status_query *q);
int vmoodle_status_matches(const vmoodle_status_query *q,
                           const vm_instance *in);
/* The cron figures beside the table's snapshot, NULL when unreadable. */
vm_cron_figures *vmoodle_status_cron_figures(vmoodle_table *t, apr_pool_t *p);
/* vmoodlectl usage's figures (VMoodleUsage), NULL when none is set or it
 * cannot be read (*err then says why, else NULL). */
vm_usage *vmoodle_status_usage(request_rec *r, const char **err);
/* Sites at or over VM_USAGE_WARN_PERCENT of their quota (the over ones
 * too) and over it. */
typedef struct {
    uint32_t warning, over;
} vmoodle_quota_counts;
/* in's figures added to its JSON o, counted in n (either may be NULL). */
void vmoodle_status_usage_add(const vm_usage *u, const vm_instance *in,
                              cJSON *o, vmoodle_quota_counts *n);
void vmoodle_status_quota_counts(cJSON *root, const vmoodle_quota_counts *n);
/* An instance's usage cell: "1.2 GiB of 5.0 GiB (91%)", marked WARNING
 * or OVER QUOTA; "" without figures. */
const char *vmoodle_status_usage_html(request_rec *r, const cJSON *o);
/* Counts and the worst sites (most 5xx, most overdue cron). */
cJSON *vmoodle_status_summary(request_rec *r, vmoodle_table *t,
                              const vm_snapshot *snap,
                              const vmoodle_status_query *q);

#endif
