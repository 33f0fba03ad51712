/* TOTP arithmetic (RFC 4226, RFC 6238), base32 (RFC 4648), the TOTP
 * request codec of the signer protocol (hostile shapes included), the AAD
 * and the key store's replay state. The signer itself, with SoftHSM2, is
 * test_totp_signer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "common/ipc.h"
#include "signer/otp.h"
#include "signer/totp.h"
#include "store/keystore.h"
#include "store/store.h"

/* RFC 4226 Appendix D and RFC 6238 Appendix B: the ASCII seed
 * "12345678901234567890" (SHA-1). */
static const uint8_t rfc_seed[] = "12345678901234567890";

static void test_hotp_rfc4226(void **state)
{
    (void)state;
    static const char *const want[] = {"755224", "287082", "359152", "969429", "338314",
                                       "254676", "287922", "162583", "399871", "520489"};
    char out[SG_OTP_MAX_DIGITS + 1];
    for (uint64_t c = 0; c < 10; c++) {
        assert_int_equal(sg_otp_hotp(rfc_seed, 20, c, 6, out), SIGNET_OK);
        assert_string_equal(out, want[c]);
    }
}

static void test_totp_rfc6238(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        uint64_t step; /* Appendix B's T, hex there */
        const char *code8;
    } v[] = {
        {59, 0x1, "94287082"},
        {1111111109, 0x23523EC, "07081804"},
        {1111111111, 0x23523ED, "14050471"},
        {1234567890, 0x273EF07, "89005924"},
        {2000000000, 0x3F940AA, "69279037"},
        {20000000000, 0x27BC86AA, "65353130"},
    };
    char out[SG_OTP_MAX_DIGITS + 1];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const int64_t step = sg_otp_step(v[i].t);
        assert_int_equal(step, (int64_t)v[i].step);
        assert_int_equal(sg_otp_hotp(rfc_seed, 20, (uint64_t)step, 8, out), SIGNET_OK);
        assert_string_equal(out, v[i].code8);
        /* Six digits: the same number mod 10^6, i.e. the last six. */
        assert_int_equal(sg_otp_hotp(rfc_seed, 20, (uint64_t)step, 6, out), SIGNET_OK);
        assert_string_equal(out, v[i].code8 + 2);
    }
    assert_int_equal(sg_otp_step(0), 0);
    assert_int_equal(sg_otp_step(29), 0);
    assert_int_equal(sg_otp_step(30), 1);
    assert_int_equal(sg_otp_step(-1), -1);
    /* Other digit counts and an empty key are refused. */
    assert_int_equal(sg_otp_hotp(rfc_seed, 20, 1, 5, out), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_otp_hotp(rfc_seed, 20, 1, 9, out), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_otp_hotp(rfc_seed, 0, 1, 6, out), SIGNET_ERR_INVALID_ARG);
}

static void test_codes(void **state)
{
    (void)state;
    assert_true(sg_otp_code_valid("000000"));
    assert_true(sg_otp_code_valid("123456"));
    assert_false(sg_otp_code_valid("12345"));
    assert_false(sg_otp_code_valid("1234567"));
    assert_false(sg_otp_code_valid("12345a"));
    assert_false(sg_otp_code_valid(" 12345"));
    assert_false(sg_otp_code_valid(""));
    assert_false(sg_otp_code_valid(NULL));
    assert_true(sg_otp_code_eq("123456", "123456"));
    assert_false(sg_otp_code_eq("123456", "123457"));
    assert_false(sg_otp_code_eq("023456", "123456"));
}

static void test_base32_rfc4648(void **state)
{
    (void)state;
    /* RFC 4648 §10, without the padding. */
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB",
                                      "MZXW6YTBOI"};
    char buf[64];
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        assert_int_equal(sg_otp_base32((const uint8_t *)in[i], strlen(in[i]), buf, sizeof buf),
                         SIGNET_OK);
        assert_string_equal(buf, out[i]);
        assert_int_equal(sg_otp_base32_len(strlen(in[i])), strlen(out[i]));
    }
    /* A 20-byte seed is 32 characters: the secret an app is given. */
    assert_int_equal(sg_otp_base32_len(20), SG_TOTP_SECRET_B32);
    assert_int_equal(sg_otp_base32(rfc_seed, 20, buf, sizeof buf), SIGNET_OK);
    assert_string_equal(buf, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    /* One byte short of room. */
    assert_int_equal(sg_otp_base32(rfc_seed, 20, buf, 32), SIGNET_ERR_TOO_LARGE);
}

/* -- the request codec ------------------------------------------------------ */

