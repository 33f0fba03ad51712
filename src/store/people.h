/* People in the front store (issue 13): users, passkeys, enrolment links,
 * WebAuthn challenges, browser sessions, pending authorization requests
 * (including PAR), authorization codes and refresh tokens. SQLite today
 * (people_sqlite.c, on the front store's connection, schema 4); the same
 * functions over PostgreSQL later.
 *
 * Secrets that a browser or client presents (enrolment links, session
 * cookies, codes, refresh tokens, challenges) are never stored: only
 * SHA-256 of them, as 43 base64url characters (SG_PEOPLE_HASH_LEN), so a
 * copy of the store hands out nothing that works. Times are Unix seconds.
 * Every function takes the tenant: a row of one tenant is never seen
 * through another. Each mutating function is one transaction of its own
 * unless the caller holds one (sg_store_begin). NOT_FOUND covers absent,
 * expired, used and revoked alike, where the function says so. */
#ifndef SG_STORE_PEOPLE_H
#define SG_STORE_PEOPLE_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "store/model.h"

struct sg_store;

#define SG_PEOPLE_HASH_LEN 43   /* base64url SHA-256, no padding */
#define SG_PEOPLE_ID_MAX 48     /* user ids, sids, families, request ids */
#define SG_PEOPLE_NAME_MAX 128
#define SG_PEOPLE_EMAIL_MAX 256
#define SG_PEOPLE_CRED_ID_MAX 1023 /* WebAuthn credential id, bytes */
#define SG_PEOPLE_PUBKEY_MAX 1100  /* COSE_Key as the authenticator sent it */
#define SG_PEOPLE_AMR_MAX 64       /* space-separated RFC 8176 values */
#define SG_PEOPLE_ACR_MAX 64
#define SG_PEOPLE_URI_MAX 1024
#define SG_PEOPLE_SCOPE_MAX 1024
#define SG_PEOPLE_NONCE_MAX 256
#define SG_PEOPLE_STATE_MAX 512

/* ---- users ---------------------------------------------------------------- */

struct sg_user {
    char tenant[SG_STORE_TENANT_MAX];
    char id[SG_PEOPLE_ID_MAX];       /* the per-tenant `sub`: "u" + 22 base64url (random) */
    char name[SG_PEOPLE_NAME_MAX];   /* unique per tenant */
    char email[SG_PEOPLE_EMAIL_MAX]; /* may be empty */
    int disabled;
    int64_t created_at;
};

/* SIGNET_ERR_EXISTS when the name (or id) is taken in the tenant. */
SIGNET_WUR signet_err sg_people_user_add(struct sg_store *s, const struct sg_user *u);
SIGNET_WUR signet_err sg_people_user_get(struct sg_store *s, const char *tenant, const char *id,
                                         struct sg_user *out);
SIGNET_WUR signet_err sg_people_user_by_name(struct sg_store *s, const char *tenant,
                                             const char *name, struct sg_user *out);
/* Ordered by name; *out NULL (free() it either way) when n == 0. */
SIGNET_WUR signet_err sg_people_user_list(struct sg_store *s, const char *tenant,
                                          struct sg_user **out, size_t *n);
/* Disabling also revokes the user's sessions and refresh tokens. */
SIGNET_WUR signet_err sg_people_user_set_disabled(struct sg_store *s, const char *tenant,
                                                  const char *id, int disabled, int64_t now);
/* Removes the user and everything of theirs (passkeys, password, devices,
 * device codes, approvals, TOTP authenticators, pending second steps,
 * links, sessions, codes, refresh tokens). */
SIGNET_WUR signet_err sg_people_user_remove(struct sg_store *s, const char *tenant,
                                            const char *id);

/* ---- passwords (a first factor, never alone) ------------------------------- */

#define SG_PEOPLE_PWHASH_MAX 160 /* an argon2id encoded hash */

/* Sets the user's password hash (an encoded "$argon2id$..." string), or
 * removes it when hash is NULL. NOT_FOUND when the user is not there. */
