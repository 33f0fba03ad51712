/* A long-lived relying party for the integration tests: one libsignet
 * verifier, whose JWKS cache and refresh thread live as long as the
 * process, verifies tokens read one per line from stdin and prints one line
 * per token: "SIGNET_ERR_NAME MILLISECONDS" (SIGNET_OK on success).
 *
 *   rp_verify ISSUER AUDIENCE JWKS_URL COOLDOWN_S CACHE_MIN_S CACHE_MAX_S
 *
 * Uses the public API only, as a relying party would. */
#include <signet/signet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int parse_s(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static double ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    int64_t cooldown = 0, cmin = 0, cmax = 0;
    if (argc != 7 || parse_s(argv[4], &cooldown) != 0 || parse_s(argv[5], &cmin) != 0 ||
        parse_s(argv[6], &cmax) != 0) {
        fprintf(stderr, "usage: rp_verify ISSUER AUDIENCE JWKS_URL COOLDOWN_S CACHE_MIN_S "
                        "CACHE_MAX_S\n");
        return 2;
    }
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    signet_err err = signet_verifier_config_new(&cfg);
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_issuer_jwks_url(cfg, argv[1], argv[3]);
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_audience(cfg, argv[2]);
    if (err == SIGNET_OK)
        err = signet_verifier_config_set_refresh_cooldown(cfg, cooldown);
    if (err == SIGNET_OK)
        err = signet_verifier_config_set_cache_bounds(cfg, cmin, cmax);
    if (err == SIGNET_OK)
        err = signet_verifier_new(cfg, &v);
    signet_verifier_config_free(cfg);
    if (err != SIGNET_OK) {
        fprintf(stderr, "rp_verify: %s\n", signet_err_name(err));
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        signet_claims *claims = NULL;
        double t = ms_now();
        err = signet_verify(v, line, (size_t)n, NULL, &claims);
        t = ms_now() - t;
        signet_claims_free(claims);
        printf("%s %.0f\n", signet_err_name(err), t);
        fflush(stdout);
    }
    free(line);
    signet_verifier_free(v);
    return 0;
}
