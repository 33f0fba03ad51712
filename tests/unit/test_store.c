/* src/store: the SQLite state store. Opening refuses anything that is not a
 * signet store of a known schema (never "repairs" or adopts it); key rows
 * round-trip; the database itself keeps one ACTIVE key per issuer and alg;
 * transactions roll back; the change counter moves once per change. */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/keystore.h"
#include "store/store.h"
#include "util/log.h"

static char dir[256];
static char path[320];
static int latest; /* schema version of a freshly created store */

static int setup(void **state)
{
    (void)state;
    if (sg_test_mkdtemp(dir, sizeof dir, "signet-store") != 0)
        return -1;
    (void)snprintf(path, sizeof path, "%s/signet.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sg_test_rmrf(dir);
    return 0;
}

static void sql(const char *file, const char *stmt)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, stmt, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", stmt, err != NULL ? err : "?");
    sqlite3_close(db);
}

static int user_version(const char *file)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int has_table(const char *file, const char *name)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE name = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void remove_db(void)
{
    char side[400];
    (void)unlink(path);
    (void)snprintf(side, sizeof side, "%s-wal", path);
    (void)unlink(side);
    (void)snprintf(side, sizeof side, "%s-shm", path);
    (void)unlink(side);
}

/* What schema 6 added ... */
#define DROP_SCHEMA_6                                                                       \
    "DROP TABLE mfa_pending; DROP TABLE devices; DROP TABLE device_codes;"                  \
    "DROP TABLE approvals; DROP TABLE totp;"

/* ... and what schemas 4 and 5 added (a store made anew, taken back to an
 * older schema by a test, loses these first). */
#define DROP_SCHEMA_4                                                                       \
    DROP_SCHEMA_6                                                                           \
    "DROP TABLE users; DROP TABLE passkeys; DROP TABLE enrolments; DROP TABLE challenges;"  \
    "DROP TABLE sessions; DROP TABLE authreqs; DROP TABLE codes; DROP TABLE refresh_tokens;" \
    "DROP TABLE passwords;"

static struct sg_store *open_new(void)
{
    remove_db();
    struct sg_store *s = NULL;
    assert_int_equal(sg_keystore_open(path, 1, &s), SIGNET_OK);
    latest = sg_store_schema_version(s);
    return s;
}

static void write_bytes(const char *file, const void *p, size_t n)
{
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static struct sg_key key(const char *issuer, const char *alg, const char *kid,
                         enum sg_key_state st, uint8_t tag)
{
    struct sg_key k;
    memset(&k, 0, sizeof k);
    (void)snprintf(k.issuer, sizeof k.issuer, "%s", issuer);
    (void)snprintf(k.alg, sizeof k.alg, "%s", alg);
    (void)snprintf(k.kid, sizeof k.kid, "%s", kid);
    memset(k.hsm_id, tag, sizeof k.hsm_id);
    k.state = st;
    k.created_at = 1700000000 + tag;
    return k;
}

static int64_t version(struct sg_store *s)
{
    int64_t v = -1;
    assert_int_equal(sg_store_version(s, &v), SIGNET_OK);
    return v;
}

static size_t count(struct sg_store *s, const char *issuer)
{
    struct sg_key *keys = NULL;
    size_t n = 99;
    assert_int_equal(sg_store_key_list(s, issuer, &keys, &n), SIGNET_OK);
    if (n == 0)
        assert_null(keys);
    sg_key_list_free(keys, n);
    return n;
}

/* ---- opening ------------------------------------------------------------ */

static void test_create_reopen(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    assert_true(latest >= 1);
    sg_store_close(&s);
    assert_null(s);
    sg_store_close(&s); /* twice is harmless */
    assert_int_equal(user_version(path), latest);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    char where[400];
    (void)snprintf(where, sizeof where, "sqlite:%s", path);
    for (int create = 0; create <= 1; create++) {
        assert_int_equal(sg_keystore_open(where, create, &s), SIGNET_OK);
        assert_int_equal(sg_store_schema_version(s), latest);
        assert_int_equal(version(s), 0);
        sg_store_close(&s);
        assert_int_equal(user_version(path), latest);
    }
}

/* A store left at schema 1 by an older signet is migrated, rows kept. */
static void test_migrate_from_v1(void **state)
{
    (void)state;
    struct sg_store *s = open_new(); /* learns the latest version */
    sg_store_close(&s);
    remove_db();
    /* Schema 1 as signet 0.1 created it, with one row and 4 changes. */
    sql(path, "CREATE TABLE keys ("
              " id INTEGER PRIMARY KEY AUTOINCREMENT, issuer TEXT NOT NULL, alg TEXT NOT NULL,"
              " kid TEXT UNIQUE,"
              " hsm_id BLOB NOT NULL UNIQUE CHECK (length(hsm_id) = 16),"
              " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 5), jwk TEXT,"
              " created_at INTEGER NOT NULL, published_at INTEGER NOT NULL DEFAULT 0,"
              " activated_at INTEGER NOT NULL DEFAULT 0, retired_at INTEGER NOT NULL DEFAULT 0,"
              " destroyed_at INTEGER NOT NULL DEFAULT 0, rotate_at INTEGER NOT NULL DEFAULT 0,"
              " revoked INTEGER NOT NULL DEFAULT 0);"
              "CREATE UNIQUE INDEX keys_one_active ON keys(issuer, alg) WHERE state = 3;"
              "CREATE INDEX keys_issuer ON keys(issuer, alg, state);"
              "CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
              "INSERT INTO meta (k, v) VALUES ('changes', 4);"
              "INSERT INTO keys (issuer, alg, kid, hsm_id, state, jwk, created_at)"
              " VALUES ('https://a', 'ES256', 'old', zeroblob(16), 3, '{}', 5);"
              "PRAGMA user_version = 1;");
    assert_int_equal(sg_keystore_open(path, 0, &s), SIGNET_OK);
    assert_int_equal(sg_store_schema_version(s), latest);
    assert_int_equal(version(s), 4);
    struct sg_key k;
    assert_int_equal(sg_store_key_by_kid(s, "old", &k), SIGNET_OK);
    assert_int_equal(k.state, SG_KS_ACTIVE);
    assert_string_equal(k.jwk, "{}");
    sg_key_clear(&k);
    sg_store_close(&s);
    assert_int_equal(user_version(path), latest);
}

static void test_missing(void **state)
{
    (void)state;
    remove_db();
    struct sg_store *s = NULL;
    assert_int_equal(sg_keystore_open(path, 0, &s), SIGNET_ERR_NOT_INITIALISED);
    assert_null(s);
    assert_int_equal(access(path, F_OK), -1); /* not created on the way */
    char where[400];
    (void)snprintf(where, sizeof where, "sqlite:%s", path);
    assert_int_equal(sg_keystore_open(where, 0, &s), SIGNET_ERR_NOT_INITIALISED);
    (void)snprintf(where, sizeof where, "%s/no/such/dir/s.db", dir);
    assert_int_not_equal(sg_keystore_open(where, 1, &s), SIGNET_OK);
    assert_null(s);
    assert_int_equal(sg_keystore_open("", 1, &s), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_keystore_open("postgresql://localhost/x", 0, &s), SIGNET_ERR_UNSUPPORTED);
}

/* A valid SQLite database that is not ours is neither read nor adopted. */
static void test_foreign_sqlite(void **state)
{
    (void)state;
    for (int create = 0; create <= 1; create++) {
        remove_db();
        sql(path, "CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('x');");
        struct sg_store *s = NULL;
        assert_int_equal(sg_keystore_open(path, create, &s), SIGNET_ERR_STORE_CORRUPT);
        assert_null(s);
        assert_int_equal(user_version(path), 0);
        assert_int_equal(has_table(path, "keys"), 0); /* untouched */
    }
    /* One with a table of our name. */
    for (int create = 0; create <= 1; create++) {
        remove_db();
        sql(path, "CREATE TABLE keys (x TEXT);");
        struct sg_store *s = NULL;
        assert_int_equal(sg_keystore_open(path, create, &s), SIGNET_ERR_STORE_CORRUPT);
        assert_null(s);
    }
}

static void test_not_sqlite(void **state)
{
    (void)state;
    uint8_t junk[4096];
    uint32_t x = 0x12345678;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (uint8_t)(x >> 16);
    }
    for (int create = 0; create <= 1; create++) {
        remove_db();
        write_bytes(path, junk, sizeof junk);
        struct sg_store *s = NULL;
        assert_int_equal(sg_keystore_open(path, create, &s), SIGNET_ERR_STORE_CORRUPT);
        assert_null(s);
    }
    /* A SQLite header followed by garbage. */
    memcpy(junk, "SQLite format 3", 16);
    remove_db();
    write_bytes(path, junk, sizeof junk);
    struct sg_store *s = NULL;
    assert_int_equal(sg_keystore_open(path, 0, &s), SIGNET_ERR_STORE_CORRUPT);
    /* An empty file was never a signet store. */
    remove_db();
    write_bytes(path, "", 0);
    assert_int_equal(sg_keystore_open(path, 0, &s), SIGNET_ERR_STORE_CORRUPT);
    assert_null(s);
}

