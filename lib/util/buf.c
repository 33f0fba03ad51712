#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

void sg_buf_init(struct sg_buf *b, const void *data, size_t len)
{
    b->data = data;
    b->len = data != NULL ? len : 0;
    b->pos = 0;
}

size_t sg_buf_remaining(const struct sg_buf *b)
{
    return b->len - b->pos;
}

signet_err sg_buf_get_bytes(struct sg_buf *b, size_t n, const uint8_t **out)
{
    if (n > sg_buf_remaining(b))
        return SIGNET_ERR_MALFORMED;
    *out = b->data + b->pos;
    b->pos += n;
    return SIGNET_OK;
}

signet_err sg_buf_get_u8(struct sg_buf *b, uint8_t *out)
{
    const uint8_t *p = NULL;
    signet_err err = sg_buf_get_bytes(b, 1, &p);
    if (err == SIGNET_OK)
        *out = p[0];
    return err;
}

signet_err sg_buf_get_u16(struct sg_buf *b, uint16_t *out)
{
    const uint8_t *p = NULL;
    signet_err err = sg_buf_get_bytes(b, 2, &p);
    if (err == SIGNET_OK)
        *out = (uint16_t)((unsigned)p[0] << 8 | p[1]);
    return err;
}

signet_err sg_buf_get_u32(struct sg_buf *b, uint32_t *out)
{
    const uint8_t *p = NULL;
    signet_err err = sg_buf_get_bytes(b, 4, &p);
    if (err == SIGNET_OK)
        *out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return err;
}

signet_err sg_buf_get_u64(struct sg_buf *b, uint64_t *out)
{
    if (sg_buf_remaining(b) < 8)
        return SIGNET_ERR_MALFORMED; /* leave the cursor where it was */
    uint32_t hi = 0, lo = 0;
    signet_err err = sg_buf_get_u32(b, &hi);
    if (err == SIGNET_OK)
        err = sg_buf_get_u32(b, &lo);
    if (err == SIGNET_OK)
        *out = (uint64_t)hi << 32 | lo;
    return err;
}

signet_err sg_buf_get_field(struct sg_buf *b, size_t max, const uint8_t **out, size_t *out_len)
{
    uint16_t n = 0;
    signet_err err = sg_buf_get_u16(b, &n);
    if (err != SIGNET_OK)
        return err;
    if (n > max)
        return SIGNET_ERR_TOO_LARGE;
    err = sg_buf_get_bytes(b, n, out);
    if (err == SIGNET_OK)
        *out_len = n;
    return err;
}

signet_err sg_buf_get_str(struct sg_buf *b, size_t max, char **out)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    signet_err err = sg_buf_get_field(b, max, &p, &n);
    if (err != SIGNET_OK)
        return err;
    if (n > 0 && memchr(p, 0, n) != NULL)
        return SIGNET_ERR_MALFORMED;
    char *s = malloc(n + 1);
    if (s == NULL)
        return SIGNET_ERR_NOMEM;
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    *out = s;
    return SIGNET_OK;
}

void sg_wbuf_init(struct sg_wbuf *w, size_t max)
{
    w->data = NULL;
    w->len = 0;
    w->cap = 0;
    w->max = max;
    w->err = SIGNET_OK;
}

void sg_wbuf_free(struct sg_wbuf *w)
{
    if (w->data != NULL)
        memset(w->data, 0, w->cap);
    free(w->data);
    sg_wbuf_init(w, w->max);
}

void sg_wbuf_reset(struct sg_wbuf *w)
{
    w->len = 0;
    w->err = SIGNET_OK;
}

static int reserve(struct sg_wbuf *w, size_t n)
{
    if (w->err != SIGNET_OK)
        return -1;
    if (n > w->max || w->len > w->max - n) {
        w->err = SIGNET_ERR_TOO_LARGE;
        return -1;
    }
    size_t need = w->len + n;
    if (need <= w->cap)
        return 0;
    size_t cap = w->cap != 0 ? w->cap : 256;
    while (cap < need)
        cap = cap > w->max / 2 ? w->max : cap * 2;
    uint8_t *p = realloc(w->data, cap);
    if (p == NULL) {
        w->err = SIGNET_ERR_NOMEM;
        return -1;
    }
    w->data = p;
    w->cap = cap;
    return 0;
}

void sg_wbuf_put_bytes(struct sg_wbuf *w, const void *p, size_t n)
{
    if (n == 0 || reserve(w, n) != 0)
        return;
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

void sg_wbuf_put_u8(struct sg_wbuf *w, uint8_t v)
{
    sg_wbuf_put_bytes(w, &v, 1);
}

void sg_wbuf_put_u16(struct sg_wbuf *w, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    sg_wbuf_put_bytes(w, p, sizeof p);
}

void sg_wbuf_put_u32(struct sg_wbuf *w, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    sg_wbuf_put_bytes(w, p, sizeof p);
}

void sg_wbuf_put_u64(struct sg_wbuf *w, uint64_t v)
{
    sg_wbuf_put_u32(w, (uint32_t)(v >> 32));
    sg_wbuf_put_u32(w, (uint32_t)v);
}

void sg_wbuf_put_field(struct sg_wbuf *w, const void *p, size_t n)
{
    if (n > UINT16_MAX) {
        if (w->err == SIGNET_OK)
            w->err = SIGNET_ERR_TOO_LARGE;
        return;
    }
    sg_wbuf_put_u16(w, (uint16_t)n);
    sg_wbuf_put_bytes(w, p, n);
}

void sg_wbuf_put_str(struct sg_wbuf *w, const char *s)
{
    sg_wbuf_put_field(w, s, s != NULL ? strlen(s) : 0);
}

void sg_wbuf_patch_u32(struct sg_wbuf *w, size_t off, uint32_t v)
{
    if (w->err != SIGNET_OK || off > w->len || w->len - off < 4)
        return;
    w->data[off] = (uint8_t)(v >> 24);
    w->data[off + 1] = (uint8_t)(v >> 16);
    w->data[off + 2] = (uint8_t)(v >> 8);
    w->data[off + 3] = (uint8_t)v;
}
