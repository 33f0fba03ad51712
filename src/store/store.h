/* The state store: key lifecycle rows (and, later, clients and events).
 * A small interface so SQLite (embedded default) and PostgreSQL (several
 * nodes) can both sit behind it. Every lifecycle transition is one
 * transaction: begin, updates, commit. */
#ifndef SG_STORE_H
#define SG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

#define SG_STORE_ISSUER_MAX 512
#define SG_STORE_KID_MAX 64
#define SG_STORE_HSM_ID_LEN 16

enum sg_key_state {
    SG_KS_GENERATING = 0, /* row written, HSM generation may or may not have happened */
    SG_KS_PENDING = 1,    /* generated in the HSM, public JWK known */
    SG_KS_PUBLISHED = 2,  /* in JWKS, not signing yet (the standby) */
    SG_KS_ACTIVE = 3,     /* signs new tokens: exactly one per issuer and alg */
    SG_KS_RETIRED = 4,    /* no longer signs, still in JWKS until its tokens expire */
    SG_KS_DESTROYED = 5,  /* gone from the HSM and JWKS; a tombstone */
};

const char *sg_key_state_name(enum sg_key_state s);

struct sg_key {
    int64_t id;
    char issuer[SG_STORE_ISSUER_MAX];
    char alg[8];
    char kid[SG_STORE_KID_MAX]; /* empty while GENERATING */
    uint8_t hsm_id[SG_STORE_HSM_ID_LEN];
    enum sg_key_state state;
    char *jwk; /* public JWK JSON (no lifecycle members); NULL while GENERATING */
    int64_t created_at;
    int64_t published_at; /* 0 = not yet */
    int64_t activated_at;
    int64_t retired_at;
    int64_t destroyed_at;
    int64_t rotate_at;  /* when an ACTIVE key hands over to its successor */
    int revoked;        /* destroyed by emergency revoke */
};

void sg_key_clear(struct sg_key *k); /* frees jwk */
void sg_key_list_free(struct sg_key *keys, size_t n);

/* OAuth clients (schema 2). Strings are malloc'd; scopes and audiences
 * are space-separated lists (neither may contain whitespace). */
#define SG_STORE_CLIENT_ID_MAX 128
#define SG_STORE_TENANT_MAX 64

enum sg_client_auth {
    SG_CLIENT_SECRET = 1,          /* client_secret_basic / client_secret_post */
    SG_CLIENT_PRIVATE_KEY_JWT = 2, /* RFC 7523 with a registered public JWK */
};

struct sg_client {
    int64_t id;
    char tenant[SG_STORE_TENANT_MAX];
    char client_id[SG_STORE_CLIENT_ID_MAX];
    enum sg_client_auth auth;
    char *secret_hash;     /* argon2id encoded form (SG_CLIENT_SECRET), else NULL */
    char *jwk;             /* public JWK JSON (SG_CLIENT_PRIVATE_KEY_JWT), else NULL */
    char *scopes;          /* allowed scopes */
    char *default_scopes;  /* granted when the request names none */
    char *audiences;       /* allowed audiences; the first is the default */
    int64_t lifetime;      /* token lifetime; 0 = the tenant's */
    int64_t created_at;
};

void sg_client_clear(struct sg_client *c); /* frees the strings */
void sg_client_list_free(struct sg_client *cs, size_t n);

struct sg_store;

/* Opens the store. "sqlite:PATH" or a plain path means SQLite;
 * "postgresql://..." is reserved for the PostgreSQL backend. Creates and
 * migrates the schema when create is non-zero; otherwise a missing store is
 * SIGNET_ERR_NOT_INITIALISED. A file that is not a signet store is
 * SIGNET_ERR_STORE_CORRUPT. */
SIGNET_WUR signet_err sg_store_open(const char *where, int create, struct sg_store **out);
void sg_store_close(struct sg_store **s);

