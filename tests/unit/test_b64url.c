/* lib/util/b64url as libsignet relies on it: strict base64url, one encoding
 * per value (RFC 7515 §2, RFC 4648 §5 and §3.5). */
#include "testutil.h"

#include <string.h>

#include "util/b64url.h"

static signet_err dec(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    return sg_b64url_decode(s, strlen(s), out, cap, n);
}

static void test_roundtrip(void **state)
{
    (void)state;
    uint8_t in[64], out[64];
    char enc[128];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n++) {
        assert_int_equal(sg_b64url_encode(in, n, enc, sizeof enc), SIGNET_OK);
        assert_int_equal(strlen(enc), sg_b64url_encoded_len(n));
        assert_null(strchr(enc, '='));
        size_t m = 0;
        assert_int_equal(dec(enc, out, sizeof out, &m), SIGNET_OK);
        assert_int_equal(m, n);
        assert_memory_equal(in, out, n);
    }
}

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        uint8_t out[16];
        size_t n = 0;
        assert_int_equal(dec(enc[i], out, sizeof out, &n), SIGNET_OK);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
    }
    uint8_t hi[] = {0xfb, 0xff};
    char s[8];
    assert_int_equal(sg_b64url_encode(hi, 2, s, sizeof s), SIGNET_OK);
    assert_string_equal(s, "-_8"); /* url alphabet, not "+/8" */
}

static void test_hostile(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n = 0;
    static const char *const bad[] = {
        "Zg==",    /* padding */
        "Zm8=",    /* padding */
        "Zm9v\n",  /* stray newline */
        " Zm9v",   /* leading space */
        "Zm 9v",   /* inner space */
        "+/8",     /* standard alphabet */
        "Zh",      /* non-canonical: unused bits set (Zg is canonical) */
        "Zm9",     /* non-canonical (Zm8) */
        "Z",       /* length mod 4 == 1 */
        "Zm9vY",   /* length mod 4 == 1 */
        "Zm9v.",   /* separator */
        "\xc3\xa9", /* non-ASCII */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(dec(bad[i], out, sizeof out, &n), SIGNET_OK);
    /* Embedded NUL inside the counted length. */
    assert_int_equal(sg_b64url_decode("Zm\0v", 4, out, sizeof out, &n), SIGNET_ERR_BAD_BASE64);
    /* Output capacity: exact fits, one less does not. */
    assert_int_equal(dec("Zm9vYmFy", out, 6, &n), SIGNET_OK);
    assert_int_equal(dec("Zm9vYmFy", out, 5, &n), SIGNET_ERR_TOO_LARGE);
    char small[4];
    assert_int_equal(sg_b64url_encode((const uint8_t *)"foo", 3, small, sizeof small),
                     SIGNET_ERR_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
