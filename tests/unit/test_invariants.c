/* Invariant checks I1-I9 with crafted inputs: a clean lifecycle raises
 * nothing, and each way of breaking an invariant is caught with a message
 * that names the culprit. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "telemetry/invariants.h"
#include "util/log.h"

#define ISS "https://a.example/t/a"
#define ISS_B "https://b.example/t/b"
#define NOW 1000000
/* rotation 1h, jwks_max_age 5m, skew 60s: prepublish 360; max lifetime 1h:
 * retire window 3660. */
static const char conf[] = "[hsm]\nmodule = /usr/lib/softhsm/libsofthsm2.so\n"
                           "[keys]\nrotation_period = 1h\njwks_max_age = 5m\nclock_skew = 60s\n"
                           "max_token_lifetime = 1h\n"
                           "[tenant:a]\nissuer = " ISS "\n"
                           "[tenant:b]\nissuer = " ISS_B "\n";

struct fx {
    struct sg_config cfg;
    struct sg_telemetry_cfg tcfg;
    struct sg_tm_key keys[16];
    size_t n;
    struct sg_tm_object objs[16];
    size_t n_objs;
    struct sg_tm_signer signers[2];
    char *jwks[2];
    struct sg_inv_input in;
};

static void key(struct fx *f, const char *kid, const char *iss, int state, int64_t pub,
                int64_t act, int64_t ret, int64_t destroyed)
{
    struct sg_tm_key *k = &f->keys[f->n++];
    memset(k, 0, sizeof *k);
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    snprintf(k->issuer, sizeof k->issuer, "%s", iss);
    snprintf(k->alg, sizeof k->alg, "ES256");
    snprintf(k->hsm_id, sizeof k->hsm_id, "%032x", (unsigned)f->n);
    k->state = state;
    k->created_at = pub > 0 ? pub : NOW - 10;
    k->published_at = pub;
    k->activated_at = act;
    k->retired_at = ret;
    k->destroyed_at = destroyed;
    k->rotate_at = act > 0 ? act + 3600 : 0;
}

static void obj_for(struct fx *f, const struct sg_tm_key *k)
{
    struct sg_tm_object *o = &f->objs[f->n_objs++];
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", k->hsm_id);
    snprintf(o->label, sizeof o->label, "signet:a:%s", k->kid);
    o->sensitive = o->always_sensitive = o->never_extractable = true;
}

static char *jwks_of(const char *iss, const char *const *kids, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "kid",
                                             kids[i], "iss", iss, "alg", "ES256", "use", "sig"));
    json_t *doc = json_pack("{s:o}", "keys", arr);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

/* A healthy state: per issuer a destroyed, a retired, an active and a
 * published key; inventory, JWKS and signers that match. */
static void healthy(struct fx *f)
{
    memset(f, 0, sizeof *f);
    char err[256];
    assert_int_equal(sg_config_parse_string(conf, "/tmp", &f->cfg, err, sizeof err), SIGNET_OK);
    sg_telemetry_cfg_defaults(&f->tcfg);
    const char *issuers[2] = {ISS, ISS_B};
    for (int t = 0; t < 2; t++) {
        char k0[16], k1[16], k2[16], k3[16];
        snprintf(k0, sizeof k0, "%c-old", 'a' + t);
        snprintf(k1, sizeof k1, "%c-retired", 'a' + t);
        snprintf(k2, sizeof k2, "%c-active", 'a' + t);
        snprintf(k3, sizeof k3, "%c-standby", 'a' + t);
        /* k0: the first key, activated at publication, long destroyed. */
        key(f, k0, issuers[t], SG_KS_DESTROYED, NOW - 9000, NOW - 9000, NOW - 7200, NOW - 3540);
        key(f, k1, issuers[t], SG_KS_RETIRED, NOW - 7600, NOW - 7200, NOW - 1800, 0);
        key(f, k2, issuers[t], SG_KS_ACTIVE, NOW - 2400, NOW - 1800, 0, 0);
        key(f, k3, issuers[t], SG_KS_PUBLISHED, NOW - 1790, 0, 0, 0);
        for (size_t i = f->n - 3; i < f->n; i++)
            obj_for(f, &f->keys[i]);
        const char *served[] = {k1, k2, k3};
        f->jwks[t] = jwks_of(issuers[t], served, 3);
    }
    for (int i = 0; i < 2; i++) {
        f->signers[i].seccomp = f->signers[i].no_new_privs = f->signers[i].mlocked = true;
        f->signers[i].dumpable = false;
    }
    f->in = (struct sg_inv_input){
        .cfg = &f->cfg, .tcfg = &f->tcfg, .now = NOW, .keys = f->keys, .n_keys = f->n,
        .have_keys = true, .objects = f->objs, .n_objects = f->n_objs, .have_inventory = true,
        .signers = f->signers, .n_signers = 2, .jwks = (const char *const *)f->jwks,
        .have_jwks = true,
    };
}

