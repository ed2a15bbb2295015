/* mod_vmoodle: hooks and per-request routing.
 *
 * In post_read_request (after mod_remoteip, before mod_setenvif and
 * mod_rewrite) the request's host is looked up in the mapped snapshot:
 * a known, enabled instance gets its VMOODLE_* variables; an unknown host
 * is to get 404 (or 421), a disabled instance 503, both with a page from
 * templates/errors.  A refusal is only decided there and answered from
 * the quick handler: an error returned by post_read_request makes
 * ap_read_request() give up on the connection after answering, without
 * Connection: close, and every request pipelined behind it is lost. */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include "mod_vmoodle.h"
#include "vm_env.h"
#include "vm_file.h"
#include "vm_version.h"
#include "vm_metrics.h"

/* ---- error pages ---------------------------------------------------- */

static vmoodle_page load_page(const char *dir, const char *name,
                              const char *fallback, apr_pool_t *p,
                              server_rec *s)
{
    const char *path = apr_pstrcat(p, dir, "/", name, NULL);
    const char *err, *mark;
    char *text;
    size_t len;
    vmoodle_page page;

    if (vm_file_read(path, 1 << 20, p, &text, &len, &err) != VM_OK) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     VMLOGNO(00013) "error page %s: %s; using a built-in page",
                     path, err);
        text = apr_pstrdup(p, fallback);
    }
    mark = strstr(text, "{{host}}");
    page.before = mark ? apr_pstrndup(p, text, (apr_size_t)(mark - text))
                       : text;
    page.after = mark ? mark + strlen("{{host}}") : "";
    return page;
}

static const char *render_page(request_rec *r, const vmoodle_page *page,
                               const char *host)
{
    return apr_pstrcat(r->pool, page->before, ap_escape_html2(r->pool, host, 1),
                       page->after, NULL);
}

/* ---- configuration -------------------------------------------------- */

static int resolve_servers(apr_pool_t *pconf, server_rec *main_s)
{
    server_rec *s;

    for (s = main_s; s; s = s->next) {
        vmoodle_server_conf *c = VMOODLE_CONF(s);

        vmoodle_apply_defaults(c);
        if (!c->engine)
            continue;
        if (!c->source) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         VMLOGNO(
                             00014) "VMoodleEngine On needs a VMoodleSource");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        c->table = vmoodle_table_get(pconf, s, c);
        c->metrics_tag = vmoodle_table_spec_of(c->table)->metrics_tag;
        c->unknown_page = load_page(c->error_pages, "unknown-host.html",
                                    "<h1>No such site</h1><p>{{host}}</p>",
                                    pconf, s);
        c->disabled_page = load_page(
            c->error_pages, "disabled.html",
            "<h1>Site under maintenance</h1><p>{{host}}</p>", pconf, s);
    }
    return OK;
}

static int vmoodle_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    int rv;

    (void)plog;
    (void)ptemp;
    /* The first of the two start-up passes only checks the configuration. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    if ((rv = resolve_servers(pconf, s)) != OK
        || (rv = vmoodle_metrics_post_config(pconf, s)) != OK)
        return rv;
    /* In the Server header (ServerTokens Full) and Apache's start-up line. */
    ap_add_version_component(pconf, "mod_vmoodle/" VMOODLE_VERSION);
    return vmoodle_refresh_post_config(pconf, s);
}

/* The VMOODLE_* names in a table of their own, made once per child: a
 * request adds it whole (apr_table_overlap's ADD: one copy of the entries
 * and of their index) and points its copies at the site's values, where
 * 13 apr_table_addn would each hash a name and push an entry. */
static apr_table_t *env_template;

static void vmoodle_child_init(apr_pool_t *pchild, server_rec *s)
{
    env_template = apr_table_make(pchild, VM_ENV_COUNT);
    for (int i = 0; i < VM_ENV_COUNT; i++)
        apr_table_addn(env_template, vm_env_names[i], "");
    vmoodle_tables_child_init(pchild, s);
    vmoodle_refresh_child_init(pchild, s);
}

/* ---- routing -------------------------------------------------------- */

/* The last element of a comma-separated header: proxies append. */
static const char *last_element(apr_pool_t *p, const char *list)
{
    const char *start = strrchr(list, ',');
    const char *end;

    start = start ? start + 1 : list;
    while (*start == ' ' || *start == '\t')
        start++;
    end = start + strlen(start);
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return apr_pstrndup(p, start, (apr_size_t)(end - start));
}

/* Who is at the other end of the TCP connection.  mod_remoteip rewrites
 * useragent_addr from a header or from a PROXY line (RemoteIPProxyProtocol)
 * anyone reaching the port can send; other modules (mod_rpaf) rewrite
 * client_addr itself.  The socket's own peer address nobody can forge. */
