/* SQLite backend of the state store: WAL, synchronous=FULL, schema in
 * PRAGMA user_version with forward-only migrations, prepared statements
 * with bound parameters only. */
#include "store/store_sqlite.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/model.h"
#include "store/sqlite_int.h"
#include "util/log.h"

static void cc_own_change(struct sqlite_store *q);

/* Migration i brings the schema from version i to i + 1. */
static const char *const migrations[] = {
    "CREATE TABLE keys ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " issuer TEXT NOT NULL,"
    " alg TEXT NOT NULL,"
    " kid TEXT UNIQUE,"
    " hsm_id BLOB NOT NULL UNIQUE CHECK (length(hsm_id) = 16),"
    " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 5),"
    " jwk TEXT,"
    " created_at INTEGER NOT NULL,"
    " published_at INTEGER NOT NULL DEFAULT 0,"
    " activated_at INTEGER NOT NULL DEFAULT 0,"
    " retired_at INTEGER NOT NULL DEFAULT 0,"
    " destroyed_at INTEGER NOT NULL DEFAULT 0,"
    " rotate_at INTEGER NOT NULL DEFAULT 0,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    /* The database itself refuses a second ACTIVE key per issuer and alg. */
    "CREATE UNIQUE INDEX keys_one_active ON keys(issuer, alg) WHERE state = 3;"
    "CREATE INDEX keys_issuer ON keys(issuer, alg, state);"
    "CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "INSERT INTO meta (k, v) VALUES ('changes', 0);",
    /* 2: OAuth clients of signetd and the client-assertion replay cache. */
    "CREATE TABLE clients ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " tenant TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " auth INTEGER NOT NULL CHECK (auth IN (1, 2)),"
    " secret_hash TEXT,"
    " jwk TEXT,"
    " scopes TEXT NOT NULL DEFAULT '',"
    " default_scopes TEXT NOT NULL DEFAULT '',"
    " audiences TEXT NOT NULL DEFAULT '',"
    " lifetime INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (tenant, client_id),"
    " CHECK ((auth = 1 AND secret_hash IS NOT NULL AND jwk IS NULL) OR"
    "        (auth = 2 AND jwk IS NOT NULL AND secret_hash IS NULL)));"
    "CREATE TABLE jti_cache ("
    " tenant TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " jti TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, client_id, jti));"
    "CREATE INDEX jti_cache_expiry ON jti_cache(expires_at);",
    /* 3 (issue 12): DPoP. A client's DPoP policy (0 = the tenant's default,
     * 1 required, 2 allowed, 3 forbidden); the replay table gets a
     * namespace: 0 client assertions (RFC 7523), 1 DPoP proofs (RFC 9449,
     * keyed per tenant by a hash of jti and htu, client_id empty). The
     * table is WITHOUT ROWID: an insert, one per DPoP or private_key_jwt
     * request, updates the primary key's b-tree and the expiry index,
     * not a third (rowid) one. */
    "ALTER TABLE clients ADD COLUMN dpop INTEGER NOT NULL DEFAULT 0"
    " CHECK (dpop BETWEEN 0 AND 3);"
    "CREATE TABLE jti_cache3 ("
    " ns INTEGER NOT NULL DEFAULT 0 CHECK (ns IN (0, 1)),"
    " tenant TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " jti TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " PRIMARY KEY (ns, tenant, client_id, jti)) WITHOUT ROWID;"
    "INSERT INTO jti_cache3 (ns, tenant, client_id, jti, expires_at)"
    " SELECT 0, tenant, client_id, jti, expires_at FROM jti_cache;"
    "DROP TABLE jti_cache;"
    "ALTER TABLE jti_cache3 RENAME TO jti_cache;"
    "CREATE INDEX jti_cache_expiry ON jti_cache(expires_at);",
    /* 4 (issue 13): people (people.h, people_sqlite.c) and their clients.
     * Clients gain their grants (SG_GRANT_*: rows from before are
     * client_credentials clients), exact redirect URIs and the PAR
     * requirement, and auth 3 (public: neither secret nor key). SQLite
     * cannot alter a CHECK: the table is rebuilt with its ids and its
     * AUTOINCREMENT high-water mark (an id once used is never reused). */
    "CREATE TABLE clients4 ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " tenant TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " auth INTEGER NOT NULL CHECK (auth IN (1, 2, 3)),"
    " secret_hash TEXT,"
    " jwk TEXT,"
    " scopes TEXT NOT NULL DEFAULT '',"
    " default_scopes TEXT NOT NULL DEFAULT '',"
    " audiences TEXT NOT NULL DEFAULT '',"
    " lifetime INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " dpop INTEGER NOT NULL DEFAULT 0 CHECK (dpop BETWEEN 0 AND 3),"
    " grants INTEGER NOT NULL DEFAULT 1 CHECK (grants BETWEEN 1 AND 7),"
    " redirect_uris TEXT NOT NULL DEFAULT '',"
    " require_par INTEGER NOT NULL DEFAULT 0 CHECK (require_par IN (0, 1)),"
    " UNIQUE (tenant, client_id),"
    " CHECK ((auth = 1 AND secret_hash IS NOT NULL AND jwk IS NULL) OR"
    "        (auth = 2 AND jwk IS NOT NULL AND secret_hash IS NULL) OR"
    "        (auth = 3 AND secret_hash IS NULL AND jwk IS NULL)));"
    "INSERT INTO clients4 (id, tenant, client_id, auth, secret_hash, jwk, scopes,"
    " default_scopes, audiences, lifetime, created_at, dpop)"
    " SELECT id, tenant, client_id, auth, secret_hash, jwk, scopes, default_scopes,"
    " audiences, lifetime, created_at, dpop FROM clients;"
    "INSERT INTO sqlite_sequence (name, seq)"
    " SELECT 'clients4', seq FROM sqlite_sequence WHERE name = 'clients'"
    " AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'clients4');"
    "UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence"
    " WHERE name = 'clients'), 0)) WHERE name = 'clients4';"
    "DROP TABLE clients;"
    "ALTER TABLE clients4 RENAME TO clients;"
    /* Users: id is the per-tenant `sub`, name the sign-in handle. */
    "CREATE TABLE users ("
    " tenant TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " email TEXT NOT NULL DEFAULT '',"
    " disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, id),"
    " UNIQUE (tenant, name)) WITHOUT ROWID;"
    /* Passkeys: a credential id is unique across tenants (WebAuthn §7.1
     * step 22). Rows carry a COSE key of up to 1100 bytes: a rowid table. */
    "CREATE TABLE passkeys ("
    " cred_id BLOB NOT NULL UNIQUE CHECK (length(cred_id) BETWEEN 1 AND 1023),"
    " tenant TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " alg INTEGER NOT NULL,"
    " pubkey BLOB NOT NULL CHECK (length(pubkey) BETWEEN 1 AND 1100),"
    " sign_count INTEGER NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),"
    " flags INTEGER NOT NULL DEFAULT 0 CHECK (flags BETWEEN 0 AND 255),"
    " aaguid TEXT NOT NULL DEFAULT '',"
    " transports TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " last_used_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX passkeys_user ON passkeys(tenant, user_id);"
    /* Secrets a browser or client presents are stored as their SHA-256
     * (base64url) alone: the hash is the key. */
    "CREATE TABLE enrolments ("
    " hash TEXT NOT NULL PRIMARY KEY,"
    " tenant TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " used_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX enrolments_user ON enrolments(tenant, user_id);"
    "CREATE INDEX enrolments_expiry ON enrolments(expires_at);"
    "CREATE TABLE challenges ("
    " hash TEXT NOT NULL PRIMARY KEY,"
    " tenant TEXT NOT NULL,"
    " kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
    " bind TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX challenges_expiry ON challenges(expires_at);"
    "CREATE TABLE sessions ("
    " hash TEXT NOT NULL PRIMARY KEY,"
    " tenant TEXT NOT NULL,"
    " sid TEXT NOT NULL UNIQUE,"
    " user_id TEXT NOT NULL,"
    " acr TEXT NOT NULL DEFAULT '',"
    " amr TEXT NOT NULL DEFAULT '',"
    " auth_time INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL,"
    " idle_expires INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX sessions_user ON sessions(tenant, user_id);"
    "CREATE INDEX sessions_expiry ON sessions(expires_at);"
    /* Pending authorization requests (and PAR): a few KiB at most. */
    "CREATE TABLE authreqs ("
    " tenant TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " par INTEGER NOT NULL DEFAULT 0 CHECK (par IN (0, 1)),"
    " client_id TEXT NOT NULL,"
    " redirect_uri TEXT NOT NULL DEFAULT '',"
    " scope TEXT NOT NULL DEFAULT '',"
    " state TEXT NOT NULL DEFAULT '',"
    " nonce TEXT NOT NULL DEFAULT '',"
    " code_challenge TEXT NOT NULL DEFAULT '',"
    " acr_values TEXT NOT NULL DEFAULT '',"
    " prompt TEXT NOT NULL DEFAULT '',"
    " max_age INTEGER NOT NULL DEFAULT -1,"
    " expires_at INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, id));"
    "CREATE INDEX authreqs_expiry ON authreqs(expires_at);"
    /* Codes stay a day after their end: a second use is told apart from
     * an unknown code (RFC 6749 §4.1.2). */
    "CREATE TABLE codes ("
    " hash TEXT NOT NULL PRIMARY KEY,"
    " tenant TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " redirect_uri TEXT NOT NULL DEFAULT '',"
    " code_challenge TEXT NOT NULL DEFAULT '',"
    " user_id TEXT NOT NULL,"
    " sid TEXT NOT NULL DEFAULT '',"
    " scope TEXT NOT NULL DEFAULT '',"
    " nonce TEXT NOT NULL DEFAULT '',"
    " acr TEXT NOT NULL DEFAULT '',"
    " amr TEXT NOT NULL DEFAULT '',"
    " auth_time INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " used_at INTEGER NOT NULL DEFAULT 0,"
    " family TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX codes_user ON codes(tenant, user_id);"
    "CREATE INDEX codes_expiry ON codes(expires_at);"
    /* Refresh tokens: rotated rows stay until their family ends, so that
     * a replayed one is recognised (RFC 9700 §4.14.2). */
    "CREATE TABLE refresh_tokens ("
    " hash TEXT NOT NULL PRIMARY KEY,"
    " tenant TEXT NOT NULL,"
    " family TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " sid TEXT NOT NULL DEFAULT '',"
    " scope TEXT NOT NULL DEFAULT '',"
    " acr TEXT NOT NULL DEFAULT '',"
    " amr TEXT NOT NULL DEFAULT '',"
    " auth_time INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " idle_expires INTEGER NOT NULL,"
    " family_expires INTEGER NOT NULL,"
    " rotated_at INTEGER NOT NULL DEFAULT 0,"
    " revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX refresh_family ON refresh_tokens(tenant, family);"
    "CREATE INDEX refresh_user ON refresh_tokens(tenant, user_id);"
    "CREATE INDEX refresh_sid ON refresh_tokens(tenant, sid);"
    "CREATE INDEX refresh_expiry ON refresh_tokens(family_expires);",
    /* 5: a public client's refresh family bound to its DPoP key
     * (RFC 9449 §5): the key's JWK SHA-256 thumbprint, '' when unbound;
     * ... */
    "ALTER TABLE refresh_tokens ADD COLUMN jkt TEXT NOT NULL DEFAULT '';"
    /* ... and a person's password (argon2id, encoded): a first factor
     * only, never a sign-in alone (docs/people.md). */
    "CREATE TABLE passwords ("
    " tenant TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " hash TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, user_id));",
    /* 6 (issue 14): second factors after a password. A pending second
     * step is keyed by the hash of the page's token, like a session. */
    "CREATE TABLE mfa_pending ("
    " hash TEXT NOT NULL PRIMARY KEY,"
    " tenant TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " req TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " tries INTEGER NOT NULL DEFAULT 0 CHECK (tries >= 0)) WITHOUT ROWID;"
    "CREATE INDEX mfa_pending_user ON mfa_pending(tenant, user_id);"
    "CREATE INDEX mfa_pending_expiry ON mfa_pending(expires_at);"
    /* Approver devices: the id is the device key's RFC 7638 thumbprint,
     * unique across tenants (a key is registered once, like a passkey's
     * credential id). Rows carry a JWK of up to 511 bytes: a rowid table,
     * whose rowid orders a user's devices made in the same second. */
    "CREATE TABLE devices ("
    " id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 43),"
    " tenant TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " jwk TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " last_used_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX devices_user ON devices(tenant, user_id);"
    /* One-time codes that register a device to a user (their hash). */
    "CREATE TABLE device_codes ("
    " hash TEXT NOT NULL PRIMARY KEY,"
    " tenant TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " used_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX device_codes_user ON device_codes(tenant, user_id);"
    "CREATE INDEX device_codes_expiry ON device_codes(expires_at);"
    /* Approval requests (number matching). Rows stay a day past their
     * end: they are the rate limit's and the lock's history. The partial
     * index serves the lock (a user's WRONG answers by time). */
    "CREATE TABLE approvals ("
    " tenant TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " mfa_hash TEXT NOT NULL,"
    " number TEXT NOT NULL CHECK (length(number) = 2 AND number GLOB '[0-9][0-9]'),"
    " client_id TEXT NOT NULL DEFAULT '',"
    " address TEXT NOT NULL DEFAULT '',"
    " location TEXT NOT NULL DEFAULT '',"
    " device_id TEXT NOT NULL DEFAULT '',"
    " state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 5),"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " answered_at INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (tenant, id));"
    "CREATE INDEX approvals_user ON approvals(tenant, user_id, created_at);"
    "CREATE INDEX approvals_wrong ON approvals(tenant, user_id, answered_at) WHERE state = 3;"
    "CREATE INDEX approvals_expiry ON approvals(expires_at);"
    /* TOTP authenticators (RFC 6238): the seed sealed by the signer. The
     * database itself refuses a second confirmed one per user. */
    "CREATE TABLE totp ("
    " tenant TEXT NOT NULL,"
    " cred_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " sealed TEXT NOT NULL,"
    " confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),"
    " created_at INTEGER NOT NULL,"
    " last_used_at INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (tenant, cred_id));"
    "CREATE INDEX totp_user ON totp(tenant, user_id);"
    "CREATE UNIQUE INDEX totp_one_confirmed ON totp(tenant, user_id) WHERE confirmed = 1;",
};
#define SCHEMA_LATEST ((int)(sizeof migrations / sizeof migrations[0]))

