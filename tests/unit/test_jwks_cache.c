/* libsignet's JWKS cache against a loopback HTTP server: Cache-Control
 * bounds, refresh on expiry, unknown-kid cooldown, stale serving then fail
 * closed, failed fetches never replacing a good set, key removal, discovery
 * (exact issuer, fallback), no redirects, forced refresh, the verified-token
 * cache, and the background refresh thread. Time is injected. */
#include <signet/signet.h>

#include <time.h>

#include "test_signet_kit.h"
#include "testutil.h"

#include "fetch.h"
#include "issuer.h"

#define AUD "rs"

struct env {
    struct kit_http http;
    EVP_PKEY *k1, *k2;
    json_t *j1, *j2;
    char *only1, *only2, *both;
    char issuer[128];
    _Atomic int64_t now; /* the injected clock, read by the refresh thread too */
    int from_cache;
};

static int64_t env_clock(void *ctx)
{
    return ((struct env *)ctx)->now;
}

static void on_event(const signet_event *ev, void *ctx)
{
    ((struct env *)ctx)->from_cache = ev->from_cache;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    kit_http_start(&e->http);
    snprintf(e->issuer, sizeof e->issuer, "http://127.0.0.1:%d", e->http.port);
    e->k1 = kit_keygen(KIT_P256);
    e->k2 = kit_keygen(KIT_P256);
    e->j1 = kit_jwk(e->k1, "k1");
    e->j2 = kit_jwk(e->k2, "k2");
    json_t *a[] = {e->j1, NULL}, *b[] = {e->j2, NULL}, *c[] = {e->j1, e->j2, NULL};
    e->only1 = kit_jwks_text(a);
    e->only2 = kit_jwks_text(b);
    e->both = kit_jwks_text(c);
    e->now = KIT_NOW;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    kit_http_stop(&e->http);
    EVP_PKEY_free(e->k1);
    EVP_PKEY_free(e->k2);
    json_decref(e->j1);
    json_decref(e->j2);
    free(e->only1);
    free(e->only2);
    free(e->both);
    free(e);
    return 0;
}

static void reset_routes(struct env *e)
{
    for (int i = 0; i < KIT_HTTP_PATHS; i++) {
        kit_http_route(&e->http, i, "", 404, NULL, NULL);
        atomic_store(&e->http.hits[i], 0);
    }
    e->now = KIT_NOW;
}

static signet_verifier *make(struct env *e, const char *jwks_path, int discovery)
{
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    if (discovery) {
        assert_int_equal(signet_verifier_config_add_issuer_discovery(cfg, e->issuer, NULL), SIGNET_OK);
    } else {
        char *url = kit_url(&e->http, jwks_path);
        assert_int_equal(signet_verifier_config_add_issuer_jwks_url(cfg, e->issuer, url), SIGNET_OK);
        free(url);
    }
    assert_int_equal(signet_verifier_config_add_audience(cfg, AUD), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_clock(cfg, env_clock, e), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_background_refresh(cfg, 0), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_fetch_limits(cfg, 2000, 4096), SIGNET_OK);
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_OK);
    signet_verifier_config_free(cfg);
    return v;
}

/* A fresh token for the current time. */
static signet_err verify(struct env *e, signet_verifier *v, EVP_PKEY *k, const char *kid)
{
    char *tok = kit_sign_json(k, SG_ALG_ES256, kit_header("ES256", kid),
                              kit_claims(e->issuer, AUD, e->now - 5));
    signet_claims *c = NULL;
    signet_err err = signet_verify(v, tok, strlen(tok), NULL, &c);
    signet_claims_free(c);
    free(tok);
    return err;
}

static int hits(struct env *e, int route)
{
    return atomic_load(&e->http.hits[route]);
}

