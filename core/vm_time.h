/* Times as the programs print them (UTC, ISO 8601, to the second) and as
 * they measure them (a monotonic clock). */
#ifndef VM_TIME_H
#define VM_TIME_H

#define VM_TIME_TEXT 32   /* "2026-12-02T12:18:21Z" and its NUL, with room */

/* t (seconds since the epoch) into buf; "never" when t <= 0.  Returns
 * buf. */
char *vm_time_text(long long t, char buf[VM_TIME_TEXT]);

/* The one monotonic clock (timeouts, durations, progress): milliseconds
 * since an arbitrary start, never going back. */
long long vm_time_mono_ms(void);

#endif
