#include "common/ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "json.h"
#include "util/b64url.h"

#define STR_REQ (2u + SG_IPC_MAX_STR) /* a u16-prefixed string */
#define FRONT_SIGNER (SG_ROLE_ADMIN | SG_ROLE_FRONT)
#define WATCHERS (SG_ROLE_ADMIN | SG_ROLE_MONITOR)
#define ANY (SG_ROLE_ADMIN | SG_ROLE_FRONT | SG_ROLE_MONITOR)
#define SIGNER SG_IPC_SERVER_SIGNER
#define MONITOR SG_IPC_SERVER_MONITOR
#define REPORT_REQ (STR_REQ + 255u * 1024u) /* issuer, then the body */
#define TOTP_REQ (2u + SG_IPC_MAX_TOTP)    /* one JSON object as a string */

/* Cf. OpenSSH monitor.c's mon_dispatch tables. The front end signs, reads
 * keys and advances the lifecycle; it cannot revoke, read the token's
 * inventory or write audit records: those are the monitor's (REVOKE on
 * on_critical = rotate, rate-limited to one a minute) and the operator's.
 * ROTATE, CLIENT_BIND (the signer's client registry) and REVOKE_FORCE (a
 * revoke past the per-issuer limit) are the operator's alone. The MON_*
 * messages are the front end's to the monitor (its status pages, metrics
 * and relying parties' reports are served on the front end's port);
 * MON_PASSKEY, which can only raise an alert (I9), and MON_PEOPLE (factor
 * changes and approval alerts: audit records and I10) are rate-limited by
 * the monitor like the signer limits its rows. TOTP (issue 14): the front end
 * enrols, checks codes and removes the factor (the account and sign-in
 * pages), as the operator may (a CLI command starts its own signer); the
 * monitor none. Each is rate limited per signer for every peer but the
 * operator: a front end cannot turn a signer into a fast code oracle, nor
 * flood the audit log with enrolments. */
static const struct sg_ipc_msg table[] = {
    {SG_IPC_SIGN, "sign", FRONT_SIGNER, 4u * STR_REQ + 2u + SG_IPC_MAX_CLAIMS, 0, 0, SIGNER},
    {SG_IPC_JWKS, "jwks", ANY, STR_REQ, 0, 0, SIGNER},
    {SG_IPC_ADVANCE, "advance", FRONT_SIGNER, 0, 0, 0, SIGNER},
    {SG_IPC_REVOKE, "revoke", WATCHERS, STR_REQ, 1.0 / 60.0, 1, SIGNER},
    {SG_IPC_STATUS, "status", ANY, 0, 0, 0, SIGNER},
    {SG_IPC_KEYS, "keys", WATCHERS, STR_REQ, 0, 0, SIGNER},
    {SG_IPC_ROTATE, "rotate", SG_ROLE_ADMIN, STR_REQ, 0, 0, SIGNER},
    {SG_IPC_INVENTORY, "inventory", WATCHERS, 0, 0, 0, SIGNER},
    {SG_IPC_AUDIT_NOTE, "audit_note", WATCHERS, STR_REQ + 2u + SG_IPC_MAX_NOTE, 20.0, 200, SIGNER},
    {SG_IPC_CLIENT_BIND, "client_bind", SG_ROLE_ADMIN, SG_IPC_MAX_BIND, 0, 0, SIGNER},
    {SG_IPC_REVOKE_FORCE, "revoke_force", SG_ROLE_ADMIN, STR_REQ, 0, 0, SIGNER},
    {SG_IPC_TOTP_ENROL, "totp_enrol", FRONT_SIGNER, TOTP_REQ, 5.0, 20, SIGNER},
    {SG_IPC_TOTP_VERIFY, "totp_verify", FRONT_SIGNER, TOTP_REQ, 50.0, 200, SIGNER},
    {SG_IPC_TOTP_REMOVE, "totp_remove", FRONT_SIGNER, TOTP_REQ, 5.0, 20, SIGNER},
    {SG_IPC_MON_POKE, "mon_poke", SG_ROLE_FRONT, 0, 0, 0, MONITOR},
    {SG_IPC_MON_READY, "mon_ready", SG_ROLE_FRONT, 0, 0, 0, MONITOR},
    {SG_IPC_MON_STATUS_HTML, "mon_status_html", SG_ROLE_FRONT, 0, 0, 0, MONITOR},
    {SG_IPC_MON_STATUS_JSON, "mon_status_json", SG_ROLE_FRONT, 0, 0, 0, MONITOR},
    {SG_IPC_MON_METRICS, "mon_metrics", SG_ROLE_FRONT, 0, 0, 0, MONITOR},
    {SG_IPC_MON_REPORT, "mon_report", SG_ROLE_FRONT, REPORT_REQ, 0, 0, MONITOR},
    {SG_IPC_MON_PASSKEY, "mon_passkey", SG_ROLE_FRONT, SG_IPC_MAX_PASSKEY, 5.0, 20, MONITOR},
    {SG_IPC_MON_PEOPLE, "mon_people", SG_ROLE_FRONT, SG_IPC_MAX_PEOPLE, 10.0, 50, MONITOR},
};

