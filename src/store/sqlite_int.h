/* Internal to the SQLite backend: the connection shared by the front
 * store (store_sqlite.c, in every binary) and the key store's functions
 * (keystore_sqlite.c, the signer's and the CLI's alone). */
#ifndef SG_STORE_SQLITE_INT_H
#define SG_STORE_SQLITE_INT_H

#include <limits.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "store/backend.h"
#include "store/model.h"

#define STMT_CACHE 160

struct cached_stmt {
    const char *sql; /* NULL: free slot */
    sqlite3_stmt *st;
    int busy;
};

/* Client rows read by this handle, kept until the store changes. An
 * inotify watch on the store's directory reports every write to the
 * database, its WAL or its journal, by any process, at the time of the
 * write: a lookup first reads the pending events, and when there were some
 * it asks SQLite whether another connection committed (PRAGMA
 * data_version) and empties the cache if so; this connection's own client
 * changes empty it themselves. So a change committed before the lookup
 * started (a `signet client remove` that has returned) is always seen, a
 * row read while a change was being written is not kept, and this
 * handle's own replay-cache inserts (one per private_key_jwt or DPoP
 * request) do not empty it. Without inotify, nothing is cached. */
#define CLIENT_CACHE 256

struct client_cache {
    int fd;             /* inotify instance; -1: not started, -2: unavailable */
    char base[NAME_MAX + 1]; /* the database file's name: events for base* count */
    size_t base_len;
    uint64_t gen;       /* bumped each time the cache is emptied */
    int64_t dv;         /* PRAGMA data_version the rows are valid for */
    size_t n, hand;
    struct sg_client rows[CLIENT_CACHE];
};

/* DPoP replay rows per tenant (sg_store_dpop_jti_use's bound). */
#define SQLITE_DPOP_TENANTS 128
struct sqlite_dpop_count {
    char tenant[SG_STORE_TENANT_MAX];
    int64_t n;
};

struct sqlite_store {
    struct sg_store base;
    sqlite3 *db;
    char *path;
    int in_tx;
    int replay_only;        /* sg_store_open_replay: synchronous = NORMAL throughout */
    struct client_cache cc;
    int64_t next_jti_purge; /* when expired jti rows are next deleted */
    struct sqlite_dpop_count dpop[SQLITE_DPOP_TENANTS];
    size_t n_dpop;
    struct cached_stmt cache[STMT_CACHE];
};

extern const struct sg_store_ops sg_sqlite_front_ops;

struct sqlite_store *sg_sqlite_ss(struct sg_store *s);
signet_err sg_sqlite_map_rc(sqlite3 *db, int rc, const char *what);
/* A kept prepared statement (SQL text is a literal, keyed by address). */
signet_err sg_sqlite_prepare(struct sg_store *s, const char *sql, sqlite3_stmt **st);
void sg_sqlite_release(struct sg_store *s, sqlite3_stmt *st);
signet_err sg_sqlite_bump(sqlite3 *db);
int sg_sqlite_bind_text_or_null(sqlite3_stmt *st, int i, const char *v);
/* A value too long for its field can only come from a tampered store. */
int sg_sqlite_copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap);
/* Room for one more row in a growing result array (doubling, overflow checked). */
int sg_sqlite_grow_rows(void **rows, size_t *cap, size_t count, size_t size);

#endif
