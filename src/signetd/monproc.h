/* The monitor process (monproc.c): the invariant monitor, the alerts and
 * the emergency revoke, out of the process they watch. The launcher starts
 * it (under the monitor's account when root) and restarts it. */
#ifndef SD_MONPROC_H
#define SD_MONPROC_H

#include <sys/types.h>

#include "signet/error.h"

struct sd_ctx;

/* Forks the monitor. In the parent: *ctl is the launcher's end of the
 * monitor's control channel (SD_MOP_* messages, launcher.h), *pid the
 * child. The child never returns. front: the front end's pid (I8 reads
 * its /proc status). */
SIGNET_WUR signet_err sd_monproc_start(struct sd_ctx *c, pid_t front, int *ctl, pid_t *pid);

#endif
