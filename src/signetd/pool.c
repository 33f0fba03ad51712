/* The signer processes and the rotation scheduler. Each slot is one
 * signet-signer child on its own socketpair; a dead one is marked
 * unhealthy (requests fail closed with 503) and restarted by the scheduler
 * thread with a capped backoff. The scheduler also drives the key
 * lifecycle: it asks STATUS when the next transition is due, sleeps until
 * then (at most 1 s with a short test rotation, 100 ms with an injected
 * clock that may jump, else 30 s) and sends ADVANCE, logging every
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

static int64_t mono_ms(void)
{
    return (int64_t)(sg_clock_mono_ns() / 1000000u);
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
    if (err == SIGNET_OK && status == SIGNET_OK) {
        s->client = c;
        s->backoff_ms = 0;
        atomic_store(&s->healthy, 1);
        sg_log(SG_LOG_INFO, "signer_started", "slot=%u pid=%ld", idx,
               (long)sg_signer_client_pid(c));
        if (p->on_change != NULL)
            p->on_change(p->on_change_user);
        return;
    }
    s->client = c; /* keep it to reap it on the next attempt */
    s->backoff_ms = s->backoff_ms == 0 ? 500 : (s->backoff_ms * 2 > 10000 ? 10000 : s->backoff_ms * 2);
    s->retry_at_ms = mono_ms() + s->backoff_ms;
    sg_log(SG_LOG_ERROR, "signer_unavailable", "slot=%u error=%s retry_in_ms=%lld", idx,
           signet_err_name(err != SIGNET_OK ? err : status), (long long)s->backoff_ms);
}

static void respawn_due(struct sd_pool *p, int force)
{
    for (unsigned i = 0; i < p->n; i++) {
        struct sd_slot *s = &p->slots[i];
        if (!force && (atomic_load(&s->healthy) || mono_ms() < s->retry_at_ms))
            continue;
        pthread_rwlock_wrlock(&s->lock);
        if (force || !atomic_load(&s->healthy))
            respawn_locked(p, s, i);
        pthread_rwlock_unlock(&s->lock);
    }
}

static int all_healthy(struct sd_pool *p)
{
    for (unsigned i = 0; i < p->n; i++)
        if (!atomic_load(&p->slots[i].healthy))
            return 0;
    return 1;
}

/* Runs fn on one healthy slot, round robin. A transport failure marks the
 * slot unhealthy; the request is not retried elsewhere (fail closed). */
static signet_err with_slot(struct sd_pool *p, signet_err (*fn)(struct sg_signer_client *, void *),
                            void *arg)
{
    unsigned start = atomic_fetch_add(&p->next, 1u);
    for (unsigned k = 0; k < p->n; k++) {
        unsigned i = (start + k) % p->n;
        struct sd_slot *s = &p->slots[i];
        if (!atomic_load(&s->healthy))
            continue;
        pthread_rwlock_rdlock(&s->lock);
        signet_err err = SIGNET_ERR_SIGNER_GONE;
        if (atomic_load(&s->healthy) && s->client != NULL) {
            err = fn(s->client, arg);
            if (err == SIGNET_ERR_SIGNER_GONE && atomic_exchange(&s->healthy, 0) == 1) {
                sg_log(SG_LOG_ERROR, "signer_lost", "slot=%u", i);
                pthread_mutex_lock(&p->wait_lock);
                pthread_cond_signal(&p->wake);
                pthread_mutex_unlock(&p->wait_lock);
            }
        }
        pthread_rwlock_unlock(&s->lock);
        return err;
    }
    return SIGNET_ERR_SIGNER_GONE;
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
    return with_slot(p, do_sign, &a);
}

/* An asynchronous signature: which slot it went to, and whom to tell. */
struct sign_async {
    struct sd_pool *p;
    unsigned slot;
    sd_pool_sign_cb cb;
    void *user;
};

static void slot_lost(struct sd_pool *p, unsigned i)
{
    if (atomic_exchange(&p->slots[i].healthy, 0) == 1) {
        sg_log(SG_LOG_ERROR, "signer_lost", "slot=%u", i);
        pthread_mutex_lock(&p->wait_lock);
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->wait_lock);
    }
}

static void sign_async_done(void *user, signet_err err, signet_err status, char *token)
{
    struct sign_async *a = user;
    if (err == SIGNET_ERR_SIGNER_GONE)
        slot_lost(a->p, a->slot);
    sd_pool_sign_cb cb = a->cb;
    void *cb_user = a->user;
    free(a);
    cb(cb_user, err, status, token);
}

signet_err sd_pool_sign_async(struct sd_pool *p, const char *issuer, const char *claims,
                              size_t len, sd_pool_sign_cb cb, void *user)
{
    unsigned start = atomic_fetch_add(&p->next, 1u);
    for (unsigned k = 0; k < p->n; k++) {
        unsigned i = (start + k) % p->n;
        struct sd_slot *s = &p->slots[i];
        if (!atomic_load(&s->healthy))
            continue;
        struct sign_async *a = malloc(sizeof *a);
        if (a == NULL)
            return SIGNET_ERR_NOMEM;
        *a = (struct sign_async){p, i, cb, user};
        signet_err err = SIGNET_ERR_SIGNER_GONE;
        /* The read lock covers the submission only: a respawn frees the
         * client, which completes whatever is still pending on it. */
        pthread_rwlock_rdlock(&s->lock);
        if (atomic_load(&s->healthy) && s->client != NULL)
            err = sg_signer_sign_async(s->client, issuer, NULL, claims, len, sign_async_done, a);
        pthread_rwlock_unlock(&s->lock);
        if (err != SIGNET_OK) {
            free(a);
            if (err == SIGNET_ERR_SIGNER_GONE)
                slot_lost(p, i);
        }
        return err;
    }
    return SIGNET_ERR_SIGNER_GONE;
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
    return with_slot(p, do_call, &a);
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
    for (unsigned i = 0; i < n; i++)
        pthread_rwlock_init(&p->slots[i].lock, NULL);
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
