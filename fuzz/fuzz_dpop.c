/* libFuzzer target: DPoP (RFC 9449, issue 12). The input is, in turn, a
 * proof for sg_dpop_check (with an access token, and at a token endpoint
 * without one), a URL for sg_dpop_htu_normalise (which must be idempotent
 * and only ever give http(s)://host/...), an Authorization header value for
 * sg_parse_authorization (whose pieces must lie inside the value and cover
 * it exactly), and a nonce. Seeds in fuzz/corpus/fuzz_dpop/: real proofs
 * (ES256, EdDSA), hostile variants, URLs and header values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dpop.h"
#include "signet/signet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_proof(const char *p, size_t n, const char *token)
{
    struct sg_dpop_expect e = {
        .method = "GET",
        .url = "https://rs.example/api/orders",
        .now = 1700000000,
        .max_age = 300,
        .skew = 60,
        .access_token = token,
        .access_token_len = token != NULL ? strlen(token) : 0,
    };
    struct sg_dpop_proof out;
    const char *why = NULL;
    signet_err err = sg_dpop_check(p, n, &e, &out, &why);
    if (why == NULL)
        abort();
    if (err == SIGNET_OK) {
        if (strlen(out.jkt) != SG_THUMBPRINT_LEN || out.jti == NULL || out.alg[0] == '\0' ||
            out.iat < e.now - e.max_age || out.iat > e.now + e.skew)
            abort();
    } else if (err == SIGNET_ERR_DPOP && why[0] == '\0') {
        abort(); /* every refusal names its check */
    }
    sg_dpop_proof_clear(&out);
}

static void check_url(const char *s)
{
    char a[SG_DPOP_URL_MAX + 1], b[SG_DPOP_URL_MAX + 1];
    if (sg_dpop_htu_normalise(s, a, sizeof a) != SIGNET_OK)
        return;
    if (strncmp(a, "http://", 7) != 0 && strncmp(a, "https://", 8) != 0)
        abort();
    const char *auth = a + (a[4] == 's' ? 8 : 7);
    const char *slash = strchr(auth, '/');
    if (slash == NULL || slash == auth || memchr(auth, '@', (size_t)(slash - auth)) != NULL)
        abort(); /* a host, no userinfo, a path */
    if (strchr(a, '?') != NULL || strchr(a, '#') != NULL)
        abort();
    if (sg_dpop_htu_normalise(a, b, sizeof b) != SIGNET_OK || strcmp(a, b) != 0)
        abort(); /* normalising a normal form changes nothing */
}

static void check_authorization(const char *v, size_t n)
{
    const char *s = NULL, *t = NULL;
    size_t sl = 0, tl = 0;
    if (signet_parse_authorization(v, n, &s, &sl, &t, &tl) != SIGNET_OK) {
        if (s != NULL || t != NULL)
            abort();
        return;
    }
    if (s != v || sl + 1 + tl != n || t != v + sl + 1 || v[sl] != ' ' || tl == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    check_proof(p, size, "tok");
    check_proof(p, size, NULL);
    check_authorization(p, size);
    if (size <= SG_DPOP_URL_MAX + 8) {
        char *s = malloc(size + 1);
        if (s == NULL)
            return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        check_url(s);
        static const uint8_t key[32] = {1, 2, 3};
        (void)sg_dpop_nonce_valid(key, 1700000000, 60, s);
        free(s);
    }
    return 0;
}
