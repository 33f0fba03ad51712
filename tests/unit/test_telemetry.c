/* Telemetry plumbing: the reports parser's hostile cases, the incremental
 * audit reader and its token index, and the monitor end to end with fake
 * signer callbacks over a real audit log (written with sg_audit): clean
 * state, a missing sign record (I5), an overlong token (I6), forged and
 * cross-tenant reports (I7) with the emergency rotation, recovery, the
 * metrics and the status page; the front end's sandbox and the trust
 * boundary (I8, /status, /status.json, /metrics); passkey counters that
 * went backwards (I9). */
#include "testutil.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/signer_client.h"
#include "signer/audit.h"
#include "store/store.h"
#include "telemetry/auditscan.h"
#include "telemetry/monitor.h"
#include "telemetry/reports.h"
#include "telemetry/signer_source.h"
#include "util/b64url.h"
#include "util/clock.h"
#include "util/hex.h"
#include "util/log.h"

#define ISS "https://a.example/t/a"
#define ISS_B "https://b.example/t/b"
#define NOW 2000000

/* ---- reports parser ------------------------------------------------------------------ */

static const char sha_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static signet_err parse(const char *body, size_t *n)
{
    struct sg_report *r = NULL;
    signet_err err = sg_reports_parse((const uint8_t *)body, strlen(body), &r, n);
    free(r);
    return err;
}

static char *many_reports(size_t count)
{
    size_t cap = 64 + count * 160;
    char *b = malloc(cap);
    assert_non_null(b);
    size_t off = (size_t)snprintf(b, cap, "{\"reports\":[");
    for (size_t i = 0; i < count; i++)
        off += (size_t)snprintf(b + off, cap - off,
                                "%s{\"iss\":\"" ISS "\",\"kid\":\"k\",\"jti\":\"j%zu\","
                                "\"token_sha256\":\"%s\"}",
                                i > 0 ? "," : "", i, sha_a);
    snprintf(b + off, cap - off, "]}");
    return b;
}

static void test_reports_parser(void **state)
{
    (void)state;
    size_t n = 0;
    char ok[512];
    snprintf(ok, sizeof ok,
             "{\"reports\":[{\"iss\":\"" ISS "\",\"kid\":\"k1\",\"jti\":\"j1\",\"token_sha256\":\"%s\"}]}",
             sha_a);
    assert_int_equal(parse(ok, &n), SIGNET_OK);
    assert_int_equal(n, 1);
    struct sg_report *r = NULL;
    assert_int_equal(sg_reports_parse((const uint8_t *)ok, strlen(ok), &r, &n), SIGNET_OK);
    assert_string_equal(r[0].iss, ISS);
    assert_int_equal(r[0].token_sha256[0], 0xaa);
    free(r);
    assert_int_equal(parse("{\"reports\":[]}", &n), SIGNET_OK);
    assert_int_equal(n, 0);
    /* Truncated at every length. */
    for (size_t cut = 0; cut < strlen(ok); cut++) {
        struct sg_report *t = NULL;
        assert_int_not_equal(sg_reports_parse((const uint8_t *)ok, cut, &t, &n), SIGNET_OK);
        assert_null(t);
    }
    static const struct {
        const char *body;
        signet_err want;
    } bad[] = {
        {"", SIGNET_ERR_BAD_JSON},
        {"[]", SIGNET_ERR_MALFORMED},
        {"{\"reports\":{}}", SIGNET_ERR_MALFORMED},
        {"{\"reports\":[],\"extra\":1}", SIGNET_ERR_MALFORMED},
        {"{\"reports\":[],\"reports\":[]}", SIGNET_ERR_DUPLICATE_MEMBER},
        {"{\"reports\":[]} x", SIGNET_ERR_BAD_JSON},
        {"{\"reports\":[1]}", SIGNET_ERR_MALFORMED},
        {"{\"reports\":[{\"iss\":\"i\",\"kid\":\"k\",\"jti\":\"j\"}]}", SIGNET_ERR_MALFORMED},
        {"{\"reports\":[{\"iss\":\"i\",\"kid\":\"k\",\"jti\":\"j\",\"token_sha256\":\"aa\"}]}",
         SIGNET_ERR_MALFORMED},
        {"{\"reports\":[{\"iss\":\"i\",\"kid\":\"k\",\"jti\":\"j\",\"token_sha256\":"
         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
         SIGNET_ERR_MALFORMED},
        {"{\"reports\":[{\"iss\":\"i\",\"kid\":\"k\",\"jti\":\"j\",\"token_sha256\":"
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}",
         SIGNET_ERR_MALFORMED}, /* 65 digits */
        {"{\"reports\":[{\"iss\":\"i\",\"kid\":7,\"jti\":\"j\",\"token_sha256\":"
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}",
         SIGNET_ERR_MALFORMED},
        {"{\"reports\":[{\"iss\":\"\",\"kid\":\"k\",\"jti\":\"j\",\"token_sha256\":"
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}",
         SIGNET_ERR_MALFORMED},
        {"{\"reports\":[{\"iss\":\"i\",\"kid\":\"k\",\"jti\":\"j\",\"jti\":\"j\",\"token_sha256\":"
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}",
         SIGNET_ERR_DUPLICATE_MEMBER},
        {"{\"reports\":[{\"iss\":\"i\",\"kid\":\"k\\u0000x\",\"jti\":\"j\",\"token_sha256\":"
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}",
         SIGNET_ERR_BAD_JSON},
        {"{\"reports\":[{\"iss\":\"i\",\"kid\":\"k\",\"jti\":\"j\",\"token_sha256\":"
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"x\":{}}]}",
         SIGNET_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        signet_err e = parse(bad[i].body, &n);
        if (e != bad[i].want)
            fail_msg("case %zu: %s, wanted %s", i, signet_err_name(e), signet_err_name(bad[i].want));
    }
    /* The body goes through the one JSON door: a raw NUL (jansson alone
     * skips one after a number) and deep nesting are refused before parsing. */
    static const char nul_body[] = "{\"reports\":[1\0]}";
    struct sg_report *r0 = NULL;
    assert_int_equal(sg_reports_parse((const uint8_t *)nul_body, sizeof nul_body - 1, &r0, &n),
                     SIGNET_ERR_BAD_JSON);
    char deep[64] = "{\"reports\":";
    size_t dl = strlen(deep);
    for (int d = 0; d < 17; d++)
        deep[dl++] = '[';
    for (int d = 0; d < 17; d++)
        deep[dl++] = ']';
    deep[dl++] = '}';
    deep[dl] = '\0';
    assert_int_equal(parse(deep, &n), SIGNET_ERR_JSON_TOO_DEEP);
    assert_null(r0);
    /* Longest kid is 63 bytes. */
    char kid[80];
    memset(kid, 'k', 64);
    kid[64] = '\0';
    char body[512];
    snprintf(body, sizeof body,
             "{\"reports\":[{\"iss\":\"i\",\"kid\":\"%s\",\"jti\":\"j\",\"token_sha256\":\"%s\"}]}",
             kid, sha_a);
    assert_int_equal(parse(body, &n), SIGNET_ERR_MALFORMED);
    kid[63] = '\0';
    snprintf(body, sizeof body,
             "{\"reports\":[{\"iss\":\"i\",\"kid\":\"%s\",\"jti\":\"j\",\"token_sha256\":\"%s\"}]}",
             kid, sha_a);
    assert_int_equal(parse(body, &n), SIGNET_OK);
    /* 1000 items pass, 1001 do not; the body cap holds. */
    char *b = many_reports(1000);
    assert_int_equal(parse(b, &n), SIGNET_OK);
    assert_int_equal(n, 1000);
    free(b);
    b = many_reports(1001);
    assert_int_equal(parse(b, &n), SIGNET_ERR_TOO_LARGE);
    free(b);
    b = malloc(SG_REPORTS_MAX_BODY + 2);
    assert_non_null(b);
    memset(b, ' ', SG_REPORTS_MAX_BODY + 1);
    memcpy(b, "{\"reports\":[]}", 14);
    b[SG_REPORTS_MAX_BODY + 1] = '\0';
    assert_int_equal(parse(b, &n), SIGNET_ERR_TOO_LARGE);
    b[SG_REPORTS_MAX_BODY] = '\0';
    assert_int_equal(parse(b, &n), SIGNET_OK);
    free(b);
    /* Deep nesting is refused, not recursed into forever. */
    b = malloc(200010);
    memset(b, '[', 100000);
    memset(b + 100000, ']', 100000);
    b[200000] = '\0';
    assert_int_not_equal(parse(b, &n), SIGNET_OK);
    free(b);
}

