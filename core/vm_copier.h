/* The copier of a job's visible output (vm_job.h, VM_JOB_VISIBLE): what a
 * site's code writes reaches its log only through vm_text_visible, so no
 * escape sequence of a tenant's reaches the terminal that shows the log
 * (less -R, tail -f, cat).  A process of its own rather than a loop in
 * the engine's callers: every wait loop (vcron's tick of many jobs,
 * vmoodlectl's fleet, vm_job_wait) stays as it is, the pipe never fills
 * while the caller is busy elsewhere, and the tenant's bytes are read by a
 * process that holds nothing but the pipe and the log and runs as nobody.
 * The engine forks it (fork lives in vm_job.c only); this is its work. */
#ifndef VM_COPIER_H
#define VM_COPIER_H

/* From fd 0 (the child's pipe) to fd 1 (the log), control characters but
 * newline and tab made visible (a backslash as it is: text made visible
 * on its way is not escaped twice), until the pipe ends; once fd 2 (the
 * engine's, closed when it has reaped the child) ends, what is still in
 * the pipe and no more (a descendant that escaped the child's group keeps
 * no copier alive).  Returns the copier's exit code. */
int vm_copier_run(void);

#endif
