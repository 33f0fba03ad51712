/* The key store (see keystore_sqlite.c): a store handle with the key
 * lifecycle functions (sg_store_key_*). Only the signer writes it; only
 * the signer and the CLI link it. */
#ifndef SG_KEYSTORE_H
#define SG_KEYSTORE_H

#include "signet/error.h"
#include "store/store.h"

/* As sg_store_open, on the key store's file ([store] keystore). */
SIGNET_WUR signet_err sg_keystore_open(const char *where, int create, struct sg_store **out);

/* The signer's client registry (issue 11): what a machine token of a
 * client may say, written only through the signer (CLIENT_BIND, from the
 * root CLI), never from the front end's store. scopes and audiences are
 * space-separated lists; lifetime 0 = the tenant's maximum. */
struct sg_client_binding {
    char tenant[SG_STORE_TENANT_MAX];
    char client_id[SG_STORE_CLIENT_ID_MAX];
    char scopes[1024];
    char audiences[4096];
    int64_t lifetime;
    int64_t bound_at;
};
/* SIGNET_ERR_NOT_FOUND when the client is not bound. */
SIGNET_WUR signet_err sg_keystore_binding_get(struct sg_store *s, const char *tenant,
                                              const char *client_id,
                                              struct sg_client_binding *out);
/* Inserts or replaces. */
SIGNET_WUR signet_err sg_keystore_binding_put(struct sg_store *s,
                                              const struct sg_client_binding *b);
/* SIGNET_ERR_NOT_FOUND when there was none. */
SIGNET_WUR signet_err sg_keystore_binding_delete(struct sg_store *s, const char *tenant,
                                                 const char *client_id);
/* A named one-shot mark (e.g. "clients_backfilled"): *set = 1 when present. */
SIGNET_WUR signet_err sg_keystore_mark_get(struct sg_store *s, const char *name, int64_t *value,
                                           int *set);
SIGNET_WUR signet_err sg_keystore_mark_put(struct sg_store *s, const char *name, int64_t value);

/* TOTP replay state (issue 14): the last time step accepted for each
 * credential, kept by the signer (the front end cannot roll it back).
 * sg_keystore_totp_use records step when it is greater than the one
 * recorded (or there is none), atomically across processes: SIGNET_OK when
 * it did, SIGNET_ERR_EXISTS when a step at or after it was accepted. */
SIGNET_WUR signet_err sg_keystore_totp_use(struct sg_store *s, const char *issuer,
                                           const char *cred_id, const char *user_id,
                                           int64_t step, int64_t now);
/* The last accepted step; SIGNET_ERR_NOT_FOUND (and -1) when none. */
SIGNET_WUR signet_err sg_keystore_totp_last(struct sg_store *s, const char *issuer,
                                            const char *cred_id, int64_t *step);
/* Forgets the credential's row; SIGNET_ERR_NOT_FOUND when there was none. */
SIGNET_WUR signet_err sg_keystore_totp_forget(struct sg_store *s, const char *issuer,
                                              const char *cred_id);

#endif
