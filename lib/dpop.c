/* DPoP (RFC 9449) proof checking, htu normalisation, stateless nonces and
 * the per-verifier replay cache. See dpop.h. */
#include "dpop.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "jwk.h"
#include "jws.h"
#include "util/b64url.h"
#include "util/hex.h"
#include "util/sha256.h"

/* ---- htu normalisation (RFC 3986 §6.2.2, §6.2.3) ------------------------ */

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_unreserved(int c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* A character RFC 3986 allows anywhere in a URI (unreserved, reserved, '%'). */
static int uri_char(int c)
{
    return is_unreserved(c) || (c != '\0' && strchr(":/?#[]@!$&'()*+,;=%", c) != NULL);
}

static int to_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

struct out_buf {
    char *p;
    size_t cap;
    size_t n;
    int full;
};

static void put_c(struct out_buf *o, char c)
{
    if (o->n + 1 >= o->cap) {
        o->full = 1;
        return;
    }
    o->p[o->n++] = c;
    o->p[o->n] = '\0';
}

static void put_s(struct out_buf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_c(o, s[i]);
}

/* RFC 3986 §5.2.4 on a path (already percent-normalised) of n bytes, into o. */
static void remove_dot_segments(const char *in, size_t n, struct out_buf *o)
{
    size_t start = o->n; /* o->p[start..] is the output path */
    size_t i = 0;
    while (i < n) {
        const char *s = in + i;
        size_t left = n - i;
        if (left >= 3 && memcmp(s, "../", 3) == 0) {
            i += 3;
        } else if ((left >= 2 && memcmp(s, "./", 2) == 0) ||
                   (left >= 3 && memcmp(s, "/./", 3) == 0)) {
            i += 2; /* "./" goes; "/./" leaves "/" */
        } else if (left == 2 && memcmp(s, "/.", 2) == 0) {
            put_c(o, '/'); /* the input would be "/", the last segment */
            i = n;
        } else if ((left >= 4 && memcmp(s, "/../", 4) == 0) ||
                   (left == 3 && memcmp(s, "/..", 3) == 0)) {
            /* drop the last output segment and its preceding "/" */
            while (o->n > start && o->p[o->n - 1] != '/')
                o->n--;
            if (o->n > start)
                o->n--;
            o->p[o->n] = '\0';
            if (left == 3) {
                put_c(o, '/');
                i = n;
            } else {
                i += 3; /* leaves "/" */
            }
        } else if ((left == 1 && s[0] == '.') || (left == 2 && memcmp(s, "..", 2) == 0)) {
            i = n;
        } else {
            size_t j = s[0] == '/' ? 1 : 0;
            while (j < left && s[j] != '/')
                j++;
            put_s(o, s, j);
            i += j;
        }
    }
}

signet_err sg_dpop_htu_normalise(const char *url, char *out, size_t cap)
{
    if (url == NULL || out == NULL || cap == 0)
        return SIGNET_ERR_INVALID_ARG;
    out[0] = '\0';
    size_t len = strnlen(url, SG_DPOP_URL_MAX + 1);
    if (len > SG_DPOP_URL_MAX)
        return SIGNET_ERR_TOO_LARGE;
    for (size_t i = 0; i < len; i++)
        if (!uri_char((unsigned char)url[i]))
            return SIGNET_ERR_MALFORMED; /* controls, space, non-ASCII, "<>\^`{|} */
    struct out_buf o = {out, cap, 0, 0};

    /* scheme: only http and https (case-insensitive) */
    int https = 0;
    size_t i = 0;
    if (len >= 7 && strncasecmp(url, "http://", 7) == 0) {
        i = 7;
    } else if (len >= 8 && strncasecmp(url, "https://", 8) == 0) {
        i = 8;
        https = 1;
    } else {
        return SIGNET_ERR_MALFORMED;
    }
    put_s(&o, https ? "https://" : "http://", https ? 8 : 7);

    /* authority = host [":" port], no userinfo */
    size_t a_end = i;
    while (a_end < len && url[a_end] != '/' && url[a_end] != '?' && url[a_end] != '#')
        a_end++;
    if (memchr(url + i, '@', a_end - i) != NULL)
        return SIGNET_ERR_MALFORMED;
    size_t h_end = i;
    if (i < a_end && url[i] == '[') { /* IP literal */
        const char *rb = memchr(url + i, ']', a_end - i);
        if (rb == NULL)
            return SIGNET_ERR_MALFORMED;
        h_end = (size_t)(rb - url) + 1;
        if (h_end - i < 3)
            return SIGNET_ERR_MALFORMED;
        for (size_t k = i + 1; k + 1 < h_end; k++) {
            int c = (unsigned char)url[k];
            if (sg_hex_digit(c) < 0 && c != ':' && c != '.')
                return SIGNET_ERR_MALFORMED;
        }
    } else {
        while (h_end < a_end && url[h_end] != ':')
            h_end++;
        for (size_t k = i; k < h_end; k++) {
            int c = (unsigned char)url[k];
            /* reg-name or IPv4; a percent-encoded host is refused */
            if (!is_unreserved(c) && strchr("!$&'()*+,;=", c) == NULL)
                return SIGNET_ERR_MALFORMED;
        }
    }
    if (h_end == i)
        return SIGNET_ERR_MALFORMED; /* no host */
    for (size_t k = i; k < h_end; k++)
        put_c(&o, (char)to_lower((unsigned char)url[k]));
    if (h_end < a_end) {
        if (url[h_end] != ':')
            return SIGNET_ERR_MALFORMED;
        unsigned long port = 0;
        for (size_t p = h_end + 1; p < a_end; p++) {
            if (!is_digit((unsigned char)url[p]))
                return SIGNET_ERR_MALFORMED;
            port = port * 10 + (unsigned long)(url[p] - '0');
            if (port > 65535)
                return SIGNET_ERR_MALFORMED;
        }
        if (port == 0 && h_end + 1 < a_end)
            return SIGNET_ERR_MALFORMED;
        /* an empty port and the scheme's default port are dropped */
        if (port != 0 && port != (https ? 443u : 80u)) {
            char digits[8];
            size_t nd = 0;
            while (port > 0) {
                digits[nd++] = (char)('0' + port % 10);
                port /= 10;
            }
            put_c(&o, ':');
            while (nd > 0)
                put_c(&o, digits[--nd]);
        }
    }
    /* path: percent-encoding normalised, then dot segments removed */
    size_t p_end = a_end;
    while (p_end < len && url[p_end] != '?' && url[p_end] != '#')
        p_end++;
    char path[SG_DPOP_URL_MAX + 1];
    size_t pn = 0;
    for (size_t k = a_end; k < p_end; k++) {
        int c = (unsigned char)url[k];
        if (c == '%') {
            if (k + 2 >= p_end)
                return SIGNET_ERR_MALFORMED;
            int hi = sg_hex_digit((unsigned char)url[k + 1]);
            int lo = sg_hex_digit((unsigned char)url[k + 2]);
            if (hi < 0 || lo < 0)
                return SIGNET_ERR_MALFORMED;
            int v = hi * 16 + lo;
            if (is_unreserved(v)) {
                path[pn++] = (char)v;
            } else {
                static const char hexd[] = "0123456789ABCDEF";
                path[pn++] = '%';
                path[pn++] = hexd[hi];
                path[pn++] = hexd[lo];
            }
            k += 2;
        } else if (c == '[' || c == ']') {
            return SIGNET_ERR_MALFORMED; /* gen-delims outside the host */
        } else {
            path[pn++] = (char)c;
        }
    }
    size_t path_start = o.n;
    remove_dot_segments(path, pn, &o);
    if (o.n == path_start)
        put_c(&o, '/'); /* an empty path is "/" (RFC 3986 §6.2.3) */
    if (o.full)
        return SIGNET_ERR_TOO_LARGE;
    return SIGNET_OK;
}

/* ---- proof checking (RFC 9449 §4.3) ------------------------------------- */

void sg_dpop_proof_clear(struct sg_dpop_proof *p)
{
    if (p == NULL)
        return;
    free(p->jti);
    free(p->nonce);
    memset(p, 0, sizeof *p);
}

signet_err sg_dpop_ath(const char *token, size_t len, char out[SG_THUMBPRINT_LEN + 1])
{
    uint8_t h[32];
    sg_sha256(token, len, h);
    return sg_b64url_encode(h, sizeof h, out, SG_THUMBPRINT_LEN + 1);
}

static uint32_t expected_algs(const struct sg_dpop_expect *e)
{
    if (e->algs == NULL)
        return SG_DPOP_DEFAULT_ALGS;
    uint32_t mask = 0;
    for (size_t i = 0; i < e->n_algs; i++) {
        enum sg_alg a;
        if (sg_alg_parse(e->algs[i], &a) == SIGNET_OK)
            mask |= SG_ALG_BIT(a);
    }
    return mask;
}

#define FAIL(sentence)          \
    do {                        \
        *why = (sentence);      \
        err = SIGNET_ERR_DPOP;  \
        goto out;               \
    } while (0)

/* The header rules: typ, alg, jwk (public, parsed), no other key source,
 * no critical extension. */
/* ---- proof keys seen before (see dpop.h) -------------------------------- */

struct key_entry {
    atomic_uint refs;
    struct sg_key key; /* key.thumbprint: the cache key */
};

#define KEY_LOCKS 16

struct sg_dpop_keys {
    size_t n;
    atomic_ulong hits;
    pthread_mutex_t lock[KEY_LOCKS]; /* slot i: lock[i % KEY_LOCKS] */
    struct key_entry **slot;
};

static void entry_unref(struct key_entry *e)
{
    if (e == NULL || atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
        return;
    sg_jwk_key_clear(&e->key);
    free(e);
}

signet_err sg_dpop_keys_new(size_t slots, struct sg_dpop_keys **out)
{
    *out = NULL;
    if (slots == 0 || slots > (1u << 20))
        return SIGNET_ERR_INVALID_ARG;
    struct sg_dpop_keys *k = calloc(1, sizeof *k);
    if (k == NULL)
        return SIGNET_ERR_NOMEM;
    k->slot = calloc(slots, sizeof(struct key_entry *));
    if (k->slot == NULL) {
        free(k);
        return SIGNET_ERR_NOMEM;
    }
    k->n = slots;
    for (size_t i = 0; i < KEY_LOCKS; i++)
        pthread_mutex_init(&k->lock[i], NULL);
    *out = k;
    return SIGNET_OK;
}

unsigned long sg_dpop_keys_hits(struct sg_dpop_keys *k)
{
    return atomic_load_explicit(&k->hits, memory_order_relaxed);
}

void sg_dpop_keys_free(struct sg_dpop_keys *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++)
        entry_unref(k->slot[i]);
    for (size_t i = 0; i < KEY_LOCKS; i++)
        pthread_mutex_destroy(&k->lock[i]);
    free(k->slot);
    free(k);
}

static size_t key_slot(const struct sg_dpop_keys *k, const char *tp)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a over the thumbprint text */
    for (size_t i = 0; i < SG_THUMBPRINT_LEN; i++)
        h = (h ^ (unsigned char)tp[i]) * 1099511628211u;
    return (size_t)(h % k->n);
}

