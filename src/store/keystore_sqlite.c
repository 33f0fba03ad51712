/* The key store: the lifecycle rows of the signing keys, written by the
 * signer alone (and created by `signet init`). Its functions live in this
 * file, in a library (sg_keystore) that only signet-signer and the CLI
 * link: a front end that could write key rows would fail the layer check
 * (scripts/layers.sh), and its store handle has no key functions. */
#include "store/keystore.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"

static int bind_common(sqlite3_stmt *st, const struct sg_key *k)
{
    int rc = SQLITE_OK;
    if (rc == SQLITE_OK) rc = sg_sqlite_bind_text_or_null(st, 1, k->kid);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 2, (int)k->state);
    if (rc == SQLITE_OK) rc = sg_sqlite_bind_text_or_null(st, 3, k->jwk);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, k->published_at);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 5, k->activated_at);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 6, k->retired_at);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 7, k->destroyed_at);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 8, k->rotate_at);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 9, k->revoked);
    return rc;
}

static signet_err sqlite_key_insert(struct sg_store *s, struct sg_key *k)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s,
        "INSERT INTO keys (kid, state, jwk, published_at, activated_at, retired_at,"
        " destroyed_at, rotate_at, revoked, issuer, alg, hsm_id, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = bind_common(st, k);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 10, k->issuer, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 11, k->alg, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 12, k->hsm_id, SG_STORE_HSM_ID_LEN, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 13, k->created_at);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "key_insert");
    sg_sqlite_release(s, st);
    if (err == SIGNET_OK) {
        k->id = sqlite3_last_insert_rowid(db);
        err = sg_sqlite_bump(db);
    }
    return err;
}

static signet_err sqlite_key_update(struct sg_store *s, const struct sg_key *k)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s,
        "UPDATE keys SET kid = ?1, state = ?2, jwk = ?3, published_at = ?4, activated_at = ?5,"
        " retired_at = ?6, destroyed_at = ?7, rotate_at = ?8, revoked = ?9 WHERE id = ?10", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = bind_common(st, k);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 10, k->id);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "key_update");
    if (err == SIGNET_OK && sqlite3_changes(db) != 1)
        err = SIGNET_ERR_NOT_FOUND;
    sg_sqlite_release(s, st);
    if (err == SIGNET_OK)
        err = sg_sqlite_bump(db);
    return err;
}

#define KEY_COLUMNS                                                                   \
    "id, issuer, alg, kid, hsm_id, state, jwk, created_at, published_at, activated_at," \
    " retired_at, destroyed_at, rotate_at, revoked"

static signet_err read_row(sqlite3_stmt *st, struct sg_key *k)
{
    memset(k, 0, sizeof *k);
    k->id = sqlite3_column_int64(st, 0);
    if (sg_sqlite_copy_col(st, 1, k->issuer, sizeof k->issuer) != 0 ||
        sg_sqlite_copy_col(st, 2, k->alg, sizeof k->alg) != 0 || sg_sqlite_copy_col(st, 3, k->kid, sizeof k->kid) != 0)
        return SIGNET_ERR_STORE_CORRUPT;
    const void *id = sqlite3_column_blob(st, 4);
    if (id == NULL || sqlite3_column_bytes(st, 4) != SG_STORE_HSM_ID_LEN)
        return SIGNET_ERR_STORE_CORRUPT;
    memcpy(k->hsm_id, id, SG_STORE_HSM_ID_LEN);
    int state = sqlite3_column_int(st, 5);
    if (state < SG_KS_GENERATING || state > SG_KS_DESTROYED)
        return SIGNET_ERR_STORE_CORRUPT;
    k->state = (enum sg_key_state)state;
    const unsigned char *jwk = sqlite3_column_text(st, 6);
    if (jwk != NULL) {
        k->jwk = strdup((const char *)jwk);
        if (k->jwk == NULL)
            return SIGNET_ERR_NOMEM;
    }
    k->created_at = sqlite3_column_int64(st, 7);
    k->published_at = sqlite3_column_int64(st, 8);
    k->activated_at = sqlite3_column_int64(st, 9);
    k->retired_at = sqlite3_column_int64(st, 10);
    k->destroyed_at = sqlite3_column_int64(st, 11);
    k->rotate_at = sqlite3_column_int64(st, 12);
    k->revoked = sqlite3_column_int(st, 13);
    return SIGNET_OK;
}

static signet_err sqlite_key_list(struct sg_store *s, const char *issuer, struct sg_key **out,
                                  size_t *n)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    struct sg_key *keys = NULL;
    size_t count = 0, cap = 0;
    signet_err err = sg_sqlite_prepare(s, issuer != NULL
        ? "SELECT " KEY_COLUMNS " FROM keys WHERE issuer = ?1 ORDER BY id"
        : "SELECT " KEY_COLUMNS " FROM keys ORDER BY id", &st);
    if (err != SIGNET_OK)
        return err;
    if (issuer != NULL && sqlite3_bind_text(st, 1, issuer, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
        err = SIGNET_ERR_STORE;
        goto out;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sg_sqlite_grow_rows((void **)&keys, &cap, count, sizeof *keys) != 0) {
            err = SIGNET_ERR_NOMEM;
            goto out;
        }
        err = read_row(st, &keys[count]);
        count++;
        if (err != SIGNET_OK)
            goto out;
    }
    err = sg_sqlite_map_rc(db, rc, "key_list");
