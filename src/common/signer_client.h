/* The client side of a signer channel (the front end's, the monitor's, the
 * CLI's): starts signet-signer on a socketpair and exchanges frames with it.
 *
 * Thread-safe and pipelined: any number of threads may call
 * sg_signer_call/sg_signer_sign on one client at once. Each request goes out
 * as one whole frame with its own id (writes are serialised), so the signer
 * sees many requests at a time and serves them as one batch with one audit
 * fdatasync (group commit). Responses are matched to their callers by id:
 * whichever waiting caller holds the reader role reads the channel and hands
 * every response to its owner. A channel that fails (the signer died, a
 * write failed, a malformed or unsolicited response) is dropped for good:
 * every waiter, and every later call, gets SIGNET_ERR_SIGNER_GONE. */
#ifndef SG_SIGNER_CLIENT_H
#define SG_SIGNER_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "signet/error.h"

struct sg_signer_client;

/* Path of the signet-signer binary: $SIGNET_SIGNER (testing builds only),
 * else next to the running executable, else the build tree, else the
 * install path. */
const char *sg_signer_path(void);

SIGNET_WUR signet_err sg_signer_spawn(const char *state_dir, struct sg_signer_client **out);
/* SG_SPAWN_NO_ADVANCE: the signer skips its start-up lifecycle advance (for
 * a command that runs the lifecycle itself, e.g. rotate: otherwise a
 * rotation already due would happen first and the request would then mark
 * the key it just activated). */
#define SG_SPAWN_NO_ADVANCE 1u
/* SG_SPAWN_ROLE_FRONT: the peer is the front end, which may send only the
 * messages its role permits (src/common/ipc.c's table); otherwise the
 * peer is an administrator (the CLI, run by whoever may read the state). */
#define SG_SPAWN_ROLE_FRONT 2u
/* The signer's exit status when its token cannot sign with a key the key
 * store says is ACTIVE, even after fresh sessions (EX_TEMPFAIL): its view
 * of the token is beyond repair, a fresh signer loads the module anew. */
#define SG_SIGNER_EXIT_TOKEN_LOST 75
SIGNET_WUR signet_err sg_signer_spawn_ex(const char *state_dir, unsigned flags,
                                         struct sg_signer_client **out);
/* The launcher's half: starts a signer (as the signer's account when root)
 * and hands back the descriptor of the channel and the child's pid. The
 * signer gets its end of that channel as fd 3 ("--fd 3"). mon_fd >= 0 is
 * the signer's end of a second, already made channel, whose peer is the
 * monitor: the signer gets it as fd 4 ("--monitor-fd 4") and serves it
 * with the monitor's role (SG_ROLE_MONITOR); mon_fd stays the caller's, to
 * close once this returns. -1: no monitor channel. */
SIGNET_WUR signet_err sg_signer_spawn_fd(const char *state_dir, unsigned flags, int mon_fd,
                                         int *fd, pid_t *pid);
/* A client on a channel; reap: pid is our child, to wait for when freed. */
SIGNET_WUR signet_err sg_signer_client_adopt(int fd, pid_t pid, int reap,
                                             struct sg_signer_client **out);
/* Closes the channel and waits for the signer to exit. No call may be in
 * progress on c. */
void sg_signer_client_free(struct sg_signer_client **c);
pid_t sg_signer_client_pid(const struct sg_signer_client *c);
/* The channel's descriptor (tests that pipeline raw frames; not to be mixed
 * with concurrent calls). */
int sg_signer_client_fd(const struct sg_signer_client *c);

/* Sends one request and waits for its response; *status gets the signer's
 * verdict, *resp (malloc'd, NUL-terminated, may be NULL when empty) the
 * rest of the payload. A transport failure returns SIGNET_ERR_SIGNER_GONE. */
SIGNET_WUR signet_err sg_signer_call(struct sg_signer_client *c, uint8_t type,
                                     const uint8_t *payload, size_t len, signet_err *status,
                                     char **resp, size_t *resp_len);
/* Convenience: a request whose payload is one string, JSON back. */
SIGNET_WUR signet_err sg_signer_call_str(struct sg_signer_client *c, uint8_t type,
                                         const char *arg, signet_err *status, char **json);
/* Signs claims (a JSON object) for issuer; *token is malloc'd. */
SIGNET_WUR signet_err sg_signer_sign(struct sg_signer_client *c, const char *issuer,
                                     const char *alg, const char *claims, size_t claims_len,
                                     signet_err *status, char **token);

/* Asynchronous requests. The request goes out before the call returns and
 * its response is delivered by a reader thread (started by the first
 * asynchronous call on the client; synchronous calls keep working beside
 * it). SIGNET_OK: cb is called exactly once, from the reader thread, or
 * from this or another caller's thread when the channel fails (then with
 * err SIGNET_ERR_SIGNER_GONE); it must not block for long and may not free
 * the client. Any other return: the request was not sent and cb is never
 * called. sg_signer_client_free completes every pending callback (with
 * SIGNET_ERR_SIGNER_GONE) before it returns. */
/* resp (malloc'd, NUL-terminated, or NULL) belongs to the callback. */
typedef void (*sg_signer_call_cb)(void *user, signet_err err, signet_err status, char *resp,
                                  size_t resp_len);
SIGNET_WUR signet_err sg_signer_call_async(struct sg_signer_client *c, uint8_t type,
                                           const uint8_t *payload, size_t len,
                                           sg_signer_call_cb cb, void *user);
/* Signs asynchronously: cb gets the transport outcome, the signer's verdict
 * and, when both are SIGNET_OK, the malloc'd token (the callback owns it;
 * NULL otherwise). */
typedef void (*sg_signer_sign_cb)(void *user, signet_err err, signet_err status, char *token);
SIGNET_WUR signet_err sg_signer_sign_async(struct sg_signer_client *c, const char *issuer,
                                           const char *alg, const char *claims,
                                           size_t claims_len, sg_signer_sign_cb cb, void *user);
/* The same with the JWS typ named (the signer's policy decides the token's
 * form by it: "at+jwt" an access token, "JWT" an ID token); the call
 * above is this one with "at+jwt". */
SIGNET_WUR signet_err sg_signer_sign_typ_async(struct sg_signer_client *c, const char *issuer,
                                               const char *alg, const char *typ,
                                               const char *claims, size_t claims_len,
                                               sg_signer_sign_cb cb, void *user);
/* Asynchronous requests submitted whose callback has not returned yet. */
long sg_signer_client_pending(struct sg_signer_client *c);
/* Watches the channel from now on (its reader thread starts): fn(user)
 * runs once, on that thread, when the channel dies (the signer exited or
 * was killed, or the channel failed), whether or not a request was
 * pending; never after sg_signer_client_free has begun. fn must not block
 * for long nor free the client. SIGNET_ERR_SIGNER_GONE: already dead. */
SIGNET_WUR signet_err sg_signer_client_watch(struct sg_signer_client *c, void (*fn)(void *user),
                                             void *user);

#endif