struct sqlite_store *sg_sqlite_ss(struct sg_store *s)
{
    return (struct sqlite_store *)s;
}

signet_err sg_sqlite_map_rc(sqlite3 *db, int rc, const char *what)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
        return SIGNET_OK;
    sg_log(SG_LOG_ERROR, "store_error", "op=%s rc=%d msg=\"%s\"", what, rc,
           db != NULL ? sqlite3_errmsg(db) : "");
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
        return SIGNET_ERR_STORE_CORRUPT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return SIGNET_ERR_BUSY;
    case SQLITE_CONSTRAINT:
        return SIGNET_ERR_EXISTS;
    case SQLITE_NOMEM:
        return SIGNET_ERR_NOMEM;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
        return SIGNET_ERR_PERMISSION;
    default:
        return SIGNET_ERR_STORE;
    }
}

static signet_err exec(sqlite3 *db, const char *sql, const char *what)
{
    return sg_sqlite_map_rc(db, sqlite3_exec(db, sql, NULL, NULL, NULL), what);
}

static signet_err sqlite_begin(struct sg_store *s)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    if (q->in_tx)
        return SIGNET_ERR_INTERNAL;
    signet_err err = exec(q->db, "BEGIN IMMEDIATE", "begin");
    if (err == SIGNET_OK)
        q->in_tx = 1;
    return err;
}

