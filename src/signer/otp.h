/* One-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238) arithmetic with
 * HMAC-SHA-1, and the base32 form (RFC 4648 §6) authenticator apps take a
 * seed in. Pure functions: no HSM, no state, no clock. */
#ifndef SG_OTP_H
#define SG_OTP_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

#define SG_OTP_SEED_LEN 20 /* RFC 4226 §4 R6: 160 bits, the HMAC-SHA-1 output size */
#define SG_OTP_DIGITS 6
#define SG_OTP_PERIOD 30   /* RFC 6238 §4.1 X, with T0 = 0 */
#define SG_OTP_MAX_DIGITS 8

/* RFC 4226 §5.3: HOTP(key, counter) with dynamic truncation, as digits
 * (6..8) decimal digits, NUL-terminated. SIGNET_ERR_INVALID_ARG for other
 * digit counts or an empty key; SIGNET_ERR_CRYPTO if the MAC fails. */
SIGNET_WUR signet_err sg_otp_hotp(const uint8_t *key, size_t key_len, uint64_t counter,
                                  unsigned digits, char out[static SG_OTP_MAX_DIGITS + 1]);

/* RFC 6238 §4.2: the time step of unix time now (T0 = 0, X = 30 s);
 * -1 for a time before the epoch. */
int64_t sg_otp_step(int64_t now);

/* Whether two codes of SG_OTP_DIGITS digits are equal, in time independent
 * of where they differ. */
int sg_otp_code_eq(const char a[static SG_OTP_DIGITS], const char b[static SG_OTP_DIGITS]);

/* Whether s is exactly SG_OTP_DIGITS ASCII digits. */
int sg_otp_code_valid(const char *s);

/* RFC 4648 §6 base32 (upper case, no padding: authenticator apps and
 * oathtool -b take it so) of n bytes: sg_otp_base32_len(n) characters plus
 * a NUL into out (cap bytes), else SIGNET_ERR_TOO_LARGE. */
size_t sg_otp_base32_len(size_t n);
SIGNET_WUR signet_err sg_otp_base32(const uint8_t *in, size_t n, char *out, size_t cap);

#endif