/* Whether jwk holds the thumbprint's members and nothing else: then the
 * thumbprint names the key, and the key alone. */
static int thumbprint_only(const json_t *jwk)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    size_t want = kty == NULL ? 0 : strcmp(kty, "EC") == 0 ? 4 : strcmp(kty, "OKP") == 0 ? 3
                                  : strcmp(kty, "RSA") == 0 ? 3 : 0;
    return want != 0 && json_object_size(jwk) == want;
}

/* The proof key for jwk: a cached entry (one reference taken) or a fresh
 * import (cached when it may be). SIGNET_OK with *out set, else the
 * import's error. */
static signet_err proof_key(struct sg_dpop_keys *k, const json_t *jwk, struct key_entry **out)
{
    *out = NULL;
    char tp[SG_THUMBPRINT_LEN + 1];
    const int cacheable = k != NULL && thumbprint_only(jwk) &&
                          sg_jwk_thumbprint(jwk, tp) == SIGNET_OK;
    size_t i = 0;
    if (cacheable) {
        i = key_slot(k, tp);
        pthread_mutex_lock(&k->lock[i % KEY_LOCKS]);
        struct key_entry *e = k->slot[i];
        if (e != NULL && memcmp(e->key.thumbprint, tp, sizeof tp) == 0) {
            atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&k->hits, 1, memory_order_relaxed);
            *out = e;
        }
        pthread_mutex_unlock(&k->lock[i % KEY_LOCKS]);
        if (*out != NULL)
            return SIGNET_OK;
    }
    struct key_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err err = sg_jwk_parse(jwk, &e->key);
    if (err != SIGNET_OK) {
        free(e);
        return err;
    }
    atomic_init(&e->refs, 1);
    if (cacheable && memcmp(e->key.thumbprint, tp, sizeof tp) == 0) {
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        pthread_mutex_lock(&k->lock[i % KEY_LOCKS]);
        struct key_entry *old = k->slot[i];
        k->slot[i] = e;
        pthread_mutex_unlock(&k->lock[i % KEY_LOCKS]);
        entry_unref(old);
    }
    *out = e;
    return SIGNET_OK;
}

