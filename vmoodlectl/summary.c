/* The end-of-run table of the fleet commands, see summary.h. */
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>
#include "ctl.h"
#include "summary.h"
#include "vm_text.h"

#define LINE_COLUMN 100
#define TAIL_BYTES 4096

const char *vmc_last_line(const char *text, size_t len, size_t max,
                          apr_pool_t *p)
{
    size_t end = len, start;
    while (end > 0
           && (text[end - 1] == '\n' || text[end - 1] == '\r'
               || text[end - 1] == ' ' || text[end - 1] == '\t'))
        end--;
    start = end;
    while (start > 0 && text[start - 1] != '\n')
        start--;
    size_t n = end - start, keep = n > max ? (max > 3 ? max - 3 : 0) : n;
    /* Moodle's output, the tenant's: control characters made visible.  A
     * log the job engine wrote (VM_JOB_VISIBLE) has none left: it is
     * shown as it is, not escaped twice. */
    const char *line = apr_pstrndup(p, text + start, keep);
    if (vm_text_has_control(line) || strlen(line) < keep)
        line = vm_text_visible_n(text + start, keep, NULL, p);
    return keep < n ? apr_pstrcat(p, line, "...", NULL) : line;
}

const char *vmc_log_last_line(const char *path, size_t max, apr_pool_t *p)
{
    char buf[TAIL_BYTES];
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    if (fd < 0)
        return "";
    off_t size = lseek(fd, 0, SEEK_END);
    ssize_t n = pread(fd, buf, sizeof buf,
                      size > TAIL_BYTES ? size - TAIL_BYTES : 0);
    close(fd);
    return n > 0 ? vmc_last_line(buf, (size_t)n, max, p) : "";
}

int vmc_exit_code(int wait_status)
{
    return WIFEXITED(wait_status)  ? WEXITSTATUS(wait_status)
        : WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status)
                                   : 255;
}

vmc_tally vmc_summary_tally(const vmc_site_result *r, int n)
{
    vmc_tally t = { 0, 0, 0, 0, 0 };
    for (int i = 0; i < n; i++) {
        if (r[i].state == VMC_SITE_RUNNING)
            t.running++;
        else if (r[i].state == VMC_SITE_WAITING)
            t.waiting++;
        else {
            int ok = r[i].ok && !r[i].timed_out; /* late is never good */
            t.done++;
            t.ok += ok;
            t.failed += !ok;
        }
    }
    return t;
}

static const char *code_text(const vmc_site_result *r, char *buf, size_t size)
{
    if (r->state != VMC_SITE_DONE)
        return "-";
    snprintf(buf, size, "%d", r->code);
    return buf;
}

static const char *line_text(const vmc_site_result *r)
{
    if (r->state == VMC_SITE_WAITING)
        return "not started (interrupted or stopped)";
    if (r->timed_out)
        return "timed out";
    return r->last_line ? r->last_line : "";
}

void vmc_summary_print(FILE *out, const vmc_site_result *r, int n,
                       const char *log_dir)
{
    int width = 4;
    char code[16];
    for (int i = 0; i < n; i++)
        if ((int)strlen(r[i].in->key) > width)
            width = (int)strlen(r[i].in->key);
    fprintf(out, "%-*s %-6s %4s %8s  %s\n", width, "SITE", "RESULT", "EXIT",
            "SECONDS", "LAST LINE");
    for (int i = 0; i < n; i++) {
        const char *result = r[i].state == VMC_SITE_DONE && r[i].ok ? "ok"
            : r[i].state == VMC_SITE_WAITING                        ? "-"
                                                                    : "FAILED";
        fprintf(out, "%-*s %-6s %4s %8.1f  %.*s\n", width, r[i].in->key, result,
                code_text(&r[i], code, sizeof code), r[i].seconds, LINE_COLUMN,
                line_text(&r[i]));
    }
    vmc_tally t = vmc_summary_tally(r, n);
    fprintf(out, "%d site(s): %d ok, %d failed, %d not started", n, t.ok,
            t.failed, t.waiting + t.running);
    if (log_dir)
        fprintf(out, "; logs in %s", log_dir);
    fputc('\n', out);
    for (int i = 0; i < n; i++)
        if (r[i].state != VMC_SITE_WAITING && !r[i].ok && r[i].log_path)
            fprintf(out, "  %s failed: see %s\n", r[i].in->key, r[i].log_path);
    fflush(out);
}

int vmc_summary_exit(const vmc_site_result *r, int n)
{
    vmc_tally t = vmc_summary_tally(r, n);
    return t.ok == n ? VMC_EXIT_OK : VMC_EXIT_FAIL;
}
