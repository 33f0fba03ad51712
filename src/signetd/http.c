/* HTTP front: libmicrohttpd with an epoll thread pool, routing, body
 * limits, connection limits (global, per source address) and the request
 * deadline, response headers, the access log and the SIGTERM drain. */
#include "signetd/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "signetd/auth.h"
#include "signetd/conf.h"
#include "signetd/ctx.h"
#include "signetd/meta.h"
#include "signetd/mfa.h"
#include "signetd/pages.h"
#include "signetd/signin.h"
#include "signetd/resp.h"
#include "signetd/telemetry.h"
#include "signetd/token.h"
#include "telemetry/reports.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret.h"

/* A connection as the request deadline sees it (from MHD's connection
 * notifications, on the socket context): its request, headers and body,
 * must be in by deadline_ns, or the reaper shuts the socket down. */
struct tracked {
    int fd;
    int busy;   /* the request is in (being answered, or suspended for its signer) */
    int reaped; /* shut down by the reaper */
    uint64_t deadline_ns;
    struct tracked *prev, *next;
};

struct sd_http {
    struct MHD_Daemon *d;
    struct MHD_Daemon *td; /* [server] telemetry_listen, or NULL */
    struct sd_ctx *ctx;
    unsigned max_body;
    char *tls_cert;            /* PEM, kept while the daemon runs */
    struct sg_secret *tls_key; /* PEM private key */
    /* The request deadline: the connections, and the reaper thread. */
    uint64_t deadline_ns;   /* [server] request_deadline */
    uint64_t keepalive_ns;  /* a kept-alive connection's next request: idle timeout + deadline */
    pthread_mutex_t tlock;
    struct tracked *conns;
    pthread_t reaper;
    int reaper_started;
    atomic_int reaper_stop;
};

enum route {
    R_NONE,
    R_HEALTH,
    R_READY,
    R_METRICS,
    R_STATUS,
    R_STATUS_JSON,
    R_ASSET,  /* /assets/<name>: the pages' script and style */
    R_TOKEN, /* from here on, routes under a tenant */
    R_REPORTS,
    R_JWKS,
    R_DISCOVERY,
    R_PEOPLE, /* from here on, people's endpoints (signin.h, issue 13) */
};

/* The endpoint label of signet_http_requests_total: the route, never the
 * raw path, so label sets stay small. */
static const char *route_label(enum route r)
{
    switch (r) {
    case R_HEALTH: return "/healthz";
    case R_READY: return "/readyz";
    case R_METRICS: return "/metrics";
    case R_STATUS: return "/status";
    case R_STATUS_JSON: return "/status.json";
    case R_TOKEN: return "/t/{tenant}/token";
    case R_REPORTS: return "/t/{tenant}/reports";
    case R_JWKS: return "/t/{tenant}/jwks.json";
    case R_DISCOVERY: return "/t/{tenant}/.well-known";
    case R_ASSET: return "/assets";
    case R_PEOPLE: return "/t/{tenant}/people";
    case R_NONE: break;
    }
    return "other";
}

/* A token request waiting for its signature, shared by the connection
 * (MHD side) and the signer's completion (one reference each). The MHD
 * side suspends the connection unless the answer is already there; the
 * completion stores the answer and resumes it; MHD then calls the handler
 * again, which sends the answer. Once MHD is done with the connection
 * (abandoned), a late completion touches nothing but the job. */
struct job {
    atomic_int refs;
    pthread_mutex_t lock;
    struct MHD_Connection *mc;
    int suspended; /* the connection is (or was) suspended for this job */
    int completed; /* resp holds the answer (or one was sent instead) */
    int abandoned; /* MHD completed the request */
    struct sd_resp resp;
    /* In the pending list (under jobs_lock) while suspended and not yet
     * answered by the signer, for the drain. */
    struct job *prev, *next;
    int listed;
};

/* Suspended jobs, for the drain's last resort; jobs_closed: past the drain
 * deadline, a request that would be suspended gets 503 instead. Static,
 * since a completion may come after the daemon is gone. Lock order:
 * jobs_lock, then a job's lock. */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct job *jobs;
static int jobs_closed;

struct conn {
    struct sd_http *http;
    struct job *job;
    uint64_t start_ns;
    struct sd_conf *conf;
    const struct sg_tenant_cfg *tenant;
    enum route route;
    enum sd_people_route people;
    int unknown_tenant;
    int collecting; /* reading a token or report request body */
    size_t body_cap;
    int too_large;
    size_t discarded;
    char *body;
    size_t len;
    unsigned status;
    int close_conn; /* a refused malformed request: its connection ends */
    char method[8];
    char path[96];
    char client[130];
};

/* ---- the request deadline ------------------------------------------------ */

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct sd_http *h = cls;
    struct tracked *t = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        t = ci != NULL ? calloc(1, sizeof *t) : NULL;
        if (t == NULL)
            return; /* untracked: MHD's idle timeout still applies */
        t->fd = ci->connect_fd;
        t->deadline_ns = sg_clock_mono_ns() + h->deadline_ns;
        pthread_mutex_lock(&h->tlock);
        t->next = h->conns;
        if (h->conns != NULL)
            h->conns->prev = t;
        h->conns = t;
        pthread_mutex_unlock(&h->tlock);
        *socket_context = t;
        return;
    }
    if (t == NULL)
        return;
    /* MHD notifies before it closes the socket: under tlock, the reaper
     * never sees a descriptor number that may have been reused. */
    pthread_mutex_lock(&h->tlock);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        h->conns = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&h->tlock);
    free(t);
    *socket_context = NULL;
}

/* The request on mc is in (busy) or answered (its connection then has
 * keepalive_ns for the next one). */
