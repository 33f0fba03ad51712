/* People in the SQLite front store (people.h, schema 6): users, passwords,
 * pending second steps, approver devices and their registration codes,
 * approval requests, TOTP authenticators, passkeys, enrolment links,
 * WebAuthn challenges, sessions, authorization requests, codes and refresh
 * tokens, on the front store's connection.
 *
 * Every statement names the tenant: a row of one tenant is never read,
 * changed or deleted through another. The functions that decide a race
 * (enrol_consume, challenge_take, code_redeem, refresh_rotate, mfa_take,
 * device_register, approval_create, approval_set, and the revocations
 * that span tables) run in one BEGIN IMMEDIATE transaction,
 * unless the caller holds one: the write lock is taken before the row is
 * read, so of two connections presenting the same secret the second reads
 * what the first wrote. People rows do not bump the version counter (it
 * tells the front end that clients changed) and do not empty the client
 * cache. */
#include "store/people.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"

/* Used and expired codes are kept this long: a second use within it is
 * told apart from an unknown code (RFC 6749 §4.1.2). */
#define CODE_KEEP 86400

/* Approvals are kept this long after their end: they are the rate limit's
 * and the lock's history, so a window or lock may not be longer (an
 * answer comes before the end). */
#define APPROVAL_KEEP 86400

#define CHALLENGE_BIND_MAX 64

/* ---- statements with bound arguments -------------------------------------- */

enum arg_type { ARG_TEXT = 1, ARG_INT = 2, ARG_BLOB = 3 };

struct arg {
    enum arg_type type;
    const char *text; /* ARG_TEXT; NULL binds NULL */
    int64_t i;
    const void *blob;
    size_t len;
};

#define A_TEXT(v) { .type = ARG_TEXT, .text = (v) }
#define A_INT(v) { .type = ARG_INT, .i = (int64_t)(v) }
#define A_BLOB(p, n) { .type = ARG_BLOB, .blob = (p), .len = (n) }
#define NARGS(a) (sizeof(a) / sizeof((a)[0]))

static int bind_args(sqlite3_stmt *st, const struct arg *a, size_t n)
{
    int rc = SQLITE_OK;
    for (size_t k = 0; k < n && rc == SQLITE_OK; k++) {
        int i = (int)k + 1;
        switch (a[k].type) {
        case ARG_TEXT:
            rc = a[k].text != NULL ? sqlite3_bind_text(st, i, a[k].text, -1, SQLITE_TRANSIENT)
                                   : sqlite3_bind_null(st, i);
            break;
        case ARG_INT:
            rc = sqlite3_bind_int64(st, i, a[k].i);
            break;
        case ARG_BLOB:
            rc = a[k].len <= INT_MAX ? sqlite3_bind_blob(st, i, a[k].blob, (int)a[k].len,
                                                         SQLITE_TRANSIENT)
                                     : SQLITE_TOOBIG;
            break;
        default:
            rc = SQLITE_MISUSE;
        }
    }
    return rc;
}

/* A kept statement for sql with a bound. */
static signet_err prep(struct sg_store *s, const char *sql, const struct arg *a, size_t n,
                       sqlite3_stmt **st)
{
    signet_err err = sg_sqlite_prepare(s, sql, st);
    if (err != SIGNET_OK)
        return err;
    err = sg_sqlite_map_rc(sg_sqlite_ss(s)->db, bind_args(*st, a, n), "people_bind");
    if (err != SIGNET_OK) {
        sg_sqlite_release(s, *st);
        *st = NULL;
    }
    return err;
}

/* Runs a statement that returns no rows; *changes (when not NULL) gets
 * the number of rows it changed. */
static signet_err exec_args(struct sg_store *s, const char *sql, const char *what,
                            const struct arg *a, size_t n, int *changes)
{
    sqlite3 *db = sg_sqlite_ss(s)->db;
    sqlite3_stmt *st = NULL;
    signet_err err = prep(s, sql, a, n, &st);
    if (err != SIGNET_OK)
        return err;
    err = sg_sqlite_map_rc(db, sqlite3_step(st), what);
    if (err == SIGNET_OK && changes != NULL)
        *changes = sqlite3_changes(db);
    sg_sqlite_release(s, st);
    return err;
}

/* *found: whether the query returns a row. */
static signet_err exists_args(struct sg_store *s, const char *sql, const char *what,
                              const struct arg *a, size_t n, int *found)
{
    sqlite3_stmt *st = NULL;
    *found = 0;
    signet_err err = prep(s, sql, a, n, &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *found = 1;
    else
        err = sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc, what);
    sg_sqlite_release(s, st);
    return err;
}

/* ---- transactions ---------------------------------------------------------- */

/* Takes the write lock now (BEGIN IMMEDIATE) unless the caller holds a
 * transaction; *own says whether this one is ours to end. The store's
 * own begin/commit are not used: they empty the client cache, which
 * people rows never change. */
static signet_err tx_begin(struct sg_store *s, int *own)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    *own = 0;
    if (q->in_tx)
        return SIGNET_OK;
    signet_err err = sg_sqlite_map_rc(q->db, sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL,
                                                          NULL),
                                      "people_begin");
    if (err == SIGNET_OK) {
        q->in_tx = 1;
        *own = 1;
    }
    return err;
}

/* Ends our transaction: commits when keep, else rolls back. Returns err,
 * or the commit's failure. In the caller's transaction nothing is ended:
 * the caller commits or rolls back the whole. */
static signet_err tx_end(struct sg_store *s, int own, int keep, signet_err err)
{
    struct sqlite_store *q = sg_sqlite_ss(s);
    if (!own)
        return err;
    if (keep) {
        signet_err c = sg_sqlite_map_rc(q->db, sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL),
                                        "people_commit");
        if (c != SIGNET_OK) {
            (void)sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
            err = c;
        }
    } else {
        (void)sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    }
    q->in_tx = 0;
    return err;
}

/* ---- arguments -------------------------------------------------------------- */

/* Non-empty and NUL-terminated within cap. */
static int str_ok(const char *v, size_t cap)
{
    return v != NULL && v[0] != '\0' && strnlen(v, cap) < cap;
}

/* May be empty. */
static int opt_ok(const char *v, size_t cap)
{
    return v != NULL && strnlen(v, cap) < cap;
}

static int tenant_ok(const char *t)
{
    return str_ok(t, SG_STORE_TENANT_MAX);
}

static int id_ok(const char *id)
{
    return str_ok(id, SG_PEOPLE_ID_MAX);
}

static int hash_ok(const char *h)
{
    return str_ok(h, SG_PEOPLE_HASH_LEN + 1);
}

/* min to max base64url characters (RFC 4648 §5, no padding). */
static int b64url_ok(const char *v, size_t min, size_t max)
{
    size_t n = strnlen(v, max + 1);
    if (n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
              (v[i] >= '0' && v[i] <= '9') || v[i] == '-' || v[i] == '_'))
            return 0;
    return 1;
}

/* An RFC 7638 thumbprint (a DPoP key's, an approver device's id): 43
 * base64url characters. */
static int jkt_ok(const char *j)
{
    return j != NULL && b64url_ok(j, SG_PEOPLE_HASH_LEN, SG_PEOPLE_HASH_LEN);
}

/* The functions run on the SQLite front store's connection only (the key
 * store's handle is the same structure with more functions). */
static signet_err args_ok(struct sg_store *s, int ok)
{
    if (s == NULL || s->ops == NULL || s->ops->close != sg_sqlite_front_ops.close)
        return SIGNET_ERR_UNSUPPORTED;
    return ok ? SIGNET_OK : SIGNET_ERR_INVALID_ARG;
}

/* Fills a fixed-size member; a value too long for it can only come from a
 * tampered store. */
static int col(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    return sg_sqlite_copy_col(st, i, dst, cap) == 0;
}

#define COL(st, i, field) col((st), (i), (field), sizeof(field))

static int blob_col(sqlite3_stmt *st, int i, uint8_t *dst, size_t cap, size_t *len)
{
    const void *v = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);
    *len = 0;
    if (v == NULL || n <= 0 || (size_t)n > cap)
        return 0;
    memcpy(dst, v, (size_t)n);
    *len = (size_t)n;
    return 1;
}

/* Grows *rows for one more and zeroes it (NULL: out of memory). */
static void *next_row(void **rows, size_t *cap, size_t count, size_t size)
{
    if (sg_sqlite_grow_rows(rows, cap, count, size) != 0)
        return NULL;
    void *r = (char *)*rows + count * size;
    memset(r, 0, size);
    return r;
}

/* Every row of a SELECT, each read by read into a malloc'd array of
 * size-byte rows: *out (NULL when none) and *n; what names the query in
 * errors. */
static signet_err select_all(struct sg_store *s, const char *sql, const struct arg *a, size_t na,
                             size_t size, signet_err (*read)(sqlite3_stmt *, void *),
                             const char *what, void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    signet_err err = prep(s, sql, a, na, &st);
    if (err != SIGNET_OK)
        return err;
    void *rows = NULL;
    size_t count = 0, cap = 0;
    int rc = SQLITE_DONE;
    while (err == SIGNET_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        void *x = next_row(&rows, &cap, count, size);
        err = x != NULL ? read(st, x) : SIGNET_ERR_NOMEM;
        count++;
    }
    if (err == SIGNET_OK)
        err = sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc, what);
    sg_sqlite_release(s, st);
    if (err != SIGNET_OK || count == 0) {
        free(rows);
        return err;
    }
    *out = rows;
    *n = count;
    return SIGNET_OK;
}

/* The one row of a SELECT read by read into out (size bytes, zeroed
 * first, after the binding: the arguments may lie in *out, and again on
 * any error): SIGNET_ERR_NOT_FOUND when there is none; what names the
 * query in errors. */
static signet_err select_one(struct sg_store *s, const char *sql, const struct arg *a, size_t na,
                             void *out, size_t size, signet_err (*read)(sqlite3_stmt *, void *),
                             const char *what)
{
    sqlite3_stmt *st = NULL;
    signet_err err = prep(s, sql, a, na, &st);
    memset(out, 0, size);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = read(st, out);
    else
        err = rc == SQLITE_DONE ? SIGNET_ERR_NOT_FOUND
                                : sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc, what);
    sg_sqlite_release(s, st);
    if (err != SIGNET_OK)
        memset(out, 0, size);
    return err;
}

/* ---- purging ------------------------------------------------------------------ */

/* Rows nobody can use any more: expired challenges, requests, links,
 * pending second steps and device registration codes, codes and approvals
 * a day past their end, refresh tokens past their family's end, and ended
 * sessions no refresh token names. Called on the way by the
 * functions that add rows (each delete is an index range, empty most of
 * the time). */
