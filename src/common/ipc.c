#include "common/ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STR_REQ (2u + SG_IPC_MAX_STR) /* a u16-prefixed string */
#define FRONT_SIGNER (SG_ROLE_ADMIN | SG_ROLE_FRONT)
#define WATCHERS (SG_ROLE_ADMIN | SG_ROLE_MONITOR)
#define ANY (SG_ROLE_ADMIN | SG_ROLE_FRONT | SG_ROLE_MONITOR)
#define SIGNER SG_IPC_SERVER_SIGNER
#define MONITOR SG_IPC_SERVER_MONITOR
#define REPORT_REQ (STR_REQ + 255u * 1024u) /* issuer, then the body */

/* Cf. OpenSSH monitor.c's mon_dispatch tables. The front end signs, reads
 * keys and advances the lifecycle; it cannot revoke, read the token's
 * inventory or write audit records: those are the monitor's (REVOKE on
 * on_critical = rotate, rate-limited to one a minute) and the operator's.
 * ROTATE, CLIENT_BIND (the signer's client registry) and REVOKE_FORCE (a
 * revoke past the per-issuer limit) are the operator's alone. The MON_*
 * messages are the front end's to the monitor (its status pages, metrics
 * and relying parties' reports are served on the front end's port);
 * MON_PASSKEY, which can only raise an alert (I9), is rate-limited by the
 * monitor like the signer limits its rows. */
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
    {SG_IPC_MON_POKE, "mon_poke", SG_ROLE_FRONT, 0, 0, 0, MONITOR},
    {SG_IPC_MON_READY, "mon_ready", SG_ROLE_FRONT, 0, 0, 0, MONITOR},
    {SG_IPC_MON_STATUS_HTML, "mon_status_html", SG_ROLE_FRONT, 0, 0, 0, MONITOR},
    {SG_IPC_MON_STATUS_JSON, "mon_status_json", SG_ROLE_FRONT, 0, 0, 0, MONITOR},
    {SG_IPC_MON_METRICS, "mon_metrics", SG_ROLE_FRONT, 0, 0, 0, MONITOR},
    {SG_IPC_MON_REPORT, "mon_report", SG_ROLE_FRONT, REPORT_REQ, 0, 0, MONITOR},
    {SG_IPC_MON_PASSKEY, "mon_passkey", SG_ROLE_FRONT, SG_IPC_MAX_PASSKEY, 5.0, 20, MONITOR},
};

const char *const sg_ipc_note_types[] = {"invariant_violation", "invariant_recovered", "report",
                                          "front_refused", "user_reset", NULL};

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