static signet_err sqlite_commit(struct sg_store *s)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    signet_err err = exec(q->db, "COMMIT", "commit");
    if (err != SIGNET_OK) {
        (void)sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    }
    q->in_tx = 0;
    cc_own_change(q); /* a transaction may have changed clients */
    return err;
}

static void sqlite_rollback(struct sg_store *s)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    if (q->in_tx)
        (void)sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    q->in_tx = 0;
}

static signet_err prepare_raw(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    return sg_sqlite_map_rc(db, sqlite3_prepare_v2(db, sql, -1, st, NULL), "prepare");
}

/* Statements are prepared once per connection and kept (keyed by the
 * address of their SQL text, always a literal): compiling SQL cost more
 * than running it on the token endpoint's client lookup. A statement in
 * use (never nested today) gets a one-off twin. */
signet_err sg_sqlite_prepare(struct sg_store *s, const char *sql, sqlite3_stmt **st)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    struct cached_stmt *free_slot = NULL;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        struct cached_stmt *c = &q->cache[i];
        if (c->sql == sql && !c->busy) {
            c->busy = 1;
            *st = c->st;
            return SIGNET_OK;
        }
        if (c->sql == NULL && free_slot == NULL)
            free_slot = c;
    }
    if (free_slot == NULL)
        return prepare_raw(q->db, sql, st);
    signet_err err = sg_sqlite_map_rc(q->db,
                            sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                               &free_slot->st, NULL),
                            "prepare");
    if (err != SIGNET_OK)
        return err;
    free_slot->sql = sql;
    free_slot->busy = 1;
    *st = free_slot->st;
    return SIGNET_OK;
}

