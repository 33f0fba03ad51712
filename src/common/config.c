#include "common/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "util/strconv.h"

/* Feeds inih one line at a time from memory, so that every line is
 * checked before inih sees it (inih would split an overlong line, or cut an
 * overlong section name, without a word) and so that errors carry the line
 * they belong to. */
struct line_reader {
    const char *text;
    size_t len;
    size_t pos;
    int line;         /* number of the line last handed to inih */
    int bad_line;     /* first line refused by the reader */
    const char *bad_why;
};

#define SG_CONFIG_MAX_KEYS 512
#define SG_CONFIG_MAX_BYTES (256u * 1024u)
#define SG_INI_MAX_LINE 200    /* libinih's INI_MAX_LINE (Debian build) */
#define SG_INI_MAX_SECTION 50  /* libinih's MAX_SECTION */

struct parse_ctx {
    struct sg_config *c;
    char *err;
    size_t errlen;
    int failed;
    int err_line;
    const char *file;
    int server_only; /* sg_config_load_server: nothing but [server] */
    struct line_reader *reader;
    uint64_t seen[SG_CONFIG_MAX_KEYS]; /* hashes of "section\nkey" already set */
    size_t n_seen;
};

/* "<what> '<key>' in [<section>]" or "<what> [<section>]". */
static void set_err(struct parse_ctx *p, const char *what, const char *key, const char *section)
{
    if (p->failed || p->err == NULL || p->errlen == 0)
        return;
    p->failed = 1;
    p->err_line = p->reader != NULL ? p->reader->line : 0;
    if (key != NULL)
        (void)snprintf(p->err, p->errlen, "%s '%s' in [%s]", what, key, section);
    else
        (void)snprintf(p->err, p->errlen, "%s [%s]", what, section);
}

/* A whole message, for errors that do not name a key. */
static void set_err_text(struct parse_ctx *p, const char *msg)
{
    if (p->failed || p->err == NULL || p->errlen == 0)
        return;
    p->failed = 1;
    p->err_line = p->reader != NULL ? p->reader->line : 0;
    (void)snprintf(p->err, p->errlen, "%s", msg);
}

static int copy_str(char *dst, size_t cap, const char *v)
{
    return sg_copy_str(dst, cap, v);
}

/* Durations: an integer with an optional unit s, m, h or d, at most
 * SG_DURATION_MAX_S seconds (so that milliseconds fit too). */
static int parse_duration(const char *v, int64_t *out)
{
    return sg_parse_duration(v, SG_DUR_SECONDS, SG_DURATION_MAX_S, out) == SIGNET_OK ? 0 : -1;
}

static int parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
    return sg_parse_uint(v, lo, hi, out) == SIGNET_OK ? 0 : -1;
}

static int parse_bool(const char *v, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* A rate in requests per second: a positive decimal number up to 1e6. */
static int parse_rate(const char *v, double *out)
{
    errno = 0;
    char *end = NULL;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || !isfinite(d) || d <= 0 || d > 1e6)
        return -1;
    *out = d;
    return 0;
}

/* "HOST:PORT" with a numeric IPv4 address, or "[IPv6]:PORT". */
/* "HOST:PORT" or "[V6]:PORT", numeric; host must hold 256 bytes. */
static int parse_hostport(const char *v, char *out_host, unsigned *out_port)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v)
        return -1;
    size_t hlen = (size_t)(colon - v);
    const char *host = v;
    if (v[0] == '[') {
        if (hlen < 3 || v[hlen - 1] != ']')
            return -1;
        host = v + 1;
        hlen -= 2;
    }
    char h[256];
    if (hlen >= sizeof h)
        return -1;
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    unsigned char addr[16];
    if (inet_pton(v[0] == '[' ? AF_INET6 : AF_INET, h, addr) != 1)
        return -1;
    unsigned port = 0;
    if (parse_uint(colon + 1, 1, 65535, &port) != 0)
        return -1;
    memcpy(out_host, h, hlen + 1);
    *out_port = port;
    return 0;
}

static int parse_level(const char *v, int *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

static int valid_alg(const char *a)
{
    return strcmp(a, "ES256") == 0 || strcmp(a, "EdDSA") == 0 || strcmp(a, "PS256") == 0;
}

/* Scope tokens (RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E) separated by
 * single spaces. */
static int valid_scope_list(const char *v)
{
    if (v[0] == '\0' || v[0] == ' ')
        return 0;
    for (const char *p = v; *p != '\0'; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == ' ') {
            if (p[1] == ' ' || p[1] == '\0')
                return 0;
        } else if (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\') {
            return 0;
        }
    }
    return 1;
}