SIGNET_WUR signet_err sg_people_password_set(struct sg_store *s, const char *tenant,
                                             const char *user_id, const char *hash,
                                             int64_t now);
/* The user's password hash: NOT_FOUND when they have none. */
SIGNET_WUR signet_err sg_people_password_get(struct sg_store *s, const char *tenant,
                                             const char *user_id,
                                             char hash[SG_PEOPLE_PWHASH_MAX]);

/* ---- second factors after a password (issue 14) ----------------------------- */

/* A first factor passed (a password): the page holds a random token, the
 * store its hash, for the second step (an approval on a device, a TOTP
 * code; a passkey uses a challenge instead). Five minutes; each wrong
 * second step counts a try. */
struct sg_mfa_pending {
    char tenant[SG_STORE_TENANT_MAX];
    char hash[SG_PEOPLE_HASH_LEN + 1];
    char user_id[SG_PEOPLE_ID_MAX];
    char req[SG_PEOPLE_ID_MAX];      /* the authorization request, "" = none */
    int64_t created_at;
    int64_t expires_at;
    int tries;
};

SIGNET_WUR signet_err sg_people_mfa_put(struct sg_store *s, const struct sg_mfa_pending *p);
/* A live one (NOT_FOUND: absent, expired, its user disabled or gone). */
SIGNET_WUR signet_err sg_people_mfa_get(struct sg_store *s, const char *tenant,
                                        const char *hash, int64_t now,
                                        struct sg_mfa_pending *out);
/* Counts a wrong second step; at max_tries the pending step is deleted and
 * the result is NOT_FOUND (the person starts again with the password). */
SIGNET_WUR signet_err sg_people_mfa_fail(struct sg_store *s, const char *tenant,
                                         const char *hash, int max_tries);
/* Deletes and returns a live one: a second take is NOT_FOUND. */
SIGNET_WUR signet_err sg_people_mfa_take(struct sg_store *s, const char *tenant,
                                         const char *hash, int64_t now,
                                         struct sg_mfa_pending *out);

/* ---- approver devices (signet-authenticator) ------------------------------------ */

#define SG_PEOPLE_DEVICE_NAME_MAX 64
#define SG_PEOPLE_JWK_MAX 512

struct sg_device {
    char tenant[SG_STORE_TENANT_MAX];
    char id[SG_PEOPLE_HASH_LEN + 1]; /* the device key's RFC 7638 thumbprint */
    char user_id[SG_PEOPLE_ID_MAX];
    char name[SG_PEOPLE_DEVICE_NAME_MAX];
    char jwk[SG_PEOPLE_JWK_MAX];     /* the public P-256 JWK, JSON text */
    int64_t created_at;
    int64_t last_used_at;
};

/* A one-time code to register a device to the user (its hash), valid
 * until expires_at; ends the user's other unused codes. */
SIGNET_WUR signet_err sg_people_device_code_create(struct sg_store *s, const char *tenant,
                                                   const char *user_id, const char *hash,
                                                   int64_t expires_at, int64_t now);
/* In one transaction: uses up the live code code_hash (NOT_FOUND when
 * absent, used, expired or its user disabled) and adds d with the code's
 * user (d->user_id is filled). EXISTS when the device id is registered
 * already (in any tenant); then the code is not used up. */
SIGNET_WUR signet_err sg_people_device_register(struct sg_store *s, const char *tenant,
                                                const char *code_hash, int64_t now,
                                                struct sg_device *d);
/* A device whose user is enabled (NOT_FOUND otherwise). */
SIGNET_WUR signet_err sg_people_device_get(struct sg_store *s, const char *tenant,
                                           const char *id, struct sg_device *out);
/* Ordered by creation; *out NULL (free() it either way) when n == 0. */
SIGNET_WUR signet_err sg_people_device_list(struct sg_store *s, const char *tenant,
                                            const char *user_id, struct sg_device **out,
                                            size_t *n);
SIGNET_WUR signet_err sg_people_device_used(struct sg_store *s, const char *tenant,
                                            const char *id, int64_t now);