/* ---- an audit log --------------------------------------------------------------------- */

struct fx {
    char dir[256];
    char log[320];
    struct sg_audit *audit;
    /* fake signer */
    struct sg_tm_key keys[16];
    size_t n_keys;
    uint64_t signatures;
    bool seccomp;
    char revoked[8][64];
    size_t n_revoked;
    char served_extra[64];
    /* fake front end (signetd's src_frontend) */
    bool with_frontend;
    struct sg_tm_frontend fe;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL || sg_test_mkdtemp(f->dir, sizeof f->dir, "signet-tm") != 0) {
        free(f);
        return -1;
    }
    snprintf(f->log, sizeof f->log, "%s/audit.log", f->dir);
    if (sg_audit_open(f->log, &f->audit) != SIGNET_OK)
        return -1;
    f->seccomp = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sg_audit_close(&f->audit);
    sg_test_rmrf(f->dir);
    free(f);
    return 0;
}

static void token_hash(const char *token, char hex[65], uint8_t raw[32])
{
    SHA256((const uint8_t *)token, strlen(token), raw);
    sg_hex_encode(raw, 32, hex);
}

static void sign_rec(struct fx *f, int64_t time, const char *kid, const char *iss,
                     const char *token, int64_t exp)
{
    char hex[65];
    uint8_t raw[32];
    token_hash(token, hex, raw);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "kid", kid, "iss", iss, "alg",
                          "ES256", "jti", token, "token_sha256", hex, "iat", (json_int_t)time,
                          "exp", (json_int_t)exp);
    assert_int_equal(sg_audit_append(f->audit, time, "sign", j), SIGNET_OK);
    json_decref(j);
    assert_int_equal(sg_audit_commit(f->audit), SIGNET_OK);
}

static void note_rec(struct fx *f, const char *type)
{
    json_t *j = json_pack("{s:s}", "kid", "x");
    assert_int_equal(sg_audit_append(f->audit, NOW, type, j), SIGNET_OK);
    json_decref(j);
    assert_int_equal(sg_audit_commit(f->audit), SIGNET_OK);
}

static void test_audit_scan_incremental(void **state)
{
    struct fx *f = *state;
    struct sg_tm_audit *a = NULL;
    assert_int_equal(sg_tm_audit_new(f->log, 4000, 600, 1000, &a), SIGNET_OK);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK); /* empty */
    assert_int_equal(sg_tm_audit_records(a), 0);
    note_rec(f, "key_published");
    sign_rec(f, NOW - 5000, "k1", ISS, "old-token", NOW - 4000); /* past retention */
    sign_rec(f, NOW - 10, "k1", ISS, "tok1", NOW + 600);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_records(a), 3);
    assert_int_equal(sg_tm_audit_sign_records(a), 2);
    assert_int_equal(sg_tm_audit_indexed(a), 1);
    char hex[65];
    uint8_t raw[32];
    struct sg_tm_indexed rec;
    token_hash("tok1", hex, raw);
    assert_int_equal(sg_tm_audit_lookup(a, raw, NOW, &rec), SG_TM_FOUND);
    assert_true(rec.kid_h == sg_tm_digest64("k1", 2));
    assert_int_equal(rec.exp, NOW + 600);
    token_hash("old-token", hex, raw);
    assert_int_equal(sg_tm_audit_lookup(a, raw, NOW, &rec), SG_TM_NOT_FOUND);
    /* Incremental: only new records are read; a torn tail waits. */
    sign_rec(f, NOW, "k1", ISS, "tok2", NOW + 600);
    int fd = open(f->log, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_records(a), 4);
    assert_int_equal(sg_tm_audit_rescans(a), 0);
    token_hash("tok2", hex, raw);
    assert_int_equal(sg_tm_audit_lookup(a, raw, NOW, &rec), SG_TM_FOUND);
    /* The next writer cuts the torn tail and goes on: still fine. */
    sign_rec(f, NOW, "k1", ISS, "tok3", NOW + 600);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_records(a), 5);
    /* Eviction by age. */
    assert_int_equal(sg_tm_audit_poll(a, NOW + 3995, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_indexed(a), 2);
    sg_tm_audit_free(&a);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    char c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x01;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static void test_audit_scan_tamper(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 5; i++)
        note_rec(f, "key_published");
    struct sg_tm_audit *a = NULL;
    assert_int_equal(sg_tm_audit_new(f->log, 4000, 600, 1000, &a), SIGNET_OK);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_records(a), 5);
    /* Damage deep in the history: the incremental poll does not see it, a
     * full re-verification does and names the record. */
    flip_byte(f->log, 100);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    sg_tm_audit_force_full(a);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_ERR_AUDIT_BROKEN);
    assert_string_equal(sg_tm_audit_why(a), "record 1: hash mismatch");
    /* Sticky while the file stays as it is. */
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_ERR_AUDIT_BROKEN);
    flip_byte(f->log, 100);
    sg_tm_audit_free(&a);

    /* The last verified record rewritten: noticed at once, re-read whole. */
    assert_int_equal(sg_tm_audit_new(f->log, 4000, 600, 1000, &a), SIGNET_OK);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    struct stat st;
    assert_int_equal(stat(f->log, &st), 0);
    flip_byte(f->log, st.st_size - 10);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_ERR_AUDIT_BROKEN);
    assert_string_equal(sg_tm_audit_why(a), "record 5: hash mismatch");
    sg_tm_audit_free(&a);

    /* Records cut off the end: a shorter chain than before is broken too. */
    flip_byte(f->log, st.st_size - 10);
    assert_int_equal(sg_tm_audit_new(f->log, 4000, 600, 1000, &a), SIGNET_OK);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    char *buf = malloc((size_t)st.st_size);
    FILE *fp = fopen(f->log, "r");
    assert_int_equal(fread(buf, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
    fclose(fp);
    char *last = memrchr(buf, '\n', (size_t)st.st_size - 1);
    assert_non_null(last);
    assert_int_equal(truncate(f->log, last - buf + 1), 0);
    free(buf);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_ERR_AUDIT_BROKEN);
    assert_non_null(strstr(sg_tm_audit_why(a), "log lost records: 5 verified before, 4 now"));
    sg_tm_audit_free(&a);
}

static void test_index_cap(void **state)
{
    struct fx *f = *state;
    struct sg_tm_audit *a = NULL;
    assert_int_equal(sg_tm_audit_new(f->log, 100000, 600, 1000, &a), SIGNET_OK);
    char tok[32];
    for (int i = 0; i < 1500; i++) {
        snprintf(tok, sizeof tok, "t%d", i);
        char hex[65];
        uint8_t raw[32];
        token_hash(tok, hex, raw);
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "kid", "k", "iss", ISS,
                              "alg", "ES256", "jti", tok, "token_sha256", hex, "iat",
                              (json_int_t)NOW, "exp", (json_int_t)(NOW + 600));
        assert_int_equal(sg_audit_append(f->audit, NOW, "sign", j), SIGNET_OK);
        json_decref(j);
    }
    assert_int_equal(sg_audit_commit(f->audit), SIGNET_OK);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_indexed(a), 1000);
    assert_int_equal(sg_tm_audit_evicted_by_cap(a), 500);
    char hex[65];
    uint8_t raw[32];
    struct sg_tm_indexed rec;
    for (int i = 500; i < 1500; i++) {
        snprintf(tok, sizeof tok, "t%d", i);
        token_hash(tok, hex, raw);
        assert_int_equal(sg_tm_audit_lookup(a, raw, NOW, &rec), SG_TM_FOUND);
    }
    /* Pushed out by the cap while still valid: the index cannot tell. */
    token_hash("t3", hex, raw);
    assert_int_equal(sg_tm_audit_lookup(a, raw, NOW, &rec), SG_TM_UNCOVERED);
    token_hash("never", hex, raw);
    assert_int_equal(sg_tm_audit_lookup(a, raw, NOW, &rec), SG_TM_UNCOVERED);
    assert_int_equal(sg_tm_audit_lookup(a, raw, NOW + 1300, &rec), SG_TM_NOT_FOUND);
    sg_tm_audit_free(&a);
}

