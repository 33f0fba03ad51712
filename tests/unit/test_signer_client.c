/* The pipelined signer channel: many threads call sg_signer_sign /
 * sg_signer_call on one client at once against a real signer. Every caller
 * gets its own verdict (the token signs exactly its claims), the signer
 * group-commits the pipelined requests, the audit log holds one record per
 * signature, and a signer that dies mid-flight (or answers with something
 * nobody asked for) fails every waiter with SIGNET_ERR_SIGNER_GONE instead
 * of leaving one hanging. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "testutil.h"

#include "common/ipc.h"
#include "common/signer_client.h"
#include "signer/audit.h"
#include "util/b64url.h"

#define T0 1800000000LL
#define ISS_A "https://a.example/t/a"
#define ISS_B "https://b.example/t/b"
#define HANG_GUARD_S 240 /* a hang is a failure (SIGALRM), not a stuck run */

struct fx {
    struct sg_test_state st;
    struct sg_signer_client *c;
    char audit[400];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(sg_test_state_setup(&f->st, "[testing]\nclock_file = clock\n"), 0);
    sg_test_state_set_clock(&f->st, T0);
    (void)snprintf(f->audit, sizeof f->audit, "%s/signer/audit.log", f->st.dir);
    assert_int_equal(sg_signer_spawn(f->st.dir, &f->c), SIGNET_OK);
    static const char *const binds[] = {
        "{\"op\":\"bind\",\"tenant\":\"a\",\"client_id\":\"c\",\"scopes\":\"\","
        "\"audiences\":\"https://api.example\"}",
        "{\"op\":\"bind\",\"tenant\":\"b\",\"client_id\":\"c\",\"scopes\":\"\","
        "\"audiences\":\"https://api.example\"}",
    };
    for (size_t i = 0; i < 2; i++) {
        signet_err status = SIGNET_ERR_INTERNAL;
        char *resp = NULL;
        assert_int_equal(sg_signer_call(f->c, SG_IPC_CLIENT_BIND, (const uint8_t *)binds[i],
                                        strlen(binds[i]), &status, &resp, NULL),
                         SIGNET_OK);
        assert_int_equal(status, SIGNET_OK);
        free(resp);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sg_signer_client_free(&f->c);
    sg_test_state_teardown(&f->st);
    free(f);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

/* Claims naming their caller, so a token handed to the wrong waiter shows. */
static int make_claims(char *out, size_t cap, const char *iss, unsigned thread, unsigned i)
{
    /* The client is the bound "c" (setup); nbf names the thread, exp the
     * request (the signer adds the jti). */
    int n = snprintf(out, cap,
                     "{\"iss\":\"%s\",\"sub\":\"c\",\"client_id\":\"c\","
                     "\"aud\":\"https://api.example\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}",
                     iss, T0, T0 + thread, T0 + 300 + i);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* 1 when the token's payload segment is exactly claims. */
static int token_carries(const char *token, const char *claims, size_t len)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL)
        return 0;
    uint8_t buf[1024];
    size_t n = 0;
    if (sg_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf, sizeof buf, &n) != SIGNET_OK)
        return 0;
    /* claims as sent, then the signer's jti: ,"jti":"<22 characters>"} */
    return len > 0 && n == len + 31 && memcmp(buf, claims, len - 1) == 0 &&
           memcmp(buf + len - 1, ",\"jti\":\"", 8) == 0;
}

