/* The TOTP enrolment page's pure parts (qr.h): a QR code as SVG, the
 * otpauth:// URI, and the typed code's parser. */
#include "signetd/qr.h"

#include <qrencode.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/secret.h"

/* ---- the SVG -------------------------------------------------------------- */

/* An output that only counts (p == NULL) or writes into cap bytes. */
struct svg_out {
    char *p;
    size_t len, cap;
    int failed;
};

static void out_put(struct svg_out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->p != NULL) {
        if (n >= o->cap - o->len) { /* room for n and the NUL */
            o->failed = 1;
            return;
        }
        memcpy(o->p + o->len, s, n);
        o->p[o->len + n] = '\0';
    }
    o->len += n;
}

static void out_str(struct svg_out *o, const char *s)
{
    out_put(o, s, strlen(s));
}

static void out_num(struct svg_out *o, unsigned v)
{
    char d[16];
    int n = snprintf(d, sizeof d, "%u", v);
    if (n < 0 || (size_t)n >= sizeof d) {
        o->failed = 1;
        return;
    }
    out_put(o, d, (size_t)n);
}

static int dark(const QRcode *q, unsigned x, unsigned y)
{
    return (q->data[(size_t)y * (unsigned)q->width + x] & 1u) != 0;
}

static void svg_write(struct svg_out *o, const QRcode *q)
{
    const unsigned w = (unsigned)q->width;
    const unsigned s = w + 2u * SD_QR_QUIET;
    out_str(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ");
    out_num(o, s);
    out_str(o, " ");
    out_num(o, s);
    out_str(o, "\" width=\"");
    out_num(o, s * SD_QR_MODULE_PX);
    out_str(o, "\" height=\"");
    out_num(o, s * SD_QR_MODULE_PX);
    out_str(o, "\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code\">"
               "<rect width=\"");
    out_num(o, s);
    out_str(o, "\" height=\"");
    out_num(o, s);
    out_str(o, "\" fill=\"#fff\"></rect><path fill=\"#000\" d=\"");
    const char *sep = "";
    for (unsigned y = 0; y < w; y++) {
        for (unsigned x = 0; x < w;) {
            if (!dark(q, x, y)) {
                x++;
                continue;
            }
            unsigned run = 1;
            while (x + run < w && dark(q, x + run, y))
                run++;
            out_str(o, sep);
            out_str(o, "M");
            out_num(o, x + SD_QR_QUIET);
            out_str(o, " ");
            out_num(o, y + SD_QR_QUIET);
            out_str(o, "h");
            out_num(o, run);
            out_str(o, "v1h-");
            out_num(o, run);
            out_str(o, "z");
            sep = " ";
            x += run;
        }
    }
    out_str(o, "\"></path></svg>");
}

char *sd_qr_svg(const char *text, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (text == NULL || text[0] == '\0' || strnlen(text, SD_QR_TEXT_MAX + 1) > SD_QR_TEXT_MAX)
        return NULL;
    /* Version 0: the smallest that holds text; byte mode for anything that
     * is not digits or upper-case alphanumerics; case kept. */
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (q == NULL)
        return NULL;
    char *svg = NULL;
    if (q->width < 21 || q->width > 177 || q->data == NULL)
        goto out; /* versions 1..40 only */
    struct svg_out count = {0};
    svg_write(&count, q); /* pass 1: the length */
    if (count.failed || count.len >= SIZE_MAX)
        goto out;
    svg = malloc(count.len + 1);
    if (svg == NULL)
        goto out;
    struct svg_out o = {svg, 0, count.len + 1, 0};
    svg_write(&o, q); /* pass 2: the same bytes */
    if (o.failed || o.len != count.len) {
        free(svg);
        svg = NULL;
        goto out;
    }
    if (len != NULL)
        *len = o.len;
out:
    /* The modules encode the text (an otpauth URI holds the secret). */
    if (q->data != NULL && q->width > 0)
        sg_wipe(q->data, (size_t)q->width * (size_t)q->width);
    QRcode_free(q);
    return svg;
}

/* ---- the otpauth URI ------------------------------------------------------- */

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends s to out at *o: as is (raw) or percent-encoded. -1 when out is
 * too small (room is kept for the NUL). */
static int uri_put(char *out, size_t cap, size_t *o, const char *s, int encode)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        size_t n = !encode || unreserved(*p) ? 1 : 3;
        if (n >= cap - *o)
            return -1;
        if (n == 1) {
            out[(*o)++] = (char)*p;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[*p >> 4];
            out[(*o)++] = hex[*p & 0x0f];
        }
    }
    out[*o] = '\0';
    return 0;
}

static int base32_ok(const char *s)
{
    size_t n = strnlen(s, 129);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '2' && s[i] <= '7')))
            return 0;
    return 1;
}

int sd_otpauth_uri(char *out, size_t cap, const char *issuer_label, const char *account,
                   const char *secret_b32)
{
    if (out == NULL || cap == 0)
        return -1;
    out[0] = '\0';
    if (issuer_label == NULL || issuer_label[0] == '\0' || account == NULL ||
        account[0] == '\0' || secret_b32 == NULL || !base32_ok(secret_b32))
        return -1;
    size_t o = 0;
    /* Key Uri Format: the label is "issuer:account", the ':' literal and
     * any ':' inside either part encoded; the issuer parameter repeats
     * the issuer for apps that read only that. */
    if (uri_put(out, cap, &o, "otpauth://totp/", 0) != 0 ||
        uri_put(out, cap, &o, issuer_label, 1) != 0 || uri_put(out, cap, &o, ":", 0) != 0 ||
        uri_put(out, cap, &o, account, 1) != 0 || uri_put(out, cap, &o, "?secret=", 0) != 0 ||
        uri_put(out, cap, &o, secret_b32, 0) != 0 || uri_put(out, cap, &o, "&issuer=", 0) != 0 ||
        uri_put(out, cap, &o, issuer_label, 1) != 0 ||
        uri_put(out, cap, &o, "&algorithm=SHA1&digits=6&period=30", 0) != 0) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* ---- a typed code ----------------------------------------------------------- */

int sd_totp_code_parse(const char *typed, char out[static 7])
{
    char t[8]; /* the text without spaces: "123456" or "123-456" */
    char d[7];
    size_t n = 0, k = 0;
    out[0] = '\0';
    if (typed == NULL)
        return -1;
    for (const unsigned char *p = (const unsigned char *)typed; *p != '\0'; p++) {
        if (*p == ' ')
            continue;
        if (!((*p >= '0' && *p <= '9') || *p == '-') || n == 7)
            return -1; /* another character, non-ASCII included, or too long */
        t[n++] = (char)*p;
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i] != '-') {
            if (k == 6)
                return -1;
            d[k++] = t[i];
        } else if (n != 7 || i != 3) {
            return -1; /* one '-', in the middle only */
        }
    }
    if (k != 6)
        return -1;
    memcpy(out, d, 6);
    out[6] = '\0';
    return 0;
}
