#include "telemetry/reports.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util/hex.h"

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* A string member of 1 .. cap-1 bytes copied into dst. */
static int take_str(const json_t *o, const char *k, char *dst, size_t cap)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        return -1;
    size_t n = json_string_length(v);
    if (n == 0 || n >= cap || strlen(json_string_value(v)) != n)
        return -1;
    memcpy(dst, json_string_value(v), n + 1);
    return 0;
}

static signet_err parse_item(const json_t *o, struct sg_report *r)
{
    if (!json_is_object(o) || json_object_size(o) != 4)
        return SIGNET_ERR_MALFORMED;
    char sha[65];
    if (take_str(o, "iss", r->iss, sizeof r->iss) != 0 ||
        take_str(o, "kid", r->kid, sizeof r->kid) != 0 ||
        take_str(o, "jti", r->jti, sizeof r->jti) != 0 ||
        take_str(o, "token_sha256", sha, sizeof sha) != 0 || strlen(sha) != 64 ||
        !lower_hex(sha, 64) || sg_hex_decode(sha, 64, r->token_sha256, 32) != SIGNET_OK)
        return SIGNET_ERR_MALFORMED;
    return SIGNET_OK;
}

signet_err sg_reports_parse(const uint8_t *body, size_t len, struct sg_report **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (body == NULL && len > 0)
        return SIGNET_ERR_INVALID_ARG;
    json_t *doc = NULL;
    signet_err err = sg_json_parse(body, len, SG_REPORTS_MAX_BODY, &doc);
    if (err != SIGNET_OK)
        return err;
    err = SIGNET_ERR_MALFORMED;
    struct sg_report *items = NULL;
    const json_t *arr = json_object_get(doc, "reports");
    if (!json_is_object(doc) || json_object_size(doc) != 1 || !json_is_array(arr))
        goto out;
    size_t count = json_array_size(arr);
    if (count > SG_REPORTS_MAX_ITEMS) {
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    if (count > 0) {
        items = calloc(count, sizeof *items);
        if (items == NULL) {
            err = SIGNET_ERR_NOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < count; i++) {
        err = parse_item(json_array_get(arr, i), &items[i]);
        if (err != SIGNET_OK)
            goto out;
    }
    *out = items;
    *n = count;
    items = NULL;
    err = SIGNET_OK;
out:
    free(items);
    json_decref(doc);
    return err;
}