static json_t *status_doc(struct sg_signer_client *c)
{
    signet_err status = SIGNET_ERR_INTERNAL;
    char *text = NULL;
    assert_int_equal(sg_signer_call(c, SG_IPC_STATUS, NULL, 0, &status, &text, NULL), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    return doc;
}

static long long signer_counter(struct sg_signer_client *c, const char *name)
{
    json_t *doc = status_doc(c);
    json_t *v = json_object_get(json_object_get(doc, "signer"), name);
    assert_true(json_is_integer(v));
    long long n = (long long)json_integer_value(v);
    json_decref(doc);
    return n;
}

/* ---- many callers, one channel ------------------------------------------ */

#define N_THREADS 16
#define PER_THREAD 120

struct worker {
    pthread_t th;
    struct sg_signer_client *c;
    unsigned index;
    int mixed; /* also refusals, STATUS and JWKS calls */
    unsigned signed_ok, refused, calls, wrong;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < PER_THREAD; i++) {
        unsigned kind = w->mixed ? (w->index + i) % 8 : 7;
        if (kind == 0 || kind == 1) {
            /* STATUS or JWKS: a JSON answer of the right kind. */
            signet_err status = SIGNET_ERR_INTERNAL;
            char *text = NULL;
            signet_err err = kind == 0
                                 ? sg_signer_call(w->c, SG_IPC_STATUS, NULL, 0, &status, &text, NULL)
                                 : sg_signer_call_str(w->c, SG_IPC_JWKS, ISS_A, &status, &text);
            json_t *doc = err == SIGNET_OK && status == SIGNET_OK && text != NULL
                              ? json_loads(text, 0, NULL)
                              : NULL;
            int right = doc != NULL && json_object_get(doc, kind == 0 ? "signer" : "keys") != NULL;
            w->calls += (unsigned)right;
            w->wrong += (unsigned)!right;
            json_decref(doc);
            free(text);
            continue;
        }
        /* kind 2: claims for issuer B sent to issuer A: refused. */
        char claims[512];
        int n = make_claims(claims, sizeof claims, kind == 2 ? ISS_B : ISS_A, w->index, i);
        if (n < 0) {
            w->wrong++;
            continue;
        }
        signet_err status = SIGNET_ERR_INTERNAL;
        char *token = NULL;
        signet_err err = sg_signer_sign(w->c, ISS_A, NULL, claims, (size_t)n, &status, &token);
        if (kind == 2) {
            int right = err == SIGNET_OK && status == SIGNET_ERR_POLICY_ISSUER && token == NULL;
            w->refused += (unsigned)right;
            w->wrong += (unsigned)!right;
        } else {
            int right = err == SIGNET_OK && status == SIGNET_OK && token != NULL &&
                        token_carries(token, claims, (size_t)n);
            w->signed_ok += (unsigned)right;
            w->wrong += (unsigned)!right;
        }
        free(token);
    }
    return NULL;
}

static void run_workers(struct sg_signer_client *c, int mixed, unsigned *ok, unsigned *refused,
                        unsigned *calls)
{
    struct worker w[N_THREADS];
    memset(w, 0, sizeof w);
    for (unsigned t = 0; t < N_THREADS; t++) {
        w[t].c = c;
        w[t].index = t;
        w[t].mixed = mixed;
        assert_int_equal(pthread_create(&w[t].th, NULL, worker_main, &w[t]), 0);
    }
    *ok = *refused = *calls = 0;
    unsigned wrong = 0;
    for (unsigned t = 0; t < N_THREADS; t++) {
        assert_int_equal(pthread_join(w[t].th, NULL), 0);
        *ok += w[t].signed_ok;
        *refused += w[t].refused;
        *calls += w[t].calls;
        wrong += w[t].wrong;
    }
    assert_int_equal(wrong, 0);
    assert_int_equal(*ok + *refused + *calls, N_THREADS * PER_THREAD);
}

/* Only signatures, from 16 threads: every token carries its caller's claims,
 * and the signer answered them in batches (group commit) rather than one
 * fdatasync per token. */
static void test_concurrent_signs_are_group_committed(void **state)
{
    struct fx *f = *state;
    alarm(HANG_GUARD_S);
    long long batches0 = signer_counter(f->c, "batches");
    long long sigs0 = signer_counter(f->c, "signatures");
    unsigned ok = 0, refused = 0, calls = 0;
    run_workers(f->c, 0, &ok, &refused, &calls);
    assert_int_equal(ok, N_THREADS * PER_THREAD);
    long long sigs = signer_counter(f->c, "signatures") - sigs0;
    long long batches = signer_counter(f->c, "batches") - batches0;
    assert_int_equal(sigs, ok);
    /* One STATUS call (a batch of its own) sits inside the window. */
    fprintf(stderr, "# %u signatures from %d threads in %lld batches\n", ok, N_THREADS,
            batches - 1);
    assert_true((batches - 1) * 2 <= sigs);
    sg_signer_client_free(&f->c); /* the signer exits: everything is on disk */
    uint64_t n = 0;
    assert_int_equal(sg_audit_count_type(f->audit, "sign", &n), SIGNET_OK);
    assert_int_equal(n, ok);
    alarm(0);
}

/* Signatures, refusals, STATUS and JWKS interleaved on one channel: each
 * caller gets the answer to its own request, and the audit log holds one
 * record per signature and per refusal. */
