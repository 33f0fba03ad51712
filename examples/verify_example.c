/* verify_example: validate one signet access token with libsignet.
 *
 *   verify_example ISSUER AUDIENCE JWKS_FILE_OR_URL [TOKEN]   (TOKEN or stdin)
 *
 * Uses only the public API (<signet/signet.h>) and the shared library.
 * Build against an installed libsignet with:
 *   cc verify_example.c $(pkg-config --cflags --libs signet)
 */
#include <signet/signet.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Telemetry: one structured line per decision, never the token itself. */
static void on_event(const signet_event *ev, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "event result=%s kid=%s thumbprint=%s jti=%s reason=\"%s\"\n",
            signet_err_name(ev->result), ev->kid ? ev->kid : "-",
            ev->thumbprint ? ev->thumbprint : "-", ev->jti ? ev->jti : "-", ev->reason);
}

static int configure(signet_verifier_config *cfg, const char *issuer, const char *audience,
                     const char *jwks)
{
    signet_err err;
    if (strncmp(jwks, "https://", 8) == 0 || strncmp(jwks, "http://", 7) == 0)
        err = signet_verifier_config_add_issuer_jwks_url(cfg, issuer, jwks);
    else
        err = signet_verifier_config_add_issuer_jwks_file(cfg, issuer, jwks);
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_audience(cfg, audience);
    /* ES256 and EdDSA are on by default; PS256 is opt-in. */
    if (err == SIGNET_OK)
        err = signet_verifier_config_allow_alg(cfg, "PS256");
    if (err == SIGNET_OK)
        err = signet_verifier_config_set_event_callback(cfg, on_event, NULL);
    if (err != SIGNET_OK) {
        fprintf(stderr, "config: %s\n", signet_strerror(err));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s ISSUER AUDIENCE JWKS_FILE_OR_URL [TOKEN]\n", argv[0]);
        return 2;
    }
    char token[16384 + 2];
    size_t len;
    if (argc == 5) {
        len = strlen(argv[4]);
        if (len >= sizeof token)
            return 1;
        memcpy(token, argv[4], len + 1);
    } else {
        len = fread(token, 1, sizeof token - 1, stdin);
        while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r'))
            len--;
        token[len] = '\0';
    }

    int rc = 2;
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    signet_claims *claims = NULL;
    char *json = NULL;
    if (signet_verifier_config_new(&cfg) != SIGNET_OK ||
        configure(cfg, argv[1], argv[2], argv[3]) != 0)
        goto out;
    signet_err err = signet_verifier_new(cfg, &v);
    if (err != SIGNET_OK) {
        fprintf(stderr, "verifier: %s\n", signet_strerror(err));
        goto out;
    }
    err = signet_verify(v, token, len, NULL, &claims);
    if (err != SIGNET_OK) {
        printf("invalid: %s (%s)\n", signet_err_name(err), signet_strerror(err));
        rc = 1;
        goto out;
    }
    const char *sub = NULL;
    int64_t exp = 0;
    if (signet_claims_get_string(claims, "sub", &sub) != SIGNET_OK)
        sub = "(none)";
    if (signet_claims_get_int(claims, "exp", &exp) != SIGNET_OK)
        exp = 0;
    printf("valid: sub=%s exp=%" PRId64 " kid=%s thumbprint=%s\n", sub, exp,
           signet_claims_kid(claims), signet_claims_thumbprint(claims));
    size_t n = 0;
    if (signet_claims_get_string_array_count(claims, "aud", &n) == SIGNET_OK) {
        for (size_t i = 0; i < n; i++) {
            const char *aud = NULL;
            if (signet_claims_get_string_array_item(claims, "aud", i, &aud) == SIGNET_OK)
                printf("aud[%zu]=%s\n", i, aud);
        }
    }
    if (signet_claims_get_json(claims, NULL, &json) == SIGNET_OK)
        printf("%s\n", json);
    rc = 0;
out:
    signet_free(json);
    signet_claims_free(claims);
    signet_verifier_free(v);
    signet_verifier_config_free(cfg);
    return rc;
}