static void track_mark(struct sd_http *h, struct MHD_Connection *mc, int busy)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct tracked *t = ci != NULL ? ci->socket_context : NULL;
    if (t == NULL)
        return;
    pthread_mutex_lock(&h->tlock);
    t->busy = busy;
    if (!busy)
        t->deadline_ns = sg_clock_mono_ns() + h->keepalive_ns;
    pthread_mutex_unlock(&h->tlock);
}

/* Every 200 ms: shuts down the sockets whose request is not in by its
 * deadline (a client trickling its headers or body a byte at a time
 * resets MHD's idle timeout, never this one). MHD then sees the end of the
 * stream and closes the connection on its own thread. */
static void *reaper_main(void *arg)
{
    struct sd_http *h = arg;
    uint64_t reaped = 0, logged_ns = 0;
    while (!atomic_load(&h->reaper_stop)) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
        uint64_t now = sg_clock_mono_ns();
        pthread_mutex_lock(&h->tlock);
        for (struct tracked *t = h->conns; t != NULL; t = t->next) {
            if (t->busy || t->reaped || now < t->deadline_ns)
                continue;
            (void)shutdown(t->fd, SHUT_RDWR);
            t->reaped = 1;
            reaped++;
        }
        pthread_mutex_unlock(&h->tlock);
        if (reaped > 0 && (logged_ns == 0 || now - logged_ns > 10ull * 1000000000ull)) {
            sg_log(SG_LOG_WARN, "request_deadline",
                   "closed=%llu deadline_s=%llu detail=\"connections whose request was not "
                   "complete in time\"",
                   (unsigned long long)reaped, (unsigned long long)(h->deadline_ns / 1000000000u));
            reaped = 0;
            logged_ns = now;
        }
    }
    return NULL;
}

/* Set once a drain starts: responses then close their connection. */
static atomic_int draining_flag;

/* ---- routing ------------------------------------------------------------- */

/* Splits "/t/<name>/<rest>" (or, for RFC 8414 §3.1 path insertion,
 * "/.well-known/<doc>/t/<name>"). */
static enum route classify(const char *url, char *tenant, size_t cap, enum sd_people_route *pr)
{
    tenant[0] = '\0';
    *pr = SD_P_NONE;
    if (strncmp(url, "/assets/", 8) == 0)
        return R_ASSET;
    if (strcmp(url, "/healthz") == 0)
        return R_HEALTH;
    if (strcmp(url, "/readyz") == 0)
        return R_READY;
    if (strcmp(url, "/metrics") == 0)
        return R_METRICS;
    if (strcmp(url, "/status") == 0)
        return R_STATUS;
    if (strcmp(url, "/status.json") == 0)
        return R_STATUS_JSON;
    const char *name = NULL, *rest = NULL;
    static const char *const inserted[] = {"/.well-known/oauth-authorization-server/t/",
                                           "/.well-known/openid-configuration/t/"};
    for (size_t i = 0; i < 2 && name == NULL; i++) {
        size_t n = strlen(inserted[i]);
        if (strncmp(url, inserted[i], n) == 0) {
            name = url + n;
            if (strchr(name, '/') != NULL)
                return R_NONE;
            rest = "";
        }
    }
    if (name == NULL && strncmp(url, "/t/", 3) == 0) {
        name = url + 3;
        rest = strchr(name, '/');
        if (rest == NULL)
            return R_NONE;
    }
    if (name == NULL)
        return R_NONE;
    size_t nlen = rest != NULL && rest[0] != '\0' ? (size_t)(rest - name) : strlen(name);
    if (nlen == 0 || nlen >= cap)
        return R_NONE;
    memcpy(tenant, name, nlen);
    tenant[nlen] = '\0';
    if (rest[0] == '\0')
        return R_DISCOVERY;
    if (strcmp(rest, "/token") == 0)
        return R_TOKEN;
    if (strcmp(rest, "/reports") == 0)
        return R_REPORTS;
    if (strcmp(rest, "/jwks.json") == 0)
        return R_JWKS;
    if ((*pr = sd_people_route_of(rest)) != SD_P_NONE)
        return R_PEOPLE;
    if (strcmp(rest, "/.well-known/openid-configuration") == 0 ||
        strcmp(rest, "/.well-known/oauth-authorization-server") == 0)
        return R_DISCOVERY;
    return R_NONE;
}

/* Untrusted text for a log value: anything but a conservative set of
 * characters becomes '?', so a path or client_id cannot forge fields or
 * lines (the path is logged as sent, %-escapes included). */
static void log_safe(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (const char *c = src; *c != '\0' && o + 1 < cap; c++) {
        char ch = *c;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 strchr("-._~@/:+%", ch) != NULL;
        dst[o++] = ok ? ch : '?';
    }
    dst[o] = '\0';
}

/* ---- strictness (before any routing) -------------------------------------- */

/* MHD's unescape callback: the identity. MHD would otherwise %-decode the
 * path before the handler sees it, and "/t/acme%2Ftoken" would route as
 * "/t/acme/token" while a proxy or access rule in front saw one segment.
 * signetd routes on the path as sent. The callback also sees the query
 * arguments (MHD cannot tell them apart): no endpoint reads those, and one
 * that ever does must decode them itself. */
static size_t keep_escapes(void *cls, struct MHD_Connection *mc, char *s)
{
    (void)cls;
    (void)mc;
    return strlen(s);
}

/* An encoded '/', '.', NUL or '\', or a '\' itself, in the raw path: each
 * means something else to a decoding hop before or after signetd, so the
 * request is refused rather than routed one way or the other. */
static int path_refused(const char *url)
{
    static const char *const escapes[] = {"%2f", "%2e", "%00", "%5c"};
    if (strchr(url, '\\') != NULL)
        return 1;
    for (const char *p = strchr(url, '%'); p != NULL; p = strchr(p + 1, '%'))
        for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++)
            if (strncasecmp(p, escapes[i], 3) == 0)
                return 1;
    return 0;
}

