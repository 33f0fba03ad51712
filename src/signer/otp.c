#include "signer/otp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "util/secret.h"

signet_err sg_otp_hotp(const uint8_t *key, size_t key_len, uint64_t counter, unsigned digits,
                       char out[static SG_OTP_MAX_DIGITS + 1])
{
    static const uint32_t pow10[SG_OTP_MAX_DIGITS + 1] = {1u, 10u, 100u, 1000u, 10000u,
                                                          100000u, 1000000u, 10000000u,
                                                          100000000u};
    out[0] = '\0';
    if (key == NULL || key_len == 0 || digits < 6 || digits > SG_OTP_MAX_DIGITS)
        return SIGNET_ERR_INVALID_ARG;
    /* RFC 4226 §5.2: the counter is 8 bytes, big-endian. */
    uint8_t msg[8];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(counter >> (8u * (7u - i)));
    uint8_t mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    signet_err err = SIGNET_OK;
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, key, key_len, msg, sizeof msg, mac,
                  sizeof mac, &mac_len) == NULL ||
        mac_len != 20) {
        err = SIGNET_ERR_CRYPTO;
        goto out;
    }
    /* §5.3 dynamic truncation: 31 bits at the offset the last nibble names. */
    const unsigned off = mac[19] & 0x0fu;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7fu) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    uint32_t code = bin % pow10[digits];
    sg_wipe(&bin, sizeof bin);
    for (unsigned i = digits; i > 0; i--) {
        out[i - 1] = (char)('0' + code % 10u);
        code /= 10u;
    }
    out[digits] = '\0';
    sg_wipe(&code, sizeof code);
out:
    sg_wipe(mac, sizeof mac);
    sg_wipe(msg, sizeof msg);
    return err;
}

int64_t sg_otp_step(int64_t now)
{
    return now < 0 ? -1 : now / SG_OTP_PERIOD;
}

int sg_otp_code_eq(const char a[static SG_OTP_DIGITS], const char b[static SG_OTP_DIGITS])
{
    return CRYPTO_memcmp(a, b, SG_OTP_DIGITS) == 0;
}

int sg_otp_code_valid(const char *s)
{
    if (s == NULL)
        return 0;
    for (size_t i = 0; i < SG_OTP_DIGITS; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return s[SG_OTP_DIGITS] == '\0';
}

size_t sg_otp_base32_len(size_t n)
{
    return n / 5u * 8u + (n % 5u * 8u + 4u) / 5u;
}

signet_err sg_otp_base32(const uint8_t *in, size_t n, char *out, size_t cap)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    if (n > (SIZE_MAX - 8u) / 8u || cap < sg_otp_base32_len(n) + 1u)
        return SIGNET_ERR_TOO_LARGE;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = alphabet[(acc >> bits) & 31u];
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (5u - bits)) & 31u];
    out[o] = '\0';
    sg_wipe(&acc, sizeof acc);
    return SIGNET_OK;
}
