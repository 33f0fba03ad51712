/* libFuzzer target: the signer protocol (src/common/ipc.c).
 *
 * The first input byte chooses where the stream is cut in two; the rest is
 * the byte stream a peer sends. It is framed twice, once whole and once as
 * two reads, the way sg_ipc_read_frame sees it.
 *
 * Properties checked (abort on violation):
 *   - whole and cut streams give the same frames and the same verdict;
 *   - a complete frame is 12 + len bytes, len is within the cap, its type is
 *     known, and every strict prefix of it is "needs more", never an error;
 *   - sg_ipc_put_frame of a decoded frame gives back the same bytes;
 *   - a decoded sign request respects every cap and carries no NUL, and
 *     sg_ipc_encode_sign of it gives back the payload byte for byte (one
 *     encoding per request), which decodes to the same fields;
 *   - the same for a decoded string argument and a decoded AUDIT_NOTE (whose
 *     record type must be one the front end may write);
 *   - a decoded TOTP request (each of the three types) has every field in
 *     its shape, and its canonical JSON decodes to the same fields;
 *   - a decoded MON_PEOPLE report has a known event and factor, and
 *     re-encodes to the payload byte for byte;
 *   - every frame's type has its row in the message table, with a cap no
 *     larger than the frame cap, and ROTATE is never the front end's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 64

struct seen {
    uint8_t type;
    uint32_t id;
    size_t offset; /* of the frame within the stream */
    size_t len;
};

struct outcome {
    struct seen frames[MAX_FRAMES];
    size_t n;
    signet_err err;  /* SIGNET_OK or the error that ended the stream */
    size_t leftover; /* bytes still waiting for the rest of a frame */
};

static void check_str(const char *s, size_t cap)
{
    if (s == NULL || strlen(s) > cap)
        abort();
}

static void same_str(const char *a, const char *b)
{
    if (strcmp(a, b) != 0)
        abort();
}

static void check_sign(const uint8_t *p, size_t n)
{
    struct sg_sign_req req;
    if (sg_ipc_decode_sign(p, n, &req) != SIGNET_OK) {
        /* A refused request leaves nothing behind. */
        if (req.issuer != NULL || req.alg != NULL || req.typ != NULL || req.kid != NULL ||
            req.claims != NULL)
            abort();
        return;
    }
    check_str(req.issuer, SG_IPC_MAX_STR);
    check_str(req.alg, 16);
    check_str(req.typ, 32);
    check_str(req.kid, 64);
    if (req.claims_len > SG_IPC_MAX_CLAIMS || req.claims < p ||
        req.claims + req.claims_len != p + n)
        abort();

    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_sign(&w, req.issuer, req.alg, req.typ, req.kid, req.claims, req.claims_len);
    if (w.err != SIGNET_OK || w.len != n || (n > 0 && memcmp(w.data, p, n) != 0))
        abort();
    struct sg_sign_req again;
    if (sg_ipc_decode_sign(w.data, w.len, &again) != SIGNET_OK)
        abort();
    same_str(req.issuer, again.issuer);
    same_str(req.alg, again.alg);
    same_str(req.typ, again.typ);
    same_str(req.kid, again.kid);
    if (again.claims_len != req.claims_len ||
        (req.claims_len > 0 && memcmp(again.claims, req.claims, req.claims_len) != 0))
        abort();
    sg_ipc_sign_req_clear(&again);
    sg_wbuf_free(&w);
    sg_ipc_sign_req_clear(&req);
    if (req.issuer != NULL || req.claims != NULL)
        abort();
}

static void check_str_arg(const uint8_t *p, size_t n)
{
    char *s = NULL;
    if (sg_ipc_decode_str(p, n, &s) != SIGNET_OK) {
        free(s);
        return;
    }
    check_str(s, SG_IPC_MAX_STR);
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_wbuf_put_str(&w, s);
    if (w.err != SIGNET_OK || w.len != n || memcmp(w.data, p, n) != 0)
        abort();
    sg_wbuf_free(&w);
    free(s);
}

static void check_note(const uint8_t *p, size_t n)
{
    char *type = NULL;
    const uint8_t *fields = NULL;
    size_t flen = 0;
    if (sg_ipc_decode_note(p, n, &type, &fields, &flen) != SIGNET_OK) {
        if (type != NULL)
            abort();
        return;
    }
    int known = 0;
    for (size_t i = 0; sg_ipc_note_types[i] != NULL; i++)
        known |= strcmp(sg_ipc_note_types[i], type) == 0;
    if (!known || flen > SG_IPC_MAX_NOTE || fields < p || fields + flen != p + n)
        abort();
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_note(&w, type, (const char *)fields, flen);
    if (w.err != SIGNET_OK || w.len != n || memcmp(w.data, p, n) != 0)
        abort();
    sg_wbuf_free(&w);
    free(type);
}

/* A TOTP request (issue 14): decoded only in its exact shape; what decodes
 * re-encodes (sg_ipc_totp_json) to a body that decodes to the same fields. */
