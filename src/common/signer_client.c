#include "common/signer_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/accounts.h"
#include "common/config.h"
#include "common/ipc.h"
#include "util/buf.h"

/* One request in flight: it lives on its caller's stack (or, for an
 * asynchronous request, on the heap), is linked into the client's list
 * before its frame is written, and is unlinked (under the client lock) by
 * whoever completes it: the reader that delivers its response, or the
 * failure of the channel. A completed asynchronous waiter moves to the
 * client's done list; its callback runs later, without the lock. */
struct waiter {
    struct waiter *next;
    sg_signer_call_cb cb; /* NULL: a synchronous caller waits on wake */
    void *user;
    uint32_t id;
    uint8_t type;      /* the request's type; the response must carry it */
    int done;
    int sent;          /* its frame is out: it waits, or reads for everyone */
    signet_err err;    /* transport outcome */
    signet_err status; /* the signer's verdict */
    char *resp;        /* payload after the status, malloc'd, NUL-terminated */
    size_t resp_len;
    pthread_cond_t wake;
};

struct sg_signer_client {
    int fd;
    pid_t pid;
    int reap;                   /* the signer is our child: wait for it */
    pthread_mutex_t lock;       /* next_id, waiters, reading, dead */
    pthread_mutex_t write_lock; /* whole frames on fd, one at a time */
    uint32_t next_id;
    struct waiter *waiters; /* registered, not yet completed */
    int reading;            /* a caller holds the reader role */
    int dead;               /* the channel failed; it never recovers */
    struct sg_wbuf in;      /* bytes read, not yet dispatched: the reader's */
    struct waiter *done;    /* completed asynchronous waiters, callbacks due */
    pthread_t reader;       /* the reader thread (started by the first async call) */
    int reader_started;
    atomic_long pending;    /* asynchronous requests whose callback has not returned */
    pthread_cond_t reader_wake; /* the reader thread waits for the reader role */
    void (*on_dead)(void *user); /* sg_signer_client_watch; cleared once called or freed */
    void *on_dead_user;
};

#if SIGNET_TESTING
/* A testing build lets $SIGNET_SIGNER (an absolute path) name the signer, so
 * tests can run it under a wrapper or a fake. */
static const char *signer_override(void)
{
    const char *env = getenv("SIGNET_SIGNER");
    if (env != NULL && env[0] == '/' && access(env, X_OK) == 0)
        return env;
    return NULL;
}
#else
/* A release build: whoever starts us cannot choose the signer's binary. */
static const char *signer_override(void)
{
    return NULL;
}
#endif

const char *sg_signer_path(void)
{
    static char path[PATH_MAX];
    const char *env = signer_override();
    if (env != NULL)
        return env;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            int m = snprintf(path, sizeof path, "%s/signet-signer", self);
            if (m > 0 && (size_t)m < sizeof path && access(path, X_OK) == 0)
                return path;
            m = snprintf(path, sizeof path, "%s/../libexec/signet-signer", self);
            if (m > 0 && (size_t)m < sizeof path && access(path, X_OK) == 0)
                return path;
        }
    }
    if (access(SIGNET_SIGNER_BUILD_PATH, X_OK) == 0)
        return SIGNET_SIGNER_BUILD_PATH;
    return SIGNET_SIGNER_INSTALL_PATH;
}

signet_err sg_signer_spawn(const char *state_dir, struct sg_signer_client **out)
{
    return sg_signer_spawn_ex(state_dir, 0, out);
}

/* In the child, before exec: when started as root, become the signer's
 * account (the owner of <state>/signer) so that the PKCS#11 module never
 * runs as root. Locked memory is granted first (mlockall of a process that
 * is no longer root is bounded by RLIMIT_MEMLOCK). A root-owned signer/
 * is the single-account layout: the signer then stays uid 0 and gives up
 * every capability itself (sandbox.c). */