/* Ends a statement's use: a kept one is reset (which ends its read
 * transaction) and unbound, any other finalized. */
void sg_sqlite_release(struct sg_store *s, sqlite3_stmt *st)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    for (size_t i = 0; i < STMT_CACHE; i++) {
        if (q->cache[i].st == st && q->cache[i].busy) {
            (void)sqlite3_reset(st);
            (void)sqlite3_clear_bindings(st);
            q->cache[i].busy = 0;
            return;
        }
    }
    sqlite3_finalize(st);
}

/* One statement without parameters or rows, from the kept ones. */
static signet_err run(struct sg_store *s, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s, sql, &st);
    if (err != SIGNET_OK)
        return err;
    err = sg_sqlite_map_rc(sg_sqlite_ss(s)->db, sqlite3_step(st), what);
    sg_sqlite_release(s, st);
    return err;
}

signet_err sg_sqlite_bump(sqlite3 *db)
{
    return exec(db, "UPDATE meta SET v = v + 1 WHERE k = 'changes'", "bump");
}

int sg_sqlite_bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL || v[0] == '\0')
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* A value too long for its field can only come from a tampered store. */
int sg_sqlite_copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    size_t n = v != NULL ? strlen((const char *)v) : 0;
    dst[0] = '\0';
    if (n >= cap)
        return -1;
    if (n > 0)
        memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

/* Room for one more row in a growing result array (doubling, overflow
 * checked). */
int sg_sqlite_grow_rows(void **rows, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t ncap = *cap != 0 ? *cap * 2 : 8;
    if (ncap < *cap || ncap > SIZE_MAX / size)
        return -1;
    void *p = realloc(*rows, ncap * size);
    if (p == NULL)
        return -1;
    *rows = p;
    *cap = ncap;
    return 0;
}

static signet_err sqlite_version(struct sg_store *s, int64_t *out)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s, "SELECT v FROM meta WHERE k = 'changes'", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        err = rc == SQLITE_DONE ? SIGNET_ERR_STORE_CORRUPT : sg_sqlite_map_rc(db, rc, "version");
    sg_sqlite_release(s, st);
    return err;
}

/* ---- clients and the jti replay cache (schema 2) ---------------------- */

#define CLIENT_COLUMNS                                                                      \
    "id, tenant, client_id, auth, secret_hash, jwk, scopes, default_scopes, audiences,"     \
    " lifetime, created_at, dpop, grants, redirect_uris, require_par"

#define GRANTS_ALL                                                                          \
    (SG_GRANT_CLIENT_CREDENTIALS | SG_GRANT_AUTHORIZATION_CODE | SG_GRANT_REFRESH_TOKEN)

static signet_err dup_col(sqlite3_stmt *st, int col, char **out)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    *out = NULL;
    if (v == NULL)
        return SIGNET_OK;
    *out = strdup((const char *)v);
    return *out != NULL ? SIGNET_OK : SIGNET_ERR_NOMEM;
}

static signet_err read_client(sqlite3_stmt *st, struct sg_client *c)
{
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    if (sg_sqlite_copy_col(st, 1, c->tenant, sizeof c->tenant) != 0 ||
        sg_sqlite_copy_col(st, 2, c->client_id, sizeof c->client_id) != 0)
        return SIGNET_ERR_STORE_CORRUPT;
    int auth = sqlite3_column_int(st, 3);
    if (auth != SG_CLIENT_SECRET && auth != SG_CLIENT_PRIVATE_KEY_JWT && auth != SG_CLIENT_NONE)
        return SIGNET_ERR_STORE_CORRUPT;
    c->auth = (enum sg_client_auth)auth;
    signet_err err = dup_col(st, 4, &c->secret_hash);
    if (err == SIGNET_OK)
        err = dup_col(st, 5, &c->jwk);
    if (err == SIGNET_OK)
        err = dup_col(st, 6, &c->scopes);
    if (err == SIGNET_OK)
        err = dup_col(st, 7, &c->default_scopes);
    if (err == SIGNET_OK)
        err = dup_col(st, 8, &c->audiences);
    c->lifetime = sqlite3_column_int64(st, 9);
    c->created_at = sqlite3_column_int64(st, 10);
    int dpop = sqlite3_column_int(st, 11);
    if (dpop < SG_CLIENT_DPOP_DEFAULT || dpop > SG_CLIENT_DPOP_FORBIDDEN)
        return SIGNET_ERR_STORE_CORRUPT;
    c->dpop = (enum sg_client_dpop)dpop;
    int64_t grants = sqlite3_column_int64(st, 12);
    if (grants < 1 || grants > (int64_t)GRANTS_ALL)
        return SIGNET_ERR_STORE_CORRUPT;
    c->grants = (unsigned)grants;
    if (err == SIGNET_OK)
        err = dup_col(st, 13, &c->redirect_uris);
    int64_t par = sqlite3_column_int64(st, 14);
    if (par != 0 && par != 1)
        return SIGNET_ERR_STORE_CORRUPT;
    c->require_par = (int)par;
    if (err == SIGNET_OK && (c->scopes == NULL || c->default_scopes == NULL ||
                             c->audiences == NULL || c->redirect_uris == NULL))
        err = SIGNET_ERR_STORE_CORRUPT;
    /* What the table's CHECK says, should a row have been written around it. */
    if (err == SIGNET_OK &&
        ((c->auth == SG_CLIENT_SECRET) != (c->secret_hash != NULL) ||
         (c->auth == SG_CLIENT_PRIVATE_KEY_JWT) != (c->jwk != NULL)))
        err = SIGNET_ERR_STORE_CORRUPT;
    return err;
}