SIGNET_WUR signet_err sg_store_begin(struct sg_store *s);
SIGNET_WUR signet_err sg_store_commit(struct sg_store *s);
void sg_store_rollback(struct sg_store *s);

/* Inserts k (k->id is set on return). kid must be unique once set. */
SIGNET_WUR signet_err sg_store_key_insert(struct sg_store *s, struct sg_key *k);
/* Writes every mutable column of the row with k->id. */
SIGNET_WUR signet_err sg_store_key_update(struct sg_store *s, const struct sg_key *k);
/* Rows ordered by id; issuer NULL = all issuers. *out is NULL when n == 0. */
SIGNET_WUR signet_err sg_store_key_list(struct sg_store *s, const char *issuer, struct sg_key **out,
                                        size_t *n);
SIGNET_WUR signet_err sg_store_key_by_kid(struct sg_store *s, const char *kid, struct sg_key *out);
/* Monotonic counter bumped on every committed change (cheap to poll). */
SIGNET_WUR signet_err sg_store_version(struct sg_store *s, int64_t *out);
/* Schema version of the opened store. */
int sg_store_schema_version(const struct sg_store *s);

/* Clients. insert: SIGNET_ERR_EXISTS when (tenant, client_id) is taken.
 * get and delete: SIGNET_ERR_NOT_FOUND when absent. Each change bumps the
 * version counter, so a front end can cache clients against it. */
SIGNET_WUR signet_err sg_store_client_insert(struct sg_store *s, struct sg_client *c);
SIGNET_WUR signet_err sg_store_client_get(struct sg_store *s, const char *tenant,
                                          const char *client_id, struct sg_client *out);
/* tenant NULL = every tenant; ordered by tenant, client_id. */
SIGNET_WUR signet_err sg_store_client_list(struct sg_store *s, const char *tenant,
                                           struct sg_client **out, size_t *n);
SIGNET_WUR signet_err sg_store_client_delete(struct sg_store *s, const char *tenant,
                                             const char *client_id);
/* Replay cache for client assertion jti values (RFC 7523 §3 item 7):
 * records (tenant, client_id, jti) until expires_at. SIGNET_ERR_EXISTS when
 * the same jti is already recorded and not yet expired. Expired rows are
 * purged on the way. Does not bump the version counter. */
SIGNET_WUR signet_err sg_store_jti_use(struct sg_store *s, const char *tenant,
                                       const char *client_id, const char *jti,
                                       int64_t expires_at, int64_t now);

/* Backend vtable. */
struct sg_store_ops {
    signet_err (*begin)(struct sg_store *s);
    signet_err (*commit)(struct sg_store *s);
    void (*rollback)(struct sg_store *s);
    signet_err (*key_insert)(struct sg_store *s, struct sg_key *k);
    signet_err (*key_update)(struct sg_store *s, const struct sg_key *k);
    signet_err (*key_list)(struct sg_store *s, const char *issuer, struct sg_key **out, size_t *n);
    signet_err (*key_by_kid)(struct sg_store *s, const char *kid, struct sg_key *out);
    signet_err (*version)(struct sg_store *s, int64_t *out);
    void (*close)(struct sg_store *s);
    /* schema 2 */
    signet_err (*client_insert)(struct sg_store *s, struct sg_client *c);
    signet_err (*client_get)(struct sg_store *s, const char *tenant, const char *client_id,
                             struct sg_client *out);
    signet_err (*client_list)(struct sg_store *s, const char *tenant, struct sg_client **out,
                              size_t *n);
    signet_err (*client_delete)(struct sg_store *s, const char *tenant, const char *client_id);
    signet_err (*jti_use)(struct sg_store *s, const char *tenant, const char *client_id,
                          const char *jti, int64_t expires_at, int64_t now);
};

struct sg_store {
    const struct sg_store_ops *ops;
    int schema_version;
};

SIGNET_WUR signet_err sg_store_sqlite_open(const char *path, int create, struct sg_store **out);

#endif