/* Headers whose second copy an intermediary may pick instead of the first
 * (credentials, framing, the target): a request carrying one of them more
 * than once is refused. */
enum single_header {
    H_AUTHORIZATION,
    H_DPOP,
    H_CONTENT_TYPE,
    H_CONTENT_LENGTH,
    H_HOST,
    H_TRANSFER_ENCODING,
    H_COOKIE,
    SD_NSINGLE
};
static const char *const single_headers[SD_NSINGLE] = {
    [H_AUTHORIZATION] = "Authorization",   [H_DPOP] = "DPoP",
    [H_CONTENT_TYPE] = "Content-Type",     [H_CONTENT_LENGTH] = "Content-Length",
    [H_HOST] = "Host",                     [H_TRANSFER_ENCODING] = "Transfer-Encoding",
    [H_COOKIE] = "Cookie",
};

struct header_count {
    unsigned n[SD_NSINGLE];
    int bad_name; /* a field name that is not a token */
};

/* RFC 9110 §5.6.2 tchar. */
static int is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Counts the single_headers by name, case-insensitively (RFC 9110 §5.1),
 * and flags a name that is not a token: MHD 0.9.75 keeps "Authorization :"
 * as a header of its own, which a proxy may read as Authorization (RFC 9112
 * §5.1: whitespace before the colon is refused with 400). The values are
 * never looked at (nor logged). */
static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    struct header_count *hc = cls;
    (void)kind;
    (void)value;
    (void)value_size;
    if (key_size == 0)
        hc->bad_name = 1;
    for (size_t i = 0; i < key_size; i++)
        if (!is_tchar(key[i]))
            hc->bad_name = 1;
    for (size_t i = 0; i < SD_NSINGLE; i++)
        if (key_size == strlen(single_headers[i]) &&
            strncasecmp(key, single_headers[i], key_size) == 0 && hc->n[i] < 2)
            hc->n[i]++;
    return MHD_YES;
}

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result send_resp(struct MHD_Connection *mc, struct conn *st, struct sd_resp *r)
{
    size_t len = r->no_body ? 0 : r->len;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, len > 0 ? r->body : (void *)"", MHD_RESPMEM_MUST_COPY);
    free(r->body);
    r->body = NULL;
    if (resp == NULL)
        return MHD_NO;
    int ok = 1;
    if (len > 0 && r->content_type != NULL)
        ok &= MHD_add_response_header(resp, "Content-Type", r->content_type) == MHD_YES;
    const char *cc = r->cache_control[0] != '\0' ? r->cache_control : "no-store";
    ok &= MHD_add_response_header(resp, "Cache-Control", cc) == MHD_YES;
    if (strcmp(cc, "no-store") == 0)
        ok &= MHD_add_response_header(resp, "Pragma", "no-cache") == MHD_YES;
    ok &= MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") == MHD_YES;
    if (r->etag[0] != '\0')
        ok &= MHD_add_response_header(resp, "ETag", r->etag) == MHD_YES;
    if (r->allow[0] != '\0')
        ok &= MHD_add_response_header(resp, "Allow", r->allow) == MHD_YES;
    if (r->www_auth[0] != '\0')
        ok &= MHD_add_response_header(resp, "WWW-Authenticate", r->www_auth) == MHD_YES;
    if (r->csp)
        ok &= MHD_add_response_header(resp, "Content-Security-Policy",
                                      "default-src 'none'; style-src 'unsafe-inline'") == MHD_YES;
    if (r->page) {
        /* People's pages (issue 13, docs/people.md): no framing, no
         * referrer (a code or a link's token never leaks through one). */
        ok &= MHD_add_response_header(resp, "Content-Security-Policy", SD_PAGE_CSP) == MHD_YES;
        ok &= MHD_add_response_header(resp, "X-Frame-Options", "DENY") == MHD_YES;
        ok &= MHD_add_response_header(resp, "Referrer-Policy", "no-referrer") == MHD_YES;
    }
    if (r->location[0] != '\0')
        ok &= MHD_add_response_header(resp, "Location", r->location) == MHD_YES;
    for (size_t i = 0; i < sizeof r->cookies / sizeof r->cookies[0]; i++)
        if (r->cookies[i][0] != '\0')
            ok &= MHD_add_response_header(resp, "Set-Cookie", r->cookies[i]) == MHD_YES;
    if (r->dpop_nonce[0] != '\0')
        ok &= MHD_add_response_header(resp, "DPoP-Nonce", r->dpop_nonce) == MHD_YES;
    if (r->retry_after > 0) {
        char ra[24];
        (void)snprintf(ra, sizeof ra, "%lld", (long long)r->retry_after);
        ok &= MHD_add_response_header(resp, "Retry-After", ra) == MHD_YES;
    }
    if (atomic_load(&draining_flag) || st->close_conn)
        ok &= MHD_add_response_header(resp, "Connection", "close") == MHD_YES;
    enum MHD_Result ret = ok ? MHD_queue_response(mc, r->status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    st->status = r->status;
    track_mark(st->http, mc, 1); /* answered: no more deadline for this request */
    if (r->client_id[0] != '\0')
        log_safe(st->client, sizeof st->client, r->client_id);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *mc, struct conn *st, unsigned status,
                                  const char *code, const char *why, const char *allow)
{
    struct sd_resp r;
    memset(&r, 0, sizeof r);
    sd_resp_oauth_error(&r, status, code, why);
    if (allow != NULL)
        (void)snprintf(r.allow, sizeof r.allow, "%s", allow);
    return send_resp(mc, st, &r);
}

