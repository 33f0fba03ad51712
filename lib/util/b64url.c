#include "util/b64url.h"

#include <stdlib.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t sg_b64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t sg_b64url_decoded_max(size_t n)
{
    return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1 + (n % 4 == 1));
}

signet_err sg_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    if (n > (SIZE_MAX - 4) / 4 * 3 || sg_b64url_encoded_len(n) >= cap)
        return SIGNET_ERR_TOO_LARGE;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return SIGNET_OK;
}

signet_err sg_b64url_encode_alloc(const uint8_t *in, size_t n, char **out)
{
    if (n > (SIZE_MAX - 4) / 4 * 3)
        return SIGNET_ERR_TOO_LARGE;
    size_t cap = sg_b64url_encoded_len(n) + 1;
    char *s = malloc(cap);
    if (s == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err err = sg_b64url_encode(in, n, s, cap);
    if (err != SIGNET_OK) {
        free(s);
        return err;
    }
    *out = s;
    return SIGNET_OK;
}

/* Decoding table: the 6-bit value of each base64url character, 0xff for
 * every other byte (a table instead of comparisons: decoding sits on the
 * verify path, once per token part). */
#define X 0xff
static const uint8_t values[256] = {
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x00 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x10 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  /* 0x20 '-' */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  /* 0x30 0-9 */
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 0x40 A-O */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  63, /* 0x50 P-Z '_' */
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 a-o */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  /* 0x70 p-z */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x80.. */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
};
#undef X

signet_err sg_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    if (n % 4 == 1)
        return SIGNET_ERR_BAD_BASE64;
    size_t need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (need > cap)
        return SIGNET_ERR_TOO_LARGE;
    const uint8_t *p = (const uint8_t *)in;
    size_t o = 0, i = 0;
    /* Whole quanta: four characters, three bytes. */
    for (; i + 4 <= n; i += 4) {
        uint32_t a = values[p[i]], b = values[p[i + 1]], c = values[p[i + 2]],
                 d = values[p[i + 3]];
        if ((a | b | c | d) & 0xc0)
            return SIGNET_ERR_BAD_BASE64;
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    /* The tail: two characters give one byte, three give two. */
    if (n - i >= 2) {
        uint32_t a = values[p[i]], b = values[p[i + 1]];
        uint32_t c = n - i == 3 ? values[p[i + 2]] : 0;
        if ((a | b | c) & 0xc0)
            return SIGNET_ERR_BAD_BASE64;
        uint32_t v = a << 18 | b << 12 | c << 6;
        /* RFC 4648 §3.5: the unused bits must be zero (canonical encoding). */
        if ((n - i == 2 && (v & 0xffff)) || (n - i == 3 && (v & 0xff)))
            return SIGNET_ERR_BAD_BASE64;
        out[o++] = (uint8_t)(v >> 16);
        if (n - i == 3)
            out[o++] = (uint8_t)(v >> 8);
    }
    *out_len = o;
    return SIGNET_OK;
}
