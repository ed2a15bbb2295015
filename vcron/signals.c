/* Synchronous signals, see signals.h. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include "signals.h"
#include "log.h"

static sigset_t watched;
static int stopping, reload;

/* SIGCHLD's default action is to discard it; a handler keeps it pending
 * while blocked, for sigtimedwait to see. */
static void ignore_chld(int sig)
{
    (void)sig;
}

void vc_signals_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ignore_chld;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&watched);
    sigaddset(&watched, SIGTERM);
    sigaddset(&watched, SIGINT);
    sigaddset(&watched, SIGHUP);
    sigaddset(&watched, SIGCHLD);
    sigprocmask(SIG_BLOCK, &watched, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void note(int sig)
{
    if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
        stopping = 1;
        vc_log(211, "%s: starting no new cron, letting running ones end",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
    } else if (sig == SIGHUP) {
        reload = 1;
        vc_log(240, "SIGHUP: re-reading the configuration and the table");
    }
}

void vc_signals_wait(long ms)
{
    if (ms < 0)
        ms = 0;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    int sig = sigtimedwait(&watched, NULL, &ts);
    /* Collect whatever else is pending without waiting again. */
    struct timespec zero = { 0, 0 };
    for (int n = 0; sig > 0 && n < 8; n++) {
        note(sig);
        sig = sigtimedwait(&watched, NULL, &zero);
    }
}

int vc_signals_stopping(void)
{
    return stopping;
}

int vc_signals_take_reload(void)
{
    int r = reload;
    reload = 0;
    return r;
}