static void done(struct fx *f)
{
    free(f->jwks[0]);
    free(f->jwks[1]);
}

static struct sg_tm_key *find(struct fx *f, const char *kid)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->keys[i].kid, kid) == 0)
            return &f->keys[i];
    fail_msg("no key %s", kid);
    return NULL;
}

typedef void (*check_fn)(const struct sg_inv_input *, struct sg_inv_result *);

static void expect(struct fx *f, check_fn fn, enum sg_inv_state st, const char *needle)
{
    struct sg_inv_result r;
    f->in.keys = f->keys;
    f->in.n_keys = f->n;
    f->in.n_objects = f->n_objs;
    fn(&f->in, &r);
    if (r.state != st || (needle != NULL && strstr(r.msg, needle) == NULL))
        fail_msg("state %s, message '%s' (wanted %s with '%s')", sg_inv_state_name(r.state), r.msg,
                 sg_inv_state_name(st), needle != NULL ? needle : "");
}

static const check_fn all_checks[] = {sg_inv_check_one_active, sg_inv_check_key_age,
                                      sg_inv_check_token_objects, sg_inv_check_jwks,
                                      sg_inv_check_sandbox};

static void test_clean_state_raises_nothing(void **state)
{
    (void)state;
    struct fx f;
    healthy(&f);
    for (size_t i = 0; i < sizeof all_checks / sizeof all_checks[0]; i++)
        expect(&f, all_checks[i], SG_INV_OK, NULL);
    /* Missing inputs make the checks unknown, never ok. */
    f.in.have_keys = false;
    f.in.have_inventory = false;
    f.in.n_signers = 0;
    for (size_t i = 0; i < sizeof all_checks / sizeof all_checks[0]; i++)
        expect(&f, all_checks[i], SG_INV_UNKNOWN, NULL);
    done(&f);
}

static void test_i1_one_active_and_standby(void **state)
{
    (void)state;
    struct fx f;
    healthy(&f);
    find(&f, "a-standby")->state = SG_KS_ACTIVE;
    expect(&f, sg_inv_check_one_active, SG_INV_VIOLATED, ISS " ES256 has 2 ACTIVE keys");
    done(&f);

    healthy(&f);
    find(&f, "b-active")->state = SG_KS_RETIRED;
    expect(&f, sg_inv_check_one_active, SG_INV_VIOLATED, ISS_B " ES256 has 0 ACTIVE keys");
    done(&f);

    healthy(&f);
    find(&f, "a-standby")->state = SG_KS_DESTROYED;
    expect(&f, sg_inv_check_one_active, SG_INV_VIOLATED, "has no PUBLISHED standby");
    /* Right after a promotion the new standby is still being generated. */
    find(&f, "a-active")->activated_at = NOW - 5;
    expect(&f, sg_inv_check_one_active, SG_INV_OK, NULL);
    done(&f);

    /* A revoked ACTIVE key does not count. */
    healthy(&f);
    find(&f, "a-active")->revoked = true;
    expect(&f, sg_inv_check_one_active, SG_INV_VIOLATED, "0 ACTIVE");
    done(&f);
}

static void test_i2_key_age(void **state)
{
    (void)state;
    struct fx f;
    healthy(&f);
    /* Limit: 3600 + 360 + 300 (grace). */
    find(&f, "a-active")->activated_at = NOW - 4260;
    find(&f, "a-active")->created_at = NOW - 4300;
    expect(&f, sg_inv_check_key_age, SG_INV_OK, NULL);
    find(&f, "a-active")->activated_at = NOW - 4261;
    expect(&f, sg_inv_check_key_age, SG_INV_VIOLATED, "key a-active ACTIVE for 4261s (limit 4260s)");
    done(&f);

    healthy(&f);
    find(&f, "b-retired")->retired_at = NOW - 3961; /* 3660 + 300 */
    expect(&f, sg_inv_check_key_age, SG_INV_VIOLATED, "b-retired RETIRED for 3961s, not destroyed");
    done(&f);

    healthy(&f);
    f.cfg.max_key_age = 5000;
    expect(&f, sg_inv_check_key_age, SG_INV_VIOLATED, "key a-retired is 7600s old (max_key_age 5000s)");
    done(&f);
}