/* ---- the monitor with a fake signer ---------------------------------------------------- */

static void add_key(struct fx *f, const char *kid, const char *iss, int state, int64_t pub,
                    int64_t act, int64_t ret)
{
    struct sg_tm_key *k = &f->keys[f->n_keys++];
    memset(k, 0, sizeof *k);
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    snprintf(k->issuer, sizeof k->issuer, "%s", iss);
    snprintf(k->alg, sizeof k->alg, "ES256");
    snprintf(k->hsm_id, sizeof k->hsm_id, "%032x", (unsigned)f->n_keys);
    k->state = state;
    k->created_at = pub;
    k->published_at = pub;
    k->activated_at = act;
    k->retired_at = ret;
    k->rotate_at = act > 0 ? act + 3600 : 0;
}

static bool is_revoked(struct fx *f, const char *kid)
{
    for (size_t i = 0; i < f->n_revoked; i++)
        if (strcmp(f->revoked[i], kid) == 0)
            return true;
    return false;
}

static signet_err fake_status(void *user, unsigned i, char **json)
{
    struct fx *f = user;
    if (i > 0)
        return SIGNET_ERR_NOT_FOUND;
    json_t *keys = json_array();
    for (size_t k = 0; k < f->n_keys; k++) {
        const struct sg_tm_key *x = &f->keys[k];
        json_array_append_new(
            keys, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "kid",
                            x->kid, "issuer", x->issuer, "alg", x->alg, "state",
                            sg_key_state_name((enum sg_key_state)x->state), "hsm_id", x->hsm_id,
                            "created_at", (json_int_t)x->created_at, "published_at",
                            (json_int_t)x->published_at, "activated_at",
                            (json_int_t)x->activated_at, "retired_at", (json_int_t)x->retired_at,
                            "destroyed_at", (json_int_t)x->destroyed_at, "rotate_at",
                            (json_int_t)x->rotate_at, "revoked", is_revoked(f, x->kid)));
    }
    json_t *doc = json_pack(
        "{s:s, s:I, s:o, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:{s:b, s:b, s:b, s:b}, s:I,"
        " s:{s:I, s:I, s:I, s:I}}",
        "version", "test", "now", (json_int_t)NOW, "keys", keys, "signer", "signatures",
        (json_int_t)f->signatures, "refusals", (json_int_t)0, "batches", (json_int_t)1, "hsm",
        "signatures", (json_int_t)f->signatures, "errors", (json_int_t)2, "session_reopens",
        (json_int_t)1, "sandbox", "seccomp", f->seccomp, "dumpable", 0, "mlocked", 1,
        "no_new_privs", 1, "audit_seq", (json_int_t)1, "timing", "rotation_period",
        (json_int_t)3600, "prepublish", (json_int_t)360, "retire_window", (json_int_t)3660,
        "next_transition_in", (json_int_t)1800);
    *json = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return SIGNET_OK;
}

static signet_err fake_inventory(void *user, char **json)
{
    struct fx *f = user;
    json_t *arr = json_array();
    for (size_t k = 0; k < f->n_keys; k++)
        if (f->keys[k].state != SG_KS_DESTROYED && !is_revoked(f, f->keys[k].kid))
            json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:b, s:b, s:b, s:b}", "id",
                                                 f->keys[k].hsm_id, "label", "signet", "key_type",
                                                 3, "sensitive", 1, "extractable", 0,
                                                 "always_sensitive", 1, "never_extractable", 1));
    *json = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return SIGNET_OK;
}

static signet_err fake_jwks(void *user, const char *issuer, char **json)
{
    struct fx *f = user;
    json_t *arr = json_array();
    for (size_t k = 0; k < f->n_keys; k++) {
        const struct sg_tm_key *x = &f->keys[k];
        if (strcmp(x->issuer, issuer) != 0 || is_revoked(f, x->kid) ||
            !(x->state == SG_KS_PUBLISHED || x->state == SG_KS_ACTIVE || x->state == SG_KS_RETIRED))
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:s}", "kid", x->kid, "iss", issuer));
    }
    if (f->served_extra[0] != '\0' && strcmp(issuer, ISS) == 0)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "kid", f->served_extra, "iss", issuer));
    json_t *doc = json_pack("{s:o}", "keys", arr);
    *json = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return SIGNET_OK;
}

static int64_t fake_now_value = NOW;
static int64_t fake_now(void *user)
{
    (void)user;
    return fake_now_value;
}

/* ---- real ES256 tokens for the forged-token reports (issue 11) ---- */

/* "The signer's" key (its JWKS names it a-active and a-standby) and a key
 * an attacker made with the same kid. */
static EVP_PKEY *signer_key, *attacker_key;
static char signer_jwks_doc[1024];

static void b64(const uint8_t *in, size_t n, char *out, size_t cap)
{
    assert_int_equal(sg_b64url_encode(in, n, out, cap), SIGNET_OK);
}

static void make_keys(void)
{
    if (signer_key != NULL)
        return;
    signer_key = EVP_EC_gen("P-256");
    attacker_key = EVP_EC_gen("P-256");
    assert_non_null(signer_key);
    assert_non_null(attacker_key);
    uint8_t pub[65];
    size_t pl = 0;
    assert_int_equal(EVP_PKEY_get_octet_string_param(signer_key, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                                     sizeof pub, &pl),
                     1);
    assert_int_equal(pl, 65);
    char x[64], y[64];
    b64(pub + 1, 32, x, sizeof x);
    b64(pub + 33, 32, y, sizeof y);
    snprintf(signer_jwks_doc, sizeof signer_jwks_doc,
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\","
             "\"kid\":\"a-active\",\"use\":\"sig\",\"alg\":\"ES256\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\","
             "\"kid\":\"a-standby\",\"use\":\"sig\",\"alg\":\"ES256\"}]}",
             x, y, x, y);
}

/* A compact ES256 token signed by key (malloc'd). */
static char *es256_token(EVP_PKEY *key, const char *kid, const char *iss, const char *jti)
{
    char header[256], claims[512], h64[512], c64[1024];
    snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}",
             kid);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"sub\":\"mallory\",\"aud\":\"https://api.a\",\"iat\":%d,"
             "\"exp\":%d,\"jti\":\"%s\",\"client_id\":\"mallory\"}",
             iss, NOW, NOW + 300, jti);
    b64((const uint8_t *)header, strlen(header), h64, sizeof h64);
    b64((const uint8_t *)claims, strlen(claims), c64, sizeof c64);
    char input[2048];
    snprintf(input, sizeof input, "%s.%s", h64, c64);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[128];
    size_t dl = sizeof der;
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, der, &dl, (const uint8_t *)input, strlen(input)), 1);
    EVP_MD_CTX_free(md);
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    assert_non_null(sig);
    uint8_t rs[64];
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32), 32);
    ECDSA_SIG_free(sig);
    char s64[128];
    b64(rs, sizeof rs, s64, sizeof s64);
    char *tok = malloc(strlen(input) + 1 + strlen(s64) + 1);
    assert_non_null(tok);
    snprintf(tok, strlen(input) + 1 + strlen(s64) + 1, "%s.%s", input, s64);
    return tok;
}

static signet_err fake_signer_jwks(void *user, const char *issuer, char **json)
{
    (void)user;
    *json = strdup(strcmp(issuer, ISS) == 0 ? signer_jwks_doc : "{\"keys\":[]}");
    return *json != NULL ? SIGNET_OK : SIGNET_ERR_NOMEM;
}

