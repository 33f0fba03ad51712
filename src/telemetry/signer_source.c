#include "telemetry/signer_source.h"

#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"

static signet_err call(struct sg_signer_client *c, uint8_t type, const char *arg, char **json)
{
    signet_err status = SIGNET_OK;
    *json = NULL;
    signet_err err = sg_signer_call_str(c, type, arg, &status, json);
    if (err == SIGNET_OK && status != SIGNET_OK)
        err = status;
    if (err == SIGNET_OK && *json == NULL)
        err = SIGNET_ERR_MALFORMED;
    if (err != SIGNET_OK) {
        free(*json);
        *json = NULL;
    }
    return err;
}

static signet_err src_status(void *user, unsigned i, char **json)
{
    struct sg_signer_source *ss = user;
    if (i >= ss->n)
        return SIGNET_ERR_NOT_FOUND;
    return call(ss->clients[i], SG_IPC_STATUS, NULL, json);
}

static signet_err src_inventory(void *user, char **json)
{
    struct sg_signer_source *ss = user;
    return ss->n > 0 ? call(ss->clients[0], SG_IPC_INVENTORY, NULL, json) : SIGNET_ERR_NOT_FOUND;
}

static signet_err src_jwks(void *user, const char *issuer, char **json)
{
    struct sg_signer_source *ss = user;
    return ss->n > 0 ? call(ss->clients[0], SG_IPC_JWKS, issuer, json) : SIGNET_ERR_NOT_FOUND;
}

static signet_err src_revoke(void *user, const char *kid)
{
    struct sg_signer_source *ss = user;
    char *json = NULL;
    signet_err err = ss->n > 0 ? call(ss->clients[0], SG_IPC_REVOKE, kid, &json)
                               : SIGNET_ERR_NOT_FOUND;
    free(json);
    return err;
}

void sg_signer_source_init(struct sg_monitor_source *src, struct sg_signer_source *ss)
{
    memset(src, 0, sizeof *src);
    src->user = ss;
    src->status = src_status;
    src->inventory = src_inventory;
    src->served_jwks = src_jwks;
    src->signer_jwks = src_jwks; /* here the same: the signer's own */
    src->revoke = src_revoke;
}