static void test_i3_token_objects(void **state)
{
    (void)state;
    struct fx f;
    healthy(&f);
    f.objs[1].extractable = true;
    expect(&f, sg_inv_check_token_objects, SG_INV_VIOLATED, "object a-active is extractable");
    struct sg_inv_result r;
    sg_inv_check_token_objects(&f.in, &r);
    assert_string_equal(r.kid, "a-active");
    done(&f);

    healthy(&f);
    f.objs[2].sensitive = false;
    expect(&f, sg_inv_check_token_objects, SG_INV_VIOLATED, "not sensitive");
    done(&f);

    healthy(&f);
    f.objs[0].never_extractable = false; /* was extractable once: may have been copied */
    expect(&f, sg_inv_check_token_objects, SG_INV_VIOLATED, "was extractable");
    done(&f);

    /* A key imported or created by hand. */
    healthy(&f);
    struct sg_tm_object *o = &f.objs[f.n_objs++];
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "deadbeef");
    snprintf(o->label, sizeof o->label, "imported");
    o->sensitive = o->always_sensitive = o->never_extractable = true;
    expect(&f, sg_inv_check_token_objects, SG_INV_VIOLATED,
           "object id deadbeef (label 'imported') is not a key signet created");
    done(&f);

    /* An object whose key the store says is DESTROYED. */
    healthy(&f);
    obj_for(&f, find(&f, "a-old"));
    expect(&f, sg_inv_check_token_objects, SG_INV_VIOLATED, "still in the token after it was destroyed");
    /* ...unless it was destroyed after the inventory was taken. */
    struct sg_tm_key before[16];
    memcpy(before, f.keys, sizeof before);
    before[0].state = SG_KS_RETIRED;
    f.in.keys_before = before;
    f.in.n_keys_before = f.n;
    expect(&f, sg_inv_check_token_objects, SG_INV_OK, NULL);
    done(&f);

    /* The ACTIVE key is gone from the token. */
    healthy(&f);
    memmove(&f.objs[1], &f.objs[2], (f.n_objs - 2) * sizeof f.objs[0]);
    f.n_objs--;
    expect(&f, sg_inv_check_token_objects, SG_INV_VIOLATED, "ACTIVE key a-active has no private object");
    done(&f);
}

