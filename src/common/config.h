/* signet.conf: INI (libinih). Every key is known; an unknown section or key,
 * or an invalid value, is an error naming its line. Paths are relative to
 * the state directory unless absolute. */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "common/tmconfig.h"

#define SG_MAX_TENANTS 64
#define SG_MAX_ALGS 3
#define SG_MIN_ROTATION_PERIOD 60
/* No token outlives a day, whatever the configuration says: the config
 * refuses more, and the signer enforces it on every signature. */
#define SG_MAX_TOKEN_LIFETIME_CEILING (24 * 3600)

/* The state directory's private parts: signer/ belongs to the signer's
 * account (PINs, token, key store, audit log), front/ to the front end's
 * (clients, replay caches), monitor/ to the invariant monitor's (its own
 * state). Their owners are the accounts each process runs under when
 * signetd or the CLI is started as root. The monitor may traverse signer/
 * and read the audit log (their group is the monitor's), nothing else. */
#define SG_SIGNER_DIR "signer"
#define SG_FRONT_DIR "front"
#define SG_MONITOR_DIR "monitor"

struct sg_tenant_cfg {
    char name[64];                    /* [tenant:NAME] */
    char issuer[512];                 /* exact issuer URL */
    char algs[SG_MAX_ALGS][8];        /* signing algorithms, first = default */
    size_t n_algs;
    int64_t token_lifetime;           /* default access-token lifetime */
    int64_t max_token_lifetime;       /* per-tenant maximum (<= global) */
    double rate_limit;                /* token requests per second per client; 0 = [server] */
    unsigned rate_burst;              /* bucket size; 0 = [server] */
    char scopes_supported[1024];      /* published in discovery; "" = none (opt-in) */
    int dpop;                         /* default DPoP policy of its clients (SG_DPOP_POLICY_*) */
    int dpop_nonce;                   /* 1: DPoP proofs need a server nonce (RFC 9449 §8) */
    int mfa;                          /* what may follow a password (SG_MFA_*); no "off" */
};

/* [tenant:X] mfa: the second steps a sign-in that began with a password
 * may end with. A passkey (with user verification) is always enough on
 * its own; there is no value that lets a password alone through. */
#define SG_MFA_PHISHING_RESISTANT 1 /* a passkey only */
#define SG_MFA_APPROVAL_OR_PASSKEY 2 /* also an approval on a registered device (default) */
#define SG_MFA_ANY 3                 /* also a TOTP code */
/* "phishing_resistant", "approval_or_passkey", "any": the policy, or 0. */
int sg_config_mfa_policy(const char *v);

/* [tenant:X] dpop (and `signet client add --dpop`): the values match the
 * store's enum sg_client_dpop. */
#define SG_DPOP_POLICY_REQUIRED 1
#define SG_DPOP_POLICY_ALLOWED 2
#define SG_DPOP_POLICY_FORBIDDEN 3
/* "required", "allowed", "forbidden": the policy, or 0. */
int sg_config_dpop_policy(const char *v);

#define SG_TELEMETRY_PORT 9464u /* the Prometheus exporters' customary port */

/* [server]: signetd's own settings (the signer ignores them). */
struct sg_server_cfg {
    char listen_host[256];  /* numeric IPv4 or IPv6 address */
    unsigned port;
    char tls_cert[PATH_MAX]; /* PEM certificate chain; empty = plain HTTP */
    char tls_key[PATH_MAX];  /* PEM private key */
    int insecure_http;       /* permits plain HTTP on a non-loopback address */
    /* A request header a trusted reverse proxy sets to the client's coarse
     * location (e.g. CloudFront-Viewer-Country, CF-IPCountry): shown with
     * approval prompts. "" (the default): no location is shown. */
    char location_header[65];
    unsigned threads;        /* HTTP worker threads; 0 = one per core */
    unsigned signers;        /* signer processes (each its own HSM sessions) */
    unsigned max_body;       /* request body cap in bytes */
    unsigned max_connections;
    unsigned max_connections_per_address;
    int64_t connection_timeout; /* idle connection timeout, seconds */
    int64_t request_deadline;   /* headers and body must be in within it, seconds */
    int64_t drain_timeout;      /* SIGTERM: how long in-flight requests may take */
    double rate_limit;          /* default per-client token requests per second */
    unsigned rate_burst;        /* default per-client burst */
    int64_t assertion_max_age;  /* private_key_jwt: exp at most this far ahead */
    int log_level;              /* 0 debug, 1 info, 2 warn, 3 error */
    /* /metrics, /status, /status.json (and the probes) are served on a
     * listener of their own, 127.0.0.1:SG_TELEMETRY_PORT unless
     * telemetry_listen says otherwise ("off": none); the public listener
     * serves them only with telemetry_public. A default listener whose
     * port is taken is skipped with a warning; an explicit one must bind. */
    char telemetry_host[256];
    unsigned telemetry_port;
    int telemetry_explicit;
    int telemetry_public;
};

