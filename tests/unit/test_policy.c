/* src/signer/policy.c: the signer's own check of the claims it signs.
 * Each case starts from one valid claim set and breaks exactly one rule, so
 * the error code names that rule. Limits: issuer ISS, now NOW, skew 60 s,
 * max lifetime 3600 s.
 *
 * iss is compared after JSON decoding (RFC 8259 §8.3: strings compare by
 * code units once escapes are undone), so "\u0068ttps://..." is the same
 * issuer as "https://...", while a different Unicode form (NFD vs NFC) is a
 * different one: no normalisation. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "signer/policy.h"

#define ISS "https://issuer.example"
#define NOW 1700000000LL
#define SKEW 60LL
#define MAXL 3600LL

static struct sg_policy_limits limits = {
    .issuer = ISS, .typ = "at+jwt", .max_lifetime = MAXL, .skew = SKEW, .now = NOW};

static signet_err check_with(const struct sg_policy_limits *lim, const char *claims,
                             struct sg_policy_info *info)
{
    memset(info, 0x5a, sizeof *info);
    signet_err err = sg_policy_check_claims((const uint8_t *)claims, strlen(claims), lim, info);
    if (err != SIGNET_OK) {
        /* A refusal reports nothing. */
        assert_int_equal(info->jti[0], '\0');
        assert_int_equal(info->client_id[0], '\0');
        assert_int_equal(info->iat, 0);
        assert_int_equal(info->exp, 0);
        assert_int_equal(info->kind, SG_POLICY_NONE);
        assert_int_equal(info->sub[0], '\0');
        assert_int_equal(info->sid[0], '\0');
    }
    return err;
}

static signet_err check(const char *claims)
{
    struct sg_policy_info info;
    return check_with(&limits, claims, &info);
}

/* Claims with the given iat and exp and an extra member list (may be ""). */
static signet_err times(long long iat, long long exp, const char *extra)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "{\"iss\":\"" ISS "\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"j-1\"%s}", iat, exp,
                     extra);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    return check(buf);
}

static signet_err with_iss(const char *iss_json)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "{\"iss\":%s,\"iat\":%lld,\"exp\":%lld,\"jti\":\"j-1\"}", iss_json, NOW,
                     NOW + 600);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    return check(buf);
}

static signet_err with_jti(const char *jti_json)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf,
                     "{\"iss\":\"" ISS "\",\"iat\":%lld,\"exp\":%lld,\"jti\":%s}", NOW, NOW + 600,
                     jti_json);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    return check(buf);
}

static void test_valid(void **state)
{
    (void)state;
    struct sg_policy_info info;
    assert_int_equal(check_with(&limits,
                                "{\"iss\":\"" ISS "\",\"sub\":\"alice\",\"aud\":[\"a\",\"b\"],"
                                "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000600,"
                                "\"jti\":\"abc-123\",\"scope\":\"read write\"}",
                                &info),
                     SIGNET_OK);
    assert_string_equal(info.jti, "abc-123");
    assert_int_equal(info.iat, NOW);
    assert_int_equal(info.exp, NOW + 600);
    /* Whitespace around and inside is JSON, not a problem. */
    assert_int_equal(check(" \n{ \"iss\" : \"" ISS "\" , \"iat\" : 1700000000 ,\n"
                           "\"exp\" : 1700000001 , \"jti\" : \"x\" }\n\t"),
                     SIGNET_OK);
}

/* ---- iss ---------------------------------------------------------------- */

static void test_issuer(void **state)
{
    (void)state;
    assert_int_equal(with_iss("\"" ISS "\""), SIGNET_OK);
    assert_int_equal(with_iss("\"https://evil.example\""), SIGNET_ERR_POLICY_ISSUER);
    assert_int_equal(with_iss("\"https://issuer.exampl\""), SIGNET_ERR_POLICY_ISSUER);
    assert_int_equal(with_iss("\"https://issuer.example/\""), SIGNET_ERR_POLICY_ISSUER);
    assert_int_equal(with_iss("\"https://issuer.examplex\""), SIGNET_ERR_POLICY_ISSUER);
    assert_int_equal(with_iss("\"HTTPS://issuer.example\""), SIGNET_ERR_POLICY_ISSUER);
    assert_int_equal(with_iss("\" https://issuer.example\""), SIGNET_ERR_POLICY_ISSUER);
    assert_int_equal(with_iss("\"\""), SIGNET_ERR_POLICY_ISSUER);
}

