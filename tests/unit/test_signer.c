/* The signer as a real process on a socketpair: it signs only with the
 * ACTIVE key of the payload's issuer, refuses everything else (and audits
 * each refusal), drops malformed frames, and fails closed without audit. */
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "common/ipc.h"
#include "common/signer_client.h"
#include "signer/audit.h"
#include "signer/p11.h"
#include "util/b64url.h"
#include "util/hex.h"

#define T0 1800000000LL
#define ISS_A "https://a.example/t/a"
#define ISS_B "https://b.example/t/b"

struct fx {
    struct sg_test_state st;
    struct sg_signer_client *c;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(sg_test_state_setup(&f->st, "[testing]\nclock_file = clock\n"), 0);
    sg_test_state_set_clock(&f->st, T0);
    assert_int_equal(sg_signer_spawn(f->st.dir, &f->c), SIGNET_OK);
    /* client-1 in the signer's registry, on both tenants (the operator's
     * CLIENT_BIND, as `signet client add` sends it). */
    static const char *const binds[] = {
        "{\"op\":\"bind\",\"tenant\":\"a\",\"client_id\":\"client-1\","
        "\"scopes\":\"read write\",\"audiences\":\"https://api.example https://other.example\","
        "\"lifetime\":0}",
        "{\"op\":\"bind\",\"tenant\":\"b\",\"client_id\":\"client-1\","
        "\"scopes\":\"read\",\"audiences\":\"https://api.example\",\"lifetime\":0}",
    };
    for (size_t i = 0; i < 2; i++) {
        signet_err status = SIGNET_ERR_INTERNAL;
        char *resp = NULL;
        assert_int_equal(sg_signer_call(f->c, SG_IPC_CLIENT_BIND, (const uint8_t *)binds[i],
                                        strlen(binds[i]), &status, &resp, NULL),
                         SIGNET_OK);
        assert_int_equal(status, SIGNET_OK);
        free(resp);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sg_signer_client_free(&f->c);
    sg_test_state_teardown(&f->st);
    free(f);
    return 0;
}

/* A machine token's claims for client-1 (bound in setup): the signer adds
 * the jti. */
static char *claims(const char *iss, long long iat, long long lifetime)
{
    char *s = NULL;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", iss, "sub", "client-1",
                          "aud", "https://api.example", "iat", (json_int_t)iat, "nbf",
                          (json_int_t)iat, "exp", (json_int_t)(iat + lifetime), "client_id",
                          "client-1");
    assert_non_null(o);
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static signet_err sign_raw(struct fx *f, const char *issuer, const char *alg, const char *kid,
                           const char *body, char **token)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_sign(&w, issuer, alg, "at+jwt", kid, (const uint8_t *)body, strlen(body));
    assert_int_equal(w.err, SIGNET_OK);
    signet_err status = SIGNET_OK;
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(sg_signer_call(f->c, SG_IPC_SIGN, w.data, w.len, &status, &resp, &resp_len),
                     SIGNET_OK);
    sg_wbuf_free(&w);
    *token = NULL;
    if (status == SIGNET_OK) {
        assert_true(resp_len > 2);
        *token = strndup(resp + 2, resp_len - 2);
    }
    free(resp);
    return status;
}

static json_t *call_json(struct fx *f, uint8_t type, const char *arg)
{
    signet_err status = SIGNET_ERR_INTERNAL;
    char *text = NULL;
    if (arg != NULL)
        assert_int_equal(sg_signer_call_str(f->c, type, arg, &status, &text), SIGNET_OK);
    else
        assert_int_equal(sg_signer_call(f->c, type, NULL, 0, &status, &text, NULL), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    return doc;
}

static const char *kid_in_state(json_t *keys, const char *issuer, const char *alg,
                                const char *state)
{
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        if (strcmp(json_string_value(json_object_get(k, "issuer")), issuer) == 0 &&
            strcmp(json_string_value(json_object_get(k, "alg")), alg) == 0 &&
            strcmp(json_string_value(json_object_get(k, "state")), state) == 0)
            return json_string_value(json_object_get(k, "kid"));
    }
    return NULL;
}

static size_t decode_part(const char *s, size_t n, uint8_t *out, size_t cap)
{
    size_t len = 0;
    assert_int_equal(sg_b64url_decode(s, n, out, cap, &len), SIGNET_OK);
    return len;
}