static void test_mixed_requests_demultiplexed(void **state)
{
    struct fx *f = *state;
    alarm(HANG_GUARD_S);
    unsigned ok = 0, refused = 0, calls = 0;
    run_workers(f->c, 1, &ok, &refused, &calls);
    assert_true(ok > 0 && refused > 0 && calls > 0);
    assert_int_equal(signer_counter(f->c, "signatures"), ok);
    assert_int_equal(signer_counter(f->c, "refusals"), refused);
    sg_signer_client_free(&f->c);
    uint64_t n = 0;
    assert_int_equal(sg_audit_count_type(f->audit, "sign", &n), SIGNET_OK);
    assert_int_equal(n, ok);
    assert_int_equal(sg_audit_count_type(f->audit, "sign_refused", &n), SIGNET_OK);
    assert_int_equal(n, refused);
    alarm(0);
}

/* ---- a signer killed mid-flight ------------------------------------------- */

#define N_KILL_THREADS 24

struct killer_shared {
    struct sg_signer_client *c;
    atomic_uint successes;
    atomic_int stop;
    double killed_at; /* set before the kill; read after the joins */
};

struct kill_worker {
    pthread_t th;
    struct killer_shared *sh;
    unsigned index;
    unsigned ok;
    signet_err last_err;
    double last_start;   /* when the failing call began */
    signet_err after;    /* a call made after the failure */
    int bad_status;
};

static void *kill_worker_main(void *arg)
{
    struct kill_worker *w = arg;
    for (unsigned i = 0; !atomic_load(&w->sh->stop); i++) {
        char claims[512];
        int n = make_claims(claims, sizeof claims, ISS_A, w->index, i);
        signet_err status = SIGNET_ERR_INTERNAL;
        char *token = NULL;
        double start = now_s();
        signet_err err = sg_signer_sign(w->sh->c, ISS_A, NULL, claims, (size_t)n, &status, &token);
        free(token);
        if (err != SIGNET_OK) {
            w->last_err = err;
            w->last_start = start;
            w->bad_status = status != SIGNET_ERR_SIGNER_GONE;
            w->after = sg_signer_sign(w->sh->c, ISS_A, NULL, claims, (size_t)n, &status, &token);
            free(token);
            return NULL;
        }
        if (status != SIGNET_OK) {
            w->bad_status = 1;
            return NULL;
        }
        w->ok++;
        atomic_fetch_add(&w->sh->successes, 1u);
    }
    return NULL;
}

/* Bytes written to the signer that it has not read yet (-1: unknown). */
static int unread_by_signer(const struct sg_signer_client *c)
{
    int n = 0;
    return ioctl(sg_signer_client_fd(c), SIOCOUTQ, &n) == 0 ? n : -1;
}

