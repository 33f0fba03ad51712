/* Signed checkpoints of the audit chain (see checkpoint.h). */
#include "audit/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util/b64url.h"

static void set_reason(char *why, size_t why_len, const char *reason)
{
    if (why != NULL && why_len > 0)
        (void)snprintf(why, why_len, "%s", reason);
}

size_t sg_audit_cp_message(uint64_t seq, const char head[static SG_AUDIT_HASH_HEX + 1],
                           int64_t time, char out[static SG_AUDIT_CP_MSG_MAX])
{
    int n = snprintf(out, SG_AUDIT_CP_MSG_MAX,
                     "signet-audit-checkpoint/1 %" PRIu64 " %.64s %" PRId64, seq, head, time);
    return n > 0 && n < SG_AUDIT_CP_MSG_MAX ? (size_t)n : 0;
}

static int get_str(const json_t *o, const char *name, char *out, size_t cap, size_t want)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        (want != 0 && json_string_length(v) != want))
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_sig(const json_t *o, uint8_t sig[static SG_AUDIT_CP_SIG_LEN])
{
    const json_t *v = json_object_get(o, "sig");
    size_t n = 0;
    if (!json_is_string(v) ||
        sg_b64url_decode(json_string_value(v), json_string_length(v), sig, SG_AUDIT_CP_SIG_LEN,
                         &n) != SIGNET_OK ||
        n != SG_AUDIT_CP_SIG_LEN)
        return -1;
    return 0;
}

signet_err sg_audit_cp_from_record(const struct sg_audit_rec *rec, struct sg_audit_cp *cp,
                                   char *why, size_t why_len)
{
    const json_t *b = rec->body;
    const json_t *seq = json_object_get(b, "cp_seq");
    memset(cp, 0, sizeof *cp);
    if (!json_is_integer(seq) || json_integer_value(seq) < 1 ||
        get_str(b, "cp_head", cp->head, sizeof cp->head, SG_AUDIT_HASH_HEX) != 0 ||
        get_str(b, "key", cp->key, sizeof cp->key, 0) != 0 || get_sig(b, cp->sig) != 0) {
        set_reason(why, why_len, "malformed checkpoint");
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    cp->seq = (uint64_t)json_integer_value(seq);
    cp->time = rec->time;
    if (cp->seq + 1 != rec->seq || memcmp(cp->head, rec->prev, SG_AUDIT_HASH_HEX) != 0) {
        set_reason(why, why_len, "checkpoint does not follow the head it names");
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    return SIGNET_OK;
}

signet_err sg_audit_cp_from_line(const char *line, size_t len, struct sg_audit_cp *cp)
{
    json_t *doc = NULL;
    memset(cp, 0, sizeof *cp);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    signet_err err = sg_json_parse((const uint8_t *)line, len, 2048, &doc);
    if (err != SIGNET_OK)
        return SIGNET_ERR_MALFORMED;
    const json_t *seq = json_object_get(doc, "seq");
    const json_t *time = json_object_get(doc, "time");
    err = SIGNET_ERR_MALFORMED;
    if (json_is_object(doc) && json_is_integer(seq) && json_integer_value(seq) >= 1 &&
        json_is_integer(time) &&
        get_str(doc, "head", cp->head, sizeof cp->head, SG_AUDIT_HASH_HEX) == 0 &&
        sg_audit_record_is_hash(cp->head, SG_AUDIT_HASH_HEX) &&
        get_str(doc, "key", cp->key, sizeof cp->key, 0) == 0 && get_sig(doc, cp->sig) == 0) {
        cp->seq = (uint64_t)json_integer_value(seq);
        cp->time = (int64_t)json_integer_value(time);
        err = SIGNET_OK;
    }
    json_decref(doc);
    return err;
}

char *sg_audit_cp_to_line(const struct sg_audit_cp *cp)
{
    char sig[SG_AUDIT_CP_SIG_LEN * 2];
    if (sg_b64url_encode(cp->sig, SG_AUDIT_CP_SIG_LEN, sig, sizeof sig) != SIGNET_OK)
        return NULL;
    json_t *o = json_pack("{s:I, s:s, s:I, s:s, s:s}", "seq", (json_int_t)cp->seq, "head",
                          cp->head, "time", (json_int_t)cp->time, "key", cp->key, "sig", sig);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return s;
}