const char *const sg_ipc_note_types[] = {"invariant_violation", "invariant_recovered", "report",
                                          "front_refused", "user_reset", "factor_changed",
                                          "mfa_alert", NULL};

const struct sg_ipc_msg *sg_ipc_msg_find(uint8_t type)
{
    uint8_t base = type & (uint8_t)~SG_IPC_RESPONSE;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].type == base)
            return &table[i];
    return NULL;
}

int sg_ipc_permitted(uint8_t type, unsigned role, unsigned server)
{
    const struct sg_ipc_msg *m = sg_ipc_msg_find(type);
    return m != NULL && (m->roles & role) != 0 && m->server == server;
}

const char *sg_ipc_role_name(unsigned role)
{
    return role == SG_ROLE_FRONT ? "front" : role == SG_ROLE_MONITOR ? "monitor" : "admin";
}

static int known_type(uint8_t t)
{
    return sg_ipc_msg_find(t) != NULL;
}

signet_err sg_ipc_decode_note(const uint8_t *p, size_t n, char **type, const uint8_t **fields,
                              size_t *fields_len)
{
    *type = NULL;
    struct sg_buf b;
    sg_buf_init(&b, p, n);
    char *t = NULL;
    signet_err err = sg_buf_get_str(&b, SG_IPC_MAX_STR, &t);
    if (err == SIGNET_OK)
        err = sg_buf_get_field(&b, SG_IPC_MAX_NOTE, fields, fields_len);
    if (err == SIGNET_OK && sg_buf_remaining(&b) != 0)
        err = SIGNET_ERR_BAD_FRAME;
    int known = 0;
    for (size_t i = 0; err == SIGNET_OK && sg_ipc_note_types[i] != NULL && !known; i++)
        known = strcmp(sg_ipc_note_types[i], t) == 0;
    if (err == SIGNET_OK && !known)
        err = SIGNET_ERR_BAD_FRAME;
    if (err != SIGNET_OK) {
        free(t);
        return err == SIGNET_ERR_NOMEM ? err : SIGNET_ERR_BAD_FRAME;
    }
    *type = t;
    return SIGNET_OK;
}

void sg_ipc_encode_note(struct sg_wbuf *w, const char *type, const char *fields,
                        size_t fields_len)
{
    sg_wbuf_put_str(w, type);
    sg_wbuf_put_field(w, fields, fields_len);
}