static void test_i4_jwks(void **state)
{
    (void)state;
    struct fx f;
    const char *a3[] = {"a-retired", "a-active", "a-standby"};
    /* The standby is missing from what is served. */
    healthy(&f);
    free(f.jwks[0]);
    f.jwks[0] = jwks_of(ISS, a3, 2);
    expect(&f, sg_inv_check_jwks, SG_INV_VIOLATED, "served JWKS of " ISS " lacks PUBLISHED key a-standby");
    /* Not yet, if it was published a moment ago. */
    find(&f, "a-standby")->published_at = NOW - 10;
    expect(&f, sg_inv_check_jwks, SG_INV_OK, NULL);
    done(&f);

    /* A destroyed key still served. */
    healthy(&f);
    const char *a4[] = {"a-retired", "a-active", "a-standby", "a-old"};
    free(f.jwks[0]);
    f.jwks[0] = jwks_of(ISS, a4, 4);
    expect(&f, sg_inv_check_jwks, SG_INV_VIOLATED, "served JWKS of " ISS " has DESTROYED key a-old");
    done(&f);

    /* A revoked key still served, a key of the other issuer, a duplicate. */
    healthy(&f);
    find(&f, "a-retired")->revoked = true;
    expect(&f, sg_inv_check_jwks, SG_INV_VIOLATED, "has revoked RETIRED key a-retired");
    done(&f);
    healthy(&f);
    const char *mixed[] = {"a-retired", "a-active", "a-standby", "b-active"};
    free(f.jwks[0]);
    f.jwks[0] = jwks_of(ISS, mixed, 4);
    expect(&f, sg_inv_check_jwks, SG_INV_VIOLATED, "has kid b-active of issuer " ISS_B);
    done(&f);
    healthy(&f);
    const char *dup[] = {"a-retired", "a-active", "a-standby", "a-active"};
    free(f.jwks[0]);
    f.jwks[0] = jwks_of(ISS, dup, 4);
    expect(&f, sg_inv_check_jwks, SG_INV_VIOLATED, "repeats kid a-active");
    done(&f);
    /* Keys that do not name the issuer they are served for. */
    healthy(&f);
    free(f.jwks[0]);
    f.jwks[0] = jwks_of(ISS_B, a3, 3);
    expect(&f, sg_inv_check_jwks, SG_INV_VIOLATED, "has 3 keys without its issuer");
    done(&f);
    healthy(&f);
    free(f.jwks[1]);
    f.jwks[1] = strdup("{\"keys\":[{\"kid\":1}]}");
    expect(&f, sg_inv_check_jwks, SG_INV_VIOLATED, "served JWKS of " ISS_B " does not parse");
    done(&f);

    /* Activated before the pre-publication time was over. */
    healthy(&f);
    find(&f, "a-active")->published_at = NOW - 2000; /* 200 s before activation */
    expect(&f, sg_inv_check_jwks, SG_INV_VIOLATED, "key a-active became ACTIVE 200s after publication");
    /* ...is fine for the emergency successor of a revoked key. */
    find(&f, "a-retired")->revoked = true;
    find(&f, "a-retired")->retired_at = NOW - 1800;
    find(&f, "a-retired")->state = SG_KS_DESTROYED;
    find(&f, "a-retired")->destroyed_at = NOW - 1800;
    free(f.jwks[0]);
    f.jwks[0] = jwks_of(ISS, a3 + 1, 2);
    expect(&f, sg_inv_check_jwks, SG_INV_OK, NULL);
    done(&f);
    /* The first key of an issuer (a-old) is exempt, as the clean state shows;
     * without a served JWKS the comparison is unknown. */
    healthy(&f);
    f.in.have_jwks = false;
    expect(&f, sg_inv_check_jwks, SG_INV_UNKNOWN, "no served JWKS");
    done(&f);
}

static void test_i5_signature_counts(void **state)
{
    (void)state;
    struct sg_inv_sigcount sc;
    memset(&sc, 0, sizeof sc);
    struct sg_tm_signer s[2];
    memset(s, 0, sizeof s);
    struct sg_inv_result r;
    s[0].signatures = 10;
    s[1].signatures = 5;
    sg_inv_sigcount_check(&sc, s, 2, 100, 120, 0, &r); /* baseline */
    assert_int_equal(r.state, SG_INV_OK);
    s[0].signatures = 20;
    s[1].signatures = 8; /* 13 more */
    sg_inv_sigcount_check(&sc, s, 2, 110, 113, 0, &r);
    assert_int_equal(r.state, SG_INV_OK);
    /* Records from CLI signers are extra, never a violation. */
    sg_inv_sigcount_check(&sc, s, 2, 500, 600, 0, &r);
    assert_int_equal(r.state, SG_INV_OK);
    /* A signature without its record. */
    s[0].signatures = 120;
    s[1].signatures = 90; /* 195 more than the baseline, 200 new records... */
    sg_inv_sigcount_check(&sc, s, 2, 600, 150, 0, &r);
    assert_int_equal(r.state, SG_INV_VIOLATED);
    assert_non_null(strstr(r.msg, "signers made 195 signatures since the baseline but the log holds 50"));
    /* A signer restarts: new baseline, not a violation. */
    s[1].signatures = 0;
    sg_inv_sigcount_check(&sc, s, 2, 700, 700, 0, &r);
    assert_int_equal(r.state, SG_INV_OK);
    s[0].signatures = 121;
    sg_inv_sigcount_check(&sc, s, 2, 700, 700, 0, &r);
    assert_int_equal(r.state, SG_INV_VIOLATED);
    assert_non_null(strstr(r.msg, "signers made 1 signatures since the baseline but the log holds 0"));
    /* The log was re-read from the start: new baseline. */
    sg_inv_sigcount_check(&sc, s, 2, 10, 10, 1, &r);
    assert_int_equal(r.state, SG_INV_OK);
}

