/* vcron takes its signals synchronously: TERM, INT, HUP and CHLD stay
 * blocked and are collected with sigtimedwait() wherever vcron waits, so no
 * handler ever runs in the middle of a tick. */
#ifndef VC_SIGNALS_H
#define VC_SIGNALS_H

void vc_signals_init(void);

/* Wait up to ms milliseconds, or until a signal arrives. */
void vc_signals_wait(long ms);

/* TERM or INT seen: start nothing new, let running crons end, exit. */
int vc_signals_stopping(void);

/* HUP seen since the last call: re-read the configuration and the table. */
int vc_signals_take_reload(void);

#endif
