#include "telemetry/alerts.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "telemetry/tmutil.h"
#include "util/log.h"

#define MAX_SLOTS 64 /* coalescing slots (invariant, kid) */
#define MAX_ARGS 16
#define MAX_RESPONSE 4096

struct slot {
    bool used;
    enum sg_inv_id inv;
    char kid[64];
    char message[512];
    int64_t last_emit;
    uint64_t suppressed;
};

struct sinkq {
    struct sg_alerts *owner;
    char **items;
    size_t cap, head, n;
    bool busy; /* an item is being delivered */
    bool started;
    pthread_t thread;
    uint64_t dropped;
};

struct sg_alerts {
    struct sg_telemetry_cfg cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* work queued, or stop */
    pthread_cond_t idle; /* a sink finished an item */
    bool stop;
    struct slot slots[MAX_SLOTS];
    uint64_t seq;
    struct sg_alert_stats st;
    sg_alert_audit_fn audit;
    void *audit_user;
    struct sinkq webhook, command;
    char *argv_buf;
    char *argv[MAX_ARGS + 1];
    struct sg_metric *m_alerts, *m_dropped, *m_webhook;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- queues ---------------------------------------------------------------- */

static void q_push(struct sg_alerts *a, struct sinkq *q, const char *text)
{
    if (!q->started)
        return;
    char *copy = strdup(text);
    if (copy == NULL) {
        q->dropped++;
        return;
    }
    if (q->n == q->cap) {
        free(q->items[q->head]);
        q->head = (q->head + 1) % q->cap;
        q->n--;
        q->dropped++;
        sg_metric_add(a->m_dropped, SG_LABELS(q == &a->webhook ? "webhook" : "command"), 1);
        sg_log(SG_LOG_WARN, "alert_dropped", "sink=%s reason=queue_full",
               q == &a->webhook ? "webhook" : "command");
    }
    q->items[(q->head + q->n) % q->cap] = copy;
    q->n++;
    (void)pthread_cond_broadcast(&a->cv);
}

/* Under the lock: waits for an item; NULL when stopping. */
static char *q_pop(struct sg_alerts *a, struct sinkq *q)
{
    while (!a->stop && q->n == 0)
        (void)pthread_cond_wait(&a->cv, &a->mu);
    if (a->stop)
        return NULL;
    char *item = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    q->busy = true;
    return item;
}

static void q_done(struct sg_alerts *a, struct sinkq *q)
{
    q->busy = false;
    (void)pthread_cond_broadcast(&a->idle);
}

/* Under the lock: sleeps ms unless stopping; false when stopping. */
static bool nap(struct sg_alerts *a, int64_t ms)
{
    struct timespec until;
    (void)clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!a->stop)
        if (pthread_cond_timedwait(&a->cv, &a->mu, &until) == ETIMEDOUT)
            break;
    return !a->stop;
}

static void block_sigpipe(void)
{
    sigset_t set;
    (void)sigemptyset(&set);
    (void)sigaddset(&set, SIGPIPE);
    (void)pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* ---- webhook ---------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *user)
{
    (void)p;
    size_t *seen = user;
    *seen += size * n;
    return *seen > MAX_RESPONSE ? 0 : size * n;
}

/* 0 delivered, 1 worth retrying, -1 final failure. */
static int post_once(const struct sg_telemetry_cfg *c, const char *body, long *status)
{
    CURL *h = curl_easy_init();
    if (h == NULL)
        return 1;
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    size_t seen = 0;
    int rc = 1;
    *status = 0;
    if (hdr == NULL)
        goto out;
    CURLcode e = curl_easy_setopt(h, CURLOPT_URL, c->webhook_url);
    e = e != CURLE_OK ? e : curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    e = e != CURLE_OK ? e : curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    e = e != CURLE_OK ? e : curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    e = e != CURLE_OK ? e : curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->webhook_timeout * 1000));
    e = e != CURLE_OK ? e : curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    e = e != CURLE_OK ? e : curl_easy_setopt(h, CURLOPT_USERAGENT, "signet-alerts/1");
    e = e != CURLE_OK ? e : curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    e = e != CURLE_OK ? e : curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    e = e != CURLE_OK ? e : curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    e = e != CURLE_OK ? e : curl_easy_setopt(h, CURLOPT_WRITEDATA, &seen);
    if (e != CURLE_OK) {
        rc = -1;
        goto out;
    }
    e = curl_easy_perform(h);
    if (e == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status) == CURLE_OK) {
        if (*status >= 200 && *status < 300)
            rc = 0;
        else if (*status == 408 || *status == 429 || *status >= 500)
            rc = 1;
        else
            rc = -1;
    } else if (e == CURLE_WRITE_ERROR) {
        rc = 0; /* answered, and said too much: delivered all the same */
    }