static void test_max_age_refresh_and_removal(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    kit_http_route(&e->http, 0, "/jwks", 200, e->only1, "Cache-Control: public, max-age=120\r\n");
    signet_verifier *v = make(e, "/jwks", 0);
    assert_int_equal(hits(e, 0), 0); /* remote sets load lazily */
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 1);
    e->now += 119;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 1); /* served from cache */
    e->now += 1;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 2); /* max-age reached: refetched */
    /* k1 leaves the JWKS: trusted until the cache refreshes, not after. */
    kit_http_route(&e->http, 0, "/jwks", 200, e->only2, "Cache-Control: max-age=120\r\n");
    e->now += 60;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    e->now += 60;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_OK);
    signet_verifier_free(v);
}

static void test_max_age_bounds(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    /* max-age=5 is raised to the 60 s minimum. */
    kit_http_route(&e->http, 0, "/jwks", 200, e->only1, "Cache-Control: max-age=5\r\n");
    signet_verifier *v = make(e, "/jwks", 0);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    e->now += 59;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 1);
    e->now += 1;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 2);
    /* no-store counts as 0, i.e. the minimum. */
    kit_http_route(&e->http, 0, "/jwks", 200, e->only1, "Cache-Control: no-store\r\n");
    e->now += 60;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 3);
    /* A huge max-age is capped at 86400 s. */
    kit_http_route(&e->http, 0, "/jwks", 200, e->only1, "Cache-Control: max-age=999999999\r\n");
    e->now += 60;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 4);
    e->now += 86399;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 4);
    e->now += 1;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 5);
    signet_verifier_free(v);
}

static void test_unknown_kid_cooldown(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    kit_http_route(&e->http, 0, "/jwks", 200, e->only1, "Cache-Control: max-age=3600\r\n");
    signet_verifier *v = make(e, "/jwks", 0);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 1);
    /* Unknown kid: one refresh, then none during the 30 s cooldown. */
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    assert_int_equal(hits(e, 0), 2);
    kit_http_route(&e->http, 0, "/jwks", 200, e->both, "Cache-Control: max-age=3600\r\n");
    for (int i = 0; i < 5; i++)
        assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    e->now += 29;
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    assert_int_equal(hits(e, 0), 2);
    e->now += 1;
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 3);
    signet_verifier_free(v);
}

static void test_failures_keep_good_set_then_fail_closed(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    kit_http_route(&e->http, 0, "/jwks", 200, e->only1, "Cache-Control: max-age=60\r\n");
    signet_verifier *v = make(e, "/jwks", 0);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    const int64_t expiry = e->now + 60;
    /* Server error, malformed JSON, not a JWKS, oversized, redirect: the
     * good set keeps serving (stale) meanwhile. */
    char big[5000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, e->only2, strlen(e->only2));
    struct {
        int status;
        const char *body;
        const char *headers;
    } bad[] = {{500, "oops", NULL},
               {200, "{\"keys\":[", NULL},
               {200, "{\"keys\":{}}", NULL},
               {200, big, NULL},
               {302, "", "Location: /jwks2\r\n"}};
    kit_http_route(&e->http, 1, "/jwks2", 200, e->only2, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kit_http_route(&e->http, 0, "/jwks", bad[i].status, bad[i].body, bad[i].headers);
        e->now = expiry + 30 * (int64_t)(i + 1);
        int before = hits(e, 0);
        assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
        assert_int_equal(hits(e, 0), before + 1);
        /* k2 exists only in the rejected documents. */
        assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    }
    assert_int_equal(hits(e, 1), 0); /* the redirect was not followed */
    /* Past stale_max (3600 s after expiry): fail closed. */
    kit_http_route(&e->http, 0, "/jwks", 503, "", NULL);
    e->now = expiry + 3599;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    e->now = expiry + 3600;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_ERR_JWKS_UNAVAILABLE);
    /* Recovery after the retry cooldown. */
    kit_http_route(&e->http, 0, "/jwks", 200, e->only1, "Cache-Control: max-age=60\r\n");
    e->now += 30;
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    signet_verifier_free(v);
}

static void test_unreachable_from_start(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    signet_verifier *v = make(e, "/missing", 0);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_ERR_JWKS_UNAVAILABLE);
    assert_int_equal(signet_verifier_refresh(v), SIGNET_ERR_NOT_FOUND);
    signet_verifier_free(v);
}

