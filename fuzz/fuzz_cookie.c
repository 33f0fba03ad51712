/* libFuzzer target: the Cookie header parser of the people's pages
 * (src/signetd/authzreq.c sd_cookie_get, sd_cookie_token), which reads the
 * CSRF cookie and the session cookies.
 *
 * Input: one byte choosing the cookie name (low 2 bits) and the output's
 * size (bits 2-4), then the header value, cut at its first NUL as signetd
 * gets it.
 *
 * Properties checked (abort on violation):
 *   - on 0: the value is terminated, non-empty, shorter than the buffer,
 *     without ';' or a trailing space, and is the header's first cookie of
 *     that name (a pair starting after the header's start, a ';' or spaces),
 *     right after "name=", followed by spaces only up to ';' or the end;
 *   - on -1: the first such cookie is absent, empty or does not fit;
 *   - nothing is written past the output's size;
 *   - sd_cookie_token is 1 exactly for 43 base64url characters, on the
 *     value and on the header itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signetd/authzreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILL 0xa5

static const char *const names[] = {
    "__Host-signet-csrf",
    "__Host-signet-default",
    "__Host-signet-a",  /* a tenant "a" ... */
    "__Host-signet-ab", /* ... and one whose cookie it prefixes */
};

/* The sizes signetd uses (64) and edges around a token's 43 characters. */
static const size_t caps[] = {1, 2, 8, 43, 44, 64, 96, 4096};

static int token(const char *v)
{
    size_t n = strlen(v);
    if (n != 43)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return 0;
    }
    return 1;
}

/* The first pair of the header named name: its value's start and length
 * (trailing spaces dropped). 0 when there is none. Pairs are split at ';'
 * and start after any spaces and empty pairs (RFC 6265 §5.4, as browsers
 * send it: "a=1; b=2"). */
static int first_pair(const char *h, const char *name, size_t *start, size_t *len)
{
    size_t hl = strlen(h), nl = strlen(name);
    size_t i = 0;
    while (i < hl) {
        while (i < hl && (h[i] == ' ' || h[i] == ';'))
            i++;
        size_t end = i;
        while (end < hl && h[end] != ';')
            end++;
        if (end - i > nl && memcmp(h + i, name, nl) == 0 && h[i + nl] == '=') {
            size_t v = i + nl + 1, e = end;
            while (e > v && h[e - 1] == ' ')
                e--;
            *start = v;
            *len = e - v;
            return 1;
        }
        i = end;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    const char *name = names[data[0] & 3];
    const size_t cap = caps[(data[0] >> 2) & 7];
    char *header = malloc(size);
    char *out = malloc(cap + 16);
    if (header == NULL || out == NULL)
        goto out;
    memcpy(header, data + 1, size - 1);
    header[size - 1] = '\0';

    memset(out, FILL, cap + 16);
    size_t start = 0, len = 0;
    int found = first_pair(header, name, &start, &len);
    int rc = sd_cookie_get(header, name, out, cap);
    if (rc == 0) {
        size_t n = strnlen(out, cap);
        if (n == cap || n == 0 || strchr(out, ';') != NULL || out[n - 1] == ' ')
            abort();
        if (!found || len != n || memcmp(header + start, out, n) != 0)
            abort();
        if (start < strlen(name) + 1 ||
            memcmp(header + start - strlen(name) - 1, name, strlen(name)) != 0 ||
            header[start - 1] != '=')
            abort();
        if (sd_cookie_token(out) != token(out))
            abort();
    } else if (rc == -1) {
        if (found && len > 0 && len < cap)
            abort();
    } else {
        abort();
    }
    for (size_t i = cap; i < cap + 16; i++) /* nothing written past cap */
        if ((unsigned char)out[i] != FILL)
            abort();
    if (sd_cookie_token(header) != token(header))
        abort();
    if (sd_cookie_get(NULL, name, out, cap) != -1)
        abort();
out:
    free(out);
    free(header);
    return 0;
}
