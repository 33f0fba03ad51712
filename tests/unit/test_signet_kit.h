/* Test kit for libsignet's unit tests (header-only: each test binary is a
 * single .c plus testutil.c). Generates keys with OpenSSL, renders their
 * public JWKs, signs JWS/JWT with them the way an issuer would, and runs a
 * tiny loopback HTTP server for JWKS/discovery documents. */
#ifndef SG_TEST_SIGNET_KIT_H
#define SG_TEST_SIGNET_KIT_H

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jws.h"
#include "util/b64url.h"

#define KIT_NOW INT64_C(1700000000)

enum kit_kty { KIT_P256, KIT_P384, KIT_P521, KIT_ED25519, KIT_RSA2048 };

static inline EVP_PKEY *kit_keygen(enum kit_kty t)
{
    switch (t) {
    case KIT_P256: return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    case KIT_P384: return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    case KIT_P521: return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    case KIT_ED25519: return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    case KIT_RSA2048: return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    default: return NULL;
    }
}

static inline char *kit_b64(const uint8_t *p, size_t n)
{
    char *s = NULL;
    if (sg_b64url_encode_alloc(p, n, &s) != SIGNET_OK)
        abort();
    return s;
}

static inline void kit_set_b64(json_t *o, const char *name, const uint8_t *p, size_t n)
{
    char *s = kit_b64(p, n);
    json_object_set_new(o, name, json_string(s));
    free(s);
}

static inline void kit_set_bn(json_t *o, const char *name, const BIGNUM *bn, int pad)
{
    uint8_t buf[1024];
    int n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    if (n <= 0)
        abort();
    kit_set_b64(o, name, buf, (size_t)n);
}

/* The public JWK of a key, with kid (and nothing else). */
static inline json_t *kit_jwk(EVP_PKEY *pk, const char *kid)
{
    json_t *j = json_object();
    if (EVP_PKEY_is_a(pk, "EC")) {
        BIGNUM *x = NULL, *y = NULL;
        int bits = EVP_PKEY_get_bits(pk);
        int len = (bits + 7) / 8;
        if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
            EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1)
            abort();
        json_object_set_new(j, "kty", json_string("EC"));
        json_object_set_new(j, "crv", json_string(bits == 256 ? "P-256" : bits == 384 ? "P-384" : "P-521"));
        kit_set_bn(j, "x", x, len);
        kit_set_bn(j, "y", y, len);
        BN_free(x);
        BN_free(y);
    } else if (EVP_PKEY_is_a(pk, "RSA")) {
        BIGNUM *n = NULL, *e = NULL;
        if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
            EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
            abort();
        json_object_set_new(j, "kty", json_string("RSA"));
        kit_set_bn(j, "n", n, 0);
        kit_set_bn(j, "e", e, 0);
        BN_free(n);
        BN_free(e);
    } else {
        uint8_t raw[64];
        size_t n = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(pk, raw, &n) != 1)
            abort();
        json_object_set_new(j, "kty", json_string("OKP"));
        json_object_set_new(j, "crv", json_string("Ed25519"));
        kit_set_b64(j, "x", raw, n);
    }
    if (kid != NULL)
        json_object_set_new(j, "kid", json_string(kid));
    return j;
}