static int parse_algs(const char *v, struct sg_tenant_cfg *t)
{
    char buf[128];
    if (copy_str(buf, sizeof buf, v) != 0)
        return -1;
    t->n_algs = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        if (!valid_alg(tok) || t->n_algs == SG_MAX_ALGS)
            return -1;
        for (size_t i = 0; i < t->n_algs; i++)
            if (strcmp(t->algs[i], tok) == 0)
                return -1;
        (void)copy_str(t->algs[t->n_algs++], sizeof t->algs[0], tok);
    }
    return t->n_algs > 0 ? 0 : -1;
}

static int valid_name(const char *n)
{
    size_t len = strlen(n);
    /* "tenant:" + name must fit libinih's section buffer (49 characters). */
    if (len == 0 || len > 42)
        return 0;
    for (const char *c = n; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
            return 0;
    return 1;
}

static struct sg_tenant_cfg *tenant_for_section(struct parse_ctx *p, const char *name)
{
    struct sg_config *c = p->c;
    for (size_t i = 0; i < c->n_tenants; i++)
        if (strcmp(c->tenants[i].name, name) == 0)
            return &c->tenants[i];
    if (c->n_tenants == SG_MAX_TENANTS || !valid_name(name))
        return NULL;
    struct sg_tenant_cfg *t = &c->tenants[c->n_tenants++];
    memset(t, 0, sizeof *t);
    (void)copy_str(t->name, sizeof t->name, name);
    (void)copy_str(t->algs[0], sizeof t->algs[0], "ES256");
    t->n_algs = 1;
    t->token_lifetime = 0;     /* 0 = 10 minutes, or the maximum if shorter */
    t->max_token_lifetime = 0; /* 0 = the global maximum */
    t->dpop = SG_DPOP_POLICY_ALLOWED;
    t->dpop_nonce = 1;
    t->mfa = SG_MFA_APPROVAL_OR_PASSKEY;
    return t;
}

static int path_value(char *dst, size_t cap, const char *v)
{
    return v[0] == '\0' ? -1 : copy_str(dst, cap, v);
}

/* Returns 1 when handled, 0 on a bad value, -1 for an unknown key. */
static int handle_key(struct parse_ctx *p, const char *section, const char *key, const char *v)
{
    struct sg_config *c = p->c;
    struct sg_server_cfg *sv = &c->server;
#define IS(s, k) (strcmp(section, s) == 0 && strcmp(key, k) == 0)
    if (IS("server", "listen"))
        return parse_hostport(v, sv->listen_host, &sv->port) == 0;
    if (IS("server", "telemetry_listen")) {
        sv->telemetry_explicit = 1;
        if (strcmp(v, "off") == 0) {
            sv->telemetry_port = 0;
            return 1;
        }
        return parse_hostport(v, sv->telemetry_host, &sv->telemetry_port) == 0;
    }
    if (IS("server", "telemetry_public"))
        return parse_bool(v, &sv->telemetry_public) == 0;
    if (IS("server", "tls_cert"))
        return copy_str(sv->tls_cert, sizeof sv->tls_cert, v) == 0;
    if (IS("server", "tls_key"))
        return copy_str(sv->tls_key, sizeof sv->tls_key, v) == 0;
    if (IS("server", "insecure_http"))
        return parse_bool(v, &sv->insecure_http) == 0;
    if (IS("server", "location_header")) {
        /* An HTTP field name (RFC 9110 token), 1..64 characters. */
        size_t n = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                             "!#$%&'*+-.^_`|~");
        return n > 0 && v[n] == '\0' && copy_str(sv->location_header,
                                                  sizeof sv->location_header, v) == 0;
    }
    if (IS("server", "threads"))
        return parse_uint(v, 0, 256, &sv->threads) == 0;
    if (IS("server", "signers"))
        return parse_uint(v, 1, 16, &sv->signers) == 0;
    if (IS("server", "max_body"))
        return parse_uint(v, 1024, 1024 * 1024, &sv->max_body) == 0;
    if (IS("server", "max_connections"))
        return parse_uint(v, 1, 65536, &sv->max_connections) == 0;
    if (IS("server", "max_connections_per_address"))
        return parse_uint(v, 1, 65536, &sv->max_connections_per_address) == 0;
    if (IS("server", "connection_timeout"))
        return parse_duration(v, &sv->connection_timeout) == 0 && sv->connection_timeout > 0 &&
               sv->connection_timeout <= 3600;
    if (IS("server", "request_deadline"))
        return parse_duration(v, &sv->request_deadline) == 0 && sv->request_deadline > 0 &&
               sv->request_deadline <= 600;
    if (IS("server", "drain_timeout"))
        return parse_duration(v, &sv->drain_timeout) == 0 && sv->drain_timeout <= 3600;
    if (IS("server", "rate_limit"))
        return parse_rate(v, &sv->rate_limit) == 0;
    if (IS("server", "rate_burst"))
        return parse_uint(v, 1, 1000000, &sv->rate_burst) == 0;
    if (IS("server", "assertion_max_age"))
        return parse_duration(v, &sv->assertion_max_age) == 0 && sv->assertion_max_age > 0 &&
               sv->assertion_max_age <= 3600;
    if (IS("server", "log_level"))
        return parse_level(v, &sv->log_level) == 0;
    if (p->server_only)
        return -1;
    if (IS("hsm", "module"))
        return path_value(c->module, sizeof c->module, v) == 0;
    if (IS("hsm", "module_dirs"))
        return copy_str(c->module_dirs, sizeof c->module_dirs, v) == 0 && v[0] != '\0';
    if (IS("hsm", "token_label"))
        return copy_str(c->token_label, sizeof c->token_label, v) == 0 && v[0] != '\0';
    if (IS("hsm", "pin_file"))
        return path_value(c->pin_file, sizeof c->pin_file, v) == 0;
    if (IS("hsm", "so_pin_file"))
        return path_value(c->so_pin_file, sizeof c->so_pin_file, v) == 0;
    if (IS("hsm", "softhsm_conf"))
        return copy_str(c->softhsm_conf, sizeof c->softhsm_conf, v) == 0;
    if (IS("hsm", "sessions"))
        return parse_uint(v, 1, 64, &c->sessions) == 0;
    if (IS("keys", "rotation_period"))
        return parse_duration(v, &c->rotation_period) == 0 && c->rotation_period > 0;
    if (IS("keys", "jwks_max_age"))
        return parse_duration(v, &c->jwks_max_age) == 0;
    if (IS("keys", "clock_skew"))
        return parse_duration(v, &c->clock_skew) == 0 && c->clock_skew <= 600;
    if (IS("keys", "max_token_lifetime"))
        return parse_duration(v, &c->max_token_lifetime) == 0 && c->max_token_lifetime > 0;
    if (IS("keys", "max_key_age"))
        return (c->max_key_age_set = 1, parse_duration(v, &c->max_key_age) == 0) &&
               c->max_key_age > 0;
    if (IS("store", "url"))
        return copy_str(c->store, sizeof c->store, v) == 0 && v[0] != '\0';
    if (IS("store", "keystore"))
        return copy_str(c->keystore, sizeof c->keystore, v) == 0 && v[0] != '\0';
    if (IS("audit", "log"))
        return path_value(c->audit_log, sizeof c->audit_log, v) == 0;
    if (IS("signer", "user"))
        return copy_str(c->signer_user, sizeof c->signer_user, v) == 0;
    if (IS("signer", "sandbox"))
        return parse_bool(v, &c->sandbox) == 0;
    if (IS("testing", "clock_file"))
        return copy_str(c->clock_file, sizeof c->clock_file, v) == 0;
    if (IS("testing", "allow_short_rotation"))
        return parse_bool(v, &c->allow_short_rotation) == 0;
    if (IS("testing", "pause_rotation"))
        return parse_bool(v, &c->pause_rotation) == 0;
#undef IS
    if (strncmp(section, "tenant:", 7) == 0) {
        struct sg_tenant_cfg *t = tenant_for_section(p, section + 7);
        if (t == NULL)
            return 0;
        if (strcmp(key, "issuer") == 0)
            return copy_str(t->issuer, sizeof t->issuer, v) == 0 &&
                   (strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0);
        if (strcmp(key, "algs") == 0)
            return parse_algs(v, t) == 0;
        if (strcmp(key, "token_lifetime") == 0)
            return parse_duration(v, &t->token_lifetime) == 0 && t->token_lifetime > 0;
        if (strcmp(key, "max_token_lifetime") == 0)
            return parse_duration(v, &t->max_token_lifetime) == 0 && t->max_token_lifetime > 0;
        if (strcmp(key, "rate_limit") == 0)
            return parse_rate(v, &t->rate_limit) == 0;
        if (strcmp(key, "rate_burst") == 0)
            return parse_uint(v, 1, 1000000, &t->rate_burst) == 0;
        if (strcmp(key, "scopes_supported") == 0)
            return valid_scope_list(v) && copy_str(t->scopes_supported,
                                                    sizeof t->scopes_supported, v) == 0;
        if (strcmp(key, "dpop") == 0)
            return (t->dpop = sg_config_dpop_policy(v)) != 0;
        if (strcmp(key, "mfa") == 0)
            return (t->mfa = sg_config_mfa_policy(v)) != 0;
        if (strcmp(key, "dpop_nonce") == 0) {
            t->dpop_nonce = strcmp(v, "required") == 0 ? 1 : strcmp(v, "off") == 0 ? 0 : -1;
            return t->dpop_nonce >= 0;
        }
    }
    if (strcmp(section, "alerts") == 0 || strcmp(section, "invariants") == 0) {
        int r = sg_telemetry_cfg_set(&c->telemetry, section, key, v);
        if (r >= 0)
            return r;
    }
    return -1;
}