out:
    sg_sqlite_release(s, st);
    if (err != SIGNET_OK) {
        sg_key_list_free(keys, count);
        return err;
    }
    *out = keys;
    *n = count;
    return SIGNET_OK;
}

static signet_err sqlite_key_by_kid(struct sg_store *s, const char *kid, struct sg_key *out)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s, "SELECT " KEY_COLUMNS " FROM keys WHERE kid = ?1", &st);
    if (err != SIGNET_OK)
        return err;
    if (sqlite3_bind_text(st, 1, kid, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
        sg_sqlite_release(s, st);
        return SIGNET_ERR_STORE;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = read_row(st, out);
    else if (rc == SQLITE_DONE)
        err = SIGNET_ERR_NOT_FOUND;
    else
        err = sg_sqlite_map_rc(db, rc, "key_by_kid");
    sg_sqlite_release(s, st);
    return err;
}

static struct sg_store_ops keystore_ops;
static pthread_once_t keystore_once = PTHREAD_ONCE_INIT;

static void keystore_init(void)
{
    keystore_ops = sg_sqlite_front_ops;
    keystore_ops.key_insert = sqlite_key_insert;
    keystore_ops.key_update = sqlite_key_update;
    keystore_ops.key_list = sqlite_key_list;
    keystore_ops.key_by_kid = sqlite_key_by_kid;
}

/* The signer's own tables (issue 11), added to a key store of any age on
 * open: the client registry and one-shot marks. Only the key store has
 * them; the front end's store never does. */
static const char keystore_tables[] =
    "CREATE TABLE IF NOT EXISTS client_bindings ("
    " tenant TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " scopes TEXT NOT NULL DEFAULT '',"
    " audiences TEXT NOT NULL,"
    " lifetime INTEGER NOT NULL DEFAULT 0,"
    " bound_at INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, client_id));"
    "CREATE TABLE IF NOT EXISTS signer_marks (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    /* TOTP (issue 14): the last time step accepted per credential. */
    "CREATE TABLE IF NOT EXISTS totp_steps ("
    " issuer TEXT NOT NULL,"
    " cred_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " step INTEGER NOT NULL,"
    " used_at INTEGER NOT NULL,"
    " PRIMARY KEY (issuer, cred_id));";

signet_err sg_keystore_open(const char *where, int create, struct sg_store **out)
{
    struct sg_store *s = NULL;
    signet_err err = sg_store_open(where, create, &s);
    if (err != SIGNET_OK)
        return err;
    (void)pthread_once(&keystore_once, keystore_init);
    s->ops = &keystore_ops;
    sqlite3 *db = sg_sqlite_ss(s)->db;
    err = sg_sqlite_map_rc(db, sqlite3_exec(db, keystore_tables, NULL, NULL, NULL),
                           "keystore_tables");
    if (err != SIGNET_OK) {
        sg_store_close(&s);
        return err;
    }
    *out = s;
    return SIGNET_OK;
}

signet_err sg_keystore_binding_get(struct sg_store *s, const char *tenant, const char *client_id,
                                   struct sg_client_binding *out)
{
    memset(out, 0, sizeof *out);
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s,
        "SELECT tenant, client_id, scopes, audiences, lifetime, bound_at FROM client_bindings"
        " WHERE tenant = ?1 AND client_id = ?2", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, client_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sg_sqlite_copy_col(st, 0, out->tenant, sizeof out->tenant) != 0 ||
            sg_sqlite_copy_col(st, 1, out->client_id, sizeof out->client_id) != 0 ||
            sg_sqlite_copy_col(st, 2, out->scopes, sizeof out->scopes) != 0 ||
            sg_sqlite_copy_col(st, 3, out->audiences, sizeof out->audiences) != 0)
            err = SIGNET_ERR_STORE_CORRUPT;
        out->lifetime = sqlite3_column_int64(st, 4);
        out->bound_at = sqlite3_column_int64(st, 5);
    } else if (rc == SQLITE_DONE) {
        err = SIGNET_ERR_NOT_FOUND;
    } else {
        err = sg_sqlite_map_rc(db, rc, "binding_get");
    }
    sg_sqlite_release(s, st);
    return err;
}

static signet_err binding_put(struct sg_store *s, const struct sg_client_binding *b);
static signet_err binding_delete(struct sg_store *s, const char *tenant, const char *client_id);

/* A binding change and the store's change counter move together (a
 * savepoint nests in a caller's transaction): signers cache bindings for as
 * long as the counter stands still. */