static apr_sockaddr_t *tcp_peer(conn_rec *c)
{
    apr_socket_t *sock = ap_get_conn_socket(c->master ? c->master : c);
    apr_sockaddr_t *sa;

    if (sock && apr_socket_addr_get(&sa, APR_REMOTE, sock) == APR_SUCCESS)
        return sa;
    return c->client_addr;
}

static int peer_trusted(const request_rec *r, const vmoodle_server_conf *c)
{
    apr_sockaddr_t *peer;
    int i;

    if (!c->trusted || c->trusted->nelts == 0)
        return 0;
    peer = tcp_peer(r->connection);
    for (i = 0; i < c->trusted->nelts; i++)
        if (apr_ipsubnet_test(APR_ARRAY_IDX(c->trusted, i, apr_ipsubnet_t *),
                              peer))
            return 1;
    return 0;
}

/* scheme is "https" (ap_http_scheme's answer: "http" or "https" almost
 * always; strcmp costs more than this on every request). */
static int is_https(const char *scheme)
{
    return scheme[0] == 'h' && scheme[1] == 't' && scheme[2] == 't'
        && scheme[3] == 'p' && scheme[4] == 's' && scheme[5] == '\0';
}

/* What the client asked for: X-Forwarded-* from a trusted proxy (its TCP
 * address, not one mod_remoteip rewrote), else the absolute request URI's
 * host, which wins over Host as in core, else the Host header. */
static const char *requested_host(request_rec *r, const vmoodle_server_conf *c,
                                  int *https)
{
    const char *v;

    *https = is_https(ap_http_scheme(r));
    if (peer_trusted(r, c)) {
        if ((v = apr_table_get(r->headers_in, "X-Forwarded-Proto")) != NULL) {
            v = last_element(r->pool, v);
            *https = strcasecmp(v, "https") == 0;
        }
        if ((v = apr_table_get(r->headers_in, "X-Forwarded-Host")) != NULL)
            return last_element(r->pool, v);
    }
    if (r->parsed_uri.hostname) {
        const char *h = r->parsed_uri.hostname;
        if (strchr(h, ':'))
            h = apr_pstrcat(r->pool, "[", h, "]", NULL);
        return r->parsed_uri.port_str
            ? apr_pstrcat(r->pool, h, ":", r->parsed_uri.port_str, NULL)
            : h;
    }
    return apr_table_get(r->headers_in, "Host");
}

/* The values are ready in the snapshot, which this request holds mapped
 * until its pool is destroyed (vmoodle_table_acquire), and the names are
 * constants: added without a copy, and without a scan, since nothing has
 * set a VMOODLE_* variable yet (post_read_request, first of the
 * environment's writers; an internal redirect renames the earlier ones
 * REDIRECT_*).  The same entries, in the same order, as one
 * apr_table_addn per name would make (env_template). */
static void set_instance_env(request_rec *r, const vm_snapshot *snap,
                             const vm_snapshot_entry *e)
{
    const apr_array_header_t *env;
    apr_table_entry_t *added;

    apr_table_overlap(r->subprocess_env, env_template, APR_OVERLAP_TABLES_ADD);
    env = apr_table_elts(r->subprocess_env); /* ADD appends, never merges */
    added = (apr_table_entry_t *)(void *)env->elts + env->nelts - VM_ENV_COUNT;
    vm_snapshot_entry_env_into(snap, e, &added->val, sizeof *added);
}

/* The master: VMOODLE_MASTER=1 and its settings (VMoodleMasterConfig),
 * as an instance gets its own: config.php holds no password. */
static void set_master_env(request_rec *r, const vmoodle_server_conf *c)
{
    apr_table_setn(r->subprocess_env, VM_ENV_MASTER, "1");
    for (int i = 0; c->master_env && i < c->master_env->nelts; i++) {
        const vm_env_var *v = &APR_ARRAY_IDX(c->master_env, i, vm_env_var);
        apr_table_setn(r->subprocess_env, v->name, v->value);
    }
}

/* The request's note, made on first use.  The module config of a request
 * is NULL, a note, or (a routed request needing no note: nothing is
 * allocated) its site's counters (vmoodle_metrics_is_site), which then
 * move into the note. */
static vmoodle_note *note_of(request_rec *r)
{
    void *cfg = ap_get_module_config(r->request_config, &vmoodle_module);
    vmoodle_note *n = cfg;

    if (!cfg || vmoodle_metrics_is_site(cfg)) {
        n = apr_pcalloc(r->pool, sizeof *n);
        n->counters = cfg;
        ap_set_module_config(r->request_config, &vmoodle_module, n);
    }
    return n;
}

