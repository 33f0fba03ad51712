/* Signer protocol: typed, length-capped frames over a socketpair.
 *
 * Frame: magic "SG" (2 bytes), version (1), type (1), request id (u32 BE),
 * payload length (u32 BE), payload. A response has the request's type with
 * the high bit set and the same id; its payload starts with a u32 status
 * (signet_err). Anything that does not parse drops the connection. */
#ifndef SG_IPC_H
#define SG_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "util/buf.h"

#define SG_IPC_HEADER_LEN 12
#define SG_IPC_VERSION 1
#define SG_IPC_MAX_PAYLOAD (256u * 1024u)
#define SG_IPC_MAX_CLAIMS (16u * 1024u)
#define SG_IPC_MAX_STR 512u
/* CLIENT_BIND: one JSON object (docs/signer.md, Signing policy). */
#define SG_IPC_MAX_BIND (128u * 1024u)
/* The file in signer/ that says the client registry was filled from the
 * front end's store (or needed not be): never again after it exists. */
#define SG_REGISTRY_FILLED "registry.filled"

enum sg_ipc_type {
    SG_IPC_SIGN = 1,    /* issuer, alg, typ, kid, claims JSON -> compact JWS */
    SG_IPC_JWKS = 2,    /* issuer -> JWKS JSON */
    SG_IPC_ADVANCE = 3, /* -> report JSON */
    SG_IPC_REVOKE = 4,  /* kid -> report JSON */
    SG_IPC_STATUS = 5,  /* -> status JSON */
    SG_IPC_KEYS = 6,    /* issuer ("" = all) -> key rows JSON */
    SG_IPC_ROTATE = 7,  /* issuer ("" = all) -> report JSON */
    SG_IPC_INVENTORY = 8, /* -> private objects in the token, JSON */
    SG_IPC_AUDIT_NOTE = 9, /* type, fields JSON -> (appended to the audit log by the signer) */
    SG_IPC_CLIENT_BIND = 10,   /* binding JSON -> (the signer's client registry; admin only) */
    SG_IPC_REVOKE_FORCE = 11,  /* kid -> report JSON (revoke past the rate limit; admin only) */
    /* 12 is left unassigned (the tests take it as the first unknown type).
     * TOTP (issue 14, docs/signer.md): the seed is drawn, sealed and
     * checked in the signer; the front end keeps only the sealed blob. */
    SG_IPC_TOTP_ENROL = 13,  /* {issuer,user_id,cred_id} -> {sealed,secret} */
    SG_IPC_TOTP_VERIFY = 14, /* {issuer,user_id,cred_id,sealed,code} -> {ok,step|reason} */
    SG_IPC_TOTP_REMOVE = 15, /* {issuer,user_id,cred_id} -> {removed} */
    /* Served by the monitor process, sent by the front end over the
     * channel the launcher made between them. */
    SG_IPC_MON_POKE = 16,        /* -> (run every check soon) */
    SG_IPC_MON_READY = 17,       /* -> (the front end has entered its sandbox) */
    SG_IPC_MON_STATUS_HTML = 18, /* -> the status page, text/html */
    SG_IPC_MON_STATUS_JSON = 19, /* -> /status.json */
    SG_IPC_MON_METRICS = 20,     /* -> the monitor's metric families, Prometheus text */
    SG_IPC_MON_REPORT = 21,      /* issuer, body -> the reports' verdicts JSON */
    SG_IPC_MON_PASSKEY = 22,     /* issuer, user id, stored, presented -> (I9 alert) */
    SG_IPC_MON_PEOPLE = 23,      /* issuer, user id, event, factor -> (audit; I10 alert) */
    SG_IPC_RESPONSE = 0x80,
};

/* Who is at the other end of a channel. The spawner says so when it starts
 * the signer (the launcher: the front end on the signer's first channel,
 * the monitor on its second; the CLI: an administrator); no peer chooses
 * its own role. */
#define SG_ROLE_ADMIN 1u
#define SG_ROLE_FRONT 2u
#define SG_ROLE_MONITOR 4u
/* "admin", "front" or "monitor" (audit records, logs). */
const char *sg_ipc_role_name(unsigned role);

/* Which process serves a message. */
#define SG_IPC_SERVER_SIGNER 1u
#define SG_IPC_SERVER_MONITOR 2u

/* The message table: every request type once, with the roles that may
 * send it and its payload cap. A type that is not here, not permitted for
 * the peer's role, or over its cap drops the channel (and is audited). */