/* Signs msg the JOSE way for alg (r||s for ECDSA, PSS for PS*). */
static inline size_t kit_sign_bytes(EVP_PKEY *pk, enum sg_alg alg, const uint8_t *msg, size_t n,
                                    uint8_t *sig, size_t cap)
{
    const EVP_MD *md = NULL;
    size_t clen = 0;
    switch (alg) {
    case SG_ALG_ES256: md = EVP_sha256(); clen = 32; break;
    case SG_ALG_ES384: md = EVP_sha384(); clen = 48; break;
    case SG_ALG_ES512: md = EVP_sha512(); clen = 66; break;
    case SG_ALG_PS256: md = EVP_sha256(); break;
    case SG_ALG_PS384: md = EVP_sha384(); break;
    case SG_ALG_PS512: md = EVP_sha512(); break;
    default: break;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t der[1024];
    size_t len = sizeof der;
    if (EVP_DigestSignInit(ctx, &pctx, md, NULL, pk) != 1)
        abort();
    if (alg >= SG_ALG_PS256 && alg <= SG_ALG_PS512 &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
        abort();
    if (EVP_DigestSign(ctx, der, &len, msg, n) != 1)
        abort();
    EVP_MD_CTX_free(ctx);
    if (clen == 0) {
        if (len > cap)
            abort();
        memcpy(sig, der, len);
        return len;
    }
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (es == NULL || 2 * clen > cap)
        abort();
    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)clen);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + clen, (int)clen);
    ECDSA_SIG_free(es);
    return 2 * clen;
}