static void test_killed_signer_fails_every_waiter(void **state)
{
    struct fx *f = *state;
    alarm(HANG_GUARD_S);
    struct killer_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.c = f->c;
    /* The last one is a latecomer, started once the signer is stopped. */
    struct kill_worker w[N_KILL_THREADS + 1];
    memset(w, 0, sizeof w);
    for (unsigned t = 0; t <= N_KILL_THREADS; t++) {
        w[t].sh = &sh;
        w[t].index = t;
    }
    for (unsigned t = 0; t < N_KILL_THREADS; t++)
        assert_int_equal(pthread_create(&w[t].th, NULL, kill_worker_main, &w[t]), 0);
    double deadline = now_s() + 60;
    while (atomic_load(&sh.successes) < 400 && now_s() < deadline)
        sleep_ms(5);
    assert_true(atomic_load(&sh.successes) >= 400);
    /* Kill it while requests are in flight. A kill at a random moment can
     * find it idle, every caller answered and none of them back with its
     * next request: nothing in flight. So it is stopped first, wherever it
     * is in a batch, and killed once the channel holds a request it has not
     * read: one it can never answer, whose caller must see it die. The
     * latecomer's request guarantees one even if every other request is
     * already inside the stopped signer. */
    pid_t pid = sg_signer_client_pid(f->c);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    int wst = 0;
    pid_t got;
    while ((got = waitpid(pid, &wst, WUNTRACED)) < 0 && errno == EINTR)
        ;
    assert_int_equal(got, pid);
    assert_true(WIFSTOPPED(wst));
    struct kill_worker *late = &w[N_KILL_THREADS];
    assert_int_equal(pthread_create(&late->th, NULL, kill_worker_main, late), 0);
    deadline = now_s() + 60;
    while (unread_by_signer(f->c) <= 0 && now_s() < deadline)
        sleep_ms(1);
    assert_true(unread_by_signer(f->c) > 0);
    sh.killed_at = now_s();
    assert_int_equal(kill(pid, SIGKILL), 0);
    unsigned ok = 0, in_flight = 0;
    for (unsigned t = 0; t <= N_KILL_THREADS; t++) {
        assert_int_equal(pthread_join(w[t].th, NULL), 0);
        assert_false(w[t].bad_status);
        assert_int_equal(w[t].last_err, SIGNET_ERR_SIGNER_GONE);
        assert_int_equal(w[t].after, SIGNET_ERR_SIGNER_GONE);
        in_flight += w[t].last_start < sh.killed_at;
        ok += w[t].ok;
    }
    /* A stopped signer answers nothing: the latecomer got no token. */
    assert_int_equal(late->ok, 0);
    fprintf(stderr, "# killed after %u tokens; %u of %d callers had a request in flight\n", ok,
            in_flight, N_KILL_THREADS + 1);
    assert_true(in_flight > 0);
    /* The channel stays dead. */
    signet_err status = SIGNET_OK;
    char *json = NULL;
    assert_int_equal(sg_signer_call(f->c, SG_IPC_STATUS, NULL, 0, &status, &json, NULL),
                     SIGNET_ERR_SIGNER_GONE);
    assert_int_equal(status, SIGNET_ERR_SIGNER_GONE);
    assert_null(json);
    /* No token left the signer without its durable record. The log is read
     * as the next signer finds it: opening it cuts a torn last line, which a
     * writer killed mid-write leaves (never a committed record: a batch's
     * tokens leave only after its commit). */
    sg_signer_client_free(&f->c);
    struct sg_audit *a = NULL;
    assert_int_equal(sg_audit_open(f->audit, &a), SIGNET_OK);
    sg_audit_close(&a);
    uint64_t n = 0;
    assert_int_equal(sg_audit_count_type(f->audit, "sign", &n), SIGNET_OK);
    assert_true(n >= ok);
    alarm(0);
}

/* ---- a signer that answers what nobody asked -------------------------------- */

/* The test binary doubles as a fake signer (SIGNET_SIGNER points at it):
 * it reads requests on fd 3 and answers the first one wrongly. */
static int fake_signer(const char *mode)
{
    struct sg_wbuf in;
    sg_wbuf_init(&in, 1u << 22);
    uint8_t tmp[4096];
    int answered = 0;
    for (;;) {
        ssize_t n = read(3, tmp, sizeof tmp);
        if (n <= 0)
            break;
        sg_wbuf_put_bytes(&in, tmp, (size_t)n);
        struct sg_ipc_frame fr;
        size_t used = 0;
        if (answered || sg_ipc_next(in.data, in.len, &fr, &used) != SIGNET_OK || used == 0)
            continue;
        /* Let the other callers' requests arrive first. */
        sleep_ms(200);
        uint8_t status[4] = {0, 0, 0, 0};
        struct sg_wbuf out;
        sg_wbuf_init(&out, 1u << 16);
        if (strcmp(mode, "unknown-id") == 0)
            sg_ipc_put_frame(&out, (uint8_t)(fr.type | SG_IPC_RESPONSE), fr.id + 100000u, status,
                             sizeof status);
        else if (strcmp(mode, "wrong-type") == 0)
            sg_ipc_put_frame(&out, SG_IPC_JWKS | SG_IPC_RESPONSE, fr.id, status, sizeof status);
        else if (strcmp(mode, "short") == 0)
            sg_ipc_put_frame(&out, (uint8_t)(fr.type | SG_IPC_RESPONSE), fr.id, status, 2);
        else
            sg_wbuf_put_bytes(&out, "XXXXXXXXXXXXXXXX", 16);
        if (sg_ipc_write_all(3, out.data, out.len) != SIGNET_OK)
            break;
        sg_wbuf_free(&out);
        answered = 1;
    }
    sg_wbuf_free(&in);
    return 0;
}

struct bad_worker {
    pthread_t th;
    struct sg_signer_client *c;
    signet_err err;
    signet_err status;
};

static void *bad_worker_main(void *arg)
{
    struct bad_worker *w = arg;
    char claims[512];
    int n = make_claims(claims, sizeof claims, ISS_A, 0, 0);
    char *token = NULL;
    w->err = sg_signer_sign(w->c, ISS_A, NULL, claims, (size_t)n, &w->status, &token);
    free(token);
    return NULL;
}

