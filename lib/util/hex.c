#include "util/hex.h"

void sg_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int sg_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

signet_err sg_hex_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    if (n != 2 * cap)
        return SIGNET_ERR_MALFORMED;
    for (size_t i = 0; i < cap; i++) {
        int hi = sg_hex_digit((unsigned char)in[2 * i]);
        int lo = sg_hex_digit((unsigned char)in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return SIGNET_ERR_MALFORMED;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return SIGNET_OK;
}
