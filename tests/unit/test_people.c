/* src/store/people_sqlite.c: people in the front store (people.h). Every
 * function round-trips; a row of one tenant is never seen through
 * another; the single-use secrets (enrolment links, challenges, codes,
 * refresh tokens) are single use, also when two store handles race for
 * them; expiry, revocation, disabling and removal end what they should. */
#include "testutil.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/people.h"
#include "store/store.h"
#include "util/log.h"

#define T1 "t1"
#define T2 "t2"
#define NOW 1700000000

static char dir[256];
static char path[320];
static struct sg_store *s;

static int setup(void **state)
{
    (void)state;
    if (sg_test_mkdtemp(dir, sizeof dir, "signet-people") != 0)
        return -1;
    (void)snprintf(path, sizeof path, "%s/front.db", dir);
    return sg_store_open(path, 1, &s) == SIGNET_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sg_store_close(&s);
    sg_test_rmrf(dir);
    return 0;
}

/* A 43-character stand-in for a base64url SHA-256, distinct per tag. */
static const char *h(const char *tag, char out[SG_PEOPLE_HASH_LEN + 1])
{
    memset(out, 'A', SG_PEOPLE_HASH_LEN);
    out[SG_PEOPLE_HASH_LEN] = '\0';
    size_t n = strlen(tag);
    memcpy(out, tag, n < SG_PEOPLE_HASH_LEN ? n : SG_PEOPLE_HASH_LEN);
    return out;
}

/* Rows of a table (through a separate connection: what is on disk). */
static int rows(const char *table, const char *where)
{
    char q[512];
    (void)snprintf(q, sizeof q, "SELECT count(*) FROM %s%s%s", table, where ? " WHERE " : "",
                   where ? where : "");
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void sql(const char *stmt)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, stmt, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", stmt, err != NULL ? err : "?");
    sqlite3_close(db);
}

static struct sg_user user(const char *tenant, const char *id, const char *name)
{
    struct sg_user u;
    memset(&u, 0, sizeof u);
    (void)snprintf(u.tenant, sizeof u.tenant, "%s", tenant);
    (void)snprintf(u.id, sizeof u.id, "%s", id);
    (void)snprintf(u.name, sizeof u.name, "%s", name);
    (void)snprintf(u.email, sizeof u.email, "%s@example.org", name);
    u.created_at = NOW;
    return u;
}

static void add_user(const char *tenant, const char *id, const char *name)
{
    struct sg_user u = user(tenant, id, name);
    assert_int_equal(sg_people_user_add(s, &u), SIGNET_OK);
}

static struct sg_session session(const char *tenant, const char *tag, const char *sid,
                                 const char *user_id)
{
    struct sg_session x;
    memset(&x, 0, sizeof x);
    (void)snprintf(x.tenant, sizeof x.tenant, "%s", tenant);
    h(tag, x.hash);
    (void)snprintf(x.sid, sizeof x.sid, "%s", sid);
    (void)snprintf(x.user_id, sizeof x.user_id, "%s", user_id);
    (void)snprintf(x.acr, sizeof x.acr, "urn:signet:acr:phr");
    (void)snprintf(x.amr, sizeof x.amr, "hwk user mfa");
    x.auth_time = NOW;
    x.created_at = NOW;
    x.last_seen = NOW;
    x.idle_expires = NOW + 1800;
    x.expires_at = NOW + 36000;
    return x;
}

static struct sg_passkey passkey(const char *tenant, const char *user_id, uint8_t tag,
                                 size_t id_len)
{
    struct sg_passkey p;
    memset(&p, 0, sizeof p);
    (void)snprintf(p.tenant, sizeof p.tenant, "%s", tenant);
    (void)snprintf(p.user_id, sizeof p.user_id, "%s", user_id);
    memset(p.cred_id, tag, id_len);
    p.cred_id[0] = 0; /* an embedded NUL: ids are bytes */
    p.cred_id_len = id_len;
    p.alg = -7;
    for (size_t i = 0; i < 77; i++)
        p.pubkey[i] = (uint8_t)(i ^ tag);
    p.pubkey_len = 77;
    p.sign_count = 5;
    p.flags = SG_PASSKEY_UP | SG_PASSKEY_UV | SG_PASSKEY_BE;
    (void)snprintf(p.aaguid, sizeof p.aaguid, "00000000-0000-0000-0000-000000000000");
    (void)snprintf(p.transports, sizeof p.transports, "internal hybrid");
    p.created_at = NOW + tag;
    p.last_used_at = NOW + tag;
    return p;
}

static struct sg_authcode code(const char *tenant, const char *tag, const char *user_id,
                               const char *sid)
{
    struct sg_authcode c;
    memset(&c, 0, sizeof c);
    (void)snprintf(c.tenant, sizeof c.tenant, "%s", tenant);
    h(tag, c.hash);
    (void)snprintf(c.client_id, sizeof c.client_id, "web");
    (void)snprintf(c.redirect_uri, sizeof c.redirect_uri, "https://app.example/cb");
    h("pkce", c.code_challenge);
    (void)snprintf(c.user_id, sizeof c.user_id, "%s", user_id);
    (void)snprintf(c.sid, sizeof c.sid, "%s", sid);
    (void)snprintf(c.scope, sizeof c.scope, "openid email");
    (void)snprintf(c.nonce, sizeof c.nonce, "n-0S6_WzA2Mj");
    (void)snprintf(c.acr, sizeof c.acr, "urn:signet:acr:phr");
    (void)snprintf(c.amr, sizeof c.amr, "hwk user mfa");
    c.auth_time = NOW;
    c.expires_at = NOW + 60;
    c.used_at = 77;                                  /* not read by code_put */
    (void)snprintf(c.family, sizeof c.family, "x"); /* idem */
    return c;
}

static struct sg_refresh refresh(const char *tenant, const char *tag, const char *family,
                                 const char *user_id, const char *sid)
{
    struct sg_refresh r;
    memset(&r, 0, sizeof r);
    (void)snprintf(r.tenant, sizeof r.tenant, "%s", tenant);
    h(tag, r.hash);
    (void)snprintf(r.family, sizeof r.family, "%s", family);
    (void)snprintf(r.client_id, sizeof r.client_id, "web");
    (void)snprintf(r.user_id, sizeof r.user_id, "%s", user_id);
    (void)snprintf(r.sid, sizeof r.sid, "%s", sid);
    (void)snprintf(r.scope, sizeof r.scope, "openid offline_access");
    (void)snprintf(r.acr, sizeof r.acr, "urn:signet:acr:phr");
    (void)snprintf(r.amr, sizeof r.amr, "swk user mfa");
    r.auth_time = NOW;
    r.created_at = NOW;
    r.idle_expires = NOW + 86400;
    r.family_expires = NOW + 30 * 86400;
    return r;
}

static struct sg_mfa_pending mfa(const char *tenant, const char *tag, const char *user_id)
{
    struct sg_mfa_pending p;
    memset(&p, 0, sizeof p);
    (void)snprintf(p.tenant, sizeof p.tenant, "%s", tenant);
    h(tag, p.hash);
    (void)snprintf(p.user_id, sizeof p.user_id, "%s", user_id);
    (void)snprintf(p.req, sizeof p.req, "req-%s", tag);
    p.created_at = NOW;
    p.expires_at = NOW + 300;
    p.tries = 7; /* not read by mfa_put */
    return p;
}

/* A device whose id (a stand-in thumbprint) is h(tag). */
static struct sg_device device(const char *tag)
{
    struct sg_device d;
    memset(&d, 0, sizeof d);
    h(tag, d.id);
    (void)snprintf(d.name, sizeof d.name, "phone %s", tag);
    (void)snprintf(d.jwk, sizeof d.jwk,
                   "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", d.id, d.id);
    return d;
}

/* Registers device tag to user_id through a fresh code. */
static void add_device(const char *tenant, const char *user_id, const char *tag, int64_t now)
{
    char code_hash[44], ctag[40];
    (void)snprintf(ctag, sizeof ctag, "dc-%s", tag);
    assert_int_equal(sg_people_device_code_create(s, tenant, user_id, h(ctag, code_hash),
                                                  now + 600, now),
                     SIGNET_OK);
    struct sg_device d = device(tag);
    assert_int_equal(sg_people_device_register(s, tenant, code_hash, now, &d), SIGNET_OK);
}

static struct sg_approval approval(const char *tenant, const char *id, const char *user_id,
                                   int64_t expires_at)
{
    struct sg_approval a;
    memset(&a, 0, sizeof a);
    (void)snprintf(a.tenant, sizeof a.tenant, "%s", tenant);
    (void)snprintf(a.id, sizeof a.id, "%s", id);
    (void)snprintf(a.user_id, sizeof a.user_id, "%s", user_id);
    h("mfa", a.mfa_hash);
    (void)snprintf(a.number, sizeof a.number, "42");
    (void)snprintf(a.client_id, sizeof a.client_id, "web");
    (void)snprintf(a.address, sizeof a.address, "192.0.2.7");
    (void)snprintf(a.location, sizeof a.location, "Lisbon, PT");
    a.expires_at = expires_at;
    /* Not read by approval_create. */
    a.state = SG_APPROVAL_APPROVED;
    h("devX", a.device_id);
    a.created_at = 5;
    a.answered_at = 6;
    return a;
}

/* Window 300 s for 3 prompts, lock 900 s after 2 wrong numbers. */
static signet_err create_approval(const struct sg_approval *a, int64_t now, int64_t *until)
{
    return sg_people_approval_create(s, a, now, 300, 3, 900, 2, until);
}

static struct sg_totp totp(const char *tenant, const char *user_id, const char *cred_id,
                           int64_t created_at)
{
    struct sg_totp t;
    memset(&t, 0, sizeof t);
    (void)snprintf(t.tenant, sizeof t.tenant, "%s", tenant);
    (void)snprintf(t.user_id, sizeof t.user_id, "%s", user_id);
    (void)snprintf(t.cred_id, sizeof t.cred_id, "%s", cred_id);
    (void)snprintf(t.sealed, sizeof t.sealed, "sealed-%s_AAAA", cred_id);
    t.confirmed = 1;     /* not read by totp_add */
    t.last_used_at = 99; /* idem */
    t.created_at = created_at;
    return t;
}

/* ---- users -------------------------------------------------------------- */