static signet_err fake_revoke(void *user, const char *kid)
{
    struct fx *f = user;
    snprintf(f->revoked[f->n_revoked++], sizeof f->revoked[0], "%s", kid);
    return SIGNET_OK;
}

static int audit_notes;
static signet_err fake_note(void *user, const char *type, const json_t *fields)
{
    struct fx *f = user;
    audit_notes++;
    /* signetd appends through its own handle: the monitor reads these back. */
    return sg_audit_append(f->audit, NOW, type, fields) == SIGNET_OK ? sg_audit_commit(f->audit)
                                                                     : SIGNET_ERR_AUDIT;
}

static signet_err fake_frontend(void *user, struct sg_tm_frontend *out)
{
    struct fx *f = user;
    *out = f->fe;
    return SIGNET_OK;
}

static void monitor_for(struct fx *f, struct sg_metrics *reg, struct sg_monitor **m, bool rotate)
{
    char conf[1024], err[256];
    snprintf(conf, sizeof conf,
             "[hsm]\nmodule = /usr/lib/softhsm/libsofthsm2.so\n[audit]\nlog = %s\n"
             "[keys]\nrotation_period = 1h\njwks_max_age = 5m\nclock_skew = 60s\n"
             "max_token_lifetime = 1h\n[tenant:a]\nissuer = " ISS "\n[tenant:b]\nissuer = " ISS_B
             "\n",
             f->log);
    struct sg_config cfg;
    assert_int_equal(sg_config_parse_string(conf, f->dir, &cfg, err, sizeof err), SIGNET_OK);
    struct sg_telemetry_cfg t;
    sg_telemetry_cfg_defaults(&t);
    t.coalesce_window = 0;
    if (rotate)
        t.on_critical = SG_ON_CRITICAL_ROTATE;
    struct sg_monitor_source src = {.user = f,
                                    .status = fake_status,
                                    .inventory = fake_inventory,
                                    .served_jwks = fake_jwks,
                                    .signer_jwks = fake_signer_jwks,
                                    .revoke = fake_revoke,
                                    .audit_note = fake_note,
                                    .now = fake_now,
                                    .frontend = f->with_frontend ? fake_frontend : NULL};
    assert_int_equal(sg_monitor_new(&cfg, &t, &src, reg, m), SIGNET_OK);
}

static void healthy_keys(struct fx *f)
{
    add_key(f, "a-retired", ISS, SG_KS_RETIRED, NOW - 9000, NOW - 9000, NOW - 1800);
    add_key(f, "a-active", ISS, SG_KS_ACTIVE, NOW - 2400, NOW - 1800, 0);
    add_key(f, "a-standby", ISS, SG_KS_PUBLISHED, NOW - 1700, 0, 0);
    add_key(f, "b-active", ISS_B, SG_KS_ACTIVE, NOW - 3000, NOW - 3000, 0);
    add_key(f, "b-standby", ISS_B, SG_KS_PUBLISHED, NOW - 2900, 0, 0);
}

static void expect_states(struct sg_monitor *m, const char *want)
{
    struct sg_inv_status s[SG_INV_COUNT];
    sg_monitor_get(m, s);
    for (int i = 0; i < SG_INV_COUNT; i++) {
        char c = s[i].state == SG_INV_OK ? 'o' : s[i].state == SG_INV_VIOLATED ? 'V' : '?';
        if (c != want[i])
            fail_msg("I%d is %s (%s), wanted '%c' in %s", i + 1, sg_inv_state_name(s[i].state),
                     s[i].message, want[i], want);
    }
}

static char *report_body(const char *iss, const char *kid, const char *jti, const char *token)
{
    char hex[65];
    uint8_t raw[32];
    token_hash(token, hex, raw);
    char *b = malloc(1024);
    snprintf(b, 1024,
             "{\"reports\":[{\"iss\":\"%s\",\"kid\":\"%s\",\"jti\":\"%s\",\"token_sha256\":\"%s\"}]}",
             iss, kid, jti, hex);
    return b;
}

static char *report_jti(struct sg_monitor *m, const char *tenant_iss, const char *iss,
                        const char *kid, const char *jti, const char *token)
{
    char *body = report_body(iss, kid, jti, token);
    char *resp = NULL;
    assert_int_equal(sg_reports_handle(m, tenant_iss, "rp", (const uint8_t *)body, strlen(body),
                                       &resp),
                     SIGNET_OK);
    free(body);
    return resp;
}

static char *report(struct sg_monitor *m, const char *tenant_iss, const char *iss, const char *kid,
                    const char *token)
{
    return report_jti(m, tenant_iss, iss, kid, token, token);
}

/* A report carrying the compact token itself. */
static char *report_token(struct sg_monitor *m, const char *kid, const char *jti,
                          const char *token)
{
    char hex[65];
    uint8_t raw[32];
    token_hash(token, hex, raw);
    size_t cap = strlen(token) + 1024;
    char *body = malloc(cap);
    assert_non_null(body);
    snprintf(body, cap,
             "{\"reports\":[{\"iss\":\"" ISS "\",\"kid\":\"%s\",\"jti\":\"%s\","
             "\"token_sha256\":\"%s\",\"token\":\"%s\"}]}",
             kid, jti, hex, token);
    char *resp = NULL;
    assert_int_equal(sg_reports_handle(m, ISS, "rp", (const uint8_t *)body, strlen(body), &resp),
                     SIGNET_OK);
    free(body);
    return resp;
}