static signet_err purge(struct sg_store *s, int64_t now)
{
    static const struct {
        const char *sql;
        int64_t keep; /* rows go keep seconds after their end */
    } del[] = {
        {"DELETE FROM challenges WHERE expires_at <= ?1", 0},
        {"DELETE FROM authreqs WHERE expires_at <= ?1", 0},
        {"DELETE FROM enrolments WHERE expires_at <= ?1", 0},
        {"DELETE FROM mfa_pending WHERE expires_at <= ?1", 0},
        {"DELETE FROM device_codes WHERE expires_at <= ?1", 0},
        {"DELETE FROM approvals WHERE expires_at <= ?1", APPROVAL_KEEP},
        {"DELETE FROM codes WHERE expires_at <= ?1", CODE_KEEP},
        {"DELETE FROM refresh_tokens WHERE family_expires <= ?1", 0},
        {("DELETE FROM sessions WHERE expires_at <= ?1 AND NOT EXISTS (SELECT 1 FROM"
          " refresh_tokens r WHERE r.tenant = sessions.tenant AND r.sid = sessions.sid)"),
         0},
    };
    signet_err err = SIGNET_OK;
    for (size_t i = 0; i < sizeof del / sizeof del[0] && err == SIGNET_OK; i++) {
        const struct arg a[] = {A_INT(now - del[i].keep)};
        err = exec_args(s, del[i].sql, "people_purge", a, NARGS(a), NULL);
    }
    return err;
}

/* ---- users ---------------------------------------------------------------------- */

#define USER_COLS "tenant, id, name, email, disabled, created_at"

static signet_err read_user(sqlite3_stmt *st, struct sg_user *u)
{
    memset(u, 0, sizeof *u);
    int64_t disabled = sqlite3_column_int64(st, 4);
    if (!COL(st, 0, u->tenant) || !COL(st, 1, u->id) || !COL(st, 2, u->name) ||
        !COL(st, 3, u->email) || (disabled != 0 && disabled != 1))
        return SIGNET_ERR_STORE_CORRUPT;
    u->disabled = (int)disabled;
    u->created_at = sqlite3_column_int64(st, 5);
    return SIGNET_OK;
}

/* read_user for select_one and select_all. */
static signet_err rd_user(sqlite3_stmt *st, void *row)
{
    return read_user(st, row);
}

/* One user by a unique key (sql binds tenant and the key). */
static signet_err user_one(struct sg_store *s, const char *sql, const char *tenant,
                           const char *key, struct sg_user *out)
{
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(key)};
    return select_one(s, sql, a, NARGS(a), out, sizeof *out, rd_user, "user_get");
}

signet_err sg_people_user_add(struct sg_store *s, const struct sg_user *u)
{
    signet_err err = args_ok(s, u != NULL && tenant_ok(u->tenant) && id_ok(u->id) &&
                                    str_ok(u->name, sizeof u->name) &&
                                    opt_ok(u->email, sizeof u->email) &&
                                    (u->disabled == 0 || u->disabled == 1));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(u->tenant), A_TEXT(u->id),         A_TEXT(u->name),
                            A_TEXT(u->email),  A_INT(u->disabled),    A_INT(u->created_at)};
    int changes = 0;
    err = exec_args(s,
                    "INSERT INTO users (tenant, id, name, email, disabled, created_at)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                    "user_add", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    return err;
}

signet_err sg_people_user_get(struct sg_store *s, const char *tenant, const char *id,
                              struct sg_user *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) && id_ok(id));
    if (err != SIGNET_OK)
        return err;
    return user_one(s, "SELECT " USER_COLS " FROM users WHERE tenant = ?1 AND id = ?2", tenant,
                    id, out);
}

signet_err sg_people_user_by_name(struct sg_store *s, const char *tenant, const char *name,
                                  struct sg_user *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) &&
                                    str_ok(name, SG_PEOPLE_NAME_MAX));
    if (err != SIGNET_OK)
        return err;
    return user_one(s, "SELECT " USER_COLS " FROM users WHERE tenant = ?1 AND name = ?2",
                    tenant, name, out);
}

signet_err sg_people_user_list(struct sg_store *s, const char *tenant, struct sg_user **out,
                               size_t *n)
{
    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    signet_err err = args_ok(s, out != NULL && n != NULL && tenant_ok(tenant));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant)};
    void *rows = NULL;
    err = select_all(s, "SELECT " USER_COLS " FROM users WHERE tenant = ?1 ORDER BY name",
                     a, NARGS(a), sizeof **out, rd_user, "user_list", &rows, n);
    *out = rows;
    return err;
}

/* Revokes every session and refresh token of a user; *live (when not
 * NULL) gets the number of sessions that were live. */
static signet_err revoke_user_rows(struct sg_store *s, const char *tenant, const char *user_id,
                                   int64_t now, size_t *live)
{
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id), A_INT(now)};
    int n = 0;
    signet_err err = exec_args(s,
                               "UPDATE sessions SET revoked_at = ?3 WHERE tenant = ?1"
                               " AND user_id = ?2 AND revoked_at = 0 AND idle_expires > ?3"
                               " AND expires_at > ?3",
                               "session_revoke_user", a, NARGS(a), &n);
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "UPDATE sessions SET revoked_at = ?3 WHERE tenant = ?1 AND user_id = ?2"
                        " AND revoked_at = 0",
                        "session_revoke_user", a, NARGS(a), NULL);
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "UPDATE refresh_tokens SET revoked_at = ?3 WHERE tenant = ?1"
                        " AND user_id = ?2 AND revoked_at = 0",
                        "refresh_revoke_user", a, NARGS(a), NULL);
    if (err == SIGNET_OK && live != NULL)
        *live = n > 0 ? (size_t)n : 0;
    return err;
}

signet_err sg_people_user_set_disabled(struct sg_store *s, const char *tenant, const char *id,
                                       int disabled, int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(id), A_INT(disabled != 0)};
    int own = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = exec_args(s, "UPDATE users SET disabled = ?3 WHERE tenant = ?1 AND id = ?2",
                    "user_set_disabled", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK && disabled)
        err = revoke_user_rows(s, tenant, id, now, NULL);
    return tx_end(s, own, err == SIGNET_OK, err);
}

signet_err sg_people_user_remove(struct sg_store *s, const char *tenant, const char *id)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(id));
    if (err != SIGNET_OK)
        return err;
    /* The challenges bound to the user's links, sessions and pending
     * second steps first (their binds name those rows' hashes), then the
     * rows, the user last. */
    static const char *const sql[] = {
        ("DELETE FROM challenges WHERE tenant = ?1 AND bind IN (SELECT hash FROM sessions"
         " WHERE tenant = ?1 AND user_id = ?2 UNION ALL SELECT hash FROM enrolments"
         " WHERE tenant = ?1 AND user_id = ?2 UNION ALL SELECT hash FROM mfa_pending"
         " WHERE tenant = ?1 AND user_id = ?2)"),
        "DELETE FROM passkeys WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM passwords WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM mfa_pending WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM devices WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM device_codes WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM approvals WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM totp WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM enrolments WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM sessions WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM codes WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM refresh_tokens WHERE tenant = ?1 AND user_id = ?2",
        "DELETE FROM users WHERE tenant = ?1 AND id = ?2",
    };
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(id)};
    int own = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    for (size_t i = 0; i < sizeof sql / sizeof sql[0] && err == SIGNET_OK; i++)
        err = exec_args(s, sql[i], "user_remove", a, NARGS(a), &changes);
    /* changes: of the last statement, the user's row. Leftovers of a user
     * already gone are deleted all the same. */
    err = tx_end(s, own, err == SIGNET_OK, err);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

/* The user exists in the tenant and is not disabled. */
static signet_err user_active(struct sg_store *s, const char *tenant, const char *id, int *ok)
{
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(id)};
    return exists_args(s, "SELECT 1 FROM users WHERE tenant = ?1 AND id = ?2 AND disabled = 0",
                       "user_active", a, NARGS(a), ok);
}

/* ---- enrolment links ----------------------------------------------------------- */

signet_err sg_people_enrol_create(struct sg_store *s, const char *tenant, const char *user_id,
                                  const char *hash, int64_t expires_at, int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(user_id) && hash_ok(hash));
    if (err != SIGNET_OK)
        return err;
    const struct arg ua[] = {A_TEXT(tenant), A_TEXT(user_id)};
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_TEXT(user_id), A_INT(now),
                            A_INT(expires_at)};
    int own = 0, found = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = purge(s, now);
    if (err == SIGNET_OK)
        err = exists_args(s, "SELECT 1 FROM users WHERE tenant = ?1 AND id = ?2", "enrol_create",
                          ua, NARGS(ua), &found);
    if (err == SIGNET_OK && !found)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "DELETE FROM enrolments WHERE tenant = ?1 AND user_id = ?2"
                        " AND used_at = 0",
                        "enrol_create", ua, NARGS(ua), NULL);
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "INSERT INTO enrolments (hash, tenant, user_id, created_at, expires_at)"
                        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                        "enrol_create", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    return tx_end(s, own, err == SIGNET_OK, err);
}

/* ---- passwords ------------------------------------------------------------------ */

signet_err sg_people_password_set(struct sg_store *s, const char *tenant, const char *user_id,
                                  const char *hash, int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(user_id) &&
                                    (hash == NULL || (strncmp(hash, "$argon2id$", 10) == 0 &&
                                                      str_ok(hash, SG_PEOPLE_PWHASH_MAX))));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id), A_TEXT(hash != NULL ? hash : ""),
                            A_INT(now)};
    int own = 0, found = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = exists_args(s, "SELECT 1 FROM users WHERE tenant = ?1 AND id = ?2", "password_user", a,
                      2, &found);
    if (err == SIGNET_OK && !found)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        err = hash != NULL
                  ? exec_args(s,
                              "INSERT INTO passwords (tenant, user_id, hash, updated_at)"
                              " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant, user_id)"
                              " DO UPDATE SET hash = excluded.hash,"
                              " updated_at = excluded.updated_at",
                              "password_set", a, NARGS(a), NULL)
                  : exec_args(s, "DELETE FROM passwords WHERE tenant = ?1 AND user_id = ?2",
                              "password_remove", a, 2, NULL);
    return tx_end(s, own, err == SIGNET_OK, err);
}