/* application/x-www-form-urlencoded, optionally with parameters. */
static int form_content_type(const char *ct)
{
    static const char want[] = "application/x-www-form-urlencoded";
    if (ct == NULL || strncasecmp(ct, want, sizeof want - 1) != 0)
        return 0;
    char next = ct[sizeof want - 1];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* application/json, optionally with parameters. */
static int json_content_type(const char *ct)
{
    static const char want[] = "application/json";
    if (ct == NULL || strncasecmp(ct, want, sizeof want - 1) != 0)
        return 0;
    char next = ct[sizeof want - 1];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* A declared Content-Length within cap (an absent one is checked as the
 * body arrives). */
static int length_fits(struct MHD_Connection *mc, size_t cap)
{
    const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
    if (cl == NULL)
        return 1;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno == 0 && end != cl && *end == '\0' && n <= cap;
}

/* ---- which listener serves what ----------------------------------------- */

static int telemetry_route(enum route r)
{
    return r == R_METRICS || r == R_STATUS || r == R_STATUS_JSON;
}

/* The telemetry listener serves telemetry and the probes only; the public
 * one serves telemetry only with telemetry_public: it shows every tenant,
 * key and the next rotation time. */
static int route_served_here(const struct sd_http *h, struct MHD_Connection *mc,
                             const struct sg_server_cfg *sv, enum route r)
{
    const union MHD_ConnectionInfo *di = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_DAEMON);
    if (h->td != NULL && di != NULL && di->daemon == h->td)
        return telemetry_route(r) || r == R_HEALTH || r == R_READY;
    return !telemetry_route(r) || sv->telemetry_public;
}

/* ---- the request handler -------------------------------------------------- */

static enum MHD_Result handle_get(struct sd_http *h, struct MHD_Connection *mc, struct conn *st)
{
    struct sd_resp r;
    memset(&r, 0, sizeof r);
    const struct sg_config *cfg = &st->conf->cfg;
    switch (st->route) {
    case R_HEALTH:
        sd_resp_json(&r, 200, "{\"status\":\"ok\"}");
        break;
    case R_READY:
        sd_ready_endpoint(h->ctx, &r);
        break;
    case R_JWKS:
        sd_jwks_endpoint(h->ctx, st->tenant,
                         MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "If-None-Match"), cfg,
                         &r);
        break;
    case R_DISCOVERY:
        sd_discovery_endpoint(st->tenant, &r);
        break;
    case R_METRICS:
        sd_metrics_endpoint(h->ctx, &r);
        break;
    case R_STATUS:
        sd_status_endpoint(h->ctx, &r);
        break;
    case R_STATUS_JSON:
        sd_status_json_endpoint(h->ctx, &r);
        break;
    case R_ASSET:
        sd_page_asset(&r, st->path + 8);
        break;
    default:
        return send_error(mc, st, 404, "not_found", "no such endpoint", NULL);
    }
    return send_resp(mc, st, &r);
}

/* The query string as sent (MHD splits it and, with keep_escapes, leaves
 * every %-escape alone), put back together for sg_form_parse, which
 * decodes it strictly and refuses a parameter given twice. */
struct query_acc {
    char *buf;
    size_t len, cap;
    int overflow;
};

static void query_put(struct query_acc *q, const char *s, size_t n)
{
    if (q->overflow || q->len + n + 1 > q->cap) {
        q->overflow = 1;
        return;
    }
    memcpy(q->buf + q->len, s, n);
    q->len += n;
    q->buf[q->len] = '\0';
}

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    struct query_acc *q = cls;
    (void)kind;
    if (q->len > 0)
        query_put(q, "&", 1);
    query_put(q, key, key_size);
    if (value != NULL) {
        query_put(q, "=", 1);
        query_put(q, value, value_size);
    }
    return MHD_YES;
}

static void set_peer(struct MHD_Connection *mc);

/* People's endpoints (signin.c, oidc.c): the request as they need it. */
static enum MHD_Result people_request(struct sd_http *h, struct MHD_Connection *mc,
                                      struct conn *st, const char *method)
{
    char query[SD_PEOPLE_MAX_QUERY + 1];
    struct query_acc q = {query, 0, sizeof query, 0};
    query[0] = '\0';
    (void)MHD_get_connection_values_n(mc, MHD_GET_ARGUMENT_KIND, query_arg, &q);
    if (q.overflow)
        return send_error(mc, st, 414, "invalid_request", "query string too long", NULL);
    const struct sd_people_in in = {
        .method = method,
        .query = query,
        .body = st->body != NULL ? st->body : "",
        .len = st->len,
        .cookie = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Cookie"),
        .origin = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Origin"),
        .authz = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization"),
        .device = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Signet-Device"),
        .location = st->conf->cfg.server.location_header[0] != '\0'
                        ? MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                      st->conf->cfg.server.location_header)
                        : NULL,
    };
    struct sd_resp r;
    memset(&r, 0, sizeof r);
    set_peer(mc);
    if (sd_mfa_route(st->people))
        sd_mfa_endpoint(h->ctx, &st->conf->cfg, st->tenant, st->people, &in, &r);
    else
        sd_people_endpoint(h->ctx, &st->conf->cfg, st->tenant, st->people, &in, &r);
    sd_auth_peer_set(NULL);
    return send_resp(mc, st, &r);
}

/* A request without a token body, now complete: route it. */
static enum MHD_Result respond_complete(struct sd_http *h, struct MHD_Connection *mc,
                                        struct conn *st, const char *method)
{
    if (st->route == R_NONE)
        return send_error(mc, st, 404, "not_found", "no such endpoint", NULL);
    if (st->route >= R_TOKEN && st->tenant == NULL)
        return send_error(mc, st, 404, "not_found", "unknown tenant", NULL);
    if (st->route == R_TOKEN || st->route == R_REPORTS)
        return send_error(mc, st, 405, "invalid_request", "this endpoint accepts POST only",
                          "POST");
    if (st->route == R_PEOPLE)
        return people_request(h, mc, st, method);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error(mc, st, 405, "invalid_request", "use GET", "GET, HEAD");
    return handle_get(h, mc, st);
}