static char *discovery_doc(const char *issuer, const char *jwks_uri)
{
    json_t *d = json_pack("{s:s,s:s}", "issuer", issuer, "jwks_uri", jwks_uri);
    char *s = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return s;
}

static void test_discovery(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    char *jwks_uri = kit_url(&e->http, "/keys");
    char *doc = discovery_doc(e->issuer, jwks_uri);
    kit_http_route(&e->http, 0, "/.well-known/openid-configuration", 200, doc, NULL);
    kit_http_route(&e->http, 1, "/keys", 200, e->only1, NULL);
    signet_verifier *v = make(e, NULL, 1);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 1);
    assert_int_equal(hits(e, 1), 1);
    signet_verifier_free(v);
    free(doc);

    /* The document's issuer must be ours exactly (a trailing slash is not). */
    char other[160];
    snprintf(other, sizeof other, "%s/", e->issuer);
    doc = discovery_doc(other, jwks_uri);
    kit_http_route(&e->http, 0, "/.well-known/openid-configuration", 200, doc, NULL);
    v = make(e, NULL, 1);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_ERR_DISCOVERY_MISMATCH);
    assert_int_equal(signet_verifier_refresh(v), SIGNET_ERR_DISCOVERY_MISMATCH);
    signet_verifier_free(v);
    free(doc);

    /* No OpenID document: RFC 8414 oauth-authorization-server instead. */
    kit_http_route(&e->http, 0, "", 404, NULL, NULL);
    doc = discovery_doc(e->issuer, jwks_uri);
    kit_http_route(&e->http, 2, "/.well-known/oauth-authorization-server", 200, doc, NULL);
    v = make(e, NULL, 1);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 2), 1);
    signet_verifier_free(v);
    free(doc);
    free(jwks_uri);
}

static void test_discovery_urls(void **state)
{
    (void)state;
    char *u = sg_discovery_url("https://h.example/t1/", 0);
    assert_string_equal(u, "https://h.example/t1/.well-known/openid-configuration");
    free(u);
    u = sg_discovery_url("https://h.example/t1", 1);
    assert_string_equal(u, "https://h.example/.well-known/oauth-authorization-server/t1");
    free(u);
    u = sg_discovery_url("https://h.example", 1);
    assert_string_equal(u, "https://h.example/.well-known/oauth-authorization-server");
    free(u);
    assert_null(sg_discovery_url("urn:x", 0));
    /* Cache-Control parsing. */
    const char *cc[] = {"max-age=60", "public, max-age=60", "max-age=60, must-revalidate",
                        "no-cache, max-age=60", "max-age=abc", "s-maxage=5", "max-age=99999999999999", " no-store\r\n",
                        "max-age=7\r\n"};
    int64_t want[] = {60, 60, 60, 0, -1, -1, -1, 0, 7};
    for (size_t i = 0; i < sizeof cc / sizeof cc[0]; i++)
        assert_int_equal(sg_cache_control_max_age(cc[i], strlen(cc[i])), want[i]);
}