signet_err sg_people_password_get(struct sg_store *s, const char *tenant, const char *user_id,
                                  char hash[SG_PEOPLE_PWHASH_MAX])
{
    signet_err err = args_ok(s, hash != NULL && tenant_ok(tenant) && id_ok(user_id));
    if (err != SIGNET_OK)
        return err;
    hash[0] = '\0';
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id)};
    sqlite3_stmt *st = NULL;
    err = prep(s, "SELECT hash FROM passwords WHERE tenant = ?1 AND user_id = ?2", a, NARGS(a),
               &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = col(st, 0, hash, SG_PEOPLE_PWHASH_MAX) ? SIGNET_OK : SIGNET_ERR_STORE_CORRUPT;
    else
        err = rc == SQLITE_DONE ? SIGNET_ERR_NOT_FOUND
                                : sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc, "password_get");
    sg_sqlite_release(s, st);
    return err;
}

/* The user of a live link: unused, unexpired, its user there and enabled. */
static signet_err enrol_find(struct sg_store *s, const char *tenant, const char *hash,
                             int64_t now, char user_id[SG_PEOPLE_ID_MAX])
{
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_INT(now)};
    sqlite3_stmt *st = NULL;
    signet_err err = prep(s,
                          "SELECT e.user_id FROM enrolments e JOIN users u"
                          " ON u.tenant = e.tenant AND u.id = e.user_id"
                          " WHERE e.hash = ?1 AND e.tenant = ?2 AND e.used_at = 0"
                          " AND e.expires_at > ?3 AND u.disabled = 0",
                          a, NARGS(a), &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = col(st, 0, user_id, SG_PEOPLE_ID_MAX) ? SIGNET_OK : SIGNET_ERR_STORE_CORRUPT;
    else
        err = rc == SQLITE_DONE ? SIGNET_ERR_NOT_FOUND
                                : sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc, "enrol_find");
    sg_sqlite_release(s, st);
    return err;
}

signet_err sg_people_enrol_peek(struct sg_store *s, const char *tenant, const char *hash,
                                int64_t now, char user_id[SG_PEOPLE_ID_MAX])
{
    signet_err err = args_ok(s, user_id != NULL && tenant_ok(tenant) && hash_ok(hash));
    if (err != SIGNET_OK)
        return err;
    char found[SG_PEOPLE_ID_MAX];
    user_id[0] = '\0';
    err = enrol_find(s, tenant, hash, now, found);
    if (err == SIGNET_OK)
        memcpy(user_id, found, sizeof found);
    return err;
}

signet_err sg_people_enrol_consume(struct sg_store *s, const char *tenant, const char *hash,
                                   int64_t now, char user_id[SG_PEOPLE_ID_MAX])
{
    signet_err err = args_ok(s, user_id != NULL && tenant_ok(tenant) && hash_ok(hash));
    if (err != SIGNET_OK)
        return err;
    user_id[0] = '\0';
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_INT(now)};
    char found[SG_PEOPLE_ID_MAX];
    int own = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = enrol_find(s, tenant, hash, now, found);
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "UPDATE enrolments SET used_at = ?3 WHERE hash = ?1 AND tenant = ?2"
                        " AND used_at = 0",
                        "enrol_consume", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    err = tx_end(s, own, err == SIGNET_OK, err);
    if (err == SIGNET_OK)
        memcpy(user_id, found, sizeof found);
    return err;
}

/* ---- passkeys --------------------------------------------------------------------- */

#define PASSKEY_COLS                                                                        \
    "tenant, user_id, cred_id, alg, pubkey, sign_count, flags, aaguid, transports,"         \
    " created_at, last_used_at"

static signet_err read_passkey(sqlite3_stmt *st, struct sg_passkey *p)
{
    memset(p, 0, sizeof *p);
    int64_t alg = sqlite3_column_int64(st, 3);
    int64_t count = sqlite3_column_int64(st, 5);
    int64_t flags = sqlite3_column_int64(st, 6);
    if (!COL(st, 0, p->tenant) || !COL(st, 1, p->user_id) ||
        !blob_col(st, 2, p->cred_id, sizeof p->cred_id, &p->cred_id_len) ||
        !blob_col(st, 4, p->pubkey, sizeof p->pubkey, &p->pubkey_len) ||
        !COL(st, 7, p->aaguid) || !COL(st, 8, p->transports) || alg < INT_MIN ||
        alg > INT_MAX || count < 0 || count > (int64_t)UINT32_MAX || flags < 0 || flags > 0xff)
        return SIGNET_ERR_STORE_CORRUPT;
    p->alg = (int)alg;
    p->sign_count = (uint32_t)count;
    p->flags = (unsigned)flags;
    p->created_at = sqlite3_column_int64(st, 9);
    p->last_used_at = sqlite3_column_int64(st, 10);
    return SIGNET_OK;
}

/* read_passkey for select_all. */
static signet_err rd_passkey(sqlite3_stmt *st, void *row)
{
    return read_passkey(st, row);
}

static int cred_ok(const uint8_t *cred_id, size_t len)
{
    return cred_id != NULL && len >= 1 && len <= SG_PEOPLE_CRED_ID_MAX;
}

signet_err sg_people_passkey_add(struct sg_store *s, const struct sg_passkey *p)
{
    signet_err err = args_ok(s, p != NULL && tenant_ok(p->tenant) && id_ok(p->user_id) &&
                                    cred_ok(p->cred_id, p->cred_id_len) &&
                                    p->pubkey_len >= 1 && p->pubkey_len <= sizeof p->pubkey &&
                                    p->flags <= 0xffu && opt_ok(p->aaguid, sizeof p->aaguid) &&
                                    opt_ok(p->transports, sizeof p->transports));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(p->tenant),     A_TEXT(p->user_id),
                            A_BLOB(p->cred_id, p->cred_id_len),
                            A_INT(p->alg),         A_BLOB(p->pubkey, p->pubkey_len),
                            A_INT(p->sign_count),  A_INT(p->flags),
                            A_TEXT(p->aaguid),     A_TEXT(p->transports),
                            A_INT(p->created_at),  A_INT(p->last_used_at)};
    int changes = 0;
    /* One statement: the user is there when the row goes in (a user
     * removed meanwhile leaves no passkey behind). */
    err = exec_args(s,
                    "INSERT INTO passkeys (" PASSKEY_COLS ")"
                    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11"
                    " WHERE EXISTS (SELECT 1 FROM users WHERE tenant = ?1 AND id = ?2)"
                    " ON CONFLICT DO NOTHING",
                    "passkey_add", a, NARGS(a), &changes);
    if (err != SIGNET_OK || changes == 1)
        return err;
    /* Nothing inserted: a known credential id (in any tenant), or no user. */
    const struct arg ca[] = {A_BLOB(p->cred_id, p->cred_id_len)};
    int found = 0;
    err = exists_args(s, "SELECT 1 FROM passkeys WHERE cred_id = ?1", "passkey_add", ca,
                      NARGS(ca), &found);
    if (err == SIGNET_OK)
        err = found ? SIGNET_ERR_EXISTS : SIGNET_ERR_NOT_FOUND;
    return err;
}

signet_err sg_people_passkey_get(struct sg_store *s, const char *tenant, const uint8_t *cred_id,
                                 size_t len, struct sg_passkey *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) && cred_ok(cred_id, len));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_BLOB(cred_id, len), A_TEXT(tenant)};
    return select_one(s, "SELECT " PASSKEY_COLS " FROM passkeys WHERE cred_id = ?1 AND tenant = ?2",
                      a, NARGS(a), out, sizeof *out, rd_passkey, "passkey_get");
}

signet_err sg_people_passkey_list(struct sg_store *s, const char *tenant, const char *user_id,
                                  struct sg_passkey **out, size_t *n)
{
    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    signet_err err = args_ok(s, out != NULL && n != NULL && tenant_ok(tenant) && id_ok(user_id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id)};
    void *rows = NULL;
    err = select_all(s, "SELECT " PASSKEY_COLS " FROM passkeys WHERE tenant = ?1 AND user_id = ?2"
                     " ORDER BY created_at, rowid",
                     a, NARGS(a), sizeof **out, rd_passkey, "passkey_list", &rows, n);
    *out = rows;
    return err;
}

/* The flags of registration stay (UP, UV, BE cannot change for a
 * credential); BS is the authenticator's latest word (WebAuthn §6.1.3). */
signet_err sg_people_passkey_used(struct sg_store *s, const char *tenant, const uint8_t *cred_id,
                                  size_t len, uint32_t sign_count, unsigned flags, int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && cred_ok(cred_id, len));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_BLOB(cred_id, len), A_TEXT(tenant), A_INT(sign_count),
                            A_INT(flags & SG_PASSKEY_BS), A_INT(SG_PASSKEY_BS), A_INT(now)};
    int changes = 0;
    err = exec_args(s,
                    "UPDATE passkeys SET sign_count = ?3, flags = (flags & ~?5) | ?4,"
                    " last_used_at = ?6 WHERE cred_id = ?1 AND tenant = ?2",
                    "passkey_used", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

/* ---- WebAuthn challenges ------------------------------------------------------------ */

static int kind_ok(enum sg_challenge_kind kind)
{
    return kind == SG_CHALLENGE_REGISTER || kind == SG_CHALLENGE_AUTHENTICATE;
}

signet_err sg_people_challenge_put(struct sg_store *s, const char *tenant, const char *hash,
                                   enum sg_challenge_kind kind, const char *bind,
                                   int64_t expires_at, int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && hash_ok(hash) && kind_ok(kind) &&
                                    opt_ok(bind, CHALLENGE_BIND_MAX));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_INT(kind), A_TEXT(bind),
                            A_INT(now), A_INT(expires_at)};
    int own = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = purge(s, now);
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "INSERT INTO challenges (hash, tenant, kind, bind, created_at, expires_at)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                        "challenge_put", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    return tx_end(s, own, err == SIGNET_OK, err);
}