/* The client's address, for the failure budget of auth.c (this thread). */
static void set_peer(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sd_auth_peer_set(ci != NULL ? ci->client_addr : NULL);
}

static void job_put(struct job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1) {
        free(j->resp.body);
        pthread_mutex_destroy(&j->lock);
        free(j);
    }
}

static void unlist_locked(struct job *j)
{
    if (!j->listed)
        return;
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
    j->listed = 0;
}

static void shutting_down(struct sd_resp *r)
{
    memset(r, 0, sizeof *r);
    sd_resp_oauth_error(r, 503, "temporarily_unavailable", "the server is shutting down");
    r->retry_after = 1;
}

/* The signer's answer (sd_token_done), on whatever thread completes it. */
static void job_done(void *user, struct sd_resp *r)
{
    struct job *j = user;
    pthread_mutex_lock(&j->lock);
    if (!j->completed && !j->abandoned) {
        j->resp = *r;
        j->completed = 1;
        if (j->suspended)
            MHD_resume_connection(j->mc);
    } else {
        free(r->body); /* the drain answered already */
    }
    pthread_mutex_unlock(&j->lock);
    pthread_mutex_lock(&jobs_lock);
    unlist_locked(j);
    pthread_mutex_unlock(&jobs_lock);
    job_put(j);
}

/* The complete token request: answer it now, or suspend the connection
 * until its signature arrives. */
static enum MHD_Result token_request(struct sd_http *h, struct MHD_Connection *mc,
                                     struct conn *st)
{
    struct sd_resp r;
    memset(&r, 0, sizeof r);
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return send_error(mc, st, 500, "server_error", "out of memory", NULL);
    pthread_mutex_init(&j->lock, NULL);
    atomic_init(&j->refs, 2);
    j->mc = mc;
    set_peer(mc);
    int async = sd_token_endpoint_async(
        h->ctx, &st->conf->cfg, st->tenant, st->body != NULL ? st->body : "", st->len,
        MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization"),
        MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "DPoP"), &r, job_done, j);
    sd_auth_peer_set(NULL);
    if (!async) {
        pthread_mutex_destroy(&j->lock);
        free(j);
        return send_resp(mc, st, &r);
    }
    st->job = j;
    pthread_mutex_lock(&jobs_lock);
    pthread_mutex_lock(&j->lock);
    if (j->completed) {
        r = j->resp; /* the signer was quick */
        memset(&j->resp, 0, sizeof j->resp);
    } else if (jobs_closed) {
        j->completed = 1; /* the late answer is dropped */
        shutting_down(&r);
    } else {
        j->suspended = 1;
        j->listed = 1;
        j->next = jobs;
        if (jobs != NULL)
            jobs->prev = j;
        jobs = j;
        MHD_suspend_connection(mc);
    }
    int suspended = j->suspended;
    pthread_mutex_unlock(&j->lock);
    pthread_mutex_unlock(&jobs_lock);
    return suspended ? MHD_YES : send_resp(mc, st, &r);
}

/* Refuses, before routing, a request whose meaning depends on who reads it:
 * a security-relevant header twice, a header name that is not a token
 * (RFC 9112 §5.1), Content-Length with Transfer-Encoding
 * (RFC 9112 §6.1: a request smuggling vector), a transfer coding other
 * than chunked (§6.1: 501), or an encoded '/', '.', NUL or '\' in the path.
 * The refusal reaches no endpoint (nothing issued, no rate limit charged)
 * and closes the connection. Returns 1 with the answer queued in *ret. */
