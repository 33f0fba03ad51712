/* The signer: the only process holding the PIN and talking to the HSM.
 * It serves typed frames on one socket and enforces its policy itself. */
#ifndef SG_SIGNER_H
#define SG_SIGNER_H

#include <stdint.h>

#include "common/config.h"
#include "signet/error.h"
#include "util/buf.h"

struct sg_signer;

/* Loads <state_dir>/signet.conf, the PIN, the PKCS#11 module, the store and
 * the audit log. errbuf gets a sentence on failure (never a secret). */
SIGNET_WUR signet_err sg_signer_open(const char *state_dir, struct sg_signer **out, char *errbuf,
                                     size_t errlen);
void sg_signer_close(struct sg_signer **s);
const struct sg_config *sg_signer_config(const struct sg_signer *s);

/* Serves frames on fd, for a peer of sg_signer_set_role's role, until the
 * peer closes it (SIGNET_OK) or sends something malformed or not permitted
 * (SIGNET_ERR_BAD_FRAME: the connection is dropped). */
SIGNET_WUR signet_err sg_signer_serve(struct sg_signer *s, int fd);

/* Serves two channels: the primary fd, whose peer has role (the front end
 * or an administrator), and, when mon_fd >= 0, the monitor's (role
 * SG_ROLE_MONITOR). Each batch is read from and answered on one channel,
 * with that channel's role: the message table, the rate limits and the
 * audit records' "role"/"source" are per channel. When the monitor's
 * channel ends (closed, an I/O error, a malformed or refused frame) it is
 * closed and the primary is still served; the return is the primary's
 * outcome, as for sg_signer_serve. mon_fd is always closed by the time
 * this returns; fd stays the caller's. */
SIGNET_WUR signet_err sg_signer_serve2(struct sg_signer *s, int fd, unsigned role, int mon_fd);

/* Handles one request frame; the response payload (status first) is
 * appended to resp. Sign records are staged in the audit log and made
 * durable by sg_signer_flush(). Exposed for tests and the fuzzer. */
SIGNET_WUR signet_err sg_signer_handle(struct sg_signer *s, uint8_t type, const uint8_t *payload,
                                       size_t len, struct sg_wbuf *resp);
SIGNET_WUR signet_err sg_signer_flush(struct sg_signer *s);

/* Starts the signing threads ([hsm] sessions - 1 of them; the serving
 * thread signs too). Call after the sandbox is entered, so they inherit it. */
SIGNET_WUR signet_err sg_signer_start_workers(struct sg_signer *s);

/* Runs the lifecycle once (used at start-up and by `signet init`). */
SIGNET_WUR signet_err sg_signer_advance(struct sg_signer *s);
/* `signet audit reset`: starts a new audit chain when the log is lost
 * (sg_audit_reset; SIGNET_ERR_EXISTS when it is whole). */
SIGNET_WUR signet_err sg_signer_audit_reset(struct sg_signer *s, const char *reason, char *moved,
                                            size_t moved_len);

/* The primary channel's peer's role for sg_signer_serve and
 * sg_signer_handle (SG_ROLE_ADMIN unless the spawner said --role-front):
 * what it may send is the message table's business (common/ipc.c). */
void sg_signer_set_role(struct sg_signer *s, unsigned role);

/* Set by the sandbox: what hardening is in force (reported in STATUS;
 * landlock is the Landlock ABI version in force, 0 = none). */
void sg_signer_set_hardening(struct sg_signer *s, int seccomp, int dumpable, int mlocked,
                             int no_new_privs, int landlock);

#endif
