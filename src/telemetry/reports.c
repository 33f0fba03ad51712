#include "telemetry/reports.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alg.h"
#include "common/ipc.h"
#include "json.h"
#include "jwk.h"
#include "jws.h"
#include "util/hex.h"
#include "util/sha256.h"

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* A string member of 1 .. cap-1 bytes copied into dst. */
static int take_str(const json_t *o, const char *k, char *dst, size_t cap)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        return -1;
    size_t n = json_string_length(v);
    if (n == 0 || n >= cap || strlen(json_string_value(v)) != n)
        return -1;
    memcpy(dst, json_string_value(v), n + 1);
    return 0;
}

/* A compact JWS's alphabet: base64url and the two dots. */
static int compact_chars(const char *s, size_t n)
{
    size_t dots = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_'))
            return 0;
    }
    return dots == 2;
}

static signet_err parse_item(const json_t *o, struct sg_report *r)
{
    const json_t *tok = json_is_object(o) ? json_object_get(o, "token") : NULL;
    if (!json_is_object(o) || json_object_size(o) != (tok != NULL ? 5u : 4u))
        return SIGNET_ERR_MALFORMED;
    char sha[65];
    if (take_str(o, "iss", r->iss, sizeof r->iss) != 0 ||
        take_str(o, "kid", r->kid, sizeof r->kid) != 0 ||
        take_str(o, "jti", r->jti, sizeof r->jti) != 0 ||
        take_str(o, "token_sha256", sha, sizeof sha) != 0 || strlen(sha) != 64 ||
        !lower_hex(sha, 64) || sg_hex_decode(sha, 64, r->token_sha256, 32) != SIGNET_OK)
        return SIGNET_ERR_MALFORMED;
    if (tok == NULL)
        return SIGNET_OK;
    size_t n = json_is_string(tok) ? json_string_length(tok) : 0;
    const char *t = json_string_value(tok);
    if (n == 0 || n > SG_REPORT_TOKEN_MAX || !compact_chars(t, n))
        return SIGNET_ERR_MALFORMED;
    uint8_t digest[32];
    sg_sha256(t, n, digest);
    if (memcmp(digest, r->token_sha256, sizeof digest) != 0) /* public data, not a MAC */
        return SIGNET_ERR_MALFORMED;
    r->token = strndup(t, n);
    return r->token != NULL ? SIGNET_OK : SIGNET_ERR_NOMEM;
}

void sg_reports_free(struct sg_report *r, size_t n)
{
    for (size_t i = 0; r != NULL && i < n; i++)
        free(r[i].token);
    free(r);
}

signet_err sg_reports_parse(const uint8_t *body, size_t len, struct sg_report **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (body == NULL && len > 0)
        return SIGNET_ERR_INVALID_ARG;
    json_t *doc = NULL;
    signet_err err = sg_json_parse(body, len, SG_REPORTS_MAX_BODY, &doc);
    if (err != SIGNET_OK)
        return err;
    err = SIGNET_ERR_MALFORMED;
    struct sg_report *items = NULL;
    size_t count = 0;
    const json_t *arr = json_object_get(doc, "reports");
    if (!json_is_object(doc) || json_object_size(doc) != 1 || !json_is_array(arr))
        goto out;
    count = json_array_size(arr);
    if (count > SG_REPORTS_MAX_ITEMS) {
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    if (count > 0) {
        items = calloc(count, sizeof *items);
        if (items == NULL) {
            err = SIGNET_ERR_NOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < count; i++) {
        err = parse_item(json_array_get(arr, i), &items[i]);
        if (err != SIGNET_OK)
            goto out;
    }
    *out = items;
    *n = count;
    items = NULL;
    err = SIGNET_OK;
out:
    sg_reports_free(items, count);
    json_decref(doc);
    return err;
}

enum sg_report_check sg_report_verify(const struct sg_report *r, const char *jwks)
{
    if (r->token == NULL || jwks == NULL)
        return SG_REPORT_NO_TOKEN;
    struct sg_jws jws;
    memset(&jws, 0, sizeof jws);
    struct sg_keyset *set = NULL;
    json_t *claims = NULL;
    enum sg_report_check v = SG_REPORT_BAD_SIGNATURE;
    enum sg_alg alg = SG_ALG_ES256;
    const char *kid = NULL;
    const struct sg_header_policy pol = {.allowed_algs = SG_ALG_BIT(SG_ALG_COUNT) - 1u,
                                         .typ = NULL};
    if (sg_jws_parse(r->token, strlen(r->token), &jws) != SIGNET_OK ||
        sg_jws_check_header(&jws, &pol, &alg, &kid) != SIGNET_OK || kid == NULL)
        goto out;
    const json_t *iss = NULL, *jti = NULL;
    if (strcmp(kid, r->kid) == 0 &&
        sg_json_parse(jws.payload, jws.payload_len, SG_REPORT_TOKEN_MAX, &claims) == SIGNET_OK &&
        json_is_object(claims)) {
        iss = json_object_get(claims, "iss");
        jti = json_object_get(claims, "jti");
    }
    if (!json_is_string(iss) || !json_is_string(jti) ||
        strcmp(json_string_value(iss), r->iss) != 0 ||
        strcmp(json_string_value(jti), r->jti) != 0) {
        v = SG_REPORT_MISMATCH;
        goto out;
    }
    if (sg_jwks_parse((const uint8_t *)jwks, strlen(jwks), SG_IPC_MAX_PAYLOAD, &set) !=
        SIGNET_OK) {
        v = SG_REPORT_NO_TOKEN;
        goto out;
    }
    const struct sg_key *key = sg_keyset_find(set, kid);
    if (key == NULL) {
        v = SG_REPORT_NO_KEY;
        goto out;
    }
    if ((key->algs & SG_ALG_BIT(alg)) != 0 &&
        sg_sig_verify(alg, key->pkey, (const uint8_t *)jws.signing_input, jws.signing_input_len,
                      jws.sig, jws.sig_len) == SIGNET_OK)
        v = SG_REPORT_SIGNED;
out:
    json_decref(claims);
    sg_keyset_unref(set);
    sg_jws_clear(&jws);
    return v;
}
