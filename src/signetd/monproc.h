/* The monitor process (monproc.c): the invariant monitor, the alerts and
 * the emergency revoke, out of the process they watch. The launcher starts
 * it (under the monitor's account when root) and restarts it. */
#ifndef SD_MONPROC_H
#define SD_MONPROC_H

#include <sys/types.h>

#include "signet/error.h"

/* Forks the monitor (user: signetd's struct sd_ctx; a struct
 * sd_monitor_starter's start). In the parent: *ctl is the launcher's end of the
 * monitor's control channel (SD_MOP_* messages, chan.h), *pid the
 * child. The child never returns. front: the front end's pid (I8 reads
 * its /proc status). */
SIGNET_WUR signet_err sd_monproc_start(void *user, pid_t front, int *ctl, pid_t *pid);

#endif
