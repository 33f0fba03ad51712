/* signet verify: validate an access token with libsignet, exactly as a
 * relying party using the library's defaults would. */
#include "cli/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "json.h"
#include "util/strconv.h"
#include "signet/signet.h"

#define VERIFY_TOKEN_MAX (16u * 1024u) /* libsignet's own cap */
#define VERIFY_TOKEN_BUF (VERIFY_TOKEN_MAX + 64)
#define VERIFY_MAX_ALGS 8
/* libsignet's compact re-serialisation of the claims of such a token: a
 * number can print several times longer than written ("1e-7" takes 22
 * bytes), so leave room. */
#define CLAIMS_JSON_MAX (8u * VERIFY_TOKEN_MAX)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: signet verify --issuer ISSUER --audience AUD [options] TOKEN|-\n"
            "\n"
            "Validates a JWT access token (RFC 9068) with libsignet's defaults and prints\n"
            "the verdict: on success the verified claims as JSON, on failure the reason.\n"
            "Pass - to read the token from standard input (keeps it out of ps).\n"
            "\n"
            "  --issuer ISSUER     the one trusted issuer (compared exactly with iss)\n"
            "  --audience AUD      an accepted audience (repeatable)\n"
            "  --jwks URL|FILE     the issuer's JWKS; without it, discovery is used:\n"
            "                      ISSUER/.well-known/openid-configuration, then\n"
            "                      the RFC 8414 oauth-authorization-server document\n"
            "  --alg ALG           allowed algorithm (repeatable; replaces the default\n"
            "                      ES256 and EdDSA): ES256 ES384 ES512 PS256 PS384 PS512 EdDSA\n"
            "  --now EPOCH         judge the token at this time (seconds since 1970)\n"
            "  --skew SECONDS      clock skew tolerance (default 60)\n"
            "  --max-lifetime S    maximum exp - iat (default 86400)\n"
            "  --require-key-metadata  keys must carry iss and active_from\n"
            "  --dpop PROOF        the request's DPoP proof (RFC 9449): checked against\n"
            "                      --method and --url, its key against the token's cnf.jkt,\n"
            "                      its iat within [now - 300, now + skew]\n"
            "  --method METHOD     the request method the proof must name (htm)\n"
            "  --url URL           the request URL the proof must name (htu)\n"
            "  --scheme Bearer|DPoP  the Authorization scheme the token came with\n"
            "                      (default DPoP with --dpop, else Bearer)\n"
            "  --dpop-nonce NONCE  the nonce this server handed out: the proof must carry it\n"
            "                      (without it, the proof is judged once, with no replay\n"
            "                      memory: this command sees one request)\n"
            "  -h, --help          this text\n"
            "\n"
            "TOKEN is taken byte for byte; from standard input, one trailing newline\n"
            "is removed and every other byte is part of the token.\n"
            "Exit status: 0 valid, 1 rejected (the SIGNET_ERR_* reason is printed),\n"
            "2 usage or setup error.\n");
}

static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int64_t fixed_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

/* Reads the token from a file descriptor: at most cap bytes (the caller
 * makes cap larger than any acceptable token, so a longer input still
 * reaches libsignet, which rejects it as too large). */
static int read_token(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return 0;
}

struct verify_args {
    const char *issuer;
    const char *jwks;
    const char *audiences[16];
    size_t n_audiences;
    const char *algs[VERIFY_MAX_ALGS];
    size_t n_algs;
    int have_now;
    int64_t now;
    int64_t skew;
    int64_t max_lifetime;
    int require_metadata;
    const char *token_arg;
    const char *dpop;       /* --dpop PROOF */
    const char *method;
    const char *url;
    const char *scheme;     /* NULL: DPoP with --dpop, else Bearer */
    const char *dpop_nonce; /* the expected nonce */
};

