/* A routed request's files: from its platform's code tree, and for a site
 * under a path, from under that path (/school1/login/index.php is the
 * tree's login/index.php).  r->uri stays as the client asked, so the
 * SCRIPT_NAME and PHP_SELF that mod_php and mod_proxy_fcgi derive from it
 * keep the path, as Moodle's wwwroot does; the file name, DOCUMENT_ROOT
 * and CONTEXT_* are the tree's.  Subrequests (mod_dir's index.php, the
 * PATH_TRANSLATED lookup) follow their main request. */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_request.h>
#include <apr_strings.h>
#include "mod_vmoodle.h"

static const vmoodle_note *routed(const request_rec *r)
{
    const vmoodle_note *n;

    for (; r; r = r->main)
        if ((n = ap_get_module_config(r->request_config, &vmoodle_module)))
            return !vmoodle_metrics_is_site(n) && (n->prefix || n->docroot)
                ? n
                : NULL;
    return NULL;
}

/* The part of uri under the path site's prefix ("" -> "/"); NULL when
 * uri is not under it. */
static const char *under_prefix(const char *uri, const char *prefix)
{
    while (*prefix && *uri == *prefix) /* a few bytes: no strlen, strncmp */
        uri++, prefix++;
    if (*prefix || (*uri && *uri != '/'))
        return NULL;
    return *uri ? uri : "/";
}

/* tree then uri, as apr_pstrcat(p, tree, uri, NULL) without its varargs
 * and its second pass: every request of a path or platform site. */
static char *join(apr_pool_t *p, const char *tree, const char *uri)
{
    size_t a = strlen(tree), b = strlen(uri);
    char *out = apr_palloc(p, a + b + 1);

    memcpy(out, tree, a);
    memcpy(out + a, uri, b + 1);
    return out;
}

int vmoodle_translate(request_rec *r)
{
    const vmoodle_note *n = routed(r);
    const char *uri = r->uri, *tree;

    if (!n || !uri || uri[0] != '/')
        return DECLINED;
    if (n->prefix) {
        const char *rest = under_prefix(uri, n->prefix);
        /* the path was normalised out of the site ("/school1/../x"):
         * neither this site's file nor, with its variables, another's;
         * an internal redirect (ErrorDocument /error/index.php) names a
         * file of the site's tree */
        if (!rest && !r->main && !r->prev)
            return HTTP_NOT_FOUND;
        uri = rest ? rest : uri;
    }
    tree = n->docroot ? n->docroot : ap_document_root(r);
    if (n->docroot)
        ap_set_document_root(r, tree);
    ap_set_context_info(r, n->prefix ? n->prefix : "", tree);
    r->filename = join(r->pool, tree, uri);
    return OK;
}