static int nonempty(const char *v)
{
    return v != NULL && v[0] != '\0';
}

/* The credential matches the method: a secret client has a hash and no
 * key, a private_key_jwt client a key and no hash, a public client
 * neither. */
static int client_auth_ok(const struct sg_client *c)
{
    switch (c->auth) {
    case SG_CLIENT_SECRET:
        return nonempty(c->secret_hash) && !nonempty(c->jwk);
    case SG_CLIENT_PRIVATE_KEY_JWT:
        return nonempty(c->jwk) && !nonempty(c->secret_hash);
    case SG_CLIENT_NONE:
        return !nonempty(c->jwk) && !nonempty(c->secret_hash);
    }
    return 0;
}

/* grants 0 (a caller that predates schema 4, like a zeroed row) means
 * client_credentials, as for the rows schema 4 migrated. */
static signet_err sqlite_client_insert(struct sg_store *s, struct sg_client *c)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    unsigned grants = c->grants != 0 ? c->grants : SG_GRANT_CLIENT_CREDENTIALS;
    if (!client_auth_ok(c) || (grants & ~GRANTS_ALL) != 0 ||
        (c->require_par != 0 && c->require_par != 1) || (int)c->dpop < SG_CLIENT_DPOP_DEFAULT ||
        (int)c->dpop > SG_CLIENT_DPOP_FORBIDDEN)
        return SIGNET_ERR_INVALID_ARG; /* the table's CHECK would say EXISTS */
    signet_err err = sg_sqlite_prepare(s,
        "INSERT INTO clients (tenant, client_id, auth, secret_hash, jwk, scopes, default_scopes,"
        " audiences, lifetime, created_at, dpop, grants, redirect_uris, require_par)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, c->tenant, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, c->client_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 3, (int)c->auth);
    if (rc == SQLITE_OK) rc = sg_sqlite_bind_text_or_null(st, 4, c->secret_hash);
    if (rc == SQLITE_OK) rc = sg_sqlite_bind_text_or_null(st, 5, c->jwk);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 6, c->scopes != NULL ? c->scopes : "", -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 7, c->default_scopes != NULL ? c->default_scopes : "", -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 8, c->audiences != NULL ? c->audiences : "", -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 9, c->lifetime);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 10, c->created_at);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 11, (int)c->dpop);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 12, (int64_t)grants);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 13, c->redirect_uris != NULL ? c->redirect_uris : "", -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 14, c->require_par);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "client_insert");
    sg_sqlite_release(s, st);
    if (err == SIGNET_OK) {
        c->id = sqlite3_last_insert_rowid(db);
        c->grants = grants;
        err = sg_sqlite_bump(db);
    }
    cc_own_change(sg_sqlite_ss(s));
    return err;
}

static void cc_clear(struct client_cache *cc)
{
    for (size_t i = 0; i < cc->n; i++)
        sg_client_clear(&cc->rows[i]);
    cc->n = 0;
    cc->hand = 0;
    cc->gen++;
}

/* PRAGMA data_version: changes when another connection (another process:
 * the CLI, another signetd) commits, never for this connection's own
 * commits; -1 when it cannot be read. */
static int64_t data_version(struct sg_store *s)
{
    sqlite3_stmt *st = NULL;
    if (sg_sqlite_prepare(s, "PRAGMA data_version", &st) != SIGNET_OK)
        return -1;
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sg_sqlite_release(s, st);
    return v;
}

/* The database's files changed: the cache goes unless the change was this
 * connection's own (its replay-cache inserts write the WAL on every
 * private_key_jwt or DPoP request; its own client changes clear the cache
 * themselves, cc_own_change). */
static void cc_changed(struct sqlite_store *q)
{
    int64_t v = data_version(&q->base);
    if (v < 0 || v != q->cc.dv) {
        cc_clear(&q->cc);
        q->cc.dv = v;
    }
}

static void cc_own_change(struct sqlite_store *q)
{
    cc_clear(&q->cc);
}

static void cc_start(struct sqlite_store *q)
{
    struct client_cache *cc = &q->cc;
    cc->fd = -2;
    cc->dv = data_version(&q->base);
    char dir[PATH_MAX], name[PATH_MAX];
    if (q->path == NULL || strlen(q->path) >= sizeof dir)
        return;
    memcpy(dir, q->path, strlen(q->path) + 1);
    memcpy(name, q->path, strlen(q->path) + 1);
    const char *b = basename(name);
    if (strlen(b) >= sizeof cc->base)
        return;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return;
    if (inotify_add_watch(fd, dirname(dir),
                          IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                              IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
        close(fd);
        return;
    }
    memcpy(cc->base, b, strlen(b) + 1);
    cc->base_len = strlen(b);
    cc->fd = fd;
}

/* Reads every pending event; a lost event empties the cache, a change to
 * the database's files empties it unless it was this connection's own
 * (cc_changed). */
static void cc_drain(struct sqlite_store *q)
{
    struct client_cache *cc = &q->cc;
    if (cc->fd == -1)
        cc_start(q);
    if (cc->fd < 0)
        return;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int changed = 0;
    for (;;) {
        ssize_t n = read(cc->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN) {
                close(cc->fd); /* cannot tell any more: stop caching */
                cc->fd = -2;
                cc_clear(cc);
            } else if (changed) {
                cc_changed(q);
            }
            return;
        }
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0) {
                close(cc->fd); /* the watch is gone: later changes would go unseen */
                cc->fd = -2;
                cc_clear(cc);
                return;
            }
            if ((ev->mask & IN_Q_OVERFLOW) != 0)
                cc_clear(cc);
            else if (ev->len > 0 && strncmp(ev->name, cc->base, cc->base_len) == 0)
                changed = 1;
            off += (ssize_t)sizeof(struct inotify_event) + (ssize_t)ev->len;
        }
    }
}

