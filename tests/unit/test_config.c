/* src/common/config.c: signet.conf. Every key valid and invalid, messages
 * naming the line, durations, the cross-key rules of finish(), tenant names,
 * path resolution, and sg_config_write -> sg_config_load. */
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"

#define STATE "/var/lib/signet-test"
/* Four lines: a key added after "[section]" on line 5 is on line 6. */
#define MINI                                                                                   \
    "[hsm]\nmodule = /usr/lib/softhsm/libsofthsm2.so\n[tenant:main]\n"                         \
    "issuer = https://issuer.example\n"

static struct sg_config cfg;
static char msg[1024];

static signet_err parse(const char *text)
{
    msg[0] = '\0';
    return sg_config_parse_string(text, STATE, &cfg, msg, sizeof msg);
}

static signet_err parsef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static signet_err parsef(const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof text);
    return parse(text);
}

/* Lines 5-8: [keys], jwks_max_age, clock_skew, rotation_period. */
#define ROT_FMT MINI "[keys]\njwks_max_age = 0\nclock_skew = 0s\nrotation_period = %s\n%s"
#define PREPUB_FMT MINI "[keys]\nrotation_period = %s\njwks_max_age = %s\nclock_skew = %s\n"

static void assert_msg(const char *want)
{
    if (strstr(msg, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", msg, want);
}

static void test_defaults(void **state)
{
    (void)state;
    sg_config_defaults(&cfg, STATE);
    assert_string_equal(cfg.state_dir, STATE);
    assert_string_equal(cfg.token_label, "signet");
    assert_string_equal(cfg.pin_file, "signer/user.pin");
    assert_string_equal(cfg.store, "sqlite:front/signet.db");
    assert_int_equal(cfg.sessions, 2);
    assert_int_equal(cfg.rotation_period, 86400);
    assert_int_equal(cfg.jwks_max_age, 300);
    assert_int_equal(cfg.clock_skew, 60);
    assert_int_equal(cfg.max_token_lifetime, 3600);
    assert_int_equal(cfg.max_key_age, 0);
    assert_int_equal(cfg.sandbox, 1);
    assert_int_equal(cfg.allow_short_rotation, 0);
    assert_int_equal(cfg.n_tenants, 0);
    assert_string_equal(cfg.module, "");

    assert_int_equal(parse(MINI), SIGNET_OK);
    assert_int_equal(cfg.n_tenants, 1);
    const struct sg_tenant_cfg *t = &cfg.tenants[0];
    assert_string_equal(t->name, "main");
    assert_string_equal(t->issuer, "https://issuer.example");
    assert_int_equal(t->n_algs, 1);
    assert_string_equal(t->algs[0], "ES256");
    assert_int_equal(t->max_token_lifetime, 3600);
    assert_int_equal(t->token_lifetime, 600);
    /* max_key_age derived: 2 periods + prepublication + retirement. */
    assert_int_equal(cfg.max_key_age, 2 * 86400 + (300 + 60) + (3600 + 60));
    assert_int_equal(sg_config_prepublish(&cfg), 360);
    assert_int_equal(sg_config_retire_window(&cfg), 3660);
    assert_ptr_equal(sg_config_tenant_by_issuer(&cfg, "https://issuer.example"), t);
    assert_ptr_equal(sg_config_tenant_by_name(&cfg, "main"), t);
    assert_null(sg_config_tenant_by_issuer(&cfg, "https://issuer.example/"));
    assert_null(sg_config_tenant_by_name(&cfg, "Main"));
}

static void test_paths_resolved_against_state(void **state)
{
    (void)state;
    assert_int_equal(parse(MINI), SIGNET_OK);
    assert_string_equal(cfg.pin_file, STATE "/signer/user.pin");
    assert_string_equal(cfg.so_pin_file, STATE "/signer/so.pin");
    assert_string_equal(cfg.audit_log, STATE "/signer/audit.log");
    assert_string_equal(cfg.softhsm_conf, STATE "/signer/softhsm2.conf");
    assert_string_equal(cfg.store, "sqlite:" STATE "/front/signet.db");
    assert_string_equal(cfg.keystore, "sqlite:" STATE "/signer/keys.db");
    assert_string_equal(cfg.clock_file, "");

    assert_int_equal(parse(MINI "[hsm]\npin_file = /etc/signet/pin\nso_pin_file = sub/so\n"
                                "softhsm_conf =\n[audit]\nlog = logs/a.log\n"
                                "[store]\nurl = sqlite:/srv/s.db\n[testing]\nclock_file = clk\n"),
                     SIGNET_OK);
    assert_string_equal(cfg.pin_file, "/etc/signet/pin");
    assert_string_equal(cfg.so_pin_file, STATE "/sub/so");
    assert_string_equal(cfg.softhsm_conf, ""); /* empty: not the embedded SoftHSM2 */
    assert_string_equal(cfg.audit_log, STATE "/logs/a.log");
    assert_string_equal(cfg.store, "sqlite:/srv/s.db");
    assert_string_equal(cfg.clock_file, STATE "/clk");

    assert_int_equal(parse(MINI "[store]\nurl = postgresql://db.example/signet\n"), SIGNET_OK);
    assert_string_equal(cfg.store, "postgresql://db.example/signet");

    /* A state directory so long that no resolved path fits is an error. */
    char *longdir = malloc(PATH_MAX);
    assert_non_null(longdir);
    memset(longdir, 'd', PATH_MAX - 5);
    longdir[0] = '/';
    longdir[PATH_MAX - 5] = '\0';
    assert_int_equal(sg_config_parse_string(MINI, longdir, &cfg, msg, sizeof msg),
                     SIGNET_ERR_CONFIG);
    assert_msg("too long");
    free(longdir);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t seconds;
    } good[] = {
        {"60s", 60},           {"60", 60},       {"5m", 300},
        {"24h", 86400},        {"1d", 86400},    {"7d", 604800},
        {"0060", 60},          {"9223372036854775s", 9223372036854775LL},
        {"106751991167d", 106751991167LL * 86400},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(parsef(ROT_FMT, good[i].text, ""), SIGNET_OK);
        assert_int_equal(cfg.rotation_period, good[i].seconds);
    }
    static const char *const bad[] = {
        "10x", "-5m", "-1", "s", "m", "5 m", "5mm", "5ms", "1.5h", "1e3", "0x10", "5M", "5S", "1w",
        "5d6", "99999999999999999999", "9223372036854775807", "9223372036854776s",
        "106751991168d", "153722867280913m", "2562047788016h", "0", "0s", "-0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parsef(ROT_FMT, bad[i], ""), SIGNET_ERR_CONFIG);
        assert_msg("signet.conf:8: invalid value for 'rotation_period' in [keys]");
    }
    /* An empty value. */
    assert_int_equal(parse(MINI "[keys]\nrotation_period =\n"), SIGNET_ERR_CONFIG);
    assert_msg("signet.conf:6: invalid value for 'rotation_period' in [keys]");
}

struct key_case {
    const char *section;
    const char *key;
    const char *value;
    int ok;
};

static void test_every_key(void **state)
{
    (void)state;
    char label33[34], user64[65];
    memset(label33, 'l', 33);
    label33[33] = '\0';
    memset(user64, 'u', 64);
    user64[64] = '\0';
    const struct key_case cases[] = {
        {"hsm", "module", "/opt/hsm/p11.so", 1},      {"hsm", "module", "", 0},
        {"hsm", "module_dirs", "/a:/b", 1},           {"hsm", "module_dirs", "", 0},
        {"hsm", "token_label", "my token", 1},        {"hsm", "token_label", label33, 0},
        {"hsm", "token_label", "", 0},                {"hsm", "pin_file", "p.pin", 1},
        {"hsm", "pin_file", "", 0},                   {"hsm", "so_pin_file", "/etc/so.pin", 1},
        {"hsm", "so_pin_file", "", 0},                {"hsm", "softhsm_conf", "", 1},
        {"hsm", "softhsm_conf", "/etc/softhsm2.conf", 1},
        {"hsm", "sessions", "1", 1},                  {"hsm", "sessions", "64", 1},
        {"hsm", "sessions", "0", 0},                  {"hsm", "sessions", "65", 0},
        {"hsm", "sessions", "-1", 0},                 {"hsm", "sessions", "x", 0},
        {"hsm", "sessions", "2.0", 0},                {"hsm", "sessions", "", 0},
        {"hsm", "sessions", "99999999999999999999", 0},
        {"keys", "rotation_period", "2d", 1},         {"keys", "rotation_period", "0", 0},
        {"keys", "jwks_max_age", "0", 1},             {"keys", "jwks_max_age", "1y", 0},
        {"keys", "clock_skew", "0", 1},               {"keys", "clock_skew", "10m", 1},
        {"keys", "clock_skew", "600", 1},             {"keys", "clock_skew", "601s", 0},
        {"keys", "clock_skew", "1h", 0},              {"keys", "max_token_lifetime", "1s", 1},
        {"keys", "max_token_lifetime", "0", 0},       {"keys", "max_key_age", "365d", 1},
        {"keys", "max_key_age", "0", 0},              {"store", "url", "postgresql://h/db", 1},
        {"store", "url", "", 0},                      {"audit", "log", "/var/log/signet.log", 1},
        {"audit", "log", "", 0},                      {"signer", "user", "signet", 1},
        {"signer", "user", user64, 0},                {"signer", "sandbox", "yes", 1},
        {"signer", "sandbox", "no", 1},               {"signer", "sandbox", "true", 1},
        {"signer", "sandbox", "false", 1},            {"signer", "sandbox", "1", 1},
        {"signer", "sandbox", "0", 1},                {"signer", "sandbox", "on", 0},
        {"signer", "sandbox", "TRUE", 0},             {"signer", "sandbox", "Yes", 0},
        {"signer", "sandbox", "", 0},                 {"testing", "clock_file", "clock", 1},
        {"testing", "allow_short_rotation", "true", 1},
        {"testing", "allow_short_rotation", "2", 0},
        {"tenant:main", "issuer", "http://localhost:8080", 1},
        {"tenant:main", "issuer", "ftp://issuer.example", 0},
        {"tenant:main", "issuer", "issuer.example", 0},
        {"tenant:main", "issuer", "HTTPS://issuer.example", 0},
        {"tenant:main", "issuer", "", 0},
        {"tenant:main", "algs", "EdDSA", 1},
        {"tenant:main", "algs", "ES256, PS256", 1},
        {"tenant:main", "algs", "PS256,EdDSA,ES256", 1},
        {"tenant:main", "algs", "RS256", 0},
        {"tenant:main", "algs", "none", 0},
        {"tenant:main", "algs", "es256", 0},
        {"tenant:main", "algs", "", 0},
        {"tenant:main", "algs", ",", 0},
        {"tenant:main", "algs", "ES256,ES256", 0},
        {"tenant:main", "algs", "ES256,EdDSA,PS256,ES256", 0},
        {"tenant:main", "token_lifetime", "5m", 1},
        {"tenant:main", "token_lifetime", "0", 0},
        {"tenant:main", "max_token_lifetime", "30m", 1},
        {"tenant:main", "max_token_lifetime", "0", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct key_case *k = &cases[i];
        /* MINI sets [hsm] module and [tenant:main] issuer already, and a key
         * given twice is an error: leave that line out (the case stays on
         * line 6 either way). */
        signet_err err;
        if (strcmp(k->section, "hsm") == 0 && strcmp(k->key, "module") == 0)
            err = parsef("[tenant:main]\nissuer = https://issuer.example\n#\n#\n"
                         "[hsm]\nmodule = %s\n", k->value);
        else if (strcmp(k->section, "tenant:main") == 0 && strcmp(k->key, "issuer") == 0)
            err = parsef("[hsm]\nmodule = /usr/lib/softhsm/libsofthsm2.so\n#\n#\n"
                         "[tenant:main]\nissuer = %s\n", k->value);
        else
            err = parsef(MINI "[%s]\n%s = %s\n", k->section, k->key, k->value);
        if (k->ok) {
            if (err != SIGNET_OK)
                fail_msg("[%s] %s = '%s' refused: %s", k->section, k->key, k->value, msg);
            continue;
        }
        if (err != SIGNET_ERR_CONFIG)
            fail_msg("[%s] %s = '%s' accepted", k->section, k->key, k->value);
        char want[128];
        (void)snprintf(want, sizeof want, "signet.conf:6: invalid value for '%s' in [%s]", k->key,
                       k->section);
        assert_msg(want);
    }
    /* Values that were read. */
    assert_int_equal(parse(MINI "[tenant:main]\nalgs = EdDSA, ES256\n[hsm]\nsessions = 7\n"
                                "[signer]\nsandbox = no\nuser = nobody\n"),
                     SIGNET_OK);
    assert_int_equal(cfg.tenants[0].n_algs, 2);
    assert_string_equal(cfg.tenants[0].algs[0], "EdDSA");
    assert_string_equal(cfg.tenants[0].algs[1], "ES256");
    assert_int_equal(cfg.sessions, 7);
    assert_int_equal(cfg.sandbox, 0);
    assert_string_equal(cfg.signer_user, "nobody");
}

static void test_unknown_names_line_numbers(void **state)
{
    (void)state;
    assert_int_equal(parse(MINI "[bogus]\nx = 1\n"), SIGNET_ERR_CONFIG);
    assert_string_equal(msg, "signet.conf:6: unknown section [bogus]");
    assert_int_equal(parse(MINI "[hsm]\nmodul = /x.so\n"), SIGNET_ERR_CONFIG);
    assert_string_equal(msg, "signet.conf:6: unknown key 'modul' in [hsm]");
    assert_int_equal(parse(MINI "[keys]\nmodule = /x.so\n"), SIGNET_ERR_CONFIG);
    assert_string_equal(msg, "signet.conf:6: unknown key 'module' in [keys]");
    assert_int_equal(parse(MINI "[tenant:main]\nissuers = https://b.example\n"), SIGNET_ERR_CONFIG);
    assert_string_equal(msg, "signet.conf:6: unknown key 'issuers' in [tenant:main]");
    assert_int_equal(parse(MINI "[HSM]\nmodule = /x.so\n"), SIGNET_ERR_CONFIG);
    assert_string_equal(msg, "signet.conf:6: unknown section [HSM]");
    assert_int_equal(parse("module = /x.so\n" MINI), SIGNET_ERR_CONFIG);
    assert_string_equal(msg, "signet.conf:1: unknown section []");
    /* Comments and blank lines count as lines. */
    assert_int_equal(parse("; c\n\n# c\n" MINI "[hsm]\nfoo = 1\n"), SIGNET_ERR_CONFIG);
    assert_string_equal(msg, "signet.conf:9: unknown key 'foo' in [hsm]");
    /* The first problem is reported, not a later one. */
    assert_int_equal(parse(MINI "[hsm]\nfoo = 1\n[bogus]\nbar = 2\n"), SIGNET_ERR_CONFIG);
    assert_string_equal(msg, "signet.conf:6: unknown key 'foo' in [hsm]");
    /* A NULL errbuf is allowed. */
    assert_int_equal(sg_config_parse_string(MINI "[bogus]\nx=1\n", STATE, &cfg, NULL, 0),
                     SIGNET_ERR_CONFIG);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    assert_int_equal(parse(MINI "[hsm\n"), SIGNET_ERR_CONFIG);
    assert_msg("signet.conf:5: syntax error");
    assert_int_equal(parse(MINI "just words\n"), SIGNET_ERR_CONFIG);
    assert_msg("signet.conf:5: syntax error");
    /* A syntax error followed by a bad key: the message must describe the
     * line it names (line 3), not the later key on line 5. */
    assert_int_equal(parse("[hsm]\nmodule = /m.so\nthis line is garbage\n[tenant:main]\n"
                           "bogus = 1\nissuer = https://a.example\n"),
                     SIGNET_ERR_CONFIG);
    if (strstr(msg, "bogus") != NULL)
        fail_msg("line/message mismatch: \"%s\"", msg);
    assert_msg("signet.conf:3: syntax error");
}

/* inih reads at most 199 characters per line. A longer line must be refused,
 * not split in two with its tail parsed as a line of its own. */
static void test_long_lines(void **state)
{
    (void)state;
    char text[1024];
    /* 198 characters: fine. */
    int n = snprintf(text, sizeof text, "%s[hsm]\nmodule_dirs = /", MINI);
    size_t start = (size_t)n - 15;
    while ((size_t)n - start < 198)
        text[n++] = 'a';
    (void)snprintf(text + n, sizeof text - (size_t)n, "\n");
    assert_int_equal(parse(text), SIGNET_OK);
    assert_int_equal(strlen(cfg.module_dirs), 198 - 14);
    /* Over the limit, with a tail that reads as "module = ...". */
    n = snprintf(text, sizeof text, "%s[hsm]\nmodule_dirs = /", MINI);
    start = (size_t)n - 15;
    while ((size_t)n - start < 199)
        text[n++] = 'a';
    (void)snprintf(text + n, sizeof text - (size_t)n, "module = /tmp/evil.so\n");
    signet_err err = parse(text);
    if (err == SIGNET_OK)
        fail_msg("a %zu-character line was split: module = '%s'",
                 strlen(text) - start - 1, cfg.module);
    assert_int_equal(err, SIGNET_ERR_CONFIG);
    /* A long comment is no excuse either. */
    n = snprintf(text, sizeof text, "%s; ", MINI);
    for (int i = 0; i < 300; i++)
        text[n++] = 'c';
    (void)snprintf(text + n, sizeof text - (size_t)n, "\n");
    err = parse(text);
    assert_true(err == SIGNET_OK || err == SIGNET_ERR_CONFIG);
}

static void test_rotation_minimum(void **state)
{
    (void)state;
    assert_int_equal(parsef(ROT_FMT, "60s", ""), SIGNET_OK);
    assert_int_equal(parsef(ROT_FMT, "1m", ""), SIGNET_OK);
    assert_int_equal(parsef(ROT_FMT, "59s", ""), SIGNET_ERR_CONFIG);
    assert_msg("rotation_period must be at least 60 s");
    assert_int_equal(parsef(ROT_FMT, "59s", "[testing]\nallow_short_rotation = true\n"),
                     SIGNET_OK);
    assert_int_equal(cfg.rotation_period, 59);
    assert_int_equal(parsef(ROT_FMT, "1s", "[testing]\nallow_short_rotation = yes\n"), SIGNET_OK);
    assert_int_equal(parsef(ROT_FMT, "59s", "[testing]\nallow_short_rotation = false\n"),
                     SIGNET_ERR_CONFIG);
    assert_int_equal(parsef(ROT_FMT, "0s", "[testing]\nallow_short_rotation = true\n"),
                     SIGNET_ERR_CONFIG);
}

static void test_prepublish_within_period(void **state)
{
    (void)state;
    assert_int_equal(parsef(PREPUB_FMT, "10m", "9m", "60s"), SIGNET_OK);
    assert_int_equal(parsef(PREPUB_FMT, "10m", "9m", "61s"), SIGNET_ERR_CONFIG);
    assert_msg("rotation_period (600 s) must be at least jwks_max_age + clock_skew (601 s)");
    assert_int_equal(parsef(PREPUB_FMT, "10m", "601s", "0"), SIGNET_ERR_CONFIG);
    /* The default 1 d period with a JWKS max age of a day is refused. */
    assert_int_equal(parsef(MINI "[keys]\njwks_max_age = %s\n", "1d"),
                     SIGNET_ERR_CONFIG);
}

static void test_max_key_age(void **state)
{
    (void)state;
    /* Lifecycle: 86400 + 360 + 3660 = 90420 s. */
    assert_int_equal(parsef(MINI "[keys]\nmax_key_age = %s\n", "90420s"), SIGNET_OK);
    assert_int_equal(cfg.max_key_age, 90420);
    assert_int_equal(parsef(MINI "[keys]\nmax_key_age = %s\n", "90419s"),
                     SIGNET_ERR_CONFIG);
    assert_msg("max_key_age is shorter than one key's lifecycle");
}

static void test_tenants(void **state)
{
    (void)state;
    /* Required parts. */
    assert_int_equal(parse("[tenant:main]\nissuer = https://a.example\n"), SIGNET_ERR_CONFIG);
    assert_msg("[hsm] module is required");
    assert_int_equal(parse("[hsm]\nmodule = /m.so\n"), SIGNET_ERR_CONFIG);
    assert_msg("at least one issuer");
    assert_int_equal(parse("[hsm]\nmodule = /m.so\n[tenant:x]\nalgs = EdDSA\n"),
                     SIGNET_ERR_CONFIG);
    assert_msg("[tenant:x] needs an issuer URL");
    /* Duplicate issuers. */
    assert_int_equal(parse(MINI "[tenant:second]\nissuer = https://issuer.example\n"),
                     SIGNET_ERR_CONFIG);
    assert_msg("[tenant:second] repeats the issuer of [tenant:main]");
    assert_int_equal(parse(MINI "[tenant:second]\nissuer = https://issuer.example/\n"), SIGNET_OK);
    assert_int_equal(cfg.n_tenants, 2);
    /* A section opened twice is the same tenant. */
    assert_int_equal(parse(MINI "[tenant:other]\nissuer = https://o.example\n"
                                "[tenant:main]\nalgs = EdDSA\n"),
                     SIGNET_OK);
    assert_int_equal(cfg.n_tenants, 2);
    assert_string_equal(cfg.tenants[0].algs[0], "EdDSA");
    /* Lifetimes: default min(10 min, max), clamp to the global maximum. */
    assert_int_equal(parse(MINI "token_lifetime = 2h\n"), SIGNET_ERR_CONFIG);
    assert_msg("[tenant:main] token_lifetime exceeds max_token_lifetime");
    assert_int_equal(parse(MINI "max_token_lifetime = 2h\n"), SIGNET_OK);
    assert_int_equal(cfg.tenants[0].max_token_lifetime, 3600);
    assert_int_equal(parse(MINI "max_token_lifetime = 5m\n"), SIGNET_OK);
    assert_int_equal(cfg.tenants[0].token_lifetime, 300);
    assert_int_equal(parse(MINI "max_token_lifetime = 5m\ntoken_lifetime = 301s\n"),
                     SIGNET_ERR_CONFIG);
    assert_int_equal(parse(MINI "max_token_lifetime = 5m\ntoken_lifetime = 300s\n"), SIGNET_OK);
    /* The 24 h ceiling: neither the global nor a tenant's maximum may pass
     * it (a config edit plus SIGHUP once gave 3650-day tokens). */
    assert_int_equal(parse("[keys]\nmax_token_lifetime = 24h\n" MINI), SIGNET_OK);
    assert_int_equal(cfg.max_token_lifetime, SG_MAX_TOKEN_LIFETIME_CEILING);
    assert_int_equal(parse("[keys]\nmax_token_lifetime = 86401s\n" MINI), SIGNET_ERR_CONFIG);
    assert_non_null(strstr(msg, "over the ceiling of 86400 s"));
    assert_int_equal(parse("[keys]\nmax_token_lifetime = 3650d\n" MINI), SIGNET_ERR_CONFIG);
    assert_int_equal(parse(MINI "max_token_lifetime = 2d\n"), SIGNET_ERR_CONFIG);
    assert_non_null(strstr(msg, "[tenant:main] max_token_lifetime"));
}

static void test_tenant_names(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "a-b_1", "0", "tenant-01",
                                       "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"}; /* 42 */
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(parsef("[hsm]\nmodule = /m.so\n[tenant:%s]\nissuer = https://a\n", good[i]),
                         SIGNET_OK);
        assert_string_equal(cfg.tenants[0].name, good[i]);
    }
    static const char *const bad[] = {"", "A", "a.b", "a b", "a/b", "caf\xc3\xa9", "a:b", "-\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parsef("[hsm]\nmodule = /m.so\n[tenant:%s]\nissuer = https://a\n", bad[i]),
                         SIGNET_ERR_CONFIG);
        assert_msg("signet.conf:4:");
    }
}

