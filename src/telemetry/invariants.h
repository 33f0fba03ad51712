/* Declared security invariants: one table (id, statement, how it is
 * checked, severity, period) and the pure checks behind it.
 *
 * Each check takes a snapshot parsed from what the signer and signetd
 * expose (STATUS and INVENTORY JSON of the signer, the JWKS signetd serves)
 * and the configuration, and returns ok / violated / unknown with a one-line
 * message. They do no I/O, so tests drive them with crafted inputs; the
 * monitor (monitor.h) fetches the inputs, runs the checks on schedule and
 * on events, and raises alerts. */
#ifndef SG_INVARIANTS_H
#define SG_INVARIANTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "signet/error.h"
#include "telemetry/auditscan.h"
#include "common/tmconfig.h"

enum sg_inv_id {
    SG_INV_ONE_ACTIVE = 0,    /* I1 */
    SG_INV_KEY_AGE = 1,       /* I2 */
    SG_INV_TOKEN_OBJECTS = 2, /* I3 */
    SG_INV_JWKS = 3,          /* I4 */
    SG_INV_AUDIT = 4,         /* I5 */
    SG_INV_TOKEN_WINDOW = 5,  /* I6 */
    SG_INV_NO_FORGERY = 6,    /* I7 */
    SG_INV_SANDBOX = 7,       /* I8 */
    SG_INV_PASSKEY_COUNTER = 8, /* I9 */
    SG_INV_APPROVALS = 9,       /* I10 */
};
#define SG_INV_ALL (-1)

enum sg_inv_severity { SG_SEV_WARNING = 0, SG_SEV_CRITICAL = 1 };
enum sg_inv_state { SG_INV_UNKNOWN = 0, SG_INV_OK = 1, SG_INV_VIOLATED = 2 };

struct sg_invariant {
    const char *id;        /* "I1" */
    const char *name;      /* "one_active_key": metric label, alert field */
    const char *statement; /* what must hold, one line */
    const char *check;     /* how it is checked, one line */
    const char *events;    /* what runs it besides its period */
    enum sg_inv_severity severity;
    int64_t period;        /* default period, seconds ([invariants] iN overrides) */
    bool key_compromise;   /* on_critical = rotate revokes the named key */
};

extern const struct sg_invariant sg_invariants[SG_INV_COUNT];

/* What each invariant looks like now (the monitor's view, monitor.h). */
struct sg_inv_status {
    enum sg_inv_state state;
    int64_t last_check;     /* 0 = never */
    int64_t last_violation; /* 0 = never */
    char message[512];      /* last violation message, or why it is unknown now */
    uint64_t violations;    /* checks (or reports) that found it violated */
};

const char *sg_inv_severity_name(enum sg_inv_severity s);
const char *sg_inv_state_name(enum sg_inv_state s);
/* The period of check i under c (c may be NULL: the table's period). */
int64_t sg_inv_period(const struct sg_telemetry_cfg *c, unsigned i);
/* Prints the table for `signet invariants` (c may be NULL: default periods). */
void sg_invariants_print(FILE *f, const struct sg_telemetry_cfg *c);
/* The table as a JSON array (caller decrefs); NULL when out of memory. */
json_t *sg_invariants_json(const struct sg_telemetry_cfg *c);

/* ---- inputs --------------------------------------------------------------- */

#define SG_TM_MAX_SIGNERS 16

/* One row of the signer's key list (STATUS "keys", same as KEYS). */
struct sg_tm_key {
    char kid[64];
    char issuer[512];
    char alg[8];
    char hsm_id[33];   /* hex CKA_ID */
    int state;         /* enum sg_key_state */
    int64_t created_at, published_at, activated_at, retired_at, destroyed_at, rotate_at;
    bool revoked;
};

/* One signer's STATUS counters and hardening. */
struct sg_tm_signer {
    int64_t now;
    uint64_t signatures, refusals, batches;
    uint64_t hsm_signatures, hsm_errors, hsm_reopens;
    bool seccomp, dumpable, mlocked, no_new_privs;
    uint64_t audit_seq;
    int64_t next_transition_in; /* -1 when none */
    /* STATUS "audit": whether the signer can make records durable (false:
     * its log was deleted, replaced or cut, or its last commit failed). */
    bool audit_ok;
    bool audit_broken;         /* the log is lost: I5 violated */
    char audit_reason[200];
};

