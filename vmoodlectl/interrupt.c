/* The flag set by INT, TERM and HUP. */
#include <signal.h>
#include <string.h>
#include "interrupt.h"

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
    caught = sig;
}

void vmc_interrupt_install(void)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
    struct sigaction sa;
    size_t i;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: blocked reads end early */
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

int vmc_interrupted(void)
{
    return caught;
}

int vmc_interrupt_check(const char **err)
{
    if (!caught)
        return 0;
    *err = "interrupted by a signal";
    return -1;
}

int vmc_interrupt_hold(void)
{
    int sig = caught;
    caught = 0;
    return sig;
}

void vmc_interrupt_resume(int sig)
{
    if (sig && !caught)
        caught = sig;
}