static int known_section(const char *s)
{
    static const char *const names[] = {"hsm",    "keys",    "store",  "audit",     "signer",
                                        "testing", "server", "alerts", "invariants"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0)
            return 1;
    return strncmp(s, "tenant:", 7) == 0;
}

static uint64_t key_hash(const char *section, const char *key)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const char *c = section; *c != '\0'; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211u;
    h = (h ^ '\n') * 1099511628211u;
    for (const char *c = key; *c != '\0'; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211u;
    return h;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
    struct parse_ctx *p = user;
    if (p->failed)
        return 0;
    /* A key set twice (or continued on an indented line) is a mistake to
     * report, not a value to let the last one win. */
    uint64_t h = key_hash(section, key);
    for (size_t i = 0; i < p->n_seen; i++)
        if (p->seen[i] == h) {
            set_err(p, "duplicate key", key, section);
            return 0;
        }
    if (p->n_seen == SG_CONFIG_MAX_KEYS) {
        set_err(p, "too many keys, at", key, section);
        return 0;
    }
    p->seen[p->n_seen++] = h;
    if (!known_section(section) || (p->server_only && strcmp(section, "server") != 0)) {
        set_err(p, p->server_only ? "only [server] may appear here, not" : "unknown section",
                NULL, section);
        return 0;
    }
    /* The test hooks [testing] reaches (an injected clock, sub-minute
     * rotation, a paused scheduler) exist only in a testing build. */
    if (!SIGNET_TESTING && strcmp(section, "testing") == 0) {
        set_err_text(p, "[testing] is only available in a testing build");
        return 0;
    }
    int r = handle_key(p, section, key, value);
    if (r < 0) {
        set_err(p, "unknown key", key, section);
        return 0;
    }
    if (r == 0) {
        set_err(p, "invalid value for", key, section);
        return 0;
    }
    return 1;
}

