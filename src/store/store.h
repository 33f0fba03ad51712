/* The state store: key lifecycle rows (and, later, clients and events).
 * A small interface so SQLite (embedded default) and PostgreSQL (several
 * nodes) can both sit behind it. Every lifecycle transition is one
 * transaction: begin, updates, commit.
 *
 * This is the dispatcher (store.c): it opens a backend and calls through
 * its vtable (backend.h). The rows themselves are the model (model.h). */
#ifndef SG_STORE_H
#define SG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "store/model.h"

struct sg_store;

/* Opens the store. "sqlite:PATH" or a plain path means SQLite;
 * "postgresql://..." is reserved for the PostgreSQL backend. Creates and
 * migrates the schema when create is non-zero; otherwise a missing store is
 * SIGNET_ERR_NOT_INITIALISED. A file that is not a signet store is
 * SIGNET_ERR_STORE_CORRUPT. */
SIGNET_WUR signet_err sg_store_open(const char *where, int create, struct sg_store **out);
void sg_store_close(struct sg_store **s);
/* A second handle on the store for the replay caches alone
 * (sg_store_jti_use, sg_store_dpop_jti_use, begin/commit around a batch of
 * them): its commits are never synced to disk but at checkpoints (SQLite
 * synchronous = NORMAL, for the life of the handle: see store_sqlite.c),
 * and it shares no lock with the handle that reads clients. */
SIGNET_WUR signet_err sg_store_open_replay(const char *where, struct sg_store **out);

SIGNET_WUR signet_err sg_store_begin(struct sg_store *s);
SIGNET_WUR signet_err sg_store_commit(struct sg_store *s);
void sg_store_rollback(struct sg_store *s);

/* Inserts k (k->id is set on return). kid must be unique once set. */
SIGNET_WUR signet_err sg_store_key_insert(struct sg_store *s, struct sg_key *k);
/* Writes every mutable column of the row with k->id. */
SIGNET_WUR signet_err sg_store_key_update(struct sg_store *s, const struct sg_key *k);
/* Rows ordered by id; issuer NULL = all issuers. *out is NULL when n == 0. */
SIGNET_WUR signet_err sg_store_key_list(struct sg_store *s, const char *issuer, struct sg_key **out,
                                        size_t *n);
SIGNET_WUR signet_err sg_store_key_by_kid(struct sg_store *s, const char *kid, struct sg_key *out);
/* Monotonic counter bumped on every committed change (cheap to poll). */
SIGNET_WUR signet_err sg_store_version(struct sg_store *s, int64_t *out);
/* Schema version of the opened store. */
int sg_store_schema_version(const struct sg_store *s);

/* Clients. insert: SIGNET_ERR_EXISTS when (tenant, client_id) is taken.
 * get and delete: SIGNET_ERR_NOT_FOUND when absent. Each change bumps the
 * version counter, so a front end can cache clients against it. */
SIGNET_WUR signet_err sg_store_client_insert(struct sg_store *s, struct sg_client *c);
SIGNET_WUR signet_err sg_store_client_get(struct sg_store *s, const char *tenant,
                                          const char *client_id, struct sg_client *out);
/* tenant NULL = every tenant; ordered by tenant, client_id. */
SIGNET_WUR signet_err sg_store_client_list(struct sg_store *s, const char *tenant,
                                           struct sg_client **out, size_t *n);
SIGNET_WUR signet_err sg_store_client_delete(struct sg_store *s, const char *tenant,
                                             const char *client_id);
/* Replaces a secret client's hash old_hash by new_hash (the same secret,
 * hashed anew: the front end moves legacy hashes to the current form on a
 * successful check). SIGNET_ERR_NOT_FOUND when the client is gone or its
 * hash is no longer old_hash (changed meanwhile: nothing is written). */
SIGNET_WUR signet_err sg_store_client_rehash(struct sg_store *s, const char *tenant,
                                             const char *client_id, const char *old_hash,
                                             const char *new_hash);
/* Replay cache for client assertion jti values (RFC 7523 §3 item 7):
 * records (tenant, client_id, jti) until expires_at. SIGNET_ERR_EXISTS when
 * the same jti is already recorded and not yet expired. Expired rows are
 * purged on the way. Does not bump the version counter. */
SIGNET_WUR signet_err sg_store_jti_use(struct sg_store *s, const char *tenant,
                                       const char *client_id, const char *jti,
                                       int64_t expires_at, int64_t now);
/* Replay cache for DPoP proofs (RFC 9449 §11.1), the same table in a
 * namespace of its own: records (tenant, key) until expires_at, where key
 * is the caller's b64url(SHA-256(jti || htu)). SIGNET_ERR_EXISTS when key
 * is recorded and not yet expired; SIGNET_ERR_TOO_LARGE when the tenant
 * already holds max unexpired keys (0: no bound), counted at each purge
 * across every process sharing the store, plus this handle's own inserts.
 * Does not bump the version counter. */
SIGNET_WUR signet_err sg_store_dpop_jti_use(struct sg_store *s, const char *tenant,
                                            const char *key, int64_t expires_at, int64_t now,
                                            int64_t max);

#endif
