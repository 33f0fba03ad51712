/* The monitor process: the invariant monitor (src/telemetry/monitor.h),
 * its alerts (webhook, command) and the emergency revoke, in a process of
 * their own, so that owning the front end does not silence the watcher or
 * let it be told what to see.
 *
 * Forked by the launcher (root, single-threaded), it becomes the owner of
 * <state>/monitor (the account signet-monitor, which may read the audit
 * log and nothing else of the signer's), closes every descriptor but its
 * control channel, and enters the same kind of sandbox as the front end.
 * What it reads, it reads itself:
 *   - each signer's STATUS, INVENTORY, and REVOKE / AUDIT_NOTE, on the
 *     signer's second channel (role monitor), which the launcher hands
 *     over (SD_MOP_SIGNER) each time it starts a signer;
 *   - the audit log, from the file;
 *   - the JWKS the front end serves, over HTTP on its own port, as a
 *     client gets it (TLS: pinned to the configured certificate's key);
 *   - the front end's sandbox, from /proc/<pid>/status (not its word).
 * The front end reaches it on a channel the launcher makes (SD_MOP_FRONT)
 * with the MON_* messages of the table in src/common/ipc.c: pokes, its
 * readiness, the status pages, the monitor's metric families, relying
 * parties' reports and passkey counters that went backwards (I9). Anything
 * else on that channel drops it, and is audited; a message over the rate
 * its row sets is answered SIGNET_ERR_BUSY and not served. SIGHUP reloads
 * the configuration; SIGTERM lets queued alerts out and exits. */
#include "signetd/monproc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/accounts.h"
#include "common/config.h"
#include "common/ipc.h"
#include "common/signer_client.h"
#include "signetd/conf.h"
#include "signetd/ctx.h"
#include "signetd/chan.h"
#include "signetd/sandbox.h"
#include "signetd/sigpipe.h"
#include "telemetry/alerts.h"
#include "telemetry/metrics.h"
#include "telemetry/monitor.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define JWKS_MAX (1u << 20)
#define FETCH_TIMEOUT_MS 5000L
#define FRONT_SEND_TIMEOUT_S 2

struct mp {
    struct sd_ctx *c;
    int ctl;
    pid_t front_pid;
    pthread_rwlock_t lock; /* read: calling a signer; write: replacing one */
    struct sg_signer_client *signers[SD_MAX_SIGNERS];
    atomic_int front_ready; /* the front end said it entered its sandbox */
    struct sg_metrics *reg;
    struct sg_monitor *mon;
    char pin[128]; /* "sha256//..." of the front end's TLS key; "" = plain HTTP */
    /* Token buckets of the table's rates for the front end's messages, per
     * type, for the life of the process: a new channel (the launcher makes
     * one whenever the front end asks) starts with what the last one left. */
    struct front_rate {
        double tokens;
        int64_t at_ms; /* 0 = never used */
        bool limited;  /* logged once per run of refusals */
    } rates[64];
};

static int sig_fd = -1; /* sigpipe.h */

/* ---- the signers ----------------------------------------------------------- */

static signet_err call_result(signet_err err, signet_err status, char **json, int empty_ok)
{
    if (err == SIGNET_OK && status != SIGNET_OK)
        err = status;
    if (err == SIGNET_OK && *json == NULL && !empty_ok)
        err = SIGNET_ERR_MALFORMED;
    if (err != SIGNET_OK) {
        free(*json);
        *json = NULL;
    }
    return err;
}

/* A call on slot's channel, or (slot < 0) on the first one that answers.
 * A JSON answer is required unless the type answers with a status alone. */
