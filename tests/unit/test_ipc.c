/* src/common/ipc.c: the signer protocol. Framing (sg_ipc_next) must tell
 * "needs more bytes" from "can never be a frame" at every byte; the request
 * decoders refuse anything past a cap, truncated, with trailing bytes or with
 * a NUL inside a string. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ipc.h"

#define ISSUER "https://issuer.example"
#define CLAIMS "{\"iss\":\"https://issuer.example\",\"iat\":1,\"exp\":2,\"jti\":\"j\"}"

/* A frame in a fresh buffer; the caller frees w. */
static void make_frame(struct sg_wbuf *w, uint8_t type, uint32_t id, const void *p, size_t n)
{
    sg_wbuf_init(w, SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD + 64);
    sg_ipc_put_frame(w, type, id, p, n);
    assert_int_equal(w->err, SIGNET_OK);
}

/* A header claiming plen payload bytes, with none of them. */
static void make_header(uint8_t h[SG_IPC_HEADER_LEN], uint8_t type, uint32_t plen)
{
    h[0] = 'S';
    h[1] = 'G';
    h[2] = SG_IPC_VERSION;
    h[3] = type;
    h[4] = 0;
    h[5] = 0;
    h[6] = 0;
    h[7] = 42;
    h[8] = (uint8_t)(plen >> 24);
    h[9] = (uint8_t)(plen >> 16);
    h[10] = (uint8_t)(plen >> 8);
    h[11] = (uint8_t)plen;
}

static signet_err next(const uint8_t *p, size_t n, struct sg_ipc_frame *f, size_t *consumed)
{
    *consumed = 99;
    return sg_ipc_next(p, n, f, consumed);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- framing ------------------------------------------------------------ */

static void test_every_prefix_needs_more(void **state)
{
    (void)state;
    static const uint8_t payload[] = "0123456789";
    struct sg_wbuf w;
    make_frame(&w, SG_IPC_SIGN, 0x01020304, payload, 10);
    assert_int_equal(w.len, SG_IPC_HEADER_LEN + 10);
    struct sg_ipc_frame f;
    size_t consumed = 0;
    for (size_t k = 0; k < w.len; k++) {
        assert_int_equal(next(w.data, k, &f, &consumed), SIGNET_OK);
        assert_int_equal(consumed, 0);
    }
    assert_int_equal(next(w.data, w.len, &f, &consumed), SIGNET_OK);
    assert_int_equal(consumed, w.len);
    assert_int_equal(f.type, SG_IPC_SIGN);
    assert_int_equal(f.id, 0x01020304);
    assert_int_equal(f.len, 10);
    assert_ptr_equal(f.payload, w.data + SG_IPC_HEADER_LEN);
    assert_memory_equal(f.payload, payload, 10);
    sg_wbuf_free(&w);
}

static void test_empty_payload(void **state)
{
    (void)state;
    struct sg_wbuf w;
    make_frame(&w, SG_IPC_STATUS, 7, NULL, 0);
    struct sg_ipc_frame f;
    size_t consumed = 0;
    assert_int_equal(next(w.data, w.len, &f, &consumed), SIGNET_OK);
    assert_int_equal(consumed, SG_IPC_HEADER_LEN);
    assert_int_equal(f.len, 0);
    assert_int_equal(next(NULL, 0, &f, &consumed), SIGNET_OK);
    assert_int_equal(consumed, 0);
    sg_wbuf_free(&w);
}

/* Bad magic, version or type is refused as soon as that byte arrives. */
static void test_bad_header_bytes_refused_early(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
    } bad[] = {
        {"X", 1},          {"s", 1},          {"SX", 2},         {"Sg", 2},
        {"SG\x00", 3},     {"SG\x02", 3},     {"SG\xff", 3},     {"SG\x01\x00", 4},
        {"SG\x01\x0c", 4}, {"SG\x01\x7f", 4}, {"SG\x01\x80", 4}, {"SG\x01\x8c", 4},
        {"SG\x01\xff", 4}, {"GS\x01\x01", 4},
    };
    struct sg_ipc_frame f;
    size_t consumed = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(next((const uint8_t *)bad[i].bytes, bad[i].n, &f, &consumed),
                         SIGNET_ERR_BAD_FRAME);
        assert_int_equal(consumed, 0);
    }
}