static signet_err client_copy(struct sg_client *dst, const struct sg_client *src)
{
    *dst = *src;
    dst->secret_hash = dst->jwk = dst->scopes = dst->default_scopes = dst->audiences = NULL;
    dst->redirect_uris = NULL;
    int bad = (src->secret_hash != NULL && (dst->secret_hash = strdup(src->secret_hash)) == NULL) ||
              (src->jwk != NULL && (dst->jwk = strdup(src->jwk)) == NULL) ||
              (src->scopes != NULL && (dst->scopes = strdup(src->scopes)) == NULL) ||
              (src->default_scopes != NULL &&
               (dst->default_scopes = strdup(src->default_scopes)) == NULL) ||
              (src->audiences != NULL && (dst->audiences = strdup(src->audiences)) == NULL) ||
              (src->redirect_uris != NULL &&
               (dst->redirect_uris = strdup(src->redirect_uris)) == NULL);
    if (bad) {
        sg_client_clear(dst);
        return SIGNET_ERR_NOMEM;
    }
    return SIGNET_OK;
}

static int cc_get(struct sqlite_store *q, const char *tenant, const char *client_id,
                  struct sg_client *out)
{
    struct client_cache *cc = &q->cc;
    for (size_t i = 0; i < cc->n; i++) {
        const struct sg_client *r = &cc->rows[i];
        if (strcmp(r->client_id, client_id) == 0 && strcmp(r->tenant, tenant) == 0)
            return client_copy(out, r) == SIGNET_OK;
    }
    return 0;
}

static void cc_put(struct client_cache *cc, const struct sg_client *c)
{
    struct sg_client *slot = &cc->rows[cc->n < CLIENT_CACHE ? cc->n : cc->hand];
    if (cc->n == CLIENT_CACHE) {
        sg_client_clear(slot);
        cc->hand = (cc->hand + 1) % CLIENT_CACHE;
    } else {
        cc->n++;
    }
    if (client_copy(slot, c) != SIGNET_OK) {
        /* Keep the array dense: the last row takes the slot. */
        *slot = cc->rows[cc->n - 1];
        memset(&cc->rows[cc->n - 1], 0, sizeof cc->rows[0]);
        cc->n--;
        cc->hand = 0;
    }
}

static signet_err client_read(struct sg_store *s, const char *tenant, const char *client_id,
                              struct sg_client *out)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s, "SELECT " CLIENT_COLUMNS " FROM clients"
                                 " WHERE tenant = ?1 AND client_id = ?2", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, client_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        err = read_client(st, out);
        if (err != SIGNET_OK)
            sg_client_clear(out);
    } else if (rc == SQLITE_DONE) {
        err = SIGNET_ERR_NOT_FOUND;
    } else {
        err = sg_sqlite_map_rc(db, rc, "client_get");
    }
    sg_sqlite_release(s, st);
    return err;
}

static signet_err sqlite_client_get(struct sg_store *s, const char *tenant, const char *client_id,
                                    struct sg_client *out)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    if (q->in_tx)
        return client_read(s, tenant, client_id, out); /* may see its own uncommitted rows */
    cc_drain(q);
    if (cc_get(q, tenant, client_id, out))
        return SIGNET_OK;
    uint64_t gen = q->cc.gen;
    signet_err err = client_read(s, tenant, client_id, out);
    if (err == SIGNET_OK && q->cc.fd >= 0) {
        cc_drain(q); /* a change written while we read: do not keep the row */
        if (q->cc.gen == gen)
            cc_put(&q->cc, out);
    }
    return err;
}

static signet_err sqlite_client_list(struct sg_store *s, const char *tenant,
                                     struct sg_client **out, size_t *n)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    struct sg_client *cs = NULL;
    size_t count = 0, cap = 0;
    *out = NULL;
    *n = 0;
    signet_err err = sg_sqlite_prepare(s, tenant != NULL
        ? "SELECT " CLIENT_COLUMNS " FROM clients WHERE tenant = ?1 ORDER BY tenant, client_id"
        : "SELECT " CLIENT_COLUMNS " FROM clients ORDER BY tenant, client_id", &st);
    if (err != SIGNET_OK)
        return err;
    if (tenant != NULL && sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
        err = SIGNET_ERR_STORE;
        goto out;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sg_sqlite_grow_rows((void **)&cs, &cap, count, sizeof *cs) != 0) {
            err = SIGNET_ERR_NOMEM;
            goto out;
        }
        err = read_client(st, &cs[count]);
        count++;
        if (err != SIGNET_OK)
            goto out;
    }
    err = sg_sqlite_map_rc(db, rc, "client_list");
out:
    sg_sqlite_release(s, st);
    if (err != SIGNET_OK) {
        sg_client_list_free(cs, count);
        return err;
    }
    *out = cs;
    *n = count;
    return SIGNET_OK;
}

static signet_err sqlite_client_delete(struct sg_store *s, const char *tenant,
                                       const char *client_id)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s, "DELETE FROM clients WHERE tenant = ?1 AND client_id = ?2", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, client_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "client_delete");
    if (err == SIGNET_OK && sqlite3_changes(db) != 1)
        err = SIGNET_ERR_NOT_FOUND;
    sg_sqlite_release(s, st);
    if (err == SIGNET_OK)
        err = sg_sqlite_bump(db);
    cc_own_change(sg_sqlite_ss(s));
    return err;
}