static signet_err signer_call(struct mp *p, int slot, uint8_t type, const uint8_t *payload,
                              size_t len, char **json)
{
    const int empty_ok = type == SG_IPC_AUDIT_NOTE;
    *json = NULL;
    signet_err err = SIGNET_ERR_SIGNER_GONE;
    pthread_rwlock_rdlock(&p->lock);
    for (unsigned i = slot < 0 ? 0 : (unsigned)slot; i < SD_MAX_SIGNERS; i++) {
        if (p->signers[i] != NULL) {
            signet_err status = SIGNET_OK;
            err = sg_signer_call(p->signers[i], type, payload, len, &status, json, NULL);
            if (err == SIGNET_OK) {
                err = call_result(err, status, json, empty_ok);
                break;
            }
            free(*json);
            *json = NULL;
        }
        if (slot >= 0)
            break;
    }
    pthread_rwlock_unlock(&p->lock);
    return err;
}

static unsigned n_slots(struct mp *p)
{
    struct sd_conf *k = sd_conf_get(p->c);
    unsigned n = k->cfg.server.signers;
    sd_conf_put(k);
    return n < SD_MAX_SIGNERS ? n : SD_MAX_SIGNERS;
}

static signet_err src_status(void *user, unsigned i, char **json)
{
    struct mp *p = user;
    *json = NULL;
    if (i >= n_slots(p))
        return SIGNET_ERR_NOT_FOUND;
    return signer_call(p, (int)i, SG_IPC_STATUS, NULL, 0, json);
}

static signet_err src_inventory(void *user, char **json)
{
    return signer_call(user, -1, SG_IPC_INVENTORY, NULL, 0, json);
}

static signet_err src_revoke(void *user, const char *kid)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_wbuf_put_str(&w, kid);
    char *json = NULL;
    signet_err err = w.err != SIGNET_OK ? w.err
                                        : signer_call(user, -1, SG_IPC_REVOKE, w.data, w.len, &json);
    sg_wbuf_free(&w);
    free(json);
    return err;
}

/* The monitor writes no audit record itself: its records travel to a
 * signer as AUDIT_NOTE and are chained there like any other. */
static signet_err src_audit_note(void *user, const char *type, const json_t *fields)
{
    char *text = json_dumps(fields, JSON_COMPACT);
    if (text == NULL)
        return SIGNET_ERR_NOMEM;
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    signet_err err = strlen(text) > SG_IPC_MAX_NOTE ? SIGNET_ERR_TOO_LARGE : SIGNET_OK;
    if (err == SIGNET_OK) {
        sg_ipc_encode_note(&w, type, text, strlen(text));
        err = w.err;
    }
    char *resp = NULL;
    if (err == SIGNET_OK) {
        err = signer_call(user, -1, SG_IPC_AUDIT_NOTE, w.data, w.len, &resp);
    }
    free(resp);
    sg_wbuf_free(&w);
    free(text);
    if (err != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "alert_audit_failed", "type=%s error=%s", type,
               signet_err_name(err));
    return err;
}

/* ---- the JWKS the front end serves ----------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    struct sg_wbuf *w = user;
    sg_wbuf_put_bytes(w, data, size * n);
    return w->err == SIGNET_OK ? size * n : 0;
}

/* The public key of the configured certificate, as libcurl pins it. */
static void tls_pin(const char *cert, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(cert, "re");
    X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f != NULL)
        fclose(f);
    unsigned char *der = NULL;
    int n = x != NULL ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der) : -1;
    if (n > 0) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        unsigned char b64[64];
        SHA256(der, (size_t)n, md);
        (void)EVP_EncodeBlock(b64, md, sizeof md);
        (void)snprintf(out, cap, "sha256//%s", (const char *)b64);
    }
    OPENSSL_free(der);
    X509_free(x);
    if (out[0] == '\0')
        sg_log(SG_LOG_WARN, "monitor_tls_pin_failed",
               "cert=\"%s\" detail=\"the served JWKS cannot be fetched (I4 unknown)\"", cert);
}

/* The signer's own JWKS (not the front end's copy): what a reported
 * token must verify with before it is judged forged. */