static void test_every_type_request_and_response(void **state)
{
    (void)state;
    for (unsigned t = SG_IPC_SIGN; t <= SG_IPC_AUDIT_NOTE; t++) {
        for (unsigned resp = 0; resp <= SG_IPC_RESPONSE; resp += SG_IPC_RESPONSE) {
            uint8_t type = (uint8_t)(t | resp);
            uint8_t status[4] = {0, 0, 0, 0};
            struct sg_wbuf w;
            make_frame(&w, type, t, status, resp ? 4 : 0);
            struct sg_ipc_frame f;
            size_t consumed = 0;
            /* Four bytes (type included) are not yet a frame, nor an error. */
            assert_int_equal(next(w.data, 4, &f, &consumed), SIGNET_OK);
            assert_int_equal(consumed, 0);
            assert_int_equal(next(w.data, w.len, &f, &consumed), SIGNET_OK);
            assert_int_equal(consumed, w.len);
            assert_int_equal(f.type, type);
            assert_int_equal(f.id, t);
            sg_wbuf_free(&w);
        }
    }
}

static void test_payload_cap(void **state)
{
    (void)state;
    uint8_t h[SG_IPC_HEADER_LEN];
    struct sg_ipc_frame f;
    size_t consumed = 0;
    /* Exactly the cap: a header alone waits for the payload. */
    make_header(h, SG_IPC_JWKS, SG_IPC_MAX_PAYLOAD);
    assert_int_equal(next(h, sizeof h, &f, &consumed), SIGNET_OK);
    assert_int_equal(consumed, 0);
    /* One over, or absurd: refused from the header, without waiting. */
    static const uint32_t over[] = {SG_IPC_MAX_PAYLOAD + 1, 0x7fffffffu, 0xffffffffu};
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        make_header(h, SG_IPC_JWKS, over[i]);
        assert_int_equal(next(h, sizeof h, &f, &consumed), SIGNET_ERR_BAD_FRAME);
        assert_int_equal(consumed, 0);
        /* ... but not before the length is complete. */
        assert_int_equal(next(h, sizeof h - 1, &f, &consumed), SIGNET_OK);
        assert_int_equal(consumed, 0);
    }
    /* A whole frame at the cap parses. */
    uint8_t *big = calloc(1, SG_IPC_MAX_PAYLOAD);
    assert_non_null(big);
    struct sg_wbuf w;
    make_frame(&w, SG_IPC_RESPONSE | SG_IPC_JWKS, 9, big, SG_IPC_MAX_PAYLOAD);
    assert_int_equal(next(w.data, w.len, &f, &consumed), SIGNET_OK);
    assert_int_equal(consumed, SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD);
    assert_int_equal(f.len, SG_IPC_MAX_PAYLOAD);
    assert_int_equal(next(w.data, w.len - 1, &f, &consumed), SIGNET_OK);
    assert_int_equal(consumed, 0);
    sg_wbuf_free(&w);
    free(big);
}

static void test_two_frames_back_to_back(void **state)
{
    (void)state;
    struct sg_wbuf w;
    sg_wbuf_init(&w, 4096);
    sg_ipc_put_frame(&w, SG_IPC_ADVANCE, 1, NULL, 0);
    sg_ipc_put_frame(&w, SG_IPC_REVOKE, 2, (const uint8_t *)"\x00\x03kid", 5);
    sg_wbuf_put_bytes(&w, "SG", 2); /* the start of a third */
    assert_int_equal(w.err, SIGNET_OK);
    struct sg_ipc_frame f;
    size_t consumed = 0, off = 0;
    assert_int_equal(next(w.data, w.len, &f, &consumed), SIGNET_OK);
    assert_int_equal(consumed, SG_IPC_HEADER_LEN);
    assert_int_equal(f.type, SG_IPC_ADVANCE);
    assert_int_equal(f.id, 1);
    off += consumed;
    assert_int_equal(next(w.data + off, w.len - off, &f, &consumed), SIGNET_OK);
    assert_int_equal(consumed, SG_IPC_HEADER_LEN + 5);
    assert_int_equal(f.type, SG_IPC_REVOKE);
    assert_int_equal(f.id, 2);
    assert_memory_equal(f.payload, "\x00\x03kid", 5);
    off += consumed;
    assert_int_equal(next(w.data + off, w.len - off, &f, &consumed), SIGNET_OK);
    assert_int_equal(consumed, 0);
    /* Garbage right after a good frame is refused when reached. */
    sg_wbuf_reset(&w);
    sg_ipc_put_frame(&w, SG_IPC_STATUS, 3, NULL, 0);
    sg_wbuf_put_bytes(&w, "GARBAGE", 7);
    assert_int_equal(next(w.data, w.len, &f, &consumed), SIGNET_OK);
    assert_int_equal(consumed, SG_IPC_HEADER_LEN);
    assert_int_equal(next(w.data + consumed, w.len - consumed, &f, &consumed),
                     SIGNET_ERR_BAD_FRAME);
    sg_wbuf_free(&w);
}