static signet_err check_header(const struct sg_jws *jws, uint32_t algs,
                               struct sg_dpop_keys *keys, enum sg_alg *alg,
                               struct key_entry **key, const json_t **jwk, const char **why)
{
    signet_err err = SIGNET_OK;
    const json_t *typ = json_object_get(jws->header, "typ");
    if (typ == NULL)
        FAIL("typ header is missing");
    if (!json_is_string(typ) || strcmp(json_string_value(typ), "dpop+jwt") != 0)
        FAIL("typ must be dpop+jwt");
    const json_t *a = json_object_get(jws->header, "alg");
    if (a == NULL)
        FAIL("alg header is missing");
    if (!json_is_string(a))
        FAIL("alg header is not a string");
    if (sg_alg_parse(json_string_value(a), alg) != SIGNET_OK)
        FAIL("alg is not an asymmetric algorithm signet supports (none, HS* and RS* never are)");
    if ((algs & SG_ALG_BIT(*alg)) == 0)
        FAIL("alg is not in the allowed DPoP algorithms");
    static const char *const others[] = {"jku", "x5u", "x5c"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (json_object_get(jws->header, others[i]) != NULL)
            FAIL("the proof key must come from the jwk header only (jku, x5u, x5c refused)");
    if (json_object_get(jws->header, "crit") != NULL)
        FAIL("crit header is not supported in a DPoP proof");
    *jwk = json_object_get(jws->header, "jwk");
    if (*jwk == NULL)
        FAIL("jwk header is missing");
    if (!json_is_object(*jwk))
        FAIL("jwk header is not a JSON object");
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++)
        if (json_object_get(*jwk, priv[i]) != NULL)
            FAIL("jwk header contains private or symmetric key material");
    const json_t *kty = json_object_get(*jwk, "kty");
    if (!json_is_string(kty))
        FAIL("jwk header has no kty");
    if (strcmp(json_string_value(kty), "oct") == 0)
        FAIL("jwk header is a symmetric key (kty oct)");
    err = proof_key(keys, *jwk, key);
    if (err == SIGNET_ERR_NOMEM)
        goto out;
    if (err != SIGNET_OK)
        FAIL("jwk header is not a valid public signature key");
    if (((*key)->key.algs & SG_ALG_BIT(*alg)) == 0)
        FAIL("alg does not match the jwk key type");
out:
    return err;
}

