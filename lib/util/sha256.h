#ifndef SG_SHA256_H
#define SG_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 of n bytes. Same result as OpenSSL's SHA256(), without its
 * algorithm fetch on every call (a third of the cost for a few hundred
 * bytes): the digest is fetched once per process. Thread-safe. */
void sg_sha256(const void *in, size_t n, uint8_t out[32]);

#endif