/* The front end's own sandbox and the trust boundary, as signetd's front
 * end reports them about itself (the CLI has no front end). */
struct sg_tm_frontend {
    bool boundary_enforced; /* front end and signers under two accounts, neither root */
    long uid;               /* the front end's account */
    bool entered;           /* its sandbox was entered: the flags below are final */
    bool seccomp, no_new_privs, caps_dropped, dumpable;
};

/* One private key object of the INVENTORY. */
struct sg_tm_object {
    char id[129]; /* hex CKA_ID */
    char label[128];
    bool sensitive, extractable, always_sensitive, never_extractable;
};

/* Parses a STATUS document (keys may be NULL: counters only). *keys is
 * malloc'd (free()). On junk: sg_json_parse()'s errors (at most
 * SG_IPC_MAX_PAYLOAD bytes), or SIGNET_ERR_MALFORMED for a wrong shape;
 * likewise for the two below. */
SIGNET_WUR signet_err sg_tm_parse_status(const char *json, size_t len, struct sg_tm_signer *sig,
                                         struct sg_tm_key **keys, size_t *n_keys);
/* Parses an INVENTORY document; *objs is malloc'd (free()). */
SIGNET_WUR signet_err sg_tm_parse_inventory(const char *json, size_t len,
                                            struct sg_tm_object **objs, size_t *n);
/* Parses a served JWKS into its kids; *kids (malloc'd array of 64-byte
 * strings) and, per key, whether its "iss" member equals issuer. */
SIGNET_WUR signet_err sg_tm_parse_jwks(const char *json, size_t len, const char *issuer,
                                       char (**kids)[64], size_t *n, size_t *foreign_iss);

/* I9: one report of the front end's (MON_PASSKEY) that a passkey's
 * signature counter did not move forward, as the monitor keeps it. */
#define SG_INV_PASSKEY_WINDOW 86400 /* seconds a report keeps I9 violated */
#define SG_INV_PASSKEY_USER_MAX 64  /* bytes of a user id (SG_IPC_MAX_USER_ID) */
struct sg_inv_passkey {
    int64_t time; /* when the monitor received it */
    uint32_t stored, presented;
    char issuer[512];
    char user_id[SG_INV_PASSKEY_USER_MAX + 1];
};
/* Whether the front end's report is one the monitor takes: SIGNET_OK;
 * SIGNET_ERR_NOT_FOUND when issuer is no configured tenant's;
 * SIGNET_ERR_MALFORMED when user_id is not 1..64 characters of the
 * base64url alphabet (signet's user ids) or the counters do not show a
 * regression as WebAuthn 6.1.1 defines it (stored non-zero, presented <=
 * stored; a synced passkey reporting 0 against a stored 0 is none). */
SIGNET_WUR signet_err sg_inv_passkey_valid(const struct sg_config *cfg, const char *issuer,
                                           const char *user_id, uint32_t stored,
                                           uint32_t presented);
/* The alert's message for one report: names the tenant, the issuer and the
 * user id, and the two counters (no credential). */
void sg_inv_passkey_message(const struct sg_config *cfg, const struct sg_inv_passkey *p,
                            char *msg, size_t cap);

/* I10: one of the front end's approval alerts (MON_PEOPLE): a user whose
 * approval prompts were locked by three wrong numbers, or a sign-in the
 * person reported as not theirs. */
#define SG_INV_APPROVALS_WINDOW 86400 /* seconds a report keeps I10 violated */
struct sg_inv_approval {
    int64_t time; /* when the monitor received it */
    bool reported; /* "this wasn't me"; else a wrong-number lock */
    char issuer[512];
    char user_id[SG_INV_PASSKEY_USER_MAX + 1];
};
/* The alert's message for one report (tenant, issuer, user id, what). */
void sg_inv_approval_message(const struct sg_config *cfg, const struct sg_inv_approval *a,
                             char *msg, size_t cap);