static void check_totp(uint8_t type, const uint8_t *p, size_t n)
{
    struct sg_ipc_totp r;
    if (sg_ipc_decode_totp(type, p, n, &r) != SIGNET_OK) {
        static const struct sg_ipc_totp zero;
        if (memcmp(&r, &zero, sizeof r) != 0)
            abort();
        return;
    }
    const int verify = type == SG_IPC_TOTP_VERIFY;
    if (strlen(r.issuer) == 0 || !sg_ipc_totp_user_id_ok(r.user_id) ||
        !sg_ipc_totp_cred_id_ok(r.cred_id) ||
        (verify && (!sg_ipc_totp_sealed_ok(r.sealed) || !sg_ipc_totp_code_ok(r.code))) ||
        (!verify && (r.sealed[0] != '\0' || r.code[0] != '\0')))
        abort();
    char *json = NULL;
    if (sg_ipc_totp_json(type, &r, &json) != SIGNET_OK)
        abort();
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_wbuf_put_str(&w, json);
    struct sg_ipc_totp again;
    if (w.err != SIGNET_OK || sg_ipc_decode_totp(type, w.data, w.len, &again) != SIGNET_OK ||
        memcmp(&r, &again, sizeof r) != 0)
        abort();
    /* The same body is no other TOTP request. */
    for (uint8_t t = SG_IPC_TOTP_ENROL; t <= SG_IPC_TOTP_REMOVE; t++)
        if ((t == SG_IPC_TOTP_VERIFY) != verify &&
            sg_ipc_decode_totp(t, w.data, w.len, &again) == SIGNET_OK)
            abort();
    sg_wbuf_free(&w);
    free(json);
}

static void check_people(const uint8_t *p, size_t n)
{
    struct sg_ipc_people r;
    if (sg_ipc_decode_people(p, n, &r) != SIGNET_OK) {
        if (r.issuer != NULL || r.user_id != NULL || r.factor != NULL)
            abort();
        return;
    }
    check_str(r.issuer, SG_IPC_MAX_STR);
    check_str(r.user_id, SG_IPC_MAX_USER_ID);
    if (sg_ipc_people_event_name(r.event) == NULL || r.user_id[0] == '\0')
        abort();
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_people(&w, r.issuer, r.user_id, (enum sg_ipc_people_event)r.event, r.factor);
    if (w.err != SIGNET_OK || w.len != n || memcmp(w.data, p, n) != 0)
        abort();
    sg_wbuf_free(&w);
    sg_ipc_people_clear(&r);
}

static void check_frame(const uint8_t *at, size_t consumed, const struct sg_ipc_frame *f)
{
    const struct sg_ipc_msg *m = sg_ipc_msg_find(f->type);
    if (m == NULL || m->max_payload > SG_IPC_MAX_PAYLOAD ||
        sg_ipc_permitted(SG_IPC_ROTATE, SG_ROLE_FRONT, SG_IPC_SERVER_SIGNER))
        abort();
    /* Each message has one server: the other never takes it, from anyone. */
    unsigned other =
        m->server == SG_IPC_SERVER_SIGNER ? SG_IPC_SERVER_MONITOR : SG_IPC_SERVER_SIGNER;
    if (sg_ipc_permitted(f->type, SG_ROLE_ADMIN | SG_ROLE_FRONT | SG_ROLE_MONITOR, other))
        abort();
    if (f->len > SG_IPC_MAX_PAYLOAD ||
        consumed != SG_IPC_HEADER_LEN + f->len || f->payload != at + SG_IPC_HEADER_LEN)
        abort();
    /* Every header prefix and the frame minus its last byte need more bytes. */
    struct sg_ipc_frame tmp;
    size_t more = 0;
    for (size_t k = 0; k <= SG_IPC_HEADER_LEN && k < consumed; k++)
        if (sg_ipc_next(at, k, &tmp, &more) != SIGNET_OK || more != 0)
            abort();
    if (sg_ipc_next(at, consumed - 1, &tmp, &more) != SIGNET_OK || more != 0)
        abort();

    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD);
    sg_ipc_put_frame(&w, f->type, f->id, f->payload, f->len);
    if (w.err != SIGNET_OK || w.len != consumed || memcmp(w.data, at, consumed) != 0)
        abort();
    sg_wbuf_free(&w);

    /* Decode every payload both ways: the signer picks the decoder by type,
     * but neither may misbehave on bytes meant for the other. */
    check_sign(f->payload, f->len);
    check_people(f->payload, f->len);
    check_str_arg(f->payload, f->len);
    check_note(f->payload, f->len);
    for (uint8_t t = SG_IPC_TOTP_ENROL; t <= SG_IPC_TOTP_REMOVE; t++)
        check_totp(t, f->payload, f->len);
}

/* Frames the stream as it arrives in reads of data[0..cut) and data[cut..n). */
static void run_stream(const uint8_t *data, size_t n, size_t cut, int deep, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    size_t avail = cut, start = 0;
    for (;;) {
        struct sg_ipc_frame f;
        size_t consumed = 0;
        signet_err err = sg_ipc_next(data + start, avail - start, &f, &consumed);
        if (err != SIGNET_OK) {
            if (err != SIGNET_ERR_BAD_FRAME)
                abort();
            o->err = err;
            return;
        }
        if (consumed == 0) {
            if (avail == n) {
                o->leftover = n - start;
                return;
            }
            avail = n; /* the second read */
            continue;
        }
        if (consumed > avail - start)
            abort();
        if (deep)
            check_frame(data + start, consumed, &f);
        if (o->n == MAX_FRAMES)
            return;
        o->frames[o->n++] = (struct seen){f.type, f.id, start, f.len};
        start += consumed;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = size - 1;
    const uint8_t *stream = data + 1;
    size_t cut = n == 0 ? 0 : data[0] % (n + 1);

    struct outcome *whole = malloc(sizeof *whole), *split = malloc(sizeof *split);
    if (whole == NULL || split == NULL)
        abort();
    run_stream(stream, n, n, 1, whole);
    run_stream(stream, n, cut, 0, split);
    if (whole->n != split->n || whole->err != split->err || whole->leftover != split->leftover)
        abort();
    for (size_t i = 0; i < whole->n; i++) {
        const struct seen *a = &whole->frames[i], *b = &split->frames[i];
        if (a->type != b->type || a->id != b->id || a->offset != b->offset || a->len != b->len)
            abort();
    }
    free(whole);
    free(split);
    return 0;
}