static void test_i6_sign_records(void **state)
{
    (void)state;
    struct fx f;
    healthy(&f);
    char msg[512];
    struct sg_tm_sign s = {.seq = 7, .time = NOW - 100, .kid = "a-active", .iss = ISS,
                           .jti = "j", .iat = NOW - 100, .exp = NOW - 100 + 3600 + 60};
    assert_int_equal(sg_inv_check_sign(&f.cfg, f.keys, f.n, &s, msg, sizeof msg), 0);
    s.exp++;
    assert_int_equal(sg_inv_check_sign(&f.cfg, f.keys, f.n, &s, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "record 7: token of key a-active expires at"));
    /* Signed by a RETIRED key after its retirement. */
    s = (struct sg_tm_sign){.seq = 8, .time = NOW - 1000, .kid = "a-retired", .iss = ISS,
                            .jti = "j", .exp = NOW - 1000 + 600};
    assert_int_equal(sg_inv_check_sign(&f.cfg, f.keys, f.n, &s, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "key a-retired signed at"));
    /* Before retirement, within its window: fine. */
    s.time = NOW - 1900;
    s.exp = NOW - 1900 + 3600 + 60;
    assert_int_equal(sg_inv_check_sign(&f.cfg, f.keys, f.n, &s, msg, sizeof msg), 0);
    /* A PUBLISHED key does not sign. */
    s = (struct sg_tm_sign){.seq = 9, .time = NOW, .kid = "a-standby", .iss = ISS, .jti = "j",
                            .exp = NOW + 60};
    assert_int_equal(sg_inv_check_sign(&f.cfg, f.keys, f.n, &s, msg, sizeof msg), 1);
    /* Another issuer's key. */
    s.kid = "b-active";
    assert_int_equal(sg_inv_check_sign(&f.cfg, f.keys, f.n, &s, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "key b-active of " ISS_B " signed a token of " ISS));
    /* An unknown kid: the caller looks again with a newer key list. */
    s.kid = "nobody";
    assert_int_equal(sg_inv_check_sign(&f.cfg, f.keys, f.n, &s, msg, sizeof msg), -1);
    done(&f);
}

static void test_i8_sandbox(void **state)
{
    (void)state;
    struct fx f;
    healthy(&f);
    f.signers[1].dumpable = true;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "signer 1 is dumpable");
    done(&f);
    healthy(&f);
    f.signers[0].seccomp = false;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED,
           "signer 0 runs without seccomp although [signer] sandbox = true");
    /* sandbox = false is a finding in itself. */
    f.cfg.sandbox = 0;
    f.signers[0].no_new_privs = false;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "[signer] sandbox = false");
    /* A build without the sandbox: unknown, unless the config turns it off
     * or a signer is dumpable. */
    f.in.sandbox_compiled_out = true;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "[signer] sandbox = false");
    f.cfg.sandbox = 1;
    expect(&f, sg_inv_check_sandbox, SG_INV_UNKNOWN, "SIGNET_SANDBOX=OFF");
    f.signers[0].seccomp = f.signers[0].no_new_privs = true; /* it did sandbox after all */
    expect(&f, sg_inv_check_sandbox, SG_INV_OK, NULL);
    f.signers[0].seccomp = false;
    f.signers[1].dumpable = true;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "signer 1 is dumpable");
    done(&f);
}