static signet_err src_signer_jwks(void *user, const char *issuer, char **json)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, 2u + SG_IPC_MAX_STR);
    sg_wbuf_put_str(&w, issuer);
    signet_err err = w.err != SIGNET_OK ? w.err
                                        : signer_call(user, -1, SG_IPC_JWKS, w.data, w.len, json);
    sg_wbuf_free(&w);
    return err;
}

static signet_err src_served_jwks(void *user, const char *issuer, char **json)
{
    struct mp *p = user;
    *json = NULL;
    struct sd_conf *k = sd_conf_get(p->c);
    const struct sg_server_cfg *sv = &k->cfg.server;
    const struct sg_tenant_cfg *t = sg_config_tenant_by_issuer(&k->cfg, issuer);
    int tls = sv->tls_cert[0] != '\0';
    const char *host = sv->listen_host;
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    char url[512];
    int n = t == NULL ? -1
                      : snprintf(url, sizeof url, "%s://%s%s%s:%u/t/%s/jwks.json",
                                 tls ? "https" : "http", strchr(host, ':') != NULL ? "[" : "",
                                 host, strchr(host, ':') != NULL ? "]" : "", sv->port, t->name);
    sd_conf_put(k);
    if (n < 0 || (size_t)n >= sizeof url)
        return SIGNET_ERR_NOT_FOUND;
    /* Not serving yet (it says when it is), or a key we cannot pin to. */
    if (!atomic_load(&p->front_ready) || (tls && p->pin[0] == '\0'))
        return SIGNET_ERR_NETWORK;
    CURL *h = curl_easy_init();
    if (h == NULL)
        return SIGNET_ERR_NOMEM;
    struct sg_wbuf w;
    sg_wbuf_init(&w, JWKS_MAX);
    (void)curl_easy_setopt(h, CURLOPT_URL, url);
    (void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    (void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    (void)curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    (void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, FETCH_TIMEOUT_MS);
    (void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    (void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
    (void)curl_easy_setopt(h, CURLOPT_USERAGENT, "signet-monitor");
    if (tls) {
        /* Loopback, to the name the certificate does not carry: the key
         * is what must match. */
        (void)curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        (void)curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        (void)curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, p->pin);
    }
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    /* A key that is not the configured certificate's is served by someone
     * else: that is no JWKS of ours. */
    signet_err err = rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ? SIGNET_ERR_CRYPTO
                     : rc != CURLE_OK                     ? SIGNET_ERR_NETWORK
                     : code != 200                        ? SIGNET_ERR_NOT_FOUND
                                                          : SIGNET_OK;
    if (err == SIGNET_OK) {
        sg_wbuf_put_u8(&w, 0);
        err = w.err;
    }
    if (err == SIGNET_OK) {
        *json = (char *)w.data;
        w.data = NULL;
    }
    sg_wbuf_free(&w);
    return err;
}

/* ---- the front end, as /proc shows it -------------------------------------- */

static signet_err src_frontend(void *user, struct sg_tm_frontend *out)
{
    struct mp *p = user;
    memset(out, 0, sizeof *out);
    out->boundary_enforced = p->c->boundary_enforced != 0;
    out->uid = -1;
    char path[64];
    (void)snprintf(path, sizeof path, "/proc/%ld/status", (long)p->front_pid);
    struct sd_proc_status ps;
    if (sd_proc_status(path, &ps) != 0)
        return SIGNET_ERR_IO;
    /* The files under /proc/<pid> of a process that is not dumpable are
     * owned by root (proc(5)); a front end that is root itself cannot be
     * told apart, and is a violation of its own. */
    struct stat st;
    int dumpable = stat(path, &st) == 0 && st.st_uid != 0;
    out->uid = (long)ps.uid;
    if (!atomic_load(&p->front_ready))
        return SIGNET_OK; /* not entered yet: the flags are not final */
    out->entered = true;
    out->seccomp = ps.seccomp == 2;
    out->no_new_privs = ps.no_new_privs == 1;
    out->caps_dropped = (ps.inh | ps.prm | ps.eff | ps.amb) == 0;
    out->dumpable = dumpable != 0;
    return SIGNET_OK;
}

/* ---- the front end's requests ---------------------------------------------- */

static void respond(int fd, const struct sg_ipc_frame *f, signet_err status, const void *body,
                    size_t len, int *ok)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD);
    if (len > SG_IPC_MAX_PAYLOAD - 4) {
        status = SIGNET_ERR_TOO_LARGE;
        len = 0;
    }
    struct sg_wbuf pl;
    sg_wbuf_init(&pl, SG_IPC_MAX_PAYLOAD);
    sg_wbuf_put_u32(&pl, (uint32_t)status);
    if (len > 0)
        sg_wbuf_put_bytes(&pl, body, len);
    sg_ipc_put_frame(&w, (uint8_t)(f->type | SG_IPC_RESPONSE), f->id, pl.data, pl.len);
    if (w.err != SIGNET_OK || sg_ipc_write_all(fd, w.data, w.len) != SIGNET_OK)
        *ok = 0;
    sg_wbuf_free(&pl);
    sg_wbuf_free(&w);
}

static void handle_report(struct mp *p, int fd, const struct sg_ipc_frame *f, int *ok)
{
    struct sg_buf b;
    sg_buf_init(&b, f->payload, f->len);
    char *issuer = NULL, *client = NULL;
    if (sg_buf_get_str(&b, SG_IPC_MAX_STR, &issuer) != SIGNET_OK ||
        sg_buf_get_str(&b, SG_IPC_MAX_STR, &client) != SIGNET_OK) {
        free(issuer);
        respond(fd, f, SIGNET_ERR_MALFORMED, NULL, 0, ok);
        return;
    }
    struct sd_conf *k = sd_conf_get(p->c);
    int known = sg_config_tenant_by_issuer(&k->cfg, issuer) != NULL;
    sd_conf_put(k);
    char *json = NULL;
    signet_err err = known ? sg_reports_handle(p->mon, issuer, client, f->payload + b.pos,
                                               f->len - b.pos, &json)
                           : SIGNET_ERR_NOT_FOUND;
    respond(fd, f, err, json, json != NULL ? strlen(json) : 0, ok);
    free(json);
    free(client);
    free(issuer);
}

/* I9: the front end refused a sign-in whose passkey counter went
 * backwards. It can only add a report (raise the alert), never clear one;
 * an issuer that is no configured tenant's is refused, like a report's. */
static void handle_passkey(struct mp *p, int fd, const struct sg_ipc_frame *f, int *ok)
{
    struct sg_ipc_passkey r;
    if (sg_ipc_decode_passkey(f->payload, f->len, &r) != SIGNET_OK) {
        respond(fd, f, SIGNET_ERR_MALFORMED, NULL, 0, ok);
        return;
    }
    struct sd_conf *k = sd_conf_get(p->c);
    int known = sg_config_tenant_by_issuer(&k->cfg, r.issuer) != NULL;
    sd_conf_put(k);
    signet_err err = known ? sg_monitor_passkey_report(p->mon, r.issuer, r.user_id, r.stored,
                                                       r.presented)
                           : SIGNET_ERR_NOT_FOUND;
    if (!known)
        sg_log(SG_LOG_WARN, "passkey_report_refused", "reason=\"unknown issuer\"");
    respond(fd, f, err, NULL, 0, ok);
    sg_ipc_passkey_clear(&r);
}

/* MON_PEOPLE: a factor added or removed is audited (factor_changed); an
 * approval alert is audited (mfa_alert) and raises I10. The front end
 * names the tenant by its issuer, which must be configured. */
static void handle_people(struct mp *p, int fd, const struct sg_ipc_frame *f, int *ok)
{
    struct sg_ipc_people r;
    if (sg_ipc_decode_people(f->payload, f->len, &r) != SIGNET_OK) {
        respond(fd, f, SIGNET_ERR_MALFORMED, NULL, 0, ok);
        return;
    }
    struct sd_conf *k = sd_conf_get(p->c);
    const struct sg_tenant_cfg *t = sg_config_tenant_by_issuer(&k->cfg, r.issuer);
    json_t *fields = t == NULL ? NULL
                               : json_pack("{s:s, s:s, s:s, s:s}", "tenant", t->name, "user",
                                           r.user_id, "event", sg_ipc_people_event_name(r.event),
                                           "factor", r.factor);
    sd_conf_put(k);
    signet_err err = SIGNET_ERR_NOT_FOUND;
    if (t == NULL) {
        sg_log(SG_LOG_WARN, "people_report_refused", "reason=\"unknown issuer\"");
    } else if (fields == NULL) {
        err = SIGNET_ERR_NOMEM;
    } else if (r.event == SG_IPC_PEOPLE_FACTOR_ADDED || r.event == SG_IPC_PEOPLE_FACTOR_REMOVED) {
        err = src_audit_note(p, "factor_changed", fields);
    } else {
        /* The audit record first: the alert may be coalesced, the record
         * never is. */
        err = src_audit_note(p, "mfa_alert", fields);
        signet_err alert = sg_monitor_approval_report(
            p->mon, r.issuer, r.user_id, r.event == SG_IPC_PEOPLE_APPROVAL_REPORTED);
        if (err == SIGNET_OK)
            err = alert;
    }
    json_decref(fields);
    respond(fd, f, err, NULL, 0, ok);
    sg_ipc_people_clear(&r);
}

/* The table's rate for a front end's message (cf. the signer's rate_ok):
 * 1 to serve it, 0 to answer SIGNET_ERR_BUSY. */
static int front_rate_ok(struct mp *p, const struct sg_ipc_msg *m)
{
    if (m->rate <= 0)
        return 1;
    if (m->type >= sizeof p->rates / sizeof p->rates[0])
        return 0; /* no bucket for it: fail closed */
    struct front_rate *r = &p->rates[m->type];
    int64_t now = (int64_t)(sg_clock_mono_ns() / 1000000u);
    if (r->at_ms == 0)
        r->tokens = m->burst;
    else if (now > r->at_ms)
        r->tokens += (double)(now - r->at_ms) / 1000.0 * m->rate;
    if (r->tokens > m->burst)
        r->tokens = m->burst;
    r->at_ms = now;
    if (r->tokens < 1.0) {
        if (!r->limited)
            sg_log(SG_LOG_WARN, "front_rate_limited", "msg=%s rate=%g burst=%u", m->name,
                   m->rate, m->burst);
        r->limited = true;
        return 0;
    }
    r->limited = false;
    r->tokens -= 1.0;
    return 1;
}

/* One request of the front end's; *ok = 0 drops the channel. */
static void handle_front(struct mp *p, int fd, const struct sg_ipc_frame *f, int *ok)
{
    struct sg_wbuf w;
    switch (f->type) {
    case SG_IPC_MON_POKE:
        sg_monitor_poke(p->mon, SG_INV_ALL);
        respond(fd, f, SIGNET_OK, NULL, 0, ok);
        break;
    case SG_IPC_MON_READY:
        atomic_store(&p->front_ready, 1);
        sg_monitor_poke(p->mon, SG_INV_ALL);
        respond(fd, f, SIGNET_OK, NULL, 0, ok);
        break;
    case SG_IPC_MON_STATUS_HTML:
    case SG_IPC_MON_METRICS: {
        sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD - 4);
        signet_err err = f->type == SG_IPC_MON_METRICS ? sg_metrics_render_families(p->reg, &w)
                                                       : sg_monitor_statuspage(p->mon, &w);
        if (err == SIGNET_OK)
            err = w.err;
        respond(fd, f, err, w.data, err == SIGNET_OK ? w.len : 0, ok);
        sg_wbuf_free(&w);
        break;
    }
    case SG_IPC_MON_STATUS_JSON: {
        json_t *doc = sg_monitor_status_json(p->mon);
        char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        respond(fd, f, text != NULL ? SIGNET_OK : SIGNET_ERR_NOMEM, text,
                text != NULL ? strlen(text) : 0, ok);
        free(text);
        break;
    }
    case SG_IPC_MON_REPORT: handle_report(p, fd, f, ok); break;
    case SG_IPC_MON_PASSKEY: handle_passkey(p, fd, f, ok); break;
    case SG_IPC_MON_PEOPLE: handle_people(p, fd, f, ok); break;
    default: *ok = 0; break;
    }
}