static void test_monitor_end_to_end(void **state)
{
    struct fx *f = *state;
    healthy_keys(f);
    sign_rec(f, NOW - 100, "a-active", ISS, "tok-a1", NOW + 500);
    sign_rec(f, NOW - 50, "b-active", ISS_B, "tok-b1", NOW + 500);
    f->signatures = 2;
    struct sg_metrics *reg = NULL;
    assert_int_equal(sg_metrics_new(&reg), SIGNET_OK);
    struct sg_monitor *m = NULL;
    monitor_for(f, reg, &m, true);
    sg_monitor_run(m, SG_INV_ALL, NOW);
    expect_states(m, "oooooooo??");

    /* Reports: our own token, a cross-tenant one, a stranger's kid. */
    char *r = report(m, ISS, ISS, "a-active", "tok-a1");
    assert_string_equal(r, "{\"results\":[\"issued\"],\"counts\":{\"issued\":1}}");
    free(r);
    r = report(m, ISS, ISS_B, "b-active", "tok-b1");
    assert_non_null(strstr(r, "\"wrong_tenant\""));
    free(r);
    expect_states(m, "ooooooVo??");
    assert_int_equal(f->n_revoked, 0); /* not a key compromise: no rotation */
    sg_monitor_run(m, SG_INV_NO_FORGERY, NOW);
    expect_states(m, "oooooooo??");
    r = report(m, ISS, ISS, "stranger", "tok-x");
    assert_non_null(strstr(r, "\"unknown_kid\""));
    free(r);
    sg_monitor_run(m, SG_INV_NO_FORGERY, NOW);

    /* A token signed a moment ago is found (the index catches up first). */
    sign_rec(f, NOW, "a-active", ISS, "tok-a2", NOW + 500);
    f->signatures++;
    r = report(m, ISS, ISS, "a-active", "tok-a2");
    assert_non_null(strstr(r, "\"issued\""));
    free(r);

    /* Issue 11: a report of a hash signet never issued proves nothing:
     * "unverified", no I7, no rotation, however often it comes. */
    make_keys();
    sg_monitor_run(m, SG_INV_NO_FORGERY, NOW);
    for (int i = 0; i < 3; i++) {
        r = report(m, ISS, ISS, "a-active", "forged-token");
        assert_string_equal(r, "{\"results\":[\"unverified\"],\"counts\":{\"unverified\":1}}");
        free(r);
    }
    expect_states(m, "oooooooo??");
    assert_int_equal(f->n_revoked, 0);
    /* The token itself, signed by a key an attacker made with the same
     * kid: it does not verify with the signer's key. */
    char *fake = es256_token(attacker_key, "a-active", ISS, "j-fake");
    r = report_token(m, "a-active", "j-fake", fake);
    assert_string_equal(r, "{\"results\":[\"bad_signature\"],\"counts\":{\"bad_signature\":1}}");
    free(r);
    free(fake);
    expect_states(m, "oooooooo??");
    assert_int_equal(f->n_revoked, 0);
    /* A token whose kid, iss or jti are not the report's. */
    char *leak = es256_token(signer_key, "a-active", ISS, "j-leak");
    r = report_token(m, "a-active", "j-other", leak);
    assert_non_null(strstr(r, "\"mismatch\""));
    free(r);
    assert_int_equal(f->n_revoked, 0);
    /* A forged token: validly signed by a-active, never issued. I7 fires,
     * names the kid, and on_critical = rotate revokes it. */
    audit_notes = 0;
    r = report_token(m, "a-active", "j-leak", leak);
    assert_string_equal(r, "{\"results\":[\"forged\"],\"counts\":{\"forged\":1}}");
    free(r);
    free(leak);
    expect_states(m, "ooooooVo??");
    assert_int_equal(f->n_revoked, 1);
    assert_string_equal(f->revoked[0], "a-active");
    assert_true(audit_notes >= 1);
    struct sg_inv_status s[SG_INV_COUNT];
    sg_monitor_get(m, s);
    assert_non_null(strstr(s[SG_INV_NO_FORGERY].message, "client rp of a reported a token signed "
                                                         "by key a-active"));
    /* The signer's revoke made the standby ACTIVE. */
    f->keys[1].state = SG_KS_RETIRED;
    f->keys[1].retired_at = NOW;
    f->keys[2].state = SG_KS_ACTIVE;
    f->keys[2].activated_at = NOW;
    f->keys[2].rotate_at = NOW + 3600;
    add_key(f, "a-standby2", ISS, SG_KS_PUBLISHED, NOW, 0, 0);
    sg_monitor_run(m, SG_INV_ALL, NOW + 1);
    expect_states(m, "oooooooo??"); /* the leaked key is no longer trusted */
    r = report(m, ISS, ISS, "a-active", "tok-a1");
    assert_non_null(strstr(r, "\"stale_key\""));
    free(r);

    /* I5: a signature the log does not hold. */
    f->signatures += 2;
    sign_rec(f, NOW + 2, "a-standby", ISS, "tok-a3", NOW + 500);
    sg_monitor_run(m, SG_INV_AUDIT, NOW + 2);
    expect_states(m, "ooooVooo??");
    sg_monitor_get(m, s);
    assert_non_null(strstr(s[SG_INV_AUDIT].message, "signers made"));
    /* I6: a token outliving its key's window. */
    sign_rec(f, NOW + 3, "a-standby", ISS, "tok-long", NOW + 3 + 3661 + 1);
    sg_monitor_run(m, SG_INV_TOKEN_WINDOW, NOW + 3);
    expect_states(m, "ooooVVoo??");
    /* I8 and I4 through the callbacks. */
    f->seccomp = false;
    snprintf(f->served_extra, sizeof f->served_extra, "a-active");
    fake_now_value = NOW + 100; /* past the settling time of the revocation */
    sg_monitor_run(m, SG_INV_ALL, NOW + 100);
    sg_monitor_get(m, s);
    /* Without the sandbox in the build, a signer without seccomp is no
     * finding (unknown). */
    assert_int_equal(s[SG_INV_SANDBOX].state, SIGNET_SANDBOX ? SG_INV_VIOLATED : SG_INV_UNKNOWN);
    assert_int_equal(s[SG_INV_JWKS].state, SG_INV_VIOLATED);
    assert_non_null(strstr(s[SG_INV_JWKS].message, "has revoked RETIRED key a-active"));

    /* Metrics: every family the monitor registers passes promtool's lint. */
    sg_metric_add(NULL, SG_NO_LABELS, 1);
    struct sg_wbuf w;
    sg_wbuf_init(&w, 1 << 22);
    assert_int_equal(sg_metrics_render(reg, &w), SIGNET_OK);
    sg_wbuf_put_u8(&w, 0);
    const char *text = (const char *)w.data;
    assert_non_null(strstr(text, "signet_invariant_ok{invariant=\"I7\",name=\"no_forged_tokens\","
                                 "severity=\"critical\"} 1\n"));
    assert_non_null(strstr(text, "signet_forged_tokens_total{tenant=\"a\"} 1\n"));
    assert_non_null(strstr(text, "signet_keys{issuer=\"" ISS "\",state=\"ACTIVE\"} 1\n"));
    assert_non_null(strstr(text, "signet_hsm_errors_total 2\n"));
    if (access("/usr/bin/promtool", X_OK) == 0) {
        char path[400];
        snprintf(path, sizeof path, "%s/metrics.txt", f->dir);
        FILE *fp = fopen(path, "w");
        fputs(text, fp);
        fclose(fp);
        char cmd[512];
        snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s 2>&1", path);
        FILE *pp = popen(cmd, "r");
        char out[2048];
        size_t n = fread(out, 1, sizeof out - 1, pp);
        out[n] = '\0';
        int rc = pclose(pp);
        if (rc != 0 || n > 0)
            fail_msg("promtool: %s", out);
    } else {
        fprintf(stderr, "promtool not installed: SKIPPED promtool lint\n");
    }
    sg_wbuf_free(&w);
    /* The status page and the JSON status. */
    sg_wbuf_init(&w, 1 << 22);
    assert_int_equal(sg_monitor_statuspage(m, &w), SIGNET_OK);
    sg_wbuf_put_u8(&w, 0);
    assert_non_null(strstr((const char *)w.data, "a-standby2"));
    assert_non_null(strstr((const char *)w.data, "id=\"inv-I8\""));
    sg_wbuf_free(&w);
    json_t *js = sg_monitor_status_json(m);
    assert_non_null(js);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(js, "invariants"), 7),
                                          "state")),
        SIGNET_SANDBOX ? "violated" : "unknown");
    json_decref(js);
    /* A second forgery of the issuer within the hour: no automatic revoke,
     * an alert asking the operator to confirm. */
    char *leak2 = es256_token(signer_key, "a-standby", ISS, "j-leak2");
    r = report_token(m, "a-standby", "j-leak2", leak2);
    assert_string_equal(r, "{\"results\":[\"forged\"],\"counts\":{\"forged\":1}}");
    free(r);
    free(leak2);
    assert_int_equal(f->n_revoked, 1);
    sg_monitor_run(m, SG_INV_NO_FORGERY, NOW + 101);
    FILE *lf = fopen(f->log, "r");
    assert_non_null(lf);
    static char logtext[1 << 20];
    size_t ln = fread(logtext, 1, sizeof logtext - 1, lf);
    logtext[ln] = '\0';
    fclose(lf);
    assert_non_null(strstr(logtext, "signet revoke --force a-standby"));
    /* Malformed report bodies are refused with the parser's verdict. */
    char *resp = NULL;
    assert_int_equal(sg_reports_handle(m, ISS, "rp", (const uint8_t *)"{", 1, &resp),
                     SIGNET_ERR_BAD_JSON);
    assert_null(resp);
    sg_monitor_free(&m);
    sg_metrics_free(&reg);
    /* The alerts signetd appended are chained into the log like any record. */
    uint64_t records = 0, first_bad = 0;
    char why[128];
    assert_int_equal(sg_audit_verify_file(f->log, &records, &first_bad, why, sizeof why), SIGNET_OK);
    uint64_t notes = 0;
    assert_int_equal(sg_audit_count_type(f->log, "invariant_violation", &notes), SIGNET_OK);
    assert_true(notes >= 4);
}

static void test_monitor_thread_and_poke(void **state)
{
    struct fx *f = *state;
    healthy_keys(f);
    struct sg_monitor *m = NULL;
    monitor_for(f, NULL, &m, false);
    assert_int_equal(sg_monitor_start(m), SIGNET_OK);
    struct sg_inv_status s[SG_INV_COUNT];
    for (int i = 0; i < 100; i++) {
        sg_monitor_get(m, s);
        if (s[SG_INV_SANDBOX].last_check != 0)
            break;
        usleep(50000);
    }
    assert_int_not_equal(s[SG_INV_SANDBOX].last_check, 0);
    f->seccomp = false; /* the monitor thread reads it through the callback */
    sg_monitor_poke(m, SG_INV_SANDBOX);
    const enum sg_inv_state i8 = SIGNET_SANDBOX ? SG_INV_VIOLATED : SG_INV_UNKNOWN;
    for (int i = 0; i < 100; i++) {
        sg_monitor_get(m, s);
        if (s[SG_INV_SANDBOX].state == i8)
            break;
        usleep(50000);
    }
    assert_int_equal(s[SG_INV_SANDBOX].state, i8);
    sg_monitor_free(&m);
}