signet_err sg_people_challenge_take(struct sg_store *s, const char *tenant, const char *hash,
                                    enum sg_challenge_kind kind, int64_t now, char bind[64])
{
    signet_err err = args_ok(s, bind != NULL && tenant_ok(tenant) && hash_ok(hash));
    if (err != SIGNET_OK)
        return err;
    bind[0] = '\0';
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant)};
    char found[CHALLENGE_BIND_MAX];
    int64_t got_kind = 0, expires_at = 0;
    int own = 0, changes = 0;
    sqlite3_stmt *st = NULL;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = prep(s, "SELECT kind, bind, expires_at FROM challenges WHERE hash = ?1 AND tenant = ?2",
               a, NARGS(a), &st);
    if (err == SIGNET_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            got_kind = sqlite3_column_int64(st, 0);
            expires_at = sqlite3_column_int64(st, 2);
            if (!COL(st, 1, found))
                err = SIGNET_ERR_STORE_CORRUPT;
        } else {
            err = rc == SQLITE_DONE ? SIGNET_ERR_NOT_FOUND
                                    : sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc, "challenge_take");
        }
        sg_sqlite_release(s, st);
    }
    /* Used up by this use whatever it turns out to be (a corrupt row too). */
    if (err == SIGNET_OK || err == SIGNET_ERR_STORE_CORRUPT) {
        signet_err d = exec_args(s, "DELETE FROM challenges WHERE hash = ?1 AND tenant = ?2",
                                 "challenge_take", a, NARGS(a), &changes);
        if (d != SIGNET_OK)
            err = d;
        else if (err == SIGNET_OK && changes != 1)
            err = SIGNET_ERR_NOT_FOUND;
    }
    int keep = err == SIGNET_OK || err == SIGNET_ERR_STORE_CORRUPT;
    err = tx_end(s, own, keep, err);
    if (err == SIGNET_OK && (got_kind != (int64_t)kind || expires_at <= now))
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        memcpy(bind, found, sizeof found);
    return err;
}

/* ---- sessions ------------------------------------------------------------------------ */

#define SESSION_COLS                                                                        \
    "s.tenant, s.hash, s.sid, s.user_id, s.acr, s.amr, s.auth_time, s.created_at,"          \
    " s.last_seen, s.idle_expires, s.expires_at"

/* A live session: not revoked, inside its idle and absolute windows, its
 * user there and enabled (?3 is now). */
#define SESSION_LIVE                                                                        \
    " s.revoked_at = 0 AND s.idle_expires > ?3 AND s.expires_at > ?3 AND EXISTS (SELECT 1"  \
    " FROM users u WHERE u.tenant = s.tenant AND u.id = s.user_id AND u.disabled = 0)"

static signet_err read_session(sqlite3_stmt *st, struct sg_session *x)
{
    memset(x, 0, sizeof *x);
    if (!COL(st, 0, x->tenant) || !COL(st, 1, x->hash) || !COL(st, 2, x->sid) ||
        !COL(st, 3, x->user_id) || !COL(st, 4, x->acr) || !COL(st, 5, x->amr))
        return SIGNET_ERR_STORE_CORRUPT;
    x->auth_time = sqlite3_column_int64(st, 6);
    x->created_at = sqlite3_column_int64(st, 7);
    x->last_seen = sqlite3_column_int64(st, 8);
    x->idle_expires = sqlite3_column_int64(st, 9);
    x->expires_at = sqlite3_column_int64(st, 10);
    return SIGNET_OK;
}

/* read_session for select_all. */
static signet_err rd_session(sqlite3_stmt *st, void *row)
{
    return read_session(st, row);
}

signet_err sg_people_session_create(struct sg_store *s, const struct sg_session *x)
{
    signet_err err = args_ok(s, x != NULL && tenant_ok(x->tenant) && hash_ok(x->hash) &&
                                    id_ok(x->sid) && id_ok(x->user_id) &&
                                    opt_ok(x->acr, sizeof x->acr) &&
                                    opt_ok(x->amr, sizeof x->amr));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(x->hash),         A_TEXT(x->tenant),     A_TEXT(x->sid),
                            A_TEXT(x->user_id),      A_TEXT(x->acr),        A_TEXT(x->amr),
                            A_INT(x->auth_time),     A_INT(x->created_at),  A_INT(x->last_seen),
                            A_INT(x->idle_expires),  A_INT(x->expires_at)};
    int own = 0, ok = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = purge(s, x->created_at);
    if (err == SIGNET_OK)
        err = user_active(s, x->tenant, x->user_id, &ok);
    if (err == SIGNET_OK && !ok)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "INSERT INTO sessions (hash, tenant, sid, user_id, acr, amr, auth_time,"
                        " created_at, last_seen, idle_expires, expires_at)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                        " ON CONFLICT DO NOTHING",
                        "session_create", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    return tx_end(s, own, err == SIGNET_OK, err);
}

signet_err sg_people_session_get(struct sg_store *s, const char *tenant, const char *hash,
                                 int64_t now, struct sg_session *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) && hash_ok(hash));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_INT(now)};
    return select_one(s,
                      "SELECT " SESSION_COLS " FROM sessions s WHERE s.hash = ?1"
                      " AND s.tenant = ?2 AND" SESSION_LIVE,
                      a, NARGS(a), out, sizeof *out, rd_session, "session_get");
}

signet_err sg_people_session_touch(struct sg_store *s, const char *tenant, const char *hash,
                                   int64_t now, int64_t idle_expires)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && hash_ok(hash));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_INT(now), A_INT(idle_expires)};
    int changes = 0;
    err = exec_args(s,
                    "UPDATE sessions AS s SET last_seen = ?3, idle_expires = ?4"
                    " WHERE s.hash = ?1 AND s.tenant = ?2 AND" SESSION_LIVE,
                    "session_touch", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

signet_err sg_people_session_list(struct sg_store *s, const char *tenant, const char *user_id,
                                  int64_t now, struct sg_session **out, size_t *n)
{
    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    signet_err err = args_ok(s, out != NULL && n != NULL && tenant_ok(tenant) &&
                                    (user_id == NULL || id_ok(user_id)));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id), A_INT(now)};
    void *rows = NULL;
    err = select_all(s, user_id != NULL
                         ? "SELECT " SESSION_COLS " FROM sessions s WHERE s.tenant = ?1"
                           " AND s.user_id = ?2 AND" SESSION_LIVE " ORDER BY s.created_at, s.sid"
                         : "SELECT " SESSION_COLS " FROM sessions s WHERE s.tenant = ?1"
                           " AND ?2 IS NULL AND" SESSION_LIVE " ORDER BY s.created_at, s.sid",
                     a, NARGS(a), sizeof **out, rd_session, "session_list", &rows, n);
    *out = rows;
    return err;
}

signet_err sg_people_session_revoke(struct sg_store *s, const char *tenant, const char *sid,
                                    int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(sid));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(sid), A_TEXT(tenant), A_INT(now)};
    int own = 0, live = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = exists_args(s, "SELECT 1 FROM sessions s WHERE s.sid = ?1 AND s.tenant = ?2 AND"
                         SESSION_LIVE,
                      "session_revoke", a, NARGS(a), &live);
    /* Ended or not, nothing issued under it may live on. */
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "UPDATE sessions SET revoked_at = ?3 WHERE sid = ?1 AND tenant = ?2"
                        " AND revoked_at = 0",
                        "session_revoke", a, NARGS(a), NULL);
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "UPDATE refresh_tokens SET revoked_at = ?3 WHERE sid = ?1"
                        " AND tenant = ?2 AND revoked_at = 0",
                        "session_revoke", a, NARGS(a), NULL);
    err = tx_end(s, own, err == SIGNET_OK, err);
    if (err == SIGNET_OK && !live)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

signet_err sg_people_session_revoke_user(struct sg_store *s, const char *tenant,
                                         const char *user_id, int64_t now, size_t *n)
{
    if (n != NULL)
        *n = 0;
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(user_id));
    if (err != SIGNET_OK)
        return err;
    size_t live = 0;
    int own = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = revoke_user_rows(s, tenant, user_id, now, &live);
    err = tx_end(s, own, err == SIGNET_OK, err);
    if (err == SIGNET_OK && n != NULL)
        *n = live;
    return err;
}

/* ---- authorization requests -------------------------------------------------------- */

#define AUTHREQ_COLS                                                                        \
    "tenant, id, par, client_id, redirect_uri, scope, state, nonce, code_challenge,"       \
    " acr_values, prompt, max_age, expires_at"

static signet_err read_authreq(sqlite3_stmt *st, struct sg_authreq *r)
{
    memset(r, 0, sizeof *r);
    int64_t par = sqlite3_column_int64(st, 2);
    if (!COL(st, 0, r->tenant) || !COL(st, 1, r->id) || (par != 0 && par != 1) ||
        !COL(st, 3, r->client_id) || !COL(st, 4, r->redirect_uri) || !COL(st, 5, r->scope) ||
        !COL(st, 6, r->state) || !COL(st, 7, r->nonce) || !COL(st, 8, r->code_challenge) ||
        !COL(st, 9, r->acr_values) || !COL(st, 10, r->prompt))
        return SIGNET_ERR_STORE_CORRUPT;
    r->par = (int)par;
    r->max_age = sqlite3_column_int64(st, 11);
    r->expires_at = sqlite3_column_int64(st, 12);
    return SIGNET_OK;
}

/* read_authreq for select_one and select_all. */
static signet_err rd_authreq(sqlite3_stmt *st, void *row)
{
    return read_authreq(st, row);
}

signet_err sg_people_authreq_put(struct sg_store *s, const struct sg_authreq *r)
{
    signet_err err = args_ok(
        s, r != NULL && tenant_ok(r->tenant) && id_ok(r->id) && (r->par == 0 || r->par == 1) &&
               str_ok(r->client_id, sizeof r->client_id) &&
               opt_ok(r->redirect_uri, sizeof r->redirect_uri) &&
               opt_ok(r->scope, sizeof r->scope) && opt_ok(r->state, sizeof r->state) &&
               opt_ok(r->nonce, sizeof r->nonce) &&
               opt_ok(r->code_challenge, sizeof r->code_challenge) &&
               opt_ok(r->acr_values, sizeof r->acr_values) &&
               opt_ok(r->prompt, sizeof r->prompt));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(r->tenant),       A_TEXT(r->id),         A_INT(r->par),
                            A_TEXT(r->client_id),    A_TEXT(r->redirect_uri),
                            A_TEXT(r->scope),        A_TEXT(r->state),      A_TEXT(r->nonce),
                            A_TEXT(r->code_challenge), A_TEXT(r->acr_values),
                            A_TEXT(r->prompt),       A_INT(r->max_age),     A_INT(r->expires_at)};
    int changes = 0;
    err = exec_args(s,
                    "INSERT INTO authreqs (" AUTHREQ_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                    " ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT DO NOTHING",
                    "authreq_put", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    return err;
}

signet_err sg_people_authreq_get(struct sg_store *s, const char *tenant, const char *id,
                                 int64_t now, struct sg_authreq *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) && id_ok(id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(id), A_INT(now)};
    return select_one(s, "SELECT " AUTHREQ_COLS " FROM authreqs WHERE tenant = ?1 AND id = ?2"
                      " AND expires_at > ?3",
                      a, NARGS(a), out, sizeof *out, rd_authreq, "authreq_get");
}

