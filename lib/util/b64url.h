/* base64url without padding (RFC 7515 §2, RFC 4648 §5), strict on decode. */
#ifndef SG_B64URL_H
#define SG_B64URL_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

size_t sg_b64url_encoded_len(size_t n);
/* Writes sg_b64url_encoded_len(n) characters plus a NUL into out (cap bytes). */
SIGNET_WUR signet_err sg_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Allocating variant; *out is NUL-terminated. */
SIGNET_WUR signet_err sg_b64url_encode_alloc(const uint8_t *in, size_t n, char **out);
/* Strict: only [A-Za-z0-9_-], no padding, no whitespace, length mod 4 != 1,
 * and unused trailing bits must be zero (one encoding per value). Writes at
 * most cap bytes into out; *out_len gets the decoded size. */
SIGNET_WUR signet_err sg_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap,
                                       size_t *out_len);
size_t sg_b64url_decoded_max(size_t n);

#endif
