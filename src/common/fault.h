/* Crash-safety testing: when SIGNET_FAULT names a fault point, the process
 * kills itself with SIGKILL there (as a power cut or kill -9 would). An
 * optional ":N" suffix fires at the Nth pass; an "@MS" after the name makes
 * the point stall for MS milliseconds, once, instead (a slow HSM, a loaded
 * machine). Unset, a point costs a branch.
 *
 * Only a testing build (SIGNET_TESTING=1) has fault points: in a release
 * build both calls are empty macros, fault.c is not compiled and
 * SIGNET_FAULT is never read. */
#ifndef SG_FAULT_H
#define SG_FAULT_H

#if SIGNET_TESTING
void sg_fault_init(void);
void sg_fault_point(const char *name);
#else
#define sg_fault_init() ((void)0)
#define sg_fault_point(name) ((void)(name))
#endif

#endif