/* The text of /status, /status.json (compact) and /metrics now. */
static void views(struct sg_monitor *m, struct sg_metrics *reg, char **page, char **js,
                  char **metrics)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, 1 << 22);
    assert_int_equal(sg_monitor_statuspage(m, &w), SIGNET_OK);
    sg_wbuf_put_u8(&w, 0);
    *page = strdup((const char *)w.data);
    sg_wbuf_free(&w);
    json_t *doc = sg_monitor_status_json(m);
    assert_non_null(doc);
    *js = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    sg_wbuf_init(&w, 1 << 22);
    assert_int_equal(sg_metrics_render(reg, &w), SIGNET_OK);
    sg_wbuf_put_u8(&w, 0);
    *metrics = strdup((const char *)w.data);
    sg_wbuf_free(&w);
}

static void read_log(const char *path, char *out, size_t cap)
{
    FILE *lf = fopen(path, "r");
    assert_non_null(lf);
    size_t ln = fread(out, 1, cap - 1, lf);
    out[ln] = '\0';
    fclose(lf);
}

/* I9: the front end's MON_PASSKEY reports (issue 13). Like I7's reports,
 * they can only raise the invariant: an issuer that is no tenant's or
 * counters that show no regression are refused and change nothing; a
 * report makes I9 violated at once, with an alert through every sink (the
 * audit record included) naming the issuer and the user id; the monitor's
 * own cycles keep it violated without alerting again, until the window
 * has passed. */
static void test_monitor_passkey(void **state)
{
    struct fx *f = *state;
    healthy_keys(f);
    struct sg_metrics *reg = NULL;
    assert_int_equal(sg_metrics_new(&reg), SIGNET_OK);
    struct sg_monitor *m = NULL;
    fake_now_value = NOW;
    /* signetd's monitor: a front end beside it, sandboxed. */
    f->with_frontend = true;
    f->fe = (struct sg_tm_frontend){.boundary_enforced = true, .uid = 4242, .entered = true,
                                    .seccomp = true, .no_new_privs = true, .caps_dropped = true};
    monitor_for(f, reg, &m, true);
    sg_monitor_run(m, SG_INV_ALL, NOW);
    expect_states(m, "oooooooooo"); /* no report: ok */
    struct sg_inv_status s[SG_INV_COUNT];
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_PASSKEY_COUNTER].violations, 0);

    /* Refused: nothing recorded, nothing alerted. */
    audit_notes = 0;
    assert_int_equal(sg_monitor_passkey_report(m, "https://evil.example/t/a", "uAAAA", 7, 3),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_monitor_passkey_report(m, ISS, "uAAAA", 0, 0), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_monitor_passkey_report(m, ISS, "uAAAA", 3, 7), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_monitor_passkey_report(m, ISS, "u\"<x>", 7, 3), SIGNET_ERR_MALFORMED);
    expect_states(m, "oooooooooo");
    assert_int_equal(audit_notes, 0);

    /* A report: violated at once, alerted, audited. */
    assert_int_equal(sg_monitor_passkey_report(m, ISS, "uAAAAAAAAAAAAAAAAAAAAAA", 7, 3),
                     SIGNET_OK);
    expect_states(m, "ooooooooVo");
    assert_int_equal(audit_notes, 1);
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_PASSKEY_COUNTER].violations, 1);
    assert_int_equal(s[SG_INV_PASSKEY_COUNTER].last_violation, NOW);
    assert_non_null(strstr(s[SG_INV_PASSKEY_COUNTER].message,
                           "passkey of user uAAAAAAAAAAAAAAAAAAAAAA of a (" ISS ")"));
    assert_int_equal(f->n_revoked, 0); /* no key is involved, even with rotate */
    static char logtext[1 << 20];
    read_log(f->log, logtext, sizeof logtext);
    const char *rec = strstr(logtext, "\"I9\"");
    assert_non_null(rec);
    assert_non_null(strstr(logtext, "\"passkey_counter\""));
    assert_non_null(strstr(logtext, "uAAAAAAAAAAAAAAAAAAAAAA"));
    assert_non_null(strstr(logtext, "signature counter 3 after 7"));

    /* The monitor's own cycles keep it violated, without a new alert. */
    sg_monitor_run(m, SG_INV_ALL, NOW + 60);
    expect_states(m, "ooooooooVo");
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_PASSKEY_COUNTER].violations, 1);
    assert_int_equal(s[SG_INV_PASSKEY_COUNTER].last_check, NOW + 60);
    assert_int_equal(audit_notes, 1);
    /* A second report (another tenant): counted and alerted again. */
    fake_now_value = NOW + 120;
    assert_int_equal(sg_monitor_passkey_report(m, ISS_B, "uBBBB", 9, 9), SIGNET_OK);
    assert_int_equal(audit_notes, 2);
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_PASSKEY_COUNTER].violations, 2);
    assert_non_null(strstr(s[SG_INV_PASSKEY_COUNTER].message, "user uBBBB of b (" ISS_B ")"));
    assert_non_null(strstr(s[SG_INV_PASSKEY_COUNTER].message, "(2 reports in 86400s)"));

    /* /status, /status.json and /metrics list it. */
    char *page, *js, *metrics;
    views(m, reg, &page, &js, &metrics);
    assert_non_null(strstr(page, "id=\"inv-I9\""));
    assert_non_null(strstr(js, "\"id\":\"I9\""));
    assert_non_null(strstr(metrics, "signet_invariant_ok{invariant=\"I9\",name=\"passkey_counter\","
                                    "severity=\"critical\"} 0\n"));
    assert_non_null(strstr(metrics, "signet_invariant_violations_total{invariant=\"I9\"} 2\n"));
    free(page);
    free(js);
    free(metrics);

    /* Still violated just before the last report's window ends; ok (and a
     * recovery alert) after it. */
    sg_monitor_run(m, SG_INV_PASSKEY_COUNTER, NOW + 120 + SG_INV_PASSKEY_WINDOW - 1);
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_PASSKEY_COUNTER].state, SG_INV_VIOLATED);
    assert_int_equal(audit_notes, 2);
    sg_monitor_run(m, SG_INV_PASSKEY_COUNTER, NOW + 120 + SG_INV_PASSKEY_WINDOW);
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_PASSKEY_COUNTER].state, SG_INV_OK);
    assert_int_equal(audit_notes, 3);
    read_log(f->log, logtext, sizeof logtext);
    assert_non_null(strstr(logtext, "invariant_recovered"));
    sg_monitor_free(&m);
    /* Without a front end (signet invariants --check) no report can come:
     * I9 cannot vouch for anything there. */
    f->with_frontend = false;
    monitor_for(f, NULL, &m, false);
    sg_monitor_run(m, SG_INV_PASSKEY_COUNTER, NOW);
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_PASSKEY_COUNTER].state, SG_INV_UNKNOWN);
    assert_non_null(strstr(s[SG_INV_PASSKEY_COUNTER].message, "no front end"));
    fake_now_value = NOW;
    sg_monitor_free(&m);
    sg_metrics_free(&reg);
}

/* I10: the front end's approval alerts (issue 14): a wrong-number lock or
 * a "this wasn't me" raises I10 at once, alerts through every sink with
 * the issuer and the user, stays violated through the monitor's cycles
 * and recovers after the window. An unknown issuer or a bad user id
 * changes nothing. */
