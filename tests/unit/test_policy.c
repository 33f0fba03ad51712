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
    .issuer = ISS, .max_lifetime = MAXL, .skew = SKEW, .now = NOW};

static signet_err check_with(const struct sg_policy_limits *lim, const char *claims,
                             struct sg_policy_info *info)
{
    memset(info, 0x5a, sizeof *info);
    signet_err err = sg_policy_check_claims((const uint8_t *)claims, strlen(claims), lim, info);
    if (err != SIGNET_OK) {
        /* A refusal reports nothing. */
        assert_int_equal(info->jti[0], '\0');
        assert_int_equal(info->iat, 0);
        assert_int_equal(info->exp, 0);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