/* Note that the request is to be answered with status and one of our
 * pages, never with any instance's content; reason: its counter
 * (VM_METRICS_*).  On an internal redirect (r->prev) nothing is refused:
 * that is the error document of an earlier answer, or a redirect whose
 * first request already routed. */
static int note_refusal(request_rec *r, int status, const vmoodle_page *page,
                        const char *host, int reason)
{
    vmoodle_note *no;

    if (r->prev)
        return DECLINED;
    no = note_of(r);
    no->status = status;
    no->page = page;
    no->host = host;
    vmoodle_metrics_refusal(r, reason);
    return DECLINED;
}

/* 301 to url (an alias, or a path site asked for without its slash). */
static int redirect(request_rec *r, const char *url)
{
    if (r->prev)
        return DECLINED;
    note_of(r)->status = HTTP_MOVED_PERMANENTLY;
    note_of(r)->location = url;
    return DECLINED;
}

/* Answer a refused request inside ordinary request processing, where an
 * error keeps the connection as for any other 404 (or closes it saying
 * Connection: close, as Apache does for a 400).  First of all quick
 * handlers, so no cache answers for a host we refuse. */
static int vmoodle_answer_refusal(request_rec *r, int lookup)
{
    const vmoodle_server_conf *c = VMOODLE_CONF(r->server);
    const vmoodle_note *no;

    (void)lookup;
    no = ap_get_module_config(r->request_config, &vmoodle_module);
    if (!no || vmoodle_metrics_is_site(no) || !no->status)
        return DECLINED;
    if (no->location) {
        apr_table_setn(r->headers_out, "Location", no->location);
        return no->status;
    }
    if (no->status == HTTP_SERVICE_UNAVAILABLE)
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, c->retry_after));
    if (!no->page)
        return no->status;
    /* Our page, written here rather than as a custom response: Apache
     * sends those as iso-8859-1, and the pages are UTF-8.  No filter is
     * in place yet in a quick handler: insert them (mod_headers' Header
     * always, say), as mod_cache does. */
    ap_run_insert_filter(r);
    r->status = no->status;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rputs(render_page(r, no->page, no->host), r);
    return OK;
}

/* The server's own name (its status page, say) is no instance: it passes
 * through when no instance claims it, table loaded or not. */
static int is_server_name(const request_rec *r)
{
    return r->hostname && r->server->server_hostname
        && strcasecmp(r->hostname, r->server->server_hostname) == 0;
}

/* The path that picks the site: the client's.  An internal redirect (an
 * ErrorDocument, say) stays on the site its first request reached. */
static const char *site_path(const request_rec *r)
{
    while (r->prev)
        r = r->prev;
    return r->parsed_uri.path;
}

/* The site's URL for this request: its wwwroot, the request's path
 * under the matched key (the whole path for a host), its query. */
static const char *site_url(request_rec *r, const vm_snapshot *snap,
                            const vm_snapshot_entry *in, size_t prefix)
{
    const char *rest = site_path(r) ? site_path(r) + prefix : "";

    return apr_pstrcat(r->pool, vm_snapshot_entry_wwwroot(snap, in),
                       *rest ? rest : "/", r->args ? "?" : "",
                       r->args ? r->args : "", NULL);
}

/* Where translate_name finds the site's files: its platform's tree (a
 * platform missing from VMoodlePlatforms: 503, never another tree's
 * code), under its path. */
static int place_files(request_rec *r, const vmoodle_server_conf *c,
                       const vm_snapshot *snap, const vm_snapshot_entry *in,
                       const char *prefix)
{
    const char *name = vm_snapshot_entry_platform(snap, in);
    const char *tree = vm_platform_path(c->platforms, name, "");
    vmoodle_note *n;

    if (!tree) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      VMLOGNO(00150) "instance id %" APR_INT64_T_FMT
                                     ": platform '%s' is "
                                     "not in VMoodlePlatforms%s%s",
                      (apr_int64_t)vm_snapshot_entry_id(in),
                      ap_escape_logitem(r->pool, name),
                      c->platforms_file ? " " : "",
                      c->platforms_file ? c->platforms_file : "");
        note_refusal(r, HTTP_SERVICE_UNAVAILABLE, NULL, "",
                     VM_METRICS_NO_PLATFORM);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!*tree && !*prefix)
        return OK; /* the DocumentRoot, as before */
    n = note_of(r);
    n->docroot = *tree ? tree : NULL;
    n->prefix = *prefix ? prefix : NULL; /* the request holds the snapshot */
    return OK;
}

