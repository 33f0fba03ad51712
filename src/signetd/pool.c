/* The signer processes and the rotation scheduler. Each slot is one
 * signet-signer child on its own socketpair; a dead one is marked
 * unhealthy and restarted by the scheduler thread with a capped backoff
 * (a signer that dies young, e.g. one that found its token lost, waits
 * longer each time). A request whose signer died before answering is sent
 * once more, to another signer; with none left it fails closed (503).
 * The scheduler also drives the key
 * lifecycle: it asks STATUS when the next transition is due, sleeps until
 * then (at most 1 s with a short test rotation, 100 ms with an injected
 * clock that may jump, else 30 s) and sends ADVANCE (new signatures go to
 * the other signers while one runs it), logging every
 * transition the signer reports. [testing] pause_rotation stops the
 * ADVANCEs (the invariant tests let a key overstay). */
#include "signetd/pool.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/signer_client.h"
#include "json.h"
#include "signetd/launcher.h"
#include "util/clock.h"
#include "util/log.h"

#define DRAIN_MAX_MS 2000

static int64_t mono_ms(void)
{
    return (int64_t)(sg_clock_mono_ns() / 1000000u);
}

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 10000
/* A signer that lived at least this long died of something new: its
 * successor starts at once. */
#define STABLE_LIFE_MS 30000

static int64_t next_backoff(int64_t ms)
{
    return ms == 0 ? BACKOFF_FIRST_MS : (ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2);
}

/* Under the slot's write lock, once per death: when its successor may
 * start. A short life (a crash loop, a token that stays lost) doubles the
 * wait; a long one resets it. */
static void note_death(struct sd_slot *s)
{
    if (s->up_ms == 0)
        return;
    int64_t now = mono_ms();
    s->backoff_ms = now - s->up_ms >= STABLE_LIFE_MS ? 0 : next_backoff(s->backoff_ms);
    s->retry_at_ms = now + s->backoff_ms;
    s->up_ms = 0;
}

static void slot_lost(struct sd_pool *p, unsigned i);

/* The channel's reader thread: the slot's signer died, maybe idle (no
 * request would have noticed): the scheduler replaces it now. */
static void slot_died(void *user)
{
    struct sd_slot *s = user;
    if (!atomic_load(&s->pool->stopping))
        slot_lost(s->pool, s->idx);
}

/* Under the slot's write lock: replace its signer with a fresh one and
 * check it answers (a wrong PIN or a broken HSM makes it exit at once). */
