/* A relying party during rotation: libsignet with the issuer's JWKS URL
 * (honouring the server's Cache-Control max-age, background refresh),
 * verifying the tokens the load generator hands it, one per line on
 * standard input (a FIFO), as they arrive. Prints one line at the end:
 *
 *   verified N failed M kids K [first failure: ...]
 *
 *   rot_verify ISSUER AUDIENCE JWKS_URL < tokens */
#include <signet/signet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KIDS 256

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: rot_verify ISSUER AUDIENCE JWKS_URL < tokens\n");
        return 2;
    }
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    signet_err err = signet_verifier_config_new(&cfg);
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_issuer_jwks_url(cfg, argv[1], argv[3]);
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_audience(cfg, argv[2]);
    /* Honour the issuer's max-age (2 s in this workload) instead of the
     * default floor of 60 s: a verifier that follows the JWKS the way the
     * issuer asks must never see a kid it does not know. */
    if (err == SIGNET_OK)
        err = signet_verifier_config_set_cache_bounds(cfg, 1, 86400);
    if (err == SIGNET_OK)
        err = signet_verifier_new(cfg, &v);
    signet_verifier_config_free(cfg);
    if (err != SIGNET_OK) {
        fprintf(stderr, "rot_verify: %s\n", signet_strerror(err));
        return 1;
    }
    static char kids[MAX_KIDS][64];
    size_t n_kids = 0;
    unsigned long ok = 0, failed = 0;
    char first[256] = "";
    char line[8192];
    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t len = strcspn(line, "\r\n");
        if (len == 0)
            continue;
        line[len] = '\0';
        signet_claims *c = NULL;
        err = signet_verify(v, line, len, NULL, &c);
        if (err != SIGNET_OK) {
            if (failed++ == 0)
                (void)snprintf(first, sizeof first, " first failure: %s", signet_strerror(err));
            continue;
        }
        ok++;
        const char *kid = signet_claims_kid(c);
        int seen = 0;
        for (size_t i = 0; i < n_kids && !seen; i++)
            seen = strcmp(kids[i], kid) == 0;
        if (!seen && n_kids < MAX_KIDS)
            (void)snprintf(kids[n_kids++], sizeof kids[0], "%s", kid);
        signet_claims_free(c);
    }
    signet_verifier_free(v);
    printf("verified %lu failed %lu kids %zu%s\n", ok, failed, n_kids, first);
    return failed == 0 ? 0 : 1;
}