/* The front end said something the table does not let it say: the channel
 * goes, and the audit log keeps a trace (type and reason only). */
static void front_refused(struct mp *p, const char *why, int type)
{
    sg_log(SG_LOG_WARN, "front_refused", "reason=\"%s\" msg_type=%d action=drop_connection", why,
           type);
    json_t *f = json_pack("{s:s, s:i}", "reason", why, "msg_type", type);
    if (f != NULL)
        (void)src_audit_note(p, "front_refused", f);
    json_decref(f);
}

/* Serves what has arrived on the front end's channel; 0 drops it. */
static int serve_front(struct mp *p, int fd, struct sg_wbuf *in)
{
    uint8_t tmp[65536];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n <= 0)
        return 0;
    sg_wbuf_put_bytes(in, tmp, (size_t)n);
    if (in->err != SIGNET_OK)
        return 0;
    size_t off = 0;
    int ok = 1;
    while (ok) {
        struct sg_ipc_frame f;
        size_t used = 0;
        if (sg_ipc_next(in->data + off, in->len - off, &f, &used) != SIGNET_OK) {
            front_refused(p, "malformed frame", in->len - off >= 4 ? in->data[off + 3] : -1);
            return 0;
        }
        if (used == 0)
            break;
        const struct sg_ipc_msg *m = sg_ipc_msg_find(f.type);
        if ((f.type & SG_IPC_RESPONSE) != 0 || m == NULL ||
            !sg_ipc_permitted(f.type, SG_ROLE_FRONT, SG_IPC_SERVER_MONITOR) ||
            f.len > m->max_payload) {
            front_refused(p, "message not permitted on the front end's channel to the monitor",
                          f.type);
            return 0;
        }
        off += used;
        if (!front_rate_ok(p, m))
            respond(fd, &f, SIGNET_ERR_BUSY, NULL, 0, &ok);
        else
            handle_front(p, fd, &f, &ok);
    }
    memmove(in->data, in->data + off, in->len - off);
    in->len -= off;
    return ok;
}