/* Independent ES256 check with OpenSSL against the JWK the signer publishes. */
static int verify_es256(const char *token, json_t *jwks)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    assert_non_null(d2);
    uint8_t hdr[512];
    size_t hl = decode_part(token, (size_t)(d1 - token), hdr, sizeof hdr);
    json_t *h = json_loadb((const char *)hdr, hl, 0, NULL);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "at+jwt");
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
    const char *kid = json_string_value(json_object_get(h, "kid"));
    /* Byte for byte the header tokens have always had: compact, members in
     * the order alg, kid, typ. */
    char want[256];
    int wn = snprintf(want, sizeof want, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}",
                      kid);
    assert_true(wn > 0 && (size_t)wn == hl);
    assert_memory_equal(hdr, want, hl);
    json_t *jwk = NULL, *k;
    size_t i;
    json_array_foreach(json_object_get(jwks, "keys"), i, k) {
        if (strcmp(json_string_value(json_object_get(k, "kid")), kid) == 0)
            jwk = k;
    }
    json_decref(h);
    if (jwk == NULL)
        return 0;
    uint8_t pub[65] = {4};
    const char *x = json_string_value(json_object_get(jwk, "x"));
    const char *y = json_string_value(json_object_get(jwk, "y"));
    assert_int_equal(decode_part(x, strlen(x), pub + 1, 32), 32);
    assert_int_equal(decode_part(y, strlen(y), pub + 33, 32), 32);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub);
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;
    assert_int_equal(EVP_PKEY_fromdata_init(pctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    uint8_t sig[64];
    assert_int_equal(decode_part(d2 + 1, strlen(d2 + 1), sig, sizeof sig), 64);
    ECDSA_SIG *es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
    unsigned char *der = NULL;
    int derlen = i2d_ECDSA_SIG(es, &der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
    int ok = EVP_DigestVerify(md, der, (size_t)derlen, (const unsigned char *)token,
                              (size_t)(d2 - token)) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return ok;
}

static uint64_t count_records(struct fx *f, const char *type)
{
    char path[400];
    snprintf(path, sizeof path, "%s/signer/audit.log", f->st.dir);
    uint64_t n = 0;
    assert_int_equal(sg_audit_count_type(path, type, &n), SIGNET_OK);
    return n;
}

static void test_sign_and_verify(void **state)
{
    struct fx *f = *state;
    char *body = claims(ISS_A, T0, 600), *tok = NULL;
    assert_int_equal(sign_raw(f, ISS_A, "", "", body, &tok), SIGNET_OK);
    json_t *jwks = call_json(f, SG_IPC_JWKS, ISS_A);
    assert_true(verify_es256(tok, jwks));
    /* A flipped byte in the claims must not verify. */
    char *bad = strdup(tok);
    char *dot = strchr(bad, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_false(verify_es256(bad, jwks));
    free(bad);
    json_decref(jwks);
    /* The claims were signed as sent, the signer's jti (22 base64url
     * characters, 128 bits) added last. */
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    uint8_t raw[1024];
    size_t n = decode_part(d1 + 1, (size_t)(d2 - d1 - 1), raw, sizeof raw);
    size_t bl = strlen(body);
    assert_int_equal(n, bl - 1 + strlen(",\"jti\":\"\"}") + 22);
    assert_memory_equal(raw, body, bl - 1);
    assert_memory_equal(raw + bl - 1, ",\"jti\":\"", 8);
    /* EdDSA and PS256 on the tenant that allows them. */
    char *t2 = NULL, *t3 = NULL;
    assert_int_equal(sign_raw(f, ISS_A, "EdDSA", "", body, &t2), SIGNET_OK);
    assert_int_equal(sign_raw(f, ISS_A, "PS256", "", body, &t3), SIGNET_OK);
    free(t2);
    free(t3);
    free(tok);
    free(body);
    /* Each signature is in the audit log, durably, once it is returned. */
    assert_int_equal(count_records(f, "sign"), 3);
}

static void test_refusals_are_audited(void **state)
{
    struct fx *f = *state;
    char *tok = NULL;
    int refused = 0;
    json_t *keys = call_json(f, SG_IPC_KEYS, "");
    const char *standby = kid_in_state(keys, ISS_A, "ES256", "PUBLISHED");
    const char *active_b = kid_in_state(keys, ISS_B, "ES256", "ACTIVE");
    assert_non_null(standby);
    assert_non_null(active_b);

    char *foreign = claims(ISS_B, T0, 600); /* iss of another tenant */
    assert_int_equal(sign_raw(f, ISS_A, "", "", foreign, &tok), SIGNET_ERR_POLICY_ISSUER);
    refused++;
    char *good = claims(ISS_A, T0, 600);
    assert_int_equal(sign_raw(f, "https://unknown.example", "", "", good, &tok),
                     SIGNET_ERR_UNKNOWN_ISSUER_CONFIG);
    refused++;
    /* Another issuer's key, named explicitly: never used across issuers. */
    assert_int_equal(sign_raw(f, ISS_A, "", active_b, good, &tok), SIGNET_ERR_KEY_STATE);
    refused++;
    /* The pre-published standby does not sign yet. */
    assert_int_equal(sign_raw(f, ISS_A, "", standby, good, &tok), SIGNET_ERR_KEY_STATE);
    refused++;
    char *too_long = claims(ISS_A, T0, 901);
    assert_int_equal(sign_raw(f, ISS_A, "", "", too_long, &tok), SIGNET_ERR_POLICY_LIFETIME);
    refused++;
    char *exact = claims(ISS_A, T0, 900);
    assert_int_equal(sign_raw(f, ISS_A, "", "", exact, &tok), SIGNET_OK);
    free(tok);
    char *future = claims(ISS_A, T0 + 3600, 600);
    assert_int_equal(sign_raw(f, ISS_A, "", "", future, &tok), SIGNET_ERR_POLICY_TIME);
    refused++;
    assert_int_equal(sign_raw(f, ISS_A, "", "", "[1,2]", &tok), SIGNET_ERR_POLICY_PAYLOAD);
    refused++;
    char dup[256];
    snprintf(dup, sizeof dup,
             "{\"iss\":\"%s\",\"iss\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"x\"}", ISS_B,
             ISS_A, T0, T0 + 60);
    assert_int_equal(sign_raw(f, ISS_A, "", "", dup, &tok), SIGNET_ERR_POLICY_PAYLOAD);
    refused++;
    assert_int_equal(sign_raw(f, ISS_B, "EdDSA", "", good, &tok), SIGNET_ERR_ALG_NOT_ALLOWED);
    refused++;
    assert_null(tok);
    assert_int_equal(count_records(f, "sign_refused"), (uint64_t)refused);
    assert_int_equal(count_records(f, "sign"), 1);
    free(foreign);
    free(good);
    free(too_long);
    free(exact);
    free(future);
    json_decref(keys);
}

static void test_retired_key_refused(void **state)
{
    struct fx *f = *state;
    json_t *keys = call_json(f, SG_IPC_KEYS, ISS_B);
    char old[64];
    snprintf(old, sizeof old, "%s", kid_in_state(keys, ISS_B, "ES256", "ACTIVE"));
    json_decref(keys);
    /* Once the standby has been published long enough, rotate. */
    sg_test_state_set_clock(&f->st, T0 + 100);
    json_decref(call_json(f, SG_IPC_ROTATE, ISS_B));
    keys = call_json(f, SG_IPC_KEYS, ISS_B);
    assert_string_equal(kid_in_state(keys, ISS_B, "ES256", "RETIRED"), old);
    const char *now_active = kid_in_state(keys, ISS_B, "ES256", "ACTIVE");
    assert_non_null(now_active);
    assert_string_not_equal(now_active, old);
    char *body = claims(ISS_B, T0 + 100, 60), *tok = NULL;
    assert_int_equal(sign_raw(f, ISS_B, "", old, body, &tok), SIGNET_ERR_KEY_STATE);
    assert_int_equal(sign_raw(f, ISS_B, "", now_active, body, &tok), SIGNET_OK);
    /* The new token carries the new kid. */
    uint8_t hdr[256];
    size_t hl = decode_part(tok, (size_t)(strchr(tok, '.') - tok), hdr, sizeof hdr);
    assert_non_null(memmem(hdr, hl, now_active, strlen(now_active)));
    free(tok);
    free(body);
    json_decref(keys);
}

static void test_malformed_frame_drops_connection(void **state)
{
    struct fx *f = *state;
    /* A sign frame whose payload does not parse: the signer hangs up. */
    signet_err status = SIGNET_OK;
    const uint8_t junk[] = {0x00, 0x05, 'h', 'e'};
    assert_int_equal(sg_signer_call(f->c, SG_IPC_SIGN, junk, sizeof junk, &status, NULL, NULL),
                     SIGNET_ERR_SIGNER_GONE);
    sg_signer_client_free(&f->c);
    assert_true(count_records(f, "frame_refused") >= 1);
    /* A fresh signer works and the chain is intact. */
    assert_int_equal(sg_signer_spawn(f->st.dir, &f->c), SIGNET_OK);
    json_decref(call_json(f, SG_IPC_STATUS, NULL));
    char path[400];
    snprintf(path, sizeof path, "%s/signer/audit.log", f->st.dir);
    uint64_t records = 0, bad = 0;
    char why[160];
    assert_int_equal(sg_audit_verify_file(path, &records, &bad, why, sizeof why), SIGNET_OK);
}

/* With the audit log unwritable (RLIMIT_FSIZE set on the running signer: a
 * real EFBIG from write()), no token leaves the signer. */
static void test_fail_closed_without_audit(void **state)
{
    struct fx *f = *state;
    json_decref(call_json(f, SG_IPC_STATUS, NULL)); /* bootstrap done */
    char path[400];
    snprintf(path, sizeof path, "%s/signer/audit.log", f->st.dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    struct rlimit lim = {(rlim_t)st.st_size + 10, RLIM_INFINITY};
    assert_int_equal(prlimit(sg_signer_client_pid(f->c), RLIMIT_FSIZE, &lim, NULL), 0);
    char *body = claims(ISS_A, T0, 600), *tok = NULL;
    assert_int_equal(sign_raw(f, ISS_A, "", "", body, &tok), SIGNET_ERR_AUDIT);
    assert_null(tok);
    /* Still closed on the next try, and nothing half-written remains. */
    assert_int_equal(sign_raw(f, ISS_A, "", "", body, &tok), SIGNET_ERR_AUDIT);
    assert_null(tok);
    free(body);
    struct stat after;
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(after.st_size, st.st_size);
    assert_int_equal(count_records(f, "sign"), 0);
    /* The signer counts what it made but withheld, and released nothing. */
    json_t *stj = call_json(f, SG_IPC_STATUS, NULL);
    json_t *sig = json_object_get(stj, "signer");
    assert_int_equal(json_integer_value(json_object_get(sig, "withheld")), 2);
    assert_int_equal(json_integer_value(json_object_get(sig, "signatures")), 0);
    assert_int_equal(strlen(json_string_value(json_object_get(sig, "instance"))), 16);
    /* And says so: its health (what /readyz reads) is failing, with why. */
    json_t *h = json_object_get(stj, "health");
    assert_true(json_is_false(json_object_get(h, "ok")));
    assert_string_equal(json_string_value(json_object_get(h, "last_error")), "SIGNET_ERR_AUDIT");
    json_decref(stj);
    /* Once the log is writable again, signing resumes. */
    lim.rlim_cur = lim.rlim_max = RLIM_INFINITY;
    assert_int_equal(prlimit(sg_signer_client_pid(f->c), RLIMIT_FSIZE, &lim, NULL), 0);
    body = claims(ISS_A, T0, 600);
    assert_int_equal(sign_raw(f, ISS_A, "", "", body, &tok), SIGNET_OK);
    free(tok);
    free(body);
    assert_int_equal(count_records(f, "sign"), 1);
    stj = call_json(f, SG_IPC_STATUS, NULL);
    assert_true(json_is_true(json_object_get(json_object_get(stj, "health"), "ok")));
    json_decref(stj);
}

/* The ACTIVE key vanishes from the token behind the signer's back (what a
 * SoftHSM token directory that went away for a moment looks like: CKR_OK,
 * no object). The signer reads the key store again (still ACTIVE), opens
 * fresh sessions, tries once more, and then leaves the request unanswered
 * and exits with status 75, for the front end to ask another signer and
 * the launcher to start a fresh one. Control: the same request signs while
 * the key is there. */
static void test_token_lost_exits(void **state)
{
    struct fx *f = *state;
    char *body = claims(ISS_A, T0, 600), *tok = NULL;
    assert_int_equal(sign_raw(f, ISS_A, "ES256", "", body, &tok), SIGNET_OK);
    free(tok);
    json_t *keys = call_json(f, SG_IPC_KEYS, ISS_A);
    const char *hex = NULL;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        if (strcmp(json_string_value(json_object_get(k, "state")), "ACTIVE") == 0 &&
            strcmp(json_string_value(json_object_get(k, "alg")), "ES256") == 0)
            hex = json_string_value(json_object_get(k, "hsm_id"));
    }
    assert_non_null(hex);
    uint8_t id[SG_HSM_ID_LEN];
    assert_int_equal(sg_hex_decode(hex, strlen(hex), id, sizeof id), SIGNET_OK);
    json_decref(keys);

    /* Another handle on the same token takes the key away. */
    char pin_path[400], module_dir[256];
    snprintf(pin_path, sizeof pin_path, "%s/signer/user.pin", f->st.dir);
    snprintf(module_dir, sizeof module_dir, "%s", sg_test_softhsm_module());
    *strrchr(module_dir, '/') = '\0';
    struct sg_secret *pin = NULL;
    assert_int_equal(sg_secret_read_file(pin_path, 256, &pin), SIGNET_OK);
    struct sg_p11_opts opts = {.module_path = sg_test_softhsm_module(), .allow_dirs = module_dir,
                               .token_label = "signet", .sessions = 1};
    struct sg_p11 *p = NULL;
    assert_int_equal(sg_p11_open(&opts, pin, &p), SIGNET_OK);
    sg_secret_free(&pin);
    unsigned gone = 0;
    assert_int_equal(sg_p11_destroy(p, id, &gone), SIGNET_OK);
    assert_true(gone >= 1);
    sg_p11_close(&p);

    /* No answer at all (not a refusal the front end would pass on)... */
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    char *body2 = claims(ISS_A, T0, 600);
    sg_ipc_encode_sign(&w, ISS_A, "ES256", "at+jwt", "", (const uint8_t *)body2,
                       strlen(body2));
    signet_err status = SIGNET_OK;
    char *resp = NULL;
    assert_int_equal(sg_signer_call(f->c, SG_IPC_SIGN, w.data, w.len, &status, &resp, NULL),
                     SIGNET_ERR_SIGNER_GONE);
    free(resp);
    sg_wbuf_free(&w);
    free(body2);
    free(body);
    /* ...and the signer exited: token lost. */
    int st = 0;
    assert_int_equal(waitpid(sg_signer_client_pid(f->c), &st, 0), sg_signer_client_pid(f->c));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), SG_SIGNER_EXIT_TOKEN_LOST);
    /* It committed nothing for the request it left: one sign record. */
    assert_int_equal(count_records(f, "sign"), 1);
}

/* Many requests written at once form one batch: signed in parallel, one
 * group commit, answers in request order with their ids. */
static void test_pipelined_batch(void **state)
{
    struct fx *f = *state;
    enum { N = 40 };
    struct sg_wbuf out;
    sg_wbuf_init(&out, 1 << 22);
    for (uint32_t i = 0; i < N; i++) {
        /* every fifth request is refused (too long a lifetime) */
        char *body = claims(ISS_A, T0, i % 5 == 4 ? 5000 : 300);
        struct sg_wbuf req;
        sg_wbuf_init(&req, SG_IPC_MAX_PAYLOAD);
        sg_ipc_encode_sign(&req, ISS_A, i % 2 ? "EdDSA" : "ES256", "at+jwt", "",
                           (const uint8_t *)body, strlen(body));
        sg_ipc_put_frame(&out, SG_IPC_SIGN, 1000 + i, req.data, req.len);
        sg_wbuf_free(&req);
        free(body);
    }
    assert_int_equal(out.err, SIGNET_OK);
    int fd = sg_signer_client_fd(f->c);
    assert_int_equal(sg_ipc_write_all(fd, out.data, out.len), SIGNET_OK);
    sg_wbuf_free(&out);
    struct sg_wbuf in;
    sg_wbuf_init(&in, 1 << 22);
    size_t ok = 0;
    for (uint32_t i = 0; i < N; i++) {
        struct sg_ipc_frame fr;
        assert_int_equal(sg_ipc_read_frame(fd, &in, &fr), SIGNET_OK);
        assert_int_equal(fr.type, SG_IPC_SIGN | SG_IPC_RESPONSE);
        assert_int_equal(fr.id, 1000 + i);
        struct sg_buf b;
        sg_buf_init(&b, fr.payload, fr.len);
        uint32_t st = 0;
        assert_int_equal(sg_buf_get_u32(&b, &st), SIGNET_OK);
        assert_int_equal(st, i % 5 == 4 ? SIGNET_ERR_POLICY_LIFETIME : SIGNET_OK);
        ok += st == SIGNET_OK;
        size_t used = (size_t)(fr.payload - in.data) + fr.len;
        memmove(in.data, in.data + used, in.len - used);
        in.len -= used;
    }
    sg_wbuf_free(&in);
    assert_int_equal(count_records(f, "sign"), ok);
    assert_int_equal(count_records(f, "sign_refused"), N - ok);
    json_t *st = call_json(f, SG_IPC_STATUS, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "signer"), "signatures")), ok);
    json_decref(st);
}