static void test_monitor_approvals(void **state)
{
    struct fx *f = *state;
    healthy_keys(f);
    struct sg_metrics *reg = NULL;
    assert_int_equal(sg_metrics_new(&reg), SIGNET_OK);
    struct sg_monitor *m = NULL;
    fake_now_value = NOW;
    f->with_frontend = true;
    f->fe = (struct sg_tm_frontend){.boundary_enforced = true, .uid = 4242, .entered = true,
                                    .seccomp = true, .no_new_privs = true, .caps_dropped = true};
    monitor_for(f, reg, &m, true);
    sg_monitor_run(m, SG_INV_ALL, NOW);
    expect_states(m, "oooooooooo");
    audit_notes = 0;
    assert_int_equal(sg_monitor_approval_report(m, "https://evil.example/t/a", "uAAAA", true),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_monitor_approval_report(m, ISS, "", true), SIGNET_ERR_MALFORMED);
    expect_states(m, "oooooooooo");
    assert_int_equal(audit_notes, 0);

    assert_int_equal(sg_monitor_approval_report(m, ISS, "uLOCKED", false), SIGNET_OK);
    expect_states(m, "oooooooooV");
    assert_int_equal(audit_notes, 1);
    struct sg_inv_status s[SG_INV_COUNT];
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_APPROVALS].violations, 1);
    assert_non_null(strstr(s[SG_INV_APPROVALS].message, "user uLOCKED of a (" ISS ")"));
    assert_non_null(strstr(s[SG_INV_APPROVALS].message, "three wrong numbers"));
    assert_int_equal(f->n_revoked, 0); /* no key is involved, even with rotate */
    sg_monitor_run(m, SG_INV_ALL, NOW + 60);
    expect_states(m, "oooooooooV");
    assert_int_equal(audit_notes, 1);
    fake_now_value = NOW + 120;
    assert_int_equal(sg_monitor_approval_report(m, ISS_B, "uNOTME", true), SIGNET_OK);
    assert_int_equal(audit_notes, 2);
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_APPROVALS].violations, 2);
    assert_non_null(strstr(s[SG_INV_APPROVALS].message, "this wasn't me"));
    assert_non_null(strstr(s[SG_INV_APPROVALS].message, "(2 reports in 86400s)"));
    static char logtext[1 << 20];
    read_log(f->log, logtext, sizeof logtext);
    assert_non_null(strstr(logtext, "\"I10\""));
    assert_non_null(strstr(logtext, "\"approvals_unabused\""));
    assert_non_null(strstr(logtext, "uNOTME"));
    char *page, *js, *metrics;
    views(m, reg, &page, &js, &metrics);
    assert_non_null(strstr(page, "id=\"inv-I10\""));
    assert_non_null(strstr(js, "\"id\":\"I10\""));
    assert_non_null(strstr(metrics, "signet_invariant_violations_total{invariant=\"I10\"} 2\n"));
    free(page);
    free(js);
    free(metrics);
    sg_monitor_run(m, SG_INV_APPROVALS, NOW + 120 + SG_INV_APPROVALS_WINDOW - 1);
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_APPROVALS].state, SG_INV_VIOLATED);
    sg_monitor_run(m, SG_INV_APPROVALS, NOW + 120 + SG_INV_APPROVALS_WINDOW);
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_APPROVALS].state, SG_INV_OK);
    assert_int_equal(audit_notes, 3);
    fake_now_value = NOW;
    sg_monitor_free(&m);
    sg_metrics_free(&reg);
}

static void test_monitor_frontend(void **state)
{
    struct fx *f = *state;
    healthy_keys(f);
    struct sg_metrics *reg = NULL;
    assert_int_equal(sg_metrics_new(&reg), SIGNET_OK);
    /* Without a front end (the CLI): I8 judges the signer alone, and no
     * trust boundary is shown. */
    struct sg_monitor *m = NULL;
    monitor_for(f, reg, &m, false);
    sg_monitor_run(m, SG_INV_SANDBOX, NOW);
    struct sg_inv_status s[SG_INV_COUNT];
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_SANDBOX].state, SG_INV_OK);
    char *page, *js, *metrics;
    views(m, reg, &page, &js, &metrics);
    assert_null(strstr(page, "Trust boundary"));
    assert_null(strstr(js, "trust_boundary"));
    assert_null(strstr(metrics, "signet_trust_boundary_enforced"));
    free(page);
    free(js);
    free(metrics);
    sg_monitor_free(&m);
    sg_metrics_free(&reg);

    /* signetd before its sandbox: I8 cannot vouch for the front end yet. */
    assert_int_equal(sg_metrics_new(&reg), SIGNET_OK);
    f->with_frontend = true;
    f->fe = (struct sg_tm_frontend){.boundary_enforced = true, .uid = 4242};
    monitor_for(f, reg, &m, false);
    sg_monitor_run(m, SG_INV_SANDBOX, NOW);
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_SANDBOX].state, SG_INV_UNKNOWN);
    assert_non_null(strstr(s[SG_INV_SANDBOX].message, "front end has not entered its sandbox"));
    views(m, reg, &page, &js, &metrics);
    assert_non_null(strstr(page, "Trust boundary: enforced</h2>"));
    assert_non_null(strstr(page, "sandbox not entered yet"));
    assert_non_null(strstr(js, "\"sandboxed\":false"));
    assert_non_null(strstr(metrics, "signet_trust_boundary_enforced 1\n"));
    assert_null(strstr(metrics, "signet_frontend_sandbox{"));
    free(page);
    free(js);
    free(metrics);

    /* Entered, everything on. */
    f->fe.entered = f->fe.seccomp = f->fe.no_new_privs = f->fe.caps_dropped = true;
    sg_monitor_run(m, SG_INV_SANDBOX, NOW);
    sg_monitor_get(m, s);
    assert_int_equal(s[SG_INV_SANDBOX].state, SG_INV_OK);
    /* Why it was unknown is no finding once it holds. */
    assert_string_equal(s[SG_INV_SANDBOX].message, "");
    views(m, reg, &page, &js, &metrics);
    assert_non_null(strstr(js, "\"trust_boundary\":{\"enforced\":true,\"front_end\":{"
                               "\"caps_dropped\":true,\"dumpable\":false,\"no_new_privs\":true,"
                               "\"sandboxed\":true,\"seccomp\":true,\"uid\":4242},\"signers\":"
                               "[{\"dumpable\":false,\"mlocked\":true,\"no_new_privs\":true,"
                               "\"seccomp\":true}],\"text\":\"enforced\"}"));
    assert_non_null(strstr(page, "<tr id=\"sandbox-front\"><td class=\"nw\">front end (uid "
                                 "4242)</td><td class=\"on\">on</td><td class=\"on\">on</td>"
                                 "<td class=\"on\">dropped</td><td class=\"on\">no</td></tr>"));
    assert_non_null(strstr(page, "<tr id=\"sandbox-signer-0\">"));
    assert_non_null(strstr(metrics, "signet_frontend_sandbox{feature=\"seccomp\"} 1\n"));
    assert_non_null(strstr(metrics, "signet_frontend_sandbox{feature=\"no_new_privs\"} 1\n"));
    assert_non_null(strstr(metrics, "signet_frontend_sandbox{feature=\"caps_dropped\"} 1\n"));
    free(page);
    free(js);
    free(metrics);

    /* A front end that kept its capabilities and lost its filter, under
     * one account. */
    f->fe.boundary_enforced = false;
    f->fe.seccomp = f->fe.caps_dropped = false;
    sg_monitor_run(m, SG_INV_SANDBOX, NOW);
    sg_monitor_get(m, s);
    if (SIGNET_SANDBOX) {
        assert_int_equal(s[SG_INV_SANDBOX].state, SG_INV_VIOLATED);
        assert_string_equal(s[SG_INV_SANDBOX].message, "the front end runs without seccomp; the "
                                                        "front end still holds capabilities");
    } else {
        assert_int_equal(s[SG_INV_SANDBOX].state, SG_INV_UNKNOWN);
        assert_non_null(strstr(s[SG_INV_SANDBOX].message, "SIGNET_SANDBOX=OFF"));
    }
    views(m, reg, &page, &js, &metrics);
    assert_non_null(strstr(page, "Trust boundary: not enforced (single account)</h2>"));
    assert_non_null(strstr(page, "<td class=\"off\">held</td>"));
    assert_non_null(strstr(js, "\"enforced\":false"));
    assert_non_null(strstr(js, "\"text\":\"not enforced (single account)\""));
    assert_non_null(strstr(metrics, "signet_trust_boundary_enforced 0\n"));
    assert_non_null(strstr(metrics, "signet_frontend_sandbox{feature=\"seccomp\"} 0\n"));
    assert_non_null(strstr(metrics, "signet_frontend_sandbox{feature=\"caps_dropped\"} 0\n"));
    free(page);
    free(js);
    free(metrics);
    sg_monitor_free(&m);
    sg_metrics_free(&reg);
}

