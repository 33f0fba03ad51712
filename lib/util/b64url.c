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

static int value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

signet_err sg_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    if (n % 4 == 1)
        return SIGNET_ERR_BAD_BASE64;
    size_t need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (need > cap)
        return SIGNET_ERR_TOO_LARGE;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = value(in[i]);
        if (v < 0)
            return SIGNET_ERR_BAD_BASE64;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* RFC 4648 §3.5: the leftover bits must be zero for a canonical encoding. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return SIGNET_ERR_BAD_BASE64;
    *out_len = o;
    return SIGNET_OK;
}