static int parse_args(int argc, char **argv, struct verify_args *a)
{
    enum {
        OPT_NOW = 256,
        OPT_SKEW,
        OPT_MAXLIFE,
        OPT_REQMETA,
        OPT_DPOP,
        OPT_METHOD,
        OPT_URL,
        OPT_SCHEME,
        OPT_NONCE
    };
    static const struct option longopts[] = {
        {"issuer", required_argument, NULL, 'i'},
        {"audience", required_argument, NULL, 'a'},
        {"jwks", required_argument, NULL, 'j'},
        {"alg", required_argument, NULL, 'g'},
        {"now", required_argument, NULL, OPT_NOW},
        {"skew", required_argument, NULL, OPT_SKEW},
        {"max-lifetime", required_argument, NULL, OPT_MAXLIFE},
        {"require-key-metadata", no_argument, NULL, OPT_REQMETA},
        {"dpop", required_argument, NULL, OPT_DPOP},
        {"method", required_argument, NULL, OPT_METHOD},
        {"url", required_argument, NULL, OPT_URL},
        {"scheme", required_argument, NULL, OPT_SCHEME},
        {"dpop-nonce", required_argument, NULL, OPT_NONCE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    a->skew = -1;
    a->max_lifetime = -1;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'i': a->issuer = optarg; break;
        case 'j': a->jwks = optarg; break;
        case 'a':
            if (a->n_audiences == sizeof a->audiences / sizeof a->audiences[0]) {
                fprintf(stderr, "signet verify: too many --audience\n");
                return -1;
            }
            a->audiences[a->n_audiences++] = optarg;
            break;
        case 'g':
            if (a->n_algs == VERIFY_MAX_ALGS) {
                fprintf(stderr, "signet verify: too many --alg\n");
                return -1;
            }
            a->algs[a->n_algs++] = optarg;
            break;
        case OPT_NOW:
            if (parse_i64(optarg, 0, INT64_C(1) << 52, &a->now) != 0) {
                fprintf(stderr, "signet verify: --now wants seconds since the epoch\n");
                return -1;
            }
            a->have_now = 1;
            break;
        case OPT_SKEW:
            if (parse_i64(optarg, 0, 600, &a->skew) != 0) {
                fprintf(stderr, "signet verify: --skew wants 0..600 seconds\n");
                return -1;
            }
            break;
        case OPT_MAXLIFE:
            if (parse_i64(optarg, 1, 31 * 86400, &a->max_lifetime) != 0) {
                fprintf(stderr, "signet verify: --max-lifetime wants 1..2678400 seconds\n");
                return -1;
            }
            break;
        case OPT_REQMETA: a->require_metadata = 1; break;
        case OPT_DPOP: a->dpop = optarg; break;
        case OPT_METHOD: a->method = optarg; break;
        case OPT_URL: a->url = optarg; break;
        case OPT_NONCE: a->dpop_nonce = optarg; break;
        case OPT_SCHEME:
            if (strcasecmp(optarg, "Bearer") != 0 && strcasecmp(optarg, "DPoP") != 0) {
                fprintf(stderr, "signet verify: --scheme wants Bearer or DPoP\n");
                return -1;
            }
            a->scheme = optarg;
            break;
        case 'h': return 1;
        default: return -1;
        }
    }
    if (optind != argc - 1 || a->issuer == NULL || a->n_audiences == 0) {
        fprintf(stderr, "signet verify: need --issuer, --audience and one TOKEN (or -)\n");
        return -1;
    }
    a->token_arg = argv[optind];
    if (a->scheme == NULL)
        a->scheme = a->dpop != NULL ? "DPoP" : "Bearer";
    int dpop = strcasecmp(a->scheme, "DPoP") == 0;
    if ((a->dpop != NULL || dpop) && (a->method == NULL || a->url == NULL)) {
        fprintf(stderr, "signet verify: DPoP needs --method and --url\n");
        return -1;
    }
    if (a->dpop_nonce != NULL && a->dpop == NULL) {
        fprintf(stderr, "signet verify: --dpop-nonce needs --dpop\n");
        return -1;
    }
    return 0;
}

static int expected_nonce(const char *nonce, void *ctx)
{
    return nonce != NULL && strcmp(nonce, (const char *)ctx) == 0;
}

/* The event's sentence, which names the failed check (a DPoP rule, ...). */
static char last_reason[256];

static void on_event(const signet_event *ev, void *ctx)
{
    char *buf = ctx;
    if (sg_copy_str(buf, sizeof last_reason, ev->reason) != 0)
        buf[0] = '\0';
}

static signet_err configure(const struct verify_args *a, signet_verifier_config *cfg)
{
    static const char *const all[] = {"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"};
    signet_err err = SIGNET_OK;
    if (a->jwks == NULL)
        err = signet_verifier_config_add_issuer_discovery(cfg, a->issuer, NULL);
    else if (strncasecmp(a->jwks, "https://", 8) == 0 || strncasecmp(a->jwks, "http://", 7) == 0)
        err = signet_verifier_config_add_issuer_jwks_url(cfg, a->issuer, a->jwks);
    else
        err = signet_verifier_config_add_issuer_jwks_file(cfg, a->issuer, a->jwks);
    for (size_t i = 0; err == SIGNET_OK && i < a->n_audiences; i++)
        err = signet_verifier_config_add_audience(cfg, a->audiences[i]);
    if (a->n_algs > 0) {
        for (size_t i = 0; err == SIGNET_OK && i < sizeof all / sizeof all[0]; i++)
            err = signet_verifier_config_disallow_alg(cfg, all[i]);
        for (size_t i = 0; err == SIGNET_OK && i < a->n_algs; i++) {
            err = signet_verifier_config_allow_alg(cfg, a->algs[i]);
            if (err != SIGNET_OK)
                fprintf(stderr, "signet verify: algorithm '%s' cannot be allowed\n", a->algs[i]);
        }
    }
    if (err == SIGNET_OK && a->have_now)
        err = signet_verifier_config_set_clock(cfg, fixed_clock, (void *)&a->now);
    if (err == SIGNET_OK && a->skew >= 0)
        err = signet_verifier_config_set_skew(cfg, a->skew);
    if (err == SIGNET_OK && a->max_lifetime > 0)
        err = signet_verifier_config_set_max_lifetime(cfg, a->max_lifetime);
    if (err == SIGNET_OK && a->require_metadata)
        err = signet_verifier_config_require_key_metadata(cfg, 1);
    if (err == SIGNET_OK)
        err = signet_verifier_config_set_background_refresh(cfg, 0);
    /* One request per run: a replay cache would forget everything at exit.
     * With --dpop-nonce the proof must carry that nonce; without it the
     * caller accepts a proof judged without replay memory (docs/cli.md). */
    if (err == SIGNET_OK)
        err = signet_verifier_config_set_dpop_replay_cache(cfg, 0);
    if (err == SIGNET_OK && a->dpop_nonce != NULL)
        err = signet_verifier_config_set_dpop_nonce_fn(cfg, expected_nonce,
                                                       (void *)a->dpop_nonce);
    else if (err == SIGNET_OK)
        err = signet_verifier_config_allow_dpop_unprotected(cfg, 1);
    if (err == SIGNET_OK)
        err = signet_verifier_config_set_event_callback(cfg, on_event, (void *)&last_reason);
    return err;
}

