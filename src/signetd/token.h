/* POST /t/<tenant>/token (token.c), and the same client authentication
 * for the reports endpoint. */
#ifndef SD_TOKEN_H
#define SD_TOKEN_H

#include <stddef.h>

#include "signet/error.h"
#include "signetd/resp.h"

struct sd_ctx;
struct sg_client;
struct sg_config;
struct sg_form;
struct sg_tenant_cfg;

#define SD_REPORT_SCOPE "signet:report"

/* The token endpoint; dpop is the request's one DPoP header value, NULL
 * when it has none (http.c refuses a request with two before routing).
 * 0: r holds the answer now. 1: the request went to a
 * signer; done(user, answer) then runs exactly once, from another thread
 * or possibly before this returns, with an answer whose body it owns. */
typedef void (*sd_token_done)(void *user, struct sd_resp *r);
int sd_token_endpoint_async(struct sd_ctx *c, const struct sg_config *cfg,
                            const struct sg_tenant_cfg *t, const char *body, size_t len,
                            const char *authz, const char *dpop, struct sd_resp *r,
                            sd_token_done done, void *user);

/* The pushed authorization request endpoint's client (RFC 9126 §2.1):
 * the token endpoint's client authentication of the parsed form f and the
 * Authorization header (NULL: none), its rate limit, and the
 * authorization_code grant. 0 with *cl filled (the caller clears it);
 * otherwise -1 and r holds the 400/401/429/503 answer. */
int sd_par_client(struct sd_ctx *c, const struct sg_config *cfg, const struct sg_tenant_cfg *t,
                  const struct sg_form *f, const char *authz, struct sg_client *cl,
                  struct sd_resp *r);

/* Authenticates the client of a report (client_secret_basic, as at the
 * token endpoint) and requires the signet:report scope. SIGNET_OK when it
 * may report; otherwise r holds the 401/403/429/503 answer. */
SIGNET_WUR signet_err sd_report_client(struct sd_ctx *c, const struct sg_config *cfg,
                                       const struct sg_tenant_cfg *t, const char *authz,
                                       struct sd_resp *r);

#endif
