/* The audit record codec (see record.h for the format). Reading and writing
 * a record are both here, so the grammar is reviewed in one place: the
 * format function checks its own output with the same check every reader
 * uses. */
#include "audit/record.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/sha256.h"

#define HASH_HEX SG_AUDIT_HASH_HEX

static const char zero_hash[HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static void set_reason(char *why, size_t why_len, const char *reason)
{
    if (why != NULL && why_len > 0)
        (void)snprintf(why, why_len, "%s", reason);
}

void sg_audit_record_hash(const uint8_t *body, size_t len, char out[static HASH_HEX + 1])
{
    uint8_t md[32];
    sg_sha256(body, len, md);
    sg_hex_encode(md, sizeof md, out);
}

bool sg_audit_record_is_hash(const char *s, size_t len)
{
    if (len != HASH_HEX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

void sg_audit_record_clear(struct sg_audit_rec *rec)
{
    json_decref(rec->body);
    rec->body = NULL;
    rec->type = NULL;
}

static const char *json_reason(signet_err err)
{
    switch (err) {
    case SIGNET_ERR_DUPLICATE_MEMBER:
        return "duplicate member";
    case SIGNET_ERR_JSON_TOO_DEEP:
        return "JSON nested too deep";
    default:
        return "invalid JSON";
    }
}

/* The body's grammar: reads like the list in record.h. NULL when good. */
static const char *check_body(const uint8_t *body, size_t len, struct sg_audit_rec *rec)
{
    json_t *doc = NULL;
    signet_err err = sg_json_parse(body, len, SG_AUDIT_MAX_BODY, &doc);
    if (err != SIGNET_OK)
        return json_reason(err);
    const char *why = NULL;
    const json_t *seq = json_object_get(doc, "seq");
    const json_t *time = json_object_get(doc, "time");
    const json_t *type = json_object_get(doc, "type");
    const json_t *prev = json_object_get(doc, "prev");
    if (!json_is_object(doc))
        why = "body is not a JSON object";
    else if (!json_is_integer(seq) || json_integer_value(seq) < 1)
        why = "missing or bad \"seq\"";
    else if (!json_is_integer(time))
        why = "missing or bad \"time\"";
    else if (!json_is_string(type) || json_string_length(type) == 0)
        why = "missing or bad \"type\"";
    else if (!json_is_string(prev) ||
             !sg_audit_record_is_hash(json_string_value(prev), json_string_length(prev)))
        why = "missing or bad \"prev\"";
    if (why != NULL) {
        json_decref(doc);
        return why;
    }
    rec->seq = (uint64_t)json_integer_value(seq);
    rec->time = (int64_t)json_integer_value(time);
    rec->type = json_string_value(type);
    memcpy(rec->prev, json_string_value(prev), HASH_HEX + 1);
    rec->body = doc;
    return NULL;
}

signet_err sg_audit_record_check(const uint8_t *line, size_t len, struct sg_audit_rec *rec,
                                 char *why, size_t why_len)
{
    const char *reason = NULL;

    memset(rec, 0, sizeof *rec);
    if (len + 1 > SG_AUDIT_MAX_RECORD)
        reason = "record too long";
    else if (len < SG_AUDIT_LINE_OVERHEAD || line[HASH_HEX] != ' ')
        reason = "malformed line";
    if (reason == NULL) {
        /* The hash first: a damaged byte is reported as such, wherever it is. */
        sg_audit_record_hash(line + HASH_HEX + 1, len - HASH_HEX - 1, rec->hash);
        if (memcmp(rec->hash, line, HASH_HEX) != 0)
            reason = "hash mismatch";
        else
            reason = check_body(line + HASH_HEX + 1, len - HASH_HEX - 1, rec);
    }
    if (reason != NULL) {
        memset(rec, 0, sizeof *rec);
        set_reason(why, why_len, reason);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    return SIGNET_OK;
}

signet_err sg_audit_record_chain(const struct sg_audit_rec *prev, const struct sg_audit_rec *rec,
                                 char *why, size_t why_len)
{
    uint64_t want = prev != NULL ? prev->seq + 1 : 1;
    const char *want_prev = prev != NULL ? prev->hash : zero_hash;
    if (rec->seq != want) {
        if (why != NULL && why_len > 0)
            (void)snprintf(why, why_len, "seq %" PRIu64 " where %" PRIu64 " belongs", rec->seq,
                           want);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    if (memcmp(rec->prev, want_prev, HASH_HEX) != 0) {
        set_reason(why, why_len, "prev does not chain");
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    return SIGNET_OK;
}

/* ---- writing -------------------------------------------------------------- */

static bool reserved_member(const json_t *fields)
{
    static const char *const reserved[] = {"seq", "time", "type", "prev"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (json_object_get(fields, reserved[i]) != NULL)
            return true;
    return false;
}

/* Does jansson's output hold an escaped NUL ("\u0000")? The reader parses
 * without JSON_ALLOW_NUL, so such a record would not read back. A match
 * counts only after an odd run of backslashes ("\\u0000" is text). */
static bool has_nul_escape(const char *body, size_t len)
{
    static const char esc[] = "u0000";
    for (const char *p = body; (p = memchr(p, '\\', len - (size_t)(p - body))) != NULL;) {
        size_t run = 0;
        while ((size_t)(p - body) < len && *p == '\\') {
            run++;
            p++;
        }
        if ((run & 1u) != 0 && len - (size_t)(p - body) >= sizeof esc - 1 &&
            memcmp(p, esc, sizeof esc - 1) == 0)
            return true;
    }
    return false;
}

static size_t decimal_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

signet_err sg_audit_record_format(struct sg_wbuf *w, uint64_t seq, int64_t time, const char *type,
                                  const char prev[static HASH_HEX + 1], const json_t *fields,
                                  char hash[static HASH_HEX + 1])
{
    signet_err err = SIGNET_OK;
    json_t *doc = NULL;
    char *body = NULL;
    struct sg_audit_rec rec = {0};
    const char *reason = NULL;
#ifndef NDEBUG
    char why[96];
#endif
    size_t mark = w->len;

    if (type == NULL || type[0] == '\0' ||
        (fields != NULL && (!json_is_object(fields) || reserved_member(fields))) ||
        !sg_audit_record_is_hash(prev, strlen(prev)))
        return SIGNET_ERR_INVALID_ARG;
    if (seq == 0)
        return SIGNET_ERR_INVALID_ARG;
    if (seq > (uint64_t)INT64_MAX)
        return SIGNET_ERR_TOO_LARGE;
    doc = fields != NULL ? json_deep_copy(fields) : json_object();
    if (doc == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    json_t *jtype = json_string(type); /* NULL also for invalid UTF-8 */
    if (jtype == NULL || json_object_set_new(doc, "type", jtype) != 0) {
        err = SIGNET_ERR_INVALID_ARG;
        goto out;
    }
    if (json_object_set_new(doc, "time", json_integer((json_int_t)time)) != 0 ||
        json_object_set_new(doc, "seq", json_integer((json_int_t)seq)) != 0 ||
        json_object_set_new(doc, "prev", json_string(prev)) != 0) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    /* Deterministic bytes; jansson escapes control characters, so one line. */
    body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (body == NULL) {
        /* Invalid UTF-8 in a caller's string (json_string_nocheck), or no memory. */
        err = SIGNET_ERR_INVALID_ARG;
        goto out;
    }
    size_t blen = strlen(body);
    /* Room for the longest seq, so that re-chaining can always renumber it. */
    if (blen - decimal_digits(seq) + SG_AUDIT_SEQ_MAX_DIGITS > SG_AUDIT_MAX_BODY ||
        blen + SG_AUDIT_LINE_OVERHEAD > w->max - w->len) {
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    sg_audit_record_hash((const uint8_t *)body, blen, hash);
    sg_wbuf_put_bytes(w, hash, HASH_HEX);
    sg_wbuf_put_bytes(w, " ", 1);
    sg_wbuf_put_bytes(w, body, blen);
    if (w->err != SIGNET_OK) {
        err = w->err;
        goto out;
    }
    /* Write only what every reader accepts: one line, nested no deeper than
     * the reader parses. jansson's output from an object has no duplicate
     * member and no raw control character, so depth and escaped NULs are
     * all that can differ;
     * debug builds (the test suite) still read every record back. */
    if (memchr(body, '\n', blen) != NULL)
        reason = "newline in body";
    else if (sg_json_check_depth((const uint8_t *)body, blen, SG_JSON_MAX_DEPTH) != SIGNET_OK)
        reason = "nested too deep";
    else if (has_nul_escape(body, blen))
        reason = "NUL in a value";
#ifndef NDEBUG
    else if (sg_audit_record_check(w->data + mark, w->len - mark, &rec, why, sizeof why) !=
             SIGNET_OK)
        reason = why;
    else if (rec.seq != seq || rec.time != time || strcmp(rec.type, type) != 0 ||
             memcmp(rec.prev, prev, HASH_HEX) != 0)
        reason = "body does not round-trip";
#endif
    if (reason != NULL) {
        sg_log(SG_LOG_ERROR, "audit_append_rejected", "seq=%" PRIu64 " reason=\"%s\"", seq,
               reason);
        err = SIGNET_ERR_INVALID_ARG;
        goto out;
    }
    sg_wbuf_put_bytes(w, "\n", 1);
    err = w->err;
out:
    if (err != SIGNET_OK) {
        w->len = mark;
        w->err = SIGNET_OK;
    }
    sg_audit_record_clear(&rec);
    free(body);
    json_decref(doc);
    return err;
}