static int refuse_ambiguous(struct MHD_Connection *mc, struct conn *st, const char *url,
                            enum MHD_Result *ret)
{
    struct header_count hc;
    memset(&hc, 0, sizeof hc);
    (void)MHD_get_connection_values_n(mc, MHD_HEADER_KIND, count_header, &hc);
    char why[96];
    unsigned status = 400;
    const char *reason = NULL, *header = NULL;
    const char *te = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Transfer-Encoding");
    for (size_t i = 0; i < SD_NSINGLE && header == NULL; i++)
        if (hc.n[i] > 1)
            header = single_headers[i];
    if (header != NULL) {
        reason = "duplicate_header";
        (void)snprintf(why, sizeof why, "duplicate %s header", header);
    } else if (hc.bad_name) {
        reason = "header_name";
        (void)snprintf(why, sizeof why, "malformed header field name");
    } else if (hc.n[H_CONTENT_LENGTH] > 0 && hc.n[H_TRANSFER_ENCODING] > 0) {
        reason = "length_and_transfer_encoding";
        (void)snprintf(why, sizeof why, "Content-Length together with Transfer-Encoding");
    } else if (hc.n[H_TRANSFER_ENCODING] > 0 && (te == NULL || strcasecmp(te, "chunked") != 0)) {
        reason = "transfer_encoding";
        status = 501;
        (void)snprintf(why, sizeof why, "Transfer-Encoding other than chunked");
    } else if (path_refused(url)) {
        reason = "encoded_path";
        (void)snprintf(why, sizeof why, "encoded '/', '.', NUL or '\\' in the path");
    } else {
        return 0;
    }
    sg_log(SG_LOG_WARN, "http_refused", "reason=%s header=%s status=%u", reason,
           header != NULL ? header : "-", status);
    st->close_conn = 1;
    /* RFC 9449 §4.3: a request carries at most one DPoP proof. */
    *ret = send_error(mc, st, status,
                      header == single_headers[H_DPOP] ? "invalid_dpop_proof" : "invalid_request",
                      why, NULL);
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct sd_http *h = cls;
    struct conn *st = *con_cls;
    (void)version;
    if (st == NULL) {
        st = calloc(1, sizeof *st);
        if (st == NULL)
            return MHD_NO;
        *con_cls = st;
        st->http = h;
        atomic_fetch_add(&h->ctx->inflight, 1);
        atomic_fetch_add(&h->ctx->requests, 1u);
        st->start_ns = sg_clock_mono_ns();
        st->conf = sd_conf_get(h->ctx);
        log_safe(st->method, sizeof st->method, method);
        log_safe(st->path, sizeof st->path, url);
        enum MHD_Result refused = MHD_NO;
        if (refuse_ambiguous(mc, st, url, &refused))
            return refused;
        char tenant[64];
        st->route = classify(url, tenant, sizeof tenant, &st->people);
        if (!route_served_here(h, mc, &st->conf->cfg.server, st->route))
            return send_error(mc, st, 404, "not_found",
                              "no such endpoint on this listener (telemetry is served on "
                              "[server] telemetry_listen, 127.0.0.1:9464 by default)",
                              NULL);
        if (st->route >= R_TOKEN)
            st->tenant = sg_config_tenant_by_name(&st->conf->cfg, tenant);
        if (st->route == R_TOKEN && st->tenant != NULL && strcmp(method, "POST") == 0) {
            /* Refused before the body is read (the connection then closes). */
            if (!form_content_type(
                    MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type")))
                return send_error(mc, st, 415, "invalid_request",
                                  "Content-Type must be application/x-www-form-urlencoded",
                                  NULL);
            st->body_cap = h->max_body;
            if (!length_fits(mc, st->body_cap))
                return send_error(mc, st, 413, "invalid_request", "request body too large",
                                  NULL);
            st->collecting = 1;
        }
        if (st->route == R_PEOPLE && st->tenant != NULL && strcmp(method, "POST") == 0) {
            const char *ct = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type");
            int form = sd_people_form_body(st->people);
            if (form ? !form_content_type(ct) : !json_content_type(ct))
                return send_error(mc, st, 415, "invalid_request",
                                  form ? "Content-Type must be application/x-www-form-urlencoded"
                                       : "Content-Type must be application/json",
                                  NULL);
            st->body_cap = SD_PEOPLE_MAX_BODY;
            if (!length_fits(mc, st->body_cap))
                return send_error(mc, st, 413, "invalid_request", "request body too large",
                                  NULL);
            st->collecting = 1;
        }
        if (st->route == R_REPORTS && st->tenant != NULL && strcmp(method, "POST") == 0) {
            if (!json_content_type(
                    MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type")))
                return send_error(mc, st, 415, "invalid_request",
                                  "Content-Type must be application/json", NULL);
            st->body_cap = SG_REPORTS_MAX_BODY;
            if (!length_fits(mc, st->body_cap))
                return send_error(mc, st, 413, "invalid_request", "request body too large",
                                  NULL);
            /* The client proves itself in the header, before up to 256 KiB
             * of body is accepted from it. */
            struct sd_resp r;
            memset(&r, 0, sizeof r);
            set_peer(mc);
            signet_err rerr = sd_report_client(
                h->ctx, &st->conf->cfg, st->tenant,
                MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization"), &r);
            sd_auth_peer_set(NULL);
            if (rerr != SIGNET_OK)
                return send_resp(mc, st, &r);
            free(r.body);
            if (r.client_id[0] != '\0')
                log_safe(st->client, sizeof st->client, r.client_id);
            st->collecting = 1;
        }
        /* Everything else answers once the request is complete, so that
         * the connection can be kept alive. */
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!st->collecting)
            return MHD_YES;
        if (st->too_large || st->len + n > st->body_cap) {
            /* Read and drop the rest so the client gets its 413; a body
             * far beyond the cap just loses the connection. */
            st->too_large = 1;
            st->discarded += n;
            return st->discarded > 64u * st->body_cap ? MHD_NO : MHD_YES;
        }
        char *nb = realloc(st->body, st->len + n + 1);
        if (nb == NULL)
            return MHD_NO;
        st->body = nb;
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        st->body[st->len] = '\0';
        return MHD_YES;
    }
    if (st->status != 0)
        return MHD_YES; /* a response is already queued */
    track_mark(h, mc, 1); /* the whole request is in: the deadline is met */
    if (st->job != NULL) {
        /* Resumed: the answer is in. */
        struct sd_resp r;
        pthread_mutex_lock(&st->job->lock);
        int ready = st->job->completed;
        r = st->job->resp;
        memset(&st->job->resp, 0, sizeof st->job->resp);
        pthread_mutex_unlock(&st->job->lock);
        if (!ready)
            return MHD_YES;
        return send_resp(mc, st, &r);
    }
    if (!st->collecting)
        return respond_complete(h, mc, st, method);
    st->collecting = 0;
    if (st->too_large)
        return send_error(mc, st, 413, "invalid_request", "request body too large", NULL);
    if (st->route == R_PEOPLE)
        return people_request(h, mc, st, method);
    if (st->route != R_REPORTS)
        return token_request(h, mc, st);
    struct sd_resp r;
    memset(&r, 0, sizeof r);
    sd_reports_endpoint(h->ctx, st->tenant, st->client, st->body != NULL ? st->body : "",
                        st->len, &r);
    return send_resp(mc, st, &r);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sd_http *h = cls;
    struct conn *st = *con_cls;
    track_mark(h, mc, 0); /* the next request on this connection has its own deadline */
    if (st == NULL)
        return;
    if (st->job != NULL && st->status == 0) {
        /* The client left while its request was suspended: log the answer
         * it would have had (MHD did not call the handler again). */
        pthread_mutex_lock(&st->job->lock);
        if (st->job->completed) {
            st->status = st->job->resp.status;
            if (st->job->resp.client_id[0] != '\0')
                log_safe(st->client, sizeof st->client, st->job->resp.client_id);
        }
        pthread_mutex_unlock(&st->job->lock);
    }
    uint64_t us = (sg_clock_mono_ns() - st->start_ns) / 1000u;
    sd_tm_http(h->ctx, st->tenant != NULL || st->route < R_TOKEN ? route_label(st->route) : "other",
               st->status);
    sg_log(st->status >= 500 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK ? SG_LOG_WARN
                                                                            : SG_LOG_INFO,
           "http", "method=%s path=%s status=%u us=%llu tenant=%s client=%s%s", st->method,
           st->path, st->status, (unsigned long long)us,
           st->tenant != NULL ? st->tenant->name : "-", st->client[0] != '\0' ? st->client : "-",
           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    if (st->job != NULL) {
        pthread_mutex_lock(&st->job->lock);
        st->job->abandoned = 1;
        pthread_mutex_unlock(&st->job->lock);
        job_put(st->job);
        st->job = NULL;
    }
    if (st->body != NULL) {
        sg_wipe(st->body, st->len); /* may hold a client secret */
        free(st->body);
    }
    sd_conf_put(st->conf);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&h->ctx->inflight, 1);
}

/* libmicrohttpd's messages, at most 10 a second (bursts of 20): a
 * connection flood (one "reached connection limit" per refused
 * connection) must not become a log flood. The next line says how many
 * were dropped. */
static int mhd_log_due(uint64_t *dropped)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static double tokens = 20.0;
    static uint64_t last_ns, suppressed;
    uint64_t now = sg_clock_mono_ns();
    pthread_mutex_lock(&lock);
    if (last_ns != 0)
        tokens += (double)(now - last_ns) / 1e9 * 10.0;
    if (tokens > 20.0)
        tokens = 20.0;
    last_ns = now;
    int due = tokens >= 1.0;
    if (due) {
        tokens -= 1.0;
        *dropped = suppressed;
        suppressed = 0;
    } else {
        suppressed++;
    }
    pthread_mutex_unlock(&lock);
    return due;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    uint64_t dropped = 0;
    if (!mhd_log_due(&dropped))
        return;
    char msg[512];
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    for (char *p = msg; *p != '\0'; p++)
        if (*p == '"')
            *p = '\'';
    if (dropped > 0)
        sg_log(SG_LOG_WARN, "mhd", "msg=\"%s\" dropped_before=%llu", msg,
               (unsigned long long)dropped);
    else
        sg_log(SG_LOG_WARN, "mhd", "msg=\"%s\"", msg);
}

/* ---- lifecycle ------------------------------------------------------------ */

static signet_err read_file(const char *path, size_t max, char **out)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return SIGNET_ERR_NOT_FOUND;
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (buf == NULL)
        return SIGNET_ERR_NOMEM;
    if (n == 0 || n > max) {
        free(buf);
        return SIGNET_ERR_TOO_LARGE;
    }
    buf[n] = '\0';
    *out = buf;
    return SIGNET_OK;
}

signet_err sd_tls_load(struct sd_ctx *c, const struct sg_server_cfg *sv, char *err, size_t errlen)
{
    if (sv->tls_cert[0] == '\0')
        return SIGNET_OK;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        (void)snprintf(err, errlen, "libmicrohttpd was built without TLS support");
        return SIGNET_ERR_UNSUPPORTED;
    }
    signet_err e = read_file(sv->tls_cert, 1u << 20, &c->tls_cert);
    if (e != SIGNET_OK) {
        (void)snprintf(err, errlen, "[server] tls_cert %s: %s", sv->tls_cert, signet_strerror(e));
        return e;
    }
    e = sg_secret_read_file(sv->tls_key, 64 * 1024, &c->tls_key);
    if (e != SIGNET_OK) {
        (void)snprintf(err, errlen, "[server] tls_key %s: %s%s", sv->tls_key, signet_strerror(e),
                       e == SIGNET_ERR_PERMISSION ? " (it must not be readable by group or "
                                                    "others)"
                                                  : "");
        free(c->tls_cert);
        c->tls_cert = NULL;
        return e;
    }
    return SIGNET_OK;
}

static void reaper_stop(struct sd_http *h)
{
    if (h->reaper_started) {
        atomic_store(&h->reaper_stop, 1);
        (void)pthread_join(h->reaper, NULL);
        h->reaper_started = 0;
    }
}

static void http_free(struct sd_http *h)
{
    reaper_stop(h);
    free(h->tls_cert);
    sg_secret_free(&h->tls_key);
    free(h);
}

/* [server] telemetry_listen: plain HTTP, one thread (scrapes and probes). */
static int start_telemetry(struct sd_http *h, const struct sg_server_cfg *sv, char *err,
                           size_t errlen)
{
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    const struct sockaddr *sa = (const struct sockaddr *)&a4;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (inet_pton(AF_INET, sv->telemetry_host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)sv->telemetry_port);
    } else if (inet_pton(AF_INET6, sv->telemetry_host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)sv->telemetry_port);
        sa = (const struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    }
    h->td = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                             mhd_log, NULL, MHD_OPTION_SOCK_ADDR, sa,
                             MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT,
                             (unsigned)sv->connection_timeout, MHD_OPTION_NOTIFY_COMPLETED,
                             on_completed, h, MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
                             MHD_OPTION_END);
    if (h->td == NULL) {
        (void)snprintf(err, errlen, "cannot listen on %s:%u ([server] telemetry_listen: "
                                    "address in use?)",
                       sv->telemetry_host, sv->telemetry_port);
        return -1;
    }
    sg_log(SG_LOG_INFO, "listening", "addr=%s port=%u telemetry=only", sv->telemetry_host,
           sv->telemetry_port);
    return 0;
}