/* Names of 43..63 characters pass the name check, but inih cuts section
 * names to 49 bytes ("tenant:" + 42): two such tenants must not merge. */
static void test_long_tenant_names_not_merged(void **state)
{
    (void)state;
    char a[64], b[64];
    memset(a, 'n', 50);
    a[50] = '\0';
    memcpy(b, a, sizeof a);
    a[49] = '1';
    b[49] = '2';
    signet_err err = parsef("[hsm]\nmodule = /m.so\n[tenant:%s]\nissuer = https://a.example\n"
                            "[tenant:%s]\nissuer = https://b.example\n",
                            a, b);
    if (err == SIGNET_OK) {
        const struct sg_tenant_cfg *ta = sg_config_tenant_by_issuer(&cfg, "https://a.example");
        const struct sg_tenant_cfg *tb = sg_config_tenant_by_issuer(&cfg, "https://b.example");
        if (ta == NULL || tb == NULL || strcmp(ta->name, a) != 0 || strcmp(tb->name, b) != 0)
            fail_msg("tenants merged or renamed: %zu tenant(s), first '%s' with issuer %s",
                     cfg.n_tenants, cfg.tenants[0].name, cfg.tenants[0].issuer);
    } else {
        assert_int_equal(err, SIGNET_ERR_CONFIG);
    }
}