static void test_file_source_forced_refresh_and_token_cache(void **state)
{
    struct env *e = *state;
    char dir[256];
    assert_int_equal(sg_test_mkdtemp(dir, sizeof dir, "signet-jwks"), 0);
    char path[320];
    snprintf(path, sizeof path, "%s/jwks.json", dir);
    FILE *f = fopen(path, "w");
    fputs(e->both, f);
    fclose(f);
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_file(cfg, e->issuer, path), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_audience(cfg, AUD), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_clock(cfg, env_clock, e), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_background_refresh(cfg, 0), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_token_cache(cfg, 4), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_event_callback(cfg, on_event, e), SIGNET_OK);
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_OK);
    signet_verifier_config_free(cfg);
    e->now = KIT_NOW;
    char *tok = kit_sign_json(e->k1, SG_ALG_ES256, kit_header("ES256", "k1"),
                              kit_claims(e->issuer, AUD, KIT_NOW));
    signet_claims *c = NULL;
    assert_int_equal(signet_verify(v, tok, strlen(tok), NULL, &c), SIGNET_OK);
    assert_int_equal(e->from_cache, 0);
    signet_claims_free(c);
    assert_int_equal(signet_verify(v, tok, strlen(tok), NULL, &c), SIGNET_OK);
    assert_int_equal(e->from_cache, 1);
    assert_string_equal(signet_claims_kid(c), "k1");
    signet_claims_free(c);
    /* The cache never outlives exp (+ skew gives the same verdict as a
     * full check). */
    e->now = KIT_NOW + 600;
    assert_int_equal(signet_verify(v, tok, strlen(tok), NULL, &c), SIGNET_OK);
    assert_int_equal(e->from_cache, 0);
    signet_claims_free(c);
    e->now = KIT_NOW + 660;
    assert_int_equal(signet_verify(v, tok, strlen(tok), NULL, &c), SIGNET_ERR_EXPIRED);
    e->now = KIT_NOW + 10;
    assert_int_equal(signet_verify(v, tok, strlen(tok), NULL, &c), SIGNET_OK);
    signet_claims_free(c);
    assert_int_equal(signet_verify(v, tok, strlen(tok), NULL, &c), SIGNET_OK);
    assert_int_equal(e->from_cache, 1);
    signet_claims_free(c);
    /* k1 removed from the file: a forced refresh drops it, cache or not. */
    f = fopen(path, "w");
    fputs(e->only2, f);
    fclose(f);
    assert_int_equal(signet_verify(v, tok, strlen(tok), NULL, &c), SIGNET_OK); /* not refreshed yet */
    signet_claims_free(c);
    assert_int_equal(signet_verifier_refresh(v), SIGNET_OK);
    assert_int_equal(signet_verify(v, tok, strlen(tok), NULL, &c), SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    assert_null(c);
    /* A broken file never replaces the good set. */
    f = fopen(path, "w");
    fputs("{\"keys\":", f);
    fclose(f);
    assert_int_equal(signet_verifier_refresh(v), SIGNET_ERR_BAD_JSON);
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_OK);
    /* Other tokens fill the cache past its bound without harm. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_OK);
    free(tok);
    signet_verifier_free(v);
    sg_test_rmrf(dir);
}

static void test_background_refresh(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    kit_http_route(&e->http, 0, "/jwks", 200, e->only1, "Cache-Control: max-age=1\r\n");
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    char *url = kit_url(&e->http, "/jwks");
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_url(cfg, e->issuer, url), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_audience(cfg, AUD), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_cache_bounds(cfg, 1, 2), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_refresh_cooldown(cfg, 3600), SIGNET_OK);
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_OK); /* real clock */
    signet_verifier_config_free(cfg);
    free(url);
    /* The thread fetches at once, then ahead of each expiry. */
    for (int i = 0; i < 100 && hits(e, 0) < 1; i++)
        usleep(50 * 1000);
    assert_true(hits(e, 0) >= 1);
    kit_http_route(&e->http, 0, "/jwks", 200, e->only2, "Cache-Control: max-age=1\r\n");
    int seen = hits(e, 0);
    for (int i = 0; i < 100 && hits(e, 0) <= seen; i++)
        usleep(50 * 1000);
    assert_true(hits(e, 0) > seen);
    e->now = (int64_t)time(NULL);
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_OK);
    signet_verifier_free(v); /* stops and joins the thread */
}

/* A JWK of key k with signet's members (active_until < 0: none). */
static json_t *scoped_jwk(EVP_PKEY *k, const char *kid, const char *iss, int64_t from)
{
    json_t *j = kit_jwk(k, kid);
    json_object_set_new(j, "iss", json_string(iss));
    json_object_set_new(j, "active_from", json_integer(from));
    return j;
}

static char *jwks_of(json_t *a, json_t *b)
{
    json_t *keys[] = {a, b, NULL};
    char *s = kit_jwks_text(keys);
    json_decref(a);
    json_decref(b);
    return s;
}

/* The bug of issue 11: a standby published with a future active_from is
 * promoted early (emergency revoke). The cached set refuses its first
 * tokens (KEY_NOT_ACTIVE_AT_IAT); that refusal now refreshes once, within
 * the unknown-kid cooldown, and the new set decides. */
