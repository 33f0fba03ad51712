/* WebAuthn Level 3 relying-party verification: the registration ceremony
 * (§7.1, attestation "none" only) and the authentication ceremony (§7.2).
 * See webauthn.h.
 *
 * CBOR is decoded by libcbor in two steps: a walk with its streaming
 * decoder (cbor_stream_decode) that finds where one item ends and refuses
 * what signet never accepts (indefinite lengths, tags, floats, undefined,
 * non-minimal heads, more than WA_CBOR_MAX_DEPTH levels, a declared count
 * larger than the bytes left: libcbor 0.8 allocates a definite array or
 * map for its declared count before reading it), then cbor_load on exactly
 * those bytes, and a check of every map for duplicate keys. Map key order
 * is not enforced (CTAP2 §8 canonical order): browsers re-encode.
 *
 * Signatures go through libfido2's fido_assert_verify with an es256_pk,
 * eddsa_pk or rs256_pk. libfido2 1.12 handles RS256 keys of exactly 2048
 * bits with e = 65537 only; larger moduli (up to 4096 bits) are verified
 * with OpenSSL's RSASSA-PKCS1-v1_5 (RFC 8230 §2) over the same bytes.
 */
#include "signetd/webauthn.h"

#include <cbor.h>
#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <fido/rs256.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "util/b64url.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/sha256.h"

#define WA_CBOR_MAX_DEPTH 8
#define WA_MAX_SIG 512u         /* RS256 with a 4096-bit modulus */
#define WA_RSA_MIN_BITS 2048
#define WA_RSA_MAX_BITS 4096
#define WA_ORIGIN_QUOTE_MAX 100 /* characters of an origin quoted in why */

/* COSE labels and values (RFC 9052 §7.1, RFC 9053 §7, RFC 8230 §4). */
#define COSE_LABEL_KTY 1
#define COSE_LABEL_ALG 3
#define COSE_LABEL_MIN (-12) /* RSA's last private parameter (RFC 8230 §4) */
#define COSE_LABEL_MAX 3

/* ---- why ------------------------------------------------------------------ */