static signet_err copy_str(const json_t *s, char **out)
{
    *out = strdup(json_string_value(s));
    return *out != NULL ? SIGNET_OK : SIGNET_ERR_NOMEM;
}

/* A printable ASCII string of 1..max bytes. */
static int printable(const json_t *s, size_t max)
{
    if (!json_is_string(s))
        return 0;
    size_t n = json_string_length(s);
    const char *v = json_string_value(s);
    if (n == 0 || n > max || strlen(v) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
            return 0;
    return 1;
}

static signet_err check_claims(const json_t *claims, const struct sg_dpop_expect *e,
                               const char *want_url, struct sg_dpop_proof *out,
                               const char **why)
{
    signet_err err = SIGNET_OK;
    /* jti */
    const json_t *jti = json_object_get(claims, "jti");
    if (jti == NULL)
        FAIL("jti claim is missing");
    if (!printable(jti, SG_DPOP_JTI_MAX))
        FAIL("jti must be a printable string of 1 to 256 bytes");
    /* htm */
    const json_t *htm = json_object_get(claims, "htm");
    if (htm == NULL)
        FAIL("htm claim is missing");
    if (!json_is_string(htm) || strcmp(json_string_value(htm), e->method) != 0 ||
        json_string_length(htm) != strlen(e->method))
        FAIL("htm does not match the request method");
    /* htu */
    const json_t *htu = json_object_get(claims, "htu");
    if (htu == NULL)
        FAIL("htu claim is missing");
    if (!json_is_string(htu) || strlen(json_string_value(htu)) != json_string_length(htu))
        FAIL("htu is not a string");
    char got_url[SG_DPOP_URL_MAX + 1];
    if (sg_dpop_htu_normalise(json_string_value(htu), got_url, sizeof got_url) != SIGNET_OK)
        FAIL("htu is not a valid http(s) URL (no userinfo)");
    if (strcmp(got_url, want_url) != 0)
        FAIL("htu does not match the request URL");
    /* iat */
    const json_t *iat = json_object_get(claims, "iat");
    if (iat == NULL)
        FAIL("iat claim is missing");
    if (sg_json_numeric_date(iat, 0, &out->iat) != SIGNET_OK)
        FAIL("iat is not a NumericDate");
    if (out->iat < e->now - e->max_age)
        FAIL("iat is too old (proof outside the acceptance window)");
    if (out->iat > e->now + e->skew)
        FAIL("iat is in the future");
    /* ath */
    const json_t *ath = json_object_get(claims, "ath");
    if (e->access_token != NULL) {
        if (ath == NULL)
            FAIL("ath claim is missing (required with an access token)");
        char want[SG_THUMBPRINT_LEN + 1];
        err = sg_dpop_ath(e->access_token, e->access_token_len, want);
        if (err != SIGNET_OK)
            goto out;
        if (!json_is_string(ath) || json_string_length(ath) != SG_THUMBPRINT_LEN ||
            CRYPTO_memcmp(json_string_value(ath), want, SG_THUMBPRINT_LEN) != 0)
            FAIL("ath does not match the access token hash");
    } else if (ath != NULL) {
        FAIL("ath claim present where no access token is presented");
    }
    /* nonce: shape only; its value is the caller's to judge */
    const json_t *nonce = json_object_get(claims, "nonce");
    if (nonce != NULL) {
        if (!printable(nonce, SG_DPOP_NONCE_LEN_MAX))
            FAIL("nonce must be a printable string of 1 to 512 bytes");
        err = copy_str(nonce, &out->nonce);
        if (err != SIGNET_OK)
            goto out;
    }
    err = copy_str(jti, &out->jti);
    if (err != SIGNET_OK)
        goto out;
    /* replay key: SHA-256(jti || 0 || normalised htu) */
    size_t jl = strlen(out->jti), ul = strlen(want_url);
    uint8_t buf[SG_DPOP_JTI_MAX + 1 + SG_DPOP_URL_MAX];
    memcpy(buf, out->jti, jl);
    buf[jl] = 0;
    memcpy(buf + jl + 1, want_url, ul);
    sg_sha256(buf, jl + 1 + ul, out->replay_key);
out:
    return err;
}

signet_err sg_dpop_check(const char *proof, size_t len, const struct sg_dpop_expect *e,
                         struct sg_dpop_proof *out, const char **why)
{
    static const char *const none = "";
    const char *ignored = NULL;
    if (why == NULL)
        why = &ignored;
    *why = none;
    if (out == NULL)
        return SIGNET_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (e == NULL || e->method == NULL || e->url == NULL || e->max_age < 0 || e->skew < 0 ||
        (e->access_token == NULL && e->access_token_len != 0)) {
        *why = "the server's expectations are incomplete";
        return SIGNET_ERR_INVALID_ARG;
    }
    char want_url[SG_DPOP_URL_MAX + 1];
    if (sg_dpop_htu_normalise(e->url, want_url, sizeof want_url) != SIGNET_OK) {
        *why = "the request URL given by the server is not a valid http(s) URL";
        return SIGNET_ERR_INVALID_ARG;
    }

    signet_err err = SIGNET_OK;
    struct sg_jws jws;
    struct key_entry *key = NULL;
    json_t *claims = NULL;
    const json_t *jwk = NULL;
    enum sg_alg alg = SG_ALG_ES256;
    memset(&jws, 0, sizeof jws);

    if (proof == NULL || len == 0)
        FAIL("DPoP proof is empty");
    if (len > SG_DPOP_PROOF_MAX)
        FAIL("DPoP proof is larger than 8192 bytes");
    if (memchr(proof, '\0', len) != NULL)
        FAIL("DPoP proof is not a compact JWS");
    err = sg_jws_parse(proof, len, &jws);
    if (err == SIGNET_ERR_NOMEM)
        goto out;
    if (err == SIGNET_ERR_DUPLICATE_MEMBER)
        FAIL("DPoP proof header has a duplicate member");
    if (err == SIGNET_ERR_BAD_BASE64)
        FAIL("DPoP proof is not strict base64url");
    if (err != SIGNET_OK)
        FAIL("DPoP proof is not a compact JWS with a JSON object header");
    err = check_header(&jws, expected_algs(e), e->keys, &alg, &key, &jwk, why);
    if (err != SIGNET_OK)
        goto out;
    err = sg_sig_verify_md(alg, key->key.pkey, e->mds, key->key.ctx_pool,
                           (const uint8_t *)jws.signing_input, jws.signing_input_len, jws.sig,
                           jws.sig_len);
    if (err == SIGNET_ERR_NOMEM)
        goto out;
    if (err != SIGNET_OK)
        FAIL("DPoP proof signature does not verify with its jwk");
    err = sg_json_parse(jws.payload, jws.payload_len, SG_DPOP_PROOF_MAX, &claims);
    if (err == SIGNET_ERR_NOMEM)
        goto out;
    if (err == SIGNET_ERR_DUPLICATE_MEMBER)
        FAIL("DPoP proof payload has a duplicate member");
    if (err != SIGNET_OK || !json_is_object(claims))
        FAIL("DPoP proof payload is not a JSON object");
    err = check_claims(claims, e, want_url, out, why);
    if (err != SIGNET_OK)
        goto out;
    /* sg_jwk_parse computed the key's RFC 7638 thumbprint. */
    memcpy(out->jkt, key->key.thumbprint, sizeof out->jkt);
    memcpy(out->alg, sg_alg_name(alg), strlen(sg_alg_name(alg)) + 1);
out:
    if (err != SIGNET_OK) {
        sg_dpop_proof_clear(out);
        if (err == SIGNET_ERR_NOMEM)
            *why = "out of memory";
    }
    json_decref(claims);
    entry_unref(key);
    sg_jws_clear(&jws);
    return err;
}

#undef FAIL

/* ---- stateless nonces --------------------------------------------------- */

#define NONCE_RAW 40 /* 8-byte step + 32-byte MAC */

static int nonce_mac(const uint8_t key[32], uint64_t step, uint8_t raw[NONCE_RAW])
{
    static const char label[] = "signet-dpop-nonce";
    uint8_t msg[sizeof label - 1 + 8];
    memcpy(msg, label, sizeof label - 1);
    for (int i = 0; i < 8; i++)
        raw[i] = (uint8_t)(step >> (56 - 8 * i));
    memcpy(msg + sizeof label - 1, raw, 8);
    unsigned int mlen = 0;
    if (HMAC(EVP_sha256(), key, 32, msg, sizeof msg, raw + 8, &mlen) == NULL || mlen != 32)
        return -1;
    return 0;
}

signet_err sg_dpop_nonce_make(const uint8_t key[32], int64_t now, int64_t step_s,
                              char out[SG_DPOP_NONCE_MAX])
{
    out[0] = '\0';
    if (step_s <= 0 || now < 0)
        return SIGNET_ERR_INVALID_ARG;
    uint8_t raw[NONCE_RAW];
    if (nonce_mac(key, (uint64_t)(now / step_s), raw) != 0)
        return SIGNET_ERR_CRYPTO;
    signet_err err = sg_b64url_encode(raw, sizeof raw, out, SG_DPOP_NONCE_MAX);
    OPENSSL_cleanse(raw, sizeof raw);
    return err;
}

int sg_dpop_nonce_valid(const uint8_t key[32], int64_t now, int64_t step_s, const char *nonce)
{
    if (nonce == NULL || step_s <= 0 || now < 0)
        return 0;
    size_t n = strnlen(nonce, SG_DPOP_NONCE_MAX);
    uint8_t got[NONCE_RAW + 3];
    size_t got_len = 0;
    if (n >= SG_DPOP_NONCE_MAX ||
        sg_b64url_decode(nonce, n, got, sizeof got, &got_len) != SIGNET_OK ||
        got_len != NONCE_RAW)
        return 0;
    uint64_t step = 0;
    for (int i = 0; i < 8; i++)
        step = (step << 8) | got[i];
    uint64_t cur = (uint64_t)(now / step_s);
    if (step != cur && step + 1 != cur)
        return 0;
    uint8_t want[NONCE_RAW];
    if (nonce_mac(key, step, want) != 0)
        return 0;
    int ok = CRYPTO_memcmp(want, got, NONCE_RAW) == 0;
    OPENSSL_cleanse(want, sizeof want);
    return ok;
}

/* ---- replay cache ------------------------------------------------------- */

/* Two-choice bucketed hash set of 16-byte keys (the first half of the
 * SHA-256 replay key; the other half picks the buckets). Each bucket has
 * REPLAY_WAYS slots, an expired slot is free. Lock stripes guard buckets. */
#define REPLAY_WAYS 8
#define REPLAY_STRIPES 64

struct replay_slot {
    uint8_t key[16];
    int64_t expires; /* 0: empty */
};

struct sg_dpop_replay {
    size_t n_buckets;
    struct replay_slot *slots; /* n_buckets * REPLAY_WAYS */
    pthread_mutex_t locks[REPLAY_STRIPES];
};

signet_err sg_dpop_replay_new(size_t max_entries, struct sg_dpop_replay **out)
{
    *out = NULL;
    if (max_entries == 0 || max_entries > SG_DPOP_REPLAY_MAX)
        return SIGNET_ERR_INVALID_ARG;
    struct sg_dpop_replay *r = calloc(1, sizeof *r);
    if (r == NULL)
        return SIGNET_ERR_NOMEM;
    /* Room for twice the entries: two choices keep buckets from filling
     * before the whole table does. */
    r->n_buckets = (2 * max_entries + REPLAY_WAYS - 1) / REPLAY_WAYS;
    if (r->n_buckets < 2)
        r->n_buckets = 2;
    r->slots = calloc(r->n_buckets * REPLAY_WAYS, sizeof *r->slots);
    if (r->slots == NULL) {
        free(r);
        return SIGNET_ERR_NOMEM;
    }
    for (size_t i = 0; i < REPLAY_STRIPES; i++)
        pthread_mutex_init(&r->locks[i], NULL);
    *out = r;
    return SIGNET_OK;
}

void sg_dpop_replay_free(struct sg_dpop_replay *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < REPLAY_STRIPES; i++)
        pthread_mutex_destroy(&r->locks[i]);
    free(r->slots);
    free(r);
}