/* ---- the launcher's messages ----------------------------------------------- */

/* 0: the launcher is gone (or spoke nonsense), so are we. */
static int serve_ctl(struct mp *p, int *front_fd, struct sg_wbuf *front_in)
{
    uint8_t msg[SD_FD_MSG_LEN];
    pid_t pid = -1;
    int fd = -1;
    signet_err err = sd_fd_recv(p->ctl, msg, &pid, &fd);
    if (err != SIGNET_OK || fd < 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (msg[0] == SD_MOP_SIGNER && msg[1] < SD_MAX_SIGNERS) {
        struct sg_signer_client *nc = NULL;
        if (sg_signer_client_adopt(fd, pid, 0, &nc) != SIGNET_OK) {
            close(fd);
            return 1;
        }
        pthread_rwlock_wrlock(&p->lock);
        struct sg_signer_client *old = p->signers[msg[1]];
        p->signers[msg[1]] = nc;
        pthread_rwlock_unlock(&p->lock);
        sg_signer_client_free(&old);
        sg_log(SG_LOG_DEBUG, "monitor_signer", "slot=%u pid=%ld", (unsigned)msg[1], (long)pid);
        sg_monitor_poke(p->mon, SG_INV_ALL);
        return 1;
    }
    if (msg[0] == SD_MOP_FRONT && msg[1] == 0) {
        /* A front end that stops reading its answers gets its channel
         * dropped, rather than this loop (and the launcher's messages)
         * stuck behind it. */
        struct timeval tv = {.tv_sec = FRONT_SEND_TIMEOUT_S};
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
            close(fd);
            return 1;
        }
        if (*front_fd >= 0)
            close(*front_fd);
        *front_fd = fd;
        sg_wbuf_reset(front_in);
        return 1;
    }
    close(fd);
    return 0;
}