/* Claims for ISS_A at T0 with the given members after iss, iat, exp. */
static signet_err sign_members(struct fx *f, const char *members, char **tok)
{
    char body[1024];
    int n = snprintf(body, sizeof body, "{\"iss\":\"%s\",\"iat\":%lld,\"exp\":%lld,%s}", ISS_A,
                     T0, T0 + 300, members);
    assert_true(n > 0 && (size_t)n < sizeof body);
    *tok = NULL;
    return sign_raw(f, ISS_A, "", "", body, tok);
}

static char *jti_of(const char *tok)
{
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    uint8_t raw[1024];
    size_t n = decode_part(d1 + 1, (size_t)(d2 - d1 - 1), raw, sizeof raw);
    json_t *o = json_loadb((const char *)raw, n, 0, NULL);
    assert_non_null(o);
    char *j = strdup(json_string_value(json_object_get(o, "jti")));
    json_decref(o);
    return j;
}

/* Issue 11: the signer signs a machine token only for a client of its own
 * registry (sub == client_id, scopes and audiences within the binding,
 * exactly the expected claims) and mints the jti itself. */
static void test_client_policy(void **state)
{
    struct fx *f = *state;
    char *tok = NULL;
    const char *aud = "\"aud\":\"https://api.example\"";
    char m[512];
#define MEMBERS(...) (snprintf(m, sizeof m, __VA_ARGS__), m)
    assert_int_equal(sign_members(f, MEMBERS("\"sub\":\"client-1\",\"client_id\":\"client-1\",%s,"
                                             "\"scope\":\"read write\"", aud), &tok),
                     SIGNET_OK);
    char *j1 = jti_of(tok);
    free(tok);
    assert_int_equal(sign_members(f, MEMBERS("\"sub\":\"client-1\",\"client_id\":\"client-1\","
                                             "\"aud\":[\"https://api.example\","
                                             "\"https://other.example\"]"), &tok),
                     SIGNET_OK);
    char *j2 = jti_of(tok);
    free(tok);
    /* 128 random bits each time, never the same. */
    assert_int_equal(strlen(j1), 22);
    assert_string_not_equal(j1, j2);
    free(j1);
    free(j2);
    int refused = 0;
    static const struct {
        const char *members;
        signet_err want;
    } bad[] = {
        {"\"sub\":\"nobody\",\"client_id\":\"nobody\",\"aud\":\"https://api.example\"",
         SIGNET_ERR_POLICY_CLIENT},
        {"\"sub\":\"admin\",\"client_id\":\"client-1\",\"aud\":\"https://api.example\"",
         SIGNET_ERR_POLICY_CLIENT},
        {"\"client_id\":\"client-1\",\"aud\":\"https://api.example\"", SIGNET_ERR_POLICY_CLIENT},
        {"\"sub\":\"client-1\",\"client_id\":\"client-1\",\"aud\":\"https://api.example\","
         "\"scope\":\"read admin\"",
         SIGNET_ERR_POLICY_SCOPE},
        {"\"sub\":\"client-1\",\"client_id\":\"client-1\",\"aud\":\"https://bank.example\"",
         SIGNET_ERR_POLICY_AUDIENCE},
        {"\"sub\":\"client-1\",\"client_id\":\"client-1\","
         "\"aud\":[\"https://api.example\",\"https://bank.example\"]",
         SIGNET_ERR_POLICY_AUDIENCE},
        {"\"sub\":\"client-1\",\"client_id\":\"client-1\",\"aud\":[]", SIGNET_ERR_POLICY_AUDIENCE},
        {"\"sub\":\"client-1\",\"client_id\":\"client-1\",\"aud\":\"https://api.example\","
         "\"admin\":true",
         SIGNET_ERR_POLICY_CLAIMS},
        {"\"sub\":\"client-1\",\"client_id\":\"client-1\",\"aud\":\"https://api.example\","
         "\"jti\":\"chosen-by-the-front\"",
         SIGNET_ERR_POLICY_JTI},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sign_members(f, bad[i].members, &tok), bad[i].want);
        assert_null(tok);
        refused++;
    }
    /* client-1 of tenant b may not read "write": bindings are per tenant. */
    char body[512];
    snprintf(body, sizeof body,
             "{\"iss\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"sub\":\"client-1\","
             "\"client_id\":\"client-1\",\"aud\":\"https://api.example\",\"scope\":\"write\"}",
             ISS_B, T0, T0 + 300);
    assert_int_equal(sign_raw(f, ISS_B, "", "", body, &tok), SIGNET_ERR_POLICY_SCOPE);
    refused++;
    /* Unbound: refused from then on. */
    static const char unbind[] = "{\"op\":\"unbind\",\"tenant\":\"a\",\"client_id\":\"client-1\"}";
    signet_err status = SIGNET_ERR_INTERNAL;
    char *resp = NULL;
    assert_int_equal(sg_signer_call(f->c, SG_IPC_CLIENT_BIND, (const uint8_t *)unbind,
                                    sizeof unbind - 1, &status, &resp, NULL),
                     SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    free(resp);
    assert_int_equal(sign_members(f, MEMBERS("\"sub\":\"client-1\",\"client_id\":\"client-1\",%s",
                                             aud), &tok),
                     SIGNET_ERR_POLICY_CLIENT);
    refused++;
#undef MEMBERS
    assert_int_equal(count_records(f, "sign_refused"), (uint64_t)refused);
    assert_int_equal(count_records(f, "sign"), 2);
    assert_int_equal(count_records(f, "client_bound"), 2);
    assert_int_equal(count_records(f, "client_unbound"), 1);
}