static void test_key_window_refresh(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    const int64_t t0 = e->now;
    char *before = jwks_of(scoped_jwk(e->k1, "k1", e->issuer, t0 - 86400),
                           scoped_jwk(e->k2, "k2", e->issuer, t0 + 3600));
    char *after = jwks_of(scoped_jwk(e->k2, "k2", e->issuer, t0), NULL);
    kit_http_route(&e->http, 0, "/jwks", 200, before, "Cache-Control: max-age=3600\r\n");
    signet_verifier *v = make(e, "/jwks", 0);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 1);
    /* k1 revoked, k2 signs from now on. */
    kit_http_route(&e->http, 0, "/jwks", 200, after, "Cache-Control: max-age=3600\r\n");
    e->now += 10;
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 2); /* one refresh, not the 3600 s max-age */
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_OK);
    assert_int_equal(hits(e, 0), 2);
    assert_int_equal(verify(e, v, e->k1, "k1") != SIGNET_OK, 1); /* the new set holds */
    signet_verifier_free(v);

    /* An issuer that keeps publishing the future window: one refresh per
     * cooldown, and still refused. */
    reset_routes(e);
    kit_http_route(&e->http, 0, "/jwks", 200, before, "Cache-Control: max-age=3600\r\n");
    v = make(e, "/jwks", 0);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT);
    assert_int_equal(hits(e, 0), 2);
    for (int i = 0; i < 5; i++)
        assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT);
    assert_int_equal(hits(e, 0), 2);
    /* After the cooldown, a forged token (kid k2, signed by k1) refreshes
     * nothing: the signature is checked before the window. */
    e->now += 30;
    assert_int_equal(verify(e, v, e->k1, "k2"), SIGNET_ERR_BAD_SIGNATURE);
    assert_int_equal(hits(e, 0), 2);
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT);
    assert_int_equal(hits(e, 0), 3);
    signet_verifier_free(v);
    free(before);
    free(after);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static signet_verifier *make_bg(struct env *e, int64_t cooldown)
{
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    char *url = kit_url(&e->http, "/jwks");
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_url(cfg, e->issuer, url), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_audience(cfg, AUD), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_clock(cfg, env_clock, e), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_refresh_cooldown(cfg, cooldown), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_fetch_limits(cfg, 20000, 4096), SIGNET_OK);
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_OK); /* refresh thread on */
    signet_verifier_config_free(cfg);
    free(url);
    return v;
}

struct burst {
    struct env *e;
    signet_verifier *v;
    double worst;
    int failures;
};

static void *burst_main(void *arg)
{
    struct burst *b = arg;
    for (int i = 0; i < 20; i++) {
        double t = mono_now();
        if (verify(b->e, b->v, b->e->k1, "k1") != SIGNET_OK)
            b->failures++;
        t = mono_now() - t;
        if (t > b->worst)
            b->worst = t;
    }
    return NULL;
}

/* Issue 11: the cached set expired and the JWKS endpoint slow (4 s per
 * answer). Verifications are answered at once from the stale set while
 * exactly one refresh runs on the refresh thread, which then installs the
 * new set. (Before: every verification waited for the fetch.) */
