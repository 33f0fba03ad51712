/* libFuzzer target: signet.conf (src/common/config.c over libinih).
 *
 * The input, NUL-terminated, is parsed with sg_config_parse_string.
 * Properties checked on success (abort on violation):
 *   - [hsm] module is set; 1..SG_MAX_TENANTS tenants;
 *   - every tenant has a valid name that appears as "[tenant:NAME]" in the
 *     input (no truncated or merged sections), an http(s) issuer that no
 *     other tenant has, 1..SG_MAX_ALGS distinct known algorithms, and
 *     0 < token_lifetime <= its max_token_lifetime <= the global maximum;
 *   - rotation_period > 0, and >= 60 s unless allow_short_rotation;
 *   - jwks_max_age + clock_skew (prepublication) <= rotation_period;
 *   - clock_skew <= 600 s; max_key_age covers one key's whole lifecycle;
 *   - every path is absolute (or empty where empty is allowed), and every
 *     string field is NUL-terminated within its array;
 *   - [server]: tls_cert and tls_key both set or both empty, a port, a
 *     finite positive rate limit.
 * On failure: SIGNET_ERR_CONFIG with a message naming signet.conf. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STATE_DIR "/var/lib/signet-fuzz"

static void terminated(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

static void absolute(const char *path, int may_be_empty)
{
    if (path[0] == '\0' ? !may_be_empty : path[0] != '/')
        abort();
}

static int valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len >= 64)
        return 0;
    for (const char *c = n; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
            return 0;
    return 1;
}

static int known_alg(const char *a)
{
    return strcmp(a, "ES256") == 0 || strcmp(a, "EdDSA") == 0 || strcmp(a, "PS256") == 0;
}

static void check_tenant(const struct sg_config *c, size_t i, const char *text)
{
    const struct sg_tenant_cfg *t = &c->tenants[i];
    terminated(t->name, sizeof t->name);
    terminated(t->issuer, sizeof t->issuer);
    if (!valid_name(t->name))
        abort();
    char header[80];
    int n = snprintf(header, sizeof header, "[tenant:%s]", t->name);
    if (n < 0 || (size_t)n >= sizeof header || strstr(text, header) == NULL)
        abort(); /* the section name was cut or changed on the way */
    if (strncmp(t->issuer, "https://", 8) != 0 && strncmp(t->issuer, "http://", 7) != 0)
        abort();
    if (t->n_algs == 0 || t->n_algs > SG_MAX_ALGS)
        abort();
    for (size_t a = 0; a < t->n_algs; a++) {
        terminated(t->algs[a], sizeof t->algs[a]);
        if (!known_alg(t->algs[a]))
            abort();
        for (size_t b = 0; b < a; b++)
            if (strcmp(t->algs[a], t->algs[b]) == 0)
                abort();
    }
    if (t->token_lifetime <= 0 || t->token_lifetime > t->max_token_lifetime ||
        t->max_token_lifetime > c->max_token_lifetime)
        abort();
    for (size_t j = 0; j < i; j++)
        if (strcmp(c->tenants[j].issuer, t->issuer) == 0 ||
            strcmp(c->tenants[j].name, t->name) == 0)
            abort();
    if (sg_config_tenant_by_issuer(c, t->issuer) != t || sg_config_tenant_by_name(c, t->name) != t)
        abort();
}

static void check_config(const struct sg_config *c, const char *text)
{
    terminated(c->module, sizeof c->module);
    terminated(c->module_dirs, sizeof c->module_dirs);
    terminated(c->token_label, sizeof c->token_label);
    terminated(c->store, sizeof c->store);
    terminated(c->signer_user, sizeof c->signer_user);
    if (c->module[0] == '\0' || c->n_tenants == 0 || c->n_tenants > SG_MAX_TENANTS)
        abort();
    for (size_t i = 0; i < c->n_tenants; i++)
        check_tenant(c, i, text);
    if (c->rotation_period <= 0 ||
        (c->rotation_period < SG_MIN_ROTATION_PERIOD && !c->allow_short_rotation))
        abort();
    if (c->jwks_max_age < 0 || c->clock_skew < 0 || c->clock_skew > 600 ||
        c->max_token_lifetime <= 0)
        abort();
    if (sg_config_prepublish(c) > c->rotation_period)
        abort();
    if (c->max_key_age < c->rotation_period + sg_config_prepublish(c) +
                             sg_config_retire_window(c))
        abort();
    if (c->sessions < 1 || c->sessions > 64)
        abort();
    const char *paths[] = {c->pin_file, c->so_pin_file, c->audit_log};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        terminated(paths[i], PATH_MAX);
        absolute(paths[i], 0);
    }
    terminated(c->softhsm_conf, sizeof c->softhsm_conf);
    absolute(c->softhsm_conf, 1);
    terminated(c->clock_file, sizeof c->clock_file);
    absolute(c->clock_file, 1);
    if (strncmp(c->store, "sqlite:", 7) == 0 && c->store[7] != '/')
        abort();
    if (strcmp(c->state_dir, STATE_DIR) != 0)
        abort();

    /* [server]: TLS files come as a pair, resolved like every path. */
    const struct sg_server_cfg *sv = &c->server;
    terminated(sv->listen_host, sizeof sv->listen_host);
    terminated(sv->tls_cert, sizeof sv->tls_cert);
    terminated(sv->tls_key, sizeof sv->tls_key);
    if ((sv->tls_cert[0] == '\0') != (sv->tls_key[0] == '\0'))
        abort();
    absolute(sv->tls_cert, 1);
    absolute(sv->tls_key, 1);
    if (sv->port < 1 || sv->port > 65535 || !(sv->rate_limit > 0 && sv->rate_limit <= 1e6))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sg_config cfg; /* ~100 KiB: not on the stack */
    char *text = malloc(size + 1);
    if (text == NULL)
        abort();
    if (size > 0)
        memcpy(text, data, size);
    text[size] = '\0';

    char err[512];
    err[0] = '\0';
    signet_err rc = sg_config_parse_string(text, STATE_DIR, &cfg, err, sizeof err);
    if (rc == SIGNET_OK) {
        check_config(&cfg, text);
    } else {
        terminated(err, sizeof err);
        if (rc != SIGNET_ERR_CONFIG || strncmp(err, "signet.conf", 11) != 0)
            abort();
    }
    free(text);
    return 0;
}