void sg_config_defaults(struct sg_config *c, const char *state_dir)
{
    memset(c, 0, sizeof *c);
    (void)copy_str(c->state_dir, sizeof c->state_dir, state_dir);
    sg_telemetry_cfg_defaults(&c->telemetry);
    (void)copy_str(c->module_dirs, sizeof c->module_dirs,
                   "/usr/lib/softhsm:/usr/lib/x86_64-linux-gnu/softhsm:"
                   "/usr/lib/aarch64-linux-gnu/softhsm:/usr/lib/x86_64-linux-gnu/pkcs11");
    (void)copy_str(c->token_label, sizeof c->token_label, "signet");
    /* The trust boundary on disk: signer/ is the signer account's alone
     * (PINs, token, key store, audit log), front/ the front end's. */
    (void)copy_str(c->pin_file, sizeof c->pin_file, SG_SIGNER_DIR "/user.pin");
    (void)copy_str(c->so_pin_file, sizeof c->so_pin_file, SG_SIGNER_DIR "/so.pin");
    (void)copy_str(c->softhsm_conf, sizeof c->softhsm_conf, SG_SIGNER_DIR "/softhsm2.conf");
    c->sessions = 2;
    c->rotation_period = 86400;
    c->jwks_max_age = 300;
    c->clock_skew = 60;
    c->max_token_lifetime = 3600;
    c->max_key_age = 0; /* 0: derived (period + prepublication + retirement) */
    (void)copy_str(c->store, sizeof c->store, "sqlite:" SG_FRONT_DIR "/signet.db");
    (void)copy_str(c->keystore, sizeof c->keystore, "sqlite:" SG_SIGNER_DIR "/keys.db");
    (void)copy_str(c->audit_log, sizeof c->audit_log, SG_SIGNER_DIR "/audit.log");
    c->sandbox = 1;
    (void)copy_str(c->server.listen_host, sizeof c->server.listen_host, "127.0.0.1");
    c->server.port = 8080;
    c->server.signers = 2;
    c->server.max_body = 16384;
    c->server.max_connections = 1024;
    c->server.max_connections_per_address = 32;
    c->server.connection_timeout = 30;
    c->server.request_deadline = 10;
    c->server.drain_timeout = 10;
    c->server.rate_limit = 50;
    c->server.rate_burst = 100;
    c->server.assertion_max_age = 300;
    c->server.log_level = 1;
    (void)copy_str(c->server.telemetry_host, sizeof c->server.telemetry_host, "127.0.0.1");
    c->server.telemetry_port = SG_TELEMETRY_PORT;
}

static int loopback(const char *host)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    static const unsigned char one[16] = {[15] = 1};
    return inet_pton(AF_INET6, host, a) == 1 && memcmp(a, one, sizeof one) == 0;
}

static int absolutise(const struct sg_config *c, char *path, size_t cap);