/* ---- against the real signer and SoftHSM2 ------------------------------------------------ */

/* A token for client-1 (bound below); the signer mints its jti. */
static char *sign_one(struct sg_signer_client *c, const char *iss)
{
    int64_t now = sg_clock_now();
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", iss, "sub", "client-1",
                          "aud", "https://api.example", "iat", (json_int_t)now, "nbf",
                          (json_int_t)now, "exp", (json_int_t)(now + 300), "client_id",
                          "client-1");
    char *claims = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    signet_err status = SIGNET_OK;
    char *token = NULL;
    assert_int_equal(sg_signer_sign(c, iss, "ES256", claims, strlen(claims), &status, &token),
                     SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    free(claims);
    return token;
}

/* The jti of a token (its payload, base64url-decoded). */
static void jti_of_token(const char *token, char *jti, size_t cap)
{
    size_t a = strcspn(token, ".") + 1;
    size_t b = a + strcspn(token + a, ".");
    uint8_t raw[2048];
    size_t n = 0;
    assert_int_equal(sg_b64url_decode(token + a, b - a, raw, sizeof raw, &n), SIGNET_OK);
    json_t *o = json_loadb((const char *)raw, n, 0, NULL);
    assert_non_null(o);
    snprintf(jti, cap, "%s", json_string_value(json_object_get(o, "jti")));
    json_decref(o);
}

static void kid_of(const char *token, char *kid, size_t cap)
{
    /* The header is {"alg":..,"kid":"..","typ":..} base64url: decode it. */
    const char *dot = strchr(token, '.');
    char hdr[512];
    size_t n = (size_t)(dot - token);
    assert_true(n < sizeof hdr);
    char b64[512];
    memcpy(b64, token, n);
    b64[n] = '\0';
    for (size_t i = 0; i < n; i++)
        b64[i] = b64[i] == '-' ? '+' : b64[i] == '_' ? '/' : b64[i];
    while (n % 4 != 0)
        b64[n++] = '=';
    b64[n] = '\0';
    int len = EVP_DecodeBlock((unsigned char *)hdr, (const unsigned char *)b64, (int)n);
    assert_true(len > 0);
    hdr[len] = '\0';
    json_t *h = json_loads(hdr, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(h);
    snprintf(kid, cap, "%s", json_string_value(json_object_get(h, "kid")));
    json_decref(h);
}

static void test_live_signer(void **state)
{
    (void)state;
    struct sg_test_state st;
    if (sg_test_state_setup(&st, NULL) != 0) {
        fprintf(stderr, "SoftHSM2 not available: SKIPPED\n");
        skip();
    }
    struct sg_signer_client *c = NULL;
    assert_int_equal(sg_signer_spawn(st.dir, &c), SIGNET_OK);
    struct sg_config cfg;
    char msg[512];
    assert_int_equal(sg_config_load(st.dir, &cfg, msg, sizeof msg), SIGNET_OK);
    struct sg_telemetry_cfg t;
    sg_telemetry_cfg_defaults(&t);
    t.on_critical = SG_ON_CRITICAL_ROTATE;
    t.coalesce_window = 0;
    struct sg_signer_client *clients[1] = {c};
    struct sg_signer_source ss = {clients, 1};
    struct sg_monitor_source src;
    sg_signer_source_init(&src, &ss);
    struct sg_metrics *reg = NULL;
    assert_int_equal(sg_metrics_new(&reg), SIGNET_OK);
    struct sg_monitor *m = NULL;
    assert_int_equal(sg_monitor_new(&cfg, &t, &src, reg, &m), SIGNET_OK);
    static const char bind[] = "{\"op\":\"bind\",\"tenant\":\"a\",\"client_id\":\"client-1\","
                               "\"scopes\":\"\",\"audiences\":\"https://api.example\"}";
    signet_err status = SIGNET_OK;
    char *bound = NULL;
    assert_int_equal(sg_signer_call(c, SG_IPC_CLIENT_BIND, (const uint8_t *)bind, sizeof bind - 1,
                                    &status, &bound, NULL),
                     SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    free(bound);
    char *tok[3];
    char jti[3][64];
    for (int i = 0; i < 3; i++) {
        tok[i] = sign_one(c, "https://a.example/t/a");
        jti_of_token(tok[i], jti[i], sizeof jti[i]);
    }
    sg_monitor_run(m, SG_INV_ALL, sg_clock_now());
    /* A sanitizer build runs the signer without seccomp: I8 is unknown. */
    expect_states(m, SIGNET_SANDBOX ? "oooooooo??" : "ooooooo???");
    /* Not what signet issued: one signature character changed (within the
     * base64url alphabet, away from the last one's padding bits). */
    char *flip = &tok[2][strlen(tok[2]) - 10];
    *flip = *flip == 'A' ? 'B' : 'A';
    char kid[64];
    kid_of(tok[0], kid, sizeof kid);
    char *r = report_jti(m, "https://a.example/t/a", "https://a.example/t/a", kid, jti[0], tok[0]);
    assert_non_null(strstr(r, "\"issued\""));
    free(r);
    /* Issue 11: the hash of a token signet never issued proves nothing. */
    r = report_jti(m, "https://a.example/t/a", "https://a.example/t/a", kid, jti[2], tok[2]);
    assert_non_null(strstr(r, "\"unverified\""));
    free(r);
    /* The token itself: its signature fails with the signer's key. */
    char hex[65];
    uint8_t raw[32];
    token_hash(tok[2], hex, raw);
    char body[4096];
    snprintf(body, sizeof body,
             "{\"reports\":[{\"iss\":\"https://a.example/t/a\",\"kid\":\"%s\",\"jti\":\"%s\","
             "\"token_sha256\":\"%s\",\"token\":\"%s\"}]}",
             kid, jti[2], hex, tok[2]);
    assert_int_equal(sg_reports_handle(m, "https://a.example/t/a", "rp", (const uint8_t *)body,
                                       strlen(body), &r),
                     SIGNET_OK);
    assert_non_null(strstr(r, "\"bad_signature\""));
    free(r);
    /* Neither revoked the key. */
    char *keys = NULL;
    assert_int_equal(sg_signer_call_str(c, SG_IPC_KEYS, "https://a.example/t/a", &status, &keys),
                     SIGNET_OK);
    assert_non_null(strstr(keys, kid));
    json_t *rows = json_loads(keys, 0, NULL);
    size_t i;
    json_t *row;
    bool revoked = false;
    json_array_foreach(rows, i, row)
        if (strcmp(json_string_value(json_object_get(row, "kid")), kid) == 0)
            revoked = json_is_true(json_object_get(row, "revoked"));
    assert_false(revoked);
    json_decref(rows);
    free(keys);
    sg_monitor_run(m, SG_INV_ALL, sg_clock_now());
    expect_states(m, SIGNET_SANDBOX ? "oooooooo??" : "ooooooo???");
    for (int k = 0; k < 3; k++)
        free(tok[k]);
    sg_monitor_free(&m);
    sg_metrics_free(&reg);
    sg_signer_client_free(&c);
    sg_test_state_teardown(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reports_parser),
        cmocka_unit_test_setup_teardown(test_audit_scan_incremental, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_scan_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_thread_and_poke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_frontend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_approvals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_passkey, setup, teardown),
        cmocka_unit_test(test_live_signer),
    };
    sg_log_init("test_telemetry", (enum sg_log_level)(SG_LOG_ERROR + 1));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