static void test_put_frame_cap(void **state)
{
    (void)state;
    uint8_t *big = calloc(1, SG_IPC_MAX_PAYLOAD + 1);
    assert_non_null(big);
    struct sg_wbuf w;
    sg_wbuf_init(&w, 2 * (SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD));
    sg_ipc_put_frame(&w, SG_IPC_SIGN, 1, big, SG_IPC_MAX_PAYLOAD);
    assert_int_equal(w.err, SIGNET_OK);
    assert_int_equal(w.len, SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD);
    sg_wbuf_reset(&w);
    sg_ipc_put_frame(&w, SG_IPC_SIGN, 1, big, SG_IPC_MAX_PAYLOAD + 1);
    assert_int_equal(w.err, SIGNET_ERR_TOO_LARGE);
    assert_int_equal(w.len, 0); /* nothing half-written */
    /* The error is sticky: a later small frame is not appended. */
    sg_ipc_put_frame(&w, SG_IPC_STATUS, 2, NULL, 0);
    assert_int_equal(w.err, SIGNET_ERR_TOO_LARGE);
    assert_int_equal(w.len, 0);
    sg_wbuf_free(&w);
    /* A writer too small for the frame fails too. */
    sg_wbuf_init(&w, SG_IPC_HEADER_LEN + 3);
    sg_ipc_put_frame(&w, SG_IPC_SIGN, 1, big, 4);
    assert_int_equal(w.err, SIGNET_ERR_TOO_LARGE);
    sg_wbuf_free(&w);
    free(big);
}

/* ---- sign requests ------------------------------------------------------ */