static void test_truncated_store(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    for (uint8_t i = 1; i <= 40; i++) {
        char kid[16];
        (void)snprintf(kid, sizeof kid, "kid-%u", i);
        struct sg_key k = key("https://issuer.example", "ES256", kid, SG_KS_RETIRED, i);
        char big[2048];
        memset(big, 'j', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        k.jwk = big;
        assert_int_equal(sg_store_key_insert(s, &k), SIGNET_OK);
    }
    sg_store_close(&s);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 8192);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    signet_err err = sg_keystore_open(path, 0, &s);
    if (err == SIGNET_OK) {
        struct sg_key *keys = NULL;
        size_t n = 0;
        err = sg_store_key_list(s, NULL, &keys, &n);
        sg_key_list_free(keys, n);
        sg_store_close(&s);
    }
    assert_int_equal(err, SIGNET_ERR_STORE_CORRUPT);
}

static void test_future_schema(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    sg_store_close(&s);
    sql(path, "PRAGMA user_version = 99;");
    for (int create = 0; create <= 1; create++) {
        assert_int_equal(sg_keystore_open(path, create, &s), SIGNET_ERR_STORE_CORRUPT);
        assert_null(s);
        assert_int_equal(user_version(path), 99);
    }
}

/* user_version is a signed 32-bit field: a negative one is no schema at all
 * (and must not index the migration table). */
static void test_negative_schema(void **state)
{
    (void)state;
    static const char *const pragmas[] = {"PRAGMA user_version = -1;",
                                          "PRAGMA user_version = -2147483648;"};
    for (size_t i = 0; i < 2; i++) {
        for (int create = 0; create <= 1; create++) {
            struct sg_store *s = open_new();
            sg_store_close(&s);
            sql(path, pragmas[i]);
            assert_int_equal(sg_keystore_open(path, create, &s), SIGNET_ERR_STORE_CORRUPT);
            assert_null(s);
        }
    }
}

/* ---- key rows ----------------------------------------------------------- */