/* Issue 13: a person's tokens, as the signer signs and audits them. */
static signet_err sign_typ(struct fx *f, const char *typ, const char *body, char **token)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_sign(&w, ISS_A, "", typ, "", (const uint8_t *)body, strlen(body));
    assert_int_equal(w.err, SIGNET_OK);
    signet_err status = SIGNET_OK;
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(sg_signer_call(f->c, SG_IPC_SIGN, w.data, w.len, &status, &resp, &resp_len),
                     SIGNET_OK);
    sg_wbuf_free(&w);
    *token = NULL;
    if (status == SIGNET_OK) {
        assert_true(resp_len > 2);
        *token = strndup(resp + 2, resp_len - 2);
    }
    free(resp);
    return status;
}

/* The "sign" records of the audit log, oldest first. */
static json_t *sign_records(struct fx *f)
{
    char path[400];
    snprintf(path, sizeof path, "%s/signer/audit.log", f->st.dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    json_t *out = json_array();
    char line[16384];
    while (fgets(line, sizeof line, fp) != NULL) {
        const char *body = strchr(line, ' ');
        assert_non_null(body);
        json_t *rec = json_loads(body + 1, 0, NULL);
        assert_non_null(rec);
        if (strcmp(json_string_value(json_object_get(rec, "type")), "sign") == 0)
            json_array_append(out, rec);
        json_decref(rec);
    }
    fclose(fp);
    return out;
}

static const char *member_of(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static void test_people_tokens(void **state)
{
    struct fx *f = *state;
#define UID "uAbCdEfGhIjKlMnOpQrSt-_"
#define PERSON ",\"auth_time\":%lld,\"acr\":\"urn:signet:acr:phr\",\"amr\":[\"hwk\",\"user\",\"mfa\"]"
    char body[1024];
    char *tok = NULL;
    /* An ID token (typ JWT) for client-1. */
    snprintf(body, sizeof body,
             "{\"iss\":\"%s\",\"sub\":\"" UID "\",\"aud\":\"client-1\",\"exp\":%lld,\"iat\":%lld"
             PERSON ",\"sid\":\"sess-1\",\"azp\":\"client-1\",\"nonce\":\"n-0S6_WzA2Mj\"}",
             ISS_A, T0 + 300, T0, T0 - 60);
    assert_int_equal(sign_typ(f, "JWT", body, &tok), SIGNET_OK);
    const char *d1 = strchr(tok, '.');
    uint8_t raw[1024];
    size_t n = decode_part(tok, (size_t)(d1 - tok), raw, sizeof raw);
    json_t *h = json_loadb((const char *)raw, n, 0, NULL);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    json_decref(h);
    char *jti_id = jti_of(tok);
    free(tok);
    /* A person's access token (typ at+jwt, sub the user). */
    snprintf(body, sizeof body,
             "{\"iss\":\"%s\",\"sub\":\"" UID "\",\"aud\":\"https://api.example\",\"exp\":%lld,"
             "\"iat\":%lld,\"client_id\":\"client-1\",\"scope\":\"read\"" PERSON
             ",\"sid\":\"sess-1\"}",
             ISS_A, T0 + 300, T0, T0 - 60);
    assert_int_equal(sign_typ(f, "at+jwt", body, &tok), SIGNET_OK);
    free(tok);
    /* The same without its sid, or as an ID token, or under another typ. */
    snprintf(body, sizeof body,
             "{\"iss\":\"%s\",\"sub\":\"" UID "\",\"aud\":\"https://api.example\",\"exp\":%lld,"
             "\"iat\":%lld,\"client_id\":\"client-1\"" PERSON "}",
             ISS_A, T0 + 300, T0, T0 - 60);
    assert_int_equal(sign_typ(f, "at+jwt", body, &tok), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(sign_typ(f, "JWT", body, &tok), SIGNET_ERR_POLICY_CLAIMS);
    char *machine = claims(ISS_A, T0, 300);
    assert_int_equal(sign_typ(f, "foo", machine, &tok), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(sign_typ(f, "JWT", machine, &tok), SIGNET_ERR_POLICY_CLAIMS);
    assert_null(tok);
    /* A machine token, for comparison. */
    assert_int_equal(sign_typ(f, "at+jwt", machine, &tok), SIGNET_OK);
    free(tok);
    free(machine);
#undef PERSON
    /* Each signature's record says what it was, and for whom. */
    json_t *recs = sign_records(f);
    assert_int_equal(json_array_size(recs), 3);
    const json_t *id = json_array_get(recs, 0);
    assert_string_equal(member_of(id, "kind"), "id_token");
    assert_string_equal(member_of(id, "client_id"), "client-1");
    assert_string_equal(member_of(id, "sub"), UID);
    assert_string_equal(member_of(id, "sid"), "sess-1");
    assert_string_equal(member_of(id, "jti"), jti_id);
    const json_t *person = json_array_get(recs, 1);
    assert_string_equal(member_of(person, "kind"), "person");
    assert_string_equal(member_of(person, "client_id"), "client-1");
    assert_string_equal(member_of(person, "sub"), UID);
    assert_string_equal(member_of(person, "sid"), "sess-1");
    const json_t *mach = json_array_get(recs, 2);
    assert_string_equal(member_of(mach, "kind"), "machine");
    assert_string_equal(member_of(mach, "client_id"), "client-1");
    assert_null(json_object_get(mach, "sub"));
    assert_null(json_object_get(mach, "sid"));
    json_decref(recs);
    free(jti_id);
    assert_int_equal(count_records(f, "sign_refused"), 4);
    /* The log, with its new members, still verifies end to end. */
    char path[400];
    snprintf(path, sizeof path, "%s/signer/audit.log", f->st.dir);
    uint64_t records = 0, first_bad = 0;
    char why[256] = "";
    assert_int_equal(sg_audit_verify_file(path, &records, &first_bad, why, sizeof why), SIGNET_OK);
    assert_true(records > 7);
#undef UID
}

static signet_err do_revoke(struct fx *f, uint8_t type, const char *kid)
{
    signet_err status = SIGNET_ERR_INTERNAL;
    char *text = NULL;
    assert_int_equal(sg_signer_call_str(f->c, type, kid, &status, &text), SIGNET_OK);
    free(text);
    return status;
}

static char *active_of(struct fx *f, const char *iss)
{
    json_t *keys = call_json(f, SG_IPC_KEYS, iss);
    char *kid = strdup(kid_in_state(keys, iss, "ES256", "ACTIVE"));
    json_decref(keys);
    return kid;
}

/* Issue 11: one revoke per issuer per pre-publication window (60 + 30 s
 * here); a second one is refused and audited unless forced. */
static void test_revoke_limit(void **state)
{
    struct fx *f = *state;
    char *a1 = active_of(f, ISS_A);
    assert_int_equal(do_revoke(f, SG_IPC_REVOKE, a1), SIGNET_OK);
    char *a2 = active_of(f, ISS_A);
    assert_string_not_equal(a1, a2);
    for (int i = 0; i < 5; i++)
        assert_int_equal(do_revoke(f, SG_IPC_REVOKE, a2), SIGNET_ERR_REVOKE_TOO_SOON);
    char *still = active_of(f, ISS_A);
    assert_string_equal(still, a2);
    /* Another issuer has its own window. */
    char *b1 = active_of(f, ISS_B);
    assert_int_equal(do_revoke(f, SG_IPC_REVOKE, b1), SIGNET_OK);
    /* The operator may force it. */
    assert_int_equal(do_revoke(f, SG_IPC_REVOKE_FORCE, a2), SIGNET_OK);
    char *a3 = active_of(f, ISS_A);
    assert_string_not_equal(a3, a2);
    /* Once the window has passed, an ordinary revoke works again. */
    sg_test_state_set_clock(&f->st, T0 + 89);
    assert_int_equal(do_revoke(f, SG_IPC_REVOKE, a3), SIGNET_ERR_REVOKE_TOO_SOON);
    sg_test_state_set_clock(&f->st, T0 + 90);
    assert_int_equal(do_revoke(f, SG_IPC_REVOKE, a3), SIGNET_OK);
    assert_int_equal(count_records(f, "revoke_refused"), 6);
    assert_int_equal(count_records(f, "revoke_forced"), 1);
    free(a1);
    free(a2);
    free(a3);
    free(b1);
    free(still);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sign_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_are_audited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retired_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_frame_drops_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_closed_without_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_lost_exits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_people_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