/* A compact JWS over the exact header and payload texts given. */
static inline char *kit_sign_raw(EVP_PKEY *pk, enum sg_alg alg, const char *header,
                                 const char *payload)
{
    char *h = kit_b64((const uint8_t *)header, strlen(header));
    char *p = kit_b64((const uint8_t *)payload, strlen(payload));
    size_t in_len = strlen(h) + 1 + strlen(p);
    char *input = malloc(in_len + 1);
    snprintf(input, in_len + 1, "%s.%s", h, p);
    uint8_t sig[1024];
    size_t sl = kit_sign_bytes(pk, alg, (const uint8_t *)input, in_len, sig, sizeof sig);
    char *s = kit_b64(sig, sl);
    size_t tl = in_len + 1 + strlen(s) + 1;
    char *tok = malloc(tl);
    snprintf(tok, tl, "%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(s);
    return tok;
}

/* Signs JSON objects (compact, insertion order). Steals both references. */
static inline char *kit_sign_json(EVP_PKEY *pk, enum sg_alg alg, json_t *header, json_t *claims)
{
    char *h = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *c = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *tok = kit_sign_raw(pk, alg, h, c);
    free(h);
    free(c);
    json_decref(header);
    json_decref(claims);
    return tok;
}

/* The standard header and claims of a valid signet access token. */
static inline json_t *kit_header(const char *alg, const char *kid)
{
    json_t *h = json_object();
    json_object_set_new(h, "alg", json_string(alg));
    json_object_set_new(h, "typ", json_string("at+jwt"));
    if (kid != NULL)
        json_object_set_new(h, "kid", json_string(kid));
    return h;
}

static inline json_t *kit_claims(const char *iss, const char *aud, int64_t iat)
{
    json_t *c = json_object();
    json_object_set_new(c, "iss", json_string(iss));
    json_object_set_new(c, "sub", json_string("alice"));
    json_object_set_new(c, "aud", json_string(aud));
    json_object_set_new(c, "iat", json_integer(iat));
    json_object_set_new(c, "nbf", json_integer(iat));
    json_object_set_new(c, "exp", json_integer(iat + 600));
    json_object_set_new(c, "jti", json_string("jti-1"));
    json_object_set_new(c, "client_id", json_string("client-1"));
    json_object_set_new(c, "scope", json_string("read write"));
    return c;
}

/* ---- a loopback HTTP server serving canned responses -------------------- */

#define KIT_HTTP_PATHS 4

struct kit_http {
    int fd;
    int port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock;
    struct {
        char path[128];
        int status;
        char *body;
        char headers[256]; /* extra header lines, each ending in \r\n */
    } routes[KIT_HTTP_PATHS];
    atomic_int hits[KIT_HTTP_PATHS];
    atomic_int requests;
    atomic_int delay_ms; /* a slow server: each answer waits this long */
};

static inline void kit_http_route(struct kit_http *h, int i, const char *path, int status,
                                  const char *body, const char *headers)
{
    pthread_mutex_lock(&h->lock);
    snprintf(h->routes[i].path, sizeof h->routes[i].path, "%s", path);
    h->routes[i].status = status;
    free(h->routes[i].body);
    h->routes[i].body = body != NULL ? strdup(body) : NULL;
    snprintf(h->routes[i].headers, sizeof h->routes[i].headers, "%s", headers ? headers : "");
    pthread_mutex_unlock(&h->lock);
}

static inline void kit_http_serve_one(struct kit_http *h, int c)
{
    char req[4096];
    size_t n = 0;
    while (n < sizeof req - 1) {
        ssize_t r = read(c, req + n, sizeof req - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    req[n] = '\0';
    int delay = atomic_load(&h->delay_ms);
    if (delay > 0 && !atomic_load(&h->stop))
        usleep((useconds_t)delay * 1000);
    atomic_fetch_add(&h->requests, 1);
    char path[256] = "";
    const char *sp = strchr(req, ' ');
    if (sp != NULL) {
        const char *e = strchr(sp + 1, ' ');
        size_t l = e != NULL ? (size_t)(e - sp - 1) : 0;
        if (l < sizeof path) {
            memcpy(path, sp + 1, l);
            path[l] = '\0';
        }
    }
    int status = 404;
    char *body = NULL;
    char headers[256] = "";
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < KIT_HTTP_PATHS; i++) {
        if (h->routes[i].path[0] != '\0' && strcmp(h->routes[i].path, path) == 0) {
            status = h->routes[i].status;
            body = h->routes[i].body ? strdup(h->routes[i].body) : NULL;
            memcpy(headers, h->routes[i].headers, sizeof headers);
            atomic_fetch_add(&h->hits[i], 1);
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    size_t bl = body != NULL ? strlen(body) : 0;
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n%s\r\n",
                      status, bl, headers);
    /* MSG_NOSIGNAL: a client that gave up (timeout, cancel) is no SIGPIPE. */
    if (send(c, head, (size_t)hl, MSG_NOSIGNAL) < 0 ||
        (bl > 0 && send(c, body, bl, MSG_NOSIGNAL) < 0))
        fprintf(stderr, "kit_http: write failed\n");
    free(body);
}

static inline void *kit_http_main(void *arg)
{
    struct kit_http *h = arg;
    while (!atomic_load(&h->stop)) {
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (!atomic_load(&h->stop))
            kit_http_serve_one(h, c);
        close(c);
    }
    return NULL;
}

static inline void kit_http_start(struct kit_http *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(h->fd, 64) != 0 || getsockname(h->fd, (struct sockaddr *)&a, &al) != 0)
        abort();
    h->port = ntohs(a.sin_port);
    if (pthread_create(&h->thread, NULL, kit_http_main, h) != 0)
        abort();
}

static inline void kit_http_stop(struct kit_http *h)
{
    atomic_store(&h->stop, 1);
    /* Wake accept() with one last connection. */
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)h->port);
    if (c >= 0) {
        if (connect(c, (struct sockaddr *)&a, sizeof a) != 0)
            fprintf(stderr, "kit_http: wake-up connect failed\n");
        close(c);
    }
    pthread_join(h->thread, NULL);
    close(h->fd);
    for (int i = 0; i < KIT_HTTP_PATHS; i++)
        free(h->routes[i].body);
    pthread_mutex_destroy(&h->lock);
}

static inline char *kit_url(const struct kit_http *h, const char *path)
{
    char *u = malloc(256);
    snprintf(u, 256, "http://127.0.0.1:%d%s", h->port, path);
    return u;
}

/* A JWKS text from a NULL-terminated list of JWK objects (references kept). */
static inline char *kit_jwks_text(json_t *const *keys)
{
    json_t *arr = json_array();
    for (size_t i = 0; keys[i] != NULL; i++)
        json_array_append(arr, keys[i]);
    json_t *doc = json_object();
    json_object_set_new(doc, "keys", arr);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

#endif