static void test_stale_while_revalidate(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    kit_http_route(&e->http, 0, "/jwks", 200, e->only1, "Cache-Control: max-age=60\r\n");
    signet_verifier *v = make_bg(e, 3600);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    /* Spend the unknown-kid refresh now, so that k2 below can only come
     * from the background refresh. */
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    for (int i = 0; i < 100 && hits(e, 0) < 2; i++)
        usleep(20 * 1000);
    usleep(200 * 1000); /* the thread's own first fetch, if any, is done */
    kit_http_route(&e->http, 0, "/jwks", 200, e->both, "Cache-Control: max-age=60\r\n");
    atomic_store(&e->http.delay_ms, 4000);
    const int before = atomic_load(&e->http.requests);
    e->now += 61; /* expired, well within stale_max */

    struct burst b[4];
    pthread_t th[4];
    double t = mono_now();
    for (int i = 0; i < 4; i++) {
        b[i] = (struct burst){.e = e, .v = v};
        assert_int_equal(pthread_create(&th[i], NULL, burst_main, &b[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(b[i].failures, 0);
        assert_true(b[i].worst < 2.0); /* not the 4 s fetch */
    }
    assert_true(mono_now() - t < 3.0);
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    /* The one background refresh lands: k2 is trusted, without any
     * verifying thread having waited for it. */
    signet_err got = SIGNET_ERR_KEY_NOT_IN_ISSUER_SET;
    for (int i = 0; i < 300 && got != SIGNET_OK; i++) {
        usleep(50 * 1000);
        t = mono_now();
        got = verify(e, v, e->k2, "k2");
        assert_true(mono_now() - t < 2.0);
    }
    assert_int_equal(got, SIGNET_OK);
    assert_int_equal(atomic_load(&e->http.requests) - before, 1);
    atomic_store(&e->http.delay_ms, 0);
    signet_verifier_free(v);
}

/* An unknown kid with a stale set still waits for a (bounded) refresh. */
static void test_stale_unknown_kid_waits(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    kit_http_route(&e->http, 0, "/jwks", 200, e->only1, "Cache-Control: max-age=60\r\n");
    signet_verifier *v = make_bg(e, 30);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    usleep(200 * 1000);
    kit_http_route(&e->http, 0, "/jwks", 200, e->both, "Cache-Control: max-age=60\r\n");
    atomic_store(&e->http.delay_ms, 1000);
    e->now += 61;
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_OK);
    atomic_store(&e->http.delay_ms, 0);
    signet_verifier_free(v);
}

/* An emergency revoke seen by a relying party whose cached set (max-age
 * 3600 s) still holds the revoked key k1 and the standby k2, with a true
 * (past) active_from: k2's first token verifies from the cache, and, being
 * the first signature by a new key, has the refresh thread refetch at once
 * (not at 3/4 of the hour), so k1's tokens are refused within moments. */
static void test_new_signer_refreshes(void **state)
{
    struct env *e = *state;
    reset_routes(e);
    kit_http_route(&e->http, 0, "/jwks", 200, e->both, "Cache-Control: max-age=3600\r\n");
    signet_verifier *v = make_bg(e, 30);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_OK);
    usleep(300 * 1000); /* the thread's own first fetch, if any, is done */
    const int before = hits(e, 0);
    kit_http_route(&e->http, 0, "/jwks", 200, e->only2, "Cache-Control: max-age=3600\r\n");
    e->now += 40; /* past the cooldown of any refresh so far */
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_OK); /* from the cache */
    signet_err got = SIGNET_OK;
    for (int i = 0; i < 200 && got == SIGNET_OK; i++) {
        usleep(25 * 1000);
        got = verify(e, v, e->k1, "k1");
    }
    assert_int_equal(got, SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    assert_int_equal(hits(e, 0), before + 1);
    /* k2 again, and k1 refused again: no more fetches (k2 is known now, and
     * the unknown kid k1 is within the cooldown). */
    assert_int_equal(verify(e, v, e->k2, "k2"), SIGNET_OK);
    assert_int_equal(verify(e, v, e->k1, "k1"), SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    usleep(200 * 1000);
    assert_int_equal(hits(e, 0), before + 1);
    signet_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_age_refresh_and_removal),
        cmocka_unit_test(test_max_age_bounds),
        cmocka_unit_test(test_unknown_kid_cooldown),
        cmocka_unit_test(test_failures_keep_good_set_then_fail_closed),
        cmocka_unit_test(test_unreachable_from_start),
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_discovery_urls),
        cmocka_unit_test(test_file_source_forced_refresh_and_token_cache),
        cmocka_unit_test(test_background_refresh),
        cmocka_unit_test(test_key_window_refresh),
        cmocka_unit_test(test_stale_while_revalidate),
        cmocka_unit_test(test_stale_unknown_kid_waits),
        cmocka_unit_test(test_new_signer_refreshes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
