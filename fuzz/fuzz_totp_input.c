/* libFuzzer target: the TOTP enrolment page's pure parts (src/signetd/qr.c):
 * the typed code's parser, the otpauth URI builder and the QR code's SVG.
 *
 * Input: one byte choosing the URI's output size (caps[]), then text cut
 * at its first NUL. The whole text is a typed code; split at its first two
 * '\n' it is issuer, account and secret for sd_otpauth_uri; when at most
 * 128 bytes it is also encoded by sd_qr_svg.
 *
 * Properties checked (abort on violation):
 *   - sd_totp_code_parse is 0 exactly when the text without ASCII spaces
 *     is 6 ASCII digits or 3 digits, '-', 3 digits; then out is those 6
 *     digits in order, NUL-terminated; otherwise out is "";
 *   - sd_otpauth_uri is 0 exactly when issuer and account are non-empty,
 *     the secret is 1..128 of [A-Z2-7] and the URI fits: then the URI is
 *     "otpauth://totp/" enc(issuer) ":" enc(account) "?secret=" secret
 *     "&issuer=" enc(issuer) "&algorithm=SHA1&digits=6&period=30", with
 *     enc keeping RFC 3986's unreserved characters and %XX (upper-case)
 *     for every other byte; a smaller output gives the same URI or -1
 *     and "", never a truncation, and nothing is written past cap;
 *   - sd_qr_svg gives, for 1..128 bytes, an SVG made only of fixed markup
 *     and numbers: "<svg " ... "</svg>", its length returned, a square
 *     viewBox of 17 + 4v + 8 modules (v = 1..40), one <path>, no byte of
 *     the text outside [A-Za-z0-9 ="#:/.<>-]; NULL for "". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signetd/qr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILL 0xa5
#define TEXT_MAX 4096

static const size_t caps[] = {1, 8, 15, 16, 40, 64, 100, 128, 200, 256, 512, 4096};

static void check_code(const char *text)
{
    char out[7 + 8];
    memset(out, FILL, sizeof out);
    int rc = sd_totp_code_parse(text, out);
    for (size_t i = 7; i < sizeof out; i++)
        if ((unsigned char)out[i] != FILL)
            abort();
    /* The reference: strip spaces, then the two accepted shapes. */
    char t[TEXT_MAX + 1];
    size_t n = 0;
    for (const char *p = text; *p != '\0'; p++)
        if (*p != ' ')
            t[n++] = *p;
    t[n] = '\0';
    char want[7] = "";
    int ok = 0;
    if (n == 6 || n == 7) {
        ok = 1;
        size_t k = 0;
        for (size_t i = 0; i < n && ok; i++) {
            if (n == 7 && i == 3) {
                ok = t[i] == '-';
                continue;
            }
            ok = t[i] >= '0' && t[i] <= '9';
            if (ok)
                want[k++] = t[i];
        }
        want[6] = '\0';
        ok = ok && k == 6;
    }
    if (rc != (ok ? 0 : -1))
        abort();
    if (ok ? strcmp(out, want) != 0 : out[0] != '\0')
        abort();
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* enc(s) appended at *o (the reference encoder, unbounded buffer). */
static void enc(char *dst, size_t *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (unreserved(*p)) {
            dst[(*o)++] = (char)*p;
        } else {
            dst[(*o)++] = '%';
            dst[(*o)++] = hex[*p >> 4];
            dst[(*o)++] = hex[*p & 15];
        }
    }
    dst[*o] = '\0';
}

static void raw(char *dst, size_t *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(dst + *o, s, n + 1);
    *o += n;
}

static void check_uri(char *text, size_t cap)
{
    /* issuer \n account \n secret */
    char *issuer = text, *account = text + strlen(text), *secret = account;
    char *nl = strchr(issuer, '\n');
    if (nl != NULL) {
        *nl = '\0';
        account = nl + 1;
        nl = strchr(account, '\n');
        if (nl != NULL) {
            *nl = '\0';
            secret = nl + 1;
        }
    }
    size_t sl = strlen(secret);
    int valid = issuer[0] != '\0' && account[0] != '\0' && sl >= 1 && sl <= 128;
    for (size_t i = 0; i < sl && valid; i++)
        valid = (secret[i] >= 'A' && secret[i] <= 'Z') || (secret[i] >= '2' && secret[i] <= '7');
    static char want[3 * 3 * TEXT_MAX + 256];
    size_t o = 0;
    raw(want, &o, "otpauth://totp/");
    enc(want, &o, issuer);
    raw(want, &o, ":");
    enc(want, &o, account);
    raw(want, &o, "?secret=");
    raw(want, &o, secret);
    raw(want, &o, "&issuer=");
    enc(want, &o, issuer);
    raw(want, &o, "&algorithm=SHA1&digits=6&period=30");
    const size_t caps_used[2] = {cap, sizeof want};
    for (int j = 0; j < 2; j++) {
        size_t c = caps_used[j];
        char *out = malloc(c + 16);
        if (out == NULL)
            return;
        memset(out, FILL, c + 16);
        int rc = sd_otpauth_uri(out, c, issuer, account, secret);
        for (size_t i = c; i < c + 16; i++)
            if ((unsigned char)out[i] != FILL)
                abort();
        int fits = o < c;
        if (rc != (valid && fits ? 0 : -1))
            abort();
        if (rc == 0 ? strcmp(out, want) != 0 : out[0] != '\0')
            abort();
        free(out);
    }
}

static int svg_byte(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == ' ' || c == '=' || c == '"' || c == '#' || c == ':' || c == '/' || c == '.' ||
           c == '<' || c == '>' || c == '-';
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + k, needle))
        n++;
    return n;
}

static void check_svg(const char *text)
{
    size_t tl = strlen(text), len = 12345;
    char *svg = sd_qr_svg(text, &len);
    if (tl == 0) {
        if (svg != NULL || len != 0)
            abort();
        return;
    }
    if (svg == NULL || len != strlen(svg)) /* 128 bytes always fit a symbol */
        abort();
    if (strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ", 53) != 0 ||
        len < 6 || strcmp(svg + len - 6, "</svg>") != 0)
        abort();
    for (size_t i = 0; i < len; i++)
        if (!svg_byte((unsigned char)svg[i]))
            abort();
    if (count(svg, "<path") != 1 || count(svg, "<svg") != 1 || count(svg, "<") != 6)
        abort();
    char *end = NULL;
    unsigned long s1 = strtoul(svg + 53, &end, 10);
    if (end == NULL || *end != ' ')
        abort();
    unsigned long s2 = strtoul(end + 1, &end, 10);
    if (s1 != s2 || s1 < 17 + 4 + 2 * SD_QR_QUIET || s1 > 177 + 2 * SD_QR_QUIET ||
        (s1 - 17 - 2 * SD_QR_QUIET) % 4 != 0)
        abort();
    free(svg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cap = caps[data[0] % (sizeof caps / sizeof caps[0])];
    data++;
    size--;
    if (size > TEXT_MAX)
        size = TEXT_MAX;
    char text[TEXT_MAX + 1];
    memcpy(text, data, size);
    text[size] = '\0'; /* cut at the first NUL, as a JSON string gives it */
    check_code(text);
    if (strlen(text) <= 128)
        check_svg(text);
    check_uri(text, cap); /* last: it splits text in place */
    return 0;
}