static void test_key_roundtrip(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    struct sg_key k = key("https://issuer.example", "EdDSA", "", SG_KS_GENERATING, 7);
    assert_int_equal(sg_store_key_insert(s, &k), SIGNET_OK);
    assert_true(k.id > 0);

    k.state = SG_KS_PUBLISHED;
    (void)snprintf(k.kid, sizeof k.kid, "%s", "kid-7");
    char jwk[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"abc\"}";
    k.jwk = jwk;
    k.published_at = 11;
    k.activated_at = 12;
    k.retired_at = 13;
    k.destroyed_at = 14;
    k.rotate_at = INT64_MAX;
    k.revoked = 1;
    assert_int_equal(sg_store_key_update(s, &k), SIGNET_OK);

    struct sg_key got;
    assert_int_equal(sg_store_key_by_kid(s, "kid-7", &got), SIGNET_OK);
    assert_int_equal(got.id, k.id);
    assert_string_equal(got.issuer, k.issuer);
    assert_string_equal(got.alg, "EdDSA");
    assert_string_equal(got.kid, "kid-7");
    assert_memory_equal(got.hsm_id, k.hsm_id, SG_STORE_HSM_ID_LEN);
    assert_int_equal(got.state, SG_KS_PUBLISHED);
    assert_string_equal(got.jwk, jwk);
    assert_int_equal(got.created_at, k.created_at);
    assert_int_equal(got.published_at, 11);
    assert_int_equal(got.activated_at, 12);
    assert_int_equal(got.retired_at, 13);
    assert_int_equal(got.destroyed_at, 14);
    assert_true(got.rotate_at == INT64_MAX);
    assert_int_equal(got.revoked, 1);
    sg_key_clear(&got);
    assert_null(got.jwk);

    struct sg_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(sg_store_key_list(s, NULL, &keys, &n), SIGNET_OK);
    assert_int_equal(n, 1);
    assert_string_equal(keys[0].kid, "kid-7");
    sg_key_list_free(keys, n);
    assert_int_equal(count(s, "https://issuer.example"), 1);
    assert_int_equal(count(s, "https://issuer.example/"), 0);
    assert_int_equal(count(s, "https://other.example"), 0);

    assert_int_equal(sg_store_key_by_kid(s, "kid-8", &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_store_key_by_kid(s, "", &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_store_key_by_kid(s, "kid-7' OR '1'='1", &got), SIGNET_ERR_NOT_FOUND);
    struct sg_key ghost = k;
    ghost.id = k.id + 100;
    assert_int_equal(sg_store_key_update(s, &ghost), SIGNET_ERR_NOT_FOUND);

    /* Largest values the fixed fields hold survive unchanged. */
    char issuer[SG_STORE_ISSUER_MAX], kid[SG_STORE_KID_MAX];
    memset(issuer, 'i', sizeof issuer - 1);
    issuer[sizeof issuer - 1] = '\0';
    memset(kid, 'k', sizeof kid - 1);
    kid[sizeof kid - 1] = '\0';
    struct sg_key big = key(issuer, "PS256", kid, SG_KS_PENDING, 9);
    assert_int_equal(sg_store_key_insert(s, &big), SIGNET_OK);
    assert_int_equal(sg_store_key_by_kid(s, kid, &got), SIGNET_OK);
    assert_string_equal(got.issuer, issuer);
    assert_string_equal(got.kid, kid);
    assert_null(got.jwk);
    sg_key_clear(&got);
    sg_store_close(&s);
}

static void test_one_active_per_issuer_alg(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    struct sg_key a1 = key("https://a", "ES256", "a1", SG_KS_ACTIVE, 1);
    struct sg_key a2 = key("https://a", "ES256", "a2", SG_KS_ACTIVE, 2);
    struct sg_key a3 = key("https://a", "EdDSA", "a3", SG_KS_ACTIVE, 3);
    struct sg_key b1 = key("https://b", "ES256", "b1", SG_KS_ACTIVE, 4);
    struct sg_key a4 = key("https://a", "ES256", "a4", SG_KS_PUBLISHED, 5);
    assert_int_equal(sg_store_key_insert(s, &a1), SIGNET_OK);
    int64_t v = version(s);
    assert_int_equal(sg_store_key_insert(s, &a2), SIGNET_ERR_EXISTS);
    assert_int_equal(version(s), v);
    assert_int_equal(sg_store_key_insert(s, &a3), SIGNET_OK);
    assert_int_equal(sg_store_key_insert(s, &b1), SIGNET_OK);
    assert_int_equal(sg_store_key_insert(s, &a4), SIGNET_OK);
    /* Promoting the standby while a1 is ACTIVE is refused... */
    a4.state = SG_KS_ACTIVE;
    assert_int_equal(sg_store_key_update(s, &a4), SIGNET_ERR_EXISTS);
    /* ...and fine once a1 retires, in one transaction. */
    assert_int_equal(sg_store_begin(s), SIGNET_OK);
    a1.state = SG_KS_RETIRED;
    assert_int_equal(sg_store_key_update(s, &a1), SIGNET_OK);
    assert_int_equal(sg_store_key_update(s, &a4), SIGNET_OK);
    assert_int_equal(sg_store_commit(s), SIGNET_OK);
    struct sg_key got;
    assert_int_equal(sg_store_key_by_kid(s, "a4", &got), SIGNET_OK);
    assert_int_equal(got.state, SG_KS_ACTIVE);
    sg_key_clear(&got);
    assert_int_equal(count(s, "https://a"), 3);
    sg_store_close(&s);
}

static void test_rollback(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    int64_t v0 = version(s);
    assert_int_equal(sg_store_begin(s), SIGNET_OK);
    assert_int_equal(sg_store_begin(s), SIGNET_ERR_INTERNAL); /* no nesting */
    struct sg_key k1 = key("https://a", "ES256", "r1", SG_KS_PENDING, 1);
    struct sg_key k2 = key("https://a", "EdDSA", "r2", SG_KS_PENDING, 2);
    assert_int_equal(sg_store_key_insert(s, &k1), SIGNET_OK);
    assert_int_equal(sg_store_key_insert(s, &k2), SIGNET_OK);
    sg_store_rollback(s);
    assert_int_equal(count(s, NULL), 0);
    assert_int_equal(version(s), v0);
    struct sg_key got;
    assert_int_equal(sg_store_key_by_kid(s, "r1", &got), SIGNET_ERR_NOT_FOUND);
    sg_store_rollback(s); /* outside a transaction: nothing happens */

    /* An uncommitted transaction does not survive closing. */
    assert_int_equal(sg_store_begin(s), SIGNET_OK);
    assert_int_equal(sg_store_key_insert(s, &k1), SIGNET_OK);
    sg_store_close(&s);
    assert_int_equal(sg_keystore_open(path, 0, &s), SIGNET_OK);
    assert_int_equal(count(s, NULL), 0);
    assert_int_equal(version(s), v0);

    /* Committed work does. */
    assert_int_equal(sg_store_begin(s), SIGNET_OK);
    assert_int_equal(sg_store_key_insert(s, &k1), SIGNET_OK);
    assert_int_equal(sg_store_commit(s), SIGNET_OK);
    sg_store_close(&s);
    assert_int_equal(sg_keystore_open(path, 0, &s), SIGNET_OK);
    assert_int_equal(count(s, NULL), 1);
    assert_int_equal(version(s), v0 + 1);
    sg_store_close(&s);
}

static void test_version_counter(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    assert_int_equal(version(s), 0);
    struct sg_key k = key("https://a", "ES256", "v1", SG_KS_GENERATING, 1);
    assert_int_equal(sg_store_key_insert(s, &k), SIGNET_OK);
    assert_int_equal(version(s), 1);
    k.state = SG_KS_PENDING;
    assert_int_equal(sg_store_key_update(s, &k), SIGNET_OK);
    assert_int_equal(version(s), 2);
    assert_int_equal(sg_store_key_update(s, &k), SIGNET_OK); /* a write, even if unchanged */
    assert_int_equal(version(s), 3);
    /* Reads and refused writes do not count. */
    assert_int_equal(count(s, NULL), 1);
    struct sg_key dup = key("https://a", "ES256", "v1", SG_KS_PENDING, 2);
    assert_int_equal(sg_store_key_insert(s, &dup), SIGNET_ERR_EXISTS);
    struct sg_key ghost = k;
    ghost.id = 999;
    assert_int_equal(sg_store_key_update(s, &ghost), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(version(s), 3);
    /* Two changes in one transaction: two steps. */
    assert_int_equal(sg_store_begin(s), SIGNET_OK);
    struct sg_key k2 = key("https://a", "EdDSA", "v2", SG_KS_PENDING, 3);
    assert_int_equal(sg_store_key_insert(s, &k2), SIGNET_OK);
    k2.state = SG_KS_PUBLISHED;
    assert_int_equal(sg_store_key_update(s, &k2), SIGNET_OK);
    assert_int_equal(sg_store_commit(s), SIGNET_OK);
    assert_int_equal(version(s), 5);
    /* Another handle sees the same counter. */
    struct sg_store *other = NULL;
    assert_int_equal(sg_keystore_open(path, 0, &other), SIGNET_OK);
    assert_int_equal(version(other), 5);
    sg_store_close(&other);
    sg_store_close(&s);
}

/* The jti replay cache: a jti is used once per client while its row is
 * unexpired, seen across handles (several signetd processes), free again
 * once expired; the purge keeps unexpired rows. Reused statements must
 * not carry a previous call's bindings. */
static void test_jti_replay_cache(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    struct sg_store *other = NULL;
    assert_int_equal(sg_keystore_open(path, 0, &other), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(s, "t1", "c1", "j1", 1100, 1000), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(s, "t1", "c1", "j1", 1100, 1001), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_store_jti_use(other, "t1", "c1", "j1", 1100, 1002), SIGNET_ERR_EXISTS);
    /* Other client, other tenant, other jti: independent. */
    assert_int_equal(sg_store_jti_use(s, "t1", "c2", "j1", 1100, 1003), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(s, "t2", "c1", "j1", 1100, 1003), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(other, "t1", "c1", "j2", 1200, 1004), SIGNET_OK);
    /* Still refused at its expiry second, free after it, then taken again. */
    assert_int_equal(sg_store_jti_use(s, "t1", "c1", "j1", 1300, 1100), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_store_jti_use(s, "t1", "c1", "j1", 1300, 1101), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(other, "t1", "c1", "j1", 1300, 1102), SIGNET_ERR_EXISTS);
    /* A purge long after: j2 (expired) goes, j1 (until 1300) stays. */
    assert_int_equal(sg_store_jti_use(s, "t9", "c9", "x", 5000, 1250), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(s, "t1", "c1", "j1", 1300, 1260), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_store_jti_use(s, "t1", "c1", "j2", 1400, 1270), SIGNET_OK);
    sg_store_close(&other);
    sg_store_close(&s);
}

/* The DPoP replay cache (issue 12): its own namespace of the same table
 * (an assertion jti never collides with a proof key), per tenant, seen
 * across handles, bounded per tenant (the bound counts every handle's
 * rows at the purge), and a store of schema 2 keeps its assertion rows
 * and clients when it gains the namespace and the clients' dpop column. */
static void test_dpop_replay_cache(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    struct sg_store *other = NULL;
    assert_int_equal(sg_keystore_open(path, 0, &other), SIGNET_OK);
    assert_int_equal(sg_store_dpop_jti_use(s, "t1", "k1", 1300, 1000, 0), SIGNET_OK);
    assert_int_equal(sg_store_dpop_jti_use(s, "t1", "k1", 1300, 1001, 0), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_store_dpop_jti_use(other, "t1", "k1", 1300, 1002, 0), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_store_dpop_jti_use(s, "t2", "k1", 1300, 1003, 0), SIGNET_OK);
    /* The assertion namespace with the same strings: independent. */
    assert_int_equal(sg_store_jti_use(s, "t1", "", "k1", 1300, 1003), SIGNET_OK);
    /* The bound: t1 holds 1 row; max 3 takes two more, then refuses. */
    assert_int_equal(sg_store_dpop_jti_use(s, "t1", "k2", 1300, 1004, 3), SIGNET_OK);
    assert_int_equal(sg_store_dpop_jti_use(s, "t1", "k3", 1300, 1004, 3), SIGNET_OK);
    assert_int_equal(sg_store_dpop_jti_use(s, "t1", "k4", 1300, 1004, 3), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sg_store_dpop_jti_use(s, "t2", "k4", 1300, 1004, 3), SIGNET_OK);
    /* The other handle counts the rows s wrote at its next purge. */
    assert_int_equal(sg_store_dpop_jti_use(other, "t1", "k5", 1300, 1020, 3),
                     SIGNET_ERR_TOO_LARGE);
    /* Once they expire, the purge frees them and the replayed key too. */
    assert_int_equal(sg_store_dpop_jti_use(s, "t1", "k1", 1400, 1301, 3), SIGNET_OK);
    assert_int_equal(sg_store_dpop_jti_use(s, "t1", "k4", 1400, 1302, 3), SIGNET_OK);
    sg_store_close(&other);
    sg_store_close(&s);

    /* Schema 2 with a client and an assertion row, migrated to 3. */
    remove_db();
    s = open_new();
    sg_store_close(&s);
    sql(path, DROP_SCHEMA_4 "DROP TABLE jti_cache; DROP TABLE clients;"
              "CREATE TABLE clients (id INTEGER PRIMARY KEY AUTOINCREMENT,"
              " tenant TEXT NOT NULL, client_id TEXT NOT NULL,"
              " auth INTEGER NOT NULL CHECK (auth IN (1, 2)), secret_hash TEXT, jwk TEXT,"
              " scopes TEXT NOT NULL DEFAULT '', default_scopes TEXT NOT NULL DEFAULT '',"
              " audiences TEXT NOT NULL DEFAULT '', lifetime INTEGER NOT NULL DEFAULT 0,"
              " created_at INTEGER NOT NULL, UNIQUE (tenant, client_id),"
              " CHECK ((auth = 1 AND secret_hash IS NOT NULL AND jwk IS NULL) OR"
              "        (auth = 2 AND jwk IS NOT NULL AND secret_hash IS NULL)));"
              "CREATE TABLE jti_cache (tenant TEXT NOT NULL, client_id TEXT NOT NULL,"
              " jti TEXT NOT NULL, expires_at INTEGER NOT NULL,"
              " PRIMARY KEY (tenant, client_id, jti));"
              "CREATE INDEX jti_cache_expiry ON jti_cache(expires_at);"
              "INSERT INTO clients (tenant, client_id, auth, secret_hash, audiences, created_at)"
              " VALUES ('t1', 'old', 1, 'h', 'https://api', 7);"
              "INSERT INTO jti_cache VALUES ('t1', 'old', 'j1', 9000);"
              "PRAGMA user_version = 2;");
    assert_int_equal(sg_keystore_open(path, 0, &s), SIGNET_OK);
    assert_int_equal(user_version(path), latest);
    struct sg_client c;
    assert_int_equal(sg_store_client_get(s, "t1", "old", &c), SIGNET_OK);
    assert_int_equal(c.dpop, SG_CLIENT_DPOP_DEFAULT);
    sg_client_clear(&c);
    assert_int_equal(sg_store_jti_use(s, "t1", "old", "j1", 9000, 1000), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_store_dpop_jti_use(s, "t1", "j1", 9000, 1000, 0), SIGNET_OK);
    /* A client added with a policy keeps it; an out-of-range row is corrupt. */
    memset(&c, 0, sizeof c);
    (void)snprintf(c.tenant, sizeof c.tenant, "t1");
    (void)snprintf(c.client_id, sizeof c.client_id, "new");
    c.auth = SG_CLIENT_SECRET;
    c.secret_hash = (char *)"h";
    c.dpop = SG_CLIENT_DPOP_FORBIDDEN;
    assert_int_equal(sg_store_client_insert(s, &c), SIGNET_OK);
    assert_int_equal(sg_store_client_get(s, "t1", "new", &c), SIGNET_OK);
    assert_int_equal(c.dpop, SG_CLIENT_DPOP_FORBIDDEN);
    sg_client_clear(&c);
    sg_store_close(&s);
}

/* Schema 4 (issue 13): clients for people. A public client (no secret,
 * no key), its grants, exact redirect URIs and PAR requirement
 * round-trip through insert, get (twice: the second from the cache) and
 * list; a credential that does not fit the method is refused. */
static void test_people_clients(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    assert_int_equal(latest, 6);
    struct sg_client c;
    memset(&c, 0, sizeof c);
    (void)snprintf(c.tenant, sizeof c.tenant, "t1");
    (void)snprintf(c.client_id, sizeof c.client_id, "spa");
    c.auth = SG_CLIENT_NONE;
    c.grants = SG_GRANT_AUTHORIZATION_CODE | SG_GRANT_REFRESH_TOKEN;
    c.redirect_uris = (char *)"https://app.example/cb http://localhost:3000/cb";
    c.require_par = 1;
    c.scopes = (char *)"openid email";
    c.created_at = 3;
    int64_t v0 = version(s);
    assert_int_equal(sg_store_client_insert(s, &c), SIGNET_OK);
    assert_true(version(s) > v0);
    struct sg_client got;
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(sg_store_client_get(s, "t1", "spa", &got), SIGNET_OK);
        assert_int_equal(got.auth, SG_CLIENT_NONE);
        assert_null(got.secret_hash);
        assert_null(got.jwk);
        assert_int_equal(got.grants, SG_GRANT_AUTHORIZATION_CODE | SG_GRANT_REFRESH_TOKEN);
        assert_string_equal(got.redirect_uris, "https://app.example/cb http://localhost:3000/cb");
        assert_int_equal(got.require_par, 1);
        assert_string_equal(got.scopes, "openid email");
        assert_string_equal(got.audiences, "");
        sg_client_clear(&got);
    }
    assert_int_equal(sg_store_client_get(s, "t2", "spa", &got), SIGNET_ERR_NOT_FOUND);

    /* A secret client as the CLI makes it (grants 0, no redirect URIs):
     * client_credentials, "". */
    memset(&c, 0, sizeof c);
    (void)snprintf(c.tenant, sizeof c.tenant, "t1");
    (void)snprintf(c.client_id, sizeof c.client_id, "svc");
    c.auth = SG_CLIENT_SECRET;
    c.secret_hash = (char *)"h";
    assert_int_equal(sg_store_client_insert(s, &c), SIGNET_OK);
    assert_int_equal(c.grants, SG_GRANT_CLIENT_CREDENTIALS);
    struct sg_client *list = NULL;
    size_t n = 0;
    assert_int_equal(sg_store_client_list(s, "t1", &list, &n), SIGNET_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].client_id, "spa");
    assert_int_equal(list[0].grants, SG_GRANT_AUTHORIZATION_CODE | SG_GRANT_REFRESH_TOKEN);
    assert_string_equal(list[1].client_id, "svc");
    assert_int_equal(list[1].auth, SG_CLIENT_SECRET);
    assert_int_equal(list[1].grants, SG_GRANT_CLIENT_CREDENTIALS);
    assert_string_equal(list[1].redirect_uris, "");
    assert_int_equal(list[1].require_par, 0);
    sg_client_list_free(list, n);

    /* Credentials that do not fit the method; grants and flags out of range. */
    struct sg_client bad;
    memset(&bad, 0, sizeof bad);
    (void)snprintf(bad.tenant, sizeof bad.tenant, "t1");
    (void)snprintf(bad.client_id, sizeof bad.client_id, "bad");
    bad.auth = SG_CLIENT_NONE;
    bad.secret_hash = (char *)"h";
    assert_int_equal(sg_store_client_insert(s, &bad), SIGNET_ERR_INVALID_ARG);
    bad.secret_hash = NULL;
    bad.jwk = (char *)"{}";
    assert_int_equal(sg_store_client_insert(s, &bad), SIGNET_ERR_INVALID_ARG);
    bad.auth = SG_CLIENT_PRIVATE_KEY_JWT;
    bad.secret_hash = (char *)"h";
    assert_int_equal(sg_store_client_insert(s, &bad), SIGNET_ERR_INVALID_ARG);
    bad.secret_hash = NULL;
    bad.grants = 8;
    assert_int_equal(sg_store_client_insert(s, &bad), SIGNET_ERR_INVALID_ARG);
    bad.grants = SG_GRANT_CLIENT_CREDENTIALS;
    bad.require_par = 2;
    assert_int_equal(sg_store_client_insert(s, &bad), SIGNET_ERR_INVALID_ARG);
    bad.require_par = 0;
    bad.auth = (enum sg_client_auth)4;
    assert_int_equal(sg_store_client_insert(s, &bad), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_store_client_get(s, "t1", "bad", &got), SIGNET_ERR_NOT_FOUND);
    sg_store_close(&s);

    /* The table itself refuses a public client with a secret, and rows
     * written around it are corrupt when read. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO clients (tenant, client_id, auth, secret_hash,"
                                      " created_at) VALUES ('t1', 'x', 3, 'h', 1)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO clients (tenant, client_id, auth, secret_hash,"
                                      " created_at, grants) VALUES ('t1', 'x', 1, 'h', 1, 0)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_close(db);
    static const char *const corrupt[] = {
        "UPDATE clients SET grants = 9 WHERE client_id = 'svc'",
        "UPDATE clients SET require_par = 2 WHERE client_id = 'svc'",
        "UPDATE clients SET auth = 3 WHERE client_id = 'svc'",
        "UPDATE clients SET redirect_uris = NULL WHERE client_id = 'svc'",
    };
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        char stmt[200];
        (void)snprintf(stmt, sizeof stmt,
                       "PRAGMA ignore_check_constraints = 1; %s",
                       corrupt[i]);
        struct sg_store *t = NULL;
        sqlite3 *w = NULL;
        assert_int_equal(sqlite3_open(path, &w), SQLITE_OK);
        assert_int_equal(sqlite3_exec(w, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
        int rc = sqlite3_exec(w, stmt, NULL, NULL, NULL);
        if (rc != SQLITE_OK) { /* NOT NULL is not a CHECK: such a row cannot be written */
            (void)sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL);
            sqlite3_close(w);
            continue;
        }
        assert_int_equal(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(w);
        signet_err err = sg_store_open(path, 0, &t);
        if (err == SIGNET_OK) {
            err = sg_store_client_get(t, "t1", "svc", &got);
            sg_store_close(&t);
        }
        assert_int_equal(err, SIGNET_ERR_STORE_CORRUPT);
        /* Back to a good row for the next case. */
        sql(path, "PRAGMA ignore_check_constraints = 1;"
                  "UPDATE clients SET grants = 1, require_par = 0, auth = 1, redirect_uris = ''"
                  " WHERE client_id = 'svc'");
    }
}