#define ISS "https://a.example/t/a"
#define UID "uAAAAAAAAAAAAAAAAAAAAAA"
#define SEALED "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static signet_err decode_text(uint8_t type, const char *json, struct sg_ipc_totp *r)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_wbuf_put_str(&w, json);
    assert_int_equal(w.err, SIGNET_OK);
    signet_err err = sg_ipc_decode_totp(type, w.data, w.len, r);
    sg_wbuf_free(&w);
    return err;
}

static void test_codec_round_trip(void **state)
{
    (void)state;
    struct sg_ipc_totp r, back;
    memset(&r, 0, sizeof r);
    strcpy(r.issuer, ISS);   /* lint: allow test constants of known length */
    strcpy(r.user_id, UID);  /* lint: allow test constants of known length */
    strcpy(r.cred_id, "c1"); /* lint: allow test constants of known length */
    char *json = NULL;
    assert_int_equal(sg_ipc_totp_json(SG_IPC_TOTP_ENROL, &r, &json), SIGNET_OK);
    assert_string_equal(json, "{\"cred_id\":\"c1\",\"issuer\":\"" ISS "\",\"user_id\":\"" UID "\"}");
    assert_int_equal(decode_text(SG_IPC_TOTP_ENROL, json, &back), SIGNET_OK);
    assert_memory_equal(&r, &back, sizeof r);
    /* The same body is not a VERIFY (members missing). */
    assert_int_equal(decode_text(SG_IPC_TOTP_VERIFY, json, &back), SIGNET_ERR_BAD_FRAME);
    assert_int_equal(decode_text(SG_IPC_TOTP_REMOVE, json, &back), SIGNET_OK);
    assert_int_equal(decode_text(SG_IPC_SIGN, json, &back), SIGNET_ERR_BAD_FRAME);
    free(json);
    /* VERIFY needs the blob and the code; ENROL refuses them. */
    assert_int_equal(sg_ipc_totp_json(SG_IPC_TOTP_VERIFY, &r, &json), SIGNET_ERR_INVALID_ARG);
    strcpy(r.sealed, SEALED); /* lint: allow test constants of known length */
    strcpy(r.code, "012345"); /* lint: allow test constants of known length */
    assert_int_equal(sg_ipc_totp_json(SG_IPC_TOTP_ENROL, &r, &json), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_ipc_totp_json(SG_IPC_TOTP_VERIFY, &r, &json), SIGNET_OK);
    assert_int_equal(decode_text(SG_IPC_TOTP_VERIFY, json, &back), SIGNET_OK);
    assert_memory_equal(&r, &back, sizeof r);
    assert_int_equal(decode_text(SG_IPC_TOTP_ENROL, json, &back), SIGNET_ERR_BAD_FRAME);
    free(json);
}

/* Every shape off by one, every wrong type, an extra or missing member, a
 * NUL, trailing bytes, a truncated frame: dropped, and nothing left in out. */