static void test_unsolicited_response_drops_channel(void **state)
{
    (void)state;
    alarm(HANG_GUARD_S);
    static const char *const modes[] = {"unknown-id", "wrong-type", "short", "garbage"};
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(len > 0);
    self[len] = '\0';
    const char *saved = getenv("SIGNET_SIGNER");
    char *saved_copy = saved != NULL ? strdup(saved) : NULL;
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        assert_int_equal(setenv("SIGNET_SIGNER", self, 1), 0);
        assert_int_equal(setenv("SG_TEST_FAKE_SIGNER", modes[m], 1), 0);
        struct sg_signer_client *c = NULL;
        assert_int_equal(sg_signer_spawn("/nonexistent", &c), SIGNET_OK);
        (void)unsetenv("SG_TEST_FAKE_SIGNER");
        struct bad_worker w[8];
        memset(w, 0, sizeof w);
        for (size_t t = 0; t < 8; t++) {
            w[t].c = c;
            assert_int_equal(pthread_create(&w[t].th, NULL, bad_worker_main, &w[t]), 0);
        }
        for (size_t t = 0; t < 8; t++) {
            assert_int_equal(pthread_join(w[t].th, NULL), 0);
            assert_int_equal(w[t].err, SIGNET_ERR_SIGNER_GONE);
            assert_int_equal(w[t].status, SIGNET_ERR_SIGNER_GONE);
        }
        sg_signer_client_free(&c);
    }
    if (saved_copy != NULL)
        assert_int_equal(setenv("SIGNET_SIGNER", saved_copy, 1), 0);
    free(saved_copy);
    alarm(0);
}

/* ---- asynchronous signing ------------------------------------------------- */

#define N_ASYNC 300

struct async_rec {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    unsigned done, ok, gone, bad;
    char claims[N_ASYNC][256];
    int len[N_ASYNC];
};

struct async_one {
    struct async_rec *r;
    unsigned i;
};

static void async_cb(void *user, signet_err err, signet_err status, char *token)
{
    struct async_one *o = user;
    struct async_rec *r = o->r;
    pthread_mutex_lock(&r->lock);
    if (err == SIGNET_OK && status == SIGNET_OK && token != NULL &&
        token_carries(token, r->claims[o->i], (size_t)r->len[o->i]))
        r->ok++;
    else if (err == SIGNET_ERR_SIGNER_GONE && token == NULL)
        r->gone++;
    else
        r->bad++;
    r->done++;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    free(token);
    free(o);
}

static unsigned async_submit(struct sg_signer_client *c, struct async_rec *r, unsigned from,
                             unsigned n)
{
    unsigned sent = 0;
    for (unsigned i = from; i < from + n; i++) {
        r->len[i] = make_claims(r->claims[i], sizeof r->claims[i], ISS_A, 99, i);
        assert_true(r->len[i] > 0);
        struct async_one *o = malloc(sizeof *o);
        assert_non_null(o);
        o->r = r;
        o->i = i;
        signet_err err = sg_signer_sign_async(c, ISS_A, NULL, r->claims[i], (size_t)r->len[i],
                                              async_cb, o);
        if (err == SIGNET_OK) {
            sent++;
        } else {
            assert_int_equal(err, SIGNET_ERR_SIGNER_GONE);
            free(o);
        }
    }
    return sent;
}

static void async_wait(struct async_rec *r, unsigned n)
{
    pthread_mutex_lock(&r->lock);
    while (r->done < n)
        pthread_cond_wait(&r->wake, &r->lock);
    pthread_mutex_unlock(&r->lock);
}

/* The pending count drops when a callback has returned, which is a moment
 * after async_cb counted it done (the reader thread may still be on its way
 * out of the callback when async_wait returns): wait for the count to
 * settle, boundedly, and say what it settled at. */
static long pending_settled(struct sg_signer_client *c)
{
    double deadline = now_s() + 60;
    while (sg_signer_client_pending(c) != 0 && now_s() < deadline)
        sleep_ms(1);
    return sg_signer_client_pending(c);
}

/* Many signatures in flight from one thread, delivered by the reader
 * thread; synchronous calls keep working beside them. */
