/* The launcher's channels (chan.c): the shape of the messages that carry a
 * descriptor, between the launcher and the front end (SPAWN and MONITOR
 * answers) and from the launcher to the monitor (SD_MOP_*). */
#ifndef SD_CHAN_H
#define SD_CHAN_H

#include <stdint.h>
#include <sys/types.h>

#include "signet/error.h"

#define SD_MAX_SIGNERS 16

/* {b0, b1, pid (4 bytes, host order)}, with at most one descriptor. */
#define SD_FD_MSG_LEN 6
#define SD_MOP_SIGNER 1u /* to the monitor: {SIGNER, slot, pid} + the signer's monitor channel */
#define SD_MOP_FRONT 2u  /* to the monitor: {FRONT, 0, front pid} + a channel from the front end */

/* fd < 0: no descriptor. Never blocks (SIGNET_ERR_IO when the peer's
 * buffer is full). */
SIGNET_WUR signet_err sd_fd_send(int sock, uint8_t b0, uint8_t b1, pid_t pid, int fd);
/* SIGNET_ERR_SIGNER_GONE at end of stream; SIGNET_ERR_BAD_FRAME for a
 * message of the wrong size (any descriptor with it is closed). *fd is -1
 * when none came. */
SIGNET_WUR signet_err sd_fd_recv(int sock, uint8_t msg[SD_FD_MSG_LEN], pid_t *pid, int *fd);

/* Forks with a SOCK_SEQPACKET channel between parent and child (stdio
 * flushed first). In the parent *pid is the child and *end the parent's
 * end; in the child *pid is 0 and *end the child's end. */
SIGNET_WUR signet_err sd_chan_fork(int *end, pid_t *pid);

#endif