static signet_err binding_begin(sqlite3 *db)
{
    return sg_sqlite_map_rc(db, sqlite3_exec(db, "SAVEPOINT binding", NULL, NULL, NULL),
                            "binding_begin");
}

static signet_err binding_end(sqlite3 *db, signet_err err)
{
    if (err == SIGNET_OK || err == SIGNET_ERR_NOT_FOUND) {
        signet_err e = err == SIGNET_OK ? sg_sqlite_bump(db) : SIGNET_OK;
        if (e == SIGNET_OK)
            e = sg_sqlite_map_rc(db, sqlite3_exec(db, "RELEASE binding", NULL, NULL, NULL),
                                 "binding_end");
        if (e == SIGNET_OK)
            return err;
        err = e;
    }
    (void)sqlite3_exec(db, "ROLLBACK TO binding; RELEASE binding", NULL, NULL, NULL);
    return err;
}

signet_err sg_keystore_binding_put(struct sg_store *s, const struct sg_client_binding *b)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    signet_err err = binding_begin(db);
    if (err == SIGNET_OK)
        err = binding_end(db, binding_put(s, b));
    return err;
}

signet_err sg_keystore_binding_delete(struct sg_store *s, const char *tenant,
                                      const char *client_id)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    signet_err err = binding_begin(db);
    if (err == SIGNET_OK)
        err = binding_end(db, binding_delete(s, tenant, client_id));
    return err;
}

static signet_err binding_put(struct sg_store *s, const struct sg_client_binding *b)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s,
        "INSERT OR REPLACE INTO client_bindings (tenant, client_id, scopes, audiences, lifetime,"
        " bound_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, b->tenant, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, b->client_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 3, b->scopes, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 4, b->audiences, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 5, b->lifetime);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 6, b->bound_at);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "binding_put");
    sg_sqlite_release(s, st);
    return err;
}

static signet_err binding_delete(struct sg_store *s, const char *tenant, const char *client_id)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s,
        "DELETE FROM client_bindings WHERE tenant = ?1 AND client_id = ?2", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, client_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "binding_delete");
    if (err == SIGNET_OK && sqlite3_changes(db) == 0)
        err = SIGNET_ERR_NOT_FOUND;
    sg_sqlite_release(s, st);
    return err;
}

signet_err sg_keystore_mark_get(struct sg_store *s, const char *name, int64_t *value, int *set)
{
    *value = 0;
    *set = 0;
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s, "SELECT v FROM signer_marks WHERE k = ?1", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *value = sqlite3_column_int64(st, 0);
        *set = 1;
    } else if (rc != SQLITE_DONE) {
        err = sg_sqlite_map_rc(db, rc, "mark_get");
    }
    sg_sqlite_release(s, st);
    return err;
}

signet_err sg_keystore_mark_put(struct sg_store *s, const char *name, int64_t value)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s,
        "INSERT OR REPLACE INTO signer_marks (k, v) VALUES (?1, ?2)", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, value);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "mark_put");
    sg_sqlite_release(s, st);
    return err;
}

/* One statement, so one write transaction under SQLite's database lock:
 * of two signers accepting the same step at once, the second finds the
 * first's row and its WHERE fails. */
signet_err sg_keystore_totp_use(struct sg_store *s, const char *issuer, const char *cred_id,
                                const char *user_id, int64_t step, int64_t now)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s,
        "INSERT INTO totp_steps (issuer, cred_id, user_id, step, used_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT (issuer, cred_id) DO UPDATE SET step = excluded.step,"
        " user_id = excluded.user_id, used_at = excluded.used_at"
        " WHERE excluded.step > totp_steps.step", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, issuer, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, cred_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 3, user_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, step);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 5, now);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "totp_use");
    if (err == SIGNET_OK && sqlite3_changes(db) != 1)
        err = SIGNET_ERR_EXISTS;
    sg_sqlite_release(s, st);
    return err;
}

signet_err sg_keystore_totp_last(struct sg_store *s, const char *issuer, const char *cred_id,
                                 int64_t *step)
{
    *step = -1;
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s,
        "SELECT step FROM totp_steps WHERE issuer = ?1 AND cred_id = ?2", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, issuer, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, cred_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *step = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        err = SIGNET_ERR_NOT_FOUND;
    else
        err = sg_sqlite_map_rc(db, rc, "totp_last");
    sg_sqlite_release(s, st);
    return err;
}

signet_err sg_keystore_totp_forget(struct sg_store *s, const char *issuer, const char *cred_id)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = sg_sqlite_prepare(s,
        "DELETE FROM totp_steps WHERE issuer = ?1 AND cred_id = ?2", &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_bind_text(st, 1, issuer, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, cred_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    err = sg_sqlite_map_rc(db, rc, "totp_forget");
    if (err == SIGNET_OK && sqlite3_changes(db) == 0)
        err = SIGNET_ERR_NOT_FOUND;
    sg_sqlite_release(s, st);
    return err;
}