signet_err sg_people_authreq_delete(struct sg_store *s, const char *tenant, const char *id)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(id)};
    int changes = 0;
    err = exec_args(s, "DELETE FROM authreqs WHERE tenant = ?1 AND id = ?2", "authreq_delete", a,
                    NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

/* ---- authorization codes ------------------------------------------------------------ */

#define CODE_COLS                                                                           \
    "c.tenant, c.hash, c.client_id, c.redirect_uri, c.code_challenge, c.user_id, c.sid,"   \
    " c.scope, c.nonce, c.acr, c.amr, c.auth_time, c.expires_at, c.used_at, c.family"

static signet_err read_code(sqlite3_stmt *st, struct sg_authcode *c)
{
    memset(c, 0, sizeof *c);
    if (!COL(st, 0, c->tenant) || !COL(st, 1, c->hash) || !COL(st, 2, c->client_id) ||
        !COL(st, 3, c->redirect_uri) || !COL(st, 4, c->code_challenge) ||
        !COL(st, 5, c->user_id) || !COL(st, 6, c->sid) || !COL(st, 7, c->scope) ||
        !COL(st, 8, c->nonce) || !COL(st, 9, c->acr) || !COL(st, 10, c->amr) ||
        !COL(st, 14, c->family))
        return SIGNET_ERR_STORE_CORRUPT;
    c->auth_time = sqlite3_column_int64(st, 11);
    c->expires_at = sqlite3_column_int64(st, 12);
    c->used_at = sqlite3_column_int64(st, 13);
    return SIGNET_OK;
}

/* A new code is unused and has issued nothing: used_at and family of *c
 * are not read. */
signet_err sg_people_code_put(struct sg_store *s, const struct sg_authcode *c)
{
    signet_err err = args_ok(
        s, c != NULL && tenant_ok(c->tenant) && hash_ok(c->hash) &&
               str_ok(c->client_id, sizeof c->client_id) &&
               opt_ok(c->redirect_uri, sizeof c->redirect_uri) &&
               opt_ok(c->code_challenge, sizeof c->code_challenge) && id_ok(c->user_id) &&
               opt_ok(c->sid, sizeof c->sid) && opt_ok(c->scope, sizeof c->scope) &&
               opt_ok(c->nonce, sizeof c->nonce) && opt_ok(c->acr, sizeof c->acr) &&
               opt_ok(c->amr, sizeof c->amr));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(c->tenant),       A_TEXT(c->hash),     A_TEXT(c->client_id),
                            A_TEXT(c->redirect_uri), A_TEXT(c->code_challenge),
                            A_TEXT(c->user_id),      A_TEXT(c->sid),      A_TEXT(c->scope),
                            A_TEXT(c->nonce),        A_TEXT(c->acr),      A_TEXT(c->amr),
                            A_INT(c->auth_time),     A_INT(c->expires_at)};
    int changes = 0;
    err = exec_args(s,
                    "INSERT INTO codes (tenant, hash, client_id, redirect_uri, code_challenge,"
                    " user_id, sid, scope, nonce, acr, amr, auth_time, expires_at)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                    " ON CONFLICT DO NOTHING",
                    "code_put", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    return err;
}

/* A code of a user since disabled or removed is NOT_FOUND (and stays
 * unused). */
signet_err sg_people_code_redeem(struct sg_store *s, const char *tenant, const char *hash,
                                 int64_t now, struct sg_authcode *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) && hash_ok(hash));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_INT(now)};
    int own = 0, active = 0, changes = 0;
    sqlite3_stmt *st = NULL;
    /* *out is written once the arguments are bound: they may lie in it
     * (the row read has the same tenant and hash). */
    err = tx_begin(s, &own);
    if (err != SIGNET_OK) {
        memset(out, 0, sizeof *out);
        return err;
    }
    err = prep(s,
               "SELECT " CODE_COLS ", EXISTS (SELECT 1 FROM users u WHERE u.tenant = c.tenant"
               " AND u.id = c.user_id AND u.disabled = 0) FROM codes c"
               " WHERE c.hash = ?1 AND c.tenant = ?2",
               a, 2, &st);
    memset(out, 0, sizeof *out);
    if (err == SIGNET_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            err = read_code(st, out);
            active = sqlite3_column_int(st, 15);
        } else {
            err = rc == SQLITE_DONE ? SIGNET_ERR_NOT_FOUND
                                    : sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc, "code_redeem");
        }
        sg_sqlite_release(s, st);
    }
    if (err == SIGNET_OK && out->used_at != 0)
        err = SIGNET_ERR_EXISTS; /* *out stays filled: the caller revokes its family */
    else if (err == SIGNET_OK && (out->expires_at <= now || !active))
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "UPDATE codes SET used_at = ?3 WHERE hash = ?1 AND tenant = ?2"
                        " AND used_at = 0",
                        "code_redeem", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    err = tx_end(s, own, err == SIGNET_OK, err);
    if (err == SIGNET_OK)
        out->used_at = now;
    else if (err != SIGNET_ERR_EXISTS)
        memset(out, 0, sizeof *out);
    return err;
}

signet_err sg_people_code_set_family(struct sg_store *s, const char *tenant, const char *hash,
                                     const char *family)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && hash_ok(hash) && id_ok(family));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_TEXT(family)};
    int changes = 0;
    err = exec_args(s, "UPDATE codes SET family = ?3 WHERE hash = ?1 AND tenant = ?2",
                    "code_set_family", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

/* ---- refresh tokens ------------------------------------------------------------------ */

#define REFRESH_COLS                                                                        \
    "tenant, hash, family, client_id, user_id, sid, scope, acr, amr, auth_time,"            \
    " created_at, idle_expires, family_expires, jkt"

static signet_err read_refresh(sqlite3_stmt *st, struct sg_refresh *r)
{
    memset(r, 0, sizeof *r);
    if (!COL(st, 0, r->tenant) || !COL(st, 1, r->hash) || !COL(st, 2, r->family) ||
        !COL(st, 3, r->client_id) || !COL(st, 4, r->user_id) || !COL(st, 5, r->sid) ||
        !COL(st, 6, r->scope) || !COL(st, 7, r->acr) || !COL(st, 8, r->amr) ||
        !COL(st, 13, r->jkt))
        return SIGNET_ERR_STORE_CORRUPT;
    r->auth_time = sqlite3_column_int64(st, 9);
    r->created_at = sqlite3_column_int64(st, 10);
    r->idle_expires = sqlite3_column_int64(st, 11);
    r->family_expires = sqlite3_column_int64(st, 12);
    return SIGNET_OK;
}

static int refresh_ok(const struct sg_refresh *r)
{
    return r != NULL && tenant_ok(r->tenant) && hash_ok(r->hash) && id_ok(r->family) &&
           str_ok(r->client_id, sizeof r->client_id) && id_ok(r->user_id) &&
           opt_ok(r->sid, sizeof r->sid) && opt_ok(r->scope, sizeof r->scope) &&
           opt_ok(r->acr, sizeof r->acr) && opt_ok(r->amr, sizeof r->amr) &&
           (r->jkt[0] == '\0' || jkt_ok(r->jkt));
}

static signet_err refresh_insert(struct sg_store *s, const struct sg_refresh *r, int *changes)
{
    const struct arg a[] = {A_TEXT(r->tenant),      A_TEXT(r->hash),      A_TEXT(r->family),
                            A_TEXT(r->client_id),   A_TEXT(r->user_id),   A_TEXT(r->sid),
                            A_TEXT(r->scope),       A_TEXT(r->acr),       A_TEXT(r->amr),
                            A_INT(r->auth_time),    A_INT(r->created_at), A_INT(r->idle_expires),
                            A_INT(r->family_expires), A_TEXT(r->jkt)};
    return exec_args(s,
                     "INSERT INTO refresh_tokens (" REFRESH_COLS ") VALUES (?1, ?2, ?3, ?4, ?5,"
                     " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT DO NOTHING",
                     "refresh_put", a, NARGS(a), changes);
}

signet_err sg_people_refresh_put(struct sg_store *s, const struct sg_refresh *r)
{
    signet_err err = args_ok(s, refresh_ok(r));
    if (err != SIGNET_OK)
        return err;
    int own = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = purge(s, r->created_at);
    if (err == SIGNET_OK)
        err = refresh_insert(s, r, &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    return tx_end(s, own, err == SIGNET_OK, err);
}

static signet_err revoke_family(struct sg_store *s, const char *tenant, const char *family,
                                int64_t now, int *changes)
{
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(family), A_INT(now)};
    return exec_args(s,
                     "UPDATE refresh_tokens SET revoked_at = ?3 WHERE tenant = ?1"
                     " AND family = ?2 AND revoked_at = 0",
                     "refresh_revoke_family", a, NARGS(a), changes);
}

/* Whether the old row may be rotated: its family has no revoked row, its
 * session (when it has one) is there and not revoked, its user there and
 * enabled. The session's idle and absolute ends do not count: a refresh
 * token outlives the browser session it was issued in (its own idle and
 * family lifetimes bound it); ending the session (logout, revocation)
 * revokes the session's tokens. */
static signet_err refresh_live(struct sg_store *s, const struct sg_refresh *old, int *live)
{
    const struct arg a[] = {A_TEXT(old->tenant), A_TEXT(old->family), A_TEXT(old->sid),
                            A_TEXT(old->user_id)};
    return exists_args(s,
                       "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE tenant = ?1"
                       " AND family = ?2 AND revoked_at != 0)"
                       " AND (?3 = '' OR EXISTS (SELECT 1 FROM sessions WHERE tenant = ?1"
                       " AND sid = ?3 AND user_id = ?4 AND revoked_at = 0))"
                       " AND EXISTS (SELECT 1 FROM users WHERE tenant = ?1 AND id = ?4"
                       " AND disabled = 0)",
                       "refresh_rotate", a, NARGS(a), live);
}

signet_err sg_people_refresh_rotate(struct sg_store *s, const char *tenant, const char *old_hash,
                                    int64_t now, struct sg_refresh *old, struct sg_refresh *next)
{
    signet_err err = args_ok(s, old != NULL && next != NULL && tenant_ok(tenant) &&
                                    hash_ok(old_hash) && hash_ok(next->hash) &&
                                    strcmp(next->hash, old_hash) != 0);
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(old_hash), A_TEXT(tenant), A_INT(now)};
    int64_t rotated_at = 0, revoked_at = 0;
    int own = 0, live = 0, changes = 0, keep = 0;
    sqlite3_stmt *st = NULL;
    /* *old is written once the arguments are bound: they may lie in it
     * (the row read has the same tenant and hash). */
    err = tx_begin(s, &own);
    if (err != SIGNET_OK) {
        memset(old, 0, sizeof *old);
        return err;
    }
    err = prep(s,
               "SELECT " REFRESH_COLS ", rotated_at, revoked_at FROM refresh_tokens"
               " WHERE hash = ?1 AND tenant = ?2",
               a, 2, &st);
    memset(old, 0, sizeof *old);
    if (err == SIGNET_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            err = read_refresh(st, old);
            rotated_at = sqlite3_column_int64(st, 14);
            revoked_at = sqlite3_column_int64(st, 15);
        } else {
            err = rc == SQLITE_DONE ? SIGNET_ERR_NOT_FOUND
                                    : sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc,
                                                       "refresh_rotate");
        }
        sg_sqlite_release(s, st);
    }
    if (err == SIGNET_OK && rotated_at != 0) {
        /* Reuse (RFC 9700 §4.14.2): one of the two presenters is not the
         * client. The whole family goes, and that is kept. */
        err = revoke_family(s, tenant, old->family, now, NULL);
        keep = err == SIGNET_OK;
        if (err == SIGNET_OK)
            err = SIGNET_ERR_EXISTS;
    } else if (err == SIGNET_OK &&
               (revoked_at != 0 || old->idle_expires <= now || old->family_expires <= now)) {
        err = SIGNET_ERR_NOT_FOUND;
    }
    if (err == SIGNET_OK)
        err = refresh_live(s, old, &live);
    if (err == SIGNET_OK && !live)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "UPDATE refresh_tokens SET rotated_at = ?3 WHERE hash = ?1"
                        " AND tenant = ?2 AND rotated_at = 0",
                        "refresh_rotate", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK) {
        struct sg_refresh n = *old;
        memcpy(n.hash, next->hash, sizeof n.hash);
        n.created_at = next->created_at;
        /* A token never outlives its family. */
        n.idle_expires = next->idle_expires < old->family_expires ? next->idle_expires
                                                                  : old->family_expires;
        err = refresh_insert(s, &n, &changes);
        if (err == SIGNET_OK && changes != 1)
            err = SIGNET_ERR_INTERNAL; /* a fresh random token taken: not a reuse */
        if (err == SIGNET_OK)
            *next = n;
        keep = err == SIGNET_OK;
    }
    err = tx_end(s, own, keep, err);
    if (err != SIGNET_OK && err != SIGNET_ERR_EXISTS)
        memset(old, 0, sizeof *old);
    return err;
}