/* A store of schema 3 (signet before issue 13) is migrated in place: its
 * clients keep their ids and columns and become client_credentials
 * clients with no redirect URIs; an id once used is not handed out again;
 * the people tables are there and empty. */
static void test_migrate_from_v3(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    sg_store_close(&s);
    sql(path, DROP_SCHEMA_4 "DROP TABLE clients;"
              "CREATE TABLE clients ("
              " id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL,"
              " client_id TEXT NOT NULL, auth INTEGER NOT NULL CHECK (auth IN (1, 2)),"
              " secret_hash TEXT, jwk TEXT, scopes TEXT NOT NULL DEFAULT '',"
              " default_scopes TEXT NOT NULL DEFAULT '', audiences TEXT NOT NULL DEFAULT '',"
              " lifetime INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
              " UNIQUE (tenant, client_id),"
              " CHECK ((auth = 1 AND secret_hash IS NOT NULL AND jwk IS NULL) OR"
              "        (auth = 2 AND jwk IS NOT NULL AND secret_hash IS NULL)));"
              "ALTER TABLE clients ADD COLUMN dpop INTEGER NOT NULL DEFAULT 0"
              " CHECK (dpop BETWEEN 0 AND 3);"
              "INSERT INTO clients (id, tenant, client_id, auth, secret_hash, scopes,"
              " default_scopes, audiences, lifetime, created_at, dpop)"
              " VALUES (3, 't1', 'svc', 1, 'hash', 'read write', 'read', 'https://api', 600,"
              " 11, 1);"
              "INSERT INTO clients (id, tenant, client_id, auth, jwk, audiences, created_at)"
              " VALUES (5, 't2', 'jwt', 2, '{\"kty\":\"OKP\"}', 'https://b', 12);"
              "INSERT INTO clients (id, tenant, client_id, auth, secret_hash, created_at)"
              " VALUES (9, 't1', 'gone', 1, 'h', 13);"
              "DELETE FROM clients WHERE id = 9;"
              "UPDATE meta SET v = 17 WHERE k = 'changes';"
              "PRAGMA user_version = 3;");
    assert_int_equal(user_version(path), 3);
    assert_int_equal(has_table(path, "users"), 0);
    assert_int_equal(sg_store_open(path, 0, &s), SIGNET_OK);
    assert_int_equal(user_version(path), latest);
    assert_int_equal(version(s), 17);
    struct sg_client c;
    assert_int_equal(sg_store_client_get(s, "t1", "svc", &c), SIGNET_OK);
    assert_int_equal(c.id, 3);
    assert_int_equal(c.auth, SG_CLIENT_SECRET);
    assert_string_equal(c.secret_hash, "hash");
    assert_string_equal(c.scopes, "read write");
    assert_string_equal(c.default_scopes, "read");
    assert_string_equal(c.audiences, "https://api");
    assert_int_equal(c.lifetime, 600);
    assert_int_equal(c.created_at, 11);
    assert_int_equal(c.dpop, SG_CLIENT_DPOP_REQUIRED);
    assert_int_equal(c.grants, SG_GRANT_CLIENT_CREDENTIALS);
    assert_string_equal(c.redirect_uris, "");
    assert_int_equal(c.require_par, 0);
    sg_client_clear(&c);
    assert_int_equal(sg_store_client_get(s, "t2", "jwt", &c), SIGNET_OK);
    assert_int_equal(c.id, 5);
    assert_int_equal(c.auth, SG_CLIENT_PRIVATE_KEY_JWT);
    assert_string_equal(c.jwk, "{\"kty\":\"OKP\"}");
    assert_int_equal(c.grants, SG_GRANT_CLIENT_CREDENTIALS);
    sg_client_clear(&c);
    /* The uniqueness of (tenant, client_id) survived the rebuild. */
    memset(&c, 0, sizeof c);
    (void)snprintf(c.tenant, sizeof c.tenant, "t1");
    (void)snprintf(c.client_id, sizeof c.client_id, "svc");
    c.auth = SG_CLIENT_NONE;
    assert_int_equal(sg_store_client_insert(s, &c), SIGNET_ERR_EXISTS);
    /* A new client gets an id past every id ever used (9 was deleted). */
    (void)snprintf(c.client_id, sizeof c.client_id, "spa");
    assert_int_equal(sg_store_client_insert(s, &c), SIGNET_OK);
    assert_int_equal(c.id, 10);
    sg_store_close(&s);
    static const char *const people[] = {
        "users",       "passkeys", "enrolments",     "challenges", "sessions",
        "authreqs",    "codes",    "refresh_tokens", "passwords",  "mfa_pending",
        "devices",     "device_codes", "approvals",  "totp"};
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++)
        assert_int_equal(has_table(path, people[i]), 1);
    assert_int_equal(has_table(path, "clients4"), 0);
    /* Opening again: nothing more to migrate, the store checks clean. */
    assert_int_equal(sg_store_open(path, 0, &s), SIGNET_OK);
    assert_int_equal(sg_store_client_get(s, "t1", "spa", &c), SIGNET_OK);
    assert_int_equal(c.auth, SG_CLIENT_NONE);
    sg_client_clear(&c);
    sg_store_close(&s);
}

