/* The launcher (see launcher.c): the privileged parent that starts the
 * signers for the front end, which can no longer choose their binary,
 * arguments, environment or account. */
#ifndef SD_LAUNCHER_H
#define SD_LAUNCHER_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "signet/error.h"
#include "signetd/chan.h"


/* How the launcher starts the monitor (monproc.c's sd_monproc_start, with
 * signetd's context): *ctl is the launcher's end of the monitor's control
 * channel, *pid the monitor. */
struct sd_monitor_starter {
    signet_err (*start)(void *user, pid_t front, int *ctl, pid_t *pid);
    void *user;
};

/* The launcher's loop: starts the monitor, serves the front end's
 * requests on ctl until the front end (pid front) exits, then stops the
 * signers and the monitor. Returns the front end's exit status as a
 * process exit code. */
int sd_launcher_run(const char *state_dir, int ctl, pid_t front,
                    const struct sd_monitor_starter *ms);

/* The front end's request: a fresh signer for slot; *fd is the front
 * end's end of its channel, *pid the signer's pid (for logs; the launcher
 * reaps it). SIGNET_ERR_SIGNER_GONE when the launcher could not start one. */
SIGNET_WUR signet_err sd_launcher_spawn(int ctl, unsigned slot, int *fd, pid_t *pid);

/* The front end's request: a channel to the monitor process (*pid its pid).
 * SIGNET_ERR_SIGNER_GONE when no monitor runs now (it is being restarted). */
SIGNET_WUR signet_err sd_launcher_monitor(int ctl, int *fd, pid_t *pid);

/* Readiness for systemd, sent by the launcher on the front end's word. */
#define SD_NOTIFY_READY 1u
#define SD_NOTIFY_RELOADING 2u
#define SD_NOTIFY_STOPPING 3u
void sd_launcher_notify(int ctl, unsigned what);

#endif
