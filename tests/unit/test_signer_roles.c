/* The signer's message table at work (sg_signer_serve, src/signer/signer.c):
 * every one of the 256 type bytes, each type's cap and cap + 1, and the
 * front end's and the monitor's roles against the administrator's. The
 * signer runs in this process on a socketpair: the frames are written
 * first, the writing end is shut, and serve returns SIGNET_OK at the end of
 * the stream when it answered everything, or SIGNET_ERR_BAD_FRAME when it
 * dropped the channel. Then a real signer (sg_signer_spawn_fd) serving the
 * front end's channel and the monitor's at once: the role is the channel's,
 * and the monitor's channel ends alone. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "common/ipc.h"
#include "common/signer_client.h"
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

/* The last record of type in the audit log at path ("" if none). */
static void last_record(const char *path, const char *type, char *last, size_t cap)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[4096], needle[96];
    snprintf(needle, sizeof needle, "\"type\":\"%s\"", type);
    last[0] = '\0';
    while (fgets(line, sizeof line, fp) != NULL)
        if (strstr(line, needle) != NULL)
            snprintf(last, cap, "%s", line);
    fclose(fp);
}

/* The last record of type in the audit log at path has "key":"value". */
static void assert_last_has(const char *path, const char *type, const char *key,
                            const char *value)
{
    char last[4096], needle[200];
    last_record(path, type, last, sizeof last);
    snprintf(needle, sizeof needle, "\"%s\":\"%s\"", key, value);
    if (strstr(last, needle) == NULL)
        fail_msg("last %s: %s (wanted %s)", type, last, needle);
}

/* The last frame_refused record's reason is want. */
static void assert_last_refusal(struct fx *f, const char *want)
{
    assert_last_has(f->audit, "frame_refused", "reason", want);
}

/* ... and it names the role of the channel and the type refused. */
static void assert_last_refusal_of(const char *path, const char *want, const char *role,
                                   uint8_t type)
{
    assert_last_has(path, "frame_refused", "reason", want);
    assert_last_has(path, "frame_refused", "role", role);
    char last[4096], needle[40];
    last_record(path, "frame_refused", last, sizeof last);
    snprintf(needle, sizeof needle, "\"msg_type\":%u", (unsigned)type);
    if (strstr(last, needle) == NULL)
        fail_msg("last frame_refused: %s (wanted %s)", last, needle);
}

/* A request whose payload is one string. */
static signet_err serve_str(struct fx *f, unsigned role, uint8_t type, const char *arg,
                            signet_err *status)
{
    struct sg_wbuf p;
    sg_wbuf_init(&p, SG_IPC_MAX_PAYLOAD);
    sg_wbuf_put_str(&p, arg);
    assert_int_equal(p.err, SIGNET_OK);
    signet_err err = serve_one(f, role, type, p.data, p.len, status);
    sg_wbuf_free(&p);
    return err;
}

/* An AUDIT_NOTE of type with these fields. */
static signet_err serve_note(struct fx *f, unsigned role, const char *type, const char *fields,
                             signet_err *status)
{
    struct sg_wbuf p;
    sg_wbuf_init(&p, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_note(&p, type, fields, strlen(fields));
    assert_int_equal(p.err, SIGNET_OK);
    signet_err err = serve_one(f, role, SG_IPC_AUDIT_NOTE, p.data, p.len, status);
    sg_wbuf_free(&p);
    return err;
}

/* Every type byte, empty payload: only the bodiless requests the role may
 * send to a signer are answered; everything else (unknown types, responses,
 * requests that need a body, the monitor's messages, what the role may not
 * send) is dropped, for every role. */
static void test_every_type_byte(void **state)
{
    struct fx *f = *state;
    const unsigned roles[] = {SG_ROLE_FRONT, SG_ROLE_ADMIN, SG_ROLE_MONITOR};
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++)
        for (unsigned t = 0; t < 256; t++) {
            signet_err status;
            signet_err err = serve_one(f, roles[r], (uint8_t)t, NULL, 0, &status);
            int bodiless = (t == SG_IPC_ADVANCE || t == SG_IPC_STATUS || t == SG_IPC_INVENTORY) &&
                           sg_ipc_permitted((uint8_t)t, roles[r], SG_IPC_SERVER_SIGNER);
            if (bodiless) {
                assert_int_equal(err, SIGNET_OK);
                assert_int_equal(status, SIGNET_OK);
            } else if (err != SIGNET_ERR_BAD_FRAME) {
                fail_msg("role %u type 0x%02x: %s, not dropped", roles[r], t,
                         signet_err_name(err));
            }
        }
}