static void test_async_signs_delivered(void **state)
{
    struct fx *f = *state;
    struct async_rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    unsigned sent = async_submit(f->c, r, 0, N_ASYNC);
    assert_int_equal(sent, N_ASYNC);
    signet_err status = SIGNET_ERR_INTERNAL;
    char *json = NULL;
    assert_int_equal(sg_signer_call(f->c, SG_IPC_STATUS, NULL, 0, &status, &json, NULL),
                     SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    free(json);
    async_wait(r, sent);
    assert_int_equal(r->ok, N_ASYNC);
    assert_int_equal(r->bad + r->gone, 0);
    assert_int_equal(pending_settled(f->c), 0);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* A dead signer completes every pending callback (those it did not answer
 * with SIGNER_GONE), and a later request fails. */
static void test_async_killed_signer(void **state)
{
    struct fx *f = *state;
    struct async_rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    unsigned sent = async_submit(f->c, r, 0, N_ASYNC / 2);
    assert_int_equal(kill(sg_signer_client_pid(f->c), SIGKILL), 0);
    sent += async_submit(f->c, r, N_ASYNC / 2, N_ASYNC / 2);
    async_wait(r, sent);
    assert_int_equal(r->bad, 0);
    assert_int_equal(r->ok + r->gone, sent);
    assert_int_equal(pending_settled(f->c), 0);
    signet_err status = SIGNET_OK;
    char *token = NULL;
    assert_int_equal(sg_signer_sign(f->c, ISS_A, NULL, "{}", 2, &status, &token),
                     SIGNET_ERR_SIGNER_GONE);
    assert_null(token);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* sg_signer_client_free with requests still pending completes them. */
static void test_async_free_completes_pending(void **state)
{
    struct fx *f = *state;
    struct async_rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    unsigned sent = async_submit(f->c, r, 0, N_ASYNC);
    sg_signer_client_free(&f->c);
    assert_int_equal(r->done, sent);
    assert_int_equal(r->bad, 0);
    assert_int_equal(r->ok + r->gone, sent);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

struct watch_rec {
    pthread_mutex_t lock;
    int calls;
};

static void watch_cb(void *user)
{
    struct watch_rec *w = user;
    pthread_mutex_lock(&w->lock);
    w->calls++;
    pthread_mutex_unlock(&w->lock);
}

/* Waits up to ms for a call; the number of calls seen. */
static int watch_wait(struct watch_rec *w, int ms)
{
    double deadline = now_s() + ms / 1000.0;
    pthread_mutex_lock(&w->lock);
    while (w->calls == 0 && now_s() < deadline) {
        pthread_mutex_unlock(&w->lock);
        sleep_ms(5);
        pthread_mutex_lock(&w->lock);
    }
    int n = w->calls;
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* A signer that dies idle (no request pending, none after) is reported
 * once, by the channel's reader thread; a client freed on purpose is not,
 * and watching a dead channel says so. */
static void test_watch_reports_idle_death(void **state)
{
    struct fx *f = *state;
    struct watch_rec w = {.calls = 0};
    pthread_mutex_init(&w.lock, NULL);
    assert_int_equal(sg_signer_client_watch(f->c, watch_cb, &w), SIGNET_OK);
    sleep_ms(100);
    assert_int_equal(watch_wait(&w, 0), 0); /* alive: nothing said */
    assert_int_equal(kill(sg_signer_client_pid(f->c), SIGKILL), 0);
    assert_int_equal(watch_wait(&w, 10000), 1);
    assert_int_equal(sg_signer_client_watch(f->c, watch_cb, &w), SIGNET_ERR_SIGNER_GONE);
    sg_signer_client_free(&f->c);
    assert_int_equal(watch_wait(&w, 0), 1); /* once only */
    pthread_mutex_destroy(&w.lock);
}

static void test_watch_quiet_on_free(void **state)
{
    struct fx *f = *state;
    struct watch_rec w = {.calls = 0};
    pthread_mutex_init(&w.lock, NULL);
    assert_int_equal(sg_signer_client_watch(f->c, watch_cb, &w), SIGNET_OK);
    sg_signer_client_free(&f->c);
    assert_int_equal(watch_wait(&w, 200), 0);
    pthread_mutex_destroy(&w.lock);
}

int main(void)
{
    const char *fake = getenv("SG_TEST_FAKE_SIGNER");
    if (fake != NULL)
        return fake_signer(fake);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_signs_are_group_committed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mixed_requests_demultiplexed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_signer_fails_every_waiter, setup, teardown),
        cmocka_unit_test(test_unsolicited_response_drops_channel),
        cmocka_unit_test_setup_teardown(test_async_signs_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_killed_signer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_free_completes_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_reports_idle_death, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_quiet_on_free, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
