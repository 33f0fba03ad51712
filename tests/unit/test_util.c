/* lib/util: the bounded reader/writer every parser stands on, base64url,
 * hex, secret files and RFC 7638 thumbprints, at their edges. */
#include "testutil.h"

#include <fcntl.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/b64url.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/secret.h"
#include "util/sha256.h"
#include "util/thumbprint.h"

/* ---- sg_buf ------------------------------------------------------------- */

static void test_buf_getters_at_every_length(void **state)
{
    (void)state;
    static const uint8_t d[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    struct sg_buf b;
    for (size_t len = 0; len <= 8; len++) {
        uint8_t u8 = 0;
        uint16_t u16 = 0;
        uint32_t u32 = 0;
        uint64_t u64 = 0;
        sg_buf_init(&b, d, len);
        assert_int_equal(sg_buf_get_u8(&b, &u8), len >= 1 ? SIGNET_OK : SIGNET_ERR_MALFORMED);
        sg_buf_init(&b, d, len);
        assert_int_equal(sg_buf_get_u16(&b, &u16), len >= 2 ? SIGNET_OK : SIGNET_ERR_MALFORMED);
        if (len < 2)
            assert_int_equal(b.pos, 0); /* a failed read consumes nothing */
        sg_buf_init(&b, d, len);
        assert_int_equal(sg_buf_get_u32(&b, &u32), len >= 4 ? SIGNET_OK : SIGNET_ERR_MALFORMED);
        if (len < 4)
            assert_int_equal(b.pos, 0);
        sg_buf_init(&b, d, len);
        assert_int_equal(sg_buf_get_u64(&b, &u64), len >= 8 ? SIGNET_OK : SIGNET_ERR_MALFORMED);
        if (len == 8) {
            assert_int_equal(u8, 0x01);
            assert_int_equal(u16, 0x0102);
            assert_int_equal(u32, 0x01020304);
            assert_true(u64 == 0x0102030405060708ull);
            assert_int_equal(sg_buf_remaining(&b), 0);
        }
    }
    const uint8_t *p = NULL;
    sg_buf_init(&b, d, 8);
    assert_int_equal(sg_buf_get_bytes(&b, 0, &p), SIGNET_OK);
    assert_int_equal(sg_buf_get_bytes(&b, 9, &p), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_buf_get_bytes(&b, SIZE_MAX, &p), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_buf_get_bytes(&b, 8, &p), SIGNET_OK);
    assert_ptr_equal(p, d);
    assert_int_equal(sg_buf_get_bytes(&b, 1, &p), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_buf_get_bytes(&b, SIZE_MAX, &p), SIGNET_ERR_MALFORMED);
    /* NULL data is an empty buffer whatever the length says. */
    sg_buf_init(&b, NULL, 100);
    assert_int_equal(sg_buf_remaining(&b), 0);
    assert_int_equal(sg_buf_get_u8(&b, &(uint8_t){0}), SIGNET_ERR_MALFORMED);
}

static void test_buf_fields(void **state)
{
    (void)state;
    uint8_t d[3 + 300];
    memset(d, 'x', sizeof d);
    struct sg_buf b;
    const uint8_t *p = NULL;
    size_t n = 0;
    /* Length exactly the cap, one over, and more than the bytes left. */
    d[0] = 0x01;
    d[1] = 0x2c; /* 300 */
    sg_buf_init(&b, d, 2 + 300);
    assert_int_equal(sg_buf_get_field(&b, 300, &p, &n), SIGNET_OK);
    assert_int_equal(n, 300);
    assert_ptr_equal(p, d + 2);
    sg_buf_init(&b, d, 2 + 300);
    assert_int_equal(sg_buf_get_field(&b, 299, &p, &n), SIGNET_ERR_TOO_LARGE);
    sg_buf_init(&b, d, 2 + 299);
    assert_int_equal(sg_buf_get_field(&b, 300, &p, &n), SIGNET_ERR_MALFORMED);
    sg_buf_init(&b, d, 1);
    assert_int_equal(sg_buf_get_field(&b, 300, &p, &n), SIGNET_ERR_MALFORMED);
    /* Zero-length field. */
    static const uint8_t empty[] = {0, 0};
    sg_buf_init(&b, empty, 2);
    assert_int_equal(sg_buf_get_field(&b, 0, &p, &n), SIGNET_OK);
    assert_int_equal(n, 0);
    /* 0xffff with few bytes. */
    static const uint8_t huge[] = {0xff, 0xff, 'a'};
    sg_buf_init(&b, huge, 3);
    assert_int_equal(sg_buf_get_field(&b, SIZE_MAX, &p, &n), SIGNET_ERR_MALFORMED);
}

static void test_buf_str(void **state)
{
    (void)state;
    struct sg_buf b;
    char *s = NULL;
    static const uint8_t ok[] = {0, 3, 'a', 'b', 'c'};
    sg_buf_init(&b, ok, sizeof ok);
    assert_int_equal(sg_buf_get_str(&b, 3, &s), SIGNET_OK);
    assert_string_equal(s, "abc");
    free(s);
    sg_buf_init(&b, ok, sizeof ok);
    s = NULL;
    assert_int_equal(sg_buf_get_str(&b, 2, &s), SIGNET_ERR_TOO_LARGE);
    assert_null(s);
    static const uint8_t empty[] = {0, 0};
    sg_buf_init(&b, empty, sizeof empty);
    assert_int_equal(sg_buf_get_str(&b, 0, &s), SIGNET_OK);
    assert_string_equal(s, "");
    free(s);
    static const uint8_t nuls[][5] = {
        {0, 3, 0, 'b', 'c'}, {0, 3, 'a', 0, 'c'}, {0, 3, 'a', 'b', 0}};
    for (size_t i = 0; i < 3; i++) {
        s = NULL;
        sg_buf_init(&b, nuls[i], 5);
        assert_int_equal(sg_buf_get_str(&b, 10, &s), SIGNET_ERR_MALFORMED);
        assert_null(s);
    }
    static const uint8_t short_[] = {0, 4, 'a', 'b', 'c'};
    sg_buf_init(&b, short_, sizeof short_);
    assert_int_equal(sg_buf_get_str(&b, 10, &s), SIGNET_ERR_MALFORMED);
}

/* ---- sg_wbuf ------------------------------------------------------------ */

static void test_wbuf_cap_and_sticky_error(void **state)
{
    (void)state;
    struct sg_wbuf w;
    sg_wbuf_init(&w, 8);
    sg_wbuf_put_u64(&w, 0x0102030405060708ull);
    assert_int_equal(w.err, SIGNET_OK);
    assert_int_equal(w.len, 8);
    assert_memory_equal(w.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    sg_wbuf_put_bytes(&w, "", 0); /* nothing: fine even when full */
    assert_int_equal(w.err, SIGNET_OK);
    sg_wbuf_put_u8(&w, 9);
    assert_int_equal(w.err, SIGNET_ERR_TOO_LARGE);
    assert_int_equal(w.len, 8);
    /* Sticky: nothing else is appended, even what would fit after a reset. */
    sg_wbuf_put_bytes(&w, "", 0);
    sg_wbuf_put_u8(&w, 1);
    assert_int_equal(w.err, SIGNET_ERR_TOO_LARGE);
    assert_int_equal(w.len, 8);
    sg_wbuf_reset(&w);
    assert_int_equal(w.err, SIGNET_OK);
    assert_int_equal(w.len, 0);
    sg_wbuf_put_u32(&w, 0xdeadbeef);
    sg_wbuf_put_u32(&w, 0);
    assert_int_equal(w.err, SIGNET_OK);
    /* patch_u32 only inside what was written. */
    sg_wbuf_patch_u32(&w, 4, 0x11223344);
    assert_memory_equal(w.data + 4, "\x11\x22\x33\x44", 4);
    sg_wbuf_patch_u32(&w, 5, 0xffffffff);
    sg_wbuf_patch_u32(&w, 8, 0xffffffff);
    sg_wbuf_patch_u32(&w, SIZE_MAX, 0xffffffff);
    assert_memory_equal(w.data, "\xde\xad\xbe\xef\x11\x22\x33\x44", 8);
    sg_wbuf_free(&w);
    assert_null(w.data);
    assert_int_equal(w.len, 0);
    assert_int_equal(w.max, 8);

    /* A write that would cross the cap fails whole. */
    sg_wbuf_init(&w, 5);
    sg_wbuf_put_u32(&w, 1);
    sg_wbuf_put_u16(&w, 2);
    assert_int_equal(w.err, SIGNET_ERR_TOO_LARGE);
    assert_int_equal(w.len, 4);
    sg_wbuf_free(&w);
    sg_wbuf_init(&w, 0);
    sg_wbuf_put_u8(&w, 1);
    assert_int_equal(w.err, SIGNET_ERR_TOO_LARGE);
    sg_wbuf_free(&w);
    sg_wbuf_init(&w, 100);
    sg_wbuf_put_bytes(&w, "x", SIZE_MAX);
    assert_int_equal(w.err, SIGNET_ERR_TOO_LARGE);
    sg_wbuf_free(&w);

    /* Growth past the first allocation, up to exactly the cap. */
    uint8_t block[1000];
    memset(block, 0xab, sizeof block);
    sg_wbuf_init(&w, 1000);
    for (size_t i = 0; i < 10; i++)
        sg_wbuf_put_bytes(&w, block, 100);
    assert_int_equal(w.err, SIGNET_OK);
    assert_int_equal(w.len, 1000);
    assert_memory_equal(w.data, block, 1000);
    assert_true(w.cap <= 1000);
    sg_wbuf_free(&w);
}

static void test_wbuf_fields(void **state)
{
    (void)state;
    struct sg_wbuf w;
    sg_wbuf_init(&w, 70000);
    sg_wbuf_put_str(&w, "abc");
    sg_wbuf_put_str(&w, NULL);
    sg_wbuf_put_field(&w, NULL, 0);
    assert_int_equal(w.err, SIGNET_OK);
    assert_memory_equal(w.data, "\x00\x03" "abc" "\x00\x00" "\x00\x00", 9);
    uint8_t *big = calloc(1, UINT16_MAX + 1);
    assert_non_null(big);
    sg_wbuf_reset(&w);
    sg_wbuf_put_field(&w, big, UINT16_MAX);
    assert_int_equal(w.err, SIGNET_OK);
    assert_int_equal(w.len, 2 + UINT16_MAX);
    sg_wbuf_reset(&w);
    sg_wbuf_put_field(&w, big, UINT16_MAX + 1);
    assert_int_equal(w.err, SIGNET_ERR_TOO_LARGE);
    assert_int_equal(w.len, 0);
    free(big);
    sg_wbuf_free(&w);
}

/* ---- base64url ---------------------------------------------------------- */

static signet_err dec(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    return sg_b64url_decode(s, strlen(s), out, cap, n);
}

static void test_b64url_roundtrip_0_to_64(void **state)
{
    (void)state;
    uint8_t in[64], out[64];
    char enc[100];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(255 - i * 7);
    for (size_t n = 0; n <= 64; n++) {
        size_t elen = sg_b64url_encoded_len(n);
        /* The output needs room for the NUL: one byte less is refused. */
        assert_int_equal(sg_b64url_encode(in, n, enc, elen), SIGNET_ERR_TOO_LARGE);
        assert_int_equal(sg_b64url_encode(in, n, enc, elen + 1), SIGNET_OK);
        assert_int_equal(strlen(enc), elen);
        assert_int_not_equal(elen % 4, 1);
        assert_true(sg_b64url_decoded_max(elen) >= n);
        size_t m = 99;
        if (n > 0)
            assert_int_equal(sg_b64url_decode(enc, elen, out, n - 1, &m), SIGNET_ERR_TOO_LARGE);
        assert_int_equal(sg_b64url_decode(enc, elen, out, n, &m), SIGNET_OK);
        assert_int_equal(m, n);
        assert_memory_equal(out, in, n);
        char *alloc = NULL;
        assert_int_equal(sg_b64url_encode_alloc(in, n, &alloc), SIGNET_OK);
        assert_string_equal(alloc, enc);
        free(alloc);
    }
}

static void test_b64url_rfc4648(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char e[16];
        assert_int_equal(sg_b64url_encode((const uint8_t *)plain[i], strlen(plain[i]), e, sizeof e),
                         SIGNET_OK);
        assert_string_equal(e, enc[i]);
        uint8_t out[16];
        size_t n = 0;
        assert_int_equal(dec(enc[i], out, sizeof out, &n), SIGNET_OK);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
    }
    /* The URL alphabet: 62 and 63 are '-' and '_'. */
    static const uint8_t hi[] = {0xfb, 0xef, 0xff};
    char e[8];
    assert_int_equal(sg_b64url_encode(hi, 3, e, sizeof e), SIGNET_OK);
    assert_string_equal(e, "--__");
}

static void test_b64url_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg==", "Zg=", "Zm8=", "Zm9v====", "=", "Zm9v+", "+/+/", "Zm/v", "Zm9v\n", " Zm9v", "Zm 9v",
        "Zm9v\t", "Zm9v\r\n", "Z", "Zm9vY", "Zm9vYmFyZ", "Zh", "Zm9", "Zm-", "Zm9vYh", "Zm9vYmF",
        "Zm9vYmG", "Zm9v.", "Zm9v\xc3\xa9", "%5A", "Zm9v!",
    };
    uint8_t out[32];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = 0;
        if (dec(bad[i], out, sizeof out, &n) != SIGNET_ERR_BAD_BASE64)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* The canonical neighbours of the non-canonical ones are fine. */
    static const char *const good[] = {"Zg", "Zm8", "Zm9vYg", "Zm9vYmE"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t n = 0;
        assert_int_equal(dec(good[i], out, sizeof out, &n), SIGNET_OK);
    }
    /* An embedded NUL inside the length is not the end of the input. */
    size_t n = 0;
    assert_int_equal(sg_b64url_decode("Zm9v\0AAA", 8, out, sizeof out, &n), SIGNET_ERR_BAD_BASE64);
}

