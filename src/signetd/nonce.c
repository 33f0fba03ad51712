/* The key of signetd's stateless DPoP nonces (nonce.h). It lives in the
 * front end's part of the state directory, like the client-secret pepper:
 * every node sharing the state makes and accepts the same nonces, and no
 * nonce is ever stored. The key is never logged. */
#include "signetd/nonce.h"

#include <string.h>

#include "common/client_secret.h"
#include "util/log.h"
#include "util/secret.h"

static struct sg_secret *key;

signet_err sd_dpop_init(const char *state_dir)
{
    int created = 0;
    signet_err err = sg_dpop_key_create(state_dir, &created);
    if (err == SIGNET_OK)
        err = sg_dpop_key_load(state_dir, &key);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "dpop_key_unreadable",
               "file=%s/front/" SG_DPOP_KEY_FILE " error=%s action=\"run signet init --state on "
               "the state directory\"",
               state_dir, signet_err_name(err));
        return err;
    }
    if (created)
        sg_log(SG_LOG_INFO, "dpop_key_created", "file=%s/front/" SG_DPOP_KEY_FILE, state_dir);
    return SIGNET_OK;
}

void sd_dpop_shutdown(void)
{
    sg_secret_free(&key);
}

void sd_dpop_nonce(int64_t now, char out[SG_DPOP_NONCE_MAX])
{
    out[0] = '\0';
    if (key == NULL || sg_dpop_nonce_make(key->data, now, SD_DPOP_NONCE_STEP, out) != SIGNET_OK)
        out[0] = '\0';
}

int sd_dpop_nonce_valid(int64_t now, const char *nonce)
{
    return key != NULL && nonce != NULL &&
           sg_dpop_nonce_valid(key->data, now, SD_DPOP_NONCE_STEP, nonce);
}
