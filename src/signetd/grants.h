/* The people's grants at the token endpoint (issue 13, docs/people.md):
 * authorization_code with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core
 * §3.1.3) and refresh_token with rotation and reuse detection (RFC 6749
 * §6, RFC 9700 §4.14). What the front store holds (the code, the refresh
 * token's row) and the claims of a person's access token and ID token;
 * token.c drives the signatures and answers.
 *
 * The order is fail closed: the grant is checked (and a code used up)
 * first, then both tokens are signed, and only then is a refresh token
 * written (sd_grant_commit): a failed signature leaves no refresh token
 * behind, and a refresh token presented is rotated only once the tokens
 * that replace it exist. */
#ifndef SD_GRANTS_H
#define SD_GRANTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/oauth_req.h"
#include "store/people.h"

struct sd_ctx;
struct sg_client;
struct sg_tenant_cfg;

/* Default ID token lifetime (the signer's cap is 1 h). */
#define SD_ID_TOKEN_LIFETIME 300
/* Refresh tokens: each one's idle end, and the absolute end of a family
 * (docs/people.md: idle 1 d, absolute 30 d). */
#define SD_REFRESH_IDLE (24 * 3600)
#define SD_REFRESH_MAX (30 * 24 * 3600)
/* A refresh token and a family id: random bytes, base64url. */
#define SD_REFRESH_BYTES 32
#define SD_FAMILY_BYTES 16

/* A person's grant: who signed in, how, and what was granted (from a
 * redeemed code or a refresh token's row), and what sd_grant_commit
 * writes once the tokens are signed. */
struct sd_grant {
    enum sg_grant_type type;
    char client_id[SG_STORE_CLIENT_ID_MAX];
    char user_id[SG_PEOPLE_ID_MAX];
    char sid[SG_PEOPLE_ID_MAX];
    char acr[SG_PEOPLE_ACR_MAX];
    char amr[SG_PEOPLE_AMR_MAX];
    char scope[SG_PEOPLE_SCOPE_MAX]; /* granted: the code's, or the refresh request's */
    char nonce[SG_PEOPLE_NONCE_MAX]; /* the code's; "" after a refresh */
    int64_t auth_time;
    /* The refresh token to issue ("" when none: the client lacks the grant). */
    char refresh_token[64];          /* a credential: wiped by sd_grant_clear */
    char refresh_hash[SG_PEOPLE_HASH_LEN + 1];
    char family[SG_PEOPLE_ID_MAX];   /* new (code) or the presented token's */
    char code_hash[SG_PEOPLE_HASH_LEN + 1]; /* authorization_code: the code */
    char old_hash[SG_PEOPLE_HASH_LEN + 1];  /* refresh_token: the one presented */
    /* The DPoP key a public client's refresh family is bound to (RFC 9449
     * §5: its JWK thumbprint), "" when unbound. */
    char jkt[SG_PEOPLE_HASH_LEN + 1];
};

void sd_grant_clear(struct sd_grant *g);

/* authorization_code: uses the code up (sg_people_code_redeem) and checks
 * it against the request and the authenticated client cl: its client,
 * the exact redirect_uri, PKCE S256 (constant time). A second use of a
 * code revokes the refresh family its first use issued (code_replayed in
 * the log). Fills *g (with a fresh refresh token when cl has the
 * refresh_token grant; a public client's family is bound to jkt, the
 * request's DPoP key thumbprint, when it sent a proof: NULL when none).
 * SG_OAUTH_OK or the error, why its description. */
enum sg_oauth_error sd_grant_code(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                  const struct sg_token_req *req, const struct sg_client *cl,
                                  const char *jkt, struct sd_grant *g, char *why,
                                  size_t whylen);

/* refresh_token: checks the presented token without rotating it (a
 * rotation in a transaction rolled back): live, of cl, the requested scope
 * a subset of its own, and, for a family bound to a DPoP key, presented
 * with a proof of that key (jkt; NULL when the request has none; RFC 9449
 * §5). A rotated token presented again revokes its family at once
 * (refresh_reused in the log). Fills *g with a fresh refresh token;
 * sd_grant_commit rotates. */
enum sg_oauth_error sd_grant_refresh(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                     const struct sg_token_req *req, const struct sg_client *cl,
                                     const char *jkt, struct sd_grant *g, char *why,
                                     size_t whylen);

/* After every signature succeeded: writes the refresh token (a new family
 * recorded on the code, or the rotation of the presented token). OK when
 * the tokens may be handed out; else nothing may be. */
enum sg_oauth_error sd_grant_commit(struct sd_ctx *c, const char *tenant, struct sd_grant *g,
                                    char *why, size_t whylen);

/* 1 when the grant's scope asks for an ID token (OIDC Core §3.1.2.1). */
int sd_grant_wants_id_token(const struct sd_grant *g);

/* The access token's scope: the grant's scopes registered for the client,
 * without the OIDC scopes (openid, offline_access, profile, email), which
 * are not API scopes; "" when none is left. */
void sd_grant_api_scope(const struct sd_grant *g, const char *client_scopes, char *out,
                        size_t cap);

/* A person's access token's claims (RFC 9068 §2.2, docs/people.md): iss,
 * sub (the user), aud, exp, iat, nbf, client_id, scope (api_scope, omitted
 * when ""), auth_time, acr, amr (array), sid. NULL on failure. */
json_t *sd_grant_access_claims(const struct sg_tenant_cfg *t, const struct sd_grant *g,
                               json_t *aud, const char *api_scope, int64_t now, int64_t exp);

/* The ID token's claims (OIDC Core §2) but at_hash, iat and exp, which
 * token.c sets once the access token exists: iss, sub, aud = azp = the
 * client, auth_time, acr, amr, sid, nonce (when the code had one). NULL
 * on failure. */
json_t *sd_grant_id_claims(const struct sg_tenant_cfg *t, const struct sd_grant *g);

/* at_hash (OIDC Core §3.1.3.6): base64url of the left half of the hash of
 * the access token's ASCII, the hash of the ID token's alg (SHA-256 for
 * ES256/PS256, SHA-384 and SHA-512 for the 384 and 512 ones, SHA-512 for
 * EdDSA). -1 for an unknown alg. */
int sd_grant_at_hash(const char *alg, const char *access_token, char *out, size_t cap);

#endif