static int become_signer(const char *state_dir)
{
    if (geteuid() != 0)
        return 0;
    struct sg_account a;
    if (sg_account_of_dir(state_dir, SG_SIGNER_DIR, &a) != SIGNET_OK || a.uid == 0)
        return 0;
    struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};
    (void)setrlimit(RLIMIT_MEMLOCK, &inf);
    return sg_account_become(&a) == SIGNET_OK ? 0 : -1;
}

signet_err sg_signer_spawn_fd(const char *state_dir, unsigned flags, int mon_fd, int *fd_out,
                              pid_t *pid_out)
{
    if (mon_fd >= 0 && fcntl(mon_fd, F_GETFD) < 0)
        return SIGNET_ERR_INVALID_ARG;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return SIGNET_ERR_IO;
    const char *bin = sg_signer_path();
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return SIGNET_ERR_IO;
    }
    if (pid == 0) {
        /* Child: the signer's end becomes fd 3 and the monitor's channel fd
         * 4; everything else closes on exec. Either source may sit on 3 or
         * 4 already, so both are first copied above them (F_DUPFD: no
         * close-on-exec, closed again below). */
        int chan = fcntl(sv[1], F_DUPFD, 10);
        int mon = mon_fd >= 0 ? fcntl(mon_fd, F_DUPFD, 10) : -1;
        if (chan < 0 || (mon_fd >= 0 && mon < 0) || dup2(chan, 3) < 0 ||
            (mon >= 0 && dup2(mon, 4) < 0))
            _exit(127);
        close(chan);
        if (mon >= 0)
            close(mon);
        /* A clean signal state for the signer, whatever the parent blocked. */
        sigset_t none;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        if (become_signer(state_dir) != 0) {
            static const char msg[] = "signet-signer: cannot become the signer's account\n";
            (void)!write(2, msg, sizeof msg - 1);
            _exit(126);
        }
        char *argv[10];
        size_t k = 0;
        argv[k++] = (char *)"signet-signer";
        argv[k++] = (char *)"--state";
        argv[k++] = (char *)state_dir;
        argv[k++] = (char *)"--fd";
        argv[k++] = (char *)"3";
        if ((flags & SG_SPAWN_NO_ADVANCE) != 0)
            argv[k++] = (char *)"--no-advance";
        if ((flags & SG_SPAWN_ROLE_FRONT) != 0)
            argv[k++] = (char *)"--role-front";
        if (mon_fd >= 0) {
            argv[k++] = (char *)"--monitor-fd";
            argv[k++] = (char *)"4";
        }
        argv[k] = NULL;
        execv(bin, argv);
        _exit(127);
    }
    close(sv[1]);
    *fd_out = sv[0];
    *pid_out = pid;
    return SIGNET_OK;
}

signet_err sg_signer_client_adopt(int fd, pid_t pid, int reap, struct sg_signer_client **out)
{
    struct sg_signer_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return SIGNET_ERR_NOMEM;
    c->fd = fd;
    c->pid = pid;
    c->reap = reap;
    c->next_id = 1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->write_lock, NULL);
    pthread_cond_init(&c->reader_wake, NULL);
    sg_wbuf_init(&c->in, 2 * (SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD));
    *out = c;
    return SIGNET_OK;
}

