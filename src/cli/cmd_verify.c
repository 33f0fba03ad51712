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
#include "signet/signet.h"

#define VERIFY_TOKEN_MAX (16u * 1024u) /* libsignet's own cap */
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
            "  -h, --help          this text\n"
            "\n"
            "Exit status: 0 valid, 1 rejected, 2 usage or setup error.\n");
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

/* Reads the token from a file descriptor, at most VERIFY_TOKEN_MAX bytes
 * plus surrounding whitespace. */
static int read_token(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    for (;;) {
        if (n == cap)
            return -1;
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
};

static int parse_args(int argc, char **argv, struct verify_args *a)
{
    enum { OPT_NOW = 256, OPT_SKEW, OPT_MAXLIFE, OPT_REQMETA };
    static const struct option longopts[] = {
        {"issuer", required_argument, NULL, 'i'},
        {"audience", required_argument, NULL, 'a'},
        {"jwks", required_argument, NULL, 'j'},
        {"alg", required_argument, NULL, 'g'},
        {"now", required_argument, NULL, OPT_NOW},
        {"skew", required_argument, NULL, OPT_SKEW},
        {"max-lifetime", required_argument, NULL, OPT_MAXLIFE},
        {"require-key-metadata", no_argument, NULL, OPT_REQMETA},
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
        case 'h': return 1;
        default: return -1;
        }
    }
    if (optind != argc - 1 || a->issuer == NULL || a->n_audiences == 0) {
        fprintf(stderr, "signet verify: need --issuer, --audience and one TOKEN (or -)\n");
        return -1;
    }
    a->token_arg = argv[optind];
    return 0;
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

    char *token = malloc(VERIFY_TOKEN_MAX + 64);
    size_t len = 0;
    if (token == NULL)
        return SG_EXIT_USAGE;
    if (strcmp(a.token_arg, "-") == 0) {
        if (read_token(STDIN_FILENO, token, VERIFY_TOKEN_MAX + 64, &len) != 0) {
            fprintf(stderr, "signet verify: cannot read the token from stdin (or too long)\n");
            free(token);
            return SG_EXIT_USAGE;
        }
    } else {
        len = strlen(a.token_arg);
        if (len > VERIFY_TOKEN_MAX + 63)
            len = VERIFY_TOKEN_MAX + 63; /* libsignet rejects it as too large */
        memcpy(token, a.token_arg, len);
    }
    /* Surrounding whitespace (a trailing newline from a file) is not part
     * of the token; anything inside it is, and is judged by libsignet. */
    size_t start = 0;
    while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' '))
        len--;
    while (start < len && (token[start] == ' ' || token[start] == '\n'))
        start++;

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
    err = signet_verify(v, token + start, len - start, NULL, &claims);
    if (err != SIGNET_OK) {
        printf("invalid: %s: %s\n", signet_err_name(err), signet_strerror(err));
        rc = SG_EXIT_FAIL;
        goto out;
    }
    rc = print_claims(claims) == 0 ? SG_EXIT_OK : SG_EXIT_USAGE;
out:
    signet_claims_free(claims);
    signet_verifier_free(v);
    signet_verifier_config_free(cfg);
    memset(token, 0, VERIFY_TOKEN_MAX + 64);
    free(token);
    return rc;
}