/* ---- results -------------------------------------------------------------- */

struct sg_inv_result {
    enum sg_inv_state state;
    char msg[512]; /* why it is violated (or unknown); "" when ok */
    char kid[64];  /* the key it is about, when one is named */
};

/* Everything the checks read. Missing inputs (NULL / false) make the
 * checks that need them unknown. */
struct sg_inv_input {
    const struct sg_config *cfg;
    const struct sg_telemetry_cfg *tcfg;
    int64_t now;
    const struct sg_tm_key *keys; /* from STATUS (all rows, tombstones too) */
    size_t n_keys;
    bool have_keys;
    const struct sg_tm_key *keys_before; /* I3: a STATUS taken before the INVENTORY */
    size_t n_keys_before;
    const struct sg_tm_object *objects;
    size_t n_objects;
    bool have_inventory;
    const struct sg_tm_signer *signers;
    size_t n_signers;
    const char *const *jwks; /* served JWKS per cfg tenant (index as cfg->tenants) */
    bool have_jwks;
    bool sandbox_compiled_out; /* I8: a SIGNET_SANDBOX=0 build cannot sandbox anything */
    /* I8: NULL when no front end runs beside the checks (`signet invariants
     * --check`): I8 then judges the signers alone. */
    const struct sg_tm_frontend *frontend;
    /* I9: the reports the monitor keeps (any order; older ones than
     * SG_INV_PASSKEY_WINDOW are ignored). */
    const struct sg_inv_passkey *passkeys;
    size_t n_passkeys;
    /* I10: likewise (older than SG_INV_APPROVALS_WINDOW are ignored). */
    const struct sg_inv_approval *approvals;
    size_t n_approvals;
};

void sg_inv_check_one_active(const struct sg_inv_input *in, struct sg_inv_result *r);  /* I1 */
void sg_inv_check_key_age(const struct sg_inv_input *in, struct sg_inv_result *r);     /* I2 */
void sg_inv_check_token_objects(const struct sg_inv_input *in, struct sg_inv_result *r); /* I3 */
void sg_inv_check_jwks(const struct sg_inv_input *in, struct sg_inv_result *r);        /* I4 */
void sg_inv_check_sandbox(const struct sg_inv_input *in, struct sg_inv_result *r);     /* I8 */
/* I9: violated while a report is younger than SG_INV_PASSKEY_WINDOW (the
 * message is the latest one's, with the count); ok otherwise. */
void sg_inv_check_passkey(const struct sg_inv_input *in, struct sg_inv_result *r);     /* I9 */
/* I10: violated while a report is younger than SG_INV_APPROVALS_WINDOW. */
void sg_inv_check_approvals(const struct sg_inv_input *in, struct sg_inv_result *r);   /* I10 */

/* I6 for one sign record: 1 and a message when it breaks the invariant,
 * 0 when it holds, -1 when its kid is not among keys (the caller looks
 * again with a newer key list before calling that a violation). */
int sg_inv_check_sign(const struct sg_config *cfg, const struct sg_tm_key *keys, size_t n_keys,
                      const struct sg_tm_sign *s, char *msg, size_t cap);

/* I5, second half: signatures the signers counted vs "sign" records in the
 * log. The signers' counters restart with each signer, and other writers
 * (CLI commands) sign too, so the check is one-sided and relative to a
 * baseline: since the baseline, the signers' counters may not have grown
 * more than the log's sign records did. The caller reads the log before
 * and after fetching the STATUS documents (records_before, records_after)
 * so that no signature the counters include can be missing from
 * records_after unless its record is missing. */
struct sg_inv_sigcount {
    bool have_base;
    uint64_t base_signatures, base_records;
    uint64_t last[SG_TM_MAX_SIGNERS];
    size_t n_last;
    uint64_t rescans;
};
void sg_inv_sigcount_check(struct sg_inv_sigcount *sc, const struct sg_tm_signer *signers,
                           size_t n, uint64_t records_before, uint64_t records_after,
                           uint64_t rescans, struct sg_inv_result *r);

#endif
