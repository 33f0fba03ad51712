/* Secret buffers: page-locked, excluded from core dumps, wiped on free. */
#ifndef SG_SECRET_H
#define SG_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

struct sg_secret {
    uint8_t *data; /* NUL-terminated for convenience (data[len] == 0) */
    size_t len;
    size_t cap;
    size_t map_len;
};

SIGNET_WUR signet_err sg_secret_new(size_t cap, struct sg_secret **out);
/* Wipes, unlocks and unmaps; sets *s to NULL. Safe on NULL. */
void sg_secret_free(struct sg_secret **s);
/* Reads a secret file (at most max bytes, one trailing newline stripped).
 * Refuses files readable or writable by group or others, and symlinks. */
SIGNET_WUR signet_err sg_secret_read_file(const char *path, size_t max, struct sg_secret **out);
/* Reads a secret from an open descriptor until EOF. */
SIGNET_WUR signet_err sg_secret_read_fd(int fd, size_t max, struct sg_secret **out);
/* Writes exactly len bytes to a new file created 0600 (fails if it exists). */
SIGNET_WUR signet_err sg_secret_write_file(const char *path, const uint8_t *data, size_t len);
/* A random printable secret of n characters (alphabet of 64 symbols). */
SIGNET_WUR signet_err sg_secret_random_text(size_t n, struct sg_secret **out);
/* Wipe memory in a way the compiler will not elide. */
void sg_wipe(void *p, size_t n);

#endif
