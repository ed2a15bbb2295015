/* Ctrl-C, TERM or HUP during a snapshot or deploy must still undo what was
 * done: the signal only sets a flag, the long loops and the steps check it
 * and fail, and the normal undo runs. */
#ifndef VMOODLECTL_INTERRUPT_H
#define VMOODLECTL_INTERRUPT_H

void vmc_interrupt_install(void);
/* The signal received, or 0. */
int vmc_interrupted(void);
/* -1 with *err set when a signal came, else 0: between steps. */
int vmc_interrupt_check(const char **err);

/* An undo that runs steps of its own (upgrade --to --backup's restore)
 * after an interrupt: the signal is set aside so they run (a new one
 * still stops them); vmc_interrupt_resume(the returned signal) puts it
 * back once they are done. */
int vmc_interrupt_hold(void);
void vmc_interrupt_resume(int sig);

#endif