signet_err sg_signer_spawn_ex(const char *state_dir, unsigned flags,
                              struct sg_signer_client **out)
{
    int fd = -1;
    pid_t pid = -1;
    signet_err err = sg_signer_spawn_fd(state_dir, flags, -1, &fd, &pid);
    if (err != SIGNET_OK)
        return err;
    err = sg_signer_client_adopt(fd, pid, 1, out);
    if (err != SIGNET_OK) {
        close(fd);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    return err;
}

pid_t sg_signer_client_pid(const struct sg_signer_client *c)
{
    return c->pid;
}

int sg_signer_client_fd(const struct sg_signer_client *c)
{
    return c->fd;
}

void sg_signer_client_free(struct sg_signer_client **cp)
{
    if (cp == NULL || *cp == NULL)
        return;
    struct sg_signer_client *c = *cp;
    if (c->reader_started) {
        /* The reader thread sees the end of the channel, completes every
         * pending callback with SIGNET_ERR_SIGNER_GONE and exits. */
        pthread_mutex_lock(&c->lock);
        c->on_dead = NULL; /* closed on purpose: no one is told */
        if (!c->dead)
            (void)shutdown(c->fd, SHUT_RDWR);
        pthread_cond_signal(&c->reader_wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->reader, NULL);
    }
    if (c->fd >= 0)
        close(c->fd);
    int st = 0;
    while (c->reap && c->pid > 0 && waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
        ;
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->write_lock);
    pthread_cond_destroy(&c->reader_wake);
    sg_wbuf_free(&c->in);
    free(c);
    *cp = NULL;
}

/* Under c->lock: the channel is unusable (the signer died, a frame could
 * not be written whole, or the signer sent something we did not ask for).
 * Every waiter fails now; shutdown() wakes a reader blocked in read() and
 * a writer blocked in send(), and every later call fails at once. */
/* Under c->lock: w is complete; wake its caller, or queue its callback. */
static void complete_locked(struct sg_signer_client *c, struct waiter *w)
{
    w->done = 1;
    if (w->cb != NULL) {
        w->next = c->done;
        c->done = w;
    } else {
        pthread_cond_signal(&w->wake);
    }
}

/* Without c->lock: runs the callbacks of completed asynchronous requests. */
static void flush_done(struct sg_signer_client *c)
{
    pthread_mutex_lock(&c->lock);
    struct waiter *w = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->lock);
    while (w != NULL) {
        struct waiter *next = w->next;
        w->cb(w->user, w->err, w->err == SIGNET_OK ? w->status : SIGNET_ERR_SIGNER_GONE,
              w->err == SIGNET_OK ? w->resp : NULL, w->err == SIGNET_OK ? w->resp_len : 0);
        if (w->err != SIGNET_OK)
            free(w->resp);
        free(w);
        atomic_fetch_sub(&c->pending, 1);
        w = next;
    }
}

static void fail_locked(struct sg_signer_client *c)
{
    if (!c->dead) {
        c->dead = 1;
        (void)shutdown(c->fd, SHUT_RDWR);
    }
    while (c->waiters != NULL) {
        struct waiter *w = c->waiters;
        c->waiters = w->next;
        w->next = NULL;
        w->err = SIGNET_ERR_SIGNER_GONE;
        complete_locked(c, w);
    }
    pthread_cond_signal(&c->reader_wake);
}

static void fail_channel(struct sg_signer_client *c)
{
    pthread_mutex_lock(&c->lock);
    fail_locked(c);
    pthread_mutex_unlock(&c->lock);
    flush_done(c);
}

/* Writes one whole frame; any failure kills the channel, since a partial
 * frame would desynchronise the stream. */
static signet_err send_frame(struct sg_signer_client *c, uint8_t type, uint32_t id,
                             const uint8_t *payload, size_t len)
{
    struct sg_wbuf out;
    sg_wbuf_init(&out, SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD);
    sg_ipc_put_frame(&out, type, id, payload, len);
    signet_err err = out.err;
    if (err == SIGNET_OK) {
        pthread_mutex_lock(&c->write_lock);
        err = sg_ipc_write_all(c->fd, out.data, out.len);
        pthread_mutex_unlock(&c->write_lock);
        if (err != SIGNET_OK)
            fail_channel(c);
    }
    sg_wbuf_free(&out);
    return err;
}

static struct waiter *take_waiter(struct sg_signer_client *c, uint32_t id)
{
    for (struct waiter **pp = &c->waiters; *pp != NULL; pp = &(*pp)->next) {
        struct waiter *w = *pp;
        if (w->id == id) {
            *pp = w->next;
            w->next = NULL;
            return w;
        }
    }
    return NULL;
}

/* Under c->lock: hands every complete frame in c->in to its waiter.
 * SIGNET_ERR_BAD_FRAME for bytes that are not a response to a request in
 * flight (the connection is then dropped). */
