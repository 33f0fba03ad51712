#include "json.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

signet_err sg_json_check_depth(const uint8_t *data, size_t len, unsigned max_depth)
{
    unsigned depth = 0;
    int in_string = 0, escaped = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (in_string) {
            if (escaped) {
                escaped = 0;
                continue;
            }
            /* Skip ordinary string bytes in a tight loop. */
            while (c != '\\' && c != '"' && i + 1 < len)
                c = data[++i];
            if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return SIGNET_ERR_JSON_TOO_DEEP;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return SIGNET_ERR_BAD_JSON;
            depth--;
        }
    }
    return SIGNET_OK;
}

/* A strict RFC 8259 parser that builds jansson values. It replaces
 * json_loadb on the verify path, where jansson's byte-at-a-time lexer cost
 * more than 5 µs for a 420-byte claims set (8% of an ES256 verification);
 * building the same values directly costs a tenth of that. It accepts
 * exactly what json_loadb(JSON_REJECT_DUPLICATES) accepts: an object or
 * array at the top, no trailing bytes, strings of valid UTF-8 without
 * control characters or \u0000, paired surrogates, integers within
 * json_int_t, no duplicate member names. Real numbers are rare in tokens
 * and are handed to jansson itself, so their rounding and range are
 * jansson's. One deliberate difference: jansson skips a NUL byte that
 * directly follows a number (a quirk of its stream buffer) and so accepts
 * {"a":1\0}; this parser refuses a raw NUL anywhere, as RFC 8259 does.
 * bench/tools/json_equiv.c checks that the two agree on everything else. */
struct jparser {
    const uint8_t *p;
    const uint8_t *end;
    unsigned depth;
    signet_err err;
};

static json_t *parse_value(struct jparser *j);

static json_t *fail(struct jparser *j, signet_err err)
{
    if (j->err == SIGNET_OK)
        j->err = err;
    return NULL;
}

static void skip_ws(struct jparser *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits after "\u", before end; -1 if malformed. */
static long read_u16(struct jparser *j, const uint8_t *end)
{
    if (end - j->p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(j->p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    j->p += 4;
    return v;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629 §4: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf; /* bounds for the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

static size_t put_utf8(uint8_t *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the escapes of a string body (RFC 8259 §7) into out, which has
 * room for at least as many bytes as the body (escapes only shrink). */
static int unescape(struct jparser *j, const uint8_t *end, uint8_t *out, size_t *out_len)
{
    size_t o = 0;
    while (j->p < end) {
        if (*j->p != '\\') {
            out[o++] = *j->p++;
            continue;
        }
        j->p++;
        uint8_t c = *j->p++;
        switch (c) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            long cp = read_u16(j, end);
            if (cp <= 0 || (cp >= 0xdc00 && cp <= 0xdfff))
                return -1; /* malformed, \u0000, or a lone low surrogate */
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
                    return -1;
                j->p += 2;
                long lo = read_u16(j, end);
                if (lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            o += put_utf8(out + o, (unsigned long)cp);
            break;
        }
        default: return -1;
        }
    }
    *out_len = o;
    return 0;
}

/* A string at j->p (the opening quote). *s and *n give its decoded bytes:
 * pointing into the input when it has no escapes, else into *heap (freed
 * by the caller). */
static int parse_string(struct jparser *j, const char **s, size_t *n, uint8_t **heap)
{
    *heap = NULL;
    const uint8_t *start = ++j->p;
    int escaped = 0;
    while (j->p < j->end && *j->p != '"') {
        uint8_t c = *j->p;
        if (c < 0x20)
            return -1; /* control characters must be escaped */
        if (c == '\\') {
            escaped = 1;
            if (j->end - j->p < 2)
                return -1;
            j->p += 2; /* the escape itself is checked by unescape */
            continue;
        }
        size_t len = utf8_len(j->p, j->end);
        if (len == 0)
            return -1;
        j->p += len;
    }
    if (j->p >= j->end)
        return -1;
    const uint8_t *stop = j->p++; /* the closing quote */
    if (!escaped) {
        *s = (const char *)start;
        *n = (size_t)(stop - start);
        return 0;
    }
    uint8_t *buf = malloc((size_t)(stop - start) + 1);
    if (buf == NULL) {
        j->err = SIGNET_ERR_NOMEM;
        return -1;
    }
    const uint8_t *resume = j->p;
    j->p = start;
    if (unescape(j, stop, buf, n) != 0) {
        free(buf);
        return -1;
    }
    j->p = resume;
    *s = (const char *)buf;
    *heap = buf;
    return 0;
}

/* RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static json_t *parse_number(struct jparser *j)
{
    const uint8_t *start = j->p;
    int neg = 0, real = 0;
    if (*j->p == '-')
        neg = 1, j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return fail(j, SIGNET_ERR_BAD_JSON);
    if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
        return fail(j, SIGNET_ERR_BAD_JSON); /* no leading zeros */
    uint64_t mag = 0;
    int overflow = 0;
    for (; j->p < j->end && *j->p >= '0' && *j->p <= '9'; j->p++) {
        unsigned d = (unsigned)(*j->p - '0');
        if (mag > (UINT64_MAX - d) / 10)
            overflow = 1;
        else
            mag = mag * 10 + d;
    }
    if (j->p < j->end && *j->p == '.') {
        real = 1;
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return fail(j, SIGNET_ERR_BAD_JSON);
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        real = 1;
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return fail(j, SIGNET_ERR_BAD_JSON);
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (real) {
        /* Exactly jansson's conversion (and its overflow error). */
        json_error_t jerr;
        json_t *v = json_loadb((const char *)start, (size_t)(j->p - start), JSON_DECODE_ANY, &jerr);
        return v != NULL ? v : fail(j, SIGNET_ERR_BAD_JSON);
    }
    /* json_int_t is long long: jansson refuses what does not fit. */
    if (overflow || mag > (neg ? (uint64_t)LLONG_MAX + 1 : (uint64_t)LLONG_MAX))
        return fail(j, SIGNET_ERR_BAD_JSON);
    json_int_t i = neg ? (mag == (uint64_t)LLONG_MAX + 1 ? LLONG_MIN : -(json_int_t)mag)
                       : (json_int_t)mag;
    json_t *v = json_integer(i);
    return v != NULL ? v : fail(j, SIGNET_ERR_NOMEM);
}

static json_t *parse_literal(struct jparser *j, const char *word, size_t n, json_t *v)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return fail(j, SIGNET_ERR_BAD_JSON);
    j->p += n;
    return v;
}

static json_t *parse_object(struct jparser *j)
{
    json_t *obj = json_object();
    if (obj == NULL)
        return fail(j, SIGNET_ERR_NOMEM);
    j->p++; /* '{' */
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return obj;
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        uint8_t *heap = NULL;
        if (j->p >= j->end || *j->p != '"' || parse_string(j, &key, &key_len, &heap) != 0)
            goto bad;
        if (json_object_getn(obj, key, key_len) != NULL) {
            free(heap);
            fail(j, SIGNET_ERR_DUPLICATE_MEMBER);
            goto bad;
        }
        skip_ws(j);
        json_t *v = NULL;
        if (j->p < j->end && *j->p == ':') {
            j->p++;
            skip_ws(j);
            v = parse_value(j);
        }
        if (v == NULL || json_object_setn_new_nocheck(obj, key, key_len, v) != 0) {
            free(heap);
            if (v != NULL)
                fail(j, SIGNET_ERR_NOMEM);
            goto bad;
        }
        free(heap);
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            skip_ws(j);
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return obj;
        }
        goto bad;
    }
bad:
    json_decref(obj);
    return fail(j, SIGNET_ERR_BAD_JSON);
}