static void test_tenant_limit(void **state)
{
    (void)state;
    size_t cap = 64 * 64;
    char *text = malloc(cap);
    assert_non_null(text);
    for (size_t count = SG_MAX_TENANTS; count <= SG_MAX_TENANTS + 1; count++) {
        size_t n = (size_t)snprintf(text, cap, "[hsm]\nmodule = /m.so\n");
        for (size_t i = 0; i < count; i++)
            n += (size_t)snprintf(text + n, cap - n, "[tenant:t%zu]\nissuer = https://t%zu\n", i,
                                  i);
        signet_err err = parse(text);
        if (count == SG_MAX_TENANTS) {
            assert_int_equal(err, SIGNET_OK);
            assert_int_equal(cfg.n_tenants, SG_MAX_TENANTS);
        } else {
            assert_int_equal(err, SIGNET_ERR_CONFIG);
            assert_msg("[tenant:t64]");
        }
    }
    free(text);
}

/* ---- files -------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_load_errors(void **state)
{
    (void)state;
    char dir[256], path[320];
    assert_int_equal(sg_test_mkdtemp(dir, sizeof dir, "signet-config"), 0);
    assert_int_equal(sg_config_load(dir, &cfg, msg, sizeof msg), SIGNET_ERR_NOT_INITIALISED);
    assert_msg("does not exist");
    (void)snprintf(path, sizeof path, "%s/signet.conf", dir);
    write_file(path, MINI "[keys]\nrotation_period = 10x\n");
    assert_int_equal(sg_config_load(dir, &cfg, msg, sizeof msg), SIGNET_ERR_CONFIG);
    char want[400];
    (void)snprintf(want, sizeof want, "%s:6: invalid value for 'rotation_period' in [keys]", path);
    assert_string_equal(msg, want);
    (void)unlink(path);
    write_file(path, MINI);
    assert_int_equal(sg_config_load(dir, &cfg, msg, sizeof msg), SIGNET_OK);
    assert_string_equal(cfg.path, path);
    sg_test_rmrf(dir);
}

static struct sg_config written;

static void load_written(const char *dir, const char *text)
{
    char path[320];
    (void)snprintf(path, sizeof path, "%s/signet.conf", dir);
    (void)unlink(path);
    assert_int_equal(sg_config_parse_string(text, dir, &written, msg, sizeof msg), SIGNET_OK);
    assert_int_equal(sg_config_write(&written, path), SIGNET_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* both sides read it, neither writes */
    assert_int_equal(sg_config_write(&written, path), SIGNET_ERR_EXISTS);
    if (sg_config_load(dir, &cfg, msg, sizeof msg) != SIGNET_OK)
        fail_msg("written config does not load: %s", msg);
}