static signet_err dispatch_locked(struct sg_signer_client *c)
{
    size_t off = 0;
    signet_err err = SIGNET_OK;
    while (off < c->in.len) {
        struct sg_ipc_frame f;
        size_t consumed = 0;
        err = sg_ipc_next(c->in.data + off, c->in.len - off, &f, &consumed);
        if (err != SIGNET_OK || consumed == 0)
            break;
        struct sg_buf b;
        sg_buf_init(&b, f.payload, f.len);
        uint32_t st = 0;
        struct waiter *w = (f.type & SG_IPC_RESPONSE) != 0 ? take_waiter(c, f.id) : NULL;
        if (w == NULL || f.type != (w->type | SG_IPC_RESPONSE) ||
            sg_buf_get_u32(&b, &st) != SIGNET_OK) {
            if (w != NULL) {
                w->next = c->waiters; /* fail_locked completes it */
                c->waiters = w;
            }
            err = SIGNET_ERR_BAD_FRAME;
            break;
        }
        off += consumed;
        w->status = (signet_err)st;
        w->err = SIGNET_OK;
        size_t rest = sg_buf_remaining(&b);
        if (rest > 0) {
            w->resp = malloc(rest + 1);
            if (w->resp == NULL) {
                w->err = SIGNET_ERR_NOMEM;
            } else {
                memcpy(w->resp, f.payload + 4, rest);
                w->resp[rest] = '\0';
                w->resp_len = rest;
            }
        }
        complete_locked(c, w);
    }
    if (off > 0) {
        memmove(c->in.data, c->in.data + off, c->in.len - off);
        c->in.len -= off;
    }
    return err;
}

/* The reader role: read and dispatch until self is complete (self NULL:
 * until the channel fails), running due callbacks on the way. Called
 * without c->lock; returns with it held. */
static void read_until_done(struct sg_signer_client *c, const struct waiter *self)
{
    uint8_t tmp[16384];
    pthread_mutex_lock(&c->lock);
    for (;;) {
        if (dispatch_locked(c) != SIGNET_OK) {
            fail_locked(c);
            return;
        }
        if (c->done != NULL) {
            pthread_mutex_unlock(&c->lock);
            flush_done(c);
            pthread_mutex_lock(&c->lock);
        }
        if ((self != NULL && self->done) || c->dead)
            return;
        pthread_mutex_unlock(&c->lock);
        ssize_t n = read(c->fd, tmp, sizeof tmp);
        while (n < 0 && errno == EINTR)
            n = read(c->fd, tmp, sizeof tmp);
        pthread_mutex_lock(&c->lock);
        if (n <= 0) {
            fail_locked(c);
            return;
        }
        sg_wbuf_put_bytes(&c->in, tmp, (size_t)n);
        if (c->in.err != SIGNET_OK) {
            fail_locked(c);
            return;
        }
    }
}

signet_err sg_signer_call(struct sg_signer_client *c, uint8_t type, const uint8_t *payload,
                          size_t len, signet_err *status, char **resp, size_t *resp_len)
{
    *status = SIGNET_ERR_SIGNER_GONE;
    if (resp != NULL)
        *resp = NULL;
    if (resp_len != NULL)
        *resp_len = 0;
    struct waiter w;
    memset(&w, 0, sizeof w);
    w.type = type;
    w.err = SIGNET_ERR_SIGNER_GONE;
    pthread_cond_init(&w.wake, NULL);

    /* Registered before the frame leaves, so that a fast answer finds it. */
    pthread_mutex_lock(&c->lock);
    int dead = c->dead;
    if (!dead) {
        w.id = c->next_id++;
        w.next = c->waiters;
        /* w is unlinked (by the reader or fail_locked) before it is seen
         * done, and this function returns only once it is done. */
        c->waiters = &w; /* cppcheck-suppress autoVariables */
    }
    pthread_mutex_unlock(&c->lock);
    if (!dead)
        (void)send_frame(c, type, w.id, payload, len); /* a failure completes w */

    pthread_mutex_lock(&c->lock);
    w.sent = 1;
    while (!dead && !w.done) {
        if (c->reading) {
            pthread_cond_wait(&w.wake, &c->lock);
            continue;
        }
        c->reading = 1;
        pthread_mutex_unlock(&c->lock);
        read_until_done(c, &w);
        c->reading = 0;
        /* Pass the reader role on to a caller whose request is out (one
         * still writing takes it by itself when it gets here), and to the
         * reader thread, if any. */
        for (struct waiter *o = c->waiters; o != NULL; o = o->next)
            if (o->sent && o->cb == NULL) {
                pthread_cond_signal(&o->wake);
                break;
            }
        pthread_cond_signal(&c->reader_wake);
    }
    pthread_mutex_unlock(&c->lock);
    pthread_cond_destroy(&w.wake);
    flush_done(c);

    signet_err err = dead ? SIGNET_ERR_SIGNER_GONE : w.err;
    if (err != SIGNET_OK) {
        free(w.resp);
        return err;
    }
    *status = w.status;
    if (resp != NULL) {
        *resp = w.resp;
        if (resp_len != NULL)
            *resp_len = w.resp_len;
    } else {
        free(w.resp);
    }
    return SIGNET_OK;
}