struct sg_ipc_msg {
    uint8_t type;
    const char *name;
    unsigned roles;        /* SG_ROLE_* that may send it */
    uint32_t max_payload;  /* bytes */
    double rate;           /* non-admin peers: sustained requests per second; 0 = unlimited */
    unsigned burst;
    unsigned server;       /* SG_IPC_SERVER_*: who answers it */
};
/* NULL for an unknown type (the response bit is ignored). */
const struct sg_ipc_msg *sg_ipc_msg_find(uint8_t type);
/* Whether role may send type to server (0 for an unknown type). */
int sg_ipc_permitted(uint8_t type, unsigned role, unsigned server);

/* AUDIT_NOTE: the monitor's records (alerts, reports), chained by the
 * signer like any other. Payload: the record type (one of a fixed set),
 * then the fields as a JSON object; the signer stamps the sender's role
 * as "source". */
#define SG_IPC_MAX_NOTE (8u * 1024u)
SIGNET_WUR signet_err sg_ipc_decode_note(const uint8_t *p, size_t n, char **type,
                                         const uint8_t **fields, size_t *fields_len);
void sg_ipc_encode_note(struct sg_wbuf *w, const char *type, const char *fields,
                        size_t fields_len);
/* The record types a note may carry (NULL-terminated). */
extern const char *const sg_ipc_note_types[];

struct sg_ipc_frame {
    uint8_t type;
    uint32_t id;
    const uint8_t *payload;
    size_t len;
};

/* Finds the next complete frame at the start of data. SIGNET_OK with
 * *consumed > 0 when one is there; SIGNET_OK with *consumed == 0 when more
 * bytes are needed; SIGNET_ERR_BAD_FRAME when the bytes can never be a
 * valid frame (bad magic/version/type, length above the cap). */
SIGNET_WUR signet_err sg_ipc_next(const uint8_t *data, size_t len, struct sg_ipc_frame *out,
                                  size_t *consumed);
/* Appends a frame (header + payload) to w. */
void sg_ipc_put_frame(struct sg_wbuf *w, uint8_t type, uint32_t id, const uint8_t *payload,
                      size_t len);
/* Blocking helpers for the client side. */
SIGNET_WUR signet_err sg_ipc_write_all(int fd, const void *data, size_t len);
SIGNET_WUR signet_err sg_ipc_read_frame(int fd, struct sg_wbuf *buf, struct sg_ipc_frame *out);

struct sg_sign_req {
    char *issuer;
    char *alg; /* "" = the tenant's default */
    char *typ;
    char *kid; /* "" = the ACTIVE key; else must be the ACTIVE key's kid */
    const uint8_t *claims; /* borrowed from the frame */
    size_t claims_len;
};
SIGNET_WUR signet_err sg_ipc_decode_sign(const uint8_t *p, size_t n, struct sg_sign_req *out);
void sg_ipc_sign_req_clear(struct sg_sign_req *r);
void sg_ipc_encode_sign(struct sg_wbuf *w, const char *issuer, const char *alg, const char *typ,
                        const char *kid, const uint8_t *claims, size_t claims_len);

/* MON_PASSKEY: a passkey whose signature counter did not move forward
 * (WebAuthn §6.1.1: a sign of a cloned authenticator), reported by the
 * front end to the monitor (I9). Payload: issuer (u16 string), user id
 * (u16 string, at most SG_IPC_MAX_USER_ID bytes), the stored and the
 * presented counter (u32 BE each); nothing after. */
#define SG_IPC_MAX_USER_ID 64u
#define SG_IPC_MAX_PASSKEY 1024u /* the message's payload cap */
struct sg_ipc_passkey {
    char *issuer;
    char *user_id;
    uint32_t stored;
    uint32_t presented;
};
SIGNET_WUR signet_err sg_ipc_decode_passkey(const uint8_t *p, size_t n,
                                            struct sg_ipc_passkey *out);
void sg_ipc_passkey_clear(struct sg_ipc_passkey *r);
void sg_ipc_encode_passkey(struct sg_wbuf *w, const char *issuer, const char *user_id,
                           uint32_t stored, uint32_t presented);

/* MON_PEOPLE (issue 14): a person's security event, reported by the front
 * end to the monitor, which audits it (factor_changed, mfa_alert) and, for
 * the two alerts, raises I10. Payload: issuer (u16 string), user id (u16
 * string, 1..SG_IPC_MAX_USER_ID bytes of base64url), the event (u8, one of
 * enum sg_ipc_people_event), the factor (u16 string: "passkey",
 * "password", "totp" or "device"); nothing after. */
