/* resource_server: a protected resource that accepts signet access tokens
 * presented as Bearer (RFC 6750) or DPoP-bound (RFC 9449), with libsignet.
 * The reference integration for relying parties.
 *
 *   resource_server ISSUER AUDIENCE JWKS_FILE_OR_URL BASE_URL PORT [nonce|no-nonce]
 *
 * BASE_URL is the URL clients use to reach this server, as configured (for
 * example https://api.example.com when a TLS proxy forwards to PORT): the
 * DPoP proof's htu is compared with BASE_URL + the request path, never with
 * the Host header, which the client chooses. The server listens on
 * 127.0.0.1:PORT and answers any path:
 *   200 {"sub":...,"scope":...,"client_id":...,"scheme":...} for a valid token,
 *   401 + WWW-Authenticate (and DPoP-Nonce when a nonce is needed) otherwise.
 * With "nonce" (the default) DPoP proofs must carry a nonce this server
 * issued (RFC 9449 §9); every answer carries a fresh one.
 *
 * Uses only the public API (<signet/signet.h>) and libmicrohttpd:
 *   cc resource_server.c $(pkg-config --cflags --libs signet libmicrohttpd)
 */
#define _POSIX_C_SOURCE 200809L /* sigwait, pthread_sigmask, strcasecmp */
#include <signet/signet.h>

#include <microhttpd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct server {
    signet_verifier *v;
    const char *base_url; /* no trailing '/' */
    int nonces;           /* issue and demand DPoP nonces */
};

/* The headers that must appear at most once, and any header name that is
 * not an RFC 9110 token ("Authorization :" is a header of its own to
 * libmicrohttpd, but a proxy in front may have read it as Authorization). */
struct header_scan {
    const char *authorization;
    const char *dpop;
    int n_authorization, n_dpop, bad_name;
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct header_scan *s = cls;
    (void)kind;
    (void)value_size;
    if (key_size == 0 || strcspn(key, " \t\r\n\"(),/:;<=>?@[\\]{}") != key_size)
        s->bad_name = 1;
    else if (strcasecmp(key, "Authorization") == 0)
        s->authorization = value, s->n_authorization++;
    else if (strcasecmp(key, "DPoP") == 0)
        s->dpop = value, s->n_dpop++;
    return MHD_YES;
}

/* Sends status with a JSON body; the challenges (WWW-Authenticate) that are
 * not NULL, and a fresh DPoP-Nonce when the server issues nonces. */
static enum MHD_Result reply(struct server *s, struct MHD_Connection *mc, unsigned status,
                             const char *json, const char *challenge, const char *bearer)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    int ok = MHD_add_response_header(r, "Content-Type", "application/json") == MHD_YES;
    ok &= MHD_add_response_header(r, "Cache-Control", "no-store") == MHD_YES;
    if (challenge != NULL)
        ok &= MHD_add_response_header(r, "WWW-Authenticate", challenge) == MHD_YES;
    if (bearer != NULL)
        ok &= MHD_add_response_header(r, "WWW-Authenticate", bearer) == MHD_YES;
    char nonce[128];
    if (s->nonces && signet_verifier_dpop_nonce(s->v, nonce, sizeof nonce) == SIGNET_OK)
        ok &= MHD_add_response_header(r, "DPoP-Nonce", nonce) == MHD_YES;
    enum MHD_Result ret = ok ? MHD_queue_response(mc, status, r) : MHD_NO;
    MHD_destroy_response(r);
    return ret;
}

/* 401 for a rejected request. The DPoP challenge names the error class
 * only (signet_err_name is for our log, not for the client); SIGNET_OK
 * means no credentials were presented, and the challenge has no error.
 * Unless the client used DPoP, a Bearer challenge follows (RFC 9449 §7.1:
 * a server accepting both schemes may offer both). */
static enum MHD_Result refuse(struct server *s, struct MHD_Connection *mc, signet_err err,
                              int used_dpop)
{
    char challenge[256];
    if (signet_dpop_challenge(s->v, err, challenge, sizeof challenge) != SIGNET_OK)
        (void)snprintf(challenge, sizeof challenge, "DPoP error=\"invalid_token\"");
    const char *bearer = used_dpop          ? NULL
                         : err == SIGNET_OK ? "Bearer"
                                            : "Bearer error=\"invalid_token\"";
    fprintf(stderr, "refused: %s\n", err == SIGNET_OK ? "no credentials" : signet_err_name(err));
    return reply(s, mc, 401, "{\"error\":\"unauthorized\"}", challenge, bearer);
}

/* Appends "name":<claim as JSON> to the answer (null when absent); -1 when
 * it does not fit. */
