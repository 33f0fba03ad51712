#include "json.h"

#include <math.h>
#include <string.h>

signet_err sg_json_check_depth(const uint8_t *data, size_t len, unsigned max_depth)
{
    unsigned depth = 0;
    int in_string = 0, escaped = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
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

signet_err sg_json_parse(const uint8_t *data, size_t len, size_t max_len, json_t **out)
{
    return sg_json_parse_depth(data, len, max_len, SG_JSON_MAX_DEPTH, out);
}

signet_err sg_json_parse_depth(const uint8_t *data, size_t len, size_t max_len,
                               unsigned max_depth, json_t **out)
{
    *out = NULL;
    if (len > max_len)
        return SIGNET_ERR_TOO_LARGE;
    /* Empty is not JSON (and memchr must not see a NULL pointer). */
    if (data == NULL || len == 0)
        return SIGNET_ERR_BAD_JSON;
    /* jansson refuses a NUL inside a string but skips one after a number:
     * no NUL is valid JSON anywhere, so refuse it up front. */
    if (memchr(data, 0, len) != NULL)
        return SIGNET_ERR_BAD_JSON;
    if (max_depth > SG_JSON_MAX_DEPTH)
        max_depth = SG_JSON_MAX_DEPTH;
    signet_err err = sg_json_check_depth(data, len, max_depth);
    if (err != SIGNET_OK)
        return err;
    /* Parsing is jansson's (a library made for it), not a hand-written
     * parser: it costs ~5 us per claims set, the price of not maintaining a
     * second JSON parser for untrusted input. */
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        return json_error_code(&jerr) == json_error_duplicate_key ? SIGNET_ERR_DUPLICATE_MEMBER
                                                                 : SIGNET_ERR_BAD_JSON;
    *out = j;
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
