/* Relying parties' token reports (I7): the strict parser of the batched
 * report body. The handler is sg_reports_handle() in monitor.h.
 *
 *   {"reports": [{"iss": "...", "kid": "...", "jti": "...",
 *                 "token_sha256": "<64 lower-case hex>",
 *                 "token": "<the compact token>" (optional)}, ...]}
 *
 * Strict: at most SG_REPORTS_MAX_BODY bytes and SG_REPORTS_MAX_ITEMS
 * reports (SIGNET_ERR_TOO_LARGE); duplicate members anywhere
 * (SIGNET_ERR_DUPLICATE_MEMBER); nesting deeper than SG_JSON_MAX_DEPTH
 * (SIGNET_ERR_JSON_TOO_DEEP); invalid JSON, trailing bytes, NUL bytes or
 * NUL escapes (SIGNET_ERR_BAD_JSON), all through sg_json_parse(); an
 * unknown or missing member, a wrong type, an empty or overlong string or
 * a token_sha256 that is not 64 lower-case hex digits
 * (SIGNET_ERR_MALFORMED). token_sha256 is the
 * SHA-256 of the compact token as the relying party received it. token,
 * when present, is that token (at most SG_REPORT_TOKEN_MAX bytes of
 * base64url and dots), and token_sha256 must be its SHA-256
 * (SIGNET_ERR_MALFORMED otherwise). Only a report with the token can be
 * judged "forged" (issue 11): the monitor verifies its signature with the
 * signer's key for kid first; a hash alone proves nothing. */
#ifndef SG_REPORTS_H
#define SG_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

#define SG_REPORTS_MAX_BODY (256u * 1024u)
#define SG_REPORTS_MAX_ITEMS 1000u

#define SG_REPORT_TOKEN_MAX 16384u

struct sg_report {
    char iss[512];
    char kid[64];
    char jti[256];
    uint8_t token_sha256[32];
    char *token; /* malloc'd, NUL-terminated; NULL when the report has none */
};

/* *out is released with sg_reports_free(), NULL when *n == 0. */
SIGNET_WUR signet_err sg_reports_parse(const uint8_t *body, size_t len, struct sg_report **out,
                                       size_t *n);
void sg_reports_free(struct sg_report *r, size_t n);

enum sg_report_check {
    SG_REPORT_NO_TOKEN,      /* a hash only, or no JWKS to check with */
    SG_REPORT_NO_KEY,        /* kid is not in the JWKS (any more) */
    SG_REPORT_MISMATCH,      /* the token's kid, iss or jti are not the report's */
    SG_REPORT_BAD_SIGNATURE, /* it does not verify with that key */
    SG_REPORT_SIGNED,        /* signed by the JWKS's key for kid */
};
/* Checks the report's token against a JWKS document (the signer's own,
 * never one the front end served). Only SG_REPORT_SIGNED proves that the
 * key for kid made the token; the claims are not judged (a leaked key's
 * token may say anything). */
enum sg_report_check sg_report_verify(const struct sg_report *r, const char *jwks);

#endif