/* NOT_FOUND when the family has no row at all; revoking a revoked family
 * again is fine. */
signet_err sg_people_refresh_revoke_family(struct sg_store *s, const char *tenant,
                                           const char *family, int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(family));
    if (err != SIGNET_OK)
        return err;
    int changes = 0, found = 0;
    err = revoke_family(s, tenant, family, now, &changes);
    if (err != SIGNET_OK || changes > 0)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(family)};
    err = exists_args(s, "SELECT 1 FROM refresh_tokens WHERE tenant = ?1 AND family = ?2",
                      "refresh_revoke_family", a, NARGS(a), &found);
    if (err == SIGNET_OK && !found)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

/* ---- second factors after a password ---------------------------------------------- */

#define MFA_COLS "m.tenant, m.hash, m.user_id, m.req, m.created_at, m.expires_at, m.tries"

/* A live pending step by hash (?1), tenant (?2) and now (?3): unexpired,
 * its user there and enabled. One text: mfa_get and mfa_take share the
 * kept statement. */
static const char MFA_LIVE_SQL[] =
    "SELECT " MFA_COLS " FROM mfa_pending m WHERE m.hash = ?1 AND m.tenant = ?2"
    " AND m.expires_at > ?3 AND EXISTS (SELECT 1 FROM users u WHERE u.tenant = m.tenant"
    " AND u.id = m.user_id AND u.disabled = 0)";

static signet_err read_mfa(sqlite3_stmt *st, struct sg_mfa_pending *p)
{
    memset(p, 0, sizeof *p);
    int64_t tries = sqlite3_column_int64(st, 6);
    if (!COL(st, 0, p->tenant) || !COL(st, 1, p->hash) || !COL(st, 2, p->user_id) ||
        !COL(st, 3, p->req) || tries < 0 || tries > INT_MAX)
        return SIGNET_ERR_STORE_CORRUPT;
    p->created_at = sqlite3_column_int64(st, 4);
    p->expires_at = sqlite3_column_int64(st, 5);
    p->tries = (int)tries;
    return SIGNET_OK;
}

/* A new pending step has no tries: p->tries is not read. NOT_FOUND when
 * the user is not there or disabled, EXISTS when the hash is taken. */
signet_err sg_people_mfa_put(struct sg_store *s, const struct sg_mfa_pending *p)
{
    signet_err err = args_ok(s, p != NULL && tenant_ok(p->tenant) && hash_ok(p->hash) &&
                                    id_ok(p->user_id) && opt_ok(p->req, sizeof p->req));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(p->hash),      A_TEXT(p->tenant),     A_TEXT(p->user_id),
                            A_TEXT(p->req),       A_INT(p->created_at),  A_INT(p->expires_at)};
    int own = 0, ok = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = purge(s, p->created_at);
    if (err == SIGNET_OK)
        err = user_active(s, p->tenant, p->user_id, &ok);
    if (err == SIGNET_OK && !ok)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "INSERT INTO mfa_pending (hash, tenant, user_id, req, created_at,"
                        " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                        "mfa_put", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    return tx_end(s, own, err == SIGNET_OK, err);
}

/* Reads the live pending step into *out (zeroed unless found). */
static signet_err mfa_find(struct sg_store *s, const char *tenant, const char *hash,
                           int64_t now, struct sg_mfa_pending *out)
{
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_INT(now)};
    sqlite3_stmt *st = NULL;
    signet_err err = prep(s, MFA_LIVE_SQL, a, NARGS(a), &st);
    memset(out, 0, sizeof *out); /* after the binding: the arguments may lie in *out */
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = read_mfa(st, out);
    else
        err = rc == SQLITE_DONE ? SIGNET_ERR_NOT_FOUND
                                : sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc, "mfa_get");
    sg_sqlite_release(s, st);
    if (err != SIGNET_OK)
        memset(out, 0, sizeof *out);
    return err;
}

signet_err sg_people_mfa_get(struct sg_store *s, const char *tenant, const char *hash,
                             int64_t now, struct sg_mfa_pending *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) && hash_ok(hash));
    if (err != SIGNET_OK)
        return err;
    return mfa_find(s, tenant, hash, now, out);
}

/* The try is counted on any pending step of that hash, live or not (an
 * expired one is NOT_FOUND to mfa_get and mfa_take all the same). */
signet_err sg_people_mfa_fail(struct sg_store *s, const char *tenant, const char *hash,
                              int max_tries)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && hash_ok(hash) && max_tries >= 1);
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_INT(max_tries)};
    int own = 0, changes = 0, gone = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = exec_args(s, "UPDATE mfa_pending SET tries = tries + 1 WHERE hash = ?1 AND tenant = ?2",
                    "mfa_fail", a, 2, &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "DELETE FROM mfa_pending WHERE hash = ?1 AND tenant = ?2"
                        " AND tries >= ?3",
                        "mfa_fail", a, NARGS(a), &gone);
    err = tx_end(s, own, err == SIGNET_OK, err);
    if (err == SIGNET_OK && gone != 0)
        err = SIGNET_ERR_NOT_FOUND; /* out of tries: the deletion is kept */
    return err;
}

signet_err sg_people_mfa_take(struct sg_store *s, const char *tenant, const char *hash,
                              int64_t now, struct sg_mfa_pending *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) && hash_ok(hash));
    if (err != SIGNET_OK)
        return err;
    /* The key is copied first: the arguments may lie in *out, which
     * mfa_find zeroes. */
    char key_hash[SG_PEOPLE_HASH_LEN + 1], key_tenant[SG_STORE_TENANT_MAX];
    (void)memcpy(key_hash, hash, strlen(hash) + 1);
    (void)memcpy(key_tenant, tenant, strlen(tenant) + 1);
    const struct arg a[] = {A_TEXT(key_hash), A_TEXT(key_tenant)};
    int own = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK) {
        memset(out, 0, sizeof *out);
        return err;
    }
    err = mfa_find(s, key_tenant, key_hash, now, out);
    if (err == SIGNET_OK)
        err = exec_args(s, "DELETE FROM mfa_pending WHERE hash = ?1 AND tenant = ?2", "mfa_take",
                        a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    err = tx_end(s, own, err == SIGNET_OK, err);
    if (err != SIGNET_OK)
        memset(out, 0, sizeof *out);
    return err;
}

/* ---- approver devices ------------------------------------------------------------- */

#define DEVICE_COLS "d.tenant, d.id, d.user_id, d.name, d.jwk, d.created_at, d.last_used_at"

static signet_err read_device(sqlite3_stmt *st, struct sg_device *d)
{
    memset(d, 0, sizeof *d);
    if (!COL(st, 0, d->tenant) || !COL(st, 1, d->id) || !jkt_ok(d->id) ||
        !COL(st, 2, d->user_id) || !COL(st, 3, d->name) || !COL(st, 4, d->jwk))
        return SIGNET_ERR_STORE_CORRUPT;
    d->created_at = sqlite3_column_int64(st, 5);
    d->last_used_at = sqlite3_column_int64(st, 6);
    return SIGNET_OK;
}

/* read_device for select_all. */
static signet_err rd_device(sqlite3_stmt *st, void *row)
{
    return read_device(st, row);
}

/* NOT_FOUND when the user is not there or disabled (no device can be
 * registered to them), EXISTS when the hash is taken. */
signet_err sg_people_device_code_create(struct sg_store *s, const char *tenant,
                                        const char *user_id, const char *hash,
                                        int64_t expires_at, int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(user_id) && hash_ok(hash));
    if (err != SIGNET_OK)
        return err;
    const struct arg ua[] = {A_TEXT(tenant), A_TEXT(user_id)};
    const struct arg a[] = {A_TEXT(hash), A_TEXT(tenant), A_TEXT(user_id), A_INT(now),
                            A_INT(expires_at)};
    int own = 0, ok = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = purge(s, now);
    if (err == SIGNET_OK)
        err = user_active(s, tenant, user_id, &ok);
    if (err == SIGNET_OK && !ok)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "DELETE FROM device_codes WHERE tenant = ?1 AND user_id = ?2"
                        " AND used_at = 0",
                        "device_code_create", ua, NARGS(ua), NULL);
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "INSERT INTO device_codes (hash, tenant, user_id, created_at, expires_at)"
                        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                        "device_code_create", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    return tx_end(s, own, err == SIGNET_OK, err);
}