static json_t *parse_array(struct jparser *j)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return fail(j, SIGNET_ERR_NOMEM);
    j->p++; /* '[' */
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return arr;
    }
    for (;;) {
        json_t *v = parse_value(j);
        if (v == NULL)
            goto bad;
        if (json_array_append_new(arr, v) != 0) {
            fail(j, SIGNET_ERR_NOMEM);
            goto bad;
        }
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            skip_ws(j);
            continue;
        }
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return arr;
        }
        goto bad;
    }
bad:
    json_decref(arr);
    return fail(j, SIGNET_ERR_BAD_JSON);
}

static json_t *parse_value(struct jparser *j)
{
    if (j->p >= j->end)
        return fail(j, SIGNET_ERR_BAD_JSON);
    switch (*j->p) {
    case '{':
    case '[': {
        /* The pre-scan bounds nesting already; this keeps the recursion
         * bounded even if the two ever disagreed. */
        if (++j->depth > SG_JSON_MAX_DEPTH)
            return fail(j, SIGNET_ERR_JSON_TOO_DEEP);
        json_t *v = *j->p == '{' ? parse_object(j) : parse_array(j);
        j->depth--;
        return v;
    }
    case '"': {
        const char *s = NULL;
        size_t n = 0;
        uint8_t *heap = NULL;
        if (parse_string(j, &s, &n, &heap) != 0)
            return fail(j, SIGNET_ERR_BAD_JSON);
        json_t *v = json_stringn_nocheck(s, n); /* UTF-8 checked above */
        free(heap);
        return v != NULL ? v : fail(j, SIGNET_ERR_NOMEM);
    }
    case 't': return parse_literal(j, "true", 4, json_true());
    case 'f': return parse_literal(j, "false", 5, json_false());
    case 'n': return parse_literal(j, "null", 4, json_null());
    default: return parse_number(j);
    }
}

signet_err sg_json_parse(const uint8_t *data, size_t len, size_t max_len, json_t **out)
{
    *out = NULL;
    if (len > max_len)
        return SIGNET_ERR_TOO_LARGE;
    signet_err err = sg_json_check_depth(data, len, SG_JSON_MAX_DEPTH);
    if (err != SIGNET_OK)
        return err;
    struct jparser j = {data, data + len, 0, SIGNET_OK};
    skip_ws(&j);
    /* Like json_loadb without JSON_DECODE_ANY: an object or an array. */
    if (j.p >= j.end || (*j.p != '{' && *j.p != '['))
        return SIGNET_ERR_BAD_JSON;
    json_t *v = parse_value(&j);
    if (v == NULL)
        return j.err != SIGNET_OK ? j.err : SIGNET_ERR_BAD_JSON;
    skip_ws(&j);
    if (j.p != j.end) {
        json_decref(v);
        return SIGNET_ERR_BAD_JSON;
    }
    *out = v;
    return SIGNET_OK;
}

signet_err sg_json_numeric_date(const json_t *v, int round_up, int64_t *out)
{
    static const double max = 9007199254740992.0; /* 2^53 */
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || (double)i > max)
            return SIGNET_ERR_BAD_CLAIM;
        *out = (int64_t)i;
        return SIGNET_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d < 0 || d > max)
            return SIGNET_ERR_BAD_CLAIM;
        *out = (int64_t)(round_up ? ceil(d) : floor(d));
        return SIGNET_OK;
    }
    return SIGNET_ERR_BAD_CLAIM;
}
