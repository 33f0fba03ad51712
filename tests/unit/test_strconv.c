/* Hostile inputs for the one duration and unsigned parser (lib/util/strconv.c). */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "util/strconv.h"

static signet_err dur(const char *s, int64_t max, int64_t *out)
{
    return sg_parse_duration(s, SG_DUR_SECONDS, max, out);
}

static signet_err dur_ms(const char *s, int64_t max, int64_t *out)
{
    return sg_parse_duration(s, SG_DUR_MILLIS, max, out);
}

static void test_duration_syntax(void **state)
{
    (void)state;
    int64_t v = -1;
    static const struct {
        const char *s;
        int64_t want;
    } ok[] = {
        {"0", 0},      {"0s", 0},      {"0d", 0},     {"7", 7},          {"7s", 7},
        {"7m", 420},   {"2h", 7200},   {"3d", 259200}, {"007", 7},       {"0000000000000000000000001", 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (dur(ok[i].s, INT64_MAX, &v) != SIGNET_OK || v != ok[i].want)
            fail_msg("'%s' gave %" PRId64, ok[i].s, v);
    }
    static const char *const bad[] = {
        "",    "s",    "m",     "-1",   "-0",    "+1",   "+0",  " 1",  "1 ",  "\t1", "1\n",
        "1 s", "1ss",  "1sec",  "1S",   "1M",    "1H",   "1D",  "1w",  "1y",  "1x",  "0x10",
        "1.5", "1e3",  "1,000", "1_000", "1ms",  "1mm",  "1hm", "1d1", "s1",  "1s ", "\xd9\xa1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        signet_err e = dur(bad[i], INT64_MAX, &v);
        if (e != SIGNET_ERR_MALFORMED || v != 42)
            fail_msg("'%s' gave %s", bad[i], signet_err_name(e));
    }
    assert_int_equal(dur(NULL, 10, &v), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(dur("1", -1, &v), SIGNET_ERR_INVALID_ARG);
}

static void test_duration_millis(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(dur_ms("250ms", INT64_MAX, &v), SIGNET_OK);
    assert_int_equal(v, 250);
    assert_int_equal(dur_ms("0ms", INT64_MAX, &v), SIGNET_OK);
    assert_int_equal(v, 0);
    assert_int_equal(dur_ms("2", INT64_MAX, &v), SIGNET_OK); /* a bare number is seconds */
    assert_int_equal(v, 2000);
    assert_int_equal(dur_ms("2s", INT64_MAX, &v), SIGNET_OK);
    assert_int_equal(v, 2000);
    assert_int_equal(dur_ms("2m", INT64_MAX, &v), SIGNET_OK);
    assert_int_equal(v, 120000);
    assert_int_equal(dur_ms("1h", INT64_MAX, &v), SIGNET_OK);
    assert_int_equal(v, 3600000);
    assert_int_equal(dur_ms("1d", INT64_MAX, &v), SIGNET_OK);
    assert_int_equal(v, 86400000);
    static const char *const bad[] = {"ms", "1MS", "1 ms", "1ms ", "1msx", "1sm", "-1ms", "+1ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (dur_ms(bad[i], INT64_MAX, &v) != SIGNET_ERR_MALFORMED)
            fail_msg("'%s' accepted", bad[i]);
    assert_int_equal(dur_ms("3600000ms", 3600000, &v), SIGNET_OK);
    assert_int_equal(dur_ms("3600001ms", 3600000, &v), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(dur_ms("1h", 3600000, &v), SIGNET_OK);
    assert_int_equal(dur_ms("3601", 3600000, &v), SIGNET_ERR_TOO_LARGE);
}

/* At every unit, the largest count whose product fits is accepted and one
 * more is refused, for the int64 bound and the config's millisecond-safe one. */
static void test_duration_overflow(void **state)
{
    (void)state;
    static const struct {
        const char *unit;
        int64_t mult;
        enum sg_dur_unit out;
    } units[] = {
        {"", 1, SG_DUR_SECONDS},        {"s", 1, SG_DUR_SECONDS},
        {"m", 60, SG_DUR_SECONDS},      {"h", 3600, SG_DUR_SECONDS},
        {"d", 86400, SG_DUR_SECONDS},   {"ms", 1, SG_DUR_MILLIS},
        {"", 1000, SG_DUR_MILLIS},      {"s", 1000, SG_DUR_MILLIS},
        {"m", 60000, SG_DUR_MILLIS},    {"h", 3600000, SG_DUR_MILLIS},
        {"d", 86400000, SG_DUR_MILLIS},
    };
    static const int64_t maxes[] = {INT64_MAX, SG_DURATION_MAX_S, 300, 86400, 0};
    char buf[64];
    int64_t v = 0;
    for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
            int64_t n = maxes[m] / units[u].mult;
            snprintf(buf, sizeof buf, "%" PRId64 "%s", n, units[u].unit);
            signet_err e = sg_parse_duration(buf, units[u].out, maxes[m], &v);
            if (e != SIGNET_OK || v != n * units[u].mult)
                fail_msg("'%s' (max %" PRId64 ") gave %s", buf, maxes[m], signet_err_name(e));
            snprintf(buf, sizeof buf, "%" PRIu64 "%s", (uint64_t)n + 1, units[u].unit);
            e = sg_parse_duration(buf, units[u].out, maxes[m], &v);
            if (e != SIGNET_ERR_TOO_LARGE)
                fail_msg("'%s' (max %" PRId64 ") gave %s", buf, maxes[m], signet_err_name(e));
        }
    }
    /* Numbers past int64 and past uint64, whatever the unit. */
    static const char *const huge[] = {
        "9223372036854775808",  "18446744073709551615", "18446744073709551616",
        "99999999999999999999", "99999999999999999999999999999999999999d",
        "18446744073709551616ms",
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        if (dur(huge[i], INT64_MAX, &v) != SIGNET_ERR_TOO_LARGE ||
            dur_ms(huge[i], INT64_MAX, &v) != SIGNET_ERR_TOO_LARGE)
            fail_msg("'%s' not refused as too large", huge[i]);
    }
    assert_int_equal(dur("9223372036854775807", INT64_MAX, &v), SIGNET_OK);
    assert_int_equal(v, INT64_MAX);
    assert_int_equal(dur("9223372036854775808", INT64_MAX, &v), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(dur("18446744073709551616", INT64_MAX, &v), SIGNET_ERR_TOO_LARGE);
    /* The config's bound: seconds that still fit in int64 milliseconds. */
    assert_int_equal(dur("9223372036854775s", SG_DURATION_MAX_S, &v), SIGNET_OK);
    assert_int_equal(dur("9223372036854776s", SG_DURATION_MAX_S, &v), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(dur("106751991167d", SG_DURATION_MAX_S, &v), SIGNET_OK);
    assert_int_equal(dur("106751991168d", SG_DURATION_MAX_S, &v), SIGNET_ERR_TOO_LARGE);
}

static void test_uint(void **state)
{
    (void)state;
    unsigned v = 0;
    assert_int_equal(sg_parse_uint("0", 0, 10, &v), SIGNET_OK);
    assert_int_equal(v, 0);
    assert_int_equal(sg_parse_uint("10", 0, 10, &v), SIGNET_OK);
    assert_int_equal(v, 10);
    assert_int_equal(sg_parse_uint("0010", 0, 10, &v), SIGNET_OK);
    assert_int_equal(v, 10);
    assert_int_equal(sg_parse_uint("11", 0, 10, &v), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sg_parse_uint("0", 1, 10, &v), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_parse_uint("1", 1, 10, &v), SIGNET_OK);
    assert_int_equal(sg_parse_uint("65535", 1, 65535, &v), SIGNET_OK);
    assert_int_equal(sg_parse_uint("65536", 1, 65535, &v), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sg_parse_uint("4294967295", 0, UINT_MAX, &v), SIGNET_OK);
    assert_int_equal(v, UINT_MAX);
    assert_int_equal(sg_parse_uint("4294967296", 0, UINT_MAX, &v), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sg_parse_uint("18446744073709551616", 0, UINT_MAX, &v), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sg_parse_uint("99999999999999999999999999", 0, UINT_MAX, &v),
                     SIGNET_ERR_TOO_LARGE);
    static const char *const bad[] = {"",   "-1",  "-0",  "+1",  " 1",   "1 ",  "\t1", "1\n",
                                      "1s", "0x1", "1.0", "1e3", "1,0",  "one", "1-",  "1+"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        signet_err e = sg_parse_uint(bad[i], 0, UINT_MAX, &v);
        if (e != SIGNET_ERR_MALFORMED || v != 42)
            fail_msg("'%s' gave %s", bad[i], signet_err_name(e));
    }
    assert_int_equal(sg_parse_uint(NULL, 0, 1, &v), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_parse_uint("1", 2, 1, &v), SIGNET_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_syntax),
        cmocka_unit_test(test_duration_millis),
        cmocka_unit_test(test_duration_overflow),
        cmocka_unit_test(test_uint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