static signet_err sqlite_client_rehash(struct sg_store *s, const char *tenant,
                                       const char *client_id, const char *old_hash,
                                       const char *new_hash)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s, "UPDATE clients SET secret_hash = ?4 WHERE tenant = ?1"
                                          " AND client_id = ?2 AND auth = 1 AND secret_hash = ?3",
                                       &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, client_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, old_hash, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 4, new_hash, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "client_rehash");
    if (err == SIGNET_OK && sqlite3_changes(db) != 1)
        err = SIGNET_ERR_NOT_FOUND;
    sg_sqlite_release(s, st);
    if (err == SIGNET_OK)
        err = sg_sqlite_bump(db);
    cc_own_change(sg_sqlite_ss(s));
    return err;
}

/* One statement, one write transaction: a jti is taken when it is new or
 * when the row holding it has expired (the client may reuse it then).
 * Expired rows are purged at most every JTI_PURGE_EVERY seconds.
 *
 * Durability: these commits run with synchronous = NORMAL (in WAL mode the
 * WAL is written at each commit but synced only at checkpoints): a crash
 * of signetd loses nothing, a power failure may forget the last uses, and
 * then only for assertions still inside their lifetime (minutes). A FULL
 * sync per request would cap private_key_jwt at the disk's fsync rate.
 * Keys and clients keep synchronous = FULL. */
#define JTI_PURGE_EVERY 10

/* The DPoP rows of tenant as this handle counts them (NULL: no slot). */
static struct sqlite_dpop_count *dpop_slot(struct sqlite_store *q, const char *tenant)
{
    for (size_t i = 0; i < q->n_dpop; i++)
        if (strcmp(q->dpop[i].tenant, tenant) == 0)
            return &q->dpop[i];
    if (q->n_dpop == SQLITE_DPOP_TENANTS || strlen(tenant) >= sizeof q->dpop[0].tenant)
        return NULL;
    struct sqlite_dpop_count *d = &q->dpop[q->n_dpop++];
    memcpy(d->tenant, tenant, strlen(tenant) + 1);
    d->n = 0;
    return d;
}

/* Deletes the expired rows (both namespaces), at most every
 * JTI_PURGE_EVERY seconds, and counts the DPoP rows left per tenant: the
 * bound of sg_store_dpop_jti_use holds against what every process
 * sharing the store wrote (this handle's own inserts are added between
 * two counts). */
static signet_err jti_purge(struct sg_store *s, int64_t now)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    sqlite3 *db = q->db;
    sqlite3_stmt *st = NULL;
    if (now < q->next_jti_purge)
        return SIGNET_OK;
    signet_err err = sg_sqlite_prepare(s, "DELETE FROM jti_cache WHERE expires_at < ?1", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_int64(st, 1, now);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "jti_purge");
    sg_sqlite_release(s, st);
    if (err != SIGNET_OK)
        return err;
    err = sg_sqlite_prepare(s, "SELECT tenant, count(*) FROM jti_cache WHERE ns = 1"
                               " GROUP BY tenant", &st);
    if (err != SIGNET_OK)
        return err;
    q->n_dpop = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        struct sqlite_dpop_count *d = t != NULL ? dpop_slot(q, (const char *)t) : NULL;
        if (d != NULL)
            d->n = sqlite3_column_int64(st, 1);
    }
    err = rc == SQLITE_DONE ? SIGNET_OK : sg_sqlite_map_rc(db, rc, "jti_count");
    sg_sqlite_release(s, st);
    if (err == SIGNET_OK)
        q->next_jti_purge = now + JTI_PURGE_EVERY;
    return err;
}

/* The primary key makes the check and the insert one atomic step, even
 * across several signetd processes sharing the store. */
static signet_err jti_insert(struct sg_store *s, int ns, const char *tenant,
                             const char *client_id, const char *jti, int64_t expires_at,
                             int64_t now)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s,
        "INSERT INTO jti_cache (ns, tenant, client_id, jti, expires_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (ns, tenant, client_id, jti)"
        " DO UPDATE SET expires_at = excluded.expires_at"
        " WHERE jti_cache.expires_at < ?6", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_int(st, 1, ns);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 3, client_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 4, jti, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 5, expires_at);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 6, now);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "jti_use");
    if (err == SIGNET_OK && sqlite3_changes(db) == 0)
        err = SIGNET_ERR_EXISTS; /* a replay: not a store error worth logging */
    sg_sqlite_release(s, st);
    return err;
}

/* Commits of the replay caches: synchronous = NORMAL (above). A handle
 * opened for them alone stays so; the shared one switches around each. */
static signet_err sync_normal(struct sg_store *s)
{
    return sg_sqlite_ss(s)->replay_only ? SIGNET_OK
                                        : run(s, "PRAGMA synchronous = NORMAL", "synchronous");
}

static signet_err sync_full(struct sg_store *s)
{
    return sg_sqlite_ss(s)->replay_only ? SIGNET_OK
                                        : run(s, "PRAGMA synchronous = FULL", "synchronous");
}

static signet_err sqlite_jti_use(struct sg_store *s, const char *tenant, const char *client_id,
                                 const char *jti, int64_t expires_at, int64_t now)
{
    signet_err err = sync_normal(s);
    if (err != SIGNET_OK)
        return err;
    err = jti_purge(s, now);
    if (err == SIGNET_OK)
        err = jti_insert(s, 0, tenant, client_id, jti, expires_at, now);
    if (sync_full(s) != SIGNET_OK && err == SIGNET_OK)
        err = SIGNET_ERR_STORE;
    return err;
}