static void test_issuer_wrong_type_or_missing(void **state)
{
    (void)state;
    assert_int_equal(with_iss("null"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_iss("42"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_iss("true"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_iss("[\"" ISS "\"]"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_iss("{\"iss\":\"" ISS "\"}"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(check("{\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}"),
                     SIGNET_ERR_POLICY_PAYLOAD);
    /* Member names are case-sensitive: "ISS" is not iss. */
    assert_int_equal(check("{\"ISS\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,"
                           "\"jti\":\"j\"}"),
                     SIGNET_ERR_POLICY_PAYLOAD);
}

static void test_issuer_escapes(void **state)
{
    (void)state;
    /* Same code points, other spellings: the same issuer. */
    assert_int_equal(with_iss("\"\\u0068ttps://issuer.example\""), SIGNET_OK);
    assert_int_equal(with_iss("\"https:\\/\\/issuer.example\""), SIGNET_OK);
    assert_int_equal(with_iss("\"\\u0068\\u0074\\u0074\\u0070\\u0073://issuer.\\u0065xample\""),
                     SIGNET_OK);
    /* An embedded NUL must never pass as the issuer (C strings would stop
     * at it): refused whether the JSON parser or the comparison catches it. */
    signet_err e = with_iss("\"https://issuer.example\\u0000\"");
    assert_true(e == SIGNET_ERR_POLICY_PAYLOAD || e == SIGNET_ERR_POLICY_ISSUER);
    e = with_iss("\"https://issuer.example\\u0000.evil\"");
    assert_true(e == SIGNET_ERR_POLICY_PAYLOAD || e == SIGNET_ERR_POLICY_ISSUER);
    /* A raw NUL byte inside the JSON string. */
    static const char raw[] = "{\"iss\":\"https://issuer.example\0\",\"iat\":1700000000,"
                              "\"exp\":1700000600,\"jti\":\"j\"}";
    struct sg_policy_info info;
    e = sg_policy_check_claims((const uint8_t *)raw, sizeof raw - 1, &limits, &info);
    assert_true(e == SIGNET_ERR_POLICY_PAYLOAD || e == SIGNET_ERR_POLICY_ISSUER);
}

static void test_issuer_unicode(void **state)
{
    (void)state;
    struct sg_policy_limits u = limits;
    u.issuer = "https://\xc3\xa9x.example"; /* U+00E9, NFC */
    struct sg_policy_info info;
    static const char *const same[] = {
        "{\"iss\":\"https://\xc3\xa9x.example\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"https://\\u00e9x.example\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"https://\\u00E9x.example\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        assert_int_equal(check_with(&u, same[i], &info), SIGNET_OK);
    /* NFD (e + combining acute) is another string: no normalisation. */
    assert_int_equal(check_with(&u,
                                "{\"iss\":\"https://e\\u0301x.example\",\"iat\":1700000000,"
                                "\"exp\":1700000600,\"jti\":\"j\"}",
                                &info),
                     SIGNET_ERR_POLICY_ISSUER);
    /* Overlong UTF-8 for 'h' (C1 A8) and a lone surrogate are not JSON. */
    assert_int_equal(check("{\"iss\":\"\xc1\xa8ttps://issuer.example\",\"iat\":1700000000,"
                           "\"exp\":1700000600,\"jti\":\"j\"}"),
                     SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(check("{\"iss\":\"https://issuer.example\\ud800\",\"iat\":1700000000,"
                           "\"exp\":1700000600,\"jti\":\"j\"}"),
                     SIGNET_ERR_POLICY_PAYLOAD);
}

static void test_duplicates(void **state)
{
    (void)state;
    /* Whichever copy a later reader picks, the signer must not guess. */
    assert_int_equal(check("{\"iss\":\"https://evil.example\",\"iss\":\"" ISS "\","
                           "\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}"),
                     SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(check("{\"iss\":\"" ISS "\",\"iss\":\"" ISS "\","
                           "\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}"),
                     SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(times(NOW, NOW + 600, ",\"exp\":1700000601"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(times(NOW, NOW + 600, ",\"jti\":\"other\""), SIGNET_ERR_POLICY_PAYLOAD);
    /* Escaped spelling of the same name is the same name. */
    assert_int_equal(times(NOW, NOW + 600, ",\"\\u0069ss\":\"https://evil.example\""),
                     SIGNET_ERR_POLICY_PAYLOAD);
    /* Nested duplicates too. */
    assert_int_equal(times(NOW, NOW + 600, ",\"cnf\":{\"jkt\":\"a\",\"jkt\":\"b\"}"),
                     SIGNET_ERR_POLICY_PAYLOAD);
}

/* ---- iat, exp, nbf ------------------------------------------------------ */

static void test_iat_skew_bounds(void **state)
{
    (void)state;
    assert_int_equal(times(NOW + SKEW, NOW + SKEW + 600, ""), SIGNET_OK);
    assert_int_equal(times(NOW - SKEW, NOW - SKEW + 600, ""), SIGNET_OK);
    assert_int_equal(times(NOW + SKEW + 1, NOW + SKEW + 601, ""), SIGNET_ERR_POLICY_TIME);
    assert_int_equal(times(NOW - SKEW - 1, NOW - SKEW + 599, ""), SIGNET_ERR_POLICY_TIME);
    assert_int_equal(times(0, 600, ""), SIGNET_ERR_POLICY_TIME);
    assert_int_equal(times(-1, 600, ""), SIGNET_ERR_POLICY_TIME);
    assert_int_equal(times(INT64_MIN, NOW, ""), SIGNET_ERR_POLICY_TIME);
    assert_int_equal(times(INT64_MAX, INT64_MAX, ""), SIGNET_ERR_POLICY_TIME);
    /* Zero skew: only now itself. */
    struct sg_policy_limits z = limits;
    z.skew = 0;
    struct sg_policy_info info;
    assert_int_equal(check_with(&z,
                                "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,"
                                "\"jti\":\"j\"}",
                                &info),
                     SIGNET_OK);
    assert_int_equal(check_with(&z,
                                "{\"iss\":\"" ISS "\",\"iat\":1700000001,\"exp\":1700000600,"
                                "\"jti\":\"j\"}",
                                &info),
                     SIGNET_ERR_POLICY_TIME);
}

static void test_lifetime_bounds(void **state)
{
    (void)state;
    assert_int_equal(times(NOW, NOW + 1, ""), SIGNET_OK);
    assert_int_equal(times(NOW, NOW + MAXL, ""), SIGNET_OK);
    assert_int_equal(times(NOW, NOW + MAXL + 1, ""), SIGNET_ERR_POLICY_LIFETIME);
    assert_int_equal(times(NOW, NOW, ""), SIGNET_ERR_POLICY_LIFETIME);
    assert_int_equal(times(NOW, NOW - 1, ""), SIGNET_ERR_POLICY_LIFETIME);
    assert_int_equal(times(NOW, 0, ""), SIGNET_ERR_POLICY_LIFETIME);
    assert_int_equal(times(NOW, -1, ""), SIGNET_ERR_POLICY_LIFETIME);
    assert_int_equal(times(NOW, INT64_MIN, ""), SIGNET_ERR_POLICY_LIFETIME);
    assert_int_equal(times(NOW, INT64_MAX, ""), SIGNET_ERR_POLICY_LIFETIME);
    /* At the edge of the skew window the lifetime still counts from iat. */
    assert_int_equal(times(NOW + SKEW, NOW + SKEW + MAXL, ""), SIGNET_OK);
    assert_int_equal(times(NOW - SKEW, NOW - SKEW + MAXL + 1, ""), SIGNET_ERR_POLICY_LIFETIME);
}

/* A clock near the epoch (an injected test clock) lets iat be negative;
 * exp - iat must not overflow into a "short" lifetime. */
static void test_lifetime_no_overflow(void **state)
{
    (void)state;
    struct sg_policy_limits early = {.issuer = ISS, .max_lifetime = MAXL, .skew = SKEW, .now = 0};
    struct sg_policy_info info;
    char buf[256];
    (void)snprintf(buf, sizeof buf,
                   "{\"iss\":\"" ISS "\",\"iat\":-1,\"exp\":%lld,\"jti\":\"j\"}",
                   (long long)INT64_MAX);
    assert_int_equal(check_with(&early, buf, &info), SIGNET_ERR_POLICY_LIFETIME);
    (void)snprintf(buf, sizeof buf,
                   "{\"iss\":\"" ISS "\",\"iat\":-60,\"exp\":%lld,\"jti\":\"j\"}",
                   (long long)INT64_MAX - 30);
    assert_int_equal(check_with(&early, buf, &info), SIGNET_ERR_POLICY_LIFETIME);
    assert_int_equal(check_with(&early, "{\"iss\":\"" ISS "\",\"iat\":0,\"exp\":3600,\"jti\":\"j\"}",
                                &info),
                     SIGNET_OK);
}

static void test_time_types(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"iss\":\"" ISS "\",\"iat\":1700000000.0,\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":1.7e9,\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600.5,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":\"1700000000\",\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":\"1700000600\",\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":null,\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":true,\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":[1700000000],\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"jti\":\"j\"}",
        /* 2^63 and beyond do not fit an int64: not silently clamped. */
        "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":9223372036854775808,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":18446744073709551617,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":-9223372036854775809,\"exp\":1700000600,\"jti\":\"j\"}",
        /* Not JSON numbers. */
        "{\"iss\":\"" ISS "\",\"iat\":01700000000,\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":+1700000000,\"exp\":1700000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"iat\":0x6553F100,\"exp\":1700000600,\"jti\":\"j\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(check(bad[i]), SIGNET_ERR_POLICY_PAYLOAD);
    }
}

static void test_nbf(void **state)
{
    (void)state;
    assert_int_equal(times(NOW, NOW + 600, ",\"nbf\":1700000000"), SIGNET_OK);
    assert_int_equal(times(NOW, NOW + 600, ",\"nbf\":1699999940"), SIGNET_OK);   /* iat - skew */
    assert_int_equal(times(NOW, NOW + 600, ",\"nbf\":1700000599"), SIGNET_OK);   /* exp - 1 */
    assert_int_equal(times(NOW, NOW + 600, ",\"nbf\":1699999939"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(times(NOW, NOW + 600, ",\"nbf\":1700000600"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(times(NOW, NOW + 600, ",\"nbf\":-9223372036854775808"),
                     SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(times(NOW, NOW + 600, ",\"nbf\":1700000000.0"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(times(NOW, NOW + 600, ",\"nbf\":\"1700000000\""), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(times(NOW, NOW + 600, ",\"nbf\":null"), SIGNET_ERR_POLICY_PAYLOAD);
}

/* ---- jti ---------------------------------------------------------------- */

static void test_jti(void **state)
{
    (void)state;
    char q[200];
    for (size_t len = 1; len <= 129; len += (len == 1 ? 126 : 1)) {
        q[0] = '"';
        memset(q + 1, 'a', len);
        q[len + 1] = '"';
        q[len + 2] = '\0';
        struct sg_policy_info info;
        char buf[512];
        (void)snprintf(buf, sizeof buf,
                       "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":%s}", q);
        assert_int_equal(check_with(&limits, buf, &info),
                         len <= 128 ? SIGNET_OK : SIGNET_ERR_POLICY_PAYLOAD);
        if (len <= 128)
            assert_int_equal(strlen(info.jti), len);
    }
    assert_int_equal(with_jti("\"!~\""), SIGNET_OK); /* 0x21 and 0x7e: the edges */
    assert_int_equal(with_jti("\"\\u0041\""), SIGNET_OK);
    assert_int_equal(with_jti("\"\""), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_jti("\"a b\""), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_jti("\"a\\tb\""), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_jti("\"a\\nb\""), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_jti("\"a\\u007f\""), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_jti("\"a\\u0000b\""), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_jti("\"caf\xc3\xa9\""), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_jti("\"\\u00e9\""), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_jti("42"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_jti("null"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(with_jti("[\"a\"]"), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(check("{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600}"),
                     SIGNET_ERR_POLICY_PAYLOAD);
}

/* ---- shape -------------------------------------------------------------- */

/* {"iss":...,"x": <depth-1 levels of arrays> } so the whole is depth deep. */
static signet_err nested(int depth, char open, char close)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\","
                     "\"x\":");
    for (int i = 1; i < depth; i++)
        buf[n++] = open;
    buf[n++] = '1';
    for (int i = 1; i < depth; i++)
        buf[n++] = close;
    buf[n++] = '}';
    buf[n] = '\0';
    return check(buf);
}

static signet_err nested_objects(int depth)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"");
    for (int i = 1; i < depth; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, ",\"o\":{\"k\":1");
    for (int i = 1; i < depth; i++)
        buf[n++] = '}';
    buf[n++] = '}';
    buf[n] = '\0';
    return check(buf);
}

static void test_depth(void **state)
{
    (void)state;
    assert_int_equal(nested(8, '[', ']'), SIGNET_OK);
    assert_int_equal(nested(9, '[', ']'), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(nested(40, '[', ']'), SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(nested_objects(8), SIGNET_OK);
    assert_int_equal(nested_objects(9), SIGNET_ERR_POLICY_PAYLOAD);
    /* Brackets inside strings (with escaped quotes) are not nesting. */
    assert_int_equal(times(NOW, NOW + 600, ",\"s\":\"[[[[[[[[[[{{{{{{{{{{\""), SIGNET_OK);
    assert_int_equal(times(NOW, NOW + 600, ",\"s\":\"\\\"[[[[[[[[[[\\\\\",\"t\":\"{{{{{{{{{{\""),
                     SIGNET_OK);
    assert_int_equal(times(NOW, NOW + 600, ",\"[[[[[[[[[[\":1"), SIGNET_OK);
    /* The claims go through the one JSON door: a raw NUL after a number
     * (jansson alone would skip it) is refused, and so is a stray close. */
    static const char nul[] = "{\"iss\":\"" ISS "\",\"exp\":1700000600,\"jti\":\"j\","
                              "\"iat\":1700000000\0}";
    struct sg_policy_info info;
    assert_int_equal(sg_policy_check_claims((const uint8_t *)nul, sizeof nul - 1, &limits, &info),
                     SIGNET_ERR_POLICY_PAYLOAD);
    assert_int_equal(check("]]]]{\"iss\":\"" ISS "\"}"), SIGNET_ERR_POLICY_PAYLOAD);
}

static void test_not_an_object(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", " ", "null", "42", "\"" ISS "\"", "[]",
        "[{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}]",
        "{", "}", "{}",
        "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"",
        "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}x",
        "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}{}",
        "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\",}",
        "{'iss':'" ISS "','iat':1700000000,'exp':1700000600,'jti':'j'}",
        "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"} // c",
        "\xef\xbb\xbf{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(check(bad[i]), SIGNET_ERR_POLICY_PAYLOAD);
    }
    struct sg_policy_info info;
    assert_int_equal(sg_policy_check_claims(NULL, 0, &limits, &info), SIGNET_ERR_POLICY_PAYLOAD);
}

/* The claims cap (SG_IPC_MAX_CLAIMS) is the frame's: exactly it is fine. */
static void test_size_cap(void **state)
{
    (void)state;
    char *buf = malloc(SG_IPC_MAX_CLAIMS + 2);
    assert_non_null(buf);
    int n = snprintf(buf, SG_IPC_MAX_CLAIMS, "{\"iss\":\"" ISS "\",\"iat\":1700000000,"
                                             "\"exp\":1700000600,\"jti\":\"j\",\"pad\":\"");
    size_t len = (size_t)n;
    while (len < SG_IPC_MAX_CLAIMS - 2)
        buf[len++] = 'p';
    buf[len++] = '"';
    buf[len++] = '}';
    struct sg_policy_info info;
    assert_int_equal(len, SG_IPC_MAX_CLAIMS);
    assert_int_equal(sg_policy_check_claims((const uint8_t *)buf, len, &limits, &info), SIGNET_OK);
    buf[len++] = ' '; /* one byte over, even if only whitespace */
    assert_int_equal(sg_policy_check_claims((const uint8_t *)buf, len, &limits, &info),
                     SIGNET_ERR_POLICY_PAYLOAD);
    free(buf);
}

/* ---- the client registry (issue 11) ---- */

static int lookups;

/* One bound client, c1: scopes "read write", audiences https://a and
 * https://b, its own lifetime 600 s. */
static signet_err fake_lookup(void *user, const char *client_id, struct sg_client_binding *out)
{
    (void)user;
    lookups++;
    memset(out, 0, sizeof *out);
    if (strcmp(client_id, "c1") != 0)
        return SIGNET_ERR_NOT_FOUND;
    snprintf(out->tenant, sizeof out->tenant, "t");
    snprintf(out->client_id, sizeof out->client_id, "c1");
    snprintf(out->scopes, sizeof out->scopes, "read write");
    snprintf(out->audiences, sizeof out->audiences, "https://a https://b");
    out->lifetime = 600;
    return SIGNET_OK;
}

static signet_err failing_lookup(void *user, const char *client_id,
                                 struct sg_client_binding *out)
{
    (void)user;
    (void)client_id;
    (void)out;
    return SIGNET_ERR_STORE;
}

/* Claims of client c1 with the given members after iss, iat, exp. */
static signet_err machine(const char *members, sg_policy_lookup lookup)
{
    struct sg_policy_limits lim = limits;
    lim.lookup = lookup;
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "{\"iss\":\"" ISS "\",\"iat\":%lld,\"exp\":%lld%s%s}", NOW,
                     NOW + 300, members[0] != '\0' ? "," : "", members);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    struct sg_policy_info info;
    return check_with(&lim, buf, &info);
}

#define C1 "\"sub\":\"c1\",\"client_id\":\"c1\""

static void test_registry(void **state)
{
    (void)state;
    /* Accepted: a string aud, an array of allowed ones, allowed scopes, nbf. */
    struct sg_policy_limits lim = limits;
    lim.lookup = fake_lookup;
    struct sg_policy_info info;
    const char *ok = "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000300," C1
                     ",\"aud\":\"https://a\",\"scope\":\"write read\",\"nbf\":1700000000}";
    assert_int_equal(check_with(&lim, ok, &info), SIGNET_OK);
    assert_string_equal(info.client_id, "c1");
    assert_int_equal(info.jti[0], '\0'); /* the signer mints it afterwards */
    assert_int_equal(info.kind, SG_POLICY_MACHINE);
    assert_string_equal(sg_policy_kind_name(info.kind), "machine");
    assert_string_equal(info.sub, ""); /* a client, not a person */
    assert_string_equal(info.sid, "");
    assert_int_equal(machine(C1 ",\"aud\":[\"https://a\",\"https://b\"]", fake_lookup), SIGNET_OK);
    /* The client. */
    assert_int_equal(machine("\"sub\":\"c2\",\"client_id\":\"c2\",\"aud\":\"https://a\"", fake_lookup),
                     SIGNET_ERR_POLICY_CLIENT);
    assert_int_equal(machine("\"sub\":\"admin\",\"client_id\":\"c1\",\"aud\":\"https://a\"", fake_lookup),
                     SIGNET_ERR_POLICY_CLIENT);
    assert_int_equal(machine("\"sub\":\"c1\",\"aud\":\"https://a\"", fake_lookup),
                     SIGNET_ERR_POLICY_CLIENT);
    assert_int_equal(machine("\"client_id\":\"c1\",\"aud\":\"https://a\"", fake_lookup),
                     SIGNET_ERR_POLICY_CLIENT);
    assert_int_equal(machine("\"sub\":\"c1\",\"client_id\":1,\"aud\":\"https://a\"", fake_lookup),
                     SIGNET_ERR_POLICY_CLIENT);
    assert_int_equal(machine("\"sub\":\"c1\\u0000\",\"client_id\":\"c1\",\"aud\":\"https://a\"",
                             fake_lookup),
                     SIGNET_ERR_POLICY_PAYLOAD); /* a NUL escape: refused by the JSON door */
    /* The audience. */
    static const char *const bad_aud[] = {
        C1 ",\"aud\":\"https://c\"",           C1 ",\"aud\":[\"https://a\",\"https://c\"]",
        C1 ",\"aud\":[]",                       C1 ",\"aud\":[\"https://a\",\"https://a\"]",
        C1 ",\"aud\":\"\"",                     C1 ",\"aud\":\"https://a https://b\"",
        C1 ",\"aud\":[[\"https://a\"]]",        C1 ",\"aud\":{\"x\":\"https://a\"}",
        C1,
    };
    for (size_t i = 0; i < sizeof bad_aud / sizeof bad_aud[0]; i++)
        if (machine(bad_aud[i], fake_lookup) != SIGNET_ERR_POLICY_AUDIENCE)
            fail_msg("aud case %zu accepted or refused for another reason", i);
    /* The scope. */
    static const char *const bad_scope[] = {
        "\"admin\"", "\"read admin\"", "\"\"", "\" read\"", "\"read \"", "\"read  write\"",
        "[\"read\"]", "\"rea\"", "\"read write admin\"",
    };
    for (size_t i = 0; i < sizeof bad_scope / sizeof bad_scope[0]; i++) {
        char m[256];
        snprintf(m, sizeof m, C1 ",\"aud\":\"https://a\",\"scope\":%s", bad_scope[i]);
        if (machine(m, fake_lookup) != SIGNET_ERR_POLICY_SCOPE)
            fail_msg("scope case %zu (%s) accepted or refused for another reason", i, bad_scope[i]);
    }
    /* Exactly the expected claims; no jti from the caller. */
    assert_int_equal(machine(C1 ",\"aud\":\"https://a\",\"admin\":true", fake_lookup),
                     SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(machine(C1 ",\"aud\":\"https://a\",\"cnf\":{\"jkt\":\"x\"}", fake_lookup),
                     SIGNET_ERR_POLICY_CLAIMS);
    /* DPoP (issue 12): cnf is exactly {"jkt": <43-character b64url SHA-256>}. */
#define JKT "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    assert_int_equal(machine(C1 ",\"aud\":\"https://a\",\"cnf\":{\"jkt\":\"" JKT "\"}",
                             fake_lookup),
                     SIGNET_OK);
    static const char *const bad_cnf[] = {
        "{}",
        "{\"jkt\":\"" JKT "\",\"x5t#S256\":\"" JKT "\"}",
        "{\"x5t#S256\":\"" JKT "\"}",
        "{\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}}",
        "{\"jkt\":\"" JKT "A\"}",                    /* 44 characters */
        "{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4\"}", /* 42 */
        "{\"jkt\":\"0ZcOCORZNYy+DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}", /* not b64url */
        "{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4J\"}", /* non-zero tail bits */
        "{\"jkt\":[\"" JKT "\"]}",
        "{\"jkt\":{\"jkt\":\"" JKT "\"}}",
        "{\"jkt\":null}",
        "\"" JKT "\"",
        "[\"" JKT "\"]",
        "null",
    };
    for (size_t i = 0; i < sizeof bad_cnf / sizeof bad_cnf[0]; i++) {
        char m[256];
        snprintf(m, sizeof m, C1 ",\"aud\":\"https://a\",\"cnf\":%s", bad_cnf[i]);
        if (machine(m, fake_lookup) != SIGNET_ERR_POLICY_CLAIMS)
            fail_msg("cnf case %zu (%s) accepted or refused for another reason", i, bad_cnf[i]);
    }
#undef JKT
    assert_int_equal(machine(C1 ",\"aud\":\"https://a\",\"jti\":\"j\"", fake_lookup),
                     SIGNET_ERR_POLICY_JTI);
    /* The client's own lifetime (600 s) under the tenant's (3600 s). */
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"iss\":\"" ISS "\",\"iat\":%lld,\"exp\":%lld," C1 ",\"aud\":\"https://a\"}", NOW,
             NOW + 601);
    assert_int_equal(check_with(&lim, buf, &info), SIGNET_ERR_POLICY_LIFETIME);
    /* A registry that fails: refused with its error, never signed. */
    assert_int_equal(machine(C1 ",\"aud\":\"https://a\"", failing_lookup), SIGNET_ERR_STORE);
}

/* ---- people's tokens (issue 13) ---- */

/* A user id: "u" and 22 base64url characters. */
#define UID "uAbCdEfGhIjKlMnOpQrSt-_"

struct member {
    const char *name;
    const char *value; /* JSON */
};

/* An ID token for client c1, signed in with a passkey 600 s ago. */
static const struct member id_token[] = {
    {"iss", "\"" ISS "\""},
    {"sub", "\"" UID "\""},
    {"aud", "\"c1\""},
    {"exp", "1700000300"},
    {"iat", "1700000000"},
    {"auth_time", "1699999400"},
    {"acr", "\"urn:signet:acr:phr\""},
    {"amr", "[\"hwk\",\"user\",\"mfa\"]"},
    {"sid", "\"s-1_A\""},
    {"azp", "\"c1\""},
    {NULL, NULL},
};

/* A person's access token to https://a through client c1. */
static const struct member person_at[] = {
    {"iss", "\"" ISS "\""},
    {"sub", "\"" UID "\""},
    {"aud", "\"https://a\""},
    {"exp", "1700000300"},
    {"iat", "1700000000"},
    {"client_id", "\"c1\""},
    {"scope", "\"read\""},
    {"auth_time", "1699999400"},
    {"acr", "\"urn:signet:acr:mfa\""},
    {"amr", "[\"pwd\",\"otp\",\"mfa\"]"},
    {"sid", "\"s-1_A\""},
    {NULL, NULL},
};

/* base's claims, with name's value replaced by value (NULL: left out; a
 * name not in base is added last), checked under typ with client c1 bound
 * and a tenant lifetime of max_lifetime. */
static signet_err form_with(const char *typ, int64_t max_lifetime, const struct member *base,
                            const char *name, const char *value, struct sg_policy_info *info)
{
    char buf[2048];
    size_t o = 0;
    int found = 0;
    buf[o++] = '{';
    for (size_t i = 0; base[i].name != NULL; i++) {
        const char *v = base[i].value;
        if (name != NULL && strcmp(base[i].name, name) == 0) {
            found = 1;
            v = value;
        }
        if (v == NULL)
            continue;
        int n = snprintf(buf + o, sizeof buf - o, "%s\"%s\":%s", o > 1 ? "," : "", base[i].name,
                         v);
        assert_true(n > 0 && (size_t)n < sizeof buf - o);
        o += (size_t)n;
    }
    if (name != NULL && !found && value != NULL) {
        int n = snprintf(buf + o, sizeof buf - o, ",\"%s\":%s", name, value);
        assert_true(n > 0 && (size_t)n < sizeof buf - o);
        o += (size_t)n;
    }
    assert_true(o + 2 <= sizeof buf);
    buf[o++] = '}';
    buf[o] = '\0';
    struct sg_policy_limits lim = limits;
    lim.lookup = fake_lookup;
    lim.typ = typ;
    lim.max_lifetime = max_lifetime;
    return check_with(&lim, buf, info);
}

static signet_err id_form(const char *name, const char *value)
{
    struct sg_policy_info info;
    return form_with("JWT", MAXL, id_token, name, value, &info);
}

static signet_err person_form(const char *name, const char *value)
{
    struct sg_policy_info info;
    return form_with("at+jwt", MAXL, person_at, name, value, &info);
}

/* Both person forms: the same rule broken in each gives the same error. */
static void both(const char *name, const char *value, signet_err want)
{
    signet_err e = id_form(name, value);
    if (e != want)
        fail_msg("ID token, %s = %s: %s, not %s", name, value != NULL ? value : "(absent)",
                 signet_err_name(e), signet_err_name(want));
    e = person_form(name, value);
    if (e != want)
        fail_msg("person's access token, %s = %s: %s, not %s", name,
                 value != NULL ? value : "(absent)", signet_err_name(e), signet_err_name(want));
}

static void test_id_token_valid(void **state)
{
    (void)state;
    struct sg_policy_info info;
    assert_int_equal(form_with("JWT", MAXL, id_token, NULL, NULL, &info), SIGNET_OK);
    assert_int_equal(info.kind, SG_POLICY_ID_TOKEN);
    assert_string_equal(sg_policy_kind_name(info.kind), "id_token");
    assert_string_equal(info.client_id, "c1"); /* aud == azp */
    assert_string_equal(info.sub, UID);
    assert_string_equal(info.sid, "s-1_A");
    assert_int_equal(info.iat, NOW);
    assert_int_equal(info.exp, NOW + 300);
    assert_int_equal(info.jti[0], '\0'); /* the signer mints it */
    /* The optional members, at their bounds. */
    assert_int_equal(id_form("nonce", "\"n\""), SIGNET_OK);
    char nonce[300];
    nonce[0] = '"';
    memset(nonce + 1, 'n', 256);
    snprintf(nonce + 257, sizeof nonce - 257, "\"");
    assert_int_equal(id_form("nonce", nonce), SIGNET_OK);
    assert_int_equal(id_form("at_hash", "\"77QmUPtjPfzWtF2AnpK9RQ\""), SIGNET_OK); /* 22 */
    assert_int_equal(id_form("at_hash", "\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\""),
                     SIGNET_OK); /* 43 */
    /* Any order of members; the other acr; every amr value signet issues. */
    assert_int_equal(id_form("acr", "\"urn:signet:acr:mfa\""), SIGNET_OK);
    assert_int_equal(id_form("amr", "[\"swk\",\"user\",\"mfa\",\"pin\",\"fpt\",\"pwd\",\"otp\","
                                    "\"face\"]"),
                     SIGNET_OK); /* 8, the most */
    assert_int_equal(id_form("amr", "[\"hwk\"]"), SIGNET_OK);
    /* auth_time at its bounds: iat itself, and 30 days before it. */
    assert_int_equal(id_form("auth_time", "1700000000"), SIGNET_OK);
    assert_int_equal(id_form("auth_time", "1697408000"), SIGNET_OK);
    /* sid: 1 and 47 characters. */
    assert_int_equal(id_form("sid", "\"a\""), SIGNET_OK);
    assert_int_equal(id_form("sid", "\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU\""),
                     SIGNET_OK);
    /* Lifetime: one hour, under a tenant maximum of two. */
    assert_int_equal(form_with("JWT", 7200, id_token, "exp", "1700003600", &info), SIGNET_OK);
}

static void test_person_token_valid(void **state)
{
    (void)state;
    struct sg_policy_info info;
    assert_int_equal(form_with("at+jwt", MAXL, person_at, NULL, NULL, &info), SIGNET_OK);
    assert_int_equal(info.kind, SG_POLICY_PERSON);
    assert_string_equal(sg_policy_kind_name(info.kind), "person");
    assert_string_equal(info.client_id, "c1");
    assert_string_equal(info.sub, UID);
    assert_string_equal(info.sid, "s-1_A");
    assert_int_equal(info.iat, NOW);
    assert_int_equal(info.exp, NOW + 300);
    /* The machine token's optional members and aud forms hold too. */
    assert_int_equal(person_form("scope", NULL), SIGNET_OK);
    assert_int_equal(person_form("scope", "\"read write\""), SIGNET_OK);
    assert_int_equal(person_form("nbf", "1700000000"), SIGNET_OK);
    assert_int_equal(person_form("aud", "[\"https://a\",\"https://b\"]"), SIGNET_OK);
    assert_int_equal(
        person_form("cnf", "{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}"),
        SIGNET_OK);
    /* The client's own lifetime (600 s). */
    assert_int_equal(person_form("exp", "1700000600"), SIGNET_OK);
}

static void test_typ(void **state)
{
    (void)state;
    struct sg_policy_info info;
    static const char *const bad[] = {"foo", "", "jwt", "at+JWT", "AT+JWT", "JWT ", " JWT",
                                      "application/at+jwt", "at+jwt\n", "id_token"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (form_with(bad[i], MAXL, id_token, NULL, NULL, &info) != SIGNET_ERR_POLICY_PAYLOAD)
            fail_msg("typ \"%s\" not refused as such (ID token)", bad[i]);
        if (form_with(bad[i], MAXL, person_at, NULL, NULL, &info) != SIGNET_ERR_POLICY_PAYLOAD)
            fail_msg("typ \"%s\" not refused as such (access token)", bad[i]);
    }
    /* With the registry, a typ is required. */
    assert_int_equal(form_with(NULL, MAXL, person_at, NULL, NULL, &info),
                     SIGNET_ERR_POLICY_PAYLOAD);
    /* The typ decides the form: claims of one form under the other typ. */
    assert_int_equal(form_with("at+jwt", MAXL, id_token, NULL, NULL, &info),
                     SIGNET_ERR_POLICY_CLAIMS); /* azp, no client_id */
    assert_int_equal(form_with("JWT", MAXL, person_at, NULL, NULL, &info),
                     SIGNET_ERR_POLICY_CLAIMS); /* client_id, scope, no azp */
    /* A machine token's claims as an ID token. */
    struct sg_policy_limits lim = limits;
    lim.lookup = fake_lookup;
    lim.typ = "JWT";
    assert_int_equal(check_with(&lim,
                                "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000300," C1
                                ",\"aud\":\"https://a\"}",
                                &info),
                     SIGNET_ERR_POLICY_CLAIMS);
    /* Under the base rules (no registry) typ may be absent, not unknown. */
    struct sg_policy_limits base = limits;
    base.typ = NULL;
    static const char plain[] = "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000300,"
                                "\"jti\":\"j\"}";
    assert_int_equal(check_with(&base, plain, &info), SIGNET_OK);
    assert_int_equal(info.kind, SG_POLICY_NONE);
    base.typ = "JWT";
    assert_int_equal(check_with(&base, plain, &info), SIGNET_OK);
    base.typ = "foo";
    assert_int_equal(check_with(&base, plain, &info), SIGNET_ERR_POLICY_PAYLOAD);
}

static void test_id_token_members(void **state)
{
    (void)state;
    /* Each required member left out. iss, iat and exp are the base rules'. */
    for (size_t i = 0; id_token[i].name != NULL; i++) {
        const char *n = id_token[i].name;
        signet_err want = strcmp(n, "iss") == 0 || strcmp(n, "iat") == 0 || strcmp(n, "exp") == 0
                              ? SIGNET_ERR_POLICY_PAYLOAD
                              : SIGNET_ERR_POLICY_CLAIMS;
        if (id_form(n, NULL) != want)
            fail_msg("ID token without %s: not %s", n, signet_err_name(want));
    }
    /* Any other member. */
    static const char *const extra[][2] = {
        {"client_id", "\"c1\""}, {"scope", "\"read\""},      {"nbf", "1700000000"},
        {"cnf", "{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}"},
        {"admin", "true"},       {"c_hash", "\"77QmUPtjPfzWtF2AnpK9RQ\""},
        {"email", "\"a@b.c\""},  {"Sub", "\"" UID "\""},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (id_form(extra[i][0], extra[i][1]) != SIGNET_ERR_POLICY_CLAIMS)
            fail_msg("ID token with %s: not POLICY_CLAIMS", extra[i][0]);
    /* The signer mints the jti. */
    assert_int_equal(id_form("jti", "\"j\""), SIGNET_ERR_POLICY_JTI);
}

static void test_id_token_audience(void **state)
{
    (void)state;
    assert_int_equal(id_form("aud", "[\"c1\"]"), SIGNET_ERR_POLICY_AUDIENCE);
    assert_int_equal(id_form("aud", "[\"c1\",\"c2\"]"), SIGNET_ERR_POLICY_AUDIENCE);
    assert_int_equal(id_form("aud", "\"c2\""), SIGNET_ERR_POLICY_AUDIENCE); /* != azp */
    assert_int_equal(id_form("azp", "\"c2\""), SIGNET_ERR_POLICY_AUDIENCE);
    assert_int_equal(id_form("aud", "\"c1 \""), SIGNET_ERR_POLICY_AUDIENCE);
    assert_int_equal(id_form("aud", "\"https://a\""), SIGNET_ERR_POLICY_AUDIENCE);
    assert_int_equal(id_form("azp", "[\"c1\"]"), SIGNET_ERR_POLICY_AUDIENCE);
    assert_int_equal(id_form("aud", "1"), SIGNET_ERR_POLICY_AUDIENCE);
    /* aud == azp, but not a client bound to the tenant. */
    struct sg_policy_info info;
    static const struct member unbound[] = {
        {"iss", "\"" ISS "\""},         {"sub", "\"" UID "\""},
        {"aud", "\"c2\""},              {"exp", "1700000300"},
        {"iat", "1700000000"},          {"auth_time", "1699999400"},
        {"acr", "\"urn:signet:acr:phr\""}, {"amr", "[\"hwk\"]"},
        {"sid", "\"s\""},               {"azp", "\"c2\""},
        {NULL, NULL},
    };
    assert_int_equal(form_with("JWT", MAXL, unbound, NULL, NULL, &info), SIGNET_ERR_POLICY_CLIENT);
    /* A registry that fails: its error. */
    struct sg_policy_limits lim = limits;
    lim.lookup = failing_lookup;
    lim.typ = "JWT";
    assert_int_equal(check_with(&lim,
                                "{\"iss\":\"" ISS "\",\"sub\":\"" UID "\",\"aud\":\"c1\","
                                "\"exp\":1700000300,\"iat\":1700000000,\"auth_time\":1699999400,"
                                "\"acr\":\"urn:signet:acr:phr\",\"amr\":[\"hwk\"],\"sid\":\"s\","
                                "\"azp\":\"c1\"}",
                                &info),
                     SIGNET_ERR_STORE);
}

static void test_id_token_sub(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\"uAbCdEfGhIjKlMnOpQrSt-\"",   /* 21 after u */
        "\"uAbCdEfGhIjKlMnOpQrSt-_x\"", /* 23 after u */
        "\"xAbCdEfGhIjKlMnOpQrSt-_\"",  /* not u */
        "\"UAbCdEfGhIjKlMnOpQrSt-_\"",
        "\"uAbCdEfGhIjKlMnOpQrSt+/\"",  /* base64, not base64url */
        "\"uAbCdEfGhIjKlMnOpQrSt-=\"",  /* padding */
        "\"uAbCdEfGhIjKlMnOpQrSt- \"",
        "\"uAbCdEfGhIjKlMnOpQrSt-\\u00e9\"",
        "\"c1\"", "\"u\"", "\"\"", "42", "null", "[\"" UID "\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (id_form("sub", bad[i]) != SIGNET_ERR_POLICY_CLAIMS)
            fail_msg("ID token sub %s: not POLICY_CLAIMS", bad[i]);
}

/* auth_time, acr, amr, sid: the same rules in both forms. */
static void test_person_members(void **state)
{
    (void)state;
    /* auth_time */
    both("auth_time", "1700000001", SIGNET_ERR_POLICY_TIME); /* after iat */
    both("auth_time", "1697407999", SIGNET_ERR_POLICY_TIME); /* 30 days and 1 s before */
    both("auth_time", "-9223372036854775808", SIGNET_ERR_POLICY_TIME);
    both("auth_time", "9223372036854775807", SIGNET_ERR_POLICY_TIME);
    both("auth_time", "1699999400.0", SIGNET_ERR_POLICY_CLAIMS);
    both("auth_time", "\"1699999400\"", SIGNET_ERR_POLICY_CLAIMS);
    both("auth_time", "null", SIGNET_ERR_POLICY_CLAIMS);
    /* acr */
    static const char *const bad_acr[] = {
        "\"urn:signet:acr:PHR\"", "\"urn:signet:acr:phr \"", "\"urn:signet:acr\"",
        "\"urn:mace:incommon:iap:silver\"", "\"0\"", "\"\"", "1", "null",
        "[\"urn:signet:acr:phr\"]",
    };
    for (size_t i = 0; i < sizeof bad_acr / sizeof bad_acr[0]; i++)
        both("acr", bad_acr[i], SIGNET_ERR_POLICY_CLAIMS);
    /* amr */
    static const char *const bad_amr[] = {
        "[]",
        "[\"sms\"]",
        "[\"hwk\",\"hwk\"]",
        "[\"hwk\",\"user\",\"hwk\"]",
        "\"hwk\"",
        "\"hwk user\"",
        "[\"hwk\",\"user\",\"mfa\",\"pin\",\"fpt\",\"pwd\",\"otp\",\"face\",\"swk\"]", /* 9 */
        "[1]",
        "[[\"hwk\"]]",
        "[\"HWK\"]",
        "[\"hwk \"]",
        "[\"\"]",
        "[null]",
        "{\"hwk\":true}",
        "null",
    };
    for (size_t i = 0; i < sizeof bad_amr / sizeof bad_amr[0]; i++)
        both("amr", bad_amr[i], SIGNET_ERR_POLICY_CLAIMS);
    /* sid */
    static const char *const bad_sid[] = {
        "\"\"", "\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV\"", /* 48 */
        "\"a b\"", "\"a.b\"", "\"a/b\"", "\"a+b\"", "\"a=\"", "\"\\u00e9\"", "42", "null",
        "[\"s\"]",
    };
    for (size_t i = 0; i < sizeof bad_sid / sizeof bad_sid[0]; i++)
        both("sid", bad_sid[i], SIGNET_ERR_POLICY_CLAIMS);
    /* Each of the four is required. */
    both("auth_time", NULL, SIGNET_ERR_POLICY_CLAIMS);
    both("acr", NULL, SIGNET_ERR_POLICY_CLAIMS);
    both("amr", NULL, SIGNET_ERR_POLICY_CLAIMS);
    both("sid", NULL, SIGNET_ERR_POLICY_CLAIMS);
}

static void test_id_token_optional(void **state)
{
    (void)state;
    char nonce[300];
    nonce[0] = '"';
    memset(nonce + 1, 'n', 257);
    snprintf(nonce + 258, sizeof nonce - 258, "\"");
    assert_int_equal(id_form("nonce", nonce), SIGNET_ERR_POLICY_CLAIMS); /* 257 bytes */
    assert_int_equal(id_form("nonce", "\"\""), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(id_form("nonce", "1"), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(id_form("nonce", "null"), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(id_form("nonce", "[\"n\"]"), SIGNET_ERR_POLICY_CLAIMS);
    static const char *const bad_at_hash[] = {
        "\"77QmUPtjPfzWtF2AnpK9R\"",                        /* 21 */
        "\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4IA\"", /* 44 */
        "\"77QmUPtjPfzWtF2AnpK9R+\"",                       /* base64 */
        "\"77QmUPtjPfzWtF2AnpK9R=\"",
        "\"\"", "1", "null",
    };
    for (size_t i = 0; i < sizeof bad_at_hash / sizeof bad_at_hash[0]; i++)
        if (id_form("at_hash", bad_at_hash[i]) != SIGNET_ERR_POLICY_CLAIMS)
            fail_msg("at_hash %s: not POLICY_CLAIMS", bad_at_hash[i]);
}

static void test_id_token_lifetime(void **state)
{
    (void)state;
    struct sg_policy_info info;
    /* One hour at most, even where the tenant allows more. */
    assert_int_equal(form_with("JWT", 7200, id_token, "exp", "1700003601", &info),
                     SIGNET_ERR_POLICY_LIFETIME);
    assert_int_equal(form_with("JWT", 7200, id_token, "exp", "1700003600", &info), SIGNET_OK);
    /* And the tenant's own, when shorter. */
    assert_int_equal(form_with("JWT", 600, id_token, "exp", "1700000601", &info),
                     SIGNET_ERR_POLICY_LIFETIME);
}

/* A person's access token: the machine token's rules, sub a user id. */
static void test_person_token_rules(void **state)
{
    (void)state;
    /* Each member of the machine token's form, left out. */
    assert_int_equal(person_form("client_id", NULL), SIGNET_ERR_POLICY_CLIENT);
    assert_int_equal(person_form("aud", NULL), SIGNET_ERR_POLICY_AUDIENCE);
    assert_int_equal(person_form("iss", NULL), SIGNET_ERR_POLICY_PAYLOAD);
    /* Without a user id for sub it is held to a machine token's rules,
     * where the person members have no place. */
    assert_int_equal(person_form("sub", NULL), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(person_form("sub", "\"c1\""), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(person_form("sub", "\"uAbCdEfGhIjKlMnOpQrSt-\""), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(person_form("sub", "\"alice\""), SIGNET_ERR_POLICY_CLAIMS);
    /* Any other member; a jti. */
    assert_int_equal(person_form("azp", "\"c1\""), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(person_form("nonce", "\"n\""), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(person_form("at_hash", "\"77QmUPtjPfzWtF2AnpK9RQ\""),
                     SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(person_form("admin", "true"), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(person_form("cnf", "{\"jwk\":{}}"), SIGNET_ERR_POLICY_CLAIMS);
    assert_int_equal(person_form("jti", "\"j\""), SIGNET_ERR_POLICY_JTI);
    /* The client's binding: bound, its audiences, its scopes, its lifetime. */
    assert_int_equal(person_form("client_id", "\"c2\""), SIGNET_ERR_POLICY_CLIENT);
    assert_int_equal(person_form("client_id", "1"), SIGNET_ERR_POLICY_CLIENT);
    assert_int_equal(person_form("aud", "\"https://c\""), SIGNET_ERR_POLICY_AUDIENCE);
    assert_int_equal(person_form("aud", "[\"https://a\",\"https://a\"]"),
                     SIGNET_ERR_POLICY_AUDIENCE);
    assert_int_equal(person_form("scope", "\"read admin\""), SIGNET_ERR_POLICY_SCOPE);
    assert_int_equal(person_form("exp", "1700000601"), SIGNET_ERR_POLICY_LIFETIME);
    /* A person's sub that names the client is a machine token's. */
    struct sg_policy_info info;
    struct sg_policy_limits lim = limits;
    lim.lookup = fake_lookup;
    assert_int_equal(check_with(&lim,
                                "{\"iss\":\"" ISS "\",\"iat\":1700000000,\"exp\":1700000300,"
                                "\"sub\":\"" UID "\",\"client_id\":\"" UID "\","
                                "\"aud\":\"https://a\"}",
                                &info),
                     SIGNET_ERR_POLICY_CLIENT); /* UID is no client of the registry */
}

/* A machine token (sub == client_id) carries none of a person's members. */
static void test_machine_no_person_members(void **state)
{
    (void)state;
    static const char *const person[][2] = {
        {"auth_time", "1699999400"},
        {"acr", "\"urn:signet:acr:phr\""},
        {"amr", "[\"hwk\"]"},
        {"sid", "\"s\""},
    };
    char m[256];
    for (size_t i = 0; i < sizeof person / sizeof person[0]; i++) {
        snprintf(m, sizeof m, C1 ",\"aud\":\"https://a\",\"%s\":%s", person[i][0], person[i][1]);
        if (machine(m, fake_lookup) != SIGNET_ERR_POLICY_CLAIMS)
            fail_msg("machine token with %s: not POLICY_CLAIMS", person[i][0]);
    }
    assert_int_equal(machine(C1 ",\"aud\":\"https://a\",\"auth_time\":1699999400,"
                                "\"acr\":\"urn:signet:acr:phr\",\"amr\":[\"hwk\"],\"sid\":\"s\"",
                             fake_lookup),
                     SIGNET_ERR_POLICY_CLAIMS);
}

static void test_add_jti(void **state)
{
    (void)state;
    struct sg_policy_info info;
    memset(&info, 0, sizeof info);
    assert_int_equal(sg_policy_mint_jti(&info), SIGNET_OK);
    assert_int_equal(strlen(info.jti), 22);
    struct sg_policy_info other;
    memset(&other, 0, sizeof other);
    assert_int_equal(sg_policy_mint_jti(&other), SIGNET_OK);
    assert_string_not_equal(info.jti, other.jti);
    static const char claims[] = "{\"iss\":\"x\"} \n";
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(sg_policy_add_jti((const uint8_t *)claims, sizeof claims - 1, &info, &out, &n),
                     SIGNET_OK);
    char want[128];
    snprintf(want, sizeof want, "{\"iss\":\"x\",\"jti\":\"%s\"}", info.jti);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    free(out);
    assert_int_equal(sg_policy_add_jti((const uint8_t *)"[1]", 3, &info, &out, &n),
                     SIGNET_ERR_POLICY_PAYLOAD);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_issuer),
        cmocka_unit_test(test_issuer_wrong_type_or_missing),
        cmocka_unit_test(test_issuer_escapes),
        cmocka_unit_test(test_issuer_unicode),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_iat_skew_bounds),
        cmocka_unit_test(test_lifetime_bounds),
        cmocka_unit_test(test_lifetime_no_overflow),
        cmocka_unit_test(test_time_types),
        cmocka_unit_test(test_nbf),
        cmocka_unit_test(test_jti),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_id_token_valid),
        cmocka_unit_test(test_person_token_valid),
        cmocka_unit_test(test_typ),
        cmocka_unit_test(test_id_token_members),
        cmocka_unit_test(test_id_token_audience),
        cmocka_unit_test(test_id_token_sub),
        cmocka_unit_test(test_person_members),
        cmocka_unit_test(test_id_token_optional),
        cmocka_unit_test(test_id_token_lifetime),
        cmocka_unit_test(test_person_token_rules),
        cmocka_unit_test(test_machine_no_person_members),
        cmocka_unit_test(test_add_jti),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