#define SAME_STR(f)                                                                            \
    do {                                                                                       \
        if (strcmp(written.f, cfg.f) != 0)                                                     \
            fail_msg(#f ": wrote '%s', read '%s'", written.f, cfg.f);                          \
    } while (0)
#define SAME_INT(f)                                                                            \
    do {                                                                                       \
        if (written.f != cfg.f)                                                                \
            fail_msg(#f ": wrote %lld, read %lld", (long long)written.f, (long long)cfg.f);   \
    } while (0)

static void assert_same_config(void)
{
    SAME_STR(module);
    SAME_STR(module_dirs);
    SAME_STR(token_label);
    SAME_STR(pin_file);
    SAME_STR(so_pin_file);
    SAME_STR(softhsm_conf);
    SAME_INT(sessions);
    SAME_INT(rotation_period);
    SAME_INT(jwks_max_age);
    SAME_INT(clock_skew);
    SAME_INT(max_token_lifetime);
    SAME_INT(max_key_age);
    SAME_STR(store);
    SAME_STR(audit_log);
    SAME_STR(signer_user);
    SAME_INT(sandbox);
    SAME_STR(clock_file);
    SAME_INT(allow_short_rotation);
    SAME_INT(n_tenants);
    for (size_t i = 0; i < written.n_tenants; i++) {
        SAME_STR(tenants[i].name);
        SAME_STR(tenants[i].issuer);
        SAME_INT(tenants[i].n_algs);
        for (size_t j = 0; j < written.tenants[i].n_algs; j++)
            SAME_STR(tenants[i].algs[j]);
        SAME_INT(tenants[i].token_lifetime);
        SAME_INT(tenants[i].max_token_lifetime);
    }
}

/* What `signet init` writes, with every value it can set off its default. */
static void test_write_load_roundtrip(void **state)
{
    (void)state;
    char dir[256];
    assert_int_equal(sg_test_mkdtemp(dir, sizeof dir, "signet-config"), 0);
    load_written(dir, "[hsm]\nmodule = /opt/p11/libx.so\nmodule_dirs = /opt/p11\n"
                      "token_label = tok\npin_file = /etc/signet/pin\nsessions = 5\n"
                      "[keys]\nrotation_period = 2d\njwks_max_age = 10m\nclock_skew = 30s\n"
                      "max_token_lifetime = 2h\n[signer]\nsandbox = no\n"
                      "[tenant:a]\nissuer = https://a.example\nalgs = EdDSA, PS256\n"
                      "token_lifetime = 15m\n"
                      "[tenant:b-2]\nissuer = http://127.0.0.1:8080/b\nalgs = ES256\n");
    assert_same_config();
    load_written(dir, MINI);
    assert_same_config();
    sg_test_rmrf(dir);
}

/* Every setting survives sg_config_write: a rewritten file that silently
 * drops one (or no longer loads) changes the deployment. */
static void test_write_keeps_every_setting(void **state)
{
    (void)state;
    char dir[256];
    assert_int_equal(sg_test_mkdtemp(dir, sizeof dir, "signet-config"), 0);
    load_written(dir, MINI "max_token_lifetime = 30m\n[keys]\nmax_key_age = 400d\n"
                      "[store]\nurl = sqlite:/srv/signet/other.db\n[signer]\nuser = signet\n"
                      "[testing]\nclock_file = clock\n");
    assert_same_config();
    sg_test_rmrf(dir);
}

/* A key given twice, or continued on an indented line, is refused with the
 * line of the repetition; a sign before a duration is refused. */
static void test_duplicate_keys(void **state)
{
    (void)state;
    assert_int_equal(parsef(MINI "[keys]\nclock_skew = 30s\nclock_skew = 40s\n"), SIGNET_ERR_CONFIG);
    assert_non_null(strstr(msg, "signet.conf:7: duplicate key 'clock_skew' in [keys]"));
    assert_int_equal(parsef(MINI "[keys]\nclock_skew = 30s\n  40s\n"), SIGNET_ERR_CONFIG);
    assert_non_null(strstr(msg, "duplicate key"));
    /* The same key in two tenants is fine. */
    assert_int_equal(parsef(MINI "[tenant:other]\nissuer = https://other.example\n"), SIGNET_OK);
    assert_int_equal(parsef(MINI "[keys]\nclock_skew = +30s\n"), SIGNET_ERR_CONFIG);
    assert_int_equal(parsef(MINI "[keys]\nclock_skew = -0\n"), SIGNET_ERR_CONFIG);
}

/* Telemetry has a loopback listener of its own by default; telemetry_listen
 * moves it or turns it off, and may not share the public port. Discovery's
 * scopes_supported is an opt-in list of RFC 6749 scope tokens. */
static void test_telemetry_and_scopes(void **state)
{
    (void)state;
    assert_int_equal(parse(MINI), SIGNET_OK);
    assert_string_equal(cfg.server.telemetry_host, "127.0.0.1");
    assert_int_equal(cfg.server.telemetry_port, SG_TELEMETRY_PORT);
    assert_int_equal(cfg.server.telemetry_public, 0);
    assert_string_equal(cfg.tenants[0].scopes_supported, "");
    assert_int_equal(parse(MINI "[server]\ntelemetry_listen = [::1]:9100\n"), SIGNET_OK);
    assert_string_equal(cfg.server.telemetry_host, "::1");
    assert_int_equal(cfg.server.telemetry_port, 9100);
    assert_int_equal(parse(MINI "[server]\ntelemetry_listen = off\ntelemetry_public = true\n"),
                     SIGNET_OK);
    assert_int_equal(cfg.server.telemetry_port, 0);
    assert_int_equal(cfg.server.telemetry_public, 1);
    assert_int_equal(parse(MINI "[server]\ntelemetry_listen = localhost:9100\n"), SIGNET_ERR_CONFIG);
    assert_msg("invalid value for 'telemetry_listen'");
    assert_int_equal(parse(MINI "[server]\nlisten = 127.0.0.1:9100\n"
                                "telemetry_listen = 127.0.0.1:9100\n"),
                     SIGNET_ERR_CONFIG);
    assert_msg("another port");
    /* [server] location_header: an HTTP field name, unset by default. */
    assert_int_equal(parse(MINI), SIGNET_OK);
    assert_string_equal(cfg.server.location_header, "");
    assert_int_equal(parse(MINI "[server]\nlocation_header = CloudFront-Viewer-Country\n"),
                     SIGNET_OK);
    assert_string_equal(cfg.server.location_header, "CloudFront-Viewer-Country");
    static const char *const bad_headers[] = {"", "X Geo", "X-Geo:", "X-G\xc3\xa9o",
                                              ("X-0123456789012345678901234567890123456789"
                                               "012345678901234567890123456789")};
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        assert_int_equal(parsef(MINI "[server]\nlocation_header = %s\n", bad_headers[i]),
                         SIGNET_ERR_CONFIG);
        assert_msg("location_header");
    }
    /* The public listener on the default telemetry port: no telemetry listener. */
    assert_int_equal(parse(MINI "[server]\nlisten = 127.0.0.1:9464\n"), SIGNET_OK);
    assert_int_equal(cfg.server.telemetry_port, 0);
    assert_int_equal(parse(MINI "scopes_supported = read write:all\n"), SIGNET_OK);
    assert_string_equal(cfg.tenants[0].scopes_supported, "read write:all");
    static const char *const bad[] = {"", "read  write", "read\tx", "r\"x", "r\\x",
                                      "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parsef(MINI "scopes_supported = %s\n", bad[i]), SIGNET_ERR_CONFIG);
        assert_msg("scopes_supported");
    }
}

/* The mfa policy (issue 14): approval_or_passkey by default; no value
 * turns the second step off; sg_config_write keeps it. */
static void test_tenant_mfa(void **state)
{
    (void)state;
    assert_int_equal(parse(MINI), SIGNET_OK);
    assert_int_equal(cfg.tenants[0].mfa, SG_MFA_APPROVAL_OR_PASSKEY);
    assert_int_equal(parse(MINI "mfa = phishing_resistant\n"), SIGNET_OK);
    assert_int_equal(cfg.tenants[0].mfa, SG_MFA_PHISHING_RESISTANT);
    assert_int_equal(parse(MINI "mfa = any\n"), SIGNET_OK);
    assert_int_equal(cfg.tenants[0].mfa, SG_MFA_ANY);
    static const char *const bad[] = {"", "off", "none", "false", "password", "Any"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parsef(MINI "mfa = %s\n", bad[i]), SIGNET_ERR_CONFIG);
        assert_msg("mfa");
    }
    char dir[256];
    assert_int_equal(sg_test_mkdtemp(dir, sizeof dir, "signet-config"), 0);
    load_written(dir, MINI "mfa = phishing_resistant\n");
    assert_same_config();
    assert_int_equal(cfg.tenants[0].mfa, SG_MFA_PHISHING_RESISTANT);
    sg_test_rmrf(dir);
}