static void encode(struct sg_wbuf *w, const char *issuer, const char *alg, const char *typ,
                   const char *kid, const char *claims, size_t claims_len)
{
    sg_wbuf_init(w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_sign(w, issuer, alg, typ, kid, (const uint8_t *)claims, claims_len);
    assert_int_equal(w->err, SIGNET_OK);
}

static signet_err decode(const struct sg_wbuf *w, struct sg_sign_req *r)
{
    signet_err err = sg_ipc_decode_sign(w->data, w->len, r);
    if (err != SIGNET_OK) {
        /* A refusal leaves nothing to free. */
        assert_null(r->issuer);
        assert_null(r->alg);
        assert_null(r->typ);
        assert_null(r->kid);
        assert_null(r->claims);
        assert_int_equal(r->claims_len, 0);
    }
    return err;
}

static void test_sign_roundtrip(void **state)
{
    (void)state;
    struct sg_wbuf w;
    encode(&w, ISSUER, "ES256", "at+jwt", "kid-1", CLAIMS, strlen(CLAIMS));
    struct sg_sign_req r;
    assert_int_equal(decode(&w, &r), SIGNET_OK);
    assert_string_equal(r.issuer, ISSUER);
    assert_string_equal(r.alg, "ES256");
    assert_string_equal(r.typ, "at+jwt");
    assert_string_equal(r.kid, "kid-1");
    assert_int_equal(r.claims_len, strlen(CLAIMS));
    assert_memory_equal(r.claims, CLAIMS, r.claims_len);
    assert_ptr_equal(r.claims + r.claims_len, w.data + w.len); /* borrowed */
    sg_ipc_sign_req_clear(&r);
    assert_null(r.issuer);
    sg_wbuf_free(&w);

    /* NULL alg/typ/kid travel as "", which means "the default". */
    sg_wbuf_init(&w, 4096);
    sg_ipc_encode_sign(&w, ISSUER, NULL, NULL, NULL, NULL, 0);
    assert_int_equal(decode(&w, &r), SIGNET_OK);
    assert_string_equal(r.alg, "");
    assert_string_equal(r.typ, "");
    assert_string_equal(r.kid, "");
    assert_int_equal(r.claims_len, 0);
    sg_ipc_sign_req_clear(&r);
    sg_wbuf_free(&w);
}

/* Each field at exactly its cap is accepted; one byte more is refused. */
static void test_sign_caps(void **state)
{
    (void)state;
    static const size_t caps[] = {SG_IPC_MAX_STR, 16, 32, 64, SG_IPC_MAX_CLAIMS};
    for (size_t field = 0; field < 5; field++) {
        for (size_t extra = 0; extra <= 1; extra++) {
            char *v = repeat('a', caps[field] + extra);
            const char *f[5] = {ISSUER, "ES256", "at+jwt", "kid", CLAIMS};
            f[field] = v;
            struct sg_wbuf w;
            encode(&w, f[0], f[1], f[2], f[3], f[4], strlen(f[4]));
            struct sg_sign_req r;
            assert_int_equal(decode(&w, &r), extra == 0 ? SIGNET_OK : SIGNET_ERR_BAD_FRAME);
            if (extra == 0 && field < 4) {
                const char *got[4] = {r.issuer, r.alg, r.typ, r.kid};
                assert_int_equal(got[field] != NULL ? strlen(got[field]) : 0, caps[field]);
            } else if (extra == 0) {
                assert_int_equal(r.claims_len, SG_IPC_MAX_CLAIMS);
            }
            sg_ipc_sign_req_clear(&r);
            sg_wbuf_free(&w);
            free(v);
        }
    }
}

static void test_sign_truncated(void **state)
{
    (void)state;
    struct sg_wbuf w;
    encode(&w, ISSUER, "ES256", "at+jwt", "kid-1", CLAIMS, strlen(CLAIMS));
    for (size_t k = 0; k < w.len; k++) {
        struct sg_sign_req r;
        assert_int_equal(sg_ipc_decode_sign(w.data, k, &r), SIGNET_ERR_BAD_FRAME);
        assert_null(r.issuer);
        assert_null(r.kid);
    }
    sg_wbuf_free(&w);
}

static void test_sign_trailing_bytes(void **state)
{
    (void)state;
    struct sg_wbuf w;
    encode(&w, ISSUER, "ES256", "", "", CLAIMS, strlen(CLAIMS));
    sg_wbuf_put_u8(&w, 0);
    struct sg_sign_req r;
    assert_int_equal(decode(&w, &r), SIGNET_ERR_BAD_FRAME);
    sg_wbuf_free(&w);
    /* A sixth, empty, field is trailing bytes too. */
    encode(&w, ISSUER, "ES256", "", "", CLAIMS, strlen(CLAIMS));
    sg_wbuf_put_u16(&w, 0);
    assert_int_equal(decode(&w, &r), SIGNET_ERR_BAD_FRAME);
    sg_wbuf_free(&w);
}

static void test_sign_embedded_nul(void **state)
{
    (void)state;
    for (size_t field = 0; field < 4; field++) {
        struct sg_wbuf w;
        sg_wbuf_init(&w, 4096);
        const char *f[4] = {ISSUER, "ES256", "at+jwt", "kid"};
        for (size_t i = 0; i < 4; i++) {
            if (i == field)
                sg_wbuf_put_field(&w, "ab\0c", 4);
            else
                sg_wbuf_put_str(&w, f[i]);
        }
        sg_wbuf_put_str(&w, CLAIMS);
        struct sg_sign_req r;
        assert_int_equal(decode(&w, &r), SIGNET_ERR_BAD_FRAME);
        sg_wbuf_free(&w);
    }
    /* A NUL at the very end of a string is refused too. */
    struct sg_wbuf w;
    sg_wbuf_init(&w, 4096);
    sg_wbuf_put_field(&w, ISSUER "\0", sizeof ISSUER);
    sg_wbuf_put_str(&w, "");
    sg_wbuf_put_str(&w, "");
    sg_wbuf_put_str(&w, "");
    sg_wbuf_put_str(&w, CLAIMS);
    struct sg_sign_req r;
    assert_int_equal(decode(&w, &r), SIGNET_ERR_BAD_FRAME);
    sg_wbuf_free(&w);
}

/* A length prefix promising more than the payload holds. */
static void test_sign_length_lies(void **state)
{
    (void)state;
    static const uint8_t lies[][6] = {
        {0xff, 0xff, 'a', 'b', 'c', 'd'},
        {0x00, 0x05, 'a', 'b', 'c', 'd'},
        {0x02, 0x01, 'a', 'b', 'c', 'd'}, /* 513: over the issuer cap */
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        struct sg_sign_req r;
        assert_int_equal(sg_ipc_decode_sign(lies[i], sizeof lies[i], &r), SIGNET_ERR_BAD_FRAME);
        assert_null(r.issuer);
    }
    struct sg_sign_req r;
    assert_int_equal(sg_ipc_decode_sign(NULL, 0, &r), SIGNET_ERR_BAD_FRAME);
    assert_int_equal(sg_ipc_decode_sign((const uint8_t *)"\x00", 1, &r), SIGNET_ERR_BAD_FRAME);
}

/* ---- one-string requests ------------------------------------------------ */

static signet_err decode_str(const struct sg_wbuf *w, char **out)
{
    *out = NULL;
    signet_err err = sg_ipc_decode_str(w->data, w->len, out);
    if (err != SIGNET_OK)
        assert_null(*out);
    return err;
}

static void test_str(void **state)
{
    (void)state;
    struct sg_wbuf w;
    sg_wbuf_init(&w, 4096);
    char *s = NULL;

    sg_wbuf_put_str(&w, ISSUER);
    assert_int_equal(decode_str(&w, &s), SIGNET_OK);
    assert_string_equal(s, ISSUER);
    free(s);

    sg_wbuf_reset(&w);
    sg_wbuf_put_str(&w, ""); /* "" = all issuers */
    assert_int_equal(decode_str(&w, &s), SIGNET_OK);
    assert_string_equal(s, "");
    free(s);

    for (size_t extra = 0; extra <= 1; extra++) {
        char *v = repeat('x', SG_IPC_MAX_STR + extra);
        sg_wbuf_reset(&w);
        sg_wbuf_put_str(&w, v);
        assert_int_equal(decode_str(&w, &s), extra == 0 ? SIGNET_OK : SIGNET_ERR_BAD_FRAME);
        if (extra == 0)
            assert_int_equal(strlen(s), SG_IPC_MAX_STR);
        free(s);
        free(v);
    }

    sg_wbuf_reset(&w);
    sg_wbuf_put_str(&w, ISSUER);
    sg_wbuf_put_u8(&w, 'x'); /* trailing */
    assert_int_equal(decode_str(&w, &s), SIGNET_ERR_BAD_FRAME);
    /* Truncated at every length. */
    for (size_t k = 0; k + 1 < w.len; k++) {
        s = NULL;
        assert_int_equal(sg_ipc_decode_str(w.data, k, &s), SIGNET_ERR_BAD_FRAME);
        assert_null(s);
    }

    sg_wbuf_reset(&w);
    sg_wbuf_put_field(&w, "kid\0x", 5);
    assert_int_equal(decode_str(&w, &s), SIGNET_ERR_BAD_FRAME);
    sg_wbuf_free(&w);
}

/* ---- the blocking reader ------------------------------------------------ */

static void test_read_frame_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct sg_wbuf out;
    make_frame(&out, SG_IPC_RESPONSE | SG_IPC_STATUS, 77, "\0\0\0\0{}", 6);
    /* Two writes, then the frame is whole. */
    assert_int_equal(sg_ipc_write_all(fds[1], out.data, 5), SIGNET_OK);
    assert_int_equal(sg_ipc_write_all(fds[1], out.data + 5, out.len - 5), SIGNET_OK);
    struct sg_wbuf in;
    sg_wbuf_init(&in, 4096);
    struct sg_ipc_frame f;
    assert_int_equal(sg_ipc_read_frame(fds[0], &in, &f), SIGNET_OK);
    assert_int_equal(f.id, 77);
    assert_int_equal(f.len, 6);
    /* Half a frame, then the peer goes away. */
    sg_wbuf_reset(&in);
    assert_int_equal(sg_ipc_write_all(fds[1], out.data, 7), SIGNET_OK);
    close(fds[1]);
    assert_int_equal(sg_ipc_read_frame(fds[0], &in, &f), SIGNET_ERR_SIGNER_GONE);
    close(fds[0]);
    /* Garbage is refused without waiting for more. */
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(sg_ipc_write_all(fds[1], "HTTP/1.1 200", 12), SIGNET_OK);
    sg_wbuf_reset(&in);
    assert_int_equal(sg_ipc_read_frame(fds[0], &in, &f), SIGNET_ERR_BAD_FRAME);
    close(fds[0]);
    close(fds[1]);
    sg_wbuf_free(&in);
    sg_wbuf_free(&out);
}