static void test_users(void **state)
{
    (void)state;
    add_user(T1, "uB", "bob");
    add_user(T1, "uA", "alice");
    add_user(T2, "uA", "alice"); /* the same id and name in another tenant */
    struct sg_user u = user(T1, "uC", "bob");
    assert_int_equal(sg_people_user_add(s, &u), SIGNET_ERR_EXISTS); /* name taken */
    u = user(T1, "uB", "carol");
    assert_int_equal(sg_people_user_add(s, &u), SIGNET_ERR_EXISTS); /* id taken */

    struct sg_user got;
    assert_int_equal(sg_people_user_get(s, T1, "uA", &got), SIGNET_OK);
    assert_string_equal(got.tenant, T1);
    assert_string_equal(got.name, "alice");
    assert_string_equal(got.email, "alice@example.org");
    assert_int_equal(got.disabled, 0);
    assert_int_equal(got.created_at, NOW);
    assert_int_equal(sg_people_user_by_name(s, T1, "bob", &got), SIGNET_OK);
    assert_string_equal(got.id, "uB");
    /* The keys may lie in the row read into. */
    assert_int_equal(sg_people_user_get(s, got.tenant, got.id, &got), SIGNET_OK);
    assert_string_equal(got.name, "bob");
    assert_int_equal(sg_people_user_by_name(s, got.tenant, got.name, &got), SIGNET_OK);
    assert_string_equal(got.id, "uB");
    assert_int_equal(sg_people_user_get(s, T2, "uB", &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_by_name(s, T2, "bob", &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_get(s, "t3", "uA", &got), SIGNET_ERR_NOT_FOUND);

    struct sg_user *us = NULL;
    size_t n = 0;
    assert_int_equal(sg_people_user_list(s, T1, &us, &n), SIGNET_OK);
    assert_int_equal(n, 2);
    assert_string_equal(us[0].name, "alice"); /* by name */
    assert_string_equal(us[1].name, "bob");
    free(us);
    assert_int_equal(sg_people_user_list(s, "t3", &us, &n), SIGNET_OK);
    assert_int_equal(n, 0);
    assert_null(us);

    assert_int_equal(sg_people_user_set_disabled(s, T1, "uA", 1, NOW), SIGNET_OK);
    assert_int_equal(sg_people_user_get(s, T1, "uA", &got), SIGNET_OK);
    assert_int_equal(got.disabled, 1);
    assert_int_equal(sg_people_user_get(s, T2, "uA", &got), SIGNET_OK);
    assert_int_equal(got.disabled, 0); /* the other tenant's alice is untouched */
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uA", 0, NOW), SIGNET_OK);
    assert_int_equal(sg_people_user_set_disabled(s, T1, "nobody", 1, NOW),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_remove(s, T2, "uB"), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_remove(s, T1, "uB"), SIGNET_OK);
    assert_int_equal(sg_people_user_remove(s, T1, "uB"), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_get(s, T1, "uB", &got), SIGNET_ERR_NOT_FOUND);

    /* Arguments no caller may pass. */
    char tenant[SG_STORE_TENANT_MAX + 1];
    memset(tenant, 't', sizeof tenant - 1);
    tenant[sizeof tenant - 1] = '\0';
    assert_int_equal(sg_people_user_get(s, tenant, "uA", &got), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_user_get(s, "", "uA", &got), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_user_get(s, T1, "", &got), SIGNET_ERR_INVALID_ARG);
    u = user(T1, "uD", "dave");
    memset(u.name, 'n', sizeof u.name); /* not terminated */
    assert_int_equal(sg_people_user_add(s, &u), SIGNET_ERR_INVALID_ARG);
    u = user(T1, "uD", "");
    assert_int_equal(sg_people_user_add(s, &u), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_user_list(s, NULL, &us, &n), SIGNET_ERR_INVALID_ARG);
}

/* ---- enrolment links ------------------------------------------------------ */

static void test_enrol(void **state)
{
    (void)state;
    char l1[44], l2[44], l3[44], uid[SG_PEOPLE_ID_MAX];
    add_user(T1, "uA", "alice");
    add_user(T2, "uZ", "zoe");
    assert_int_equal(sg_people_enrol_create(s, T1, "uA", h("link1", l1), NOW + 600, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_enrol_peek(s, T1, l1, NOW, uid), SIGNET_OK);
    assert_string_equal(uid, "uA");
    /* Another tenant's link hash is unknown here, and stays usable there. */
    assert_int_equal(sg_people_enrol_peek(s, T2, l1, NOW, uid), SIGNET_ERR_NOT_FOUND);
    assert_string_equal(uid, "");
    assert_int_equal(sg_people_enrol_consume(s, T2, l1, NOW, uid), SIGNET_ERR_NOT_FOUND);
    /* Expired at expires_at. */
    assert_int_equal(sg_people_enrol_peek(s, T1, l1, NOW + 600, uid), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_enrol_consume(s, T1, l1, NOW + 600, uid), SIGNET_ERR_NOT_FOUND);
    /* A consume in the caller's transaction that is rolled back leaves it. */
    assert_int_equal(sg_store_begin(s), SIGNET_OK);
    assert_int_equal(sg_people_enrol_consume(s, T1, l1, NOW + 1, uid), SIGNET_OK);
    assert_int_equal(sg_people_enrol_peek(s, T1, l1, NOW + 1, uid), SIGNET_ERR_NOT_FOUND);
    sg_store_rollback(s);
    /* Used once, then never again. */
    assert_int_equal(sg_people_enrol_consume(s, T1, l1, NOW + 2, uid), SIGNET_OK);
    assert_string_equal(uid, "uA");
    assert_int_equal(sg_people_enrol_consume(s, T1, l1, NOW + 3, uid), SIGNET_ERR_NOT_FOUND);
    assert_string_equal(uid, "");
    assert_int_equal(sg_people_enrol_peek(s, T1, l1, NOW + 3, uid), SIGNET_ERR_NOT_FOUND);
    /* A new link ends the user's other unused links. */
    assert_int_equal(sg_people_enrol_create(s, T1, "uA", h("link2", l2), NOW + 600, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_enrol_create(s, T1, "uA", h("link3", l3), NOW + 600, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_enrol_peek(s, T1, l2, NOW, uid), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_enrol_peek(s, T1, l3, NOW, uid), SIGNET_OK);
    /* A link of a disabled user does not work; a hash taken is EXISTS; no
     * link for a user that is not there. */
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uA", 1, NOW), SIGNET_OK);
    assert_int_equal(sg_people_enrol_consume(s, T1, l3, NOW, uid), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uA", 0, NOW), SIGNET_OK);
    assert_int_equal(sg_people_enrol_create(s, T2, "uZ", l3, NOW + 600, NOW), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_people_enrol_create(s, T2, "uA", h("link4", l2), NOW + 600, NOW),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_enrol_consume(s, T1, l3, NOW, uid), SIGNET_OK);
    /* Expired links are purged when links are made. */
    assert_int_equal(sg_people_enrol_create(s, T2, "uZ", h("link5", l2), NOW + 600, NOW),
                     SIGNET_OK);
    assert_int_equal(rows("enrolments", NULL), 3);
    assert_int_equal(sg_people_enrol_create(s, T2, "uZ", h("link6", l2), NOW + 2000, NOW + 1000),
                     SIGNET_OK);
    assert_int_equal(rows("enrolments", NULL), 1);
}

/* ---- passkeys ----------------------------------------------------------------- */

static void test_passkeys(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    add_user(T2, "uZ", "zoe");
    struct sg_passkey p1 = passkey(T1, "uA", 1, SG_PEOPLE_CRED_ID_MAX);
    struct sg_passkey p2 = passkey(T1, "uA", 2, 16);
    assert_int_equal(sg_people_passkey_add(s, &p1), SIGNET_OK);
    assert_int_equal(sg_people_passkey_add(s, &p2), SIGNET_OK);
    /* A credential id registered anywhere is refused, in any tenant. */
    assert_int_equal(sg_people_passkey_add(s, &p1), SIGNET_ERR_EXISTS);
    struct sg_passkey again = passkey(T2, "uZ", 1, SG_PEOPLE_CRED_ID_MAX);
    assert_int_equal(sg_people_passkey_add(s, &again), SIGNET_ERR_EXISTS);
    /* No passkey for a user who is not there (or is another tenant's). */
    struct sg_passkey orphan = passkey(T2, "uA", 3, 16);
    assert_int_equal(sg_people_passkey_add(s, &orphan), SIGNET_ERR_NOT_FOUND);

    struct sg_passkey got;
    assert_int_equal(sg_people_passkey_get(s, T1, p1.cred_id, p1.cred_id_len, &got), SIGNET_OK);
    assert_int_equal(got.cred_id_len, SG_PEOPLE_CRED_ID_MAX);
    assert_memory_equal(got.cred_id, p1.cred_id, p1.cred_id_len);
    assert_int_equal(got.pubkey_len, 77);
    assert_memory_equal(got.pubkey, p1.pubkey, 77);
    assert_int_equal(got.alg, -7);
    assert_int_equal(got.sign_count, 5);
    assert_int_equal(got.flags, p1.flags);
    assert_string_equal(got.user_id, "uA");
    assert_string_equal(got.aaguid, p1.aaguid);
    assert_string_equal(got.transports, "internal hybrid");
    assert_int_equal(got.created_at, NOW + 1);
    assert_int_equal(sg_people_passkey_get(s, T2, p1.cred_id, p1.cred_id_len, &got),
                     SIGNET_ERR_NOT_FOUND);
    /* A prefix of an id is another id. */
    assert_int_equal(sg_people_passkey_get(s, T1, p1.cred_id, 16, &got), SIGNET_ERR_NOT_FOUND);

    /* Counter and time move; UP/UV/BE stay as registered, BS as last seen. */
    assert_int_equal(sg_people_passkey_used(s, T1, p2.cred_id, p2.cred_id_len, 9,
                                            SG_PASSKEY_UP | SG_PASSKEY_BS, NOW + 50),
                     SIGNET_OK);
    assert_int_equal(sg_people_passkey_get(s, T1, p2.cred_id, p2.cred_id_len, &got), SIGNET_OK);
    assert_int_equal(got.sign_count, 9);
    assert_int_equal(got.flags, SG_PASSKEY_UP | SG_PASSKEY_UV | SG_PASSKEY_BE | SG_PASSKEY_BS);
    assert_int_equal(got.last_used_at, NOW + 50);
    assert_int_equal(sg_people_passkey_used(s, T1, p2.cred_id, p2.cred_id_len, UINT32_MAX,
                                            SG_PASSKEY_UP, NOW + 60),
                     SIGNET_OK);
    assert_int_equal(sg_people_passkey_get(s, T1, p2.cred_id, p2.cred_id_len, &got), SIGNET_OK);
    assert_int_equal(got.sign_count, UINT32_MAX);
    assert_int_equal(got.flags, SG_PASSKEY_UP | SG_PASSKEY_UV | SG_PASSKEY_BE);
    assert_int_equal(sg_people_passkey_used(s, T2, p2.cred_id, p2.cred_id_len, 10, 0, NOW),
                     SIGNET_ERR_NOT_FOUND);

    struct sg_passkey *pk = NULL;
    size_t n = 0;
    assert_int_equal(sg_people_passkey_list(s, T1, "uA", &pk, &n), SIGNET_OK);
    assert_int_equal(n, 2);
    assert_int_equal(pk[0].cred_id_len, SG_PEOPLE_CRED_ID_MAX); /* by creation */
    assert_int_equal(pk[1].cred_id_len, 16);
    free(pk);
    assert_int_equal(sg_people_passkey_list(s, T2, "uA", &pk, &n), SIGNET_OK);
    assert_int_equal(n, 0);
    assert_null(pk);

    /* Sizes past the members' bounds. */
    struct sg_passkey bad = passkey(T1, "uA", 4, 16);
    bad.cred_id_len = SG_PEOPLE_CRED_ID_MAX + 1;
    assert_int_equal(sg_people_passkey_add(s, &bad), SIGNET_ERR_INVALID_ARG);
    bad.cred_id_len = 0;
    assert_int_equal(sg_people_passkey_add(s, &bad), SIGNET_ERR_INVALID_ARG);
    bad = passkey(T1, "uA", 4, 16);
    bad.pubkey_len = SG_PEOPLE_PUBKEY_MAX + 1;
    assert_int_equal(sg_people_passkey_add(s, &bad), SIGNET_ERR_INVALID_ARG);
    bad.pubkey_len = SG_PEOPLE_PUBKEY_MAX;
    assert_int_equal(sg_people_passkey_add(s, &bad), SIGNET_OK);
    assert_int_equal(sg_people_passkey_get(s, T1, p1.cred_id, SG_PEOPLE_CRED_ID_MAX + 1, &got),
                     SIGNET_ERR_INVALID_ARG);
}

/* ---- challenges ------------------------------------------------------------------ */

static void test_challenges(void **state)
{
    (void)state;
    char c1[44], c2[44], c3[44], c4[44], bind[64];
    const char *b63 = "b23456789012345678901234567890123456789012345678901234567890123";
    assert_int_equal(sg_people_challenge_put(s, T1, h("c1", c1), SG_CHALLENGE_AUTHENTICATE, b63,
                                             NOW + 300, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_challenge_put(s, T1, c1, SG_CHALLENGE_AUTHENTICATE, "x",
                                             NOW + 300, NOW),
                     SIGNET_ERR_EXISTS);
    /* Another tenant neither sees nor consumes it. */
    assert_int_equal(sg_people_challenge_take(s, T2, c1, SG_CHALLENGE_AUTHENTICATE, NOW, bind),
                     SIGNET_ERR_NOT_FOUND);
    assert_string_equal(bind, "");
    assert_int_equal(sg_people_challenge_take(s, T1, c1, SG_CHALLENGE_AUTHENTICATE, NOW, bind),
                     SIGNET_OK);
    assert_string_equal(bind, b63);
    assert_int_equal(sg_people_challenge_take(s, T1, c1, SG_CHALLENGE_AUTHENTICATE, NOW, bind),
                     SIGNET_ERR_NOT_FOUND);
    /* The wrong kind uses it up. */
    assert_int_equal(sg_people_challenge_put(s, T1, h("c2", c2), SG_CHALLENGE_REGISTER, "",
                                             NOW + 300, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_challenge_take(s, T1, c2, SG_CHALLENGE_AUTHENTICATE, NOW, bind),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_challenge_take(s, T1, c2, SG_CHALLENGE_REGISTER, NOW, bind),
                     SIGNET_ERR_NOT_FOUND);
    /* So does a late use. */
    assert_int_equal(sg_people_challenge_put(s, T1, h("c3", c3), SG_CHALLENGE_REGISTER, "r",
                                             NOW + 300, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_challenge_take(s, T1, c3, SG_CHALLENGE_REGISTER, NOW + 300, bind),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(rows("challenges", NULL), 0);
    /* Expired challenges are purged by the next put. */
    assert_int_equal(sg_people_challenge_put(s, T1, c3, SG_CHALLENGE_REGISTER, "r", NOW + 300,
                                             NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_challenge_put(s, T2, h("c4", c4), SG_CHALLENGE_REGISTER, "r",
                                             NOW + 900, NOW + 600),
                     SIGNET_OK);
    assert_int_equal(rows("challenges", NULL), 1);
    /* A bind of 64 characters or more, a kind that does not exist. */
    char b64[65];
    memset(b64, 'b', 64);
    b64[64] = '\0';
    assert_int_equal(sg_people_challenge_put(s, T1, c1, SG_CHALLENGE_REGISTER, b64, NOW + 300,
                                             NOW),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_challenge_put(s, T1, c1, (enum sg_challenge_kind)3, "", NOW + 300,
                                             NOW),
                     SIGNET_ERR_INVALID_ARG);
    char long_hash[64];
    memset(long_hash, 'h', 44);
    long_hash[44] = '\0';
    assert_int_equal(sg_people_challenge_take(s, T1, long_hash, SG_CHALLENGE_REGISTER, NOW, bind),
                     SIGNET_ERR_INVALID_ARG);
}

/* ---- sessions ------------------------------------------------------------------------ */

static void test_sessions(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    add_user(T1, "uB", "bob");
    add_user(T2, "uA", "alice");
    struct sg_session a1 = session(T1, "a1", "sA1", "uA");
    struct sg_session a2 = session(T1, "a2", "sA2", "uA");
    struct sg_session b1 = session(T1, "b1", "sB1", "uB");
    struct sg_session z1 = session(T2, "z1", "sZ1", "uA");
    a2.created_at = NOW + 1;
    assert_int_equal(sg_people_session_create(s, &a1), SIGNET_OK);
    assert_int_equal(sg_people_session_create(s, &a2), SIGNET_OK);
    assert_int_equal(sg_people_session_create(s, &b1), SIGNET_OK);
    assert_int_equal(sg_people_session_create(s, &z1), SIGNET_OK);
    struct sg_session dup = session(T1, "a1", "sOther", "uA");
    assert_int_equal(sg_people_session_create(s, &dup), SIGNET_ERR_EXISTS); /* hash */
    dup = session(T1, "other", "sA1", "uA");
    assert_int_equal(sg_people_session_create(s, &dup), SIGNET_ERR_EXISTS); /* sid */
    dup = session(T1, "other", "sOther", "nobody");
    assert_int_equal(sg_people_session_create(s, &dup), SIGNET_ERR_NOT_FOUND);

    struct sg_session got;
    assert_int_equal(sg_people_session_get(s, T1, a1.hash, NOW, &got), SIGNET_OK);
    assert_string_equal(got.sid, "sA1");
    assert_string_equal(got.user_id, "uA");
    assert_string_equal(got.acr, a1.acr);
    assert_string_equal(got.amr, a1.amr);
    assert_int_equal(got.auth_time, NOW);
    assert_int_equal(got.idle_expires, NOW + 1800);
    assert_int_equal(got.expires_at, NOW + 36000);
    assert_int_equal(sg_people_session_get(s, T2, a1.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    assert_string_equal(got.tenant, ""); /* cleared */
    got = a1;
    assert_int_equal(sg_people_session_get(s, got.tenant, got.hash, NOW, &got), SIGNET_OK);
    assert_string_equal(got.sid, "sA1");

    /* Idle: dead at idle_expires unless touched before. */
    assert_int_equal(sg_people_session_get(s, T1, a1.hash, NOW + 1800, &got),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_session_touch(s, T1, a1.hash, NOW + 1799, NOW + 3599), SIGNET_OK);
    assert_int_equal(sg_people_session_get(s, T1, a1.hash, NOW + 1800, &got), SIGNET_OK);
    assert_int_equal(got.last_seen, NOW + 1799);
    assert_int_equal(got.idle_expires, NOW + 3599);
    assert_int_equal(sg_people_session_touch(s, T1, a1.hash, NOW + 3599, NOW + 5000),
                     SIGNET_ERR_NOT_FOUND); /* too late: idle */
    assert_int_equal(sg_people_session_touch(s, T2, a2.hash, NOW, NOW + 1800),
                     SIGNET_ERR_NOT_FOUND);
    /* Absolute: dead at expires_at however recently seen. */
    for (int64_t t = NOW + 1000; t < NOW + 36000; t += 1000)
        assert_int_equal(sg_people_session_touch(s, T1, a2.hash, t, t + 1800), SIGNET_OK);
    assert_int_equal(sg_people_session_get(s, T1, a2.hash, NOW + 35999, &got), SIGNET_OK);
    assert_int_equal(sg_people_session_get(s, T1, a2.hash, NOW + 36000, &got),
                     SIGNET_ERR_NOT_FOUND);

    struct sg_session *ss = NULL;
    size_t n = 0;
    assert_int_equal(sg_people_session_list(s, T1, NULL, NOW, &ss, &n), SIGNET_OK);
    assert_int_equal(n, 3);
    free(ss);
    assert_int_equal(sg_people_session_list(s, T1, "uA", NOW, &ss, &n), SIGNET_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ss[0].sid, "sA1"); /* by creation */
    assert_string_equal(ss[1].sid, "sA2");
    free(ss);
    assert_int_equal(sg_people_session_list(s, T1, "uA", NOW + 3600, &ss, &n), SIGNET_OK);
    assert_int_equal(n, 1); /* a1 went idle */
    free(ss);
    assert_int_equal(sg_people_session_list(s, T2, NULL, NOW, &ss, &n), SIGNET_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ss[0].sid, "sZ1");
    free(ss);
    assert_int_equal(sg_people_session_list(s, "t3", NULL, NOW, &ss, &n), SIGNET_OK);
    assert_int_equal(n, 0);
    assert_null(ss);

    /* Revoking by sid: that session (only in its tenant) and its refresh
     * tokens. */
    struct sg_refresh rb = refresh(T1, "rb", "fB", "uB", "sB1");
    assert_int_equal(sg_people_refresh_put(s, &rb), SIGNET_OK);
    assert_int_equal(sg_people_session_revoke(s, T2, "sB1", NOW), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_session_get(s, T1, b1.hash, NOW, &got), SIGNET_OK);
    assert_int_equal(sg_people_session_revoke(s, T1, "sB1", NOW), SIGNET_OK);
    assert_int_equal(sg_people_session_get(s, T1, b1.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_session_revoke(s, T1, "sB1", NOW), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_session_touch(s, T1, b1.hash, NOW, NOW + 1800),
                     SIGNET_ERR_NOT_FOUND);
    struct sg_refresh old, next;
    memset(&next, 0, sizeof next);
    h("rb2", next.hash);
    assert_int_equal(sg_people_refresh_rotate(s, T1, rb.hash, NOW + 1, &old, &next),
                     SIGNET_ERR_NOT_FOUND);

    /* Every session of a user; the count is of live ones. */
    size_t revoked = 99;
    assert_int_equal(sg_people_session_revoke_user(s, T1, "uA", NOW + 3600, &revoked), SIGNET_OK);
    assert_int_equal(revoked, 1); /* a2; a1 had gone idle */
    assert_int_equal(sg_people_session_get(s, T1, a2.hash, NOW + 3600, &got),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_session_get(s, T2, z1.hash, NOW + 1000, &got), SIGNET_OK);
    assert_int_equal(sg_people_session_revoke_user(s, T1, "uA", NOW + 3600, &revoked), SIGNET_OK);
    assert_int_equal(revoked, 0);
}

/* A disabled user's sessions and refresh tokens end, and stay ended when
 * the user is enabled again. */
static void test_disabled_user(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    struct sg_session x = session(T1, "x", "sX", "uA");
    assert_int_equal(sg_people_session_create(s, &x), SIGNET_OK);
    struct sg_refresh r = refresh(T1, "r", "fX", "uA", "sX");
    assert_int_equal(sg_people_refresh_put(s, &r), SIGNET_OK);
    struct sg_authcode c = code(T1, "code", "uA", "sX");
    assert_int_equal(sg_people_code_put(s, &c), SIGNET_OK);
    struct sg_session got;
    assert_int_equal(sg_people_session_get(s, T1, x.hash, NOW, &got), SIGNET_OK);

    /* A disabled flag set behind the functions' back (no revocation) still
     * ends the session: session_get looks at the user. */
    sql("UPDATE users SET disabled = 1");
    assert_int_equal(sg_people_session_get(s, T1, x.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    sql("UPDATE users SET disabled = 0");
    assert_int_equal(sg_people_session_get(s, T1, x.hash, NOW, &got), SIGNET_OK);

    assert_int_equal(sg_people_user_set_disabled(s, T1, "uA", 1, NOW), SIGNET_OK);
    assert_int_equal(sg_people_session_get(s, T1, x.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    struct sg_authcode ac;
    assert_int_equal(sg_people_code_redeem(s, T1, c.hash, NOW, &ac), SIGNET_ERR_NOT_FOUND);
    struct sg_refresh old, next;
    memset(&next, 0, sizeof next);
    h("r2", next.hash);
    assert_int_equal(sg_people_refresh_rotate(s, T1, r.hash, NOW, &old, &next),
                     SIGNET_ERR_NOT_FOUND);
    /* No new session for a disabled user either. */
    struct sg_session y = session(T1, "y", "sY", "uA");
    assert_int_equal(sg_people_session_create(s, &y), SIGNET_ERR_NOT_FOUND);

    assert_int_equal(sg_people_user_set_disabled(s, T1, "uA", 0, NOW), SIGNET_OK);
    assert_int_equal(sg_people_session_get(s, T1, x.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_refresh_rotate(s, T1, r.hash, NOW, &old, &next),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_session_create(s, &y), SIGNET_OK);
    /* The code was never used: with the user back it can be. */
    assert_int_equal(sg_people_code_redeem(s, T1, c.hash, NOW, &ac), SIGNET_OK);
}

/* Removing a user removes every row of theirs, and nothing of anyone else. */
static void test_remove_user(void **state)
{
    (void)state;
    char l[44], ch[44], ch2[44];
    for (int i = 0; i < 2; i++) {
        const char *uid = i == 0 ? "uA" : "uB";
        add_user(T1, uid, i == 0 ? "alice" : "bob");
        struct sg_passkey p = passkey(T1, uid, (uint8_t)(10 + i), 32);
        assert_int_equal(sg_people_passkey_add(s, &p), SIGNET_OK);
        char tag[16];
        (void)snprintf(tag, sizeof tag, "link%d", i);
        assert_int_equal(sg_people_enrol_create(s, T1, uid, h(tag, l), NOW + 600, NOW),
                         SIGNET_OK);
        (void)snprintf(tag, sizeof tag, "sess%d", i);
        char sid[8];
        (void)snprintf(sid, sizeof sid, "s%d", i);
        struct sg_session x = session(T1, tag, sid, uid);
        assert_int_equal(sg_people_session_create(s, &x), SIGNET_OK);
        /* A challenge bound to the session. */
        (void)snprintf(tag, sizeof tag, "chal%d", i);
        assert_int_equal(sg_people_challenge_put(s, T1, h(tag, ch), SG_CHALLENGE_REGISTER,
                                                 x.hash, NOW + 300, NOW),
                         SIGNET_OK);
        (void)snprintf(tag, sizeof tag, "code%d", i);
        struct sg_authcode c = code(T1, tag, uid, sid);
        assert_int_equal(sg_people_code_put(s, &c), SIGNET_OK);
        (void)snprintf(tag, sizeof tag, "rt%d", i);
        char fam[8];
        (void)snprintf(fam, sizeof fam, "f%d", i);
        struct sg_refresh r = refresh(T1, tag, fam, uid, sid);
        assert_int_equal(sg_people_refresh_put(s, &r), SIGNET_OK);
        assert_int_equal(sg_people_password_set(s, T1, uid, "$argon2id$v=19$x", NOW),
                         SIGNET_OK);
        (void)snprintf(tag, sizeof tag, "mfa%d", i);
        struct sg_mfa_pending m = mfa(T1, tag, uid);
        assert_int_equal(sg_people_mfa_put(s, &m), SIGNET_OK);
        (void)snprintf(tag, sizeof tag, "dev%d", i);
        add_device(T1, uid, tag, NOW); /* a device and its used code */
        (void)snprintf(tag, sizeof tag, "ap%d", i);
        struct sg_approval a = approval(T1, tag, uid, NOW + 120);
        int64_t until = 0;
        assert_int_equal(create_approval(&a, NOW, &until), SIGNET_OK);
        (void)snprintf(tag, sizeof tag, "totp%d", i);
        struct sg_totp t = totp(T1, uid, tag, NOW);
        assert_int_equal(sg_people_totp_add(s, &t), SIGNET_OK);
    }
    /* Alice's link and pending second step also bound to challenges. */
    assert_int_equal(sg_people_challenge_put(s, T1, h("chal-link", ch2), SG_CHALLENGE_REGISTER,
                                             h("link0", l), NOW + 300, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_challenge_put(s, T1, h("chal-mfa", ch2),
                                             SG_CHALLENGE_AUTHENTICATE, h("mfa0", l), NOW + 300,
                                             NOW),
                     SIGNET_OK);
    static const char *const tables[] = {
        "users",     "passkeys",    "enrolments", "sessions",     "codes",
        "challenges", "refresh_tokens", "passwords", "mfa_pending", "devices",
        "device_codes", "approvals", "totp"};
    static const int before[] = {2, 2, 2, 2, 2, 4, 2, 2, 2, 2, 2, 2, 2};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        assert_int_equal(rows(tables[i], NULL), before[i]);
    assert_int_equal(sg_people_user_remove(s, T2, "uA"), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_remove(s, T1, "uA"), SIGNET_OK);
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        assert_int_equal(rows(tables[i], NULL), 1);
        if (strcmp(tables[i], "challenges") != 0)
            assert_int_equal(rows(tables[i], strcmp(tables[i], "users") == 0 ? "id = 'uA'"
                                                                           : "user_id = 'uA'"),
                             0);
    }
    /* Alice's passkey id is free again; a new alice is a new user. */
    add_user(T1, "uA2", "alice");
    struct sg_passkey p = passkey(T1, "uA2", 10, 32);
    assert_int_equal(sg_people_passkey_add(s, &p), SIGNET_OK);
}

/* ---- authorization requests ------------------------------------------------------ */

static void fill(char *dst, size_t cap, char c)
{
    memset(dst, c, cap - 1);
    dst[cap - 1] = '\0';
}

static void test_authreqs(void **state)
{
    (void)state;
    struct sg_authreq r;
    memset(&r, 0, sizeof r);
    (void)snprintf(r.tenant, sizeof r.tenant, T1);
    (void)snprintf(r.id, sizeof r.id, "req1");
    r.par = 1;
    fill(r.client_id, sizeof r.client_id, 'c');
    fill(r.redirect_uri, sizeof r.redirect_uri, 'r');
    fill(r.scope, sizeof r.scope, 's');
    fill(r.state, sizeof r.state, 't');
    fill(r.nonce, sizeof r.nonce, 'n');
    h("pkce", r.code_challenge);
    fill(r.acr_values, sizeof r.acr_values, 'a');
    fill(r.prompt, sizeof r.prompt, 'p');
    r.max_age = -1;
    r.expires_at = NOW + 60;
    assert_int_equal(sg_people_authreq_put(s, &r), SIGNET_OK);
    assert_int_equal(sg_people_authreq_put(s, &r), SIGNET_ERR_EXISTS);
    struct sg_authreq got;
    assert_int_equal(sg_people_authreq_get(s, T1, "req1", NOW, &got), SIGNET_OK);
    assert_memory_equal(&got, &r, sizeof r);
    assert_int_equal(sg_people_authreq_get(s, T2, "req1", NOW, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_authreq_delete(s, T2, "req1"), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_authreq_get(s, T1, "req1", NOW + 60, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_authreq_delete(s, T1, "req1"), SIGNET_OK);
    assert_int_equal(sg_people_authreq_delete(s, T1, "req1"), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_authreq_get(s, T1, "req1", NOW, &got), SIGNET_ERR_NOT_FOUND);
    /* The same id in two tenants: two requests. */
    assert_int_equal(sg_people_authreq_put(s, &r), SIGNET_OK);
    (void)snprintf(r.tenant, sizeof r.tenant, T2);
    r.par = 0;
    r.max_age = 300;
    assert_int_equal(sg_people_authreq_put(s, &r), SIGNET_OK);
    assert_int_equal(sg_people_authreq_get(s, T2, "req1", NOW, &got), SIGNET_OK);
    assert_int_equal(got.par, 0);
    assert_int_equal(got.max_age, 300);
    assert_int_equal(sg_people_authreq_get(s, T1, "req1", NOW, &got), SIGNET_OK);
    assert_int_equal(got.par, 1);
    /* Unterminated members are refused; expired requests are purged. */
    r.state[sizeof r.state - 1] = 'x';
    assert_int_equal(sg_people_authreq_put(s, &r), SIGNET_ERR_INVALID_ARG);
    char c[44];
    assert_int_equal(sg_people_challenge_put(s, T1, h("c", c), SG_CHALLENGE_REGISTER, "",
                                             NOW + 400, NOW + 100),
                     SIGNET_OK);
    assert_int_equal(rows("authreqs", NULL), 0);
}

/* ---- codes ------------------------------------------------------------------------ */

static void test_codes(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    struct sg_authcode c = code(T1, "code1", "uA", "sA");
    assert_int_equal(sg_people_code_put(s, &c), SIGNET_OK);
    assert_int_equal(sg_people_code_put(s, &c), SIGNET_ERR_EXISTS);
    struct sg_authcode got;
    assert_int_equal(sg_people_code_redeem(s, T2, c.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_code_set_family(s, T2, c.hash, "fam1"), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_code_redeem(s, T1, c.hash, NOW + 1, &got), SIGNET_OK);
    assert_int_equal(got.used_at, NOW + 1);
    assert_string_equal(got.client_id, "web");
    assert_string_equal(got.redirect_uri, c.redirect_uri);
    assert_string_equal(got.code_challenge, c.code_challenge);
    assert_string_equal(got.user_id, "uA");
    assert_string_equal(got.sid, "sA");
    assert_string_equal(got.scope, c.scope);
    assert_string_equal(got.nonce, c.nonce);
    assert_string_equal(got.acr, c.acr);
    assert_string_equal(got.amr, c.amr);
    assert_int_equal(got.auth_time, NOW);
    assert_int_equal(got.expires_at, NOW + 60);
    assert_string_equal(got.family, ""); /* code_put does not take it */
    assert_int_equal(sg_people_code_set_family(s, T1, c.hash, "fam1"), SIGNET_OK);
    /* Second use: EXISTS, with the row and the family the first issued
     * (the arguments may lie in the row read into). */
    assert_int_equal(sg_people_code_redeem(s, got.tenant, got.hash, NOW + 2, &got),
                     SIGNET_ERR_EXISTS);
    assert_string_equal(got.family, "fam1");
    assert_string_equal(got.user_id, "uA");
    assert_int_equal(got.used_at, NOW + 1);
    /* Still told apart after its end, for a day. */
    assert_int_equal(sg_people_code_redeem(s, T1, c.hash, NOW + 3600, &got), SIGNET_ERR_EXISTS);
    /* Unused and expired: NOT_FOUND; unknown: NOT_FOUND. */
    struct sg_authcode late = code(T1, "code2", "uA", "sA");
    assert_int_equal(sg_people_code_put(s, &late), SIGNET_OK);
    assert_int_equal(sg_people_code_redeem(s, T1, late.hash, NOW + 60, &got),
                     SIGNET_ERR_NOT_FOUND);
    assert_string_equal(got.user_id, "");
    char nope[44];
    assert_int_equal(sg_people_code_redeem(s, T1, h("nope", nope), NOW, &got),
                     SIGNET_ERR_NOT_FOUND);
    /* Codes a day past their end go with the next purge. */
    char ch[44];
    assert_int_equal(sg_people_challenge_put(s, T1, h("c", ch), SG_CHALLENGE_REGISTER, "",
                                             NOW + 86400 + 100, NOW + 86400 + 61),
                     SIGNET_OK);
    assert_int_equal(rows("codes", NULL), 0);
    assert_int_equal(sg_people_code_redeem(s, T1, c.hash, NOW + 86400 + 62, &got),
                     SIGNET_ERR_NOT_FOUND);
}

/* ---- passwords --------------------------------------------------------------------- */

static void test_passwords(void **state)
{
    (void)state;
    static const char h1[] = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
    static const char h2[] = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHU$aGFzaGhhc2k";
    char got[SG_PEOPLE_PWHASH_MAX];
    add_user(T1, "uA", "alice");
    assert_int_equal(sg_people_password_get(s, T1, "uA", got), SIGNET_ERR_NOT_FOUND);
    /* No user, no password; only an argon2id encoding is stored. */
    assert_int_equal(sg_people_password_set(s, T1, "uX", h1, NOW), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_password_set(s, T1, "uA", "plaintext", NOW),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(rows("passwords", NULL), 0);
    assert_int_equal(sg_people_password_set(s, T1, "uA", h1, NOW), SIGNET_OK);
    assert_int_equal(sg_people_password_get(s, T1, "uA", got), SIGNET_OK);
    assert_string_equal(got, h1);
    /* Another tenant's user of the same id has none. */
    add_user(T2, "uA", "alice");
    assert_int_equal(sg_people_password_get(s, T2, "uA", got), SIGNET_ERR_NOT_FOUND);
    /* Replaced, then removed; removing the user removes it too. */
    assert_int_equal(sg_people_password_set(s, T1, "uA", h2, NOW + 1), SIGNET_OK);
    assert_int_equal(sg_people_password_get(s, T1, "uA", got), SIGNET_OK);
    assert_string_equal(got, h2);
    assert_int_equal(rows("passwords", NULL), 1);
    assert_int_equal(sg_people_password_set(s, T1, "uA", NULL, NOW + 2), SIGNET_OK);
    assert_int_equal(sg_people_password_get(s, T1, "uA", got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_password_set(s, T2, "uA", h1, NOW), SIGNET_OK);
    assert_int_equal(sg_people_user_remove(s, T2, "uA"), SIGNET_OK);
    assert_int_equal(rows("passwords", NULL), 0);
}

/* ---- refresh tokens ---------------------------------------------------------------- */

static void test_refresh(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    struct sg_session x = session(T1, "sess", "sA", "uA");
    assert_int_equal(sg_people_session_create(s, &x), SIGNET_OK);
    struct sg_refresh r0 = refresh(T1, "r0", "fam", "uA", "sA");
    /* A family bound to a DPoP key (RFC 9449 §5) keeps it at each rotation;
     * a key that is not a thumbprint's shape is refused. */
    memcpy(r0.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", 44);
    struct sg_refresh bad = r0;
    memcpy(bad.jkt, "not a thumbprint", 17);
    assert_int_equal(sg_people_refresh_put(s, &bad), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_refresh_put(s, &r0), SIGNET_OK);
    assert_int_equal(sg_people_refresh_put(s, &r0), SIGNET_ERR_EXISTS);

    struct sg_refresh old, next;
    memset(&next, 0, sizeof next);
    h("r1", next.hash);
    next.created_at = NOW + 100;
    next.idle_expires = NOW + 100 + 86400;
    assert_int_equal(sg_people_refresh_rotate(s, T2, r0.hash, NOW + 100, &old, &next),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_refresh_rotate(s, T1, r0.hash, NOW + 100, &old, &next),
                     SIGNET_OK);
    assert_string_equal(old.hash, r0.hash);
    assert_string_equal(old.family, "fam");
    /* The next token takes every member but its own from the old one. */
    assert_string_equal(next.tenant, T1);
    assert_string_equal(next.family, "fam");
    assert_string_equal(next.client_id, "web");
    assert_string_equal(next.user_id, "uA");
    assert_string_equal(next.sid, "sA");
    assert_string_equal(next.scope, r0.scope);
    assert_string_equal(next.acr, r0.acr);
    assert_string_equal(next.amr, r0.amr);
    assert_string_equal(old.jkt, r0.jkt);
    assert_string_equal(next.jkt, r0.jkt);
    assert_int_equal(next.auth_time, NOW);
    assert_int_equal(next.family_expires, r0.family_expires);
    assert_int_equal(next.created_at, NOW + 100);
    assert_int_equal(next.idle_expires, NOW + 100 + 86400);

    /* The next one rotates in turn (its own idle window, past the session's). */
    struct sg_refresh n2;
    memset(&n2, 0, sizeof n2);
    h("r2", n2.hash);
    n2.created_at = NOW + 40000;
    n2.idle_expires = NOW + 40000 + 86400;
    struct sg_refresh r1 = next;
    assert_int_equal(sg_people_refresh_rotate(s, T1, r1.hash, NOW + 40000, &old, &n2),
                     SIGNET_OK);
    /* Reuse of a rotated one: EXISTS, the family is revoked (committed),
     * the newest token is dead too. */
    struct sg_refresh n3;
    memset(&n3, 0, sizeof n3);
    h("r3", n3.hash);
    memset(&old, 0, sizeof old);
    assert_int_equal(sg_people_refresh_rotate(s, T1, r0.hash, NOW + 40001, &old, &n3),
                     SIGNET_ERR_EXISTS);
    assert_string_equal(old.family, "fam");
    assert_int_equal(rows("refresh_tokens", "revoked_at = 0"), 0);
    assert_int_equal(sg_people_refresh_rotate(s, T1, n2.hash, NOW + 40002, &old, &n3),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(rows("refresh_tokens", NULL), 3); /* no n3 */

    /* Idle and family ends; a new token's idle end never passes its
     * family's. */
    struct sg_refresh f = refresh(T1, "f0", "fam2", "uA", "");
    f.idle_expires = NOW + 1000;
    f.family_expires = NOW + 2000;
    assert_int_equal(sg_people_refresh_put(s, &f), SIGNET_OK);
    assert_int_equal(sg_people_refresh_rotate(s, T1, f.hash, NOW + 1000, &old, &n3),
                     SIGNET_ERR_NOT_FOUND);
    f = refresh(T1, "f1", "fam3", "uA", "");
    f.idle_expires = NOW + 1000;
    f.family_expires = NOW + 2000;
    assert_int_equal(sg_people_refresh_put(s, &f), SIGNET_OK);
    n3.created_at = NOW + 999;
    n3.idle_expires = NOW + 999 + 86400;
    assert_int_equal(sg_people_refresh_rotate(s, T1, f.hash, NOW + 999, &old, &n3), SIGNET_OK);
    assert_int_equal(n3.idle_expires, NOW + 2000);
    struct sg_refresh n4;
    memset(&n4, 0, sizeof n4);
    h("r4", n4.hash);
    n4.idle_expires = NOW + 90000;
    assert_int_equal(sg_people_refresh_rotate(s, T1, n3.hash, NOW + 2000, &old, &n4),
                     SIGNET_ERR_NOT_FOUND);
    /* A next hash equal to the old one is a caller's mistake. */
    assert_int_equal(sg_people_refresh_rotate(s, T1, n3.hash, NOW, &old, &n3),
                     SIGNET_ERR_INVALID_ARG);

    /* Revoking a family; unknown families are NOT_FOUND. */
    struct sg_refresh g = refresh(T1, "g0", "fam4", "uA", "sA");
    assert_int_equal(sg_people_refresh_put(s, &g), SIGNET_OK);
    assert_int_equal(sg_people_refresh_revoke_family(s, T2, "fam4", NOW), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_refresh_revoke_family(s, T1, "fam4", NOW), SIGNET_OK);
    assert_int_equal(sg_people_refresh_revoke_family(s, T1, "fam4", NOW), SIGNET_OK);
    assert_int_equal(sg_people_refresh_rotate(s, T1, g.hash, NOW + 1, &old, &n4),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_refresh_revoke_family(s, T1, "nofam", NOW), SIGNET_ERR_NOT_FOUND);

    /* A family in which some row was revoked is dead as a whole. */
    struct sg_refresh k = refresh(T1, "k0", "fam5", "uA", "sA");
    assert_int_equal(sg_people_refresh_put(s, &k), SIGNET_OK);
    sql("UPDATE refresh_tokens SET revoked_at = 5 WHERE family = 'fam5'");
    struct sg_refresh k1 = refresh(T1, "k1", "fam5", "uA", "sA");
    assert_int_equal(sg_people_refresh_put(s, &k1), SIGNET_OK);
    assert_int_equal(sg_people_refresh_rotate(s, T1, k1.hash, NOW + 1, &old, &n4),
                     SIGNET_ERR_NOT_FOUND);

    /* Session revoked: its tokens are dead. */
    struct sg_refresh m = refresh(T1, "m0", "fam6", "uA", "sA");
    assert_int_equal(sg_people_refresh_put(s, &m), SIGNET_OK);
    assert_int_equal(sg_people_session_revoke(s, T1, "sA", NOW), SIGNET_OK);
    assert_int_equal(sg_people_refresh_rotate(s, T1, m.hash, NOW + 1, &old, &n4),
                     SIGNET_ERR_NOT_FOUND);
    /* A token naming a session that is not there is dead. */
    struct sg_refresh o = refresh(T1, "o0", "fam7", "uA", "sGone");
    assert_int_equal(sg_people_refresh_put(s, &o), SIGNET_OK);
    assert_int_equal(sg_people_refresh_rotate(s, T1, o.hash, NOW + 1, &old, &n4),
                     SIGNET_ERR_NOT_FOUND);
}

/* ---- second factors after a password ------------------------------------------------ */

static void test_mfa(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    add_user(T2, "uZ", "zoe");
    struct sg_mfa_pending p = mfa(T1, "m1", "uA"), got;
    assert_int_equal(sg_people_mfa_put(s, &p), SIGNET_OK);
    assert_int_equal(sg_people_mfa_put(s, &p), SIGNET_ERR_EXISTS);
    /* No pending step for a user who is not there (or is another tenant's). */
    struct sg_mfa_pending orphan = mfa(T2, "m0", "uA");
    assert_int_equal(sg_people_mfa_put(s, &orphan), SIGNET_ERR_NOT_FOUND);

    assert_int_equal(sg_people_mfa_get(s, T1, p.hash, NOW + 299, &got), SIGNET_OK);
    assert_string_equal(got.tenant, T1);
    assert_string_equal(got.hash, p.hash);
    assert_string_equal(got.user_id, "uA");
    assert_string_equal(got.req, "req-m1");
    assert_int_equal(got.created_at, NOW);
    assert_int_equal(got.expires_at, NOW + 300);
    assert_int_equal(got.tries, 0);
    /* The keys may lie in the row read into. */
    assert_int_equal(sg_people_mfa_get(s, got.tenant, got.hash, NOW, &got), SIGNET_OK);
    assert_string_equal(got.user_id, "uA");
    /* Another tenant; expired at expires_at. */
    assert_int_equal(sg_people_mfa_get(s, T2, p.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    assert_string_equal(got.user_id, "");
    assert_int_equal(sg_people_mfa_get(s, T1, p.hash, NOW + 300, &got), SIGNET_ERR_NOT_FOUND);

    /* Tries: the third wrong step of three ends it. */
    assert_int_equal(sg_people_mfa_fail(s, T2, p.hash, 3), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_mfa_fail(s, T1, p.hash, 3), SIGNET_OK);
    assert_int_equal(sg_people_mfa_fail(s, T1, p.hash, 3), SIGNET_OK);
    assert_int_equal(sg_people_mfa_get(s, T1, p.hash, NOW, &got), SIGNET_OK);
    assert_int_equal(got.tries, 2);
    assert_int_equal(sg_people_mfa_fail(s, T1, p.hash, 3), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(rows("mfa_pending", NULL), 0);
    assert_int_equal(sg_people_mfa_get(s, T1, p.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_mfa_fail(s, T1, p.hash, 3), SIGNET_ERR_NOT_FOUND);

    /* Take: once, in its tenant, while live. */
    struct sg_mfa_pending q = mfa(T1, "m2", "uA");
    assert_int_equal(sg_people_mfa_put(s, &q), SIGNET_OK);
    assert_int_equal(sg_people_mfa_take(s, T2, q.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_mfa_take(s, T1, q.hash, NOW + 300, &got), SIGNET_ERR_NOT_FOUND);
    assert_string_equal(got.hash, "");
    assert_int_equal(rows("mfa_pending", NULL), 1);
    /* A take in the caller's transaction that is rolled back leaves it. */
    assert_int_equal(sg_store_begin(s), SIGNET_OK);
    assert_int_equal(sg_people_mfa_take(s, T1, q.hash, NOW, &got), SIGNET_OK);
    sg_store_rollback(s);
    memcpy(got.tenant, T1, sizeof T1);
    memcpy(got.hash, q.hash, sizeof q.hash);
    assert_int_equal(sg_people_mfa_take(s, got.tenant, got.hash, NOW + 1, &got), SIGNET_OK);
    assert_string_equal(got.user_id, "uA");
    assert_string_equal(got.req, "req-m2");
    assert_string_equal(got.hash, q.hash);
    assert_int_equal(sg_people_mfa_take(s, T1, q.hash, NOW + 2, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(rows("mfa_pending", NULL), 0);

    /* A disabled user's pending step is dead, and none is made for them. */
    struct sg_mfa_pending r = mfa(T1, "m3", "uA");
    assert_int_equal(sg_people_mfa_put(s, &r), SIGNET_OK);
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uA", 1, NOW), SIGNET_OK);
    assert_int_equal(sg_people_mfa_get(s, T1, r.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_mfa_take(s, T1, r.hash, NOW, &got), SIGNET_ERR_NOT_FOUND);
    struct sg_mfa_pending r2 = mfa(T1, "m4", "uA");
    assert_int_equal(sg_people_mfa_put(s, &r2), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uA", 0, NOW), SIGNET_OK);
    assert_int_equal(sg_people_mfa_get(s, T1, r.hash, NOW, &got), SIGNET_OK);

    /* Expired ones are purged when pending steps are made. */
    struct sg_mfa_pending z = mfa(T2, "m5", "uZ");
    z.created_at = NOW + 300;
    z.expires_at = NOW + 600;
    assert_int_equal(sg_people_mfa_put(s, &z), SIGNET_OK);
    assert_int_equal(rows("mfa_pending", NULL), 1);

    /* Arguments no caller may pass. */
    assert_int_equal(sg_people_mfa_fail(s, T2, z.hash, 0), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_mfa_get(s, T2, "", NOW, &got), SIGNET_ERR_INVALID_ARG);
    struct sg_mfa_pending bad = mfa(T1, "m6", "uA");
    memset(bad.req, 'r', sizeof bad.req); /* not terminated */
    assert_int_equal(sg_people_mfa_put(s, &bad), SIGNET_ERR_INVALID_ARG);
}

/* ---- approver devices ---------------------------------------------------------------- */

static void test_devices(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    add_user(T1, "uB", "bob");
    add_user(T2, "uZ", "zoe");
    char c1[44], c2[44], c3[44], cz[44], cb[44];
    assert_int_equal(sg_people_device_code_create(s, T1, "uA", h("c1", c1), NOW + 600, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_device_code_create(s, T2, "uA", h("c0", c2), NOW + 600, NOW),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_device_code_create(s, T2, "uZ", c1, NOW + 600, NOW),
                     SIGNET_ERR_EXISTS);

    /* Another tenant's code; expired at expires_at; then used once. */
    struct sg_device d = device("dev1");
    assert_int_equal(sg_people_device_register(s, T2, c1, NOW, &d), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_device_register(s, T1, c1, NOW + 600, &d), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(rows("devices", NULL), 0);
    assert_int_equal(sg_people_device_register(s, T1, c1, NOW + 10, &d), SIGNET_OK);
    assert_string_equal(d.tenant, T1);
    assert_string_equal(d.user_id, "uA");
    assert_int_equal(d.created_at, NOW + 10);
    assert_int_equal(d.last_used_at, 0);
    struct sg_device d2 = device("dev2");
    assert_int_equal(sg_people_device_register(s, T1, c1, NOW + 11, &d2), SIGNET_ERR_NOT_FOUND);
    assert_string_equal(d2.user_id, ""); /* left as it was */

    /* A new code ends the user's other unused ones. */
    assert_int_equal(sg_people_device_code_create(s, T1, "uA", h("c2", c2), NOW + 600, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_device_code_create(s, T1, "uA", h("c3", c3), NOW + 600, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_device_register(s, T1, c2, NOW + 20, &d2), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(rows("device_codes", NULL), 2); /* c1 (used) and c3 */

    /* A device id known in another tenant: EXISTS, and the code stays
     * unused (it registers another device afterwards). */
    assert_int_equal(sg_people_device_code_create(s, T2, "uZ", h("cz", cz), NOW + 600, NOW),
                     SIGNET_OK);
    struct sg_device dz = device("dev1");
    assert_int_equal(sg_people_device_register(s, T2, cz, NOW + 20, &dz), SIGNET_ERR_EXISTS);
    assert_int_equal(rows("device_codes", "user_id = 'uZ' AND used_at = 0"), 1);
    assert_int_equal(rows("devices", NULL), 1);
    dz = device("devZ");
    assert_int_equal(sg_people_device_register(s, T2, cz, NOW + 20, &dz), SIGNET_OK);
    assert_string_equal(dz.user_id, "uZ");

    /* A disabled user's code is refused (and stays unused); no code is
     * made for a disabled user. */
    assert_int_equal(sg_people_device_code_create(s, T1, "uB", h("cb", cb), NOW + 600, NOW),
                     SIGNET_OK);
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uB", 1, NOW), SIGNET_OK);
    struct sg_device db = device("devB");
    assert_int_equal(sg_people_device_register(s, T1, cb, NOW + 30, &db), SIGNET_ERR_NOT_FOUND);
    char cx[44];
    assert_int_equal(sg_people_device_code_create(s, T1, "uB", h("cx", cx), NOW + 600, NOW),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uB", 0, NOW), SIGNET_OK);
    assert_int_equal(sg_people_device_register(s, T1, cb, NOW + 30, &db), SIGNET_OK);

    /* Alice's second device, made in the same second as ... */
    struct sg_device d3 = device("dev3");
    assert_int_equal(sg_people_device_register(s, T1, c3, NOW + 10, &d3), SIGNET_OK);

    /* get: by id in its tenant, while its user is enabled. */
    struct sg_device got;
    assert_int_equal(sg_people_device_get(s, T1, d.id, &got), SIGNET_OK);
    assert_string_equal(got.tenant, T1);
    assert_string_equal(got.id, d.id);
    assert_string_equal(got.user_id, "uA");
    assert_string_equal(got.name, "phone dev1");
    assert_string_equal(got.jwk, d.jwk);
    assert_int_equal(got.created_at, NOW + 10);
    assert_int_equal(sg_people_device_get(s, got.tenant, got.id, &got), SIGNET_OK);
    assert_int_equal(sg_people_device_get(s, T2, d.id, &got), SIGNET_ERR_NOT_FOUND);
    assert_string_equal(got.id, "");
    assert_int_equal(sg_people_device_get(s, T1, db.id, &got), SIGNET_OK);
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uB", 1, NOW), SIGNET_OK);
    assert_int_equal(sg_people_device_get(s, T1, db.id, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uB", 0, NOW), SIGNET_OK);

    /* list: by creation (ties in registration order); none is NULL. */
    struct sg_device *ds = NULL;
    size_t n = 0;
    assert_int_equal(sg_people_device_list(s, T1, "uA", &ds, &n), SIGNET_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ds[0].id, d.id);
    assert_string_equal(ds[1].id, d3.id);
    free(ds);
    assert_int_equal(sg_people_device_list(s, T2, "uA", &ds, &n), SIGNET_OK);
    assert_int_equal(n, 0);
    assert_null(ds);

    /* used; remove only the user's own. */
    assert_int_equal(sg_people_device_used(s, T1, d.id, NOW + 50), SIGNET_OK);
    assert_int_equal(sg_people_device_get(s, T1, d.id, &got), SIGNET_OK);
    assert_int_equal(got.last_used_at, NOW + 50);
    assert_int_equal(sg_people_device_used(s, T2, d.id, NOW + 50), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_device_remove(s, T1, "uB", d.id), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_device_remove(s, T2, "uA", d.id), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_device_remove(s, T1, "uA", d.id), SIGNET_OK);
    assert_int_equal(sg_people_device_remove(s, T1, "uA", d.id), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_device_get(s, T1, d.id, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_device_used(s, T1, d.id, NOW + 60), SIGNET_ERR_NOT_FOUND);

    /* Expired codes are purged when codes are made. */
    assert_int_equal(rows("device_codes", NULL), 4);
    assert_int_equal(sg_people_device_code_create(s, T1, "uB", h("c9", cx), NOW + 2000,
                                                  NOW + 600),
                     SIGNET_OK);
    assert_int_equal(rows("device_codes", NULL), 1);

    /* Arguments no caller may pass: an id that is no thumbprint. */
    assert_int_equal(sg_people_device_get(s, T1, "short", &got), SIGNET_ERR_INVALID_ARG);
    char bad[44];
    h("dev+1", bad);
    assert_int_equal(sg_people_device_get(s, T1, bad, &got), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_device_remove(s, T1, "uA", bad), SIGNET_ERR_INVALID_ARG);
    struct sg_device e = device("dev4");
    e.jwk[0] = '\0';
    assert_int_equal(sg_people_device_register(s, T1, cx, NOW + 600, &e), SIGNET_ERR_INVALID_ARG);
    e = device("dev4");
    memcpy(e.id, bad, sizeof bad);
    assert_int_equal(sg_people_device_register(s, T1, cx, NOW + 600, &e), SIGNET_ERR_INVALID_ARG);
    e = device("dev4");
    assert_int_equal(sg_people_device_register(s, T1, cx, NOW + 600, &e), SIGNET_OK);
}

/* ---- approval requests ------------------------------------------------------------------ */

static void test_approvals(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    add_user(T1, "uB", "bob");
    add_device(T1, "uA", "devA", NOW);
    add_device(T1, "uB", "devB", NOW);
    char dev_a[44], dev_b[44];
    h("devA", dev_a);
    h("devB", dev_b);
    int64_t until = 77;

    struct sg_approval a1 = approval(T1, "a1", "uA", NOW + 120), got;
    assert_int_equal(create_approval(&a1, NOW, &until), SIGNET_OK);
    assert_int_equal(until, 0);
    assert_int_equal(sg_people_approval_get(s, T1, "a1", &got), SIGNET_OK);
    assert_string_equal(got.tenant, T1);
    assert_string_equal(got.id, "a1");
    assert_string_equal(got.user_id, "uA");
    assert_string_equal(got.mfa_hash, a1.mfa_hash);
    assert_string_equal(got.number, "42");
    assert_string_equal(got.client_id, "web");
    assert_string_equal(got.address, "192.0.2.7");
    assert_string_equal(got.location, "Lisbon, PT");
    assert_string_equal(got.device_id, ""); /* pending, unanswered, created now */
    assert_int_equal(got.state, SG_APPROVAL_PENDING);
    assert_int_equal(got.created_at, NOW);
    assert_int_equal(got.expires_at, NOW + 120);
    assert_int_equal(got.answered_at, 0);
    assert_int_equal(sg_people_approval_get(s, got.tenant, got.id, &got), SIGNET_OK);
    assert_int_equal(sg_people_approval_get(s, T2, "a1", &got), SIGNET_ERR_NOT_FOUND);
    assert_string_equal(got.id, "");
    assert_int_equal(create_approval(&a1, NOW, &until), SIGNET_ERR_EXISTS);

    /* Rate limit: 3 created within 300 s before now; the 4th is BUSY
     * until the first leaves the window (created_at > now - 300). */
    struct sg_approval a2 = approval(T1, "a2", "uA", NOW + 130);
    struct sg_approval a3 = approval(T1, "a3", "uA", NOW + 140);
    struct sg_approval a4 = approval(T1, "a4", "uA", NOW + 420);
    assert_int_equal(create_approval(&a2, NOW + 10, &until), SIGNET_OK);
    assert_int_equal(create_approval(&a3, NOW + 20, &until), SIGNET_OK);
    until = 77;
    assert_int_equal(create_approval(&a4, NOW + 30, &until), SIGNET_ERR_BUSY);
    assert_int_equal(until, 0);
    assert_int_equal(create_approval(&a4, NOW + 299, &until), SIGNET_ERR_BUSY);
    assert_int_equal(rows("approvals", NULL), 3);
    /* Per user: bob is not limited by alice's prompts. */
    struct sg_approval b1 = approval(T1, "b1", "uB", NOW + 120);
    assert_int_equal(create_approval(&b1, NOW + 30, &until), SIGNET_OK);

    /* Pending: the user's unanswered, unexpired ones, oldest first. */
    struct sg_approval *as = NULL;
    size_t n = 0;
    assert_int_equal(sg_people_approval_pending(s, T1, "uA", NOW + 30, &as, &n), SIGNET_OK);
    assert_int_equal(n, 3);
    assert_string_equal(as[0].id, "a1");
    assert_string_equal(as[1].id, "a2");
    assert_string_equal(as[2].id, "a3");
    free(as);
    assert_int_equal(sg_people_approval_pending(s, T2, "uA", NOW + 30, &as, &n), SIGNET_OK);
    assert_int_equal(n, 0);
    assert_null(as);

    /* pending -> approved -> used; a second answer changes nothing. */
    assert_int_equal(sg_people_approval_set(s, T1, "a1", SG_APPROVAL_USED, NULL, NOW + 39),
                     SIGNET_ERR_NOT_FOUND); /* not approved yet */
    assert_int_equal(sg_people_approval_set(s, T1, "a1", SG_APPROVAL_APPROVED, dev_a, NOW + 40),
                     SIGNET_OK);
    assert_int_equal(sg_people_approval_get(s, T1, "a1", &got), SIGNET_OK);
    assert_int_equal(got.state, SG_APPROVAL_APPROVED);
    assert_string_equal(got.device_id, dev_a);
    assert_int_equal(got.answered_at, NOW + 40);
    assert_int_equal(sg_people_approval_set(s, T1, "a1", SG_APPROVAL_DENIED, dev_a, NOW + 41),
                     SIGNET_ERR_EXISTS);
    assert_int_equal(sg_people_approval_set(s, T1, "a1", SG_APPROVAL_APPROVED, dev_a, NOW + 41),
                     SIGNET_ERR_EXISTS);
    assert_int_equal(sg_people_approval_get(s, T1, "a1", &got), SIGNET_OK);
    assert_int_equal(got.state, SG_APPROVAL_APPROVED);
    assert_int_equal(got.answered_at, NOW + 40);
    /* Used after its end: it was answered in time. */
    assert_int_equal(sg_people_approval_set(s, T1, "a1", SG_APPROVAL_USED, NULL, NOW + 200),
                     SIGNET_OK);
    assert_int_equal(sg_people_approval_get(s, T1, "a1", &got), SIGNET_OK);
    assert_int_equal(got.state, SG_APPROVAL_USED);
    assert_string_equal(got.device_id, dev_a);
    assert_int_equal(got.answered_at, NOW + 40);
    assert_int_equal(sg_people_approval_set(s, T1, "a1", SG_APPROVAL_USED, NULL, NOW + 201),
                     SIGNET_ERR_EXISTS);
    /* A device of another user never answers; another tenant's id is
     * unknown. */
    assert_int_equal(sg_people_approval_set(s, T1, "a2", SG_APPROVAL_APPROVED, dev_b, NOW + 42),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_approval_set(s, T2, "a2", SG_APPROVAL_APPROVED, dev_a, NOW + 42),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_approval_get(s, T1, "a2", &got), SIGNET_OK);
    assert_int_equal(got.state, SG_APPROVAL_PENDING);
    assert_string_equal(got.device_id, "");
    /* denied, reported; then neither may be used. */
    assert_int_equal(sg_people_approval_set(s, T1, "a2", SG_APPROVAL_DENIED, dev_a, NOW + 43),
                     SIGNET_OK);
    assert_int_equal(sg_people_approval_set(s, T1, "a2", SG_APPROVAL_USED, NULL, NOW + 44),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_approval_set(s, T1, "b1", SG_APPROVAL_REPORTED, dev_b, NOW + 45),
                     SIGNET_OK);
    assert_int_equal(sg_people_approval_get(s, T1, "b1", &got), SIGNET_OK);
    assert_int_equal(got.state, SG_APPROVAL_REPORTED);
    assert_string_equal(got.device_id, dev_b);
    /* An expired pending one: NOT_FOUND, and it stays pending. */
    assert_int_equal(sg_people_approval_set(s, T1, "a3", SG_APPROVAL_APPROVED, dev_a, NOW + 140),
                     SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_approval_get(s, T1, "a3", &got), SIGNET_OK);
    assert_int_equal(got.state, SG_APPROVAL_PENDING);
    assert_int_equal(sg_people_approval_set(s, T1, "nope", SG_APPROVAL_APPROVED, dev_a, NOW),
                     SIGNET_ERR_NOT_FOUND);
    /* Pending excludes answered and expired ones: only a3 until NOW + 140. */
    assert_int_equal(sg_people_approval_pending(s, T1, "uA", NOW + 139, &as, &n), SIGNET_OK);
    assert_int_equal(n, 1);
    assert_string_equal(as[0].id, "a3");
    free(as);
    assert_int_equal(sg_people_approval_pending(s, T1, "uA", NOW + 140, &as, &n), SIGNET_OK);
    assert_int_equal(n, 0);
    assert_null(as);

    /* The next window: a1 (created at NOW) is out of it at NOW + 300. */
    assert_int_equal(create_approval(&a4, NOW + 300, &until), SIGNET_OK);
    assert_int_equal(sg_people_approval_set(s, T1, "a4", SG_APPROVAL_WRONG, dev_a, NOW + 310),
                     SIGNET_OK);
    assert_int_equal(sg_people_approval_get(s, T1, "a4", &got), SIGNET_OK);
    assert_int_equal(got.state, SG_APPROVAL_WRONG);

    /* No approval for a user who is disabled or not there. */
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uB", 1, NOW), SIGNET_OK);
    struct sg_approval b2 = approval(T1, "b2", "uB", NOW + 500);
    assert_int_equal(create_approval(&b2, NOW + 400, &until), SIGNET_ERR_NOT_FOUND);
    struct sg_approval z = approval(T2, "z1", "uA", NOW + 500);
    assert_int_equal(create_approval(&z, NOW + 400, &until), SIGNET_ERR_NOT_FOUND);

    /* Arguments no caller may pass. */
    struct sg_approval bad = approval(T1, "x1", "uA", NOW + 500);
    static const char *const numbers[] = {"4", "4a", "123", "", " 4"};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        (void)snprintf(bad.number, sizeof bad.number, "%s", numbers[i]);
        assert_int_equal(create_approval(&bad, NOW + 400, &until), SIGNET_ERR_INVALID_ARG);
    }
    bad = approval(T1, "x1", "uA", NOW + 500);
    assert_int_equal(sg_people_approval_create(s, &bad, NOW, 0, 3, 900, 2, &until),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_approval_create(s, &bad, NOW, 300, 0, 900, 2, &until),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_approval_create(s, &bad, NOW, 300, 3, 86401, 2, &until),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_approval_create(s, &bad, NOW, 300, 3, 900, 0, &until),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_approval_create(s, &bad, NOW, 300, 3, 900, 2, NULL),
                     SIGNET_ERR_INVALID_ARG);
    static const int states[] = {SG_APPROVAL_PENDING, SG_APPROVAL_USED + 1, -1};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        assert_int_equal(sg_people_approval_set(s, T1, "a3", states[i], dev_a, NOW),
                         SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_approval_set(s, T1, "a3", SG_APPROVAL_APPROVED, NULL, NOW),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_approval_set(s, T1, "a3", SG_APPROVAL_APPROVED, "devA", NOW),
                     SIGNET_ERR_INVALID_ARG);
}

/* The lock (approval_create, approval_locked): max_wrong (2) WRONG
 * answers with answered_at > now - lock (900) refuse new approvals with
 * PERMISSION; *until is the max_wrong-th newest of those answered_at +
 * lock, the second from which fewer than max_wrong are left in the
 * window. Other answers and other users' wrong answers do not count; the
 * lock is checked before the rate limit. */
static void test_approval_lock(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    add_user(T1, "uB", "bob");
    add_device(T1, "uA", "devA", NOW);
    add_device(T1, "uB", "devB", NOW);
    char dev_a[44], dev_b[44];
    h("devA", dev_a);
    h("devB", dev_b);
    int64_t until = 0;
    const int64_t t0 = NOW + 1000;
    /* Five pending ones (room in the rate limit: 10 per 300 s). */
    for (int i = 0; i < 5; i++) {
        char id[8];
        (void)snprintf(id, sizeof id, "w%d", i);
        struct sg_approval a = approval(T1, id, "uA", t0 + 600);
        assert_int_equal(sg_people_approval_create(s, &a, t0 + i, 300, 10, 900, 2, &until),
                         SIGNET_OK);
    }
    struct sg_approval b = approval(T1, "b0", "uB", t0 + 600);
    assert_int_equal(sg_people_approval_create(s, &b, t0, 300, 10, 900, 2, &until), SIGNET_OK);
    /* Bob's wrong answer and alice's denial count for nobody. */
    assert_int_equal(sg_people_approval_set(s, T1, "b0", SG_APPROVAL_WRONG, dev_b, t0 + 5),
                     SIGNET_OK);
    assert_int_equal(sg_people_approval_set(s, T1, "w0", SG_APPROVAL_DENIED, dev_a, t0 + 6),
                     SIGNET_OK);
    assert_int_equal(sg_people_approval_set(s, T1, "w1", SG_APPROVAL_WRONG, dev_a, t0 + 10),
                     SIGNET_OK);
    struct sg_approval next = approval(T1, "n0", "uA", t0 + 2000);
    assert_int_equal(sg_people_approval_create(s, &next, t0 + 11, 300, 10, 900, 2, &until),
                     SIGNET_OK);
    until = 77;
    assert_int_equal(sg_people_approval_locked(s, T1, "uA", t0 + 11, 900, 2, &until), SIGNET_OK);
    assert_int_equal(until, 0);
    /* Three wrong numbers, at t0 + 10, t0 + 20 and t0 + 30. */
    assert_int_equal(sg_people_approval_set(s, T1, "w2", SG_APPROVAL_WRONG, dev_a, t0 + 20),
                     SIGNET_OK);
    assert_int_equal(sg_people_approval_set(s, T1, "w3", SG_APPROVAL_WRONG, dev_a, t0 + 30),
                     SIGNET_OK);
    next = approval(T1, "n1", "uA", t0 + 2000);
    assert_int_equal(sg_people_approval_create(s, &next, t0 + 31, 300, 10, 900, 2, &until),
                     SIGNET_ERR_PERMISSION);
    assert_int_equal(until, t0 + 20 + 900); /* the 2nd newest, not t0 + 30 or t0 + 10 */
    assert_int_equal(rows("approvals", "id = 'n1'"), 0);
    /* The lock alone says the same, without making anything. */
    until = 0;
    assert_int_equal(sg_people_approval_locked(s, T1, "uA", t0 + 31, 900, 2, &until),
                     SIGNET_ERR_PERMISSION);
    assert_int_equal(until, t0 + 920);
    assert_int_equal(sg_people_approval_locked(s, T1, "uB", t0 + 31, 900, 2, &until), SIGNET_OK);
    assert_int_equal(until, 0);
    assert_int_equal(sg_people_approval_locked(s, T2, "uA", t0 + 31, 900, 2, &until), SIGNET_OK);
    assert_int_equal(sg_people_approval_locked(s, T1, "uA", t0 + 920, 900, 2, &until), SIGNET_OK);
    assert_int_equal(sg_people_approval_locked(s, T1, "uA", t0 + 31, 900, 0, &until),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_approval_locked(s, T1, "uA", t0 + 31, 0, 2, &until),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_people_approval_locked(s, T1, "uA", t0 + 31, 900, 2, NULL),
                     SIGNET_ERR_INVALID_ARG);
    until = 0;
    assert_int_equal(sg_people_approval_create(s, &next, t0 + 919, 300, 10, 900, 2, &until),
                     SIGNET_ERR_PERMISSION);
    assert_int_equal(until, t0 + 920);
    /* Locked and rate limited at once: the lock is what is reported. */
    assert_int_equal(sg_people_approval_create(s, &next, t0 + 31, 300, 1, 900, 2, &until),
                     SIGNET_ERR_PERMISSION);
    assert_int_equal(until, t0 + 920);
    /* Bob is not locked. */
    struct sg_approval b1 = approval(T1, "b1", "uB", t0 + 2000);
    assert_int_equal(sg_people_approval_create(s, &b1, t0 + 31, 300, 10, 900, 2, &until),
                     SIGNET_OK);
    assert_int_equal(until, 0);
    /* At *until only t0 + 30 is in the window: open again. */
    assert_int_equal(sg_people_approval_create(s, &next, t0 + 920, 300, 10, 900, 2, &until),
                     SIGNET_OK);
    assert_int_equal(until, 0);
    /* With max_wrong 1 the newest alone locks: until t0 + 30 + 900. */
    next = approval(T1, "n2", "uA", t0 + 2000);
    assert_int_equal(sg_people_approval_create(s, &next, t0 + 921, 300, 10, 900, 1, &until),
                     SIGNET_ERR_PERMISSION);
    assert_int_equal(until, t0 + 930);
}

/* Approvals stay a day past their end (the rate limit's and the lock's
 * history), then go when approvals are made. */
static void test_approval_purge(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    int64_t until = 0;
    struct sg_approval a = approval(T1, "a1", "uA", NOW + 120);
    assert_int_equal(create_approval(&a, NOW, &until), SIGNET_OK);
    a = approval(T1, "a2", "uA", NOW + 86400 + 1000);
    assert_int_equal(create_approval(&a, NOW + 120 + 86399, &until), SIGNET_OK);
    assert_int_equal(rows("approvals", NULL), 2);
    a = approval(T1, "a3", "uA", NOW + 86400 + 1000);
    assert_int_equal(create_approval(&a, NOW + 120 + 86400, &until), SIGNET_OK);
    assert_int_equal(rows("approvals", NULL), 2);
    assert_int_equal(rows("approvals", "id = 'a1'"), 0);
}

/* ---- TOTP authenticators ------------------------------------------------------------------ */

static void test_totp(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    add_user(T1, "uB", "bob");
    add_user(T2, "uZ", "zoe");
    struct sg_totp got;
    struct sg_totp t1 = totp(T1, "uA", "c1", NOW);
    assert_int_equal(sg_people_totp_add(s, &t1), SIGNET_OK);
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 0, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 1, &got), SIGNET_OK);
    assert_string_equal(got.tenant, T1);
    assert_string_equal(got.user_id, "uA");
    assert_string_equal(got.cred_id, "c1");
    assert_string_equal(got.sealed, "sealed-c1_AAAA");
    assert_int_equal(got.confirmed, 0);
    assert_int_equal(got.created_at, NOW);
    assert_int_equal(got.last_used_at, 0);
    assert_int_equal(sg_people_totp_get(s, got.tenant, got.user_id, 1, &got), SIGNET_OK);
    assert_int_equal(sg_people_totp_get(s, T2, "uA", 1, &got), SIGNET_ERR_NOT_FOUND);
    assert_string_equal(got.cred_id, "");

    /* A second add replaces the unconfirmed one. */
    struct sg_totp t2 = totp(T1, "uA", "c2", NOW + 1);
    assert_int_equal(sg_people_totp_add(s, &t2), SIGNET_OK);
    assert_int_equal(rows("totp", NULL), 1);
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 1, &got), SIGNET_OK);
    assert_string_equal(got.cred_id, "c2");
    assert_int_equal(sg_people_totp_confirm(s, T1, "uA", "c1", NOW + 2), SIGNET_ERR_NOT_FOUND);

    /* Confirmed: last used by the confirming code. */
    assert_int_equal(sg_people_totp_confirm(s, T1, "uA", "c2", NOW + 2), SIGNET_OK);
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 1, &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 0, &got), SIGNET_OK);
    assert_string_equal(got.cred_id, "c2");
    assert_int_equal(got.confirmed, 1);
    assert_int_equal(got.last_used_at, NOW + 2);

    /* A pending one beside the confirmed one; confirming it replaces the
     * confirmed one. A confirmation that fails keeps the confirmed one. */
    struct sg_totp t3 = totp(T1, "uA", "c3", NOW + 3);
    assert_int_equal(sg_people_totp_add(s, &t3), SIGNET_OK);
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 0, &got), SIGNET_OK);
    assert_string_equal(got.cred_id, "c2");
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 1, &got), SIGNET_OK);
    assert_string_equal(got.cred_id, "c3");
    assert_int_equal(sg_people_totp_confirm(s, T1, "uA", "nope", NOW + 4), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_totp_confirm(s, T1, "uB", "c3", NOW + 4), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_totp_confirm(s, T2, "uA", "c3", NOW + 4), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 0, &got), SIGNET_OK);
    assert_string_equal(got.cred_id, "c2");
    assert_int_equal(sg_people_totp_confirm(s, T1, "uA", "c3", NOW + 5), SIGNET_OK);
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 0, &got), SIGNET_OK);
    assert_string_equal(got.cred_id, "c3");
    assert_int_equal(rows("totp", NULL), 1);
    /* A cred id taken (by a confirmed one) in the tenant; free in another. */
    struct sg_totp tb = totp(T1, "uB", "c3", NOW);
    assert_int_equal(sg_people_totp_add(s, &tb), SIGNET_ERR_EXISTS);
    struct sg_totp tz = totp(T2, "uZ", "c3", NOW);
    assert_int_equal(sg_people_totp_add(s, &tz), SIGNET_OK);
    /* No authenticator for a user who is not there or disabled. */
    struct sg_totp orphan = totp(T2, "uA", "c9", NOW);
    assert_int_equal(sg_people_totp_add(s, &orphan), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_user_set_disabled(s, T1, "uB", 1, NOW), SIGNET_OK);
    tb = totp(T1, "uB", "c8", NOW);
    assert_int_equal(sg_people_totp_add(s, &tb), SIGNET_ERR_NOT_FOUND);

    /* used */
    assert_int_equal(sg_people_totp_used(s, T1, "c3", NOW + 60), SIGNET_OK);
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 0, &got), SIGNET_OK);
    assert_int_equal(got.last_used_at, NOW + 60);
    assert_int_equal(sg_people_totp_used(s, T1, "c2", NOW + 60), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_totp_get(s, T2, "uZ", 1, &got), SIGNET_OK);
    assert_int_equal(got.last_used_at, 0); /* the other tenant's c3 untouched */

    /* remove: every one of the user's, only theirs. */
    struct sg_totp t4 = totp(T1, "uA", "c4", NOW + 6);
    assert_int_equal(sg_people_totp_add(s, &t4), SIGNET_OK);
    assert_int_equal(rows("totp", "user_id = 'uA'"), 2);
    assert_int_equal(sg_people_totp_remove(s, T2, "uA"), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_people_totp_remove(s, T1, "uA"), SIGNET_OK);
    assert_int_equal(rows("totp", "user_id = 'uA'"), 0);
    assert_int_equal(sg_people_totp_remove(s, T1, "uA"), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(rows("totp", NULL), 1);

    /* Arguments no caller may pass. */
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 2, &got), SIGNET_ERR_INVALID_ARG);
    static const char *const sealed[] = {"", "AAAA=", "AA+A", "AA/A", "A A"};
    for (size_t i = 0; i < sizeof sealed / sizeof sealed[0]; i++) {
        struct sg_totp bad = totp(T1, "uA", "c5", NOW);
        (void)snprintf(bad.sealed, sizeof bad.sealed, "%s", sealed[i]);
        assert_int_equal(sg_people_totp_add(s, &bad), SIGNET_ERR_INVALID_ARG);
    }
    struct sg_totp bad = totp(T1, "uA", "c5", NOW);
    memset(bad.sealed, 'A', sizeof bad.sealed); /* not terminated */
    assert_int_equal(sg_people_totp_add(s, &bad), SIGNET_ERR_INVALID_ARG);
    bad.sealed[sizeof bad.sealed - 1] = '\0'; /* the longest */
    assert_int_equal(sg_people_totp_add(s, &bad), SIGNET_OK);
}

/* ---- two handles racing ------------------------------------------------------------ */

#define RACE_ROUNDS 12

enum race_kind { RACE_ENROL, RACE_CODE, RACE_REFRESH };

struct racer {
    struct sg_store *st;
    pthread_barrier_t *go;
    enum race_kind kind;
    char hash[SG_PEOPLE_HASH_LEN + 1];
    char next[SG_PEOPLE_HASH_LEN + 1];
    signet_err result;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char uid[SG_PEOPLE_ID_MAX];
    struct sg_authcode c;
    struct sg_refresh old, next;
    memset(&next, 0, sizeof next);
    memcpy(next.hash, r->next, sizeof next.hash);
    next.created_at = NOW + 10;
    next.idle_expires = NOW + 1000;
    (void)pthread_barrier_wait(r->go);
    switch (r->kind) {
    case RACE_ENROL:
        r->result = sg_people_enrol_consume(r->st, T1, r->hash, NOW + 10, uid);
        break;
    case RACE_CODE:
        r->result = sg_people_code_redeem(r->st, T1, r->hash, NOW + 10, &c);
        break;
    case RACE_REFRESH:
        r->result = sg_people_refresh_rotate(r->st, T1, r->hash, NOW + 10, &old, &next);
        break;
    }
    return NULL;
}

static void test_races(void **state)
{
    (void)state;
    struct sg_store *other = NULL;
    assert_int_equal(sg_store_open(path, 0, &other), SIGNET_OK);
    add_user(T1, "uA", "alice");
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
    for (int kind = RACE_ENROL; kind <= RACE_REFRESH; kind++) {
        for (int i = 0; i < RACE_ROUNDS; i++) {
            struct racer r[2];
            memset(r, 0, sizeof r);
            char tag[32];
            (void)snprintf(tag, sizeof tag, "race-%d-%d", kind, i);
            for (int j = 0; j < 2; j++) {
                r[j].st = j == 0 ? s : other;
                r[j].go = &go;
                r[j].kind = (enum race_kind)kind;
                h(tag, r[j].hash);
                char ntag[40];
                (void)snprintf(ntag, sizeof ntag, "next-%d-%d-%d", kind, i, j);
                h(ntag, r[j].next);
            }
            if (kind == RACE_ENROL) {
                assert_int_equal(sg_people_enrol_create(s, T1, "uA", r[0].hash, NOW + 600, NOW),
                                 SIGNET_OK);
            } else if (kind == RACE_CODE) {
                struct sg_authcode c = code(T1, tag, "uA", "");
                assert_int_equal(sg_people_code_put(s, &c), SIGNET_OK);
            } else {
                char fam[32];
                (void)snprintf(fam, sizeof fam, "fam-%d", i);
                struct sg_refresh rt = refresh(T1, tag, fam, "uA", "");
                assert_int_equal(sg_people_refresh_put(s, &rt), SIGNET_OK);
            }
            pthread_t t[2];
            for (int j = 0; j < 2; j++)
                assert_int_equal(pthread_create(&t[j], NULL, race, &r[j]), 0);
            for (int j = 0; j < 2; j++)
                assert_int_equal(pthread_join(t[j], NULL), 0);
            int won = (r[0].result == SIGNET_OK) + (r[1].result == SIGNET_OK);
            if (won != 1)
                fail_msg("kind %d round %d: results %d and %d", kind, i, r[0].result,
                         r[1].result);
            signet_err lost = r[0].result == SIGNET_OK ? r[1].result : r[0].result;
            /* The loser saw what the winner wrote: a used link is gone, a
             * used code or rotated token is a reuse. */
            assert_int_equal(lost, kind == RACE_ENROL ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_EXISTS);
        }
    }
    /* Each refresh race revoked its family: nothing live is left of it. */
    assert_int_equal(rows("refresh_tokens", "revoked_at = 0"), 0);
    assert_int_equal(pthread_barrier_destroy(&go), 0);
    sg_store_close(&other);
}

/* ---- what the store could not have written ------------------------------------------- */

static void test_corrupt_rows(void **state)
{
    (void)state;
    add_user(T1, "uA", "alice");
    struct sg_session x = session(T1, "x", "sX", "uA");
    assert_int_equal(sg_people_session_create(s, &x), SIGNET_OK);
    struct sg_user u;
    struct sg_session got;
    /* A value longer than its member: refused, never cut. */
    sql("UPDATE users SET name = 'n' || hex(zeroblob(100)) WHERE id = 'uA'");
    assert_int_equal(sg_people_user_get(s, T1, "uA", &u), SIGNET_ERR_STORE_CORRUPT);
    struct sg_user *us = NULL;
    size_t n = 9;
    assert_int_equal(sg_people_user_list(s, T1, &us, &n), SIGNET_ERR_STORE_CORRUPT);
    assert_null(us);
    assert_int_equal(n, 0);
    sql("UPDATE users SET name = 'alice' WHERE id = 'uA'");
    sql("UPDATE sessions SET amr = hex(zeroblob(64))");
    assert_int_equal(sg_people_session_get(s, T1, x.hash, NOW, &got), SIGNET_ERR_STORE_CORRUPT);
    /* A passkey's sign count out of range (CHECK bypassed). */
    struct sg_passkey p = passkey(T1, "uA", 1, 8);
    assert_int_equal(sg_people_passkey_add(s, &p), SIGNET_OK);
    sql("PRAGMA ignore_check_constraints = 1; UPDATE passkeys SET sign_count = -1");
    struct sg_passkey pg;
    assert_int_equal(sg_people_passkey_get(s, T1, p.cred_id, p.cred_id_len, &pg),
                     SIGNET_ERR_STORE_CORRUPT);
    /* A challenge bind too long: corrupt, and used up all the same. */
    char c[44], bind[64];
    assert_int_equal(sg_people_challenge_put(s, T1, h("c", c), SG_CHALLENGE_REGISTER, "b",
                                             NOW + 300, NOW),
                     SIGNET_OK);
    sql("UPDATE challenges SET bind = hex(zeroblob(40))");
    assert_int_equal(sg_people_challenge_take(s, T1, c, SG_CHALLENGE_REGISTER, NOW, bind),
                     SIGNET_ERR_STORE_CORRUPT);
    assert_int_equal(rows("challenges", NULL), 0);

    /* A pending step's tries out of range. */
    struct sg_mfa_pending m = mfa(T1, "m", "uA"), mg;
    assert_int_equal(sg_people_mfa_put(s, &m), SIGNET_OK);
    sql("PRAGMA ignore_check_constraints = 1; UPDATE mfa_pending SET tries = -1");
    assert_int_equal(sg_people_mfa_get(s, T1, m.hash, NOW, &mg), SIGNET_ERR_STORE_CORRUPT);
    assert_string_equal(mg.user_id, "");
    assert_int_equal(sg_people_mfa_take(s, T1, m.hash, NOW, &mg), SIGNET_ERR_STORE_CORRUPT);

    /* A device's JWK longer than its member; an id that is no thumbprint. */
    add_device(T1, "uA", "dev", NOW);
    char dev[44];
    h("dev", dev);
    struct sg_device d;
    struct sg_device *ds = NULL;
    sql("UPDATE devices SET jwk = hex(zeroblob(256))");
    assert_int_equal(sg_people_device_get(s, T1, dev, &d), SIGNET_ERR_STORE_CORRUPT);
    assert_string_equal(d.id, "");
    n = 9;
    assert_int_equal(sg_people_device_list(s, T1, "uA", &ds, &n), SIGNET_ERR_STORE_CORRUPT);
    assert_null(ds);
    assert_int_equal(n, 0);
    sql("UPDATE devices SET jwk = '{}'");
    assert_int_equal(sg_people_device_get(s, T1, dev, &d), SIGNET_OK);
    sql("PRAGMA ignore_check_constraints = 1;"
        "UPDATE devices SET id = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.'");
    assert_int_equal(sg_people_device_list(s, T1, "uA", &ds, &n), SIGNET_ERR_STORE_CORRUPT);
    assert_null(ds);

    /* An approval's number that is no two digits, its state out of range:
     * refused by every reader, and by approval_set (which changes nothing). */
    int64_t until = 0;
    struct sg_approval a = approval(T1, "a1", "uA", NOW + 120), ag;
    struct sg_approval *as = NULL;
    assert_int_equal(create_approval(&a, NOW, &until), SIGNET_OK);
    sql("PRAGMA ignore_check_constraints = 1; UPDATE approvals SET number = '4x'");
    assert_int_equal(sg_people_approval_get(s, T1, "a1", &ag), SIGNET_ERR_STORE_CORRUPT);
    assert_string_equal(ag.id, "");
    n = 9;
    assert_int_equal(sg_people_approval_pending(s, T1, "uA", NOW, &as, &n),
                     SIGNET_ERR_STORE_CORRUPT);
    assert_null(as);
    assert_int_equal(n, 0);
    sql("PRAGMA ignore_check_constraints = 1; UPDATE approvals SET number = '42', state = 9");
    assert_int_equal(sg_people_approval_get(s, T1, "a1", &ag), SIGNET_ERR_STORE_CORRUPT);
    assert_int_equal(sg_people_approval_set(s, T1, "a1", SG_APPROVAL_USED, NULL, NOW),
                     SIGNET_ERR_STORE_CORRUPT);
    assert_int_equal(rows("approvals", "state = 9"), 1);
    sql("UPDATE approvals SET state = 0, user_id = 'u' || hex(zeroblob(40))");
    assert_int_equal(sg_people_approval_set(s, T1, "a1", SG_APPROVAL_APPROVED, dev, NOW),
                     SIGNET_ERR_STORE_CORRUPT);
    assert_int_equal(rows("approvals", "state = 0"), 1);

    /* A TOTP authenticator's sealed seed longer than its member. */
    struct sg_totp t = totp(T1, "uA", "c1", NOW), tg;
    assert_int_equal(sg_people_totp_add(s, &t), SIGNET_OK);
    sql("UPDATE totp SET sealed = hex(zeroblob(128))");
    assert_int_equal(sg_people_totp_get(s, T1, "uA", 1, &tg), SIGNET_ERR_STORE_CORRUPT);
    assert_string_equal(tg.cred_id, "");
}

int main(void)
{
    /* Corrupt rows make the store log errors: expected here. */
    sg_log_init("test_people", (enum sg_log_level)(SG_LOG_ERROR + 1));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enrol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passkeys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authreqs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passwords, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mfa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_approvals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_approval_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_approval_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_totp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_races, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_rows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