out:
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return rc;
}

static void *webhook_main(void *arg)
{
    struct sinkq *q = arg;
    struct sg_alerts *a = q->owner;
    block_sigpipe();
    (void)pthread_mutex_lock(&a->mu);
    for (;;) {
        char *item = q_pop(a, q);
        if (item == NULL)
            break;
        int64_t delay = a->cfg.webhook_backoff_ms;
        for (unsigned attempt = 0;; attempt++) {
            (void)pthread_mutex_unlock(&a->mu);
            long status = 0;
            int rc = post_once(&a->cfg, item, &status);
            (void)pthread_mutex_lock(&a->mu);
            if (rc == 0) {
                a->st.webhook_delivered++;
                sg_metric_add(a->m_webhook, SG_LABELS("delivered"), 1);
                break;
            }
            if (rc < 0 || attempt >= a->cfg.webhook_retries || a->stop) {
                a->st.webhook_failed++;
                sg_metric_add(a->m_webhook, SG_LABELS("failed"), 1);
                sg_log(SG_LOG_ERROR, "alert_webhook_failed", "status=%ld attempts=%u", status,
                       attempt + 1);
                break;
            }
            a->st.webhook_retries++;
            sg_metric_add(a->m_webhook, SG_LABELS("retried"), 1);
            sg_log(SG_LOG_WARN, "alert_webhook_retry", "status=%ld attempt=%u delay_ms=%lld",
                   status, attempt + 1, (long long)delay);
            if (!nap(a, delay)) {
                a->st.webhook_failed++;
                break;
            }
            delay = delay > a->cfg.webhook_backoff_max_ms / 2 ? a->cfg.webhook_backoff_max_ms
                                                             : delay * 2;
        }
        free(item);
        q_done(a, q);
    }
    (void)pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ---- command ------------------------------------------------------------------ */

static int split_command(struct sg_alerts *a)
{
    a->argv_buf = strdup(a->cfg.command);
    if (a->argv_buf == NULL)
        return -1;
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(a->argv_buf, " ", &save); tok != NULL;
         tok = strtok_r(NULL, " ", &save)) {
        if (n == MAX_ARGS)
            return -1;
        a->argv[n++] = tok;
    }
    a->argv[n] = NULL;
    return n > 0 && a->argv[0][0] == '/' ? 0 : -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Runs the command once with text on stdin; 0 when it exited 0. */
static int run_command(struct sg_alerts *a, const char *text)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    int rc = posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    rc |= posix_spawn_file_actions_adddup2(&fa, 2, 1);
    static char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
    pid_t pid = -1;
    if (rc == 0)
        rc = posix_spawn(&pid, a->argv[0], &fa, NULL, a->argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (rc != 0) {
        close(fds[1]);
        sg_log(SG_LOG_ERROR, "alert_command_failed", "reason=spawn errno=%d", rc);
        return -1;
    }
    (void)write_all(fds[1], text, strlen(text));
    (void)write_all(fds[1], "\n", 1);
    close(fds[1]);
    int status = 0;
    int64_t waited_ms = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -1;
        if (waited_ms >= a->cfg.command_timeout * 1000) {
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, &status, 0);
            sg_log(SG_LOG_ERROR, "alert_command_failed", "reason=timeout");
            return -1;
        }
        (void)poll(NULL, 0, 20);
        waited_ms += 20;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        sg_log(SG_LOG_ERROR, "alert_command_failed", "reason=exit status=%d", status);
        return -1;
    }
    return 0;
}