signet_err sd_http_start(struct sd_ctx *c, const struct sg_config *cfg, struct sd_http **out,
                         char *err, size_t errlen)
{
    const struct sg_server_cfg *sv = &cfg->server;
    struct sd_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return SIGNET_ERR_NOMEM;
    h->ctx = c;
    h->max_body = sv->max_body;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    const struct sockaddr *sa = NULL;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, sv->listen_host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)sv->port);
        sa = (const struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, sv->listen_host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)sv->port);
        sa = (const struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        (void)snprintf(err, errlen, "[server] listen: bad address %s", sv->listen_host);
        http_free(h);
        return SIGNET_ERR_CONFIG;
    }
    if (sv->tls_cert[0] != '\0') {
        /* Read by sd_tls_load() before the front end gave up root. */
        if (c->tls_cert == NULL || c->tls_key == NULL) {
            (void)snprintf(err, errlen, "[server] TLS certificate and key were not loaded");
            http_free(h);
            return SIGNET_ERR_CONFIG;
        }
        h->tls_cert = c->tls_cert;
        h->tls_key = c->tls_key;
        c->tls_cert = NULL;
        c->tls_key = NULL;
        flags |= MHD_USE_TLS;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = sv->threads > 0 ? sv->threads : (cores > 0 ? (unsigned)cores : 1u);
    h->deadline_ns = (uint64_t)sv->request_deadline * 1000000000u;
    h->keepalive_ns = (uint64_t)(sv->connection_timeout + sv->request_deadline) * 1000000000u;
    pthread_mutex_init(&h->tlock, NULL);
    /* Limits: max_connections in all, max_connections_per_address from one
     * address (MHD refuses the next at accept), connection_timeout idle; the
     * reaper adds the absolute request_deadline. */
    struct MHD_OptionItem limits[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)sv->max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)sv->max_connections_per_address, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)sv->connection_timeout, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (h->tls_cert != NULL)
        h->d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
            MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_ARRAY, limits,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
            MHD_OPTION_HTTPS_MEM_CERT, h->tls_cert,
            MHD_OPTION_HTTPS_MEM_KEY, (const char *)h->tls_key->data,
            MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
            MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL, MHD_OPTION_END);
    else
        h->d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
            MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_ARRAY, limits,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
            MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL, MHD_OPTION_END);
    if (h->d == NULL) {
        (void)snprintf(err, errlen, "cannot listen on %s:%u (address in use, or bad TLS "
                                    "certificate/key)",
                       sv->listen_host, sv->port);
        http_free(h);
        return SIGNET_ERR_IO;
    }
    if (pthread_create(&h->reaper, NULL, reaper_main, h) != 0) {
        (void)snprintf(err, errlen, "cannot start the request-deadline thread");
        MHD_stop_daemon(h->d);
        http_free(h);
        return SIGNET_ERR_IO;
    }
    h->reaper_started = 1;
    sg_log(SG_LOG_INFO, "listening",
           "addr=%s port=%u tls=%s threads=%u max_connections=%u per_address=%u "
           "request_deadline_s=%lld",
           sv->listen_host, sv->port, h->tls_cert != NULL ? "on" : "off", threads,
           sv->max_connections, sv->max_connections_per_address,
           (long long)sv->request_deadline);
    if (sv->telemetry_port != 0 && start_telemetry(h, sv, err, errlen) != 0) {
        if (sv->telemetry_explicit) {
            reaper_stop(h);
            MHD_stop_daemon(h->d);
            http_free(h);
            return SIGNET_ERR_IO;
        }
        sg_log(SG_LOG_WARN, "telemetry_not_listening",
               "addr=%s port=%u detail=\"the default telemetry port is taken; set [server] "
               "telemetry_listen\"",
               sv->telemetry_host, sv->telemetry_port);
        err[0] = '\0';
    }
    *out = h;
    return SIGNET_OK;
}