static signet_err sqlite_dpop_jti_use(struct sg_store *s, const char *tenant, const char *key,
                                      int64_t expires_at, int64_t now, int64_t max)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    signet_err err = sync_normal(s);
    if (err != SIGNET_OK)
        return err;
    err = jti_purge(s, now);
    struct sqlite_dpop_count *d = err == SIGNET_OK ? dpop_slot(q, tenant) : NULL;
    if (err == SIGNET_OK && d != NULL && max > 0 && d->n >= max)
        err = SIGNET_ERR_TOO_LARGE; /* full: refuse rather than forget */
    if (err == SIGNET_OK)
        err = jti_insert(s, 1, tenant, "", key, expires_at, now);
    if (err == SIGNET_OK && d != NULL)
        d->n++;
    if (sync_full(s) != SIGNET_OK && err == SIGNET_OK)
        err = SIGNET_ERR_STORE;
    return err;
}

static void sqlite_close(struct sg_store *s)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    sqlite_rollback(s);
    for (size_t i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(q->cache[i].st);
    cc_clear(&q->cc);
    if (q->cc.fd >= 0)
        close(q->cc.fd);
    free(q->path);
    sqlite3_close(q->db);
    free(q);
}

const struct sg_store_ops sg_sqlite_front_ops = {
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    /* No key functions: those are the key store's (keystore_sqlite.c),
     * linked into the signer alone. */
    .version = sqlite_version,
    .close = sqlite_close,
    .client_insert = sqlite_client_insert,
    .client_get = sqlite_client_get,
    .client_list = sqlite_client_list,
    .client_delete = sqlite_client_delete,
    .client_rehash = sqlite_client_rehash,
    .jti_use = sqlite_jti_use,
    .dpop_jti_use = sqlite_dpop_jti_use,
};

static signet_err get_user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    signet_err err = prepare_raw(db, "PRAGMA user_version", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        err = sg_sqlite_map_rc(db, rc, "user_version");
    sqlite3_finalize(st);
    return err;
}

/* A database with no schema objects at all (a fresh file). */
static int is_empty(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK)
        return 0;
    int empty = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0;
    sqlite3_finalize(st);
    return empty;
}

static signet_err quick_check(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    signet_err err = prepare_raw(db, "PRAGMA quick_check", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        if (v == NULL || strcmp((const char *)v, "ok") != 0)
            err = SIGNET_ERR_STORE_CORRUPT;
    } else {
        err = sg_sqlite_map_rc(db, rc, "quick_check");
    }
    sqlite3_finalize(st);
    return err;
}

static signet_err migrate(sqlite3 *db, int from)
{
    for (int v = from; v < SCHEMA_LATEST; v++) {
        signet_err err = exec(db, "BEGIN IMMEDIATE", "migrate_begin");
        if (err == SIGNET_OK)
            err = exec(db, migrations[v], "migrate");
        if (err == SIGNET_OK) {
            char pragma[64];
            (void)snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
            err = exec(db, pragma, "migrate_version");
        }
        if (err == SIGNET_OK)
            err = exec(db, "COMMIT", "migrate_commit");
        if (err != SIGNET_OK) {
            (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return err;
        }
        sg_log(SG_LOG_INFO, "store_migrated", "schema_version=%d", v + 1);
    }
    return SIGNET_OK;
}

signet_err sg_store_sqlite_open(const char *path, int create, struct sg_store **out)
{
    struct stat st;
    if (!create && stat(path, &st) != 0)
        return SIGNET_ERR_NOT_INITIALISED;
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    signet_err err = sg_sqlite_map_rc(db, rc, "open");
    int version = 0;
    if (err == SIGNET_OK)
        err = sg_sqlite_map_rc(db, sqlite3_busy_timeout(db, 5000), "busy_timeout");
    if (err == SIGNET_OK)
        err = get_user_version(db, &version);
    if (err == SIGNET_OK && (version < 0 || version > SCHEMA_LATEST)) {
        sg_log(SG_LOG_ERROR, "store_schema_unknown", "version=%d latest=%d", version, SCHEMA_LATEST);
        err = SIGNET_ERR_STORE_CORRUPT;
    }
    if (err == SIGNET_OK && version == 0 && (!create || !is_empty(db)))
        err = SIGNET_ERR_STORE_CORRUPT; /* exists but was never a signet store */
    if (err == SIGNET_OK && version > 0)
        err = quick_check(db);
    if (err == SIGNET_OK)
        err = exec(db, "PRAGMA journal_mode = WAL", "wal");
    if (err == SIGNET_OK)
        err = exec(db, "PRAGMA synchronous = FULL", "synchronous");
    /* The store is small (keys, clients, the jti replay cache): a 512 KiB
     * page cache instead of SQLite's 2 MiB default keeps a long-running
     * signetd's memory flat; misses are reads from the OS page cache. */
    if (err == SIGNET_OK)
        err = exec(db, "PRAGMA cache_size = -512", "cache_size");
    if (err == SIGNET_OK)
        err = migrate(db, version);
    if (err == SIGNET_OK && create)
        (void)chmod(path, 0600);
    struct sqlite_store *q = NULL;
    if (err == SIGNET_OK) {
        q = calloc(1, sizeof *q);
        if (q == NULL)
            err = SIGNET_ERR_NOMEM;
    }
    if (err != SIGNET_OK) {
        sqlite3_close(db);
        return err;
    }
    q->base.ops = &sg_sqlite_front_ops;
    q->base.schema_version = SCHEMA_LATEST;
    q->db = db;
    q->cc.fd = -1;
    q->path = strdup(path); /* NULL: no client cache */
    *out = &q->base;
    return SIGNET_OK;
}

signet_err sg_store_sqlite_open_replay(const char *path, struct sg_store **out)
{
    signet_err err = sg_store_sqlite_open(path, 0, out);
    if (err != SIGNET_OK)
        return err;
    err = exec(sg_sqlite_ss(*out)->db, "PRAGMA synchronous = NORMAL", "synchronous");
    if (err != SIGNET_OK) {
        sqlite_close(*out);
        *out = NULL;
        return err;
    }
    sg_sqlite_ss(*out)->replay_only = 1;
    return SIGNET_OK;
}
