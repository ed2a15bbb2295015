/* vcron's log lines: "vcron[pid]: VM002xx: text" on stderr, where cron and
 * systemd collect them.  Tags VM00200-VM00299 belong to vcron. */
#ifndef VC_LOG_H
#define VC_LOG_H

#define VC_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* tag is the number, e.g. 210 for VM00210. */
void vc_log(int tag, const char *fmt, ...) VC_PRINTF(2, 3);

/* The same line on an arbitrary descriptor (a cron's log file). */
void vc_log_fd(int fd, int tag, const char *fmt, ...) VC_PRINTF(3, 4);

#endif