/* ---- hex ---------------------------------------------------------------- */

static void test_hex(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char s[13];
    sg_hex_encode(bytes, sizeof bytes, s);
    assert_string_equal(s, "00017f80abff");
    sg_hex_encode(bytes, 0, s);
    assert_string_equal(s, "");
    uint8_t out[6];
    assert_int_equal(sg_hex_decode("00017f80abff", 12, out, 6), SIGNET_OK);
    assert_memory_equal(out, bytes, 6);
    assert_int_equal(sg_hex_decode("00017F80ABFF", 12, out, 6), SIGNET_OK);
    assert_memory_equal(out, bytes, 6);
    assert_int_equal(sg_hex_decode("", 0, out, 0), SIGNET_OK);
    /* Exactly 2 * cap digits. */
    assert_int_equal(sg_hex_decode("00017f80abf", 11, out, 6), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_hex_decode("00017f80abff00", 14, out, 6), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_hex_decode("0001", 4, out, 6), SIGNET_ERR_MALFORMED);
    static const char *const bad[] = {"0g", "g0", " 0", "0 ", "-1", "0x", "\xc3\xa9", "+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sg_hex_decode(bad[i], 2, out, 1), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_hex_decode("0\0", 2, out, 1), SIGNET_ERR_MALFORMED);
}

/* ---- secret files ------------------------------------------------------- */

static char sdir[256];

static void put_file(const char *name, const char *content, size_t n, mode_t mode, char *path,
                     size_t cap)
{
    (void)snprintf(path, cap, "%s/%s", sdir, name);
    (void)unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static signet_err read_secret(const char *content, size_t n, mode_t mode, size_t max,
                              struct sg_secret **out)
{
    char path[320];
    put_file("secret", content, n, mode, path, sizeof path);
    *out = NULL;
    signet_err err = sg_secret_read_file(path, max, out);
    if (err != SIGNET_OK)
        assert_null(*out);
    return err;
}

static void test_secret_read_file(void **state)
{
    (void)state;
    assert_int_equal(sg_test_mkdtemp(sdir, sizeof sdir, "signet-secret"), 0);
    struct sg_secret *s = NULL;

    assert_int_equal(read_secret("1234\n", 5, 0600, 64, &s), SIGNET_OK);
    assert_int_equal(s->len, 4);
    assert_memory_equal(s->data, "1234", 5); /* NUL-terminated */
    sg_secret_free(&s);
    assert_null(s);
    sg_secret_free(&s); /* NULL is fine */

    assert_int_equal(read_secret("1234", 4, 0400, 64, &s), SIGNET_OK);
    assert_int_equal(s->len, 4);
    sg_secret_free(&s);
    /* Only one newline goes. */
    assert_int_equal(read_secret("ab\n\n", 4, 0600, 64, &s), SIGNET_OK);
    assert_int_equal(s->len, 3);
    assert_memory_equal(s->data, "ab\n", 3);
    sg_secret_free(&s);
    /* Binary content with NUL bytes keeps its length. */
    assert_int_equal(read_secret("a\0b", 3, 0600, 64, &s), SIGNET_OK);
    assert_int_equal(s->len, 3);
    sg_secret_free(&s);

    /* Group or other bits, any of them. */
    static const mode_t loose[] = {0640, 0604, 0660, 0644, 0610, 0601, 0602, 0620, 0700 | 04};
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++)
        assert_int_equal(read_secret("1234", 4, loose[i], 64, &s), SIGNET_ERR_PERMISSION);

    /* Size: exactly max is fine, one byte more is not. */
    assert_int_equal(read_secret("12345678", 8, 0600, 8, &s), SIGNET_OK);
    sg_secret_free(&s);
    assert_int_equal(read_secret("123456789", 9, 0600, 8, &s), SIGNET_ERR_TOO_LARGE);
    char big[8192];
    memset(big, 'b', sizeof big);
    assert_int_equal(read_secret(big, sizeof big, 0600, 4096, &s), SIGNET_ERR_TOO_LARGE);

    /* Empty, or nothing but the newline. */
    assert_int_equal(read_secret("", 0, 0600, 64, &s), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(read_secret("\n", 1, 0600, 64, &s), SIGNET_ERR_INVALID_ARG);

    /* Symlinks are refused, even to a good file. */
    char target[320], link[320];
    put_file("target", "1234", 4, 0600, target, sizeof target);
    (void)snprintf(link, sizeof link, "%s/link", sdir);
    assert_int_equal(symlink(target, link), 0);
    s = NULL;
    assert_int_not_equal(sg_secret_read_file(link, 64, &s), SIGNET_OK);
    assert_null(s);
    /* Not a regular file. */
    assert_int_not_equal(sg_secret_read_file(sdir, 64, &s), SIGNET_OK);
    assert_null(s);
    /* Missing. */
    char missing[320];
    (void)snprintf(missing, sizeof missing, "%s/missing", sdir);
    assert_int_equal(sg_secret_read_file(missing, 64, &s), SIGNET_ERR_NOT_FOUND);
    assert_null(s);
    sg_test_rmrf(sdir);
}

/* ---- RFC 7638 thumbprints ----------------------------------------------- */

static signet_err thumb(const char *json, char out[SG_THUMBPRINT_LEN + 1])
{
    json_error_t jerr;
    json_t *jwk = json_loads(json, 0, &jerr);
    assert_non_null(jwk);
    memset(out, 0, SG_THUMBPRINT_LEN + 1);
    signet_err err = sg_jwk_thumbprint(jwk, out);
    json_decref(jwk);
    return err;
}

#define RFC7638_N                                                                                \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJ" \
    "ECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW" \
    "2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQ" \
    "Fh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

/* sg_sha256: the FIPS 180-2 vectors, and the same digest as OpenSSL's
 * SHA256() at every length across several block boundaries. */
static void test_sha256(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    uint8_t md[32];
    char hex[65];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sg_sha256(v[i].in, strlen(v[i].in), md);
        sg_hex_encode(md, sizeof md, hex);
        assert_string_equal(hex, v[i].hex);
    }
    uint8_t buf[300], want[32];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof buf; n++) {
        sg_sha256(buf, n, md);
        SHA256(buf, n, want);
        assert_memory_equal(md, want, sizeof md);
    }
}

