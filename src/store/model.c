/* The store's model: key state names and freeing rows (model.h). */
#include "store/model.h"

#include <stdlib.h>
#include <string.h>

const char *sg_key_state_name(enum sg_key_state s)
{
    switch (s) {
    case SG_KS_GENERATING: return "GENERATING";
    case SG_KS_PENDING: return "PENDING";
    case SG_KS_PUBLISHED: return "PUBLISHED";
    case SG_KS_ACTIVE: return "ACTIVE";
    case SG_KS_RETIRED: return "RETIRED";
    case SG_KS_DESTROYED: return "DESTROYED";
    }
    return "UNKNOWN";
}

void sg_key_clear(struct sg_key *k)
{
    free(k->jwk);
    memset(k, 0, sizeof *k);
}

void sg_key_list_free(struct sg_key *keys, size_t n)
{
    for (size_t i = 0; keys != NULL && i < n; i++)
        free(keys[i].jwk);
    free(keys);
}

void sg_client_clear(struct sg_client *c)
{
    free(c->secret_hash);
    free(c->jwk);
    free(c->scopes);
    free(c->default_scopes);
    free(c->audiences);
    free(c->redirect_uris);
    memset(c, 0, sizeof *c);
}

void sg_client_list_free(struct sg_client *cs, size_t n)
{
    for (size_t i = 0; cs != NULL && i < n; i++)
        sg_client_clear(&cs[i]);
    free(cs);
}