signet_err sg_ipc_next(const uint8_t *data, size_t len, struct sg_ipc_frame *out, size_t *consumed)
{
    *consumed = 0;
    struct sg_buf b;
    sg_buf_init(&b, data, len);
    /* Check each header byte as soon as it is there, so garbage is refused
     * without waiting for a whole header. */
    if (len >= 1 && data[0] != 'S')
        return SIGNET_ERR_BAD_FRAME;
    if (len >= 2 && data[1] != 'G')
        return SIGNET_ERR_BAD_FRAME;
    if (len >= 3 && data[2] != SG_IPC_VERSION)
        return SIGNET_ERR_BAD_FRAME;
    if (len >= 4 && !known_type(data[3]))
        return SIGNET_ERR_BAD_FRAME;
    if (len < SG_IPC_HEADER_LEN)
        return SIGNET_OK;
    const uint8_t *magic = NULL;
    uint8_t version = 0, type = 0;
    uint32_t id = 0, plen = 0;
    if (sg_buf_get_bytes(&b, 2, &magic) != SIGNET_OK || sg_buf_get_u8(&b, &version) != SIGNET_OK ||
        sg_buf_get_u8(&b, &type) != SIGNET_OK || sg_buf_get_u32(&b, &id) != SIGNET_OK ||
        sg_buf_get_u32(&b, &plen) != SIGNET_OK)
        return SIGNET_ERR_BAD_FRAME;
    if (plen > SG_IPC_MAX_PAYLOAD)
        return SIGNET_ERR_BAD_FRAME;
    if (sg_buf_remaining(&b) < plen)
        return SIGNET_OK;
    const uint8_t *payload = NULL;
    if (sg_buf_get_bytes(&b, plen, &payload) != SIGNET_OK)
        return SIGNET_ERR_BAD_FRAME;
    out->type = type;
    out->id = id;
    out->payload = payload;
    out->len = plen;
    *consumed = b.pos;
    return SIGNET_OK;
}

void sg_ipc_put_frame(struct sg_wbuf *w, uint8_t type, uint32_t id, const uint8_t *payload,
                      size_t len)
{
    if (len > SG_IPC_MAX_PAYLOAD) {
        if (w->err == SIGNET_OK)
            w->err = SIGNET_ERR_TOO_LARGE;
        return;
    }
    sg_wbuf_put_bytes(w, "SG", 2);
    sg_wbuf_put_u8(w, SG_IPC_VERSION);
    sg_wbuf_put_u8(w, type);
    sg_wbuf_put_u32(w, id);
    sg_wbuf_put_u32(w, (uint32_t)len);
    sg_wbuf_put_bytes(w, payload, len);
}

signet_err sg_ipc_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        /* MSG_NOSIGNAL: a vanished peer is an error, not a SIGPIPE. */
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return SIGNET_ERR_SIGNER_GONE;
        p += n;
        len -= (size_t)n;
    }
    return SIGNET_OK;
}

signet_err sg_ipc_read_frame(int fd, struct sg_wbuf *buf, struct sg_ipc_frame *out)
{
    for (;;) {
        size_t consumed = 0;
        signet_err err = sg_ipc_next(buf->data, buf->len, out, &consumed);
        if (err != SIGNET_OK)
            return err;
        if (consumed > 0)
            return SIGNET_OK;
        uint8_t tmp[16384];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return SIGNET_ERR_SIGNER_GONE;
        sg_wbuf_put_bytes(buf, tmp, (size_t)n);
        if (buf->err != SIGNET_OK)
            return SIGNET_ERR_BAD_FRAME;
    }
}