enum sg_ipc_people_event {
    SG_IPC_PEOPLE_FACTOR_ADDED = 1,
    SG_IPC_PEOPLE_FACTOR_REMOVED = 2,
    SG_IPC_PEOPLE_APPROVAL_LOCKED = 3,   /* three wrong numbers: prompts locked */
    SG_IPC_PEOPLE_APPROVAL_REPORTED = 4, /* "this wasn't me" on the device */
};
#define SG_IPC_MAX_PEOPLE 1024u /* the message's payload cap */
struct sg_ipc_people {
    char *issuer;
    char *user_id;
    uint8_t event;
    char *factor;
};
/* SIGNET_ERR_BAD_FRAME for a frame that is not exactly this, an unknown
 * event or factor, or a user id outside the alphabet. */
SIGNET_WUR signet_err sg_ipc_decode_people(const uint8_t *p, size_t n, struct sg_ipc_people *out);
void sg_ipc_people_clear(struct sg_ipc_people *r);
void sg_ipc_encode_people(struct sg_wbuf *w, const char *issuer, const char *user_id,
                          enum sg_ipc_people_event event, const char *factor);
/* "factor_added", "factor_removed", "approval_locked", "approval_reported";
 * NULL for another value. */
const char *sg_ipc_people_event_name(unsigned event);

/* TOTP_ENROL, TOTP_VERIFY, TOTP_REMOVE: one u16-prefixed string (what
 * sg_signer_call_str and sd_pool_call send) holding a JSON object with
 * exactly these members, all strings:
 *   issuer   a configured tenant's issuer (the signer checks which), 1..511
 *            bytes, no control character;
 *   user_id  "u" + 22 base64url characters (docs/people.md);
 *   cred_id  1..64 base64url characters;
 *   sealed   (VERIFY) base64url of iv(12) || ciphertext(20) || tag(16):
 *            exactly 64 characters;
 *   code     (VERIFY) exactly 6 ASCII digits.
 * Anything else (another member, a missing one, a wrong shape) is a
 * malformed frame: the channel is dropped. */
#define SG_IPC_MAX_TOTP 2048u
#define SG_TOTP_USER_ID_LEN 23
#define SG_TOTP_CRED_ID_MAX 64
#define SG_TOTP_SEALED_LEN 48 /* iv 12 || ciphertext 20 || tag 16 */
#define SG_TOTP_SEALED_B64 64
#define SG_TOTP_CODE_LEN 6
#define SG_TOTP_SECRET_B32 32 /* base32 of the 20-byte seed, no padding */
struct sg_ipc_totp {
    char issuer[SG_IPC_MAX_STR];
    char user_id[SG_TOTP_USER_ID_LEN + 1];
    char cred_id[SG_TOTP_CRED_ID_MAX + 1];
    char sealed[SG_TOTP_SEALED_B64 + 1]; /* VERIFY; "" otherwise */
    char code[SG_TOTP_CODE_LEN + 1];     /* VERIFY; "" otherwise */
};
/* The request of one of the three types; SIGNET_ERR_BAD_FRAME for any
 * other shape (out zeroed), SIGNET_ERR_NOMEM. */
SIGNET_WUR signet_err sg_ipc_decode_totp(uint8_t type, const uint8_t *p, size_t n,
                                         struct sg_ipc_totp *out);
/* The JSON text of a request (malloc'd; the argument of sd_pool_call):
 * SIGNET_ERR_INVALID_ARG when a field has not the shape above (nothing is
 * sent that the signer would drop the channel for). */
SIGNET_WUR signet_err sg_ipc_totp_json(uint8_t type, const struct sg_ipc_totp *r, char **out);
/* The seal key in the HSM (an AES-256 secret key; docs/signer.md): its
 * CKA_ID (16 bytes, no NUL) and CKA_LABEL, which the invariants know. */
#define SG_TOTP_SEAL_KEY_ID "signet-totp-seal"
#define SG_TOTP_SEAL_KEY_LABEL "signet-totp-seal"
/* The shapes, one by one (1 = good). */
int sg_ipc_totp_user_id_ok(const char *s);
int sg_ipc_totp_cred_id_ok(const char *s);
int sg_ipc_totp_sealed_ok(const char *s);
int sg_ipc_totp_code_ok(const char *s);

/* Requests with one string argument (JWKS, REVOKE, KEYS, ROTATE). */
SIGNET_WUR signet_err sg_ipc_decode_str(const uint8_t *p, size_t n, char **out);

#endif
