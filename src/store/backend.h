/* What a store backend implements (store_sqlite.c; keystore_sqlite.c adds
 * the key functions): the vtable, and the handle each backend's own store
 * structure starts with. The dispatcher (store.c) calls through it; the
 * store's users see struct sg_store as an opaque handle (store.h). */
#ifndef SG_STORE_BACKEND_H
#define SG_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "store/model.h"

struct sg_store;

/* Backend vtable. A NULL key or client function: the store has none
 * (a front store has no key functions, keystore.h). */
struct sg_store_ops {
    signet_err (*begin)(struct sg_store *s);
    signet_err (*commit)(struct sg_store *s);
    void (*rollback)(struct sg_store *s);
    signet_err (*key_insert)(struct sg_store *s, struct sg_key *k);
    signet_err (*key_update)(struct sg_store *s, const struct sg_key *k);
    signet_err (*key_list)(struct sg_store *s, const char *issuer, struct sg_key **out, size_t *n);
    signet_err (*key_by_kid)(struct sg_store *s, const char *kid, struct sg_key *out);
    signet_err (*version)(struct sg_store *s, int64_t *out);
    void (*close)(struct sg_store *s);
    /* schema 2 */
    signet_err (*client_insert)(struct sg_store *s, struct sg_client *c);
    signet_err (*client_get)(struct sg_store *s, const char *tenant, const char *client_id,
                             struct sg_client *out);
    signet_err (*client_list)(struct sg_store *s, const char *tenant, struct sg_client **out,
                              size_t *n);
    signet_err (*client_delete)(struct sg_store *s, const char *tenant, const char *client_id);
    signet_err (*client_rehash)(struct sg_store *s, const char *tenant, const char *client_id,
                                const char *old_hash, const char *new_hash);
    signet_err (*jti_use)(struct sg_store *s, const char *tenant, const char *client_id,
                          const char *jti, int64_t expires_at, int64_t now);
    /* schema 3 */
    signet_err (*dpop_jti_use)(struct sg_store *s, const char *tenant, const char *key,
                               int64_t expires_at, int64_t now, int64_t max);
};

struct sg_store {
    const struct sg_store_ops *ops;
    int schema_version;
};

#endif