static void test_codec_hostile(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "[]",
        "\"x\"",
        "{}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"" UID "\"}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"" UID "\",\"cred_id\":\"c1\",\"x\":\"y\"}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"" UID "\",\"cred_id\":1}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"" UID "\",\"cred_id\":null}",
        "{\"issuer\":\"\",\"user_id\":\"" UID "\",\"cred_id\":\"c1\"}",
        "{\"issuer\":\"a\\u0001b\",\"user_id\":\"" UID "\",\"cred_id\":\"c1\"}",
        "{\"issuer\":\"a\\u0000b\",\"user_id\":\"" UID "\",\"cred_id\":\"c1\"}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"uAAAAAAAAAAAAAAAAAAAAA\",\"cred_id\":\"c1\"}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"uAAAAAAAAAAAAAAAAAAAAAAA\",\"cred_id\":\"c1\"}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"vAAAAAAAAAAAAAAAAAAAAAA\",\"cred_id\":\"c1\"}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"uAAAAAAAAAAAAAAAAAAAAA=\",\"cred_id\":\"c1\"}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"" UID "\",\"cred_id\":\"\"}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"" UID "\",\"cred_id\":\"c/1\"}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"" UID "\",\"cred_id\":\"c1\",\"cred_id\":\"c2\"}",
        "{\"issuer\":\"" ISS "\",\"user_id\":\"" UID "\",\"cred_id\":\"c1\"} ",
    };
    struct sg_ipc_totp r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&r, 'x', sizeof r);
        if (decode_text(SG_IPC_TOTP_ENROL, bad[i], &r) == SIGNET_OK && i + 1 < sizeof bad / sizeof bad[0])
            fail_msg("accepted: %s", bad[i]);
        if (i + 1 < sizeof bad / sizeof bad[0]) {
            struct sg_ipc_totp zero;
            memset(&zero, 0, sizeof zero);
            assert_memory_equal(&r, &zero, sizeof r);
        }
    }
    /* Trailing whitespace is JSON; what follows the string is not. */
    assert_int_equal(decode_text(SG_IPC_TOTP_ENROL, bad[sizeof bad / sizeof bad[0] - 1], &r),
                     SIGNET_OK);
    /* cred_id: 64 characters pass, 65 do not. */
    char json[512], cred[66];
    memset(cred, 'A', 65);
    cred[65] = '\0';
    (void)snprintf(json, sizeof json, "{\"issuer\":\"%s\",\"user_id\":\"%s\",\"cred_id\":\"%.64s\"}",
                   ISS, UID, cred);
    assert_int_equal(decode_text(SG_IPC_TOTP_ENROL, json, &r), SIGNET_OK);
    (void)snprintf(json, sizeof json, "{\"issuer\":\"%s\",\"user_id\":\"%s\",\"cred_id\":\"%s\"}",
                   ISS, UID, cred);
    assert_int_equal(decode_text(SG_IPC_TOTP_ENROL, json, &r), SIGNET_ERR_BAD_FRAME);
    /* VERIFY: the blob 63 or 65 characters, non-canonical, the code 5 or 7 digits. */
    static const char *const vbad[][2] = {
        {SEALED, "01234"},
        {SEALED, "0123456"},
        {SEALED, "01234a"},
        {SEALED, "-12345"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-", "012345"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_A", "012345"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-=", "012345"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", "012345"},
    };
    for (size_t i = 0; i < sizeof vbad / sizeof vbad[0]; i++) {
        (void)snprintf(json, sizeof json,
                       "{\"issuer\":\"%s\",\"user_id\":\"%s\",\"cred_id\":\"c\",\"sealed\":\"%s\","
                       "\"code\":\"%s\"}",
                       ISS, UID, vbad[i][0], vbad[i][1]);
        if (decode_text(SG_IPC_TOTP_VERIFY, json, &r) != SIGNET_ERR_BAD_FRAME)
            fail_msg("accepted: %s", json);
    }
    (void)snprintf(json, sizeof json,
                   "{\"issuer\":\"%s\",\"user_id\":\"%s\",\"cred_id\":\"c\",\"sealed\":\"%s\","
                   "\"code\":\"%s\"}",
                   ISS, UID, SEALED, "999999");
    assert_int_equal(decode_text(SG_IPC_TOTP_VERIFY, json, &r), SIGNET_OK);
    /* The frame: truncated, with a byte after the string, over its cap. */
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_wbuf_put_str(&w, json);
    assert_int_equal(sg_ipc_decode_totp(SG_IPC_TOTP_VERIFY, w.data, w.len - 1, &r),
                     SIGNET_ERR_BAD_FRAME);
    assert_int_equal(sg_ipc_decode_totp(SG_IPC_TOTP_VERIFY, w.data, 1, &r), SIGNET_ERR_BAD_FRAME);
    sg_wbuf_put_u8(&w, 0);
    assert_int_equal(sg_ipc_decode_totp(SG_IPC_TOTP_VERIFY, w.data, w.len, &r),
                     SIGNET_ERR_BAD_FRAME);
    sg_wbuf_free(&w);
    char *big = malloc(SG_IPC_MAX_TOTP + 2);
    assert_non_null(big);
    memset(big, ' ', SG_IPC_MAX_TOTP + 1);
    memcpy(big, json, strlen(json));
    big[SG_IPC_MAX_TOTP + 1] = '\0';
    assert_int_equal(decode_text(SG_IPC_TOTP_VERIFY, big, &r), SIGNET_ERR_BAD_FRAME);
    big[SG_IPC_MAX_TOTP] = '\0'; /* at the cap: whitespace after the object */
    assert_int_equal(decode_text(SG_IPC_TOTP_VERIFY, big, &r), SIGNET_OK);
    free(big);
}

/* The message table: the front end (and the operator) enrol, check and
 * remove; the monitor none; each is rate limited and capped; 12 stays
 * unassigned. */