static int print_claims(const signet_claims *c)
{
    char *json = NULL;
    if (signet_claims_get_json(c, NULL, &json) != SIGNET_OK)
        return -1;
    /* Re-indent for people; the library's form is compact. Our own output,
     * but read through the one JSON door all the same (no measured cost). */
    json_t *j = NULL;
    signet_err err = sg_json_parse((const uint8_t *)json, strlen(json), CLAIMS_JSON_MAX, &j);
    signet_free(json);
    if (err != SIGNET_OK)
        return -1;
    char *pretty = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (pretty == NULL)
        return -1;
    printf("valid: issuer=%s kid=%s thumbprint=%s alg=%s\n%s\n", signet_claims_issuer(c),
           signet_claims_kid(c), signet_claims_thumbprint(c), signet_claims_alg(c), pretty);
    free(pretty);
    return 0;
}

int sg_cmd_verify(int argc, char **argv)
{
    struct verify_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        usage(rc > 0 ? stdout : stderr);
        return rc > 0 ? SG_EXIT_OK : SG_EXIT_USAGE;
    }

    /* Room for more than libsignet accepts: a longer token is its verdict
     * (SIGNET_ERR_TOO_LARGE, exit 1), not a usage error. */
    char *token = malloc(VERIFY_TOKEN_BUF);
    size_t len = 0;
    if (token == NULL)
        return SG_EXIT_USAGE;
    if (strcmp(a.token_arg, "-") == 0) {
        if (read_token(STDIN_FILENO, token, VERIFY_TOKEN_BUF, &len) != 0) {
            fprintf(stderr, "signet verify: cannot read the token from stdin\n");
            free(token);
            return SG_EXIT_USAGE;
        }
        /* The one newline a shell or a file adds; every other byte is the
         * token's, judged by libsignet. */
        if (len > 0 && token[len - 1] == '\n')
            len--;
    } else {
        len = strnlen(a.token_arg, VERIFY_TOKEN_BUF);
        memcpy(token, a.token_arg, len);
    }
    rc = SG_EXIT_USAGE;
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    signet_claims *claims = NULL;
    signet_err err = signet_verifier_config_new(&cfg);
    if (err == SIGNET_OK)
        err = configure(&a, cfg);
    if (err == SIGNET_OK)
        err = signet_verifier_new(cfg, &v);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet verify: setup failed: %s: %s\n", signet_err_name(err),
                signet_strerror(err));
        goto out;
    }
    /* Load the key set first, so an unreachable issuer is a setup error
     * with its own reason rather than a verdict about the token. */
    err = signet_verifier_refresh(v);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet verify: cannot load the key set of %s: %s: %s\n", a.issuer,
                signet_err_name(err), signet_strerror(err));
        goto out;
    }
    signet_verify_opts opts = SIGNET_VERIFY_OPTS_INIT;
    opts.http_method = a.method;
    opts.http_url = a.url;
    opts.dpop_proof = a.dpop;
    opts.scheme = a.scheme;
    err = signet_verify(v, token, len, &opts, &claims);
    if (err != SIGNET_OK) {
        if (strcmp(last_reason, signet_strerror(err)) != 0 && last_reason[0] != '\0')
            printf("invalid: %s: %s (%s)\n", signet_err_name(err), signet_strerror(err),
                   last_reason);
        else
            printf("invalid: %s: %s\n", signet_err_name(err), signet_strerror(err));
        rc = SG_EXIT_FAIL;
        goto out;
    }
    rc = print_claims(claims) == 0 ? SG_EXIT_OK : SG_EXIT_USAGE;
out:
    signet_claims_free(claims);
    signet_verifier_free(v);
    signet_verifier_config_free(cfg);
    memset(token, 0, VERIFY_TOKEN_BUF);
    free(token);
    return rc;
}