/* NOT_FOUND when the user has no such device. */
SIGNET_WUR signet_err sg_people_device_remove(struct sg_store *s, const char *tenant,
                                              const char *user_id, const char *id);

/* ---- approval requests (number matching) ----------------------------------------- */

enum sg_approval_state {
    SG_APPROVAL_PENDING = 0,
    SG_APPROVAL_APPROVED = 1,
    SG_APPROVAL_DENIED = 2,   /* "deny" on the device */
    SG_APPROVAL_WRONG = 3,    /* a wrong number was typed: denied */
    SG_APPROVAL_REPORTED = 4, /* "this wasn't me": denied, sessions revoked */
    SG_APPROVAL_USED = 5,     /* approved, and the sign-in it allowed took place */
};

struct sg_approval {
    char tenant[SG_STORE_TENANT_MAX];
    char id[SG_PEOPLE_ID_MAX];
    char user_id[SG_PEOPLE_ID_MAX];
    char mfa_hash[SG_PEOPLE_HASH_LEN + 1]; /* the pending second step it answers */
    char number[4];                        /* two digits */
    char client_id[SG_STORE_CLIENT_ID_MAX]; /* "" when no application asked */
    char address[64];                      /* the sign-in's source address */
    char location[64];                     /* coarse, "" when not configured */
    char device_id[SG_PEOPLE_HASH_LEN + 1]; /* who answered, "" until then */
    int state;                             /* enum sg_approval_state */
    int64_t created_at;
    int64_t expires_at;
    int64_t answered_at;
};

/* Records a new pending approval unless, in the same transaction, the user
 * already had max_prompts created within window seconds before now
 * (SIGNET_ERR_BUSY: rate limited) or max_wrong answers in state WRONG
 * within lock seconds before now (SIGNET_ERR_PERMISSION: locked; *until
 * gets the end of the lock). */
SIGNET_WUR signet_err sg_people_approval_create(struct sg_store *s, const struct sg_approval *a,
                                                int64_t now, int64_t window, int max_prompts,
                                                int64_t lock, int max_wrong, int64_t *until);
/* The lock of sg_people_approval_create alone: SIGNET_ERR_PERMISSION with
 * *until when the user has max_wrong answers in state WRONG within lock
 * seconds before now, else SIGNET_OK. */
SIGNET_WUR signet_err sg_people_approval_locked(struct sg_store *s, const char *tenant,
                                                const char *user_id, int64_t now, int64_t lock,
                                                int max_wrong, int64_t *until);
SIGNET_WUR signet_err sg_people_approval_get(struct sg_store *s, const char *tenant,
                                             const char *id, struct sg_approval *out);
/* The user's pending, unexpired approvals, oldest first. */
SIGNET_WUR signet_err sg_people_approval_pending(struct sg_store *s, const char *tenant,
                                                 const char *user_id, int64_t now,
                                                 struct sg_approval **out, size_t *n);
/* Moves a pending, unexpired approval to state (APPROVED, DENIED, WRONG,
 * REPORTED) answered by device_id, or an APPROVED one to USED. NOT_FOUND
 * when absent or expired (a pending one past expires_at), EXISTS when it
 * was answered already (a second answer changes nothing). */
SIGNET_WUR signet_err sg_people_approval_set(struct sg_store *s, const char *tenant,
                                             const char *id, int state,
                                             const char *device_id, int64_t now);

/* ---- TOTP authenticators (RFC 6238; the seed sealed by the signer's HSM key) ----- */

#define SG_PEOPLE_SEALED_MAX 256

struct sg_totp {
    char tenant[SG_STORE_TENANT_MAX];
    char user_id[SG_PEOPLE_ID_MAX];
    char cred_id[SG_PEOPLE_ID_MAX];      /* random, names it to the signer */
    char sealed[SG_PEOPLE_SEALED_MAX];   /* base64url: only the signer opens it */
    int confirmed;                        /* a first code was checked */
    int64_t created_at;
    int64_t last_used_at;
};

/* Adds an unconfirmed one; the user's other unconfirmed ones go. */
SIGNET_WUR signet_err sg_people_totp_add(struct sg_store *s, const struct sg_totp *t);
/* The user's confirmed one, or with unconfirmed set the newest pending
 * one (NOT_FOUND otherwise). */