static void reload(struct mp *p)
{
    struct sd_conf *k = NULL;
    char err[768] = "";
    if (sd_conf_load(p->c, &k, err, sizeof err) != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "reload_failed", "detail=\"%s\" action=keep_old_config", err);
        return;
    }
    sg_clock_use_file(k->cfg.clock_file[0] != '\0' ? k->cfg.clock_file : NULL);
    pthread_mutex_lock(&p->c->conf_lock);
    struct sd_conf *old = p->c->conf;
    p->c->conf = k;
    pthread_mutex_unlock(&p->c->conf_lock);
    sd_conf_put(old);
    k = sd_conf_get(p->c);
    sg_monitor_reconfigure(p->mon, &k->cfg, &k->cfg.telemetry);
    sd_conf_put(k);
    sg_log(SG_LOG_INFO, "reloaded", "component=monitor");
}

static void serve(struct mp *p)
{
    int front_fd = -1;
    struct sg_wbuf in;
    sg_wbuf_init(&in, 2 * (SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD));
    for (;;) {
        struct pollfd pfd[3] = {{.fd = sig_fd, .events = POLLIN},
                                {.fd = p->ctl, .events = POLLIN},
                                {.fd = front_fd, .events = POLLIN}};
        int r = poll(pfd, 3, 1000);
        if (r < 0 && errno != EINTR)
            break;
        unsigned char b = 0;
        int stop = 0;
        while (read(sig_fd, &b, 1) == 1) {
            if (b == SIGHUP)
                reload(p);
            else
                stop = 1;
        }
        if (stop)
            break;
        if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
            !serve_ctl(p, &front_fd, &in))
            break;
        if (front_fd >= 0 && (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
            !serve_front(p, front_fd, &in)) {
            close(front_fd);
            front_fd = -1;
            sg_wbuf_reset(&in);
        }
    }
    if (front_fd >= 0)
        close(front_fd);
    sg_wbuf_free(&in);
}

