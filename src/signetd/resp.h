/* An HTTP answer as the endpoints build it (resp.c) and http.c sends it. */
#ifndef SD_RESP_H
#define SD_RESP_H

#include <stddef.h>
#include <stdint.h>

/* A handler fills an sd_resp. */
struct sd_resp {
    unsigned status;
    char *body; /* malloc'd */
    size_t len;
    const char *content_type;
    char cache_control[64]; /* empty: no-store */
    char etag[64];
    char allow[32];
    char www_auth[600];
    int64_t retry_after; /* seconds; 0 = none */
    int no_body;         /* 304 */
    int csp;             /* the status page: Content-Security-Policy header */
    char client_id[130]; /* for the access log */
    char dpop_nonce[64]; /* a DPoP-Nonce header (RFC 9449 §8); empty: none */
    /* People's pages and redirects (issue 13). */
    int page;              /* an HTML page: SD_PAGE_CSP, X-Frame-Options, Referrer-Policy */
    char location[2048];   /* a Location header; empty: none */
    char cookies[3][320];  /* Set-Cookie headers; empty: none */
};

/* A JSON body (copied) with status. */
void sd_resp_json(struct sd_resp *r, unsigned status, const char *json);
/* An OAuth error body (RFC 6749 §5.2), no-store. */
void sd_resp_oauth_error(struct sd_resp *r, unsigned status, const char *code,
                         const char *description);

#endif