static signet_err refuse(char *why, size_t whylen, signet_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Names the failed check in why and returns err. */
static signet_err refuse(char *why, size_t whylen, signet_err err, const char *fmt, ...)
{
    if (why != NULL && whylen > 0) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* An untrusted string made fit to quote: at most max characters, anything
 * outside printable ASCII (and the quote itself) replaced by '?', "..."
 * appended when cut. */
static void quote_untrusted(const char *s, size_t max, char *out, size_t cap)
{
    size_t n = 0;
    size_t i = 0;
    for (; i < max && s[i] != '\0' && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[n++] = c >= 0x20 && c < 0x7f && c != '\'' ? (char)c : '?';
    }
    out[n] = '\0';
    if (s[i] != '\0' && cap - n > 3)
        (void)snprintf(out + n, cap - n, "...");
}

/* ---- libfido2 --------------------------------------------------------------- */

static pthread_once_t fido_once = PTHREAD_ONCE_INIT;

static void fido_init_once(void)
{
    fido_init(0);
}

/* ---- CBOR: one item's extent and hygiene, through libcbor's streaming decoder */

enum wa_ev { EV_NONE, EV_INT, EV_STRING, EV_ARRAY, EV_MAP, EV_SIMPLE, EV_REFUSED };

struct wa_scan_event {
    enum wa_ev kind;
    uint64_t arg; /* the value, the string's length or the item count */
};

static void ev_set(void *ctx, enum wa_ev kind, uint64_t arg)
{
    struct wa_scan_event *ev = ctx;
    ev->kind = kind;
    ev->arg = arg;
}

static void ev_u8(void *ctx, uint8_t v) { ev_set(ctx, EV_INT, v); }
static void ev_u16(void *ctx, uint16_t v) { ev_set(ctx, EV_INT, v); }
static void ev_u32(void *ctx, uint32_t v) { ev_set(ctx, EV_INT, v); }
static void ev_u64(void *ctx, uint64_t v) { ev_set(ctx, EV_INT, v); }
static void ev_string(void *ctx, cbor_data p, size_t n)
{
    (void)p;
    ev_set(ctx, EV_STRING, n);
}
static void ev_array(void *ctx, size_t n) { ev_set(ctx, EV_ARRAY, n); }
static void ev_map(void *ctx, size_t n) { ev_set(ctx, EV_MAP, n); }
static void ev_simple(void *ctx) { ev_set(ctx, EV_SIMPLE, 0); }
static void ev_bool(void *ctx, bool v)
{
    (void)v;
    ev_set(ctx, EV_SIMPLE, 0);
}
static void ev_refused(void *ctx) { ev_set(ctx, EV_REFUSED, 0); }
static void ev_refused_tag(void *ctx, uint64_t v)
{
    (void)v;
    ev_set(ctx, EV_REFUSED, 0);
}
static void ev_refused_float(void *ctx, float v)
{
    (void)v;
    ev_set(ctx, EV_REFUSED, 0);
}
static void ev_refused_double(void *ctx, double v)
{
    (void)v;
    ev_set(ctx, EV_REFUSED, 0);
}

static const struct cbor_callbacks wa_scan_callbacks = {
    .uint8 = ev_u8,
    .uint16 = ev_u16,
    .uint32 = ev_u32,
    .uint64 = ev_u64,
    .negint8 = ev_u8,
    .negint16 = ev_u16,
    .negint32 = ev_u32,
    .negint64 = ev_u64,
    .byte_string = ev_string,
    .string = ev_string,
    .array_start = ev_array,
    .map_start = ev_map,
    .null = ev_simple,
    .boolean = ev_bool,
    /* indefinite lengths, tags, floats, undefined: never in WebAuthn's
     * structures (CTAP2 §8 canonical CBOR) */
    .byte_string_start = ev_refused,
    .string_start = ev_refused,
    .indef_array_start = ev_refused,
    .indef_map_start = ev_refused,
    .indef_break = ev_refused,
    .undefined = ev_refused,
    .tag = ev_refused_tag,
    .float2 = ev_refused_float,
    .float4 = ev_refused_float,
    .float8 = ev_refused_double,
};

/* Bytes of the shortest head (RFC 8949 §3, §4.2.1) for argument v. */
static size_t head_len(uint64_t v)
{
    if (v < 24)
        return 1;
    if (v <= UINT8_MAX)
        return 2;
    if (v <= UINT16_MAX)
        return 3;
    if (v <= UINT32_MAX)
        return 5;
    return 9;
}

/* Walks one CBOR data item at the start of p without building it: *extent
 * gets its length in bytes and *top the kind of its outermost value. */
static signet_err cbor_extent(const uint8_t *p, size_t len, size_t *extent, enum wa_ev *top)
{
    size_t left[WA_CBOR_MAX_DEPTH + 1]; /* items still owed at each open level */
    size_t depth = 1;
    size_t pos = 0;
    left[0] = 1;
    *top = EV_NONE;
    while (depth > 0) {
        struct wa_scan_event ev = {EV_NONE, 0};
        struct cbor_decoder_result r =
            cbor_stream_decode(p + pos, len - pos, &wa_scan_callbacks, &ev);
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || r.read > len - pos)
            return SIGNET_ERR_MALFORMED;
        switch (ev.kind) {
        case EV_INT:
        case EV_ARRAY:
        case EV_MAP:
            if (r.read != head_len(ev.arg))
                return SIGNET_ERR_MALFORMED; /* not the shortest encoding */
            break;
        case EV_STRING:
            if (r.read < ev.arg || r.read - ev.arg != head_len(ev.arg))
                return SIGNET_ERR_MALFORMED;
            break;
        case EV_SIMPLE:
            if (r.read != 1)
                return SIGNET_ERR_MALFORMED;
            break;
        default:
            return SIGNET_ERR_MALFORMED;
        }
        if (*top == EV_NONE)
            *top = ev.kind;
        pos += r.read;
        left[depth - 1]--;
        if ((ev.kind == EV_ARRAY || ev.kind == EV_MAP) && ev.arg > 0) {
            /* every item takes at least one byte: a count larger than the
             * bytes left is refused before libcbor allocates for it */
            uint64_t items = ev.arg;
            if (items > len - pos || (ev.kind == EV_MAP && items > (len - pos) / 2))
                return SIGNET_ERR_MALFORMED;
            if (ev.kind == EV_MAP)
                items *= 2;
            if (depth > WA_CBOR_MAX_DEPTH)
                return SIGNET_ERR_MALFORMED;
            left[depth++] = (size_t)items;
        }
        while (depth > 0 && left[depth - 1] == 0)
            depth--;
    }
    *extent = pos;
    return SIGNET_OK;
}

static int key_equal(const cbor_item_t *a, const cbor_item_t *b)
{
    if (cbor_typeof(a) != cbor_typeof(b))
        return 0;
    switch (cbor_typeof(a)) {
    case CBOR_TYPE_UINT:
    case CBOR_TYPE_NEGINT:
        return cbor_get_int(a) == cbor_get_int(b);
    case CBOR_TYPE_BYTESTRING:
        return cbor_bytestring_length(a) == cbor_bytestring_length(b) &&
               memcmp(cbor_bytestring_handle(a), cbor_bytestring_handle(b),
                      cbor_bytestring_length(a)) == 0;
    case CBOR_TYPE_STRING:
        return cbor_string_length(a) == cbor_string_length(b) &&
               memcmp(cbor_string_handle(a), cbor_string_handle(b), cbor_string_length(a)) == 0;
    default:
        return 0;
    }
}

/* Every map in the tree has keys that are integers or strings, each once
 * (RFC 8949 §5.6: a map with duplicate keys is not valid). */
static int keys_unique(const cbor_item_t *it, unsigned depth)
{
    if (depth > WA_CBOR_MAX_DEPTH)
        return 0;
    if (cbor_isa_array(it)) {
        cbor_item_t **v = cbor_array_handle(it);
        for (size_t i = 0; i < cbor_array_size(it); i++)
            if (!keys_unique(v[i], depth + 1))
                return 0;
        return 1;
    }
    if (!cbor_isa_map(it))
        return 1;
    struct cbor_pair *m = cbor_map_handle(it);
    size_t n = cbor_map_size(it);
    for (size_t i = 0; i < n; i++) {
        cbor_type t = cbor_typeof(m[i].key);
        if (t != CBOR_TYPE_UINT && t != CBOR_TYPE_NEGINT && t != CBOR_TYPE_BYTESTRING &&
            t != CBOR_TYPE_STRING)
            return 0;
        for (size_t j = 0; j < i; j++)
            if (key_equal(m[i].key, m[j].key))
                return 0;
        if (!keys_unique(m[i].value, depth + 1))
            return 0;
    }
    return 1;
}

/* Decodes the one CBOR item at the start of p (cbor_extent, then cbor_load
 * of exactly its bytes); *extent gets its length. */
static signet_err cbor_load_one(const uint8_t *p, size_t len, cbor_item_t **out, size_t *extent)
{
    enum wa_ev top = EV_NONE;
    *out = NULL;
    signet_err err = cbor_extent(p, len, extent, &top);
    if (err != SIGNET_OK)
        return err;
    struct cbor_load_result res;
    cbor_item_t *it = cbor_load(p, *extent, &res);
    if (it == NULL)
        return res.error.code == CBOR_ERR_MEMERROR ? SIGNET_ERR_NOMEM : SIGNET_ERR_MALFORMED;
    if (res.error.code != CBOR_ERR_NONE || res.read != *extent || !keys_unique(it, 0)) {
        cbor_decref(&it);
        return SIGNET_ERR_MALFORMED;
    }
    *out = it;
    return SIGNET_OK;
}

static int text_is(const cbor_item_t *it, const char *s)
{
    size_t n = strlen(s);
    return cbor_isa_string(it) && cbor_string_is_definite(it) && cbor_string_length(it) == n &&
           memcmp(cbor_string_handle(it), s, n) == 0;
}

/* ---- COSE keys (RFC 9052 §7, RFC 9053 §2.1, §2.2, §7, RFC 8230 §4) ------------ */

struct cose_key {
    int alg; /* COSE_ES256, COSE_EDDSA or COSE_RS256 once accepted */
    uint8_t x[32], y[32];
    uint8_t n[WA_RSA_MAX_BITS / 8];
    size_t n_len;
};

/* A public key ready for verification: libfido2's, or for an RSA modulus
 * libfido2 does not take, an OpenSSL key. */
struct wa_pk {
    int alg;
    es256_pk_t *es256;
    eddsa_pk_t *eddsa;
    rs256_pk_t *rs256;
    EVP_PKEY *rsa_big;
};

static void wa_pk_clear(struct wa_pk *pk)
{
    es256_pk_free(&pk->es256);
    eddsa_pk_free(&pk->eddsa);
    rs256_pk_free(&pk->rs256);
    EVP_PKEY_free(pk->rsa_big);
    pk->rsa_big = NULL;
}

static int cbor_int64(const cbor_item_t *it, int64_t *v)
{
    if (!cbor_isa_uint(it) && !cbor_isa_negint(it))
        return 0;
    uint64_t u = cbor_get_int(it);
    if (u > INT64_MAX)
        return 0;
    *v = cbor_isa_uint(it) ? (int64_t)u : -1 - (int64_t)u;
    return 1;
}

/* A definite byte string of exactly n bytes (any length when n == 0). */
static const uint8_t *cbor_bytes(const cbor_item_t *it, size_t n, size_t *len)
{
    if (it == NULL || !cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
        return NULL;
    if (n != 0 && cbor_bytestring_length(it) != n)
        return NULL;
    *len = cbor_bytestring_length(it);
    return cbor_bytestring_handle(it);
}

/* The parameters signet reads, by label (COSE_LABEL_MIN..COSE_LABEL_MAX). */
struct cose_params {
    const cbor_item_t *v[COSE_LABEL_MAX - COSE_LABEL_MIN + 1];
};

static const cbor_item_t *cose_par(const struct cose_params *p, int label)
{
    return p->v[label - COSE_LABEL_MIN];
}

/* RFC 9053 §7.1.1 (EC2: crv -1, x -2, y -3); signet: ES256 on P-256. A
 * compressed point (y a bool) is refused. */
static signet_err cose_ec2(const struct cose_params *p, int64_t alg, struct cose_key *k)
{
    int64_t crv = 0;
    size_t n = 0;
    if (cose_par(p, -1) == NULL || !cbor_int64(cose_par(p, -1), &crv) ||
        cose_par(p, -2) == NULL || cose_par(p, -3) == NULL)
        return SIGNET_ERR_MALFORMED;
    if (alg != COSE_ES256 || crv != COSE_P256)
        return SIGNET_ERR_UNSUPPORTED;
    const uint8_t *x = cbor_bytes(cose_par(p, -2), sizeof k->x, &n);
    const uint8_t *y = cbor_bytes(cose_par(p, -3), sizeof k->y, &n);
    if (x == NULL || y == NULL)
        return SIGNET_ERR_MALFORMED;
    memcpy(k->x, x, sizeof k->x);
    memcpy(k->y, y, sizeof k->y);
    k->alg = COSE_ES256;
    return SIGNET_OK;
}

/* RFC 9053 §7.2 (OKP: crv -1, x -2); signet: EdDSA on Ed25519. */
static signet_err cose_okp(const struct cose_params *p, int64_t alg, struct cose_key *k)
{
    int64_t crv = 0;
    size_t n = 0;
    if (cose_par(p, -1) == NULL || !cbor_int64(cose_par(p, -1), &crv) ||
        cose_par(p, -2) == NULL || cose_par(p, -3) != NULL)
        return SIGNET_ERR_MALFORMED;
    if (alg != COSE_EDDSA || crv != COSE_ED25519)
        return SIGNET_ERR_UNSUPPORTED;
    const uint8_t *x = cbor_bytes(cose_par(p, -2), sizeof k->x, &n);
    if (x == NULL)
        return SIGNET_ERR_MALFORMED;
    memcpy(k->x, x, sizeof k->x);
    k->alg = COSE_EDDSA;
    return SIGNET_OK;
}

/* RFC 8230 §4 (RSA: n -1, e -2, unsigned big-endian without leading
 * zeros); signet: RS256, 2048..4096 bits, e = 65537 (what every RSA
 * authenticator uses). */
static signet_err cose_rsa(const struct cose_params *p, int64_t alg, struct cose_key *k)
{
    size_t n_len = 0, e_len = 0;
    const uint8_t *n = cbor_bytes(cose_par(p, -1), 0, &n_len);
    const uint8_t *e = cbor_bytes(cose_par(p, -2), 0, &e_len);
    if (n == NULL || e == NULL || n_len == 0 || n[0] == 0 || e_len == 0 || e[0] == 0)
        return SIGNET_ERR_MALFORMED;
    if (alg != COSE_RS256 || n_len < WA_RSA_MIN_BITS / 8 || n_len > WA_RSA_MAX_BITS / 8 ||
        e_len != 3 || e[0] != 0x01 || e[1] != 0x00 || e[2] != 0x01)
        return SIGNET_ERR_UNSUPPORTED;
    memcpy(k->n, n, n_len);
    k->n_len = n_len;
    k->alg = COSE_RS256;
    return SIGNET_OK;
}

/* Decodes and checks a COSE_Key (RFC 9052 §7): MALFORMED when it is not a
 * well-formed key map, UNSUPPORTED when it is one signet does not accept. */
static signet_err cose_decode(const uint8_t *cose, size_t len, struct cose_key *k)
{
    memset(k, 0, sizeof *k);
    if (cose == NULL || len == 0)
        return SIGNET_ERR_MALFORMED;
    if (len > SD_WA_MAX_COSE_KEY)
        return SIGNET_ERR_TOO_LARGE;
    cbor_item_t *map = NULL;
    size_t extent = 0;
    signet_err err = cbor_load_one(cose, len, &map, &extent);
    if (err != SIGNET_OK)
        return err;
    struct cose_params par;
    memset(&par, 0, sizeof par);
    int64_t kty = 0, alg = 0;
    err = SIGNET_ERR_MALFORMED;
    if (extent != len || !cbor_isa_map(map) || !cbor_map_is_definite(map))
        goto out;
    struct cbor_pair *m = cbor_map_handle(map);
    for (size_t i = 0; i < cbor_map_size(map); i++) {
        int64_t label = 0;
        if (!cbor_int64(m[i].key, &label))
            continue; /* a text label: none is defined for these key types */
        if (label >= COSE_LABEL_MIN && label <= COSE_LABEL_MAX)
            par.v[label - COSE_LABEL_MIN] = m[i].value;
    }
    const cbor_item_t *kty_item = cose_par(&par, COSE_LABEL_KTY);
    const cbor_item_t *alg_item = cose_par(&par, COSE_LABEL_ALG);
    if (kty_item == NULL || !cbor_int64(kty_item, &kty) || alg_item == NULL ||
        !cbor_int64(alg_item, &alg))
        goto out;
    /* -4 is d of EC2 and OKP, -3 .. -12 the private parts of RSA: a
     * private key has no business here */
    for (int l = kty == COSE_KTY_RSA ? -3 : -4; l >= COSE_LABEL_MIN; l--)
        if (cose_par(&par, l) != NULL)
            goto out;
    if (kty == COSE_KTY_EC2)
        err = cose_ec2(&par, alg, k);
    else if (kty == COSE_KTY_OKP)
        err = cose_okp(&par, alg, k);
    else if (kty == COSE_KTY_RSA)
        err = cose_rsa(&par, alg, k);
    else
        err = SIGNET_ERR_UNSUPPORTED;
out:
    cbor_decref(&map);
    return err;
}

/* An RSA public key with e = 65537 as an OpenSSL key. */
static EVP_PKEY *rsa_public_key(const uint8_t *n, size_t n_len)
{
    static const uint8_t e65537[3] = {0x01, 0x00, 0x01};
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
    BIGNUM *bn_e = BN_bin2bn(e65537, sizeof e65537, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (bn_n == NULL || bn_e == NULL || bld == NULL || ctx == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1 ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/* The verification key of an accepted COSE key; libfido2 checks that an
 * EC point is on P-256 and an Ed25519 key decodes. */
static signet_err cose_to_pk(const struct cose_key *k, struct wa_pk *pk)
{
    memset(pk, 0, sizeof *pk);
    pk->alg = k->alg;
    switch (k->alg) {
    case COSE_ES256: {
        uint8_t point[65];
        point[0] = 0x04; /* SEC 1 §2.3.3 uncompressed */
        memcpy(point + 1, k->x, 32);
        memcpy(point + 33, k->y, 32);
        if ((pk->es256 = es256_pk_new()) == NULL)
            return SIGNET_ERR_NOMEM;
        if (es256_pk_from_ptr(pk->es256, point, sizeof point) != FIDO_OK)
            return SIGNET_ERR_UNSUPPORTED;
        return SIGNET_OK;
    }
    case COSE_EDDSA:
        if ((pk->eddsa = eddsa_pk_new()) == NULL)
            return SIGNET_ERR_NOMEM;
        if (eddsa_pk_from_ptr(pk->eddsa, k->x, sizeof k->x) != FIDO_OK)
            return SIGNET_ERR_UNSUPPORTED;
        return SIGNET_OK;
    case COSE_RS256: {
        EVP_PKEY *pkey = rsa_public_key(k->n, k->n_len);
        if (pkey == NULL)
            return SIGNET_ERR_UNSUPPORTED;
        if (EVP_PKEY_get_bits(pkey) < WA_RSA_MIN_BITS) {
            EVP_PKEY_free(pkey);
            return SIGNET_ERR_UNSUPPORTED;
        }
        if (EVP_PKEY_get_bits(pkey) != 2048) {
            pk->rsa_big = pkey; /* libfido2 1.12 takes 2048 bits only */
            return SIGNET_OK;
        }
        signet_err err = SIGNET_OK;
        if ((pk->rs256 = rs256_pk_new()) == NULL)
            err = SIGNET_ERR_NOMEM;
        else if (rs256_pk_from_EVP_PKEY(pk->rs256, pkey) != FIDO_OK)
            err = SIGNET_ERR_UNSUPPORTED;
        EVP_PKEY_free(pkey);
        return err;
    }
    default:
        return SIGNET_ERR_UNSUPPORTED;
    }
}

signet_err sd_wa_cose_alg(const uint8_t *cose, size_t len, int *alg)
{
    if (alg == NULL)
        return SIGNET_ERR_INVALID_ARG;
    *alg = 0;
    struct cose_key k;
    struct wa_pk pk;
    signet_err err = cose_decode(cose, len, &k);
    if (err != SIGNET_OK)
        return err;
    (void)pthread_once(&fido_once, fido_init_once);
    err = cose_to_pk(&k, &pk);
    wa_pk_clear(&pk);
    if (err == SIGNET_OK)
        *alg = k.alg;
    return err;
}

/* ---- clientDataJSON (§5.8.1) ------------------------------------------------ */

/* A member that, when present, is a string without NUL: 1 found, 0 absent,
 * -1 of another type. */
static int json_str(const json_t *o, const char *name, const char **s)
{
    const json_t *v = json_object_get(o, name);
    *s = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return -1;
    *s = json_string_value(v);
    return 1;
}

signet_err sd_wa_parse_client_data(const uint8_t *json, size_t len,
                                   struct sd_wa_client_data *out, char *why, size_t whylen)
{
    if (out == NULL || json == NULL)
        return refuse(why, whylen, SIGNET_ERR_INVALID_ARG, "no clientDataJSON");
    memset(out, 0, sizeof *out);
    if (len > SD_WA_MAX_CLIENT_DATA)
        return refuse(why, whylen, SIGNET_ERR_TOO_LARGE, "clientDataJSON is too large");
    json_t *o = NULL;
    signet_err err = sg_json_parse(json, len, SD_WA_MAX_CLIENT_DATA, &o);
    if (err == SIGNET_ERR_DUPLICATE_MEMBER)
        return refuse(why, whylen, SIGNET_ERR_MALFORMED, "duplicate member in clientDataJSON");
    if (err == SIGNET_ERR_NOMEM)
        return refuse(why, whylen, err, "out of memory");
    if (err == SIGNET_ERR_JSON_TOO_DEEP)
        return refuse(why, whylen, SIGNET_ERR_MALFORMED, "clientDataJSON nests too deeply");
    if (err != SIGNET_OK)
        return refuse(why, whylen, SIGNET_ERR_MALFORMED, "clientDataJSON is not valid JSON");
    const char *type = NULL, *challenge = NULL, *origin = NULL;
    const json_t *co = NULL;
    err = SIGNET_ERR_MALFORMED;
    if (!json_is_object(o)) {
        (void)refuse(why, whylen, err, "clientDataJSON is not an object");
    } else if (json_str(o, "type", &type) != 1 || strlen(type) >= sizeof out->type) {
        (void)refuse(why, whylen, err, "clientDataJSON type missing, not a string or too long");
    } else if (json_str(o, "challenge", &challenge) != 1) {
        (void)refuse(why, whylen, err, "clientDataJSON challenge missing or not a string");
    } else if (sg_b64url_decode(challenge, strlen(challenge), out->challenge,
                                sizeof out->challenge, &out->challenge_len) != SIGNET_OK) {
        (void)refuse(why, whylen, err,
                     "challenge is not canonical base64url of at most 64 bytes");
    } else if (json_str(o, "origin", &origin) != 1 || strlen(origin) >= sizeof out->origin) {
        (void)refuse(why, whylen, err, "clientDataJSON origin missing, not a string or too long");
    } else if ((co = json_object_get(o, "crossOrigin")) != NULL && !json_is_boolean(co)) {
        (void)refuse(why, whylen, err, "crossOrigin is not a boolean");
    } else {
        (void)snprintf(out->type, sizeof out->type, "%s", type);
        (void)snprintf(out->origin, sizeof out->origin, "%s", origin);
        out->cross_origin = json_is_true(co);
        out->has_top_origin = json_object_get(o, "topOrigin") != NULL;
        err = SIGNET_OK;
    }
    json_decref(o);
    if (err != SIGNET_OK) {
        OPENSSL_cleanse(out->challenge, sizeof out->challenge);
        out->challenge_len = 0;
    }
    return err;
}

/* §7.1 steps 7-10 / §7.2 steps 11-14 on a parsed clientDataJSON. */
static signet_err check_client_data(const struct sd_wa_expect *e,
                                    const struct sd_wa_client_data *cd, const char *type,
                                    char *why, size_t whylen)
{
    if (strcmp(cd->type, type) != 0)
        return refuse(why, whylen, SIGNET_ERR_BAD_CLAIM, "type is not %s", type);
    if (cd->challenge_len != e->challenge_len ||
        CRYPTO_memcmp(cd->challenge, e->challenge, e->challenge_len) != 0)
        return refuse(why, whylen, SIGNET_ERR_BAD_CLAIM, "challenge does not match");
    if (strcmp(cd->origin, e->origin) != 0) {
        char q[WA_ORIGIN_QUOTE_MAX + 4];
        quote_untrusted(cd->origin, WA_ORIGIN_QUOTE_MAX, q, sizeof q);
        return refuse(why, whylen, SIGNET_ERR_BAD_CLAIM, "origin '%s' is not allowed", q);
    }
    /* signet's pages are never framed (frame-ancestors 'none') */
    if (cd->cross_origin)
        return refuse(why, whylen, SIGNET_ERR_BAD_CLAIM, "crossOrigin is true");
    if (cd->has_top_origin)
        return refuse(why, whylen, SIGNET_ERR_BAD_CLAIM, "topOrigin is present");
    return SIGNET_OK;
}

/* ---- authenticator data (§6.1, §6.5.1) -------------------------------------- */

/* The unread rest of b, without consuming it (for libcbor to decode). */
static const uint8_t *buf_rest(const struct sg_buf *b, size_t *n)
{
    struct sg_buf peek = *b;
    const uint8_t *p = NULL;
    *n = sg_buf_remaining(&peek);
    return sg_buf_get_bytes(&peek, *n, &p) == SIGNET_OK ? p : NULL;
}

signet_err sd_wa_parse_auth_data(const uint8_t *data, size_t len, struct sd_wa_auth_data *out,
                                 char *why, size_t whylen)
{
    if (out == NULL || data == NULL)
        return refuse(why, whylen, SIGNET_ERR_INVALID_ARG, "no authenticator data");
    memset(out, 0, sizeof *out);
    if (len > SD_WA_MAX_AUTH_DATA)
        return refuse(why, whylen, SIGNET_ERR_TOO_LARGE, "authenticator data is too large");
    struct sg_buf b;
    sg_buf_init(&b, data, len);
    const uint8_t *p = NULL;
    uint8_t flags = 0;
    if (sg_buf_get_bytes(&b, sizeof out->rp_id_hash, &p) != SIGNET_OK ||
        sg_buf_get_u8(&b, &flags) != SIGNET_OK || sg_buf_get_u32(&b, &out->sign_count) != SIGNET_OK)
        return refuse(why, whylen, SIGNET_ERR_MALFORMED,
                      "authenticator data shorter than 37 bytes");
    memcpy(out->rp_id_hash, p, sizeof out->rp_id_hash);
    out->flags = flags;

    if (flags & SD_WA_FLAG_AT) {
        /* §6.5.1: aaguid (16), credentialIdLength (u16 big-endian),
         * credentialId, credentialPublicKey (one CBOR COSE_Key) */
        uint16_t id_len = 0;
        if (sg_buf_get_bytes(&b, sizeof out->aaguid, &p) != SIGNET_OK ||
            sg_buf_get_u16(&b, &id_len) != SIGNET_OK)
            return refuse(why, whylen, SIGNET_ERR_MALFORMED, "attested credential data truncated");
        memcpy(out->aaguid, p, sizeof out->aaguid);
        if (id_len > SD_WA_MAX_CRED_ID)
            return refuse(why, whylen, SIGNET_ERR_TOO_LARGE, "credential id longer than %u bytes",
                          SD_WA_MAX_CRED_ID);
        if (sg_buf_get_bytes(&b, id_len, &out->cred_id) != SIGNET_OK)
            return refuse(why, whylen, SIGNET_ERR_MALFORMED, "credential id truncated");
        out->cred_id_len = id_len;
        size_t extent = 0, rest_len = 0;
        enum wa_ev top = EV_NONE;
        const uint8_t *rest = buf_rest(&b, &rest_len);
        if (rest == NULL || cbor_extent(rest, rest_len, &extent, &top) != SIGNET_OK ||
            top != EV_MAP)
            return refuse(why, whylen, SIGNET_ERR_MALFORMED,
                          "credential public key is not one well-formed CBOR map");
        if (extent > SD_WA_MAX_COSE_KEY)
            return refuse(why, whylen, SIGNET_ERR_TOO_LARGE, "credential public key is too large");
        if (sg_buf_get_bytes(&b, extent, &out->cose_key) != SIGNET_OK)
            return refuse(why, whylen, SIGNET_ERR_INTERNAL, "credential public key");
        out->cose_key_len = extent;
        out->attested = 1;
    }

    if (flags & SD_WA_FLAG_ED) {
        /* §9: the authenticator extension outputs, one CBOR map keyed by
         * extension identifiers (text) */
        cbor_item_t *ext = NULL;
        size_t extent = 0, rest_len = 0;
        const uint8_t *rest = buf_rest(&b, &rest_len);
        signet_err err = rest == NULL ? SIGNET_ERR_MALFORMED
                                      : cbor_load_one(rest, rest_len, &ext, &extent);
        if (err == SIGNET_ERR_NOMEM)
            return refuse(why, whylen, err, "out of memory");
        int ok = err == SIGNET_OK && cbor_isa_map(ext) && cbor_map_is_definite(ext);
        for (size_t i = 0; ok && i < cbor_map_size(ext); i++)
            ok = cbor_isa_string(cbor_map_handle(ext)[i].key);
        if (ext != NULL)
            cbor_decref(&ext);
        if (!ok)
            return refuse(why, whylen, SIGNET_ERR_MALFORMED,
                          "extensions are not one well-formed CBOR map");
        if (sg_buf_get_bytes(&b, extent, &p) != SIGNET_OK)
            return refuse(why, whylen, SIGNET_ERR_INTERNAL, "extensions");
    }

    if (sg_buf_remaining(&b) != 0)
        return refuse(why, whylen, SIGNET_ERR_MALFORMED, "trailing bytes after authenticator data");
    return SIGNET_OK;
}

/* §7.1 steps 13-18 / §7.2 steps 15-19 on parsed authenticator data. */
static signet_err check_auth_data(const struct sd_wa_expect *e, const struct sd_wa_auth_data *ad,
                                  char *why, size_t whylen)
{
    uint8_t h[32];
    sg_sha256(e->rp_id, strlen(e->rp_id), h);
    if (CRYPTO_memcmp(h, ad->rp_id_hash, sizeof h) != 0)
        return refuse(why, whylen, SIGNET_ERR_BAD_CLAIM, "rpIdHash does not match the RP ID");
    if (!(ad->flags & SD_WA_FLAG_UP))
        return refuse(why, whylen, SIGNET_ERR_BAD_CLAIM, "user presence (UP) flag not set");
    if (e->require_uv && !(ad->flags & SD_WA_FLAG_UV))
        return refuse(why, whylen, SIGNET_ERR_BAD_CLAIM, "user verification (UV) flag not set");
    /* §6.1: BS may be set only when BE is */
    if ((ad->flags & SD_WA_FLAG_BS) && !(ad->flags & SD_WA_FLAG_BE))
        return refuse(why, whylen, SIGNET_ERR_BAD_CLAIM, "BS set without BE");
    return SIGNET_OK;
}

static int expect_ok(const struct sd_wa_expect *e)
{
    return e != NULL && e->rp_id != NULL && e->rp_id[0] != '\0' && e->origin != NULL &&
           e->challenge != NULL && e->challenge_len > 0 &&
           e->challenge_len <= sizeof((struct sd_wa_client_data *)0)->challenge;
}

/* ---- registration (§7.1) ---------------------------------------------------- */

/* The attestationObject (§6.5.4): a map of exactly fmt, attStmt and
 * authData; *auth_data points into the decoded item. */
static signet_err read_attestation(const cbor_item_t *att, const uint8_t **auth_data,
                                   size_t *ad_len, char *why, size_t whylen)
{
    if (!cbor_isa_map(att) || !cbor_map_is_definite(att))
        return refuse(why, whylen, SIGNET_ERR_MALFORMED, "attestationObject is not a CBOR map");
    const cbor_item_t *fmt = NULL, *stmt = NULL, *ad = NULL;
    struct cbor_pair *m = cbor_map_handle(att);
    for (size_t i = 0; i < cbor_map_size(att); i++) {
        if (text_is(m[i].key, "fmt"))
            fmt = m[i].value;
        else if (text_is(m[i].key, "attStmt"))
            stmt = m[i].value;
        else if (text_is(m[i].key, "authData"))
            ad = m[i].value;
        else
            return refuse(why, whylen, SIGNET_ERR_MALFORMED,
                          "unexpected member in attestationObject");
    }
    if (fmt == NULL || stmt == NULL || ad == NULL)
        return refuse(why, whylen, SIGNET_ERR_MALFORMED,
                      "attestationObject lacks fmt, attStmt or authData");
    if (!cbor_isa_string(fmt) || !cbor_string_is_definite(fmt))
        return refuse(why, whylen, SIGNET_ERR_MALFORMED, "fmt is not a text string");
    /* §8.7: signet asks for attestation "none" and checks no chain */
    if (!text_is(fmt, "none"))
        return refuse(why, whylen, SIGNET_ERR_UNSUPPORTED,
                      "attestation format is not none (only none is accepted)");
    if (!cbor_isa_map(stmt) || cbor_map_size(stmt) != 0)
        return refuse(why, whylen, SIGNET_ERR_MALFORMED, "attStmt is not an empty map");
    if ((*auth_data = cbor_bytes(ad, 0, ad_len)) == NULL)
        return refuse(why, whylen, SIGNET_ERR_MALFORMED, "authData is not a byte string");
    return SIGNET_OK;
}

static void format_aaguid(const uint8_t a[static 16], char out[static 37])
{
    char h[33];
    sg_hex_encode(a, 16, h);
    (void)snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

signet_err sd_wa_verify_registration(const struct sd_wa_expect *e, const uint8_t *client_data,
                                     size_t cd_len, const uint8_t *attestation, size_t att_len,
                                     struct sd_wa_credential *out, char *why, size_t whylen)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (!expect_ok(e) || out == NULL || attestation == NULL)
        return refuse(why, whylen, SIGNET_ERR_INVALID_ARG, "invalid arguments");

    /* steps 5-10: clientDataJSON */
    struct sd_wa_client_data cd;
    memset(&cd, 0, sizeof cd);
    signet_err err = sd_wa_parse_client_data(client_data, cd_len, &cd, why, whylen);
    if (err == SIGNET_OK)
        err = check_client_data(e, &cd, "webauthn.create", why, whylen);
    OPENSSL_cleanse(&cd, sizeof cd);
    if (err != SIGNET_OK)
        return err;

    /* step 12: the attestationObject's CBOR */
    if (att_len > SD_WA_MAX_ATTESTATION)
        return refuse(why, whylen, SIGNET_ERR_TOO_LARGE, "attestationObject is too large");
    cbor_item_t *att = NULL;
    size_t extent = 0, ad_len = 0;
    const uint8_t *ad_bytes = NULL;
    struct sd_wa_auth_data ad;
    int alg = 0;
    err = cbor_load_one(attestation, att_len, &att, &extent);
    if (err == SIGNET_ERR_NOMEM)
        return refuse(why, whylen, err, "out of memory");
    if (err != SIGNET_OK)
        return refuse(why, whylen, err, "attestationObject is not well-formed CBOR");
    if (extent != att_len) {
        err = refuse(why, whylen, SIGNET_ERR_MALFORMED, "trailing bytes after attestationObject");
        goto out;
    }
    if ((err = read_attestation(att, &ad_bytes, &ad_len, why, whylen)) != SIGNET_OK)
        goto out;

    /* steps 13-18: authenticator data */
    if ((err = sd_wa_parse_auth_data(ad_bytes, ad_len, &ad, why, whylen)) != SIGNET_OK ||
        (err = check_auth_data(e, &ad, why, whylen)) != SIGNET_OK)
        goto out;
    if (!ad.attested) {
        err = refuse(why, whylen, SIGNET_ERR_MALFORMED, "attested credential data (AT) missing");
        goto out;
    }
    if (ad.cred_id_len == 0) {
        err = refuse(why, whylen, SIGNET_ERR_MALFORMED, "credential id is empty");
        goto out;
    }

    /* step 20: the credential public key's algorithm is one signet offered
     * in pubKeyCredParams (ES256, EdDSA, RS256) */
    err = sd_wa_cose_alg(ad.cose_key, ad.cose_key_len, &alg);
    if (err == SIGNET_ERR_UNSUPPORTED)
        err = refuse(why, whylen, err, "credential public key type or algorithm is not accepted");
    else if (err != SIGNET_OK)
        err = refuse(why, whylen, err, "credential public key is not a well-formed COSE key");
    if (err != SIGNET_OK)
        goto out;

    /* step 21: fmt "none" has nothing to verify; steps 24-27 (is the
     * credential id new, store it) are the caller's */
    memcpy(out->cred_id, ad.cred_id, ad.cred_id_len);
    out->cred_id_len = ad.cred_id_len;
    out->alg = alg;
    memcpy(out->cose_key, ad.cose_key, ad.cose_key_len);
    out->cose_key_len = ad.cose_key_len;
    out->sign_count = ad.sign_count;
    out->flags = ad.flags;
    format_aaguid(ad.aaguid, out->aaguid);
    if (why != NULL && whylen > 0)
        why[0] = '\0';
out:
    cbor_decref(&att);
    return err;
}

/* ---- authentication (§7.2) -------------------------------------------------- */

/* RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8230 §2) for moduli libfido2 does not
 * take: the signature over authenticatorData || SHA-256(clientDataJSON). */
static int rsa_big_verify(EVP_PKEY *pkey, const uint8_t *ad, size_t ad_len,
                          const uint8_t cdh[static 32], const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_DigestVerifyUpdate(ctx, ad, ad_len) == 1 &&
             EVP_DigestVerifyUpdate(ctx, cdh, 32) == 1 &&
             EVP_DigestVerifyFinal(ctx, sig, sig_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* §7.2 step 21 through libfido2: fido_assert_verify recomputes what the
 * authenticator signed (authenticatorData || clientDataHash) and checks
 * rpIdHash, UP and UV once more. */
static signet_err verify_signature(const struct sd_wa_expect *e, const struct wa_pk *pk,
                                   const uint8_t *ad, size_t ad_len, const uint8_t cdh[static 32],
                                   const uint8_t *sig, size_t sig_len)
{
    if (pk->rsa_big != NULL)
        return rsa_big_verify(pk->rsa_big, ad, ad_len, cdh, sig, sig_len)
                   ? SIGNET_OK
                   : SIGNET_ERR_BAD_SIGNATURE;
    const void *key = pk->es256 != NULL   ? (const void *)pk->es256
                      : pk->eddsa != NULL ? (const void *)pk->eddsa
                                          : (const void *)pk->rs256;
    fido_assert_t *a = fido_assert_new();
    if (a == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err err = SIGNET_ERR_BAD_SIGNATURE;
    if (fido_assert_set_count(a, 1) == FIDO_OK && fido_assert_set_rp(a, e->rp_id) == FIDO_OK &&
        fido_assert_set_clientdata_hash(a, cdh, 32) == FIDO_OK &&
        fido_assert_set_authdata_raw(a, 0, ad, ad_len) == FIDO_OK &&
        fido_assert_set_sig(a, 0, sig, sig_len) == FIDO_OK &&
        fido_assert_set_up(a, FIDO_OPT_TRUE) == FIDO_OK &&
        fido_assert_set_uv(a, e->require_uv ? FIDO_OPT_TRUE : FIDO_OPT_OMIT) == FIDO_OK &&
        fido_assert_verify(a, 0, pk->alg, key) == FIDO_OK)
        err = SIGNET_OK;
    fido_assert_free(&a);
    return err;
}

signet_err sd_wa_verify_assertion(const struct sd_wa_expect *e, const uint8_t *client_data,
                                  size_t cd_len, const uint8_t *auth_data, size_t ad_len,
                                  const uint8_t *sig, size_t sig_len, const uint8_t *cose_key,
                                  size_t cose_len, uint32_t stored_count, unsigned stored_flags,
                                  struct sd_wa_assertion *out, char *why, size_t whylen)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (!expect_ok(e) || out == NULL || auth_data == NULL || cose_key == NULL)
        return refuse(why, whylen, SIGNET_ERR_INVALID_ARG, "invalid arguments");

    /* steps 11-14: clientDataJSON */
    struct sd_wa_client_data cd;
    memset(&cd, 0, sizeof cd);
    signet_err err = sd_wa_parse_client_data(client_data, cd_len, &cd, why, whylen);
    if (err == SIGNET_OK)
        err = check_client_data(e, &cd, "webauthn.get", why, whylen);
    OPENSSL_cleanse(&cd, sizeof cd);
    if (err != SIGNET_OK)
        return err;

    /* steps 15-19: authenticator data */
    struct sd_wa_auth_data ad;
    if ((err = sd_wa_parse_auth_data(auth_data, ad_len, &ad, why, whylen)) != SIGNET_OK ||
        (err = check_auth_data(e, &ad, why, whylen)) != SIGNET_OK)
        return err;
    if (ad.attested) /* getAssertion never returns attested credential data */
        return refuse(why, whylen, SIGNET_ERR_MALFORMED,
                      "attested credential data (AT) in an assertion");
    /* step 19 (§6.1.3): BE is fixed when the credential is created */
    if ((ad.flags & SD_WA_FLAG_BE) != (stored_flags & SD_WA_FLAG_BE))
        return refuse(why, whylen, SIGNET_ERR_BAD_CLAIM,
                      "backup eligibility changed since registration");

    /* steps 20-21: the signature with the stored credential public key */
    if (sig == NULL || sig_len == 0)
        return refuse(why, whylen, SIGNET_ERR_MALFORMED, "signature is empty");
    if (sig_len > WA_MAX_SIG)
        return refuse(why, whylen, SIGNET_ERR_MALFORMED, "signature is too long");
    struct cose_key k;
    struct wa_pk pk;
    uint8_t cdh[32];
    memset(&pk, 0, sizeof pk);
    if ((err = cose_decode(cose_key, cose_len, &k)) != SIGNET_OK)
        return refuse(why, whylen, err, "stored credential public key is not accepted");
    (void)pthread_once(&fido_once, fido_init_once);
    if ((err = cose_to_pk(&k, &pk)) != SIGNET_OK) {
        err = refuse(why, whylen, err, "stored credential public key is not accepted");
        goto out;
    }
    sg_sha256(client_data, cd_len, cdh);
    err = verify_signature(e, &pk, auth_data, ad_len, cdh, sig, sig_len);
    if (err == SIGNET_ERR_NOMEM) {
        err = refuse(why, whylen, err, "out of memory");
        goto out;
    }
    if (err != SIGNET_OK) {
        err = refuse(why, whylen, SIGNET_ERR_BAD_SIGNATURE, "signature does not verify");
        goto out;
    }

    /* step 22 (§6.1.1): a counter that does not move forward is reported;
     * both zero is an authenticator without a counter (synced passkeys) */
    out->sign_count = ad.sign_count;
    out->flags = ad.flags;
    out->counter_regressed = stored_count != 0 && ad.sign_count <= stored_count;
    if (why != NULL && whylen > 0)
        why[0] = '\0';
out:
    wa_pk_clear(&pk);
    return err;
}
