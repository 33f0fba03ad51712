/* The signer's message table at work (sg_signer_serve, src/signer/signer.c):
 * every one of the 256 type bytes, each type's cap and cap + 1, and the
 * front end's role against the administrator's. The signer runs in this
 * process on a socketpair: the frames are written first, the writing end is
 * shut, and serve returns SIGNET_OK at the end of the stream when it
 * answered everything, or SIGNET_ERR_BAD_FRAME when it dropped the channel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#include "common/ipc.h"
#include "signer/signer.h"

#define T0 1800000000LL

struct fx {
    struct sg_test_state st;
    struct sg_signer *s;
    char audit[320];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(sg_test_state_setup(&f->st, "[testing]\nclock_file = clock\n"), 0);
    sg_test_state_set_clock(&f->st, T0);
    char why[512] = "";
    assert_int_equal(sg_signer_open(f->st.dir, &f->s, why, sizeof why), SIGNET_OK);
    assert_int_equal(sg_signer_advance(f->s), SIGNET_OK);
    snprintf(f->audit, sizeof f->audit, "%s/signer/audit.log", f->st.dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sg_signer_close(&f->s);
    sg_test_state_teardown(&f->st);
    free(f);
    return 0;
}

/* Serves the frames in w (already framed) for a peer of role; the signer's
 * answers are left in out (its statuses in status[], up to n). */
static signet_err serve(struct fx *f, unsigned role, const struct sg_wbuf *w,
                        signet_err *status, size_t *n)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int bufsize = 1 << 20;
    (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
    (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
    assert_int_equal(sg_ipc_write_all(sv[0], w->data, w->len), SIGNET_OK);
    assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
    sg_signer_set_role(f->s, role);
    signet_err err = sg_signer_serve(f->s, sv[1]);
    close(sv[1]);
    struct sg_wbuf in;
    sg_wbuf_init(&in, 4u * SG_IPC_MAX_PAYLOAD);
    size_t got = 0, max = *n;
    struct sg_ipc_frame fr;
    while (got < max && sg_ipc_read_frame(sv[0], &in, &fr) == SIGNET_OK) {
        assert_true((fr.type & SG_IPC_RESPONSE) != 0);
        assert_true(fr.len >= 4);
        status[got++] = (signet_err)((uint32_t)fr.payload[0] << 24 | (uint32_t)fr.payload[1] << 16 |
                                     (uint32_t)fr.payload[2] << 8 | fr.payload[3]);
        size_t used = SG_IPC_HEADER_LEN + fr.len;
        memmove(in.data, in.data + used, in.len - used);
        in.len -= used;
    }
    sg_wbuf_free(&in);
    close(sv[0]);
    *n = got;
    return err;
}

static signet_err serve_one(struct fx *f, unsigned role, uint8_t type, const void *payload,
                            size_t len, signet_err *status)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, 2u * SG_IPC_MAX_PAYLOAD);
    sg_ipc_put_frame(&w, type, 7, payload, len);
    assert_int_equal(w.err, SIGNET_OK);
    size_t n = 1;
    *status = SIGNET_ERR_INTERNAL;
    signet_err err = serve(f, role, &w, status, &n);
    sg_wbuf_free(&w);
    if (err == SIGNET_OK)
        assert_int_equal(n, 1);
    else
        assert_int_equal(n, 0); /* a dropped frame gets no answer */
    return err;
}

/* The last frame_refused record's reason is want. */
static void assert_last_refusal(struct fx *f, const char *want)
{
    FILE *fp = fopen(f->audit, "r");
    assert_non_null(fp);
    char line[4096], last[4096] = "";
    while (fgets(line, sizeof line, fp) != NULL)
        if (strstr(line, "\"type\":\"frame_refused\"") != NULL)
            memcpy(last, line, sizeof last);
    fclose(fp);
    char needle[160];
    snprintf(needle, sizeof needle, "\"reason\":\"%s\"", want);
    if (strstr(last, needle) == NULL)
        fail_msg("last frame_refused: %s (wanted %s)", last, want);
}

/* Every type byte, empty payload: only the bodiless requests are answered;
 * everything else (unknown types, responses, requests that need a body) is
 * dropped, for either role. */