void sd_http_drain_and_stop(struct sd_http **hp, struct sd_ctx *c, int64_t timeout_s)
{
    if (hp == NULL || *hp == NULL)
        return;
    struct sd_http *h = *hp;
    atomic_store(&draining_flag, 1);
    MHD_socket ls = MHD_quiesce_daemon(h->d);
    if (ls != MHD_INVALID_SOCKET)
        (void)close(ls);
    uint64_t deadline = sg_clock_mono_ns() + (uint64_t)timeout_s * 1000000000u;
    long left = 0;
    while ((left = atomic_load(&c->inflight)) > 0 && sg_clock_mono_ns() < deadline) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    /* MHD must not stop with a suspended connection: a token request still
     * waiting for its signer gets its 503 now (its late signature, if any,
     * is dropped), and none is suspended from here on. */
    long answered = 0;
    pthread_mutex_lock(&jobs_lock);
    jobs_closed = 1;
    for (struct job *j = jobs; j != NULL; j = j->next) {
        pthread_mutex_lock(&j->lock);
        if (!j->completed && !j->abandoned) {
            shutting_down(&j->resp);
            j->completed = 1;
            MHD_resume_connection(j->mc);
            answered++;
        }
        pthread_mutex_unlock(&j->lock);
    }
    pthread_mutex_unlock(&jobs_lock);
    if (answered > 0) {
        uint64_t grace = sg_clock_mono_ns() + 2000000000u;
        while ((left = atomic_load(&c->inflight)) > 0 && sg_clock_mono_ns() < grace) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            (void)nanosleep(&ts, NULL);
        }
    }
    sg_log(left > 0 || answered > 0 ? SG_LOG_WARN : SG_LOG_INFO, "drained",
           "abandoned=%ld answered_503=%ld", left, answered);
    reaper_stop(h);
    if (h->td != NULL)
        MHD_stop_daemon(h->td);
    MHD_stop_daemon(h->d);
    http_free(h);
    *hp = NULL;
}