signet_err sg_ipc_decode_sign(const uint8_t *p, size_t n, struct sg_sign_req *out)
{
    memset(out, 0, sizeof *out);
    struct sg_buf b;
    sg_buf_init(&b, p, n);
    signet_err err = sg_buf_get_str(&b, SG_IPC_MAX_STR, &out->issuer);
    if (err == SIGNET_OK)
        err = sg_buf_get_str(&b, 16, &out->alg);
    if (err == SIGNET_OK)
        err = sg_buf_get_str(&b, 32, &out->typ);
    if (err == SIGNET_OK)
        err = sg_buf_get_str(&b, 64, &out->kid);
    if (err == SIGNET_OK)
        err = sg_buf_get_field(&b, SG_IPC_MAX_CLAIMS, &out->claims, &out->claims_len);
    if (err == SIGNET_OK && sg_buf_remaining(&b) != 0)
        err = SIGNET_ERR_BAD_FRAME;
    if (err != SIGNET_OK) {
        sg_ipc_sign_req_clear(out);
        return err == SIGNET_ERR_NOMEM ? err : SIGNET_ERR_BAD_FRAME;
    }
    return SIGNET_OK;
}

void sg_ipc_sign_req_clear(struct sg_sign_req *r)
{
    free(r->issuer);
    free(r->alg);
    free(r->typ);
    free(r->kid);
    memset(r, 0, sizeof *r);
}

void sg_ipc_encode_sign(struct sg_wbuf *w, const char *issuer, const char *alg, const char *typ,
                        const char *kid, const uint8_t *claims, size_t claims_len)
{
    sg_wbuf_put_str(w, issuer);
    sg_wbuf_put_str(w, alg != NULL ? alg : "");
    sg_wbuf_put_str(w, typ != NULL ? typ : "");
    sg_wbuf_put_str(w, kid != NULL ? kid : "");
    sg_wbuf_put_field(w, claims, claims_len);
}

signet_err sg_ipc_decode_passkey(const uint8_t *p, size_t n, struct sg_ipc_passkey *out)
{
    memset(out, 0, sizeof *out);
    struct sg_buf b;
    sg_buf_init(&b, p, n);
    signet_err err = sg_buf_get_str(&b, SG_IPC_MAX_STR, &out->issuer);
    if (err == SIGNET_OK)
        err = sg_buf_get_str(&b, SG_IPC_MAX_USER_ID, &out->user_id);
    if (err == SIGNET_OK)
        err = sg_buf_get_u32(&b, &out->stored);
    if (err == SIGNET_OK)
        err = sg_buf_get_u32(&b, &out->presented);
    if (err == SIGNET_OK && sg_buf_remaining(&b) != 0)
        err = SIGNET_ERR_BAD_FRAME;
    if (err != SIGNET_OK) {
        sg_ipc_passkey_clear(out);
        return err == SIGNET_ERR_NOMEM ? err : SIGNET_ERR_BAD_FRAME;
    }
    return SIGNET_OK;
}

void sg_ipc_passkey_clear(struct sg_ipc_passkey *r)
{
    free(r->issuer);
    free(r->user_id);
    memset(r, 0, sizeof *r);
}

void sg_ipc_encode_passkey(struct sg_wbuf *w, const char *issuer, const char *user_id,
                           uint32_t stored, uint32_t presented)
{
    sg_wbuf_put_str(w, issuer);
    sg_wbuf_put_str(w, user_id);
    sg_wbuf_put_u32(w, stored);
    sg_wbuf_put_u32(w, presented);
}

static const char *const people_events[] = {NULL, "factor_added", "factor_removed",
                                            "approval_locked", "approval_reported"};
static const char *const people_factors[] = {"passkey", "password", "totp", "device", NULL};

const char *sg_ipc_people_event_name(unsigned event)
{
    return event < sizeof people_events / sizeof people_events[0] ? people_events[event] : NULL;
}

static int b64url_run(const char *s, size_t min, size_t max);