/* The reader thread: takes the reader role as soon as it is free and keeps
 * it until the channel fails, so asynchronous requests always have a
 * reader; then it runs the last callbacks and exits. */
static void *reader_main(void *arg)
{
    struct sg_signer_client *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->dead && c->reading)
        pthread_cond_wait(&c->reader_wake, &c->lock);
    if (!c->dead) {
        c->reading = 1;
        pthread_mutex_unlock(&c->lock);
        read_until_done(c, NULL);
        c->reading = 0;
    }
    /* Dead: every waiter has been failed (and woken). */
    void (*on_dead)(void *) = c->on_dead;
    void *on_dead_user = c->on_dead_user;
    c->on_dead = NULL;
    pthread_mutex_unlock(&c->lock);
    flush_done(c);
    if (on_dead != NULL)
        on_dead(on_dead_user);
    return NULL;
}

/* Under c->lock. */
static int start_reader_locked(struct sg_signer_client *c)
{
    if (c->reader_started)
        return 0;
    if (pthread_create(&c->reader, NULL, reader_main, c) != 0)
        return -1;
    c->reader_started = 1;
    return 0;
}

signet_err sg_signer_client_watch(struct sg_signer_client *c, void (*fn)(void *user), void *user)
{
    pthread_mutex_lock(&c->lock);
    if (c->dead) {
        pthread_mutex_unlock(&c->lock);
        return SIGNET_ERR_SIGNER_GONE;
    }
    c->on_dead = fn;
    c->on_dead_user = user;
    if (start_reader_locked(c) != 0) {
        c->on_dead = NULL;
        pthread_mutex_unlock(&c->lock);
        return SIGNET_ERR_INTERNAL;
    }
    pthread_mutex_unlock(&c->lock);
    return SIGNET_OK;
}

signet_err sg_signer_call_async(struct sg_signer_client *c, uint8_t type, const uint8_t *payload,
                                size_t len, sg_signer_call_cb cb, void *user)
{
    struct waiter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return SIGNET_ERR_NOMEM;
    w->type = type;
    w->cb = cb;
    w->user = user;
    w->err = SIGNET_ERR_SIGNER_GONE;
    pthread_mutex_lock(&c->lock);
    if (c->dead) {
        pthread_mutex_unlock(&c->lock);
        free(w);
        return SIGNET_ERR_SIGNER_GONE;
    }
    if (start_reader_locked(c) != 0) {
        pthread_mutex_unlock(&c->lock);
        free(w);
        return SIGNET_ERR_INTERNAL;
    }
    atomic_fetch_add(&c->pending, 1);
    w->id = c->next_id++;
    w->sent = 1;
    w->next = c->waiters;
    c->waiters = w;
    pthread_mutex_unlock(&c->lock);
    /* From here on w belongs to the channel: a failure completes it. */
    (void)send_frame(c, type, w->id, payload, len);
    return SIGNET_OK;
}

