/* SetHandler vmoodle-health: for a balancer's health check.  200 while
 * this process has an instance table to route with (even one the source
 * has not confirmed lately: the last table keeps serving), 503 while it
 * has none.  One line of plain text; never a host, a source or a
 * password. */
#include "mod_vmoodle.h"
#include <http_protocol.h>
#include <apr_strings.h>

/* The table this server routes with; a server that routes nothing (a
 * virtual host kept for checks) answers for the first table of the
 * configuration. */
static vmoodle_table *table_of(request_rec *r)
{
    vmoodle_server_conf *c = VMOODLE_CONF(r->server);

    return c->table ? c->table : vmoodle_tables_first();
}

int vmoodle_health_handler(request_rec *r)
{
    vmoodle_table *t;
    const vm_snapshot *snap;
    vmoodle_refresh_info info;

    if (!r->handler || strcmp(r->handler, "vmoodle-health") != 0)
        return DECLINED;
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_type(r, "text/plain; charset=utf-8");
    t = table_of(r);
    snap = t ? vmoodle_table_acquire(t, r) : NULL;
    if (!snap) {
        r->status = HTTP_SERVICE_UNAVAILABLE;
        ap_rputs(t ? "unavailable: no instance table loaded\n"
                   : "unavailable: no instance table configured\n",
                 r);
        return OK;
    }
    vmoodle_table_info_get(t, &info);
    ap_rprintf(r,
               "ok generation=%" APR_UINT64_T_FMT " instances=%u "
               "refresh=%s\n",
               (apr_uint64_t)vm_snapshot_generation(snap),
               (unsigned)vm_snapshot_count(snap), info.ok ? "ok" : "failing");
    return OK;
}