/* The message table: ROTATE is the operator's alone; the front end may
 * sign, read keys and advance, and nothing that watches it (revoke,
 * inventory, audit notes) is its own; the monitor's messages are served by
 * the monitor, never by a signer; unknown types are nobody's. */
static void test_message_table_roles(void **state)
{
    (void)state;
    const unsigned S = SG_IPC_SERVER_SIGNER, M = SG_IPC_SERVER_MONITOR;
    assert_false(sg_ipc_permitted(SG_IPC_ROTATE, SG_ROLE_FRONT, S));
    assert_false(sg_ipc_permitted(SG_IPC_ROTATE, SG_ROLE_MONITOR, S));
    assert_true(sg_ipc_permitted(SG_IPC_ROTATE, SG_ROLE_ADMIN, S));
    static const uint8_t front[] = {SG_IPC_SIGN, SG_IPC_JWKS, SG_IPC_ADVANCE, SG_IPC_STATUS};
    for (size_t i = 0; i < sizeof front; i++)
        assert_true(sg_ipc_permitted(front[i], SG_ROLE_FRONT, S));
    static const uint8_t watch[] = {SG_IPC_KEYS, SG_IPC_INVENTORY, SG_IPC_REVOKE,
                                    SG_IPC_AUDIT_NOTE};
    for (size_t i = 0; i < sizeof watch; i++) {
        assert_false(sg_ipc_permitted(watch[i], SG_ROLE_FRONT, S));
        assert_true(sg_ipc_permitted(watch[i], SG_ROLE_MONITOR, S));
    }
    assert_false(sg_ipc_permitted(SG_IPC_SIGN, SG_ROLE_MONITOR, S));
    for (uint8_t t = SG_IPC_MON_POKE; t <= SG_IPC_MON_PEOPLE; t++) {
        assert_true(sg_ipc_permitted(t, SG_ROLE_FRONT, M));
        assert_false(sg_ipc_permitted(t, SG_ROLE_FRONT, S));
        assert_false(sg_ipc_permitted(t, SG_ROLE_ADMIN, S));
    }
    assert_false(sg_ipc_permitted(SG_IPC_SIGN, SG_ROLE_FRONT, M));
    assert_false(sg_ipc_permitted(0, SG_ROLE_ADMIN, S));
    /* The signer's client registry and a forced revoke: the operator's
     * alone (issue 11). */
    static const uint8_t admin_only[] = {SG_IPC_CLIENT_BIND, SG_IPC_REVOKE_FORCE};
    for (size_t i = 0; i < sizeof admin_only; i++) {
        assert_true(sg_ipc_permitted(admin_only[i], SG_ROLE_ADMIN, S));
        assert_false(sg_ipc_permitted(admin_only[i], SG_ROLE_FRONT, S));
        assert_false(sg_ipc_permitted(admin_only[i], SG_ROLE_MONITOR, S));
    }
    assert_false(sg_ipc_permitted(SG_IPC_REVOKE_FORCE + 1, SG_ROLE_ADMIN, S));
    assert_null(sg_ipc_msg_find(0x7f));
    assert_string_equal(sg_ipc_role_name(SG_ROLE_MONITOR), "monitor");
    /* The response bit names the same row. */
    assert_ptr_equal(sg_ipc_msg_find(SG_IPC_SIGN | SG_IPC_RESPONSE), sg_ipc_msg_find(SG_IPC_SIGN));
    assert_true(sg_ipc_msg_find(SG_IPC_REVOKE)->rate > 0);
}