static int add_claim(const signet_claims *c, const char *name, char *out, size_t cap)
{
    char *json = NULL;
    size_t used = strlen(out);
    if (signet_claims_get_json(c, name, &json) != SIGNET_OK)
        json = NULL;
    int n = snprintf(out + used, cap - used, "%s\"%s\":%s", used > 1 ? "," : "", name,
                     json != NULL ? json : "null");
    signet_free(json);
    return n < 0 || (size_t)n >= cap - used ? -1 : 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *path,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req)
{
    struct server *s = cls;
    (void)version;
    (void)upload_data;
    if (*req == NULL) { /* headers only so far: wait for the body */
        *req = s;
        return MHD_YES;
    }
    if (*upload_data_size != 0) { /* a body is not used by this resource */
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct header_scan h = {0};
    (void)MHD_get_connection_values_n(mc, MHD_HEADER_KIND, scan_header, &h);
    if (h.bad_name || h.n_authorization > 1 || h.n_dpop > 1)
        return reply(s, mc, 400, "{\"error\":\"invalid_request\"}", NULL, NULL);
    if (h.n_authorization == 0) /* RFC 6750 §3.1: no error code without credentials */
        return refuse(s, mc, SIGNET_OK, 0);

    /* Exactly "scheme SP token68", scheme Bearer or DPoP. */
    const char *scheme, *token;
    size_t scheme_len, token_len;
    signet_err err = signet_parse_authorization(h.authorization, strlen(h.authorization),
                                                &scheme, &scheme_len, &token, &token_len);
    if (err != SIGNET_OK)
        return refuse(s, mc, err, 0);

    /* The URL this request was made to, from our configuration: htu must
     * name it. MHD gives the path without the query (which htu ignores), as
     * sent (keep_escapes): libsignet compares percent-encodings itself. */
    char url[2048], scheme_z[8];
    if ((size_t)snprintf(url, sizeof url, "%s%s", s->base_url, path) >= sizeof url ||
        scheme_len >= sizeof scheme_z)
        return reply(s, mc, 414, "{\"error\":\"invalid_request\"}", NULL, NULL);
    memcpy(scheme_z, scheme, scheme_len);
    scheme_z[scheme_len] = '\0';

    signet_verify_opts opts = SIGNET_VERIFY_OPTS_INIT;
    opts.http_method = method;
    opts.http_url = url;
    opts.dpop_proof = h.dpop; /* NULL when absent */
    opts.scheme = scheme_z;
    signet_claims *claims = NULL;
    err = signet_verify(s->v, token, token_len, &opts, &claims);
    if (err != SIGNET_OK)
        return refuse(s, mc, err, strcasecmp(scheme_z, "DPoP") == 0);

    /* The resource: who the token says is calling (claims from a verified
     * token, as JSON from libsignet, so nothing here needs escaping). */
    char body[4096] = "{";
    int fits = add_claim(claims, "sub", body, sizeof body) == 0 &&
               add_claim(claims, "scope", body, sizeof body) == 0 &&
               add_claim(claims, "client_id", body, sizeof body) == 0;
    signet_claims_free(claims);
    size_t used = strlen(body);
    if (!fits || (size_t)snprintf(body + used, sizeof body - used, ",\"scheme\":\"%s\"}",
                                  strcasecmp(scheme_z, "DPoP") == 0 ? "DPoP" : "Bearer") >=
                     sizeof body - used)
        return reply(s, mc, 500, "{\"error\":\"server_error\"}", NULL, NULL);
    return reply(s, mc, 200, body, NULL, NULL);
}

/* The request path as the client sent it, percent-encodings included. */
static size_t keep_escapes(void *cls, struct MHD_Connection *mc, char *str)
{
    (void)cls;
    (void)mc;
    return strlen(str);
}

static signet_err configure(signet_verifier_config *cfg, char **argv, int nonces)
{
    const char *jwks = argv[3];
    signet_err err = strncmp(jwks, "https://", 8) == 0 || strncmp(jwks, "http://", 7) == 0
                         ? signet_verifier_config_add_issuer_jwks_url(cfg, argv[1], jwks)
                         : signet_verifier_config_add_issuer_jwks_file(cfg, argv[1], jwks);
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_audience(cfg, argv[2]);
    if (err == SIGNET_OK)
        err = signet_verifier_config_allow_alg(cfg, "PS256");
    /* The jti replay cache is on by default (65536 proofs); nonces add
     * freshness chosen by us rather than by the client's clock. NULL: a
     * random key per process (pass 32 bytes to share nonces between
     * instances behind one load balancer). */
    if (err == SIGNET_OK && nonces)
        err = signet_verifier_config_set_dpop_nonce_key(cfg, NULL, 60);
    return err;
}

int main(int argc, char **argv)
{
    int nonces = argc == 6 || (argc == 7 && strcmp(argv[6], "nonce") == 0);
    long port = argc >= 6 ? strtol(argv[5], NULL, 10) : 0;
    if (argc < 6 || argc > 7 || (argc == 7 && !nonces && strcmp(argv[6], "no-nonce") != 0) ||
        port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s ISSUER AUDIENCE JWKS_FILE_OR_URL BASE_URL PORT "
                        "[nonce|no-nonce]\n", argv[0]);
        return 2;
    }
    struct server s = {NULL, argv[4], nonces};
    size_t n = strlen(argv[4]);
    if (n > 0 && argv[4][n - 1] == '/')
        argv[4][n - 1] = '\0';

    signet_verifier_config *cfg = NULL;
    signet_err err = signet_verifier_config_new(&cfg);
    if (err == SIGNET_OK)
        err = configure(cfg, argv, nonces);
    if (err == SIGNET_OK)
        err = signet_verifier_new(cfg, &s.v);
    signet_verifier_config_free(cfg);
    if (err != SIGNET_OK) {
        fprintf(stderr, "verifier: %s\n", signet_strerror(err));
        return 2;
    }

    /* SIGINT/SIGTERM are taken by sigwait below, in this thread only. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    (void)pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Four threads share the verifier: signet_verify is thread-safe. */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, &s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, 4u,
        MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
        MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "cannot listen on 127.0.0.1:%ld\n", port);
        signet_verifier_free(s.v);
        return 2;
    }
    printf("listening on 127.0.0.1:%ld as %s (DPoP nonces %s)\n", port, s.base_url,
           nonces ? "required" : "off");
    fflush(stdout);
    int sig = 0;
    (void)sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    signet_verifier_free(s.v);
    return 0;
}