signet_err sg_ipc_decode_people(const uint8_t *p, size_t n, struct sg_ipc_people *out)
{
    memset(out, 0, sizeof *out);
    struct sg_buf b;
    sg_buf_init(&b, p, n);
    signet_err err = sg_buf_get_str(&b, SG_IPC_MAX_STR, &out->issuer);
    if (err == SIGNET_OK)
        err = sg_buf_get_str(&b, SG_IPC_MAX_USER_ID, &out->user_id);
    if (err == SIGNET_OK)
        err = sg_buf_get_u8(&b, &out->event);
    if (err == SIGNET_OK)
        err = sg_buf_get_str(&b, 16, &out->factor);
    if (err == SIGNET_OK && sg_buf_remaining(&b) != 0)
        err = SIGNET_ERR_BAD_FRAME;
    if (err == SIGNET_OK &&
        (sg_ipc_people_event_name(out->event) == NULL ||
         !b64url_run(out->user_id, 1, SG_IPC_MAX_USER_ID)))
        err = SIGNET_ERR_BAD_FRAME;
    int known = 0;
    for (size_t i = 0; err == SIGNET_OK && people_factors[i] != NULL && !known; i++)
        known = strcmp(people_factors[i], out->factor) == 0;
    if (err == SIGNET_OK && !known)
        err = SIGNET_ERR_BAD_FRAME;
    if (err != SIGNET_OK) {
        sg_ipc_people_clear(out);
        return err == SIGNET_ERR_NOMEM ? err : SIGNET_ERR_BAD_FRAME;
    }
    return SIGNET_OK;
}

void sg_ipc_people_clear(struct sg_ipc_people *r)
{
    free(r->issuer);
    free(r->user_id);
    free(r->factor);
    memset(r, 0, sizeof *r);
}

void sg_ipc_encode_people(struct sg_wbuf *w, const char *issuer, const char *user_id,
                          enum sg_ipc_people_event event, const char *factor)
{
    sg_wbuf_put_str(w, issuer);
    sg_wbuf_put_str(w, user_id);
    sg_wbuf_put_u8(w, (uint8_t)event);
    sg_wbuf_put_str(w, factor);
}

signet_err sg_ipc_decode_str(const uint8_t *p, size_t n, char **out)
{
    struct sg_buf b;
    sg_buf_init(&b, p, n);
    signet_err err = sg_buf_get_str(&b, SG_IPC_MAX_STR, out);
    if (err == SIGNET_OK && sg_buf_remaining(&b) != 0) {
        free(*out);
        *out = NULL;
        err = SIGNET_ERR_BAD_FRAME;
    }
    return err == SIGNET_OK || err == SIGNET_ERR_NOMEM ? err : SIGNET_ERR_BAD_FRAME;
}

/* ---- TOTP (issue 14) ---- */

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static int b64url_run(const char *s, size_t min, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n] != '\0' && b64url_char(s[n]))
        n++;
    return s[n] == '\0' && n >= min && n <= max;
}

int sg_ipc_totp_user_id_ok(const char *s)
{
    return s != NULL && s[0] == 'u' && b64url_run(s + 1, SG_TOTP_USER_ID_LEN - 1,
                                                  SG_TOTP_USER_ID_LEN - 1);
}

int sg_ipc_totp_cred_id_ok(const char *s)
{
    return s != NULL && b64url_run(s, 1, SG_TOTP_CRED_ID_MAX);
}

int sg_ipc_totp_sealed_ok(const char *s)
{
    if (s == NULL || !b64url_run(s, SG_TOTP_SEALED_B64, SG_TOTP_SEALED_B64))
        return 0;
    uint8_t raw[SG_TOTP_SEALED_LEN];
    size_t n = 0;
    return sg_b64url_decode(s, SG_TOTP_SEALED_B64, raw, sizeof raw, &n) == SIGNET_OK &&
           n == SG_TOTP_SEALED_LEN;
}

int sg_ipc_totp_code_ok(const char *s)
{
    if (s == NULL)
        return 0;
    for (size_t i = 0; i < SG_TOTP_CODE_LEN; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return s[SG_TOTP_CODE_LEN] == '\0';
}

static int issuer_ok(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] == 0x7f)
            return 0;
    return n >= 1 && n < SG_IPC_MAX_STR;
}