/* I8's front half: the front end's own sandbox, as signetd reports it. */
static void test_i8_frontend(void **state)
{
    (void)state;
    struct fx f;
    healthy(&f);
    struct sg_tm_frontend fe = {.boundary_enforced = true, .uid = 999, .entered = true,
                                .seccomp = true, .no_new_privs = true, .caps_dropped = true};
    f.in.frontend = &fe;
    expect(&f, sg_inv_check_sandbox, SG_INV_OK, NULL);
    /* The trust boundary is not I8's business: one account is a supported
     * mode, said plainly elsewhere. */
    fe.boundary_enforced = false;
    expect(&f, sg_inv_check_sandbox, SG_INV_OK, NULL);
    fe.seccomp = false;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "the front end runs without seccomp");
    fe.seccomp = true;
    fe.caps_dropped = false;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "the front end still holds capabilities");
    fe.caps_dropped = true;
    fe.no_new_privs = false;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "the front end runs without no-new-privs");
    fe.no_new_privs = true;
    fe.dumpable = true;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "the front end is dumpable");
    fe.dumpable = false;
    /* Both processes at fault: the message names each. */
    fe.seccomp = false;
    f.signers[1].seccomp = false;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED,
           "the front end runs without seccomp; signer 1 runs without seccomp");
    f.signers[1].seccomp = true;
    /* A front end finding needs no signer STATUS. */
    f.in.n_signers = 0;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "the front end runs without seccomp");
    fe.seccomp = true;
    expect(&f, sg_inv_check_sandbox, SG_INV_UNKNOWN, "no signer STATUS");
    f.in.n_signers = 2;
    /* Before sd_sandbox_enter: nothing to vouch for yet. */
    fe.entered = false;
    fe.seccomp = fe.no_new_privs = fe.caps_dropped = false;
    expect(&f, sg_inv_check_sandbox, SG_INV_UNKNOWN, "has not entered its sandbox");
    /* A build without the sandbox: unknown, unless a process is dumpable. */
    fe.entered = true;
    f.in.sandbox_compiled_out = true;
    expect(&f, sg_inv_check_sandbox, SG_INV_UNKNOWN, "SIGNET_SANDBOX=OFF");
    fe.dumpable = true;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "the front end is dumpable");
    fe.dumpable = false;
    fe.seccomp = fe.no_new_privs = fe.caps_dropped = true;
    expect(&f, sg_inv_check_sandbox, SG_INV_OK, NULL);
    f.in.sandbox_compiled_out = false;
    /* No front end beside the checks (the CLI): the signers alone. */
    f.in.frontend = NULL;
    expect(&f, sg_inv_check_sandbox, SG_INV_OK, NULL);
    f.signers[0].no_new_privs = false;
    expect(&f, sg_inv_check_sandbox, SG_INV_VIOLATED, "signer 0 runs without no-new-privs");
    done(&f);
}

/* I9: the reports the monitor keeps. None: ok (not unknown: nothing to
 * fetch). One younger than the window: violated, naming the issuer and the
 * user id; it holds again once the window has passed. */
