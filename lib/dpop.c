/* DPoP (RFC 9449) proof checking, htu normalisation, stateless nonces and
 * the per-verifier replay cache. See dpop.h. */
#include "dpop.h"

#include <string.h>

signet_err sg_dpop_check(const char *proof, size_t len, const struct sg_dpop_expect *e,
                         struct sg_dpop_proof *out, const char **why)
{
    (void)proof;
    (void)len;
    (void)e;
    memset(out, 0, sizeof *out);
    *why = "DPoP proof checking is not implemented yet";
    return SIGNET_ERR_UNSUPPORTED;
}

void sg_dpop_proof_clear(struct sg_dpop_proof *p)
{
    (void)p;
}

/* Bodies follow in the next commits (issue 12). */
signet_err sg_dpop_htu_normalise(const char *url, char *out, size_t cap)
{
    (void)url;
    if (cap > 0)
        out[0] = '\0';
    return SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_dpop_nonce_make(const uint8_t key[32], int64_t now, int64_t step_s,
                              char out[SG_DPOP_NONCE_MAX])
{
    (void)key;
    (void)now;
    (void)step_s;
    out[0] = '\0';
    return SIGNET_ERR_UNSUPPORTED;
}

int sg_dpop_nonce_valid(const uint8_t key[32], int64_t now, int64_t step_s, const char *nonce)
{
    (void)key;
    (void)now;
    (void)step_s;
    (void)nonce;
    return 0;
}

signet_err sg_dpop_ath(const char *token, size_t len, char out[SG_THUMBPRINT_LEN + 1])
{
    (void)token;
    (void)len;
    out[0] = '\0';
    return SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_dpop_replay_new(size_t max_entries, struct sg_dpop_replay **out)
{
    (void)max_entries;
    *out = NULL;
    return SIGNET_ERR_UNSUPPORTED;
}

void sg_dpop_replay_free(struct sg_dpop_replay *r)
{
    (void)r;
}

signet_err sg_dpop_replay_check(struct sg_dpop_replay *r, const uint8_t key[32], int64_t now,
                                int64_t expires)
{
    (void)r;
    (void)key;
    (void)now;
    (void)expires;
    return SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_parse_authorization(const char *value, size_t len, const char **scheme,
                                  size_t *scheme_len, const char **token, size_t *token_len)
{
    (void)value;
    (void)len;
    *scheme = *token = NULL;
    *scheme_len = *token_len = 0;
    return SIGNET_ERR_UNSUPPORTED;
}
