/* Crash-safety testing: when SIGNET_FAULT names a fault point, the process
 * kills itself with SIGKILL there (as a power cut or kill -9 would). An
 * optional ":N" suffix fires at the Nth pass. Unset, a point costs a branch. */
#ifndef SG_FAULT_H
#define SG_FAULT_H

void sg_fault_init(void);
void sg_fault_point(const char *name);

#endif