SIGNET_WUR signet_err sg_people_totp_get(struct sg_store *s, const char *tenant,
                                         const char *user_id, int unconfirmed,
                                         struct sg_totp *out);
/* Confirms cred_id, removing any other confirmed one of the user. */
SIGNET_WUR signet_err sg_people_totp_confirm(struct sg_store *s, const char *tenant,
                                             const char *user_id, const char *cred_id,
                                             int64_t now);
SIGNET_WUR signet_err sg_people_totp_used(struct sg_store *s, const char *tenant,
                                          const char *cred_id, int64_t now);
/* Every TOTP authenticator of the user (NOT_FOUND when none). */
SIGNET_WUR signet_err sg_people_totp_remove(struct sg_store *s, const char *tenant,
                                            const char *user_id);

/* ---- enrolment links ------------------------------------------------------ */

/* Records a new link (its hash) valid until expires_at, and ends every
 * other unused link of the user. */
SIGNET_WUR signet_err sg_people_enrol_create(struct sg_store *s, const char *tenant,
                                             const char *user_id, const char *hash,
                                             int64_t expires_at, int64_t now);
/* The user of an unused, unexpired link (NOT_FOUND otherwise). */
SIGNET_WUR signet_err sg_people_enrol_peek(struct sg_store *s, const char *tenant,
                                           const char *hash, int64_t now,
                                           char user_id[SG_PEOPLE_ID_MAX]);
/* The same, marking it used in the same transaction: a second consume of
 * one link is NOT_FOUND. */
SIGNET_WUR signet_err sg_people_enrol_consume(struct sg_store *s, const char *tenant,
                                              const char *hash, int64_t now,
                                              char user_id[SG_PEOPLE_ID_MAX]);

/* ---- passkeys --------------------------------------------------------------- */

#define SG_PASSKEY_UP 0x01u /* the flags of authenticator data (WebAuthn §6.1) */
#define SG_PASSKEY_UV 0x04u
#define SG_PASSKEY_BE 0x08u
#define SG_PASSKEY_BS 0x10u

struct sg_passkey {
    char tenant[SG_STORE_TENANT_MAX];
    char user_id[SG_PEOPLE_ID_MAX];
    uint8_t cred_id[SG_PEOPLE_CRED_ID_MAX];
    size_t cred_id_len;
    int alg;                                 /* COSE: -7 ES256, -8 EdDSA, -257 RS256 */
    uint8_t pubkey[SG_PEOPLE_PUBKEY_MAX];    /* the COSE_Key bytes */
    size_t pubkey_len;
    uint32_t sign_count;
    unsigned flags;                          /* SG_PASSKEY_* at registration, BS as last seen */
    char aaguid[37];
    char transports[64];                     /* space-separated, as the browser said */
    int64_t created_at;
    int64_t last_used_at;
};

/* SIGNET_ERR_EXISTS when the credential id is registered already (in any
 * tenant: WebAuthn §7.1 step 22 refuses a known credential id). */
SIGNET_WUR signet_err sg_people_passkey_add(struct sg_store *s, const struct sg_passkey *p);
SIGNET_WUR signet_err sg_people_passkey_get(struct sg_store *s, const char *tenant,
                                            const uint8_t *cred_id, size_t len,
                                            struct sg_passkey *out);
SIGNET_WUR signet_err sg_people_passkey_list(struct sg_store *s, const char *tenant,
                                             const char *user_id, struct sg_passkey **out,
                                             size_t *n);
/* After a verified assertion: the new counter, flags and time. */
SIGNET_WUR signet_err sg_people_passkey_used(struct sg_store *s, const char *tenant,
                                             const uint8_t *cred_id, size_t len,
                                             uint32_t sign_count, unsigned flags, int64_t now);

/* ---- WebAuthn challenges (single use) ------------------------------------ */

enum sg_challenge_kind { SG_CHALLENGE_REGISTER = 1, SG_CHALLENGE_AUTHENTICATE = 2 };

