/* Passwords (password.c): a first factor only. A sign-in that starts with
 * a password ends with a passkey (or, with issue 14, another second
 * factor); a password never makes a session by itself (docs/people.md). */
#ifndef SD_PASSWORD_H
#define SD_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

#define SD_PASSWORD_MIN 12  /* characters (UTF-8 bytes counted as such) */
#define SD_PASSWORD_MAX 128

/* Makes the hash of no one's that unknown users are checked against, so
 * that the first sign-in is not the one that pays for it. Before the
 * sandbox; SIGNET_OK or SIGNET_ERR_CRYPTO. */
SIGNET_WUR signet_err sd_password_init(void);

/* NULL when password may be set (SD_PASSWORD_MIN..SD_PASSWORD_MAX bytes,
 * no control characters, not the user's name); otherwise why not. */
const char *sd_password_weak(const char *password, const char *user_name);

/* An argon2id hash of password (m = 19 MiB, t = 2, p = 1, a random 16-byte
 * salt; OWASP's minimum) into out, encoded. 0, or -1. */
int sd_password_hash(const char *password, char *out, size_t cap);

enum {
    SD_PW_BUSY = -1, /* every argon2 slot is taken: 503, retry */
    SD_PW_BAD = 0,
    SD_PW_OK = 1,
};

/* Checks password against encoded; with encoded NULL (no such user, no
 * password, a throttled name) against the hash of no one's, so that the
 * answer takes the same time. At most two run at once and an HTTP thread
 * never waits for a slot. One of SD_PW_*. */
int sd_password_verify(const char *encoded, const char *password);

/* Every attempt is charged, before the password is checked, to its name
 * in the tenant (5, then one a minute: whether or not the name exists,
 * so that the throttling tells nothing about it) and to the source
 * address (20, then one every 6 s). Returns the seconds the address must
 * wait (answer 429 with Retry-After) or 0; *name_over is 1 when the name
 * is over its budget (answer as for a wrong password). */
int64_t sd_password_throttle(const char *tenant, const char *name, int *name_over);

#endif