/* d->id, name and jwk are read; on success tenant, user_id, created_at
 * (now) and last_used_at (0) are filled. On failure *d is left as it
 * was. */
signet_err sg_people_device_register(struct sg_store *s, const char *tenant,
                                     const char *code_hash, int64_t now, struct sg_device *d)
{
    signet_err err = args_ok(s, d != NULL && tenant_ok(tenant) && hash_ok(code_hash) &&
                                    jkt_ok(d->id) && opt_ok(d->name, sizeof d->name) &&
                                    str_ok(d->jwk, sizeof d->jwk));
    if (err != SIGNET_OK)
        return err;
    struct sg_device n = *d;
    (void)memcpy(n.tenant, tenant, strlen(tenant) + 1);
    n.created_at = now;
    n.last_used_at = 0;
    const struct arg ca[] = {A_TEXT(code_hash), A_TEXT(n.tenant), A_INT(now)};
    int own = 0, changes = 0;
    sqlite3_stmt *st = NULL;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = prep(s,
               "SELECT c.user_id FROM device_codes c JOIN users u ON u.tenant = c.tenant"
               " AND u.id = c.user_id WHERE c.hash = ?1 AND c.tenant = ?2 AND c.used_at = 0"
               " AND c.expires_at > ?3 AND u.disabled = 0",
               ca, NARGS(ca), &st);
    if (err == SIGNET_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            err = COL(st, 0, n.user_id) ? SIGNET_OK : SIGNET_ERR_STORE_CORRUPT;
        else
            err = rc == SQLITE_DONE ? SIGNET_ERR_NOT_FOUND
                                    : sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc,
                                                       "device_register");
        sg_sqlite_release(s, st);
    }
    if (err == SIGNET_OK) {
        /* The primary key is the id alone: one known in any tenant is
         * refused, and the rollback leaves the code unused. */
        const struct arg a[] = {A_TEXT(n.tenant), A_TEXT(n.id),        A_TEXT(n.user_id),
                                A_TEXT(n.name),   A_TEXT(n.jwk),       A_INT(n.created_at)};
        err = exec_args(s,
                        "INSERT INTO devices (tenant, id, user_id, name, jwk, created_at)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                        "device_register", a, NARGS(a), &changes);
        if (err == SIGNET_OK && changes != 1)
            err = SIGNET_ERR_EXISTS;
    }
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "UPDATE device_codes SET used_at = ?3 WHERE hash = ?1 AND tenant = ?2"
                        " AND used_at = 0",
                        "device_register", ca, NARGS(ca), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    err = tx_end(s, own, err == SIGNET_OK, err);
    if (err == SIGNET_OK)
        *d = n;
    return err;
}

signet_err sg_people_device_get(struct sg_store *s, const char *tenant, const char *id,
                                struct sg_device *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) && jkt_ok(id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(id), A_TEXT(tenant)};
    return select_one(s, "SELECT " DEVICE_COLS " FROM devices d JOIN users u ON u.tenant = d.tenant"
                      " AND u.id = d.user_id WHERE d.id = ?1 AND d.tenant = ?2 AND u.disabled = 0",
                      a, NARGS(a), out, sizeof *out, rd_device, "device_get");
}

signet_err sg_people_device_list(struct sg_store *s, const char *tenant, const char *user_id,
                                 struct sg_device **out, size_t *n)
{
    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    signet_err err = args_ok(s, out != NULL && n != NULL && tenant_ok(tenant) && id_ok(user_id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id)};
    void *rows = NULL;
    err = select_all(s,
                     "SELECT " DEVICE_COLS " FROM devices d WHERE d.tenant = ?1"
                     " AND d.user_id = ?2 ORDER BY d.created_at, d.rowid",
                     a, NARGS(a), sizeof **out, rd_device, "device_list", &rows, n);
    *out = rows;
    return err;
}

signet_err sg_people_device_used(struct sg_store *s, const char *tenant, const char *id,
                                 int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && jkt_ok(id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(id), A_TEXT(tenant), A_INT(now)};
    int changes = 0;
    err = exec_args(s, "UPDATE devices SET last_used_at = ?3 WHERE id = ?1 AND tenant = ?2",
                    "device_used", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

signet_err sg_people_device_remove(struct sg_store *s, const char *tenant, const char *user_id,
                                   const char *id)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(user_id) && jkt_ok(id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(id), A_TEXT(tenant), A_TEXT(user_id)};
    int changes = 0;
    err = exec_args(s, "DELETE FROM devices WHERE id = ?1 AND tenant = ?2 AND user_id = ?3",
                    "device_remove", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

/* ---- approval requests ------------------------------------------------------------ */

#define APPROVAL_COLS                                                                       \
    "tenant, id, user_id, mfa_hash, number, client_id, address, location, device_id,"      \
    " state, created_at, expires_at, answered_at"

/* Two ASCII digits, nothing after. */
static int number_ok(const char *v)
{
    return v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' && v[2] == '\0';
}

static signet_err read_approval(sqlite3_stmt *st, struct sg_approval *a)
{
    memset(a, 0, sizeof *a);
    int64_t state = sqlite3_column_int64(st, 9);
    if (!COL(st, 0, a->tenant) || !COL(st, 1, a->id) || !COL(st, 2, a->user_id) ||
        !COL(st, 3, a->mfa_hash) || !COL(st, 4, a->number) || !number_ok(a->number) ||
        !COL(st, 5, a->client_id) || !COL(st, 6, a->address) || !COL(st, 7, a->location) ||
        !COL(st, 8, a->device_id) || state < SG_APPROVAL_PENDING || state > SG_APPROVAL_USED)
        return SIGNET_ERR_STORE_CORRUPT;
    a->state = (int)state;
    a->created_at = sqlite3_column_int64(st, 10);
    a->expires_at = sqlite3_column_int64(st, 11);
    a->answered_at = sqlite3_column_int64(st, 12);
    return SIGNET_OK;
}

/* read_approval for select_all. */
static signet_err rd_approval(sqlite3_stmt *st, void *row)
{
    return read_approval(st, row);
}

/* The lock: PERMISSION when the user has max_wrong approvals in state
 * WRONG with answered_at > now - lock; *end is then the max_wrong-th
 * newest of those answered_at, plus lock: the first second at which fewer
 * than max_wrong remain in the window (unless more WRONG answers come in
 * meanwhile). The arithmetic is SQLite's: no overflow in C. */
static signet_err approval_lock(struct sg_store *s, const char *tenant, const char *user_id,
                                int64_t now, int64_t lock, int max_wrong, int64_t *end)
{
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id), A_INT(now), A_INT(lock),
                            A_INT(max_wrong - 1)};
    sqlite3_stmt *st = NULL;
    *end = 0;
    signet_err err = prep(s,
                          "SELECT answered_at + ?4 FROM approvals WHERE tenant = ?1"
                          " AND user_id = ?2 AND state = 3 AND answered_at > ?3 - ?4"
                          " ORDER BY answered_at DESC LIMIT 1 OFFSET ?5",
                          a, NARGS(a), &st);
    if (err != SIGNET_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *end = sqlite3_column_int64(st, 0);
        err = SIGNET_ERR_PERMISSION;
    } else {
        err = sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc, "approval_lock");
    }
    sg_sqlite_release(s, st);
    return err;
}

/* The new row is PENDING, created at now, unanswered: a->state,
 * device_id, created_at and answered_at are not read. window and lock
 * are at most APPROVAL_KEEP (the rows purge() keeps cover them).
 *
 * Rate limit: BUSY when the user has max_prompts approvals (any state)
 * with created_at > now - window.
 * Lock: PERMISSION as approval_lock() says, *until its end; *until is 0
 * on any other result. The lock is checked first.
 * NOT_FOUND when the user is not there or disabled; EXISTS when the id
 * is taken in the tenant. */
signet_err sg_people_approval_create(struct sg_store *s, const struct sg_approval *a,
                                     int64_t now, int64_t window, int max_prompts,
                                     int64_t lock, int max_wrong, int64_t *until)
{
    if (until != NULL)
        *until = 0;
    signet_err err = args_ok(
        s, a != NULL && until != NULL && tenant_ok(a->tenant) && id_ok(a->id) &&
               id_ok(a->user_id) && hash_ok(a->mfa_hash) && number_ok(a->number) &&
               opt_ok(a->client_id, sizeof a->client_id) &&
               opt_ok(a->address, sizeof a->address) &&
               opt_ok(a->location, sizeof a->location) && window >= 1 &&
               window <= APPROVAL_KEEP && lock >= 1 && lock <= APPROVAL_KEEP &&
               max_prompts >= 1 && max_wrong >= 1);
    if (err != SIGNET_OK)
        return err;
    const struct arg ra[] = {A_TEXT(a->tenant), A_TEXT(a->user_id), A_INT(now), A_INT(window),
                             A_INT(max_prompts - 1)};
    const struct arg ia[] = {A_TEXT(a->tenant),    A_TEXT(a->id),       A_TEXT(a->user_id),
                             A_TEXT(a->mfa_hash),  A_TEXT(a->number),   A_TEXT(a->client_id),
                             A_TEXT(a->address),   A_TEXT(a->location), A_INT(now),
                             A_INT(a->expires_at)};
    int64_t lock_end = 0;
    int own = 0, ok = 0, busy = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = purge(s, now);
    if (err == SIGNET_OK)
        err = user_active(s, a->tenant, a->user_id, &ok);
    if (err == SIGNET_OK && !ok)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        err = approval_lock(s, a->tenant, a->user_id, now, lock, max_wrong, &lock_end);
    if (err == SIGNET_OK)
        err = exists_args(s,
                          "SELECT 1 FROM approvals WHERE tenant = ?1 AND user_id = ?2"
                          " AND created_at > ?3 - ?4 ORDER BY created_at DESC LIMIT 1 OFFSET ?5",
                          "approval_create", ra, NARGS(ra), &busy);
    if (err == SIGNET_OK && busy)
        err = SIGNET_ERR_BUSY;
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "INSERT INTO approvals (tenant, id, user_id, mfa_hash, number, client_id,"
                        " address, location, created_at, expires_at)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
                        "approval_create", ia, NARGS(ia), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    err = tx_end(s, own, err == SIGNET_OK, err);
    if (err == SIGNET_ERR_PERMISSION)
        *until = lock_end;
    return err;
}