static int install_signals(void)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    (void)signal(SIGCHLD, SIG_DFL); /* the launcher's handler is not ours */
    sig_fd = sd_sigpipe_open(sigs, sizeof sigs / sizeof sigs[0]);
    return sig_fd >= 0 ? 0 : -1;
}

static int monitor_main(struct sd_ctx *c, int ctl, pid_t front)
{
    static struct mp mp; /* the process's one */
    struct mp *p = &mp;
    p->c = c;
    p->ctl = ctl;
    p->front_pid = front;
    pthread_rwlock_init(&p->lock, NULL);
    if (install_signals() != 0)
        return 1;
    struct sd_conf *k = sd_conf_get(c);
    const struct sg_config *cfg = &k->cfg;
    sg_clock_use_file(cfg->clock_file[0] != '\0' ? cfg->clock_file : NULL);
    if (cfg->server.tls_cert[0] != '\0')
        tls_pin(cfg->server.tls_cert, p->pin, sizeof p->pin);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    struct sg_monitor_source src = {
        .user = p,
        .status = src_status,
        .inventory = src_inventory,
        .served_jwks = src_served_jwks,
        .signer_jwks = src_signer_jwks,
        .revoke = src_revoke,
        .audit_note = src_audit_note,
        .frontend = src_frontend,
        .own_process = true,
    };
    signet_err err = sg_metrics_new(&p->reg);
    if (err == SIGNET_OK)
        err = sg_monitor_new(cfg, &cfg->telemetry, &src, p->reg, &p->mon);
    if (err == SIGNET_OK)
        err = sg_monitor_start(p->mon);
    int spawn = cfg->telemetry.command[0] != '\0';
    if (err == SIGNET_OK)
        sg_log(SG_LOG_INFO, "monitor_started",
               "uid=%ld webhook=%s on_critical=%s interval=%lld", (long)getuid(),
               cfg->telemetry.webhook_url[0] != '\0' ? "on" : "off",
               cfg->telemetry.on_critical == SG_ON_CRITICAL_ROTATE ? "rotate" : "alert",
               (long long)cfg->telemetry.interval);
    sd_conf_put(k);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "monitor_start_failed", "error=%s", signet_err_name(err));
        return 1;
    }
    /* Threads run (the monitor's, the alert queue's): the filter reaches
     * every one (TSYNC). A process of our own only for [alerts] command. */
    struct sd_hardening h;
    int mode = SIGNET_SANDBOX ? SD_SANDBOX_ON : 0;
    if (SIGNET_SANDBOX && spawn)
        mode |= SD_SANDBOX_ALLOW_SPAWN;
    err = sd_sandbox_enter(mode, &h);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "sandbox_failed", "component=monitor error=%s", signet_err_name(err));
        return 1;
    }
    serve(p);
    if (sg_alerts_drain(sg_monitor_alerts(p->mon), 3000) != SIGNET_OK)
        sg_log(SG_LOG_WARN, "alerts_undelivered", "detail=\"sinks still busy after 3 s\"");
    sg_monitor_free(&p->mon);
    for (unsigned i = 0; i < SD_MAX_SIGNERS; i++)
        sg_signer_client_free(&p->signers[i]);
    sg_metrics_free(&p->reg);
    sg_log(SG_LOG_INFO, "monitor_stopped", "pid=%ld", (long)getpid());
    return 0;
}