/* DPoP (issue 12): the tenant's default client policy (allowed) and its
 * nonce switch (required); any other value names its key. */
static void test_tenant_dpop(void **state)
{
    (void)state;
    assert_int_equal(parse(MINI), SIGNET_OK);
    assert_int_equal(cfg.tenants[0].dpop, SG_DPOP_POLICY_ALLOWED);
    assert_int_equal(cfg.tenants[0].dpop_nonce, 1);
    assert_int_equal(parse(MINI "dpop = required\ndpop_nonce = off\n"), SIGNET_OK);
    assert_int_equal(cfg.tenants[0].dpop, SG_DPOP_POLICY_REQUIRED);
    assert_int_equal(cfg.tenants[0].dpop_nonce, 0);
    assert_int_equal(parse(MINI "dpop = forbidden\ndpop_nonce = required\n"), SIGNET_OK);
    assert_int_equal(cfg.tenants[0].dpop, SG_DPOP_POLICY_FORBIDDEN);
    assert_int_equal(cfg.tenants[0].dpop_nonce, 1);
    static const char *const bad_dpop[] = {"", "Required", "yes", "on", "bound"};
    for (size_t i = 0; i < sizeof bad_dpop / sizeof bad_dpop[0]; i++) {
        assert_int_equal(parsef(MINI "dpop = %s\n", bad_dpop[i]), SIGNET_ERR_CONFIG);
        assert_msg("dpop");
        assert_int_equal(parsef(MINI "dpop_nonce = %s\n", bad_dpop[i]), SIGNET_ERR_CONFIG);
        assert_msg("dpop_nonce");
    }
    /* sg_config_write keeps both. */
    char dir[256];
    assert_int_equal(sg_test_mkdtemp(dir, sizeof dir, "signet-config"), 0);
    load_written(dir, MINI "dpop = required\ndpop_nonce = off\n");
    assert_same_config();
    assert_int_equal(cfg.tenants[0].dpop, SG_DPOP_POLICY_REQUIRED);
    assert_int_equal(cfg.tenants[0].dpop_nonce, 0);
    sg_test_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_paths_resolved_against_state),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_unknown_names_line_numbers),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_rotation_minimum),
        cmocka_unit_test(test_prepublish_within_period),
        cmocka_unit_test(test_max_key_age),
        cmocka_unit_test(test_tenants),
        cmocka_unit_test(test_tenant_names),
        cmocka_unit_test(test_long_tenant_names_not_merged),
        cmocka_unit_test(test_tenant_limit),
        cmocka_unit_test(test_tenant_dpop),
        cmocka_unit_test(test_tenant_mfa),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_write_load_roundtrip),
        cmocka_unit_test(test_write_keeps_every_setting),
        cmocka_unit_test(test_telemetry_and_scopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