/* The lock of approval_create alone (no user check, no transaction: one
 * read). lock is at most APPROVAL_KEEP, as there. */
signet_err sg_people_approval_locked(struct sg_store *s, const char *tenant, const char *user_id,
                                     int64_t now, int64_t lock, int max_wrong, int64_t *until)
{
    if (until != NULL)
        *until = 0;
    signet_err err = args_ok(s, until != NULL && tenant_ok(tenant) && id_ok(user_id) &&
                                    lock >= 1 && lock <= APPROVAL_KEEP && max_wrong >= 1);
    if (err != SIGNET_OK)
        return err;
    int64_t end = 0;
    err = approval_lock(s, tenant, user_id, now, lock, max_wrong, &end);
    if (err == SIGNET_ERR_PERMISSION)
        *until = end;
    return err;
}

signet_err sg_people_approval_get(struct sg_store *s, const char *tenant, const char *id,
                                  struct sg_approval *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) && id_ok(id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(id)};
    return select_one(s, "SELECT " APPROVAL_COLS " FROM approvals WHERE tenant = ?1 AND id = ?2",
                      a, NARGS(a), out, sizeof *out, rd_approval, "approval_get");
}

signet_err sg_people_approval_pending(struct sg_store *s, const char *tenant,
                                      const char *user_id, int64_t now,
                                      struct sg_approval **out, size_t *n)
{
    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    signet_err err = args_ok(s, out != NULL && n != NULL && tenant_ok(tenant) && id_ok(user_id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id), A_INT(now)};
    void *rows = NULL;
    err = select_all(s, "SELECT " APPROVAL_COLS " FROM approvals WHERE tenant = ?1 AND user_id = ?2"
                     " AND state = 0 AND expires_at > ?3 ORDER BY created_at, rowid",
                     a, NARGS(a), sizeof **out, rd_approval, "approval_pending", &rows, n);
    *out = rows;
    return err;
}

/* Answers (APPROVED, DENIED, WRONG, REPORTED) need device_id, a device of
 * the approval's user in the tenant, that user enabled (NOT_FOUND
 * otherwise: a device never answers for another user), and set
 * device_id and answered_at = now. USED does not read device_id (NULL is
 * fine) and changes neither: only an APPROVED one moves to USED, whether
 * or not it has expired since (it was answered in time); a USED one is
 * EXISTS (a second use), any other NOT_FOUND. */
signet_err sg_people_approval_set(struct sg_store *s, const char *tenant, const char *id,
                                  int state, const char *device_id, int64_t now)
{
    int used = state == SG_APPROVAL_USED;
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(id) &&
                                    state >= SG_APPROVAL_APPROVED && state <= SG_APPROVAL_USED &&
                                    (used || jkt_ok(device_id)));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(id), A_INT(state),
                            A_TEXT(used ? "" : device_id), A_INT(now)};
    char user_id[SG_PEOPLE_ID_MAX];
    int64_t cur = 0, expires_at = 0;
    int own = 0, found = 0, changes = 0;
    sqlite3_stmt *st = NULL;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = prep(s, "SELECT user_id, state, expires_at FROM approvals WHERE tenant = ?1 AND id = ?2",
               a, 2, &st);
    if (err == SIGNET_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            cur = sqlite3_column_int64(st, 1);
            expires_at = sqlite3_column_int64(st, 2);
            if (!COL(st, 0, user_id) || cur < SG_APPROVAL_PENDING || cur > SG_APPROVAL_USED)
                err = SIGNET_ERR_STORE_CORRUPT;
        } else {
            err = rc == SQLITE_DONE ? SIGNET_ERR_NOT_FOUND
                                    : sg_sqlite_map_rc(sg_sqlite_ss(s)->db, rc, "approval_set");
        }
        sg_sqlite_release(s, st);
    }
    if (err == SIGNET_OK && used) {
        if (cur != SG_APPROVAL_APPROVED)
            err = cur == SG_APPROVAL_USED ? SIGNET_ERR_EXISTS : SIGNET_ERR_NOT_FOUND;
        else
            err = exec_args(s,
                            "UPDATE approvals SET state = 5 WHERE tenant = ?1 AND id = ?2"
                            " AND state = 1",
                            "approval_set", a, 2, &changes);
    } else if (err == SIGNET_OK) {
        if (cur != SG_APPROVAL_PENDING)
            err = SIGNET_ERR_EXISTS;
        else if (expires_at <= now)
            err = SIGNET_ERR_NOT_FOUND;
        if (err == SIGNET_OK) {
            const struct arg da[] = {A_TEXT(device_id), A_TEXT(tenant), A_TEXT(user_id)};
            err = exists_args(s,
                              "SELECT 1 FROM devices d JOIN users u ON u.tenant = d.tenant"
                              " AND u.id = d.user_id WHERE d.id = ?1 AND d.tenant = ?2"
                              " AND d.user_id = ?3 AND u.disabled = 0",
                              "approval_set", da, NARGS(da), &found);
        }
        if (err == SIGNET_OK && !found)
            err = SIGNET_ERR_NOT_FOUND;
        if (err == SIGNET_OK)
            err = exec_args(s,
                            "UPDATE approvals SET state = ?3, device_id = ?4, answered_at = ?5"
                            " WHERE tenant = ?1 AND id = ?2 AND state = 0 AND expires_at > ?5",
                            "approval_set", a, NARGS(a), &changes);
    }
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    return tx_end(s, own, err == SIGNET_OK, err);
}

/* ---- TOTP authenticators -------------------------------------------------------------- */

#define TOTP_COLS "tenant, user_id, cred_id, sealed, confirmed, created_at, last_used_at"

static signet_err read_totp(sqlite3_stmt *st, struct sg_totp *t)
{
    memset(t, 0, sizeof *t);
    int64_t confirmed = sqlite3_column_int64(st, 4);
    if (!COL(st, 0, t->tenant) || !COL(st, 1, t->user_id) || !COL(st, 2, t->cred_id) ||
        !COL(st, 3, t->sealed) || (confirmed != 0 && confirmed != 1))
        return SIGNET_ERR_STORE_CORRUPT;
    t->confirmed = (int)confirmed;
    t->created_at = sqlite3_column_int64(st, 5);
    t->last_used_at = sqlite3_column_int64(st, 6);
    return SIGNET_OK;
}

/* read_totp for select_one and select_all. */
static signet_err rd_totp(sqlite3_stmt *st, void *row)
{
    return read_totp(st, row);
}

/* The new one is unconfirmed and unused: t->confirmed and last_used_at
 * are not read. NOT_FOUND when the user is not there or disabled,
 * EXISTS when cred_id is taken in the tenant. */
signet_err sg_people_totp_add(struct sg_store *s, const struct sg_totp *t)
{
    signet_err err = args_ok(s, t != NULL && tenant_ok(t->tenant) && id_ok(t->user_id) &&
                                    id_ok(t->cred_id) &&
                                    b64url_ok(t->sealed, 1, sizeof t->sealed - 1));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(t->tenant), A_TEXT(t->user_id), A_TEXT(t->cred_id),
                            A_TEXT(t->sealed), A_INT(t->created_at)};
    int own = 0, ok = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = user_active(s, t->tenant, t->user_id, &ok);
    if (err == SIGNET_OK && !ok)
        err = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "DELETE FROM totp WHERE tenant = ?1 AND user_id = ?2 AND confirmed = 0",
                        "totp_add", a, 2, NULL);
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "INSERT INTO totp (tenant, user_id, cred_id, sealed, created_at)"
                        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                        "totp_add", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_EXISTS;
    return tx_end(s, own, err == SIGNET_OK, err);
}

signet_err sg_people_totp_get(struct sg_store *s, const char *tenant, const char *user_id,
                              int unconfirmed, struct sg_totp *out)
{
    signet_err err = args_ok(s, out != NULL && tenant_ok(tenant) && id_ok(user_id) &&
                                    (unconfirmed == 0 || unconfirmed == 1));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id), A_INT(!unconfirmed)};
    return select_one(s, "SELECT " TOTP_COLS " FROM totp WHERE tenant = ?1 AND user_id = ?2"
                      " AND confirmed = ?3 ORDER BY created_at DESC, rowid DESC LIMIT 1",
                      a, NARGS(a), out, sizeof *out, rd_totp, "totp_get");
}

/* last_used_at = now: the code that confirmed it counts as used (RFC 6238
 * §5.2). NOT_FOUND when the user has no such authenticator; confirming a
 * confirmed one again changes only last_used_at. */
signet_err sg_people_totp_confirm(struct sg_store *s, const char *tenant, const char *user_id,
                                  const char *cred_id, int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(user_id) && id_ok(cred_id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id), A_TEXT(cred_id), A_INT(now)};
    int own = 0, changes = 0;
    err = tx_begin(s, &own);
    if (err != SIGNET_OK)
        return err;
    err = exec_args(s,
                    "DELETE FROM totp WHERE tenant = ?1 AND user_id = ?2 AND confirmed = 1"
                    " AND cred_id != ?3",
                    "totp_confirm", a, 3, NULL);
    if (err == SIGNET_OK)
        err = exec_args(s,
                        "UPDATE totp SET confirmed = 1, last_used_at = ?4 WHERE tenant = ?1"
                        " AND user_id = ?2 AND cred_id = ?3",
                        "totp_confirm", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND; /* and the deletion is rolled back */
    return tx_end(s, own, err == SIGNET_OK, err);
}

signet_err sg_people_totp_used(struct sg_store *s, const char *tenant, const char *cred_id,
                               int64_t now)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(cred_id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(cred_id), A_INT(now)};
    int changes = 0;
    err = exec_args(s, "UPDATE totp SET last_used_at = ?3 WHERE tenant = ?1 AND cred_id = ?2",
                    "totp_used", a, NARGS(a), &changes);
    if (err == SIGNET_OK && changes != 1)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

signet_err sg_people_totp_remove(struct sg_store *s, const char *tenant, const char *user_id)
{
    signet_err err = args_ok(s, tenant_ok(tenant) && id_ok(user_id));
    if (err != SIGNET_OK)
        return err;
    const struct arg a[] = {A_TEXT(tenant), A_TEXT(user_id)};
    int changes = 0;
    err = exec_args(s, "DELETE FROM totp WHERE tenant = ?1 AND user_id = ?2", "totp_remove", a,
                    NARGS(a), &changes);
    if (err == SIGNET_OK && changes == 0)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}
