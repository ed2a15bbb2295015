/* Times as the programs print them, in UTC to the second: ISO 8601 for
 * machines (JSON, manifests), one format for humans (lastcron in
 * vmoodlectl list/show, vcron status, the status page), one for names
 * (backups, log folders); and as they
 * measure them (a monotonic clock). */
#ifndef VM_TIME_H
#define VM_TIME_H

#define VM_TIME_TEXT 32 /* "2026-12-02T12:18:21Z" and its NUL, with room */

/* t (seconds since the epoch) into buf; "never" when t <= 0.  Returns
 * buf. */
char *vm_time_text(long long t, char buf[VM_TIME_TEXT]);

/* The same for a human: "2026-12-02 12:18:21 UTC"; "never" when
 * t <= 0.  Returns buf. */
char *vm_time_human(long long t, char buf[VM_TIME_TEXT]);

/* The same for a file or folder name (no spaces or colons, sorts by
 * time): "20261202T121821Z", ISO 8601's basic form.  Returns buf. */
char *vm_time_stamp(long long t, char buf[VM_TIME_TEXT]);

/* The one monotonic clock (timeouts, durations, progress): milliseconds
 * since an arbitrary start, never going back. */
long long vm_time_mono_ms(void);

#endif