long sg_signer_client_pending(struct sg_signer_client *c)
{
    return atomic_load(&c->pending);
}

signet_err sg_signer_call_str(struct sg_signer_client *c, uint8_t type, const char *arg,
                              signet_err *status, char **json)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    if (arg != NULL)
        sg_wbuf_put_str(&w, arg);
    signet_err err = w.err;
    if (err == SIGNET_OK)
        err = sg_signer_call(c, type, w.data, w.len, status, json, NULL);
    sg_wbuf_free(&w);
    return err;
}

signet_err sg_signer_sign(struct sg_signer_client *c, const char *issuer, const char *alg,
                          const char *claims, size_t claims_len, signet_err *status, char **token)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_sign(&w, issuer, alg, "at+jwt", NULL, (const uint8_t *)claims, claims_len);
    signet_err err = w.err;
    char *resp = NULL;
    size_t resp_len = 0;
    *token = NULL;
    if (err == SIGNET_OK)
        err = sg_signer_call(c, SG_IPC_SIGN, w.data, w.len, status, &resp, &resp_len);
    sg_wbuf_free(&w);
    if (err != SIGNET_OK || *status != SIGNET_OK) {
        free(resp);
        return err;
    }
    /* Response: u16-length token. */
    struct sg_buf b;
    sg_buf_init(&b, resp, resp_len);
    const uint8_t *tok = NULL;
    size_t tlen = 0;
    err = sg_buf_get_field(&b, UINT16_MAX, &tok, &tlen);
    if (err == SIGNET_OK) {
        char *t = malloc(tlen + 1);
        if (t == NULL) {
            err = SIGNET_ERR_NOMEM;
        } else {
            memcpy(t, tok, tlen);
            t[tlen] = '\0';
            *token = t;
        }
    } else {
        err = SIGNET_ERR_BAD_FRAME;
    }
    free(resp);
    return err;
}

struct sign_async {
    sg_signer_sign_cb cb;
    void *user;
};

static void sign_done(void *user, signet_err err, signet_err status, char *resp, size_t resp_len)
{
    struct sign_async *a = user;
    char *token = NULL;
    if (err == SIGNET_OK && status == SIGNET_OK) {
        struct sg_buf b;
        sg_buf_init(&b, resp, resp_len);
        const uint8_t *tok = NULL;
        size_t tlen = 0;
        if (sg_buf_get_field(&b, UINT16_MAX, &tok, &tlen) == SIGNET_OK) {
            token = malloc(tlen + 1);
            if (token == NULL) {
                err = SIGNET_ERR_NOMEM;
            } else {
                memcpy(token, tok, tlen);
                token[tlen] = '\0';
            }
        } else {
            err = SIGNET_ERR_BAD_FRAME;
        }
    }
    free(resp);
    sg_signer_sign_cb cb = a->cb;
    void *cb_user = a->user;
    free(a);
    cb(cb_user, err, status, token);
}

signet_err sg_signer_sign_async(struct sg_signer_client *c, const char *issuer, const char *alg,
                                const char *claims, size_t claims_len, sg_signer_sign_cb cb,
                                void *user)
{
    return sg_signer_sign_typ_async(c, issuer, alg, "at+jwt", claims, claims_len, cb, user);
}

signet_err sg_signer_sign_typ_async(struct sg_signer_client *c, const char *issuer,
                                    const char *alg, const char *typ, const char *claims,
                                    size_t claims_len, sg_signer_sign_cb cb, void *user)
{
    struct sign_async *a = malloc(sizeof *a);
    if (a == NULL)
        return SIGNET_ERR_NOMEM;
    a->cb = cb;
    a->user = user;
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_sign(&w, issuer, alg, typ, NULL, (const uint8_t *)claims, claims_len);
    signet_err err = w.err;
    if (err == SIGNET_OK)
        err = sg_signer_call_async(c, SG_IPC_SIGN, w.data, w.len, sign_done, a);
    sg_wbuf_free(&w);
    if (err != SIGNET_OK)
        free(a);
    return err;
}