/* Each type a signer serves, at its cap, passes the gate; one byte more is
 * dropped, and the audit log says why. A type the monitor serves is
 * dropped at any size. */
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
        if (m->server != SG_IPC_SERVER_SIGNER) {
            assert_int_equal(serve_one(f, SG_ROLE_ADMIN, (uint8_t)t, big, m->max_payload, &status),
                             SIGNET_ERR_BAD_FRAME);
            assert_last_refusal(f, "message not served by a signer");
            continue;
        }
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

/* The front end signs, reads the JWKS and the status and advances; ROTATE
 * (the administrator's) and what watches it (KEYS, INVENTORY, REVOKE,
 * AUDIT_NOTE: the monitor's) are dropped from it, and so is any message
 * the monitor serves; each drop is audited with the front end's role. */
static void test_front_role(void **state)
{
    struct fx *f = *state;
    signet_err status;
    assert_int_equal(serve_str(f, SG_ROLE_FRONT, SG_IPC_ROTATE, "", &status), SIGNET_ERR_BAD_FRAME);
    assert_last_refusal_of(f->audit, "message not permitted for the peer's role", "front",
                           SG_IPC_ROTATE);
    assert_int_equal(serve_str(f, SG_ROLE_FRONT, SG_IPC_KEYS, "", &status), SIGNET_ERR_BAD_FRAME);
    assert_last_refusal_of(f->audit, "message not permitted for the peer's role", "front",
                           SG_IPC_KEYS);
    assert_int_equal(serve_str(f, SG_ROLE_FRONT, SG_IPC_REVOKE, "no-such-kid", &status),
                     SIGNET_ERR_BAD_FRAME);
    assert_last_refusal_of(f->audit, "message not permitted for the peer's role", "front",
                           SG_IPC_REVOKE);
    assert_int_equal(serve_one(f, SG_ROLE_FRONT, SG_IPC_INVENTORY, NULL, 0, &status),
                     SIGNET_ERR_BAD_FRAME);
    assert_last_refusal_of(f->audit, "message not permitted for the peer's role", "front",
                           SG_IPC_INVENTORY);
    assert_int_equal(serve_note(f, SG_ROLE_FRONT, "report", "{\"x\":1}", &status),
                     SIGNET_ERR_BAD_FRAME);
    assert_last_refusal_of(f->audit, "message not permitted for the peer's role", "front",
                           SG_IPC_AUDIT_NOTE);
    for (unsigned t = SG_IPC_MON_POKE; t <= SG_IPC_MON_REPORT; t++) {
        assert_int_equal(serve_one(f, SG_ROLE_FRONT, (uint8_t)t, NULL, 0, &status),
                         SIGNET_ERR_BAD_FRAME);
        assert_last_refusal_of(f->audit, "message not served by a signer", "front", (uint8_t)t);
    }
    /* What it may send, it gets answered. */
    assert_int_equal(serve_str(f, SG_ROLE_FRONT, SG_IPC_JWKS, "https://a.example/t/a", &status),
                     SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    assert_int_equal(serve_one(f, SG_ROLE_FRONT, SG_IPC_STATUS, NULL, 0, &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    sg_test_state_set_clock(&f->st, T0 + 100000);
    assert_int_equal(serve_str(f, SG_ROLE_ADMIN, SG_IPC_ROTATE, "", &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
}

/* The monitor reads the keys and the token's inventory, writes audit
 * records (stamped "source":"monitor" by the signer) and may revoke, one a
 * minute for the whole state directory; it may not sign, rotate or
 * advance, nor send the messages the monitor itself serves. */
static void test_monitor_role(void **state)
{
    struct fx *f = *state;
    signet_err status;
    assert_int_equal(serve_one(f, SG_ROLE_MONITOR, SG_IPC_INVENTORY, NULL, 0, &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    assert_int_equal(serve_str(f, SG_ROLE_MONITOR, SG_IPC_KEYS, "", &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    assert_int_equal(serve_note(f, SG_ROLE_MONITOR, "invariant_violation",
                                "{\"invariant\":\"I1\",\"source\":\"front\"}", &status),
                     SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    assert_last_has(f->audit, "invariant_violation", "source", "monitor");
    assert_int_equal(serve_note(f, SG_ROLE_MONITOR, "report", "{\"seq\":1}", &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_ERR_MALFORMED);
    assert_last_has(f->audit, "note_refused", "role", "monitor");

    struct sg_wbuf sign;
    sg_wbuf_init(&sign, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_sign(&sign, "https://a.example/t/a", "", "at+jwt", "", (const uint8_t *)"{}", 2);
    assert_int_equal(sign.err, SIGNET_OK);
    assert_int_equal(serve_one(f, SG_ROLE_MONITOR, SG_IPC_SIGN, sign.data, sign.len, &status),
                     SIGNET_ERR_BAD_FRAME);
    assert_last_refusal_of(f->audit, "message not permitted for the peer's role", "monitor",
                           SG_IPC_SIGN);
    sg_wbuf_free(&sign);
    assert_int_equal(serve_str(f, SG_ROLE_MONITOR, SG_IPC_ROTATE, "", &status),
                     SIGNET_ERR_BAD_FRAME);
    assert_last_refusal_of(f->audit, "message not permitted for the peer's role", "monitor",
                           SG_IPC_ROTATE);
    assert_int_equal(serve_one(f, SG_ROLE_MONITOR, SG_IPC_ADVANCE, NULL, 0, &status),
                     SIGNET_ERR_BAD_FRAME);
    assert_int_equal(serve_one(f, SG_ROLE_MONITOR, SG_IPC_MON_POKE, NULL, 0, &status),
                     SIGNET_ERR_BAD_FRAME);
    assert_last_refusal_of(f->audit, "message not served by a signer", "monitor",
                           SG_IPC_MON_POKE);

    /* REVOKE: rate limited for the monitor, not for the administrator. */
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
    assert_int_equal(serve(f, SG_ROLE_MONITOR, &w, st, &n), SIGNET_OK);
    assert_int_equal(n, 3);
    assert_int_equal(st[0], SIGNET_ERR_UNKNOWN_KID);
    assert_int_equal(st[1], SIGNET_ERR_BUSY);
    assert_int_equal(st[2], SIGNET_ERR_BUSY);
    n = 3;
    assert_int_equal(serve(f, SG_ROLE_ADMIN, &w, st, &n), SIGNET_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(st[i], SIGNET_ERR_UNKNOWN_KID);

    /* A fresh signer (every signer the launcher starts has a monitor
     * channel) shares the limit: the last revoke is the state directory's,
     * not the process's. A minute later it is allowed again. */
    sg_signer_close(&f->s);
    char why[512] = "";
    assert_int_equal(sg_signer_open(f->st.dir, &f->s, why, sizeof why), SIGNET_OK);
    n = 1;
    assert_int_equal(serve(f, SG_ROLE_MONITOR, &w, st, &n), SIGNET_OK);
    assert_int_equal(st[0], SIGNET_ERR_BUSY);
    sg_test_state_set_clock(&f->st, T0 + 61);
    sg_signer_close(&f->s);
    assert_int_equal(sg_signer_open(f->st.dir, &f->s, why, sizeof why), SIGNET_OK);
    n = 1;
    assert_int_equal(serve(f, SG_ROLE_MONITOR, &w, st, &n), SIGNET_OK);
    assert_int_equal(st[0], SIGNET_ERR_UNKNOWN_KID);
    sg_wbuf_free(&w);
}

/* A real signer with two channels, as the launcher starts it: the front
 * end's (fd 3, --role-front) and the monitor's (fd 4, --monitor-fd 4). */
struct pair {
    struct sg_signer_client *front, *mon;
    pid_t pid;
};

static void spawn_pair(struct fx *f, struct pair *p)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int fd = -1;
    assert_int_equal(sg_signer_spawn_fd(f->st.dir, SG_SPAWN_ROLE_FRONT, sv[1], &fd, &p->pid),
                     SIGNET_OK);
    close(sv[1]);
    assert_int_equal(sg_signer_client_adopt(fd, p->pid, 0, &p->front), SIGNET_OK);
    assert_int_equal(sg_signer_client_adopt(sv[0], p->pid, 0, &p->mon), SIGNET_OK);
}

/* The signer's exit status once both clients are gone. */
static int reap_pair(struct pair *p)
{
    sg_signer_client_free(&p->mon);
    sg_signer_client_free(&p->front);
    int st = 0;
    while (waitpid(p->pid, &st, 0) < 0)
        assert_int_equal(errno, EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static signet_err call(struct sg_signer_client *c, uint8_t type, const char *arg,
                       signet_err *status)
{
    char *json = NULL;
    signet_err err = arg != NULL ? sg_signer_call_str(c, type, arg, status, &json)
                                 : sg_signer_call(c, type, NULL, 0, status, &json, NULL);
    free(json);
    return err;
}

/* Waits (up to 10 s) for the signer to close its fd 4. Where /proc does not
 * let us look (a non-root run: the signer is not dumpable), a pause. */
static void wait_fd_closed(pid_t pid, int fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd/%d", (long)pid, fd);
    struct stat st;
    struct timespec ms10 = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 1000; i++) {
        if (lstat(path, &st) != 0) {
            if (errno == ENOENT)
                return;
            struct timespec pause = {0, 300 * 1000 * 1000};
            (void)nanosleep(&pause, NULL);
            return;
        }
        (void)nanosleep(&ms10, NULL);
    }
    fail_msg("the signer still holds fd %d", fd);
}

/* Both channels are answered, each with its own role: the monitor may read
 * the inventory and write a note, the front end may not; a refused frame
 * on the monitor's channel drops that channel only (the front end is still
 * served); one on the front end's ends the signer. */
static void test_two_channels(void **state)
{
    struct fx *f = *state;
    struct pair p;
    spawn_pair(f, &p);
    signet_err status = SIGNET_ERR_INTERNAL;
    assert_int_equal(call(p.front, SG_IPC_STATUS, NULL, &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    assert_int_equal(call(p.mon, SG_IPC_STATUS, NULL, &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    assert_int_equal(call(p.mon, SG_IPC_INVENTORY, NULL, &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    struct sg_wbuf note;
    sg_wbuf_init(&note, SG_IPC_MAX_PAYLOAD);
    const char *fields = "{\"invariant\":\"I2\"}";
    sg_ipc_encode_note(&note, "invariant_recovered", fields, strlen(fields));
    char *resp = NULL;
    assert_int_equal(sg_signer_call(p.mon, SG_IPC_AUDIT_NOTE, note.data, note.len, &status, &resp,
                                    NULL),
                     SIGNET_OK);
    free(resp);
    sg_wbuf_free(&note);
    assert_int_equal(status, SIGNET_OK);
    assert_last_has(f->audit, "invariant_recovered", "source", "monitor");
    assert_int_equal(call(p.front, SG_IPC_JWKS, "https://a.example/t/a", &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);

    /* The monitor may not rotate: its channel is dropped, audited with its
     * role; the front end's is still served. */
    assert_int_equal(call(p.mon, SG_IPC_ROTATE, "", &status), SIGNET_ERR_SIGNER_GONE);
    assert_last_refusal_of(f->audit, "message not permitted for the peer's role", "monitor",
                           SG_IPC_ROTATE);
    wait_fd_closed(p.pid, 4);
    assert_int_equal(call(p.mon, SG_IPC_STATUS, NULL, &status), SIGNET_ERR_SIGNER_GONE);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(call(p.front, SG_IPC_STATUS, NULL, &status), SIGNET_OK);
        assert_int_equal(status, SIGNET_OK);
    }

    /* The inventory the monitor was given is refused to the front end, and
     * that ends the signer (its primary channel). */
    assert_int_equal(call(p.front, SG_IPC_INVENTORY, NULL, &status), SIGNET_ERR_SIGNER_GONE);
    assert_last_refusal_of(f->audit, "message not permitted for the peer's role", "front",
                           SG_IPC_INVENTORY);
    assert_int_equal(reap_pair(&p), 5);
}

/* The monitor going away (closing its channel) leaves the front end served;
 * the front end going away ends the signer, cleanly. */
static void test_monitor_leaves(void **state)
{
    struct fx *f = *state;
    struct pair p;
    spawn_pair(f, &p);
    signet_err status = SIGNET_ERR_INTERNAL;
    assert_int_equal(call(p.mon, SG_IPC_KEYS, "", &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    sg_signer_client_free(&p.mon);
    wait_fd_closed(p.pid, 4);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(call(p.front, SG_IPC_STATUS, NULL, &status), SIGNET_OK);
        assert_int_equal(status, SIGNET_OK);
    }
    assert_int_equal(reap_pair(&p), 0);
}

/* The descriptor numbers may collide: the monitor's end sitting on fd 3
 * (where the signer's own end must go) still ends up as fd 4. */
static void test_spawn_fd_collision(void **state)
{
    struct fx *f = *state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int saved3 = fcntl(3, F_DUPFD_CLOEXEC, 10); /* whatever cmocka has there, if anything */
    assert_int_equal(dup3(sv[1], 3, O_CLOEXEC), 3);
    close(sv[1]);
    struct pair p;
    int fd = -1;
    assert_int_equal(sg_signer_spawn_fd(f->st.dir, SG_SPAWN_ROLE_FRONT, 3, &fd, &p.pid), SIGNET_OK);
    close(3);
    if (saved3 >= 0) {
        assert_int_equal(dup3(saved3, 3, O_CLOEXEC), 3);
        close(saved3);
    }
    assert_int_equal(sg_signer_client_adopt(fd, p.pid, 0, &p.front), SIGNET_OK);
    assert_int_equal(sg_signer_client_adopt(sv[0], p.pid, 0, &p.mon), SIGNET_OK);
    signet_err status = SIGNET_ERR_INTERNAL;
    assert_int_equal(call(p.mon, SG_IPC_INVENTORY, NULL, &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    assert_int_equal(call(p.front, SG_IPC_STATUS, NULL, &status), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    assert_int_equal(reap_pair(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_type_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps_off_by_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_front_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_fd_collision, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