static void *command_main(void *arg)
{
    struct sinkq *q = arg;
    struct sg_alerts *a = q->owner;
    block_sigpipe();
    (void)pthread_mutex_lock(&a->mu);
    for (;;) {
        char *item = q_pop(a, q);
        if (item == NULL)
            break;
        (void)pthread_mutex_unlock(&a->mu);
        int rc = run_command(a, item);
        (void)pthread_mutex_lock(&a->mu);
        a->st.command_runs++;
        if (rc != 0)
            a->st.command_failed++;
        free(item);
        q_done(a, q);
    }
    (void)pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

static signet_err start_sink(struct sg_alerts *a, struct sinkq *q, void *(*fn)(void *))
{
    q->owner = a;
    q->cap = a->cfg.queue_size > 0 ? a->cfg.queue_size : 256;
    q->items = calloc(q->cap, sizeof *q->items);
    if (q->items == NULL)
        return SIGNET_ERR_NOMEM;
    if (pthread_create(&q->thread, NULL, fn, q) != 0)
        return SIGNET_ERR_INTERNAL;
    q->started = true;
    return SIGNET_OK;
}

signet_err sg_alerts_new(const struct sg_telemetry_cfg *c, struct sg_metrics *reg,
                         sg_alert_audit_fn audit, void *audit_user, struct sg_alerts **out)
{
    struct sg_alerts *a = calloc(1, sizeof *a);
    if (a == NULL)
        return SIGNET_ERR_NOMEM;
    a->cfg = *c;
    a->audit = audit;
    a->audit_user = audit_user;
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a);
        return SIGNET_ERR_INTERNAL;
    }
    (void)pthread_cond_init(&a->cv, NULL);
    (void)pthread_cond_init(&a->idle, NULL);
    a->m_alerts = sg_metrics_counter(reg, "signet_alerts_total",
                                     "Alerts raised, after coalescing, by invariant and event.",
                                     SG_LABELS("invariant", "event"));
    a->m_dropped = sg_metrics_counter(reg, "signet_alerts_dropped_total",
                                      "Alerts dropped because a sink queue was full.",
                                      SG_LABELS("sink"));
    a->m_webhook = sg_metrics_counter(reg, "signet_alert_webhook_attempts_total",
                                      "Webhook delivery outcomes (delivered, retried, failed).",
                                      SG_LABELS("outcome"));
    signet_err err = SIGNET_OK;
    if (a->cfg.webhook_url[0] != '\0') {
        (void)pthread_once(&curl_once, curl_init_once);
        err = start_sink(a, &a->webhook, webhook_main);
    }
    if (err == SIGNET_OK && a->cfg.command[0] != '\0')
        err = split_command(a) == 0 ? start_sink(a, &a->command, command_main) : SIGNET_ERR_CONFIG;
    if (err != SIGNET_OK) {
        sg_alerts_free(&a);
        return err;
    }
    *out = a;
    return SIGNET_OK;
}

static void stop_sink(struct sinkq *q, const char *name)
{
    if (q->started)
        (void)pthread_join(q->thread, NULL);
    if (q->n > 0)
        sg_log(SG_LOG_WARN, "alerts_abandoned", "sink=%s pending=%zu", name, q->n);
    for (size_t i = 0; i < q->n; i++)
        free(q->items[(q->head + i) % q->cap]);
    free(q->items);
}

void sg_alerts_free(struct sg_alerts **ap)
{
    if (ap == NULL || *ap == NULL)
        return;
    struct sg_alerts *a = *ap;
    (void)pthread_mutex_lock(&a->mu);
    a->stop = true;
    (void)pthread_cond_broadcast(&a->cv);
    (void)pthread_mutex_unlock(&a->mu);
    stop_sink(&a->webhook, "webhook");
    stop_sink(&a->command, "command");
    free(a->argv_buf);
    (void)pthread_cond_destroy(&a->cv);
    (void)pthread_cond_destroy(&a->idle);
    (void)pthread_mutex_destroy(&a->mu);
    free(a);
    *ap = NULL;
}

/* ---- raising ----------------------------------------------------------------- */

/* Under the lock: one alert out to every sink. */
static void emit(struct sg_alerts *a, bool violation, enum sg_inv_id inv, const char *kid,
                 const char *message, int64_t now, uint64_t count)
{
    const struct sg_invariant *v = &sg_invariants[inv];
    const char *type = violation ? "invariant_violation" : "invariant_recovered";
    a->seq++;
    a->st.raised++;
    /* The audit record carries its own time; "time" is added for the sinks. */
    json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "invariant", v->id, "name", v->name,
                          "severity", sg_inv_severity_name(v->severity), "message",
                          message != NULL ? message : "", "count", (json_int_t)count,
                          "alert_seq", (json_int_t)a->seq);
    if (f != NULL && kid != NULL && kid[0] != '\0')
        (void)json_object_set_new(f, "kid", json_string(kid));
    char safe[512];
    sg_tm_log_safe(message, safe, sizeof safe);
    sg_log(violation ? (v->severity == SG_SEV_CRITICAL ? SG_LOG_ERROR : SG_LOG_WARN) : SG_LOG_INFO,
           type, "invariant=%s name=%s severity=%s count=%llu kid=%s message=\"%s\"", v->id,
           v->name, sg_inv_severity_name(v->severity), (unsigned long long)count,
           kid != NULL && kid[0] != '\0' ? kid : "-", safe);
    sg_metric_add(a->m_alerts, SG_LABELS(v->id, violation ? "violation" : "recovery"), 1);
    if (f == NULL)
        return;
    if (a->audit != NULL && a->audit(a->audit_user, type, f) != SIGNET_OK) {
        a->st.audit_failed++;
        sg_log(SG_LOG_ERROR, "audit_append_failed", "type=%s", type);
    }
    if (json_object_set_new(f, "type", json_string(type)) == 0 &&
        json_object_set_new(f, "time", json_integer((json_int_t)now)) == 0) {
        char *text = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
        if (text != NULL) {
            q_push(a, &a->webhook, text);
            q_push(a, &a->command, text);
            free(text);
        }
    }
    json_decref(f);
}