static uint64_t u64_at(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* 1 when key is live in bucket b; else, *free_slot is a free slot (or NULL). */
static int bucket_find(struct replay_slot *b, const uint8_t key[16], int64_t now,
                       struct replay_slot **free_slot, size_t *live)
{
    for (size_t i = 0; i < REPLAY_WAYS; i++) {
        if (b[i].expires > now) {
            (*live)++;
            if (memcmp(b[i].key, key, 16) == 0)
                return 1;
        } else if (*free_slot == NULL) {
            *free_slot = &b[i];
        }
    }
    return 0;
}

signet_err sg_dpop_replay_check(struct sg_dpop_replay *r, const uint8_t key[32], int64_t now,
                                int64_t expires)
{
    if (r == NULL || expires <= now)
        return SIGNET_ERR_INVALID_ARG;
    size_t b1 = (size_t)(u64_at(key + 16) % r->n_buckets);
    size_t b2 = (size_t)(u64_at(key + 24) % r->n_buckets);
    if (b2 == b1)
        b2 = (b1 + 1) % r->n_buckets;
    size_t l1 = b1 % REPLAY_STRIPES, l2 = b2 % REPLAY_STRIPES;
    size_t lo = l1 < l2 ? l1 : l2, hi = l1 < l2 ? l2 : l1;
    pthread_mutex_lock(&r->locks[lo]);
    if (hi != lo)
        pthread_mutex_lock(&r->locks[hi]);
    struct replay_slot *f1 = NULL, *f2 = NULL;
    size_t live1 = 0, live2 = 0;
    signet_err err = SIGNET_OK;
    if (bucket_find(&r->slots[b1 * REPLAY_WAYS], key, now, &f1, &live1) ||
        bucket_find(&r->slots[b2 * REPLAY_WAYS], key, now, &f2, &live2)) {
        err = SIGNET_ERR_DPOP_REPLAY;
    } else {
        /* the emptier bucket of the two */
        struct replay_slot *s = f1 != NULL && (f2 == NULL || live1 <= live2) ? f1 : f2;
        if (s == NULL) {
            err = SIGNET_ERR_BUSY;
        } else {
            memcpy(s->key, key, 16);
            s->expires = expires;
        }
    }
    if (hi != lo)
        pthread_mutex_unlock(&r->locks[hi]);
    pthread_mutex_unlock(&r->locks[lo]);
    return err;
}

/* ---- Authorization header ----------------------------------------------- */

static int token68_char(int c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
           c == '+' || c == '/';
}

signet_err sg_parse_authorization(const char *value, size_t len, const char **scheme,
                                  size_t *scheme_len, const char **token, size_t *token_len)
{
    *scheme = *token = NULL;
    *scheme_len = *token_len = 0;
    if (value == NULL)
        return SIGNET_ERR_INVALID_ARG;
    if (len > SG_TOKEN_MAX + 16)
        return SIGNET_ERR_TOO_LARGE;
    const char *sp = memchr(value, ' ', len);
    if (sp == NULL || sp == value)
        return SIGNET_ERR_MALFORMED;
    size_t sl = (size_t)(sp - value);
    for (size_t i = 0; i < sl; i++)
        if (!is_alpha((unsigned char)value[i]))
            return SIGNET_ERR_MALFORMED;
    const char *t = sp + 1;
    size_t tl = len - sl - 1;
    if (tl == 0)
        return SIGNET_ERR_MALFORMED;
    size_t i = 0;
    while (i < tl && token68_char((unsigned char)t[i]))
        i++;
    if (i == 0)
        return SIGNET_ERR_MALFORMED;
    while (i < tl && t[i] == '=')
        i++;
    if (i != tl)
        return SIGNET_ERR_MALFORMED; /* a second space, a comma, a parameter, a NUL ... */
    if (!((sl == 6 && strncasecmp(value, "Bearer", 6) == 0) ||
          (sl == 4 && strncasecmp(value, "DPoP", 4) == 0)))
        return SIGNET_ERR_UNSUPPORTED;
    *scheme = value;
    *scheme_len = sl;
    *token = t;
    *token_len = tl;
    return SIGNET_OK;
}