/* MON_PEOPLE (issue 14): the front end's alone, to the monitor alone; the
 * codec takes the four events and four factors and nothing else. */
static void test_people_message(void **state)
{
    (void)state;
    const unsigned S = SG_IPC_SERVER_SIGNER, M = SG_IPC_SERVER_MONITOR;
    assert_true(sg_ipc_permitted(SG_IPC_MON_PEOPLE, SG_ROLE_FRONT, M));
    assert_false(sg_ipc_permitted(SG_IPC_MON_PEOPLE, SG_ROLE_FRONT, S));
    assert_false(sg_ipc_permitted(SG_IPC_MON_PEOPLE, SG_ROLE_ADMIN, M));
    assert_false(sg_ipc_permitted(SG_IPC_MON_PEOPLE, SG_ROLE_MONITOR, S));
    const struct sg_ipc_msg *m = sg_ipc_msg_find(SG_IPC_MON_PEOPLE);
    assert_non_null(m);
    assert_string_equal(m->name, "mon_people");
    assert_true(m->rate > 0);
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_people(&w, ISSUER, "uAAAA-_9", SG_IPC_PEOPLE_APPROVAL_REPORTED, "device");
    struct sg_ipc_people r;
    assert_int_equal(sg_ipc_decode_people(w.data, w.len, &r), SIGNET_OK);
    assert_string_equal(r.issuer, ISSUER);
    assert_string_equal(r.user_id, "uAAAA-_9");
    assert_int_equal(r.event, SG_IPC_PEOPLE_APPROVAL_REPORTED);
    assert_string_equal(r.factor, "device");
    sg_ipc_people_clear(&r);
    for (size_t n = 0; n < w.len; n++) {
        assert_int_equal(sg_ipc_decode_people(w.data, n, &r), SIGNET_ERR_BAD_FRAME);
        assert_null(r.issuer);
    }
    sg_wbuf_put_u8(&w, 0);
    assert_int_equal(sg_ipc_decode_people(w.data, w.len, &r), SIGNET_ERR_BAD_FRAME);
    static const struct {
        const char *user;
        unsigned event;
        const char *factor;
    } bad[] = {{"uA", 0, "totp"},       {"uA", 5, "totp"},     {"uA", 1, "sms"},
               {"uA", 1, ""},           {"", 1, "totp"},       {"u\"<x>", 1, "totp"},
               {"uA", 255, "password"}, {"u A", 2, "passkey"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sg_wbuf_reset(&w);
        sg_ipc_encode_people(&w, ISSUER, bad[i].user, (enum sg_ipc_people_event)bad[i].event,
                             bad[i].factor);
        assert_int_equal(sg_ipc_decode_people(w.data, w.len, &r), SIGNET_ERR_BAD_FRAME);
        assert_null(r.user_id);
    }
    assert_string_equal(sg_ipc_people_event_name(SG_IPC_PEOPLE_FACTOR_ADDED), "factor_added");
    assert_null(sg_ipc_people_event_name(0));
    assert_null(sg_ipc_people_event_name(9));
    sg_wbuf_free(&w);
}

/* MON_PASSKEY (I9): the front end's alone, served by the monitor alone,
 * a small cap and a rate; its codec refuses truncation, trailing bytes,
 * oversized and NUL-carrying strings. */
static void test_passkey_message(void **state)
{
    (void)state;
    const unsigned S = SG_IPC_SERVER_SIGNER, M = SG_IPC_SERVER_MONITOR;
    assert_int_equal(SG_IPC_MON_PASSKEY, 22);
    assert_true(sg_ipc_permitted(SG_IPC_MON_PASSKEY, SG_ROLE_FRONT, M));
    static const unsigned others[] = {SG_ROLE_ADMIN, SG_ROLE_MONITOR};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        assert_false(sg_ipc_permitted(SG_IPC_MON_PASSKEY, others[i], M));
        assert_false(sg_ipc_permitted(SG_IPC_MON_PASSKEY, others[i], S));
    }
    assert_false(sg_ipc_permitted(SG_IPC_MON_PASSKEY, SG_ROLE_FRONT, S));
    const struct sg_ipc_msg *m = sg_ipc_msg_find(SG_IPC_MON_PASSKEY);
    assert_non_null(m);
    assert_string_equal(m->name, "mon_passkey");
    assert_int_equal(m->max_payload, 1024);
    assert_true(m->rate > 0 && m->rate <= 5.0);
    assert_true(m->burst >= 1 && m->burst <= 20);
    assert_int_equal(m->server, M);
    assert_ptr_equal(sg_ipc_msg_find(SG_IPC_MON_PASSKEY | SG_IPC_RESPONSE), m);
    assert_non_null(sg_ipc_msg_find(SG_IPC_MON_PASSKEY + 1)); /* MON_PEOPLE */
    assert_null(sg_ipc_msg_find(SG_IPC_MON_PEOPLE + 1));

    /* Round trip; the largest legal payload fits under the cap. */
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_passkey(&w, ISSUER, "uAAAAAAAAAAAAAAAAAAAAAA", 7, 0xffffffffu);
    assert_int_equal(w.err, SIGNET_OK);
    struct sg_ipc_passkey r;
    assert_int_equal(sg_ipc_decode_passkey(w.data, w.len, &r), SIGNET_OK);
    assert_string_equal(r.issuer, ISSUER);
    assert_string_equal(r.user_id, "uAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(r.stored, 7);
    assert_int_equal(r.presented, 0xffffffffu);
    sg_ipc_passkey_clear(&r);
    assert_null(r.issuer);
    /* Truncated at every length; a trailing byte. */
    for (size_t n = 0; n < w.len; n++) {
        assert_int_equal(sg_ipc_decode_passkey(w.data, n, &r), SIGNET_ERR_BAD_FRAME);
        assert_null(r.issuer);
        assert_null(r.user_id);
    }
    sg_wbuf_put_u8(&w, 0);
    assert_int_equal(sg_ipc_decode_passkey(w.data, w.len, &r), SIGNET_ERR_BAD_FRAME);
    char *iss = repeat('i', SG_IPC_MAX_STR);
    char *uid = repeat('u', SG_IPC_MAX_USER_ID);
    sg_wbuf_reset(&w);
    sg_ipc_encode_passkey(&w, iss, uid, 1, 1);
    assert_true(w.len <= m->max_payload);
    assert_int_equal(sg_ipc_decode_passkey(w.data, w.len, &r), SIGNET_OK);
    sg_ipc_passkey_clear(&r);
    free(iss);
    free(uid);
    /* A user id one over its cap; an issuer one over its cap. */
    uid = repeat('u', SG_IPC_MAX_USER_ID + 1);
    sg_wbuf_reset(&w);
    sg_ipc_encode_passkey(&w, ISSUER, uid, 1, 1);
    assert_int_equal(sg_ipc_decode_passkey(w.data, w.len, &r), SIGNET_ERR_BAD_FRAME);
    free(uid);
    iss = repeat('i', SG_IPC_MAX_STR + 1);
    sg_wbuf_reset(&w);
    sg_ipc_encode_passkey(&w, iss, "u", 1, 1);
    assert_int_equal(sg_ipc_decode_passkey(w.data, w.len, &r), SIGNET_ERR_BAD_FRAME);
    free(iss);
    /* A NUL inside the user id. */
    sg_wbuf_reset(&w);
    sg_wbuf_put_str(&w, ISSUER);
    sg_wbuf_put_field(&w, "u\0x", 3);
    sg_wbuf_put_u32(&w, 1);
    sg_wbuf_put_u32(&w, 1);
    assert_int_equal(sg_ipc_decode_passkey(w.data, w.len, &r), SIGNET_ERR_BAD_FRAME);
    sg_wbuf_free(&w);
    /* The frame layer: a MON_PASSKEY frame parses like any other. */
    struct sg_wbuf fw;
    uint8_t pl[8] = {0};
    make_frame(&fw, SG_IPC_MON_PASSKEY, 5, pl, sizeof pl);
    struct sg_ipc_frame f;
    size_t consumed = 0;
    assert_int_equal(next(fw.data, fw.len, &f, &consumed), SIGNET_OK);
    assert_int_equal(f.type, SG_IPC_MON_PASSKEY);
    sg_wbuf_free(&fw);
}

static void test_note_codec(void **state)
{
    (void)state;
    struct sg_wbuf w;
    sg_wbuf_init(&w, 64 * 1024);
    char *type = NULL;
    const uint8_t *f = NULL;
    size_t fl = 0;
    sg_ipc_encode_note(&w, "invariant_violation", "{\"a\":1}", 7);
    assert_int_equal(sg_ipc_decode_note(w.data, w.len, &type, &f, &fl), SIGNET_OK);
    assert_string_equal(type, "invariant_violation");
    assert_int_equal(fl, 7);
    assert_memory_equal(f, "{\"a\":1}", 7);
    free(type);
    /* A record type outside the front end's set (e.g. a forged "sign"). */
    sg_wbuf_reset(&w);
    sg_ipc_encode_note(&w, "sign", "{}", 2);
    assert_int_equal(sg_ipc_decode_note(w.data, w.len, &type, &f, &fl), SIGNET_ERR_BAD_FRAME);
    assert_null(type);
    /* Trailing bytes, truncation at every length, fields over the cap. */
    sg_wbuf_reset(&w);
    sg_ipc_encode_note(&w, "report", "{}", 2);
    sg_wbuf_put_u8(&w, 0);
    assert_int_equal(sg_ipc_decode_note(w.data, w.len, &type, &f, &fl), SIGNET_ERR_BAD_FRAME);
    for (size_t n = 0; n + 1 < w.len; n++)
        assert_int_equal(sg_ipc_decode_note(w.data, n, &type, &f, &fl), SIGNET_ERR_BAD_FRAME);
    char *big = repeat('x', SG_IPC_MAX_NOTE + 1);
    sg_wbuf_reset(&w);
    sg_ipc_encode_note(&w, "report", big, SG_IPC_MAX_NOTE + 1);
    assert_int_equal(sg_ipc_decode_note(w.data, w.len, &type, &f, &fl), SIGNET_ERR_BAD_FRAME);
    free(big);
    sg_wbuf_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_prefix_needs_more),
        cmocka_unit_test(test_empty_payload),
        cmocka_unit_test(test_bad_header_bytes_refused_early),
        cmocka_unit_test(test_every_type_request_and_response),
        cmocka_unit_test(test_payload_cap),
        cmocka_unit_test(test_two_frames_back_to_back),
        cmocka_unit_test(test_put_frame_cap),
        cmocka_unit_test(test_sign_roundtrip),
        cmocka_unit_test(test_sign_caps),
        cmocka_unit_test(test_sign_truncated),
        cmocka_unit_test(test_sign_trailing_bytes),
        cmocka_unit_test(test_sign_embedded_nul),
        cmocka_unit_test(test_sign_length_lies),
        cmocka_unit_test(test_str),
        cmocka_unit_test(test_message_table_roles),
        cmocka_unit_test(test_passkey_message),
        cmocka_unit_test(test_people_message),
        cmocka_unit_test(test_note_codec),
        cmocka_unit_test(test_read_frame_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