static struct slot *find_slot(struct sg_alerts *a, enum sg_inv_id inv, const char *kid,
                              bool create)
{
    struct slot *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        struct slot *s = &a->slots[i];
        if (!s->used) {
            if (free_slot == NULL)
                free_slot = s;
            continue;
        }
        if (s->inv == inv && strcmp(s->kid, kid) == 0)
            return s;
        if (oldest == NULL || s->last_emit < oldest->last_emit)
            oldest = s;
    }
    if (!create)
        return NULL;
    struct slot *s = free_slot != NULL ? free_slot : oldest;
    if (s == NULL)
        return NULL;
    if (s->used && s->suppressed > 0)
        emit(a, true, s->inv, s->kid, s->message, s->last_emit, s->suppressed);
    memset(s, 0, sizeof *s);
    s->used = true;
    s->inv = inv;
    (void)sg_tm_copy(s->kid, sizeof s->kid, kid);
    s->last_emit = INT64_MIN;
    return s;
}

void sg_alerts_violation(struct sg_alerts *a, enum sg_inv_id inv, const char *kid,
                         const char *message, int64_t now)
{
    if (a == NULL || (unsigned)inv >= SG_INV_COUNT)
        return;
    char k[64] = "";
    (void)sg_tm_copy(k, sizeof k, kid);
    (void)pthread_mutex_lock(&a->mu);
    struct slot *s = find_slot(a, inv, k, true);
    if (s != NULL) {
        (void)sg_tm_copy(s->message, sizeof s->message, message);
        if (s->last_emit != INT64_MIN && now - s->last_emit < a->cfg.coalesce_window) {
            s->suppressed++;
            a->st.coalesced++;
        } else {
            emit(a, true, inv, k, message, now, s->suppressed + 1);
            s->suppressed = 0;
            s->last_emit = now;
        }
    }
    (void)pthread_mutex_unlock(&a->mu);
}

void sg_alerts_recovery(struct sg_alerts *a, enum sg_inv_id inv, int64_t now)
{
    if (a == NULL || (unsigned)inv >= SG_INV_COUNT)
        return;
    (void)pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        struct slot *s = &a->slots[i];
        if (!s->used || s->inv != inv)
            continue;
        if (s->suppressed > 0)
            emit(a, true, inv, s->kid, s->message, now, s->suppressed);
        s->used = false;
    }
    emit(a, false, inv, NULL, "holds again", now, 1);
    (void)pthread_mutex_unlock(&a->mu);
}

void sg_alerts_tick(struct sg_alerts *a, int64_t now)
{
    if (a == NULL)
        return;
    (void)pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        struct slot *s = &a->slots[i];
        if (s->used && s->suppressed > 0 && now - s->last_emit >= a->cfg.coalesce_window) {
            emit(a, true, s->inv, s->kid, s->message, now, s->suppressed);
            s->suppressed = 0;
            s->last_emit = now;
        }
    }
    (void)pthread_mutex_unlock(&a->mu);
}

signet_err sg_alerts_drain(struct sg_alerts *a, int64_t timeout_ms)
{
    struct timespec until;
    (void)clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    signet_err err = SIGNET_OK;
    (void)pthread_mutex_lock(&a->mu);
    while (a->webhook.n > 0 || a->webhook.busy || a->command.n > 0 || a->command.busy)
        if (pthread_cond_timedwait(&a->idle, &a->mu, &until) == ETIMEDOUT) {
            err = SIGNET_ERR_TIMEOUT;
            break;
        }
    (void)pthread_mutex_unlock(&a->mu);
    return err;
}

void sg_alerts_get_stats(struct sg_alerts *a, struct sg_alert_stats *out)
{
    (void)pthread_mutex_lock(&a->mu);
    *out = a->st;
    out->webhook_dropped = a->webhook.dropped;
    out->command_dropped = a->command.dropped;
    (void)pthread_mutex_unlock(&a->mu);
}