static void test_message_table(void **state)
{
    (void)state;
    const unsigned S = SG_IPC_SERVER_SIGNER;
    assert_true(sg_ipc_permitted(SG_IPC_TOTP_ENROL, SG_ROLE_FRONT, S));
    assert_true(sg_ipc_permitted(SG_IPC_TOTP_VERIFY, SG_ROLE_FRONT, S));
    assert_true(sg_ipc_permitted(SG_IPC_TOTP_REMOVE, SG_ROLE_FRONT, S));
    assert_true(sg_ipc_permitted(SG_IPC_TOTP_ENROL, SG_ROLE_ADMIN, S));
    assert_true(sg_ipc_permitted(SG_IPC_TOTP_VERIFY, SG_ROLE_ADMIN, S));
    assert_true(sg_ipc_permitted(SG_IPC_TOTP_REMOVE, SG_ROLE_ADMIN, S));
    assert_null(sg_ipc_msg_find(12));
    assert_int_equal(SG_IPC_TOTP_ENROL, 13);
    assert_int_equal(SG_IPC_TOTP_VERIFY, 14);
    assert_int_equal(SG_IPC_TOTP_REMOVE, 15);
    for (uint8_t t = SG_IPC_TOTP_ENROL; t <= SG_IPC_TOTP_REMOVE; t++) {
        assert_false(sg_ipc_permitted(t, SG_ROLE_MONITOR, S));
        assert_false(sg_ipc_permitted(t, SG_ROLE_FRONT, SG_IPC_SERVER_MONITOR));
        const struct sg_ipc_msg *m = sg_ipc_msg_find(t);
        assert_non_null(m);
        assert_true(m->rate > 0);
        assert_int_equal(m->max_payload, 2u + SG_IPC_MAX_TOTP);
    }
}

static void test_aad(void **state)
{
    (void)state;
    uint8_t a[1024], b[1024];
    size_t na = 0, nb = 0;
    assert_int_equal(sg_totp_aad(ISS, UID, "c1", a, sizeof a, &na), SIGNET_OK);
    static const char want[] = "signet-totp-seal/1\0" ISS "\0" UID "\0c1";
    assert_int_equal(na, sizeof want - 1);
    assert_memory_equal(a, want, na);
    /* The separators keep the fields apart: moving a character from one
     * field to the next makes other bytes. */
    assert_int_equal(sg_totp_aad(ISS, UID, "c", b, sizeof b, &nb), SIGNET_OK);
    assert_true(na != nb || memcmp(a, b, na) != 0);
    assert_int_equal(sg_totp_aad(ISS "/", UID, "c1", b, sizeof b, &nb), SIGNET_OK);
    assert_true(na != nb || memcmp(a, b, na) != 0);
    assert_int_equal(sg_totp_aad(ISS, UID, "c1", a, na - 1, &na), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sg_totp_aad(ISS, UID, "c1", a, sizeof want - 1, &na), SIGNET_OK);
}

/* The replay state: a step is accepted once, and never one at or before
 * the last accepted, per (issuer, credential), across handles. */
static void test_replay_state(void **state)
{
    (void)state;
    char dir[256], path[320];
    assert_int_equal(sg_test_mkdtemp(dir, sizeof dir, "signet-totp"), 0);
    (void)snprintf(path, sizeof path, "%s/keys.db", dir);
    struct sg_store *a = NULL, *b = NULL;
    assert_int_equal(sg_keystore_open(path, 1, &a), SIGNET_OK);
    assert_int_equal(sg_keystore_open(path, 0, &b), SIGNET_OK);
    int64_t last = 0;
    assert_int_equal(sg_keystore_totp_last(a, ISS, "c1", &last), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(last, -1);
    assert_int_equal(sg_keystore_totp_use(a, ISS, "c1", UID, 100, 3000), SIGNET_OK);
    assert_int_equal(sg_keystore_totp_use(b, ISS, "c1", UID, 100, 3000), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_keystore_totp_use(b, ISS, "c1", UID, 99, 3000), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_keystore_totp_use(b, ISS, "c1", UID, 101, 3030), SIGNET_OK);
    assert_int_equal(sg_keystore_totp_use(a, ISS, "c1", UID, 101, 3030), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_keystore_totp_last(a, ISS, "c1", &last), SIGNET_OK);
    assert_int_equal(last, 101);
    /* Another credential, another issuer: their own rows. */
    assert_int_equal(sg_keystore_totp_use(a, ISS, "c2", UID, 100, 3000), SIGNET_OK);
    assert_int_equal(sg_keystore_totp_use(a, "https://b.example/t/b", "c1", UID, 100, 3000),
                     SIGNET_OK);
    /* Forgotten: a step is new again (a new seed under that credential). */
    assert_int_equal(sg_keystore_totp_forget(b, ISS, "c1"), SIGNET_OK);
    assert_int_equal(sg_keystore_totp_forget(b, ISS, "c1"), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_keystore_totp_use(a, ISS, "c1", UID, 50, 3000), SIGNET_OK);
    sg_store_close(&a);
    sg_store_close(&b);
    sg_test_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotp_rfc4226),   cmocka_unit_test(test_totp_rfc6238),
        cmocka_unit_test(test_codes),          cmocka_unit_test(test_base32_rfc4648),
        cmocka_unit_test(test_codec_round_trip), cmocka_unit_test(test_codec_hostile),
        cmocka_unit_test(test_message_table),  cmocka_unit_test(test_aad),
        cmocka_unit_test(test_replay_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