static void test_every_type_byte(void **state)
{
    struct fx *f = *state;
    const unsigned roles[] = {SG_ROLE_FRONT, SG_ROLE_ADMIN};
    for (size_t r = 0; r < 2; r++)
        for (unsigned t = 0; t < 256; t++) {
            signet_err status;
            signet_err err = serve_one(f, roles[r], (uint8_t)t, NULL, 0, &status);
            int bodiless = t == SG_IPC_ADVANCE || t == SG_IPC_STATUS || t == SG_IPC_INVENTORY;
            if (bodiless) {
                assert_int_equal(err, SIGNET_OK);
                assert_int_equal(status, SIGNET_OK);
            } else if (err != SIGNET_ERR_BAD_FRAME) {
                fail_msg("role %u type 0x%02x: %s, not dropped", roles[r], t,
                         signet_err_name(err));
            }
        }
}

/* Each type at its cap passes the gate; one byte more is dropped, and the
 * audit log says why. */
static void test_caps_off_by_one(void **state)
{
    struct fx *f = *state;
    uint8_t *big = malloc(SG_IPC_MAX_PAYLOAD);
    assert_non_null(big);
    for (unsigned t = 1; t < SG_IPC_RESPONSE; t++) {
        const struct sg_ipc_msg *m = sg_ipc_msg_find((uint8_t)t);
        if (m == NULL)
            continue;
        memset(big, 'a', SG_IPC_MAX_PAYLOAD);
        signet_err status;
        assert_int_equal(serve_one(f, SG_ROLE_ADMIN, (uint8_t)t, big, m->max_payload + 1u, &status),
                         SIGNET_ERR_BAD_FRAME);
        assert_last_refusal(f, "payload over the message's cap");
        if (m->max_payload == 2u + SG_IPC_MAX_STR) {
            /* A one-string request at exactly its cap: a valid longest
             * string, answered (whatever the verdict on it). */
            big[0] = (uint8_t)(SG_IPC_MAX_STR >> 8);
            big[1] = (uint8_t)SG_IPC_MAX_STR;
            assert_int_equal(serve_one(f, SG_ROLE_ADMIN, (uint8_t)t, big, m->max_payload, &status),
                             SIGNET_OK);
        }
    }
    free(big);
}

/* ROTATE: the administrator's, dropped from the front end; REVOKE: rate
 * limited for the front end only. */
static void test_front_role(void **state)
{
    struct fx *f = *state;
    const uint8_t all[] = {0, 0}; /* "" = every issuer */
    signet_err status;
    assert_int_equal(serve_one(f, SG_ROLE_FRONT, SG_IPC_ROTATE, all, sizeof all, &status),
                     SIGNET_ERR_BAD_FRAME);
    assert_last_refusal(f, "message not permitted for the peer's role");
    sg_test_state_set_clock(&f->st, T0 + 100000);
    assert_int_equal(serve_one(f, SG_ROLE_ADMIN, SG_IPC_ROTATE, all, sizeof all, &status),
                     SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);

    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    for (uint32_t id = 1; id <= 3; id++) {
        struct sg_wbuf p;
        sg_wbuf_init(&p, 64);
        sg_wbuf_put_str(&p, "no-such-kid");
        sg_ipc_put_frame(&w, SG_IPC_REVOKE, id, p.data, p.len);
        sg_wbuf_free(&p);
    }
    signet_err st[3];
    size_t n = 3;
    assert_int_equal(serve(f, SG_ROLE_FRONT, &w, st, &n), SIGNET_OK);
    assert_int_equal(n, 3);
    assert_int_equal(st[0], SIGNET_ERR_UNKNOWN_KID);
    assert_int_equal(st[1], SIGNET_ERR_BUSY);
    assert_int_equal(st[2], SIGNET_ERR_BUSY);
    n = 3;
    assert_int_equal(serve(f, SG_ROLE_ADMIN, &w, st, &n), SIGNET_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(st[i], SIGNET_ERR_UNKNOWN_KID);

    /* A fresh signer (what a front end gets from the launcher for the
     * asking) shares the limit: the last front revoke is the state
     * directory's, not the process's. A minute later it is allowed again. */
    sg_signer_close(&f->s);
    char why[512] = "";
    assert_int_equal(sg_signer_open(f->st.dir, &f->s, why, sizeof why), SIGNET_OK);
    n = 1;
    assert_int_equal(serve(f, SG_ROLE_FRONT, &w, st, &n), SIGNET_OK);
    assert_int_equal(st[0], SIGNET_ERR_BUSY);
    sg_test_state_set_clock(&f->st, T0 + 100000 + 61);
    sg_signer_close(&f->s);
    assert_int_equal(sg_signer_open(f->st.dir, &f->s, why, sizeof why), SIGNET_OK);
    n = 1;
    assert_int_equal(serve(f, SG_ROLE_FRONT, &w, st, &n), SIGNET_OK);
    assert_int_equal(st[0], SIGNET_ERR_UNKNOWN_KID);
    sg_wbuf_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_type_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps_off_by_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_front_role, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