static void respawn_locked(struct sd_pool *p, struct sd_slot *s, unsigned idx)
{
    /* A healthy signer being replaced (reload) first answers what it has
     * in flight, as a synchronous caller would have been waited for (no
     * new request reaches it: the slot is write-locked). Bounded. */
    for (int i = 0; s->client != NULL && atomic_load(&s->healthy) && i < 5000 &&
                    sg_signer_client_pending(s->client) > 0;
         i++) {
        struct timespec ts = {0, 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    sg_signer_client_free(&s->client);
    atomic_store(&s->healthy, 0);
    struct sg_signer_client *c = NULL;
    /* The launcher starts it: binary, arguments, environment and account
     * are its choice, not the front end's (there is no other way). */
    int fd = -1;
    pid_t pid = -1;
    signet_err err = sd_launcher_spawn(p->launcher_fd, idx, &fd, &pid);
    if (err == SIGNET_OK) {
        err = sg_signer_client_adopt(fd, pid, 0, &c);
        if (err != SIGNET_OK)
            close(fd);
    }
    signet_err status = SIGNET_ERR_SIGNER_GONE;
    char *json = NULL;
    if (err == SIGNET_OK)
        err = sg_signer_call(c, SG_IPC_STATUS, NULL, 0, &status, &json, NULL);
    free(json);
    if (err == SIGNET_OK && status == SIGNET_OK)
        err = sg_signer_client_watch(c, slot_died, s);
    if (err == SIGNET_OK && status == SIGNET_OK) {
        s->client = c;
        s->up_ms = mono_ms();
        atomic_store(&s->healthy, 1);
        sg_log(SG_LOG_INFO, "signer_started", "slot=%u pid=%ld", idx,
               (long)sg_signer_client_pid(c));
        if (p->on_change != NULL)
            p->on_change(p->on_change_user);
        return;
    }
    s->client = c; /* keep it to reap it on the next attempt */
    s->up_ms = 0;
    s->backoff_ms = next_backoff(s->backoff_ms);
    s->retry_at_ms = mono_ms() + s->backoff_ms;
    sg_log(SG_LOG_ERROR, "signer_unavailable", "slot=%u error=%s retry_in_ms=%lld", idx,
           signet_err_name(err != SIGNET_OK ? err : status), (long long)s->backoff_ms);
}

static void respawn_due(struct sd_pool *p, int force)
{
    for (unsigned i = 0; i < p->n; i++) {
        struct sd_slot *s = &p->slots[i];
        if (!force && atomic_load(&s->healthy))
            continue;
        pthread_rwlock_wrlock(&s->lock);
        if (!atomic_load(&s->healthy))
            note_death(s);
        if (force || (!atomic_load(&s->healthy) && mono_ms() >= s->retry_at_ms))
            respawn_locked(p, s, i);
        pthread_rwlock_unlock(&s->lock);
    }
}

/* Scheduler thread: ms until the next replacement is due (-1: none waits). */
static int64_t next_respawn_in(struct sd_pool *p)
{
    int64_t in = -1;
    const int64_t now = mono_ms();
    for (unsigned i = 0; i < p->n; i++) {
        const struct sd_slot *s = &p->slots[i];
        if (atomic_load(&s->healthy))
            continue;
        int64_t d = s->retry_at_ms > now ? s->retry_at_ms - now : 0;
        if (in < 0 || d < in)
            in = d;
    }
    return in;
}

static int all_healthy(struct sd_pool *p)
{
    for (unsigned i = 0; i < p->n; i++)
        if (!atomic_load(&p->slots[i].healthy))
            return 0;
    return 1;
}

/* The slot's signer is gone: the scheduler replaces it. */
static void slot_lost(struct sd_pool *p, unsigned i)
{
    if (atomic_exchange(&p->slots[i].healthy, 0) == 1) {
        sg_log(SG_LOG_ERROR, "signer_lost", "slot=%u", i);
        pthread_mutex_lock(&p->wait_lock);
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->wait_lock);
    }
}

/* A slot just marked busy takes no new signature; one sent before the mark
 * was seen could still be queued behind the lifecycle step about to go out,
 * and wait for a whole key generation. So the step waits until the slot's
 * signatures in flight are answered (milliseconds; bounded). */
static void drain(struct sd_slot *s)
{
    for (int i = 0; i < DRAIN_MAX_MS && sg_signer_client_pending(s->client) > 0; i++) {
        struct timespec ts = {0, 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
}

/* Runs fn on one healthy slot, round robin, preferring one that is not
 * running the lifecycle (a key generation holds its signer for seconds: a
 * JWKS or STATUS call queued behind it would hold an HTTP thread as long,
 * and two of them every thread). A transport failure
 * (SIGNET_ERR_SIGNER_GONE: the signer died, or its channel did, before it
 * answered) marks the slot unhealthy, and fn runs once more on another
 * healthy slot: no answer came, so nothing was released. With none left,
 * it fails closed. */
static signet_err with_slot(struct sd_pool *p, signet_err (*fn)(struct sg_signer_client *, void *),
                            void *arg, int busy)
{
    unsigned start = atomic_fetch_add(&p->next, 1u);
    signet_err err = SIGNET_ERR_SIGNER_GONE;
    int tries = 0;
    unsigned char tried[SD_MAX_SIGNERS] = {0};
    for (unsigned k = 0; k < 2 * p->n && tries < 2; k++) {
        unsigned i = (start + k) % p->n;
        struct sd_slot *s = &p->slots[i];
        if (tried[i] || !atomic_load(&s->healthy) || (k < p->n && atomic_load(&s->busy) > 0))
            continue;
        tried[i] = 1;
        pthread_rwlock_rdlock(&s->lock);
        err = SIGNET_ERR_SIGNER_GONE;
        if (atomic_load(&s->healthy) && s->client != NULL) {
            tries++;
            if (busy) {
                atomic_fetch_add(&s->busy, 1);
                drain(s);
            }
            err = fn(s->client, arg);
            if (busy)
                atomic_fetch_sub(&s->busy, 1);
        }
        pthread_rwlock_unlock(&s->lock);
        if (err != SIGNET_ERR_SIGNER_GONE)
            return err;
        slot_lost(p, i);
        if (tries == 1 && !atomic_load(&p->stopping))
            sg_log(SG_LOG_WARN, "signer_call_retried", "slot=%u", i);
    }
    return err;
}

struct sign_args {
    const char *issuer;
    const char *claims;
    size_t len;
    signet_err *status;
    char **token;
};

static signet_err do_sign(struct sg_signer_client *c, void *arg)
{
    struct sign_args *a = arg;
    return sg_signer_sign(c, a->issuer, NULL, a->claims, a->len, a->status, a->token);
}

signet_err sd_pool_sign(struct sd_pool *p, const char *issuer, const char *claims, size_t len,
                        signet_err *status, char **token)
{
    *token = NULL;
    *status = SIGNET_ERR_SIGNER_GONE;
    struct sign_args a = {issuer, claims, len, status, token};
    return with_slot(p, do_sign, &a, 0);
}

/* An asynchronous signature: which slot it went to, whom to tell, and
 * the request itself, kept for one more try on another signer. */
struct sign_async {
    struct sd_pool *p;
    unsigned slot;
    int retried;
    sd_pool_sign_cb cb;
    void *user;
    const char *issuer; /* both point into this allocation */
    const char *claims;
    size_t len;
    char alg[8];        /* "": the tenant's default */
    char typ[8];        /* "at+jwt" or "JWT" */
};

static void sign_async_done(void *user, signet_err err, signet_err status, char *token);

/* The slot whose answer the calling thread is delivering (sign_async_done),
 * or -1. That thread is the slot's channel reader: were the slot being
 * respawned (write-locked, its old client being freed, which joins that
 * very thread), waiting for its read lock would never end. */
static _Thread_local int delivering_slot = -1;

/* Sends a's request to a healthy signer other than slot skip (p->n: any),
 * round robin; a signer whose channel is already dead (nothing was sent)
 * is marked lost and the next one tried. On SIGNET_OK, a belongs to that
 * signer's channel, whose callback may already be running: it is not
 * touched again here. */
static signet_err submit(struct sd_pool *p, struct sign_async *a, unsigned skip)
{
    signet_err err = SIGNET_ERR_SIGNER_GONE;
    unsigned start = atomic_fetch_add(&p->next, 1u);
    /* First pass: signers not running the lifecycle; then any. */
    for (unsigned k = 0; k < 2 * p->n; k++) {
        unsigned i = (start + k) % p->n;
        struct sd_slot *s = &p->slots[i];
        if (i == skip || !atomic_load(&s->healthy) || (k < p->n && atomic_load(&s->busy) > 0))
            continue;
        a->slot = i;
        err = SIGNET_ERR_SIGNER_GONE;
        /* The read lock covers the submission only: a respawn frees the
         * client, which completes whatever is still pending on it. A
         * callback sending again (a restamp) skips its own slot while
         * that slot is being respawned. */
        if ((int)i != delivering_slot)
            pthread_rwlock_rdlock(&s->lock);
        else if (pthread_rwlock_tryrdlock(&s->lock) != 0)
            continue;
        if (atomic_load(&s->healthy) && s->client != NULL)
            err = sg_signer_sign_typ_async(s->client, a->issuer, a->alg[0] != '\0' ? a->alg : NULL,
                                           a->typ, a->claims, a->len, sign_async_done, a);
        pthread_rwlock_unlock(&s->lock);
        if (err != SIGNET_ERR_SIGNER_GONE)
            return err;
        slot_lost(p, i);
    }
    return err;
}

/* The signer's answer, or SIGNET_ERR_SIGNER_GONE when it died (or its
 * channel did) before answering. Then no token was released, and the
 * request goes once more, to another signer. If the first one had made the
 * signature and committed its audit record before dying, the log holds two
 * sign records for one request (one jti), of which only the second token
 * was ever handed out: the log says what happened. A signer that answered,
 * even with a refusal, is never asked again. */
static void sign_async_done(void *user, signet_err err, signet_err status, char *token)
{
    struct sign_async *a = user;
    if (err == SIGNET_ERR_SIGNER_GONE) {
        const unsigned from = a->slot;
        slot_lost(a->p, from);
        if (!a->retried && !atomic_load(&a->p->stopping)) {
            a->retried = 1;
            sg_log(SG_LOG_WARN, "sign_retried", "slot=%u reason=signer_gone", from);
            if (submit(a->p, a, from) == SIGNET_OK)
                return; /* a is the next signer's now */
        }
    }
    sd_pool_sign_cb cb = a->cb;
    void *cb_user = a->user;
    const int from = (int)a->slot;
    free(a);
    const int outer = delivering_slot;
    delivering_slot = from;
    cb(cb_user, err, status, token);
    delivering_slot = outer;
}

signet_err sd_pool_sign_async(struct sd_pool *p, const char *issuer, const char *claims,
                              size_t len, sd_pool_sign_cb cb, void *user)
{
    return sd_pool_sign_typ_async(p, issuer, NULL, "at+jwt", claims, len, cb, user);
}

signet_err sd_pool_sign_typ_async(struct sd_pool *p, const char *issuer, const char *alg,
                                  const char *typ, const char *claims, size_t len,
                                  sd_pool_sign_cb cb, void *user)
{
    if ((alg != NULL && strlen(alg) >= sizeof((struct sign_async *)0)->alg) ||
        typ == NULL || strlen(typ) >= sizeof((struct sign_async *)0)->typ)
        return SIGNET_ERR_INVALID_ARG;
    size_t ilen = strlen(issuer);
    if (len > SIZE_MAX / 2 || ilen > SIZE_MAX / 2 - len - sizeof(struct sign_async) - 2)
        return SIGNET_ERR_TOO_LARGE;
    struct sign_async *a = malloc(sizeof *a + ilen + 1 + len + 1);
    if (a == NULL)
        return SIGNET_ERR_NOMEM;
    char *iss = (char *)(a + 1);
    char *cl = iss + ilen + 1;
    memcpy(iss, issuer, ilen + 1);
    memcpy(cl, claims, len);
    cl[len] = '\0';
    *a = (struct sign_async){.p = p, .slot = p->n, .cb = cb, .user = user, .issuer = iss,
                             .claims = cl, .len = len};
    if (alg != NULL)
        memcpy(a->alg, alg, strlen(alg) + 1); /* both lengths checked above */
    memcpy(a->typ, typ, strlen(typ) + 1);
    signet_err err = submit(p, a, p->n);
    if (err != SIGNET_OK)
        free(a); /* nothing was sent: the callback never runs */
    return err;
}

struct call_args {
    uint8_t type;
    const char *arg;
    signet_err *status;
    char **json;
};

static signet_err do_call(struct sg_signer_client *c, void *arg)
{
    struct call_args *a = arg;
    if (a->arg == NULL)
        return sg_signer_call(c, a->type, NULL, 0, a->status, a->json, NULL);
    return sg_signer_call_str(c, a->type, a->arg, a->status, a->json);
}

signet_err sd_pool_call(struct sd_pool *p, uint8_t type, const char *arg, signet_err *status,
                        char **json)
{
    *json = NULL;
    *status = SIGNET_ERR_SIGNER_GONE;
    struct call_args a = {type, arg, status, json};
    /* While a signer runs the lifecycle (a transition: a key generated in
     * the HSM, several durable commits) it signs nothing: new signatures
     * go to the others meanwhile (submit), instead of waiting behind it,
     * maybe past the clock skew the signer allows a token's iat. */
    return with_slot(p, do_call, &a, type == SG_IPC_ADVANCE);
}

/* The signer's own word on whether it can sign (its STATUS "health": its
 * last signature, or its last test signature), with the reason when not. */
static int signer_healthy(const char *json, char *why, size_t whylen)
{
    json_t *doc = NULL;
    if (json == NULL ||
        sg_json_parse((const uint8_t *)json, strlen(json), SG_IPC_MAX_PAYLOAD, &doc) != SIGNET_OK) {
        (void)snprintf(why, whylen, "signer status unreadable");
        return 0;
    }
    const json_t *h = json_object_get(doc, "health");
    /* A signer that cannot make audit records durable (its log lost, the
     * lock held past its bound, the disk refusing) cannot sign either. */
    const json_t *a = json_object_get(doc, "audit");
    int audit_ok = !json_is_false(json_object_get(a, "ok"));
    int ok = audit_ok && json_is_true(json_object_get(h, "ok"));
    const char *err = json_string_value(json_object_get(audit_ok ? h : a, audit_ok ? "last_error"
                                                                                   : "error"));
    /* Only an error name goes into the reason (it ends up in a response). */
    size_t n = err != NULL ? strspn(err, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") : 0;
    if (!ok)
        (void)snprintf(why, whylen, "%s: %s", audit_ok ? "signer failing" : "audit log failing",
                       n > 0 && err[n] == '\0' && n < 64 ? err : "unknown");
    json_decref(doc);
    return ok;
}

/* Every running signer must be able to sign: requests go round robin and
 * an answered failure is not sent elsewhere, so one failing signer fails
 * its share of them. A slot whose signer is being replaced does not count,
 * nor one running a lifecycle step (new signatures avoid it meanwhile, and
 * its answer would wait for the key generation: seconds of a held thread). */
int sd_pool_ready(struct sd_pool *p, char *why, size_t whylen)
{
    (void)snprintf(why, whylen, "no signer running");
    int ready = 0;
    for (unsigned i = 0; i < p->n; i++) {
        struct sd_slot *s = &p->slots[i];
        if (!atomic_load(&s->healthy) || atomic_load(&s->busy) > 0)
            continue;
        signet_err status = SIGNET_ERR_SIGNER_GONE;
        signet_err err = SIGNET_ERR_SIGNER_GONE;
        char *json = NULL;
        pthread_rwlock_rdlock(&s->lock);
        if (atomic_load(&s->healthy) && s->client != NULL)
            err = sg_signer_call(s->client, SG_IPC_STATUS, NULL, 0, &status, &json, NULL);
        pthread_rwlock_unlock(&s->lock);
        if (err == SIGNET_ERR_SIGNER_GONE) {
            slot_lost(p, i);
            continue; /* it died: being replaced */
        }
        int ok = err == SIGNET_OK && status == SIGNET_OK && signer_healthy(json, why, whylen);
        if (!ok && (err != SIGNET_OK || status != SIGNET_OK))
            (void)snprintf(why, whylen, "signer status failed: %s",
                           signet_err_name(err != SIGNET_OK ? err : status));
        free(json);
        if (!ok)
            return 0;
        ready = 1;
    }
    return ready;
}

/* Seconds until the next transition, or -1 when the signer is unavailable. */
static int64_t next_transition(struct sd_pool *p)
{
    signet_err status;
    char *json = NULL;
    signet_err err = sd_pool_call(p, SG_IPC_STATUS, NULL, &status, &json);
    int64_t next = -1;
    if (err == SIGNET_OK && status == SIGNET_OK) {
        json_t *doc = NULL;
        if (json != NULL &&
            sg_json_parse((const uint8_t *)json, strlen(json), SG_IPC_MAX_PAYLOAD, &doc) != SIGNET_OK)
            sg_log(SG_LOG_WARN, "signer_reply_bad_json", "request=status");
        json_t *v = json_object_get(json_object_get(doc, "timing"), "next_transition_in");
        next = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
        if (next < 0)
            next = 0;
        json_decref(doc);
    }
    atomic_store(&p->ready, next >= 0);
    free(json);
    return next;
}

static void advance(struct sd_pool *p)
{
    signet_err status;
    char *json = NULL;
    signet_err err = sd_pool_call(p, SG_IPC_ADVANCE, NULL, &status, &json);
    if (err != SIGNET_OK || status != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "lifecycle_advance_failed", "error=%s",
               signet_err_name(err != SIGNET_OK ? err : status));
        free(json);
        return;
    }
    json_t *doc = NULL;
    if (json != NULL &&
        sg_json_parse((const uint8_t *)json, strlen(json), SG_IPC_MAX_PAYLOAD, &doc) != SIGNET_OK)
        sg_log(SG_LOG_WARN, "signer_reply_bad_json", "request=advance");
    size_t i;
    json_t *t;
    if (json_array_size(json_object_get(doc, "transitions")) > 0 && p->on_change != NULL)
        p->on_change(p->on_change_user);
    json_array_foreach(json_object_get(doc, "transitions"), i, t) {
        sg_log(SG_LOG_INFO, "key_transition", "issuer=%s alg=%s kid=%s from=%s to=%s",
               json_string_value(json_object_get(t, "issuer")),
               json_string_value(json_object_get(t, "alg")),
               json_string_value(json_object_get(t, "kid")),
               json_string_value(json_object_get(t, "from")),
               json_string_value(json_object_get(t, "to")));
    }
    json_decref(doc);
    free(json);
}

static void *scheduler_main(void *arg)
{
    struct sd_pool *p = arg;
    pthread_mutex_lock(&p->wait_lock);
    while (!p->stop) {
        int force = p->respawn_all;
        p->respawn_all = 0;
        unsigned mode = p->mode;
        int64_t cap_ms = (mode & SD_POOL_FAST_POLL) != 0        ? 100
                         : (mode & SD_POOL_SHORT_ROTATION) != 0 ? 1000
                                                                : 30000;
        pthread_mutex_unlock(&p->wait_lock);

        respawn_due(p, force);
        int64_t next = next_transition(p);
        int64_t wait_ms = next < 0 ? 1000 : (next * 1000 < cap_ms ? next * 1000 : cap_ms);
        if ((mode & SD_POOL_PAUSED) != 0 && wait_ms < cap_ms)
            wait_ms = cap_ms;
        if (!all_healthy(p) && wait_ms > 1000)
            wait_ms = 1000;
        int64_t respawn_in = next_respawn_in(p);
        if (respawn_in >= 0 && respawn_in < wait_ms)
            wait_ms = respawn_in; /* a replacement is due sooner */

        pthread_mutex_lock(&p->wait_lock);
        if (wait_ms > 0 && !p->stop && !p->respawn_all) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + (wait_ms % 1000) * 1000000;
            ts.tv_sec += (time_t)(wait_ms / 1000 + ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            while (!p->stop && !p->respawn_all &&
                   pthread_cond_timedwait(&p->wake, &p->wait_lock, &ts) != ETIMEDOUT)
                if (!all_healthy(p))
                    break;
        }
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->wait_lock);
        if (next >= 0 && (mode & SD_POOL_PAUSED) == 0)
            advance(p);
        pthread_mutex_lock(&p->wait_lock);
    }
    pthread_mutex_unlock(&p->wait_lock);
    return NULL;
}

signet_err sd_pool_start(struct sd_pool *p, int launcher_fd, unsigned n, unsigned mode)
{
    void (*on_change)(void *) = p->on_change;
    void *on_change_user = p->on_change_user;
    memset(p, 0, sizeof *p);
    p->on_change = on_change;
    p->on_change_user = on_change_user;
    if (n == 0 || n > SD_MAX_SIGNERS)
        return SIGNET_ERR_INVALID_ARG;
    p->launcher_fd = launcher_fd;
    p->n = n;
    p->mode = mode;
    pthread_mutex_init(&p->wait_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &ca);
    pthread_condattr_destroy(&ca);
    for (unsigned i = 0; i < n; i++) {
        pthread_rwlock_init(&p->slots[i].lock, NULL);
        p->slots[i].pool = p;
        p->slots[i].idx = i;
    }
    respawn_due(p, 1);
    (void)next_transition(p);
    if (pthread_create(&p->scheduler, NULL, scheduler_main, p) != 0)
        return SIGNET_ERR_INTERNAL;
    p->scheduler_started = 1;
    return SIGNET_OK;
}

void sd_pool_respawn(struct sd_pool *p, unsigned mode)
{
    pthread_mutex_lock(&p->wait_lock);
    p->respawn_all = 1;
    p->mode = mode;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->wait_lock);
}

void sd_pool_stop_scheduler(struct sd_pool *p)
{
    if (p->scheduler_started) {
        pthread_mutex_lock(&p->wait_lock);
        p->stop = 1;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->wait_lock);
        pthread_join(p->scheduler, NULL);
        p->scheduler_started = 0;
    }
}

void sd_pool_stop(struct sd_pool *p)
{
    atomic_store(&p->stopping, 1); /* no more retries: every signer is going */
    sd_pool_stop_scheduler(p);
    for (unsigned i = 0; i < p->n; i++) {
        pthread_rwlock_wrlock(&p->slots[i].lock);
        sg_signer_client_free(&p->slots[i].client);
        atomic_store(&p->slots[i].healthy, 0);
        pthread_rwlock_unlock(&p->slots[i].lock);
        pthread_rwlock_destroy(&p->slots[i].lock);
    }
    p->n = 0;
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->wait_lock);
}
