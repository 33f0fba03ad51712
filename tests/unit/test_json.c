/* Hostile inputs for libsignet's strict JSON entry point (lib/json.c):
 * jansson parses, after a size cap, a NUL check and a nesting pre-scan. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "json.h"

static signet_err parse(const char *s, size_t max, json_t **out)
{
    return sg_json_parse((const uint8_t *)s, strlen(s), max, out);
}

static void test_valid_and_caps(void **state)
{
    (void)state;
    json_t *j = NULL;
    assert_int_equal(parse("{\"a\":1,\"b\":[true,null,\"x\"]}", 64, &j), SIGNET_OK);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    json_decref(j);
    const char *s = "{\"a\":12345}";
    assert_int_equal(parse(s, strlen(s), &j), SIGNET_OK); /* exactly at the cap */
    json_decref(j);
    assert_int_equal(parse(s, strlen(s) - 1, &j), SIGNET_ERR_TOO_LARGE);
    assert_null(j);
}

static void test_refusals(void **state)
{
    (void)state;
    json_t *j = NULL;
    assert_int_equal(parse("{\"a\":1,\"a\":2}", 64, &j), SIGNET_ERR_DUPLICATE_MEMBER);
    assert_int_equal(parse("{\"a\":1} x", 64, &j), SIGNET_ERR_BAD_JSON);
    assert_int_equal(parse("{\"a\":1", 64, &j), SIGNET_ERR_BAD_JSON);
    assert_int_equal(parse("", 64, &j), SIGNET_ERR_BAD_JSON);
    assert_int_equal(parse("{'a':1}", 64, &j), SIGNET_ERR_BAD_JSON);
    assert_int_equal(parse("]", 64, &j), SIGNET_ERR_BAD_JSON);
    /* A NUL byte anywhere: jansson would skip one right after a number. */
    const char nul_after_number[] = "{\"a\":1\0}";
    assert_int_equal(sg_json_parse((const uint8_t *)nul_after_number, sizeof nul_after_number - 1,
                                   64, &j),
                     SIGNET_ERR_BAD_JSON);
    const char nul_in_string[] = "{\"a\":\"x\0y\"}";
    assert_int_equal(sg_json_parse((const uint8_t *)nul_in_string, sizeof nul_in_string - 1, 64,
                                   &j),
                     SIGNET_ERR_BAD_JSON);
    assert_null(j);
}

static void test_depth(void **state)
{
    (void)state;
    char buf[256];
    json_t *j = NULL;
    for (unsigned depth = SG_JSON_MAX_DEPTH; depth <= SG_JSON_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        for (unsigned i = 0; i < depth; i++)
            buf[n++] = '[';
        for (unsigned i = 0; i < depth; i++)
            buf[n++] = ']';
        buf[n] = '\0';
        signet_err err = parse(buf, sizeof buf, &j);
        assert_int_equal(err, depth <= SG_JSON_MAX_DEPTH ? SIGNET_OK : SIGNET_ERR_JSON_TOO_DEEP);
        json_decref(j);
        j = NULL;
    }
    /* Brackets inside strings (and escaped quotes) do not count. */
    assert_int_equal(parse("{\"a\":\"[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}", 64, &j), SIGNET_OK);
    json_decref(j);
}

static void test_parse_depth(void **state)
{
    (void)state;
    json_t *j = NULL;
    const uint8_t *three = (const uint8_t *)"[[[1]]]";
    assert_int_equal(sg_json_parse_depth(three, 7, 64, 3, &j), SIGNET_OK);
    json_decref(j);
    assert_int_equal(sg_json_parse_depth(three, 7, 64, 2, &j), SIGNET_ERR_JSON_TOO_DEEP);
    assert_null(j);
    /* An unbalanced close is refused, never counted below zero. */
    assert_int_equal(sg_json_parse_depth((const uint8_t *)"]]][[[1", 7, 64, 2, &j),
                     SIGNET_ERR_BAD_JSON);
    /* A cap above SG_JSON_MAX_DEPTH is clamped to it. */
    char buf[64];
    size_t n = 0;
    for (unsigned i = 0; i <= SG_JSON_MAX_DEPTH; i++)
        buf[n++] = '[';
    for (unsigned i = 0; i <= SG_JSON_MAX_DEPTH; i++)
        buf[n++] = ']';
    assert_int_equal(sg_json_parse_depth((const uint8_t *)buf, n, sizeof buf, 1000, &j),
                     SIGNET_ERR_JSON_TOO_DEEP);
    /* The other refusals are the same as sg_json_parse's. */
    assert_int_equal(sg_json_parse_depth((const uint8_t *)"{\"a\":1\0}", 8, 64, 3, &j),
                     SIGNET_ERR_BAD_JSON);
    assert_int_equal(sg_json_parse_depth(NULL, 0, 64, 3, &j), SIGNET_ERR_BAD_JSON);
    assert_int_equal(sg_json_parse_depth(three, 7, 6, 3, &j), SIGNET_ERR_TOO_LARGE);
    assert_null(j);
}

static void test_numeric_date(void **state)
{
    (void)state;
    int64_t t = 0;
    json_t *v = json_integer(1700000000);
    assert_int_equal(sg_json_numeric_date(v, 0, &t), SIGNET_OK);
    assert_int_equal(t, 1700000000);
    json_decref(v);
    v = json_real(1700000000.5);
    assert_int_equal(sg_json_numeric_date(v, 0, &t), SIGNET_OK);
    assert_int_equal(t, 1700000000);
    assert_int_equal(sg_json_numeric_date(v, 1, &t), SIGNET_OK);
    assert_int_equal(t, 1700000001);
    json_decref(v);
    v = json_integer(-1);
    assert_int_equal(sg_json_numeric_date(v, 0, &t), SIGNET_ERR_BAD_CLAIM);
    json_decref(v);
    v = json_real(1e300);
    assert_int_equal(sg_json_numeric_date(v, 0, &t), SIGNET_ERR_BAD_CLAIM);
    json_decref(v);
    v = json_string("1700000000");
    assert_int_equal(sg_json_numeric_date(v, 0, &t), SIGNET_ERR_BAD_CLAIM);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_caps),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_parse_depth),
        cmocka_unit_test(test_numeric_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