static void test_i9_passkey_counter(void **state)
{
    (void)state;
    struct fx f;
    healthy(&f);
    expect(&f, sg_inv_check_passkey, SG_INV_OK, NULL);
    struct sg_inv_passkey p[2];
    memset(p, 0, sizeof p);
    p[0].time = NOW - 100;
    p[0].stored = 7;
    p[0].presented = 3;
    snprintf(p[0].issuer, sizeof p[0].issuer, "%s", ISS);
    snprintf(p[0].user_id, sizeof p[0].user_id, "uAAAAAAAAAAAAAAAAAAAAAA");
    f.in.passkeys = p;
    f.in.n_passkeys = 1;
    expect(&f, sg_inv_check_passkey, SG_INV_VIOLATED,
           "passkey of user uAAAAAAAAAAAAAAAAAAAAAA of a (" ISS ") presented signature counter "
           "3 after 7");
    /* Two recent ones: the latest is named, with the count. */
    p[1] = p[0];
    p[1].time = NOW - 10;
    snprintf(p[1].issuer, sizeof p[1].issuer, "%s", ISS_B);
    snprintf(p[1].user_id, sizeof p[1].user_id, "uBBBB");
    f.in.n_passkeys = 2;
    expect(&f, sg_inv_check_passkey, SG_INV_VIOLATED, "user uBBBB of b (" ISS_B ")");
    expect(&f, sg_inv_check_passkey, SG_INV_VIOLATED, "(2 reports in 86400s)");
    /* The window: the older one has aged out, then both. */
    f.in.now = p[0].time + SG_INV_PASSKEY_WINDOW;
    expect(&f, sg_inv_check_passkey, SG_INV_VIOLATED, "user uBBBB");
    struct sg_inv_result r;
    sg_inv_check_passkey(&f.in, &r);
    assert_null(strstr(r.msg, "reports in"));
    f.in.now = p[1].time + SG_INV_PASSKEY_WINDOW;
    expect(&f, sg_inv_check_passkey, SG_INV_OK, NULL);

    /* What the monitor takes from the front end. */
    const struct sg_config *c = &f.cfg;
    assert_int_equal(sg_inv_passkey_valid(c, ISS, "uAAAA", 7, 3), SIGNET_OK);
    assert_int_equal(sg_inv_passkey_valid(c, ISS, "u-_09", 7, 7), SIGNET_OK); /* not forward */
    assert_int_equal(sg_inv_passkey_valid(c, ISS, "uAAAA", 7, 0), SIGNET_OK);
    /* An issuer that is no tenant's (nor a prefix or a variant of one). */
    assert_int_equal(sg_inv_passkey_valid(c, "https://evil.example/t/a", "uAAAA", 7, 3),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_inv_passkey_valid(c, ISS "/", "uAAAA", 7, 3), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_inv_passkey_valid(c, "", "uAAAA", 7, 3), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_inv_passkey_valid(NULL, ISS, "uAAAA", 7, 3), SIGNET_ERR_NOT_FOUND);
    /* Counters that show no regression: a synced passkey (0 and 0), a
     * counter that moved forward. */
    assert_int_equal(sg_inv_passkey_valid(c, ISS, "uAAAA", 0, 0), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_inv_passkey_valid(c, ISS, "uAAAA", 0, 5), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_inv_passkey_valid(c, ISS, "uAAAA", 7, 8), SIGNET_ERR_MALFORMED);
    /* User ids: base64url only, 1..64 bytes (they reach logs, the audit
     * log and the webhook). */
    assert_int_equal(sg_inv_passkey_valid(c, ISS, "", 7, 3), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_inv_passkey_valid(c, ISS, NULL, 7, 3), SIGNET_ERR_MALFORMED);
    static const char *const bad[] = {"u a", "u\"", "u\n", "u<b>", "u/.", "u=", "\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sg_inv_passkey_valid(c, ISS, bad[i], 7, 3), SIGNET_ERR_MALFORMED);
    char id[SG_INV_PASSKEY_USER_MAX + 2];
    memset(id, 'u', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    assert_int_equal(sg_inv_passkey_valid(c, ISS, id, 7, 3), SIGNET_ERR_MALFORMED);
    id[SG_INV_PASSKEY_USER_MAX] = '\0';
    assert_int_equal(sg_inv_passkey_valid(c, ISS, id, 7, 3), SIGNET_OK);
    done(&f);
}

static void test_parse_status_and_inventory(void **state)
{
    (void)state;
    const char *status =
        "{\"audit_seq\":42,\"hsm\":{\"errors\":1,\"session_reopens\":2,\"signatures\":9},"
        "\"keys\":[{\"activated_at\":100,\"alg\":\"ES256\",\"created_at\":90,\"destroyed_at\":0,"
        "\"hsm_id\":\"00112233445566778899aabbccddeeff\",\"issuer\":\"" ISS "\",\"kid\":\"k1\","
        "\"published_at\":95,\"retired_at\":0,\"revoked\":false,\"rotate_at\":3700,"
        "\"state\":\"ACTIVE\"}],\"now\":200,\"sandbox\":{\"dumpable\":false,\"mlocked\":true,"
        "\"no_new_privs\":true,\"seccomp\":true},\"signer\":{\"batches\":3,\"refusals\":0,"
        "\"signatures\":9},\"timing\":{\"next_transition_in\":3500,\"prepublish\":360,"
        "\"retire_window\":3660,\"rotation_period\":3600},\"version\":\"0.1.0\"}";
    struct sg_tm_signer sig;
    struct sg_tm_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(sg_tm_parse_status(status, strlen(status), &sig, &keys, &n), SIGNET_OK);
    assert_int_equal(n, 1);
    assert_string_equal(keys[0].kid, "k1");
    assert_int_equal(keys[0].state, SG_KS_ACTIVE);
    assert_int_equal(sig.signatures, 9);
    assert_int_equal(sig.audit_seq, 42);
    assert_true(sig.seccomp && !sig.dumpable);
    assert_int_equal(sig.next_transition_in, 3500);
    free(keys);
    /* Junk, wrong types, duplicates. */
    static const char *const bad[] = {"", "[]", "{\"now\":1}", "{\"now\":1,\"now\":2}",
                                      "{\"now\":\"1\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(sg_tm_parse_status(bad[i], strlen(bad[i]), &sig, &keys, &n), SIGNET_OK);
    const char *inv = "[{\"always_sensitive\":true,\"extractable\":false,\"id\":\"0011\","
                      "\"key_type\":3,\"label\":\"x\\u0001y\",\"never_extractable\":true,"
                      "\"sensitive\":true}]";
    struct sg_tm_object *objs = NULL;
    assert_int_equal(sg_tm_parse_inventory(inv, strlen(inv), &objs, &n), SIGNET_OK);
    assert_int_equal(n, 1);
    assert_string_equal(objs[0].id, "0011");
    assert_string_equal(objs[0].label, "x?y");
    free(objs);
    const char *inv_bad = "[{\"id\":\"0011\",\"sensitive\":1}]";
    assert_int_not_equal(sg_tm_parse_inventory(inv_bad, strlen(inv_bad), &objs, &n), SIGNET_OK);
}

static void test_table_and_config(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct sg_telemetry_cfg c;
    sg_telemetry_cfg_defaults(&c);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "i5", "10s"), 1);
    sg_invariants_print(f, &c);
    fclose(f);
    for (int i = 1; i <= SG_INV_COUNT; i++) {
        char id[8];
        snprintf(id, sizeof id, "I%d  ", i);
        assert_non_null(strstr(buf, id));
    }
    assert_non_null(strstr(buf, "I5  audit_complete           critical every 10s"));
    free(buf);
    json_t *j = sg_invariants_json(NULL);
    assert_int_equal(json_array_size(j), SG_INV_COUNT);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 6), "id")), "I7");
    const json_t *i9 = json_array_get(j, SG_INV_PASSKEY_COUNTER);
    assert_string_equal(json_string_value(json_object_get(i9, "id")), "I9");
    assert_string_equal(json_string_value(json_object_get(i9, "name")), "passkey_counter");
    assert_string_equal(json_string_value(json_object_get(i9, "severity")), "critical");
    assert_false(json_is_true(json_object_get(i9, "rotates_key")));
    json_decref(j);
    /* The config hook: handled, invalid, unknown. */
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "webhook_url", "https://hooks.example/x"), 1);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "webhook_url", "ftp://x"), 0);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "webhook_url", "http://a b"), 0);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "on_critical", "rotate"), 1);
    assert_int_equal(c.on_critical, SG_ON_CRITICAL_ROTATE);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "on_critical", "panic"), 0);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "command", "notify-send"), 0);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "command", "/usr/bin/logger -t signet"), 1);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "coalesce_window", "2m"), 1);
    assert_int_equal(c.coalesce_window, 120);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "webhook_backoff", "250ms"), 1);
    assert_int_equal(c.webhook_backoff_ms, 250);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "webhook_backoff", "2s"), 1);
    assert_int_equal(c.webhook_backoff_ms, 2000);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "webhook_timeout", "0"), 0);
    assert_int_equal(sg_telemetry_cfg_set(&c, "alerts", "bogus", "1"), -1);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "i9", "1s"), 1);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "i10", "1s"), 1);
    assert_int_equal(c.intervals[9], 1);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "i11", "1s"), -1);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "i01", "1s"), -1);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "i100", "1s"), -1);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "i0", "1s"), -1);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "interval", "-1"), 0);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "index_max", "10"), 0);
    assert_int_equal(sg_telemetry_cfg_set(&c, "keys", "rotation_period", "1h"), -1);
    assert_int_equal(sg_telemetry_interval(&c, 4, 30), 10);
    assert_int_equal(sg_telemetry_interval(&c, 0, 60), 60);
    /* interval bounds every period from above; a shorter default stays. */
    assert_int_equal(sg_telemetry_interval(&c, 2, 300), 60);
    assert_int_equal(sg_telemetry_interval(&c, 5, 30), 30);
    assert_int_equal(sg_inv_period(NULL, 2), 300);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "audit_full_verify", "2s"), 1);
    assert_int_equal(c.audit_full_verify, 2);
    assert_int_equal(sg_telemetry_cfg_set(&c, "invariants", "audit_full_verify", "0"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_state_raises_nothing),
        cmocka_unit_test(test_i1_one_active_and_standby),
        cmocka_unit_test(test_i2_key_age),
        cmocka_unit_test(test_i3_token_objects),
        cmocka_unit_test(test_i4_jwks),
        cmocka_unit_test(test_i5_signature_counts),
        cmocka_unit_test(test_i6_sign_records),
        cmocka_unit_test(test_i8_sandbox),
        cmocka_unit_test(test_i8_frontend),
        cmocka_unit_test(test_i9_passkey_counter),
        cmocka_unit_test(test_parse_status_and_inventory),
        cmocka_unit_test(test_table_and_config),
    };
    sg_log_init("test_invariants", SG_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
