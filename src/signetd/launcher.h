/* The launcher (see launcher.c): the privileged parent that starts the
 * signers for the front end, which can no longer choose their binary,
 * arguments, environment or account. */
#ifndef SD_LAUNCHER_H
#define SD_LAUNCHER_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "signet/error.h"

#define SD_MAX_SIGNERS 16

struct sd_ctx;

/* The launcher's loop: starts the monitor, serves the front end's
 * requests on ctl until the front end (pid front) exits, then stops the
 * signers and the monitor. Returns the front end's exit status as a
 * process exit code. */
int sd_launcher_run(struct sd_ctx *c, int ctl, pid_t front);

/* The front end's request: a fresh signer for slot; *fd is the front
 * end's end of its channel, *pid the signer's pid (for logs; the launcher
 * reaps it). SIGNET_ERR_SIGNER_GONE when the launcher could not start one. */
SIGNET_WUR signet_err sd_launcher_spawn(int ctl, unsigned slot, int *fd, pid_t *pid);

/* The front end's request: a channel to the monitor process (*pid its pid).
 * SIGNET_ERR_SIGNER_GONE when no monitor runs now (it is being restarted). */
SIGNET_WUR signet_err sd_launcher_monitor(int ctl, int *fd, pid_t *pid);

/* Messages with a descriptor: {b0, b1, pid (4 bytes, host order)}. */
#define SD_FD_MSG_LEN 6
#define SD_MOP_SIGNER 1u /* to the monitor: {SIGNER, slot, pid} + the signer's monitor channel */
#define SD_MOP_FRONT 2u  /* to the monitor: {FRONT, 0, front pid} + a channel from the front end */
SIGNET_WUR signet_err sd_fd_send(int sock, uint8_t b0, uint8_t b1, pid_t pid, int fd);
/* SIGNET_ERR_SIGNER_GONE at end of stream; SIGNET_ERR_BAD_FRAME for a
 * message of the wrong size (any descriptor with it is closed). *fd is -1
 * when none came. */
SIGNET_WUR signet_err sd_fd_recv(int sock, uint8_t msg[SD_FD_MSG_LEN], pid_t *pid, int *fd);

/* Readiness for systemd, sent by the launcher on the front end's word. */
#define SD_NOTIFY_READY 1u
#define SD_NOTIFY_RELOADING 2u
#define SD_NOTIFY_STOPPING 3u
void sd_launcher_notify(int ctl, unsigned what);

#endif