/* [server] rules that hold whichever file the section came from. */
static signet_err finish_server(struct sg_config *c, char *errbuf, size_t errlen)
{
    struct sg_server_cfg *sv = &c->server;
    const char *why = NULL;
    if ((sv->tls_cert[0] == '\0') != (sv->tls_key[0] == '\0'))
        why = "[server] tls_cert and tls_key go together";
    else if (absolutise(c, sv->tls_cert, sizeof sv->tls_cert) != 0 ||
             absolutise(c, sv->tls_key, sizeof sv->tls_key) != 0)
        why = "[server] TLS path too long";
    else if (sv->tls_cert[0] == '\0' && !sv->insecure_http && !loopback(sv->listen_host))
        why = "[server] listen on a non-loopback address needs tls_cert and tls_key "
              "(or insecure_http = true behind a TLS-terminating proxy)";
    else if (sv->telemetry_port == sv->port && sv->telemetry_explicit)
        why = "[server] telemetry_listen must use another port than listen";
    if (sv->telemetry_port == sv->port && !sv->telemetry_explicit)
        sv->telemetry_port = 0; /* listen took the default telemetry port */
    if (why == NULL)
        return SIGNET_OK;
    if (errbuf != NULL)
        (void)snprintf(errbuf, errlen, "%s", why);
    return SIGNET_ERR_CONFIG;
}

static int absolutise(const struct sg_config *c, char *path, size_t cap)
{
    if (path[0] == '\0' || path[0] == '/')
        return 0;
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s/%s", c->state_dir, path);
    if (n < 0 || (size_t)n >= sizeof tmp || (size_t)n >= cap)
        return -1;
    memcpy(path, tmp, (size_t)n + 1);
    return 0;
}

static signet_err finish(struct sg_config *c, char *errbuf, size_t errlen)
{
#define FAIL(...)                                              \
    do {                                                       \
        if (errbuf != NULL)                                    \
            (void)snprintf(errbuf, errlen, __VA_ARGS__);       \
        return SIGNET_ERR_CONFIG;                              \
    } while (0)
    if (c->module[0] == '\0')
        FAIL("[hsm] module is required");
    if (c->n_tenants == 0)
        FAIL("no [tenant:NAME] section: at least one issuer is required");
    if (c->max_token_lifetime > SG_MAX_TOKEN_LIFETIME_CEILING)
        FAIL("[keys] max_token_lifetime (%lld s) is over the ceiling of %d s (24 h): a leaked "
             "token must not outlive a day",
             (long long)c->max_token_lifetime, SG_MAX_TOKEN_LIFETIME_CEILING);
    for (size_t i = 0; i < c->n_tenants; i++) {
        struct sg_tenant_cfg *t = &c->tenants[i];
        if (t->max_token_lifetime > SG_MAX_TOKEN_LIFETIME_CEILING)
            FAIL("[tenant:%s] max_token_lifetime (%lld s) is over the ceiling of %d s (24 h)",
                 t->name, (long long)t->max_token_lifetime, SG_MAX_TOKEN_LIFETIME_CEILING);
        if (t->issuer[0] == '\0')
            FAIL("[tenant:%s] needs an issuer URL", t->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->tenants[j].issuer, t->issuer) == 0)
                FAIL("[tenant:%s] repeats the issuer of [tenant:%s]", t->name, c->tenants[j].name);
        if (t->max_token_lifetime == 0 || t->max_token_lifetime > c->max_token_lifetime)
            t->max_token_lifetime = c->max_token_lifetime;
        if (t->token_lifetime == 0)
            t->token_lifetime = t->max_token_lifetime < 600 ? t->max_token_lifetime : 600;
        if (t->token_lifetime > t->max_token_lifetime)
            FAIL("[tenant:%s] token_lifetime exceeds max_token_lifetime", t->name);
    }
    if (c->rotation_period < SG_MIN_ROTATION_PERIOD && !c->allow_short_rotation)
        FAIL("[keys] rotation_period must be at least %d s", SG_MIN_ROTATION_PERIOD);
    if (sg_config_prepublish(c) > c->rotation_period)
        FAIL("[keys] rotation_period (%lld s) must be at least jwks_max_age + clock_skew (%lld s)"
             " so every key is pre-published before it signs",
             (long long)c->rotation_period, (long long)sg_config_prepublish(c));
    if (c->max_key_age == 0)
        c->max_key_age = 2 * c->rotation_period + sg_config_prepublish(c) +
                         sg_config_retire_window(c);
    if (c->max_key_age < c->rotation_period + sg_config_prepublish(c) + sg_config_retire_window(c))
        FAIL("[keys] max_key_age is shorter than one key's lifecycle");
    signet_err serr = finish_server(c, errbuf, errlen);
    if (serr != SIGNET_OK)
        return serr;
    char *paths[] = {c->pin_file, c->so_pin_file, c->audit_log, c->softhsm_conf, c->clock_file};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (absolutise(c, paths[i], PATH_MAX) != 0)
            FAIL("path too long");
    char *stores[] = {c->store, c->keystore};
    for (size_t i = 0; i < sizeof stores / sizeof stores[0]; i++) {
        if (strncmp(stores[i], "sqlite:", 7) != 0 || stores[i][7] == '/')
            continue;
        char tmp[PATH_MAX + 16];
        int n = snprintf(tmp, sizeof tmp, "sqlite:%s/%s", c->state_dir, stores[i] + 7);
        if (n < 0 || (size_t)n >= sizeof c->store)
            FAIL("store path too long");
        memcpy(stores[i], tmp, (size_t)n + 1);
    }
    if (strcmp(c->store, c->keystore) == 0)
        FAIL("[store] url and keystore must differ: the key store is the signer's alone");
    return SIGNET_OK;
