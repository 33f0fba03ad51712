/* The store's dispatcher: picks the backend for a location and calls
 * through its vtable. */
#include "store/store.h"

#include <string.h>

#include "store/backend.h"
#include "store/store_sqlite.h"

/* The SQLite path a location names: *where past an optional "sqlite:"
 * prefix. PostgreSQL is not built yet. */
static signet_err sqlite_location(const char **where)
{
    const char *w = *where;
    if (w == NULL || w[0] == '\0')
        return SIGNET_ERR_INVALID_ARG;
    if (strncmp(w, "postgresql://", 13) == 0 || strncmp(w, "postgres://", 11) == 0)
        return SIGNET_ERR_UNSUPPORTED;
    if (strncmp(w, "sqlite:", 7) == 0)
        *where = w + 7;
    return SIGNET_OK;
}

signet_err sg_store_open(const char *where, int create, struct sg_store **out)
{
    signet_err err = sqlite_location(&where);
    return err != SIGNET_OK ? err : sg_store_sqlite_open(where, create, out);
}

signet_err sg_store_open_replay(const char *where, struct sg_store **out)
{
    signet_err err = sqlite_location(&where);
    return err != SIGNET_OK ? err : sg_store_sqlite_open_replay(where, out);
}

void sg_store_close(struct sg_store **s)
{
    if (s == NULL || *s == NULL)
        return;
    (*s)->ops->close(*s);
    *s = NULL;
}

signet_err sg_store_begin(struct sg_store *s) { return s->ops->begin(s); }
signet_err sg_store_commit(struct sg_store *s) { return s->ops->commit(s); }
void sg_store_rollback(struct sg_store *s) { s->ops->rollback(s); }

/* A front store has no key functions: only the key store (keystore.h). */
signet_err sg_store_key_insert(struct sg_store *s, struct sg_key *k)
{
    return s->ops->key_insert != NULL ? s->ops->key_insert(s, k) : SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_store_key_update(struct sg_store *s, const struct sg_key *k)
{
    return s->ops->key_update != NULL ? s->ops->key_update(s, k) : SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_store_key_list(struct sg_store *s, const char *issuer, struct sg_key **out, size_t *n)
{
    return s->ops->key_list != NULL ? s->ops->key_list(s, issuer, out, n) : SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_store_key_by_kid(struct sg_store *s, const char *kid, struct sg_key *out)
{
    return s->ops->key_by_kid != NULL ? s->ops->key_by_kid(s, kid, out) : SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_store_version(struct sg_store *s, int64_t *out)
{
    return s->ops->version(s, out);
}

int sg_store_schema_version(const struct sg_store *s)
{
    return s->schema_version;
}

signet_err sg_store_client_insert(struct sg_store *s, struct sg_client *c)
{
    return s->ops->client_insert != NULL ? s->ops->client_insert(s, c) : SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_store_client_get(struct sg_store *s, const char *tenant, const char *client_id,
                               struct sg_client *out)
{
    return s->ops->client_get != NULL ? s->ops->client_get(s, tenant, client_id, out)
                                      : SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_store_client_list(struct sg_store *s, const char *tenant, struct sg_client **out,
                                size_t *n)
{
    return s->ops->client_list != NULL ? s->ops->client_list(s, tenant, out, n)
                                       : SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_store_client_delete(struct sg_store *s, const char *tenant, const char *client_id)
{
    return s->ops->client_delete != NULL ? s->ops->client_delete(s, tenant, client_id)
                                         : SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_store_client_rehash(struct sg_store *s, const char *tenant, const char *client_id,
                                  const char *old_hash, const char *new_hash)
{
    return s->ops->client_rehash != NULL
               ? s->ops->client_rehash(s, tenant, client_id, old_hash, new_hash)
               : SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_store_jti_use(struct sg_store *s, const char *tenant, const char *client_id,
                            const char *jti, int64_t expires_at, int64_t now)
{
    return s->ops->jti_use != NULL ? s->ops->jti_use(s, tenant, client_id, jti, expires_at, now)
                                   : SIGNET_ERR_UNSUPPORTED;
}

signet_err sg_store_dpop_jti_use(struct sg_store *s, const char *tenant, const char *key,
                                 int64_t expires_at, int64_t now, int64_t max)
{
    return s->ops->dpop_jti_use != NULL
               ? s->ops->dpop_jti_use(s, tenant, key, expires_at, now, max)
               : SIGNET_ERR_UNSUPPORTED;
}