/* bind: what the challenge was issued for (the enrolment link's hash, the
 * authorization request id, or the session's hash), up to 63 chars. */
SIGNET_WUR signet_err sg_people_challenge_put(struct sg_store *s, const char *tenant,
                                              const char *hash, enum sg_challenge_kind kind,
                                              const char *bind, int64_t expires_at, int64_t now);
/* Deletes and returns it: NOT_FOUND when absent, expired, or of another
 * kind (a challenge is consumed by its first use, good or bad). */
SIGNET_WUR signet_err sg_people_challenge_take(struct sg_store *s, const char *tenant,
                                               const char *hash, enum sg_challenge_kind kind,
                                               int64_t now, char bind[64]);

/* ---- sessions ------------------------------------------------------------- */

struct sg_session {
    char tenant[SG_STORE_TENANT_MAX];
    char hash[SG_PEOPLE_HASH_LEN + 1]; /* of the cookie's value */
    char sid[SG_PEOPLE_ID_MAX];        /* public id: the `sid` claim, the CLI's handle */
    char user_id[SG_PEOPLE_ID_MAX];
    char acr[SG_PEOPLE_ACR_MAX];
    char amr[SG_PEOPLE_AMR_MAX];
    int64_t auth_time;                 /* last authentication with a factor */
    int64_t created_at;
    int64_t last_seen;
    int64_t idle_expires;              /* last_seen + idle timeout */
    int64_t expires_at;                /* absolute */
};

SIGNET_WUR signet_err sg_people_session_create(struct sg_store *s, const struct sg_session *x);
/* A live session by cookie hash (NOT_FOUND: absent, revoked, idle or past
 * its absolute end, or its user disabled). */
SIGNET_WUR signet_err sg_people_session_get(struct sg_store *s, const char *tenant,
                                            const char *hash, int64_t now,
                                            struct sg_session *out);
/* Extends the idle window (last_seen = now, idle_expires). */
SIGNET_WUR signet_err sg_people_session_touch(struct sg_store *s, const char *tenant,
                                              const char *hash, int64_t now,
                                              int64_t idle_expires);
/* Live sessions, user_id NULL = all of the tenant. */
SIGNET_WUR signet_err sg_people_session_list(struct sg_store *s, const char *tenant,
                                             const char *user_id, int64_t now,
                                             struct sg_session **out, size_t *n);
/* Revokes one session by sid, and the refresh tokens issued under it
 * (NOT_FOUND when no live one). */
SIGNET_WUR signet_err sg_people_session_revoke(struct sg_store *s, const char *tenant,
                                               const char *sid, int64_t now);
/* Every session and refresh token of the user; *n gets the sessions. */
SIGNET_WUR signet_err sg_people_session_revoke_user(struct sg_store *s, const char *tenant,
                                                    const char *user_id, int64_t now,
                                                    size_t *n);

/* ---- authorization requests (validated /authorize and PAR) ----------------- */

struct sg_authreq {
    char tenant[SG_STORE_TENANT_MAX];
    char id[SG_PEOPLE_ID_MAX];           /* random; PAR: the request_uri's tail */
    int par;                             /* 1: pushed, not yet used at /authorize */
    char client_id[SG_STORE_CLIENT_ID_MAX];
    char redirect_uri[SG_PEOPLE_URI_MAX];
    char scope[SG_PEOPLE_SCOPE_MAX];
    char state[SG_PEOPLE_STATE_MAX];
    char nonce[SG_PEOPLE_NONCE_MAX];
    char code_challenge[SG_PEOPLE_HASH_LEN + 1];
    char acr_values[256];
    char prompt[32];
    int64_t max_age;                     /* -1: none */
    int64_t expires_at;
};

SIGNET_WUR signet_err sg_people_authreq_put(struct sg_store *s, const struct sg_authreq *r);
SIGNET_WUR signet_err sg_people_authreq_get(struct sg_store *s, const char *tenant,
                                            const char *id, int64_t now, struct sg_authreq *out);