#undef FAIL
}

static char *read_line(char *str, int num, void *stream)
{
    struct line_reader *r = stream;
    if (r->bad_line != 0 || r->pos >= r->len)
        return NULL;
    const char *start = r->text + r->pos;
    size_t rest = r->len - r->pos;
    const char *nl = memchr(start, '\n', rest);
    size_t n = nl != NULL ? (size_t)(nl - start) : rest;
    r->line++;
    if (num <= 2 || n + 2 > (size_t)num) {
        r->bad_line = r->line;
        r->bad_why = "line too long (at most 198 characters)";
        return NULL;
    }
    if (memchr(start, '\0', n) != NULL) {
        r->bad_line = r->line;
        r->bad_why = "NUL byte in line";
        return NULL;
    }
    size_t lead = 0;
    while (lead < n && (start[lead] == ' ' || start[lead] == '\t'))
        lead++;
    if (lead < n && start[lead] == '[') {
        const char *close = memchr(start + lead, ']', n - lead);
        if (close != NULL && (size_t)(close - start - (ptrdiff_t)lead - 1) >= SG_INI_MAX_SECTION) {
            r->bad_line = r->line;
            r->bad_why = "section name too long";
            return NULL;
        }
    }
    memcpy(str, start, n);
    size_t out = n;
    if (nl != NULL)
        str[out++] = '\n';
    str[out] = '\0';
    r->pos += n + (nl != NULL ? 1 : 0);
    return str;
}

/* Parses text; 0 on success, else SIGNET_ERR_CONFIG with errbuf set. */
static signet_err run_ini(struct parse_ctx *p, const char *text, size_t len, const char *name,
                          char *errbuf, size_t errlen)
{
    struct line_reader r = {.text = text, .len = len};
    p->reader = &r;
    int line = ini_parse_stream(read_line, &r, on_entry, p);
    p->reader = NULL;
    if (line < 0)
        return SIGNET_ERR_NOMEM;
    /* The first problem wins: a refused line, a syntax error inih found, or
     * a key the handler refused (each knows its own line). */
    int at = 0;
    const char *why = NULL;
    if (r.bad_line != 0) {
        at = r.bad_line;
        why = r.bad_why;
    }
    if (line > 0 && (at == 0 || line < at)) {
        at = line;
        why = p->failed && p->err_line == line ? p->err : "syntax error";
    }
    if (p->failed && (at == 0 || p->err_line < at)) {
        at = p->err_line;
        why = p->err;
    }
    if (at == 0)
        return SIGNET_OK;
    if (errbuf != NULL)
        (void)snprintf(errbuf, errlen, "%s:%d: %s", name, at, why);
    return SIGNET_ERR_CONFIG;
}

/* Who may have written the configuration decides what the signer loads
 * (the PKCS#11 module) and signs: a file that someone else may change is
 * refused, not read. The owner must be root or the reader itself (the
 * single-account layout); nobody else may write it. */
static signet_err check_owner(const char *path, char *errbuf, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return SIGNET_OK; /* slurp says what is wrong */
    const char *why = NULL;
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        why = "is writable by its group or by others: 'chmod go-w' it";
    else if (st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != getuid())
        why = "is owned by an account that is neither root nor this process's: 'chown root' it";
    if (why == NULL)
        return SIGNET_OK;
    if (errbuf != NULL)
        (void)snprintf(errbuf, errlen, "%s %s (mode %03o, uid %ld)", path, why,
                       (unsigned)(st.st_mode & 0777), (long)st.st_uid);
    return SIGNET_ERR_CONFIG;
}