/* Schema 6 (issue 14): a store at 5 with a user gains the second-factor
 * tables, the user kept; the database itself refuses a device id known in
 * another tenant and a second confirmed TOTP authenticator of a user. */
static void test_migrate_from_v5(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    assert_int_equal(latest, 6);
    sg_store_close(&s);
    sql(path, DROP_SCHEMA_6 "INSERT INTO users (tenant, id, name, created_at)"
                            " VALUES ('t1', 'uA', 'alice', 1);"
                            "PRAGMA user_version = 5;");
    assert_int_equal(has_table(path, "approvals"), 0);
    assert_int_equal(sg_store_open(path, 0, &s), SIGNET_OK);
    assert_int_equal(sg_store_schema_version(s), 6);
    sg_store_close(&s);
    assert_int_equal(user_version(path), 6);
    static const char *const added[] = {"mfa_pending", "devices", "device_codes", "approvals",
                                        "totp"};
    for (size_t i = 0; i < sizeof added / sizeof added[0]; i++)
        assert_int_equal(has_table(path, added[i]), 1);
    assert_int_equal(has_table(path, "users"), 1);

    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM users WHERE tenant = 't1'"
                                            " AND id = 'uA'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "alice");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO devices (id, tenant, user_id, jwk, created_at)"
                                  " VALUES ('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 't1',"
                                  " 'uA', '{}', 1);"
                                  "INSERT INTO totp (tenant, cred_id, user_id, sealed, confirmed,"
                                  " created_at) VALUES ('t1', 'c1', 'uA', 's', 1, 1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO devices (id, tenant, user_id, jwk, created_at)"
                                  " VALUES ('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 't2',"
                                  " 'uZ', '{}', 1);",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO totp (tenant, cred_id, user_id, sealed, confirmed,"
                                  " created_at) VALUES ('t1', 'c2', 'uA', 's', 1, 2);",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    /* An unconfirmed one beside it is fine; a number must be two digits. */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO totp (tenant, cred_id, user_id, sealed, created_at)"
                                  " VALUES ('t1', 'c3', 'uA', 's', 3);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO approvals (tenant, id, user_id, mfa_hash, number,"
                                  " created_at, expires_at) VALUES ('t1', 'a1', 'uA', 'h', '7x',"
                                  " 1, 2);",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    sqlite3_close(db);
}

static void test_kid_and_hsm_id_unique(void **state)
{
    (void)state;
    struct sg_store *s = open_new();
    /* Empty kids (GENERATING rows) are NULL, so several may coexist. */
    struct sg_key g1 = key("https://a", "ES256", "", SG_KS_GENERATING, 1);
    struct sg_key g2 = key("https://a", "ES256", "", SG_KS_GENERATING, 2);
    assert_int_equal(sg_store_key_insert(s, &g1), SIGNET_OK);
    assert_int_equal(sg_store_key_insert(s, &g2), SIGNET_OK);
    /* A kid is unique across issuers and algorithms. */
    struct sg_key k1 = key("https://a", "ES256", "same", SG_KS_PENDING, 3);
    struct sg_key k2 = key("https://b", "EdDSA", "same", SG_KS_PENDING, 4);
    assert_int_equal(sg_store_key_insert(s, &k1), SIGNET_OK);
    assert_int_equal(sg_store_key_insert(s, &k2), SIGNET_ERR_EXISTS);
    (void)snprintf(g1.kid, sizeof g1.kid, "%s", "same");
    assert_int_equal(sg_store_key_update(s, &g1), SIGNET_ERR_EXISTS);
    /* kids compare exactly. */
    struct sg_key k3 = key("https://a", "ES256", "Same", SG_KS_PENDING, 5);
    assert_int_equal(sg_store_key_insert(s, &k3), SIGNET_OK);
    /* The HSM object id is unique too. */
    struct sg_key k4 = key("https://c", "ES256", "other", SG_KS_PENDING, 3);
    assert_int_equal(sg_store_key_insert(s, &k4), SIGNET_ERR_EXISTS);
    assert_int_equal(count(s, NULL), 4);
    sg_store_close(&s);
}

/* Rows the store could not have written are corruption: refused, never
 * truncated or clamped into something valid. */
static void test_corrupt_rows(void **state)
{
    (void)state;
    static const char *const rows[] = {
        /* state out of range (CHECK bypassed by a hand-made row) */
        "PRAGMA ignore_check_constraints = 1;"
        "INSERT INTO keys (issuer, alg, kid, hsm_id, state, created_at)"
        " VALUES ('https://a', 'ES256', 'bad', zeroblob(16), 9, 1);",
        /* hsm_id of the wrong length */
        "PRAGMA ignore_check_constraints = 1;"
        "INSERT INTO keys (issuer, alg, kid, hsm_id, state, created_at)"
        " VALUES ('https://a', 'ES256', 'bad', zeroblob(15), 1, 1);",
        /* an issuer longer than any signet writes */
        "INSERT INTO keys (issuer, alg, kid, hsm_id, state, created_at)"
        " VALUES ('https://a/' || hex(zeroblob(300)), 'ES256', 'bad', zeroblob(16), 1, 1);",
        /* a kid longer than any signet writes */
        "INSERT INTO keys (issuer, alg, kid, hsm_id, state, created_at)"
        " VALUES ('https://a', 'ES256', 'bad' || hex(zeroblob(40)), zeroblob(16), 1, 1);",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct sg_store *s = open_new();
        sg_store_close(&s);
        sql(path, rows[i]);
        /* Caught when opening (quick_check sees CHECK violations) or
         * when the row is read. */
        signet_err err = sg_keystore_open(path, 0, &s);
        if (err == SIGNET_OK) {
            struct sg_key *keys = NULL;
            size_t n = 0;
            err = sg_store_key_list(s, NULL, &keys, &n);
            if (err == SIGNET_OK)
                fail_msg("row %zu read back as issuer '%.40s...' kid '%.40s...'", i,
                         n > 0 ? keys[0].issuer : "", n > 0 ? keys[0].kid : "");
            assert_null(keys);
            sg_store_close(&s);
        }
        assert_int_equal(err, SIGNET_ERR_STORE_CORRUPT);
    }
}

/* The front store (what signetd opens) has no key functions at all. */
static void test_front_store_has_no_keys(void **state)
{
    (void)state;
    char fdir[256], fpath[300];
    assert_int_equal(sg_test_mkdtemp(fdir, sizeof fdir, "signet-front"), 0);
    (void)snprintf(fpath, sizeof fpath, "%s/front.db", fdir);
    struct sg_store *s = NULL;
    assert_int_equal(sg_store_open(fpath, 1, &s), SIGNET_OK);
    struct sg_key k;
    memset(&k, 0, sizeof k);
    struct sg_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(sg_store_key_insert(s, &k), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(sg_store_key_update(s, &k), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(sg_store_key_list(s, NULL, &keys, &n), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(sg_store_key_by_kid(s, "x", &k), SIGNET_ERR_UNSUPPORTED);
    sg_store_close(&s);
    /* The same file opened as the key store has them. */
    assert_int_equal(sg_keystore_open(fpath, 0, &s), SIGNET_OK);
    assert_int_equal(sg_store_key_list(s, NULL, &keys, &n), SIGNET_OK);
    assert_int_equal(n, 0);
    sg_store_close(&s);
    sg_test_rmrf(fdir);
}

int main(void)
{
    /* Corrupt inputs make the store log errors: expected here. */
    sg_log_init("test_store", (enum sg_log_level)(SG_LOG_ERROR + 1));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_future_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_active_per_issuer_alg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kid_and_hsm_id_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jti_replay_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dpop_replay_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_people_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v3, setup, teardown),
        cmocka_unit_test(test_front_store_has_no_keys),
        cmocka_unit_test_setup_teardown(test_corrupt_rows, setup, teardown),
        /* Last: under UBSan its out-of-bounds read ends the binary. */
        cmocka_unit_test_setup_teardown(test_negative_schema, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