signet_err sd_monproc_start(void *user, pid_t front, int *ctl, pid_t *pid)
{
    struct sd_ctx *c = user;
    *ctl = -1;
    *pid = -1;
    struct sg_account acct = {getuid(), getgid()};
    if (geteuid() == 0) {
        signet_err err = sg_account_of_dir(c->state_dir, SG_MONITOR_DIR, &acct);
        if (err != SIGNET_OK) {
            sg_log(SG_LOG_ERROR, "layout_invalid", "dir=%s/" SG_MONITOR_DIR " error=%s",
                   c->state_dir, signet_err_name(err));
            return err;
        }
    }
    pid_t launcher = getpid();
    int end = -1;
    pid_t child = -1;
    if (sd_chan_fork(&end, &child) != SIGNET_OK)
        return SIGNET_ERR_IO;
    if (child > 0) {
        *ctl = end;
        *pid = child;
        return SIGNET_OK;
    }
    /* The child: nothing of the launcher's but the control channel. */
    (void)signal(SIGTERM, SIG_DFL);
    (void)signal(SIGINT, SIG_DFL);
    (void)signal(SIGHUP, SIG_DFL);
    if (dup2(end, 3) < 0)
        _exit(1);
    (void)close_range(4, ~0U, 0);
    (void)prctl(PR_SET_NAME, "signet-monitor", 0, 0, 0);
    sg_log_init("monitor", (enum sg_log_level)c->conf->cfg.server.log_level);
    if (sd_sandbox_become(&acct) != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "monitor_drop_failed", "uid=%ld", (long)acct.uid);
        _exit(1);
    }
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != launcher)
        _exit(1);
    _exit(monitor_main(c, 3, front));
}