struct sg_config {
    char state_dir[PATH_MAX];
    char path[PATH_MAX]; /* the file that was loaded */

    /* [hsm] */
    char module[PATH_MAX];
    char module_dirs[2048];
    char token_label[33];
    char pin_file[PATH_MAX];
    char so_pin_file[PATH_MAX];
    char softhsm_conf[PATH_MAX]; /* empty: not the embedded SoftHSM2 */
    unsigned sessions;

    /* [keys] */
    int64_t rotation_period;
    int64_t jwks_max_age;
    int64_t clock_skew;
    int64_t max_token_lifetime;
    int64_t max_key_age; /* hard cap on a key's life before destruction is forced */
    int max_key_age_set; /* given in the file (else derived from the timings) */

    /* [store] */
    char store[PATH_MAX + 16];    /* front store (clients, replay caches): "sqlite:PATH" or URL */
    char keystore[PATH_MAX + 16]; /* key store (lifecycle rows): the signer's alone */

    /* [audit] */
    char audit_log[PATH_MAX];

    /* [signer] */
    char signer_user[64]; /* drop to this user when started as root */
    int sandbox;          /* 1 = seccomp/no-new-privs/mlockall (default) */

    /* [testing]: refused by the loader unless SIGNET_TESTING */
    char clock_file[PATH_MAX];
    int allow_short_rotation; /* permits rotation_period below 60 s (tests) */
    int pause_rotation;       /* signetd's scheduler sends no ADVANCE (invariant tests) */

    struct sg_tenant_cfg tenants[SG_MAX_TENANTS];
    size_t n_tenants;

    /* [alerts], [invariants] (signetd's monitor) */
    struct sg_telemetry_cfg telemetry;

    /* [server] (signetd) */
    struct sg_server_cfg server;
};

/* Defaults for a state directory (no file read). */
void sg_config_defaults(struct sg_config *c, const char *state_dir);
/* Loads <state_dir>/signet.conf over the defaults and validates. On error,
 * errbuf says what and where ("signet.conf:12: unknown key 'foo' in [keys]"). */
SIGNET_WUR signet_err sg_config_load(const char *state_dir, struct sg_config *c, char *errbuf,
                                     size_t errlen);
/* Parses an in-memory config (for the fuzzer and tests). */
SIGNET_WUR signet_err sg_config_parse_string(const char *text, const char *state_dir,
                                             struct sg_config *c, char *errbuf, size_t errlen);
/* Reads the [server] section from another file (signetd --config FILE)
 * over c, which sg_config_load() filled: any other section in that file is
 * an error, so issuers, lifetimes and jwks_max_age always come from
 * signet.conf, the file the signer reads too. */
SIGNET_WUR signet_err sg_config_load_server(const char *path, struct sg_config *c, char *errbuf,
                                            size_t errlen);
/* The effective rate limit of a tenant (its own, else [server]'s). */
double sg_config_rate_limit(const struct sg_config *c, const struct sg_tenant_cfg *t);
unsigned sg_config_rate_burst(const struct sg_config *c, const struct sg_tenant_cfg *t);
/* Writes a config file for `signet init` (mode 0600, fails if it exists). */
SIGNET_WUR signet_err sg_config_write(const struct sg_config *c, const char *path);

const struct sg_tenant_cfg *sg_config_tenant_by_issuer(const struct sg_config *c,
                                                       const char *issuer);
const struct sg_tenant_cfg *sg_config_tenant_by_name(const struct sg_config *c, const char *name);
/* Pre-publication: how long a key is PUBLISHED before it may sign. */
int64_t sg_config_prepublish(const struct sg_config *c);
/* How long a RETIRED key stays published: longest token + skew. */
int64_t sg_config_retire_window(const struct sg_config *c);

#endif