static int totp_type(uint8_t type)
{
    return type == SG_IPC_TOTP_ENROL || type == SG_IPC_TOTP_VERIFY || type == SG_IPC_TOTP_REMOVE;
}

static int totp_fields_ok(uint8_t type, const struct sg_ipc_totp *r)
{
    const int verify = type == SG_IPC_TOTP_VERIFY;
    return totp_type(type) && issuer_ok(r->issuer) && sg_ipc_totp_user_id_ok(r->user_id) &&
           sg_ipc_totp_cred_id_ok(r->cred_id) &&
           (verify ? sg_ipc_totp_sealed_ok(r->sealed) && sg_ipc_totp_code_ok(r->code)
                   : r->sealed[0] == '\0' && r->code[0] == '\0');
}

/* A member that must be a string of fewer than cap bytes, without NUL. */
static int totp_member(const json_t *o, const char *name, char *dst, size_t cap)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_string(v))
        return 0;
    size_t n = json_string_length(v);
    const char *p = json_string_value(v);
    if (n >= cap || strlen(p) != n)
        return 0;
    memcpy(dst, p, n + 1);
    return 1;
}

signet_err sg_ipc_decode_totp(uint8_t type, const uint8_t *p, size_t n, struct sg_ipc_totp *out)
{
    memset(out, 0, sizeof *out);
    if (!totp_type(type))
        return SIGNET_ERR_BAD_FRAME;
    struct sg_buf b;
    sg_buf_init(&b, p, n);
    const uint8_t *text = NULL;
    size_t len = 0;
    signet_err err = sg_buf_get_field(&b, SG_IPC_MAX_TOTP, &text, &len);
    if (err == SIGNET_OK && sg_buf_remaining(&b) != 0)
        err = SIGNET_ERR_BAD_FRAME;
    json_t *doc = NULL;
    if (err == SIGNET_OK)
        err = sg_json_parse(text, len, SG_IPC_MAX_TOTP, &doc);
    const int verify = type == SG_IPC_TOTP_VERIFY;
    if (err == SIGNET_OK &&
        (!json_is_object(doc) || json_object_size(doc) != (verify ? 5u : 3u) ||
         !totp_member(doc, "issuer", out->issuer, sizeof out->issuer) ||
         !totp_member(doc, "user_id", out->user_id, sizeof out->user_id) ||
         !totp_member(doc, "cred_id", out->cred_id, sizeof out->cred_id) ||
         (verify && (!totp_member(doc, "sealed", out->sealed, sizeof out->sealed) ||
                     !totp_member(doc, "code", out->code, sizeof out->code))) ||
         !totp_fields_ok(type, out)))
        err = SIGNET_ERR_BAD_FRAME;
    json_decref(doc);
    if (err != SIGNET_OK) {
        memset(out, 0, sizeof *out);
        return err == SIGNET_ERR_NOMEM ? err : SIGNET_ERR_BAD_FRAME;
    }
    return SIGNET_OK;
}

signet_err sg_ipc_totp_json(uint8_t type, const struct sg_ipc_totp *r, char **out)
{
    *out = NULL;
    if (!totp_fields_ok(type, r))
        return SIGNET_ERR_INVALID_ARG;
    json_t *o = json_pack("{s:s, s:s, s:s}", "issuer", r->issuer, "user_id", r->user_id,
                          "cred_id", r->cred_id);
    if (o != NULL && type == SG_IPC_TOTP_VERIFY &&
        (json_object_set_new(o, "sealed", json_string(r->sealed)) != 0 ||
         json_object_set_new(o, "code", json_string(r->code)) != 0)) {
        json_decref(o);
        o = NULL;
    }
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (text == NULL)
        return SIGNET_ERR_NOMEM;
    if (strlen(text) > SG_IPC_MAX_TOTP) {
        free(text);
        return SIGNET_ERR_INVALID_ARG;
    }
    *out = text;
    return SIGNET_OK;
}
