#ifndef SG_HEX_H
#define SG_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

/* Lower-case hex of n bytes into out (needs 2n+1 bytes). */
void sg_hex_encode(const uint8_t *in, size_t n, char *out);
/* The value of one hex digit (either case), or -1. */
int sg_hex_digit(int c);
/* Strict: exactly 2*cap hex digits. */
SIGNET_WUR signet_err sg_hex_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