/* Reads a whole (small) config file into memory. */
static signet_err slurp(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO;
    char *buf = malloc(SG_CONFIG_MAX_BYTES + 1);
    size_t n = 0;
    signet_err err = buf != NULL ? SIGNET_OK : SIGNET_ERR_NOMEM;
    while (err == SIGNET_OK) {
        ssize_t r = read(fd, buf + n, SG_CONFIG_MAX_BYTES + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            err = SIGNET_ERR_IO;
        else if (r == 0)
            break;
        else if ((n += (size_t)r) > SG_CONFIG_MAX_BYTES)
            err = SIGNET_ERR_TOO_LARGE;
    }
    close(fd);
    if (err != SIGNET_OK) {
        free(buf);
        return err;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return SIGNET_OK;
}

/* Parses text into c (over what c holds), then runs the final checks:
 * finish() for a whole signet.conf, finish_server() for a [server]-only
 * file. */
static signet_err parse_into(struct sg_config *c, const char *text, size_t len, const char *name,
                             int server_only, char *errbuf, size_t errlen)
{
    char msg[384] = "";
    struct parse_ctx *p = calloc(1, sizeof *p);
    if (p == NULL)
        return SIGNET_ERR_NOMEM;
    p->c = c;
    p->err = msg;
    p->errlen = sizeof msg;
    p->file = name;
    p->server_only = server_only;
    signet_err err = run_ini(p, text, len, name, errbuf, errlen);
    free(p);
    if (err != SIGNET_OK)
        return err;
    char fin[384] = "";
    err = server_only ? finish_server(c, fin, sizeof fin) : finish(c, fin, sizeof fin);
    if (err != SIGNET_OK && errbuf != NULL)
        (void)snprintf(errbuf, errlen, "%s: %s", name, fin);
    return err;
}

static signet_err parse_text(const char *text, size_t len, const char *state_dir,
                             const char *name, struct sg_config *c, char *errbuf, size_t errlen)
{
    sg_config_defaults(c, state_dir);
    return parse_into(c, text, len, name, 0, errbuf, errlen);
}

signet_err sg_config_load(const char *state_dir, struct sg_config *c, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/signet.conf", state_dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return SIGNET_ERR_INVALID_ARG;
    if (access(path, F_OK) != 0) {
        if (errbuf != NULL)
            (void)snprintf(errbuf, errlen, "%s does not exist: run 'signet init --state %s'", path,
                           state_dir);
        return SIGNET_ERR_NOT_INITIALISED;
    }
    char *text = NULL;
    size_t len = 0;
    signet_err err = check_owner(path, errbuf, errlen);
    if (err != SIGNET_OK)
        return err;
    err = slurp(path, &text, &len);
    if (err != SIGNET_OK) {
        if (errbuf != NULL)
            (void)snprintf(errbuf, errlen, "%s: cannot read: %s", path, signet_strerror(err));
        return err == SIGNET_ERR_NOT_FOUND ? SIGNET_ERR_NOT_INITIALISED : SIGNET_ERR_CONFIG;
    }
    err = parse_text(text, len, state_dir, path, c, errbuf, errlen);
    free(text);
    if (err == SIGNET_OK)
        (void)copy_str(c->path, sizeof c->path, path);
    return err;
}

signet_err sg_config_load_server(const char *path, struct sg_config *c, char *errbuf,
                                 size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    signet_err err = check_owner(path, errbuf, errlen);
    if (err != SIGNET_OK)
        return err;
    err = slurp(path, &text, &len);
    if (err != SIGNET_OK) {
        if (errbuf != NULL)
            (void)snprintf(errbuf, errlen, "%s: cannot read: %s", path, signet_strerror(err));
        return err;
    }
    err = parse_into(c, text, len, path, 1, errbuf, errlen);
    free(text);
    return err;
}

int sg_config_mfa_policy(const char *v)
{
    return strcmp(v, "phishing_resistant") == 0    ? SG_MFA_PHISHING_RESISTANT
           : strcmp(v, "approval_or_passkey") == 0 ? SG_MFA_APPROVAL_OR_PASSKEY
           : strcmp(v, "any") == 0                 ? SG_MFA_ANY
                                                   : 0;
}

int sg_config_dpop_policy(const char *v)
{
    return strcmp(v, "required") == 0    ? SG_DPOP_POLICY_REQUIRED
           : strcmp(v, "allowed") == 0   ? SG_DPOP_POLICY_ALLOWED
           : strcmp(v, "forbidden") == 0 ? SG_DPOP_POLICY_FORBIDDEN
                                         : 0;
}

double sg_config_rate_limit(const struct sg_config *c, const struct sg_tenant_cfg *t)
{
    return t != NULL && t->rate_limit > 0 ? t->rate_limit : c->server.rate_limit;
}

unsigned sg_config_rate_burst(const struct sg_config *c, const struct sg_tenant_cfg *t)
{
    return t != NULL && t->rate_burst > 0 ? t->rate_burst : c->server.rate_burst;
}

signet_err sg_config_parse_string(const char *text, const char *state_dir, struct sg_config *c,
                                  char *errbuf, size_t errlen)
{
    return parse_text(text, strlen(text), state_dir, "signet.conf", c, errbuf, errlen);
}

static const char *rel(const struct sg_config *c, const char *path)
{
    size_t n = strlen(c->state_dir);
    if (strncmp(path, c->state_dir, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path;
}

signet_err sg_config_write(const struct sg_config *c, const char *path)
{
    /* Readable by the front end and the signer, writable by neither (it
     * holds paths and timings, no secret). */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return errno == EEXIST ? SIGNET_ERR_EXISTS : SIGNET_ERR_IO;
    if (fchmod(fd, 0644) != 0) { /* whatever the caller's umask */
        close(fd);
        return SIGNET_ERR_IO;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return SIGNET_ERR_IO;
    }
    fprintf(f, "# signet configuration (see README: Configuration).\n"
               "# Durations take s, m, h or d. Paths are relative to this directory.\n\n");
    fprintf(f, "[hsm]\nmodule = %s\nmodule_dirs = %s\ntoken_label = %s\npin_file = %s\n"
               "so_pin_file = %s\nsofthsm_conf = %s\nsessions = %u\n\n",
            c->module, c->module_dirs, c->token_label, rel(c, c->pin_file),
            rel(c, c->so_pin_file), rel(c, c->softhsm_conf), c->sessions);
    fprintf(f, "[keys]\nrotation_period = %llds\njwks_max_age = %llds\nclock_skew = %llds\n"
               "max_token_lifetime = %llds\n",
            (long long)c->rotation_period, (long long)c->jwks_max_age, (long long)c->clock_skew,
            (long long)c->max_token_lifetime);
    if (c->max_key_age_set)
        fprintf(f, "max_key_age = %llds\n", (long long)c->max_key_age);
    fprintf(f, "\n");
    const char *store = c->store, *keystore = c->keystore;
    char store_rel[PATH_MAX + 16], keystore_rel[PATH_MAX + 16];
    if (strncmp(store, "sqlite:", 7) == 0) {
        (void)snprintf(store_rel, sizeof store_rel, "sqlite:%s", rel(c, store + 7));
        store = store_rel;
    }
    if (strncmp(keystore, "sqlite:", 7) == 0) {
        (void)snprintf(keystore_rel, sizeof keystore_rel, "sqlite:%s", rel(c, keystore + 7));
        keystore = keystore_rel;
    }
    fprintf(f, "[store]\nurl = %s\nkeystore = %s\n\n[audit]\nlog = %s\n\n[signer]\nsandbox = %s\n",
            store, keystore, rel(c, c->audit_log), c->sandbox ? "true" : "false");
    if (c->signer_user[0] != '\0')
        fprintf(f, "user = %s\n", c->signer_user);
    fprintf(f, "\n");
    if (c->clock_file[0] != '\0' || c->allow_short_rotation) {
        fprintf(f, "[testing]\n");
        if (c->clock_file[0] != '\0')
            fprintf(f, "clock_file = %s\n", rel(c, c->clock_file));
        fprintf(f, "allow_short_rotation = %s\n\n", c->allow_short_rotation ? "true" : "false");
    }
    for (size_t i = 0; i < c->n_tenants; i++) {
        const struct sg_tenant_cfg *t = &c->tenants[i];
        fprintf(f, "[tenant:%s]\nissuer = %s\nalgs = ", t->name, t->issuer);
        for (size_t j = 0; j < t->n_algs; j++)
            fprintf(f, "%s%s", j > 0 ? ", " : "", t->algs[j]);
        fprintf(f, "\ntoken_lifetime = %llds\n", (long long)t->token_lifetime);
        if (t->max_token_lifetime != c->max_token_lifetime)
            fprintf(f, "max_token_lifetime = %llds\n", (long long)t->max_token_lifetime);
        if (t->dpop != SG_DPOP_POLICY_ALLOWED)
            fprintf(f, "dpop = %s\n",
                    t->dpop == SG_DPOP_POLICY_REQUIRED ? "required" : "forbidden");
        if (!t->dpop_nonce)
            fprintf(f, "dpop_nonce = off\n");
        if (t->mfa != SG_MFA_APPROVAL_OR_PASSKEY)
            fprintf(f, "mfa = %s\n",
                    t->mfa == SG_MFA_PHISHING_RESISTANT ? "phishing_resistant" : "any");
        fprintf(f, "\n");
    }
    int bad = ferror(f) != 0;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        (void)unlink(path);
        return SIGNET_ERR_IO;
    }
    return SIGNET_OK;
}

const struct sg_tenant_cfg *sg_config_tenant_by_issuer(const struct sg_config *c,
                                                       const char *issuer)
{
    for (size_t i = 0; i < c->n_tenants; i++)
        if (strcmp(c->tenants[i].issuer, issuer) == 0)
            return &c->tenants[i];
    return NULL;
}

const struct sg_tenant_cfg *sg_config_tenant_by_name(const struct sg_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_tenants; i++)
        if (strcmp(c->tenants[i].name, name) == 0)
            return &c->tenants[i];
    return NULL;
}

int64_t sg_config_prepublish(const struct sg_config *c)
{
    return c->jwks_max_age + c->clock_skew;
}

int64_t sg_config_retire_window(const struct sg_config *c)
{
    return c->max_token_lifetime + c->clock_skew;
}
