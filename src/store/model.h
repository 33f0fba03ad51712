/* The store's model: key lifecycle rows and OAuth client rows, the names
 * of the key states, and the functions that free rows. Shared by every
 * backend (store_sqlite.c, keystore_sqlite.c) and by the store's users
 * through store.h; it depends on nothing else of the store. */
#ifndef SG_STORE_MODEL_H
#define SG_STORE_MODEL_H

#include <stddef.h>
#include <stdint.h>

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
    SG_CLIENT_NONE = 3,            /* a public client (issue 13): no secret, PKCE */
};

/* Grants a client may use (schema 4), as a bit set. */
#define SG_GRANT_CLIENT_CREDENTIALS 1u
#define SG_GRANT_AUTHORIZATION_CODE 2u
#define SG_GRANT_REFRESH_TOKEN 4u

/* DPoP (RFC 9449) for the client's tokens (schema 3). */
enum sg_client_dpop {
    SG_CLIENT_DPOP_DEFAULT = 0,   /* the tenant's dpop setting */
    SG_CLIENT_DPOP_REQUIRED = 1,  /* a request without a proof is refused */
    SG_CLIENT_DPOP_ALLOWED = 2,   /* bound with a proof, Bearer without */
    SG_CLIENT_DPOP_FORBIDDEN = 3, /* a request with a proof is refused */
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
    enum sg_client_dpop dpop;
    /* schema 4 (issue 13): people's clients */
    unsigned grants;       /* SG_GRANT_*; rows before schema 4: client_credentials */
    char *redirect_uris;   /* space-separated exact redirect URIs, "" = none */
    int require_par;       /* 1: /authorize only with a PAR request_uri */
};

void sg_client_clear(struct sg_client *c); /* frees the strings */
void sg_client_list_free(struct sg_client *cs, size_t n);

#endif