/* Deletes it (PAR: single use). NOT_FOUND when gone. */
SIGNET_WUR signet_err sg_people_authreq_delete(struct sg_store *s, const char *tenant,
                                               const char *id);

/* ---- authorization codes --------------------------------------------------- */

struct sg_authcode {
    char tenant[SG_STORE_TENANT_MAX];
    char hash[SG_PEOPLE_HASH_LEN + 1];
    char client_id[SG_STORE_CLIENT_ID_MAX];
    char redirect_uri[SG_PEOPLE_URI_MAX];
    char code_challenge[SG_PEOPLE_HASH_LEN + 1]; /* S256 */
    char user_id[SG_PEOPLE_ID_MAX];
    char sid[SG_PEOPLE_ID_MAX];
    char scope[SG_PEOPLE_SCOPE_MAX];
    char nonce[SG_PEOPLE_NONCE_MAX];
    char acr[SG_PEOPLE_ACR_MAX];
    char amr[SG_PEOPLE_AMR_MAX];
    int64_t auth_time;
    int64_t expires_at;
    int64_t used_at;                    /* 0: unused */
    char family[SG_PEOPLE_ID_MAX];      /* the refresh family issued from it, or "" */
};

SIGNET_WUR signet_err sg_people_code_put(struct sg_store *s, const struct sg_authcode *c);
/* Marks the code used (used_at = now) and returns it, in one transaction.
 * NOT_FOUND: no such code (or expired and unused). SIGNET_ERR_EXISTS: it
 * was used before; *out is filled so that the caller can revoke what the
 * first use issued (RFC 6749 §4.1.2). */
SIGNET_WUR signet_err sg_people_code_redeem(struct sg_store *s, const char *tenant,
                                            const char *hash, int64_t now,
                                            struct sg_authcode *out);
/* Records the refresh family the code's first use issued. */
SIGNET_WUR signet_err sg_people_code_set_family(struct sg_store *s, const char *tenant,
                                                const char *hash, const char *family);

/* ---- refresh tokens (rotated at each use) ---------------------------------- */

struct sg_refresh {
    char tenant[SG_STORE_TENANT_MAX];
    char hash[SG_PEOPLE_HASH_LEN + 1];
    char family[SG_PEOPLE_ID_MAX];
    char client_id[SG_STORE_CLIENT_ID_MAX];
    char user_id[SG_PEOPLE_ID_MAX];
    char sid[SG_PEOPLE_ID_MAX];
    char scope[SG_PEOPLE_SCOPE_MAX];
    char acr[SG_PEOPLE_ACR_MAX];
    char amr[SG_PEOPLE_AMR_MAX];
    int64_t auth_time;
    int64_t created_at;
    int64_t idle_expires;   /* this token's own end */
    int64_t family_expires; /* absolute end of the family */
    /* A public client's family bound to a DPoP key (RFC 9449 §5): the
     * key's JWK SHA-256 thumbprint (base64url), "" when unbound. */
    char jkt[SG_PEOPLE_HASH_LEN + 1];
};

SIGNET_WUR signet_err sg_people_refresh_put(struct sg_store *s, const struct sg_refresh *r);
/* Rotation, in one transaction: old_hash must be live (not rotated, not
 * revoked, not expired, its family live, its session (if any) live): it is
 * marked rotated and *next is inserted; *old gets the old row. The caller
 * fills next->hash, created_at and idle_expires; the function copies
 * every other member (family, client, user, sid, scope, acr, amr,
 * auth_time, family_expires, jkt) from the old row. A rotated token presented again
 * revokes its whole family and returns SIGNET_ERR_EXISTS (reuse,
 * RFC 9700 §4.14.2); anything else is NOT_FOUND. */
SIGNET_WUR signet_err sg_people_refresh_rotate(struct sg_store *s, const char *tenant,
                                               const char *old_hash, int64_t now,
                                               struct sg_refresh *old, struct sg_refresh *next);
SIGNET_WUR signet_err sg_people_refresh_revoke_family(struct sg_store *s, const char *tenant,
                                                      const char *family, int64_t now);

#endif