static void test_thumbprint_vectors(void **state)
{
    (void)state;
    char t[SG_THUMBPRINT_LEN + 1];
    /* RFC 7638 §3.1, with its alg and kid members (which do not count). */
    assert_int_equal(thumb("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\","
                           "\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}",
                           t),
                     SIGNET_OK);
    assert_string_equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    /* Member order and extra members do not matter. */
    assert_int_equal(thumb("{\"e\":\"AQAB\",\"use\":\"sig\",\"n\":\"" RFC7638_N "\","
                           "\"kty\":\"RSA\",\"d\":\"private!\"}",
                           t),
                     SIGNET_OK);
    assert_string_equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    /* RFC 8037 Appendix A.3 (Ed25519). */
    assert_int_equal(thumb("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                           "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
                           t),
                     SIGNET_OK);
    assert_string_equal(t, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    assert_int_equal(strlen(t), SG_THUMBPRINT_LEN);
}

static void test_thumbprint_refusals(void **state)
{
    (void)state;
    char t[SG_THUMBPRINT_LEN + 1];
    static const struct {
        const char *jwk;
        signet_err want;
    } cases[] = {
        {"{\"kty\":\"oct\",\"k\":\"AAAA\"}", SIGNET_ERR_UNSUPPORTED},
        {"{\"kty\":\"rsa\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", SIGNET_ERR_UNSUPPORTED},
        {"{\"kty\":\"\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", SIGNET_ERR_UNSUPPORTED},
        {"{\"n\":\"AQAB\",\"e\":\"AQAB\"}", SIGNET_ERR_BAD_JWKS},
        {"{\"kty\":1,\"n\":\"AQAB\",\"e\":\"AQAB\"}", SIGNET_ERR_BAD_JWKS},
        {"{\"kty\":\"RSA\",\"n\":\"AQAB\"}", SIGNET_ERR_BAD_JWKS},
        {"{\"kty\":\"RSA\",\"e\":\"AQAB\"}", SIGNET_ERR_BAD_JWKS},
        {"{\"kty\":\"RSA\",\"n\":7,\"e\":\"AQAB\"}", SIGNET_ERR_BAD_JWKS},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"}", SIGNET_ERR_BAD_JWKS},
        {"{\"kty\":\"EC\",\"x\":\"AA\",\"y\":\"AA\"}", SIGNET_ERR_BAD_JWKS},
        {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}", SIGNET_ERR_BAD_JWKS},
        {"{\"kty\":\"OKP\",\"crv\":null,\"x\":\"AA\"}", SIGNET_ERR_BAD_JWKS},
        /* Values that would need JSON escaping in the canonical form. */
        {"{\"kty\":\"OKP\",\"crv\":\"Ed\\\"25519\",\"x\":\"AA\"}", SIGNET_ERR_BAD_JWKS},
        {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"A\\\\A\"}", SIGNET_ERR_BAD_JWKS},
        {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"A\\nA\"}", SIGNET_ERR_BAD_JWKS},
        {"[]", SIGNET_ERR_BAD_JWKS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        signet_err err = thumb(cases[i].jwk, t);
        if (err != cases[i].want)
            fail_msg("%s: got %d, want %d", cases[i].jwk, err, cases[i].want);
    }
    /* A member too large for the canonical buffer. */
    size_t n = 4000;
    char *jwk = malloc(n + 64);
    assert_non_null(jwk);
    int off = snprintf(jwk, 64, "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"");
    memset(jwk + off, 'A', n);
    memcpy(jwk + (size_t)off + n, "\"}", 3);
    assert_int_equal(thumb(jwk, t), SIGNET_ERR_TOO_LARGE);
    free(jwk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_getters_at_every_length),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_buf_fields),
        cmocka_unit_test(test_buf_str),
        cmocka_unit_test(test_wbuf_cap_and_sticky_error),
        cmocka_unit_test(test_wbuf_fields),
        cmocka_unit_test(test_b64url_roundtrip_0_to_64),
        cmocka_unit_test(test_b64url_rfc4648),
        cmocka_unit_test(test_b64url_strict),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_secret_read_file),
        cmocka_unit_test(test_thumbprint_vectors),
        cmocka_unit_test(test_thumbprint_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