static int vmoodle_route(request_rec *r)
{
    vmoodle_server_conf *c = VMOODLE_CONF(r->server);
    const vm_snapshot *snap;
    const char *raw, *why;
    char key[VM_KEY_MAX];
    const vm_snapshot_entry *in;
    vm_snapshot_route_result to;
    size_t keylen;
    uint32_t hash;
    int https;

    if (!c->engine || !c->table)
        return DECLINED;
    if (!(raw = requested_host(r, c, &https)))
        return note_refusal(r, c->unknown_status, &c->unknown_page, "",
                            VM_METRICS_UNKNOWN_HOST);
    if ((why = vm_host_request_key_hashed(raw, strlen(raw), https, key,
                                          sizeof key, &keylen, &hash))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      VMLOGNO(00015) "refusing host '%s': %s",
                      ap_escape_logitem(r->pool, raw), why);
        return note_refusal(r, HTTP_BAD_REQUEST, NULL, raw,
                            VM_METRICS_BAD_HOST);
    }
    /* TLS ended at a trusted proxy: tell PHP as mod_ssl would, or Moodle
     * sees http for an https wwwroot and redirects for ever. */
    if (https && !is_https(ap_http_scheme(r)))
        apr_table_setn(r->subprocess_env, "HTTPS", "on");
    if (c->master_key && strcmp(key, c->master_key) == 0) {
        set_master_env(r, c);
        vmoodle_metrics_note_site(r, c->metrics_tag, VM_METRICS_MASTER);
        return DECLINED;
    }
    if (!(snap = vmoodle_table_acquire(c->table, r))) {
        if (is_server_name(r))
            return DECLINED; /* the status page says why */
        /* VM00007 said so once at start-up: not an error per request */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      VMLOGNO(00016) "host %s: no instance table loaded", key);
        return note_refusal(r, HTTP_SERVICE_UNAVAILABLE, NULL, key,
                            VM_METRICS_NO_TABLE);
    }
    if (!vm_snapshot_route_hashed(snap, key, keylen, hash, site_path(r), &to)) {
        if (is_server_name(r))
            return DECLINED;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      VMLOGNO(00017) "unknown host %s", key);
        return note_refusal(r, c->unknown_status, &c->unknown_page, key,
                            VM_METRICS_UNKNOWN_HOST);
    }
    in = to.site;
    if (to.alias)
        return redirect(r, site_url(r, snap, in, to.prefix));
    if (!vm_snapshot_entry_enabled(in)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      VMLOGNO(00018) "instance %s (id %" APR_INT64_T_FMT
                                     ") is disabled",
                      key, (apr_int64_t)vm_snapshot_entry_id(in));
        return note_refusal(r, HTTP_SERVICE_UNAVAILABLE, &c->disabled_page, key,
                            VM_METRICS_DISABLED);
    }
    if (to.prefix && site_path(r)[to.prefix] == '\0')
        return redirect(r, site_url(r, snap, in, to.prefix));
    if (place_files(r, c, snap, in, to.path) != OK)
        return DECLINED;
    set_instance_env(r, snap, in);
    vmoodle_metrics_note_site(r, c->metrics_tag, vm_snapshot_entry_id(in));
    return DECLINED;
}

/* The module's handlers behind one hook: every request of the server
 * passes through the handler hooks, and most are no handler of ours. */
static int vmoodle_handlers(request_rec *r)
{
    int rv;

    if (!r->handler || r->handler[0] != 'v'
        || strncmp(r->handler, "vmoodle-", 8) != 0)
        return DECLINED;
    if ((rv = vmoodle_status_handler(r)) == DECLINED
        && (rv = vmoodle_health_handler(r)) == DECLINED)
        rv = vmoodle_prometheus_handler(r);
    return rv;
}

static void vmoodle_register_hooks(apr_pool_t *p)
{
    static const char *const after[] = { "mod_remoteip.c", NULL };
    static const char *const before[] = { "mod_setenvif.c", "mod_rewrite.c",
                                          NULL };

    (void)p;
    ap_hook_post_config(vmoodle_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* before mod_watchdog's child_init starts the refresher thread */
    ap_hook_child_init(vmoodle_child_init, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_post_read_request(vmoodle_route, after, before, APR_HOOK_MIDDLE);
    ap_hook_quick_handler(vmoodle_answer_refusal, NULL, NULL,
                          APR_HOOK_REALLY_FIRST);
    /* after mod_rewrite and mod_alias, before core's DocumentRoot */
    ap_hook_translate_name(vmoodle_translate, NULL, NULL, APR_HOOK_LAST);
    ap_hook_handler(vmoodle_handlers, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(vmoodle_metrics_log, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(vmoodle) = { STANDARD20_MODULE_STUFF,
                               NULL, /* per-directory config: none */
                               NULL,
                               vmoodle_create_server_conf,
                               vmoodle_merge_server_conf,
                               vmoodle_directives,
                               vmoodle_register_hooks,
                               AP_MODULE_FLAG_NONE };
