/* Bounded byte buffers: a reader with a cursor for untrusted input, and a
 * growable writer with a size cap fixed at creation. */
#ifndef SG_BUF_H
#define SG_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

struct sg_buf {
    const uint8_t *data;
    size_t len;
    size_t pos;
};

void sg_buf_init(struct sg_buf *b, const void *data, size_t len);
size_t sg_buf_remaining(const struct sg_buf *b);
SIGNET_WUR signet_err sg_buf_get_u8(struct sg_buf *b, uint8_t *out);
SIGNET_WUR signet_err sg_buf_get_u16(struct sg_buf *b, uint16_t *out);
SIGNET_WUR signet_err sg_buf_get_u32(struct sg_buf *b, uint32_t *out);
SIGNET_WUR signet_err sg_buf_get_u64(struct sg_buf *b, uint64_t *out);
/* Borrow n bytes from the buffer (no copy). */
SIGNET_WUR signet_err sg_buf_get_bytes(struct sg_buf *b, size_t n, const uint8_t **out);
/* A u16-length-prefixed field of at most max bytes (borrowed, not NUL-terminated). */
SIGNET_WUR signet_err sg_buf_get_field(struct sg_buf *b, size_t max, const uint8_t **out,
                                       size_t *out_len);
/* Same, copied into a fresh NUL-terminated string; rejects embedded NULs. */
SIGNET_WUR signet_err sg_buf_get_str(struct sg_buf *b, size_t max, char **out);

struct sg_wbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
    signet_err err; /* sticky: the first failure */
};

void sg_wbuf_init(struct sg_wbuf *w, size_t max);
void sg_wbuf_free(struct sg_wbuf *w);
void sg_wbuf_reset(struct sg_wbuf *w);
void sg_wbuf_put_u8(struct sg_wbuf *w, uint8_t v);
void sg_wbuf_put_u16(struct sg_wbuf *w, uint16_t v);
void sg_wbuf_put_u32(struct sg_wbuf *w, uint32_t v);
void sg_wbuf_put_u64(struct sg_wbuf *w, uint64_t v);
void sg_wbuf_put_bytes(struct sg_wbuf *w, const void *p, size_t n);
/* u16 length prefix, then the bytes. */
void sg_wbuf_put_field(struct sg_wbuf *w, const void *p, size_t n);
void sg_wbuf_put_str(struct sg_wbuf *w, const char *s);
/* Overwrite 4 bytes at off (for length fields written after the fact). */
void sg_wbuf_patch_u32(struct sg_wbuf *w, size_t off, uint32_t v);

#endif
