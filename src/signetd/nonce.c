/* The key of signetd's stateless DPoP nonces (nonce.h). It lives in the
 * front end's part of the state directory, like the client-secret pepper:
 * every node sharing the state makes and accepts the same nonces, and no
 * nonce is ever stored. The key is never logged. */
#include "signetd/nonce.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/client_secret.h"
#include "jws.h"
#include "util/log.h"
#include "util/secret.h"

static struct sg_secret *key;
/* Proof keys seen before and the digests, shared by every HTTP thread. */
static struct sg_dpop_keys *proof_keys;
static struct sg_digests digests;

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
    err = sg_dpop_keys_new(SG_DPOP_KEYS_DEFAULT, &proof_keys);
    if (err == SIGNET_OK)
        err = sg_digests_init(&digests);
    if (err != SIGNET_OK)
        sd_dpop_shutdown();
    return err;
}

void sd_dpop_shutdown(void)
{
    sg_secret_free(&key);
    sg_dpop_keys_free(proof_keys);
    proof_keys = NULL;
    sg_digests_clear(&digests);
}

int sd_front_mac(const char *label, const void *data, size_t n, uint8_t out[32])
{
    if (key == NULL)
        return -1;
    char info[64];
    int w = snprintf(info, sizeof info, "signet/%s", label);
    uint8_t sub[32];
    unsigned sl = 0, ol = 0;
    int ok = w > 0 && (size_t)w < sizeof info &&
             HMAC(EVP_sha256(), key->data, (int)key->len, (const uint8_t *)info, (size_t)w, sub,
                  &sl) != NULL &&
             HMAC(EVP_sha256(), sub, (int)sl, data, n, out, &ol) != NULL && ol == 32;
    OPENSSL_cleanse(sub, sizeof sub);
    return ok ? 0 : -1;
}

struct sg_dpop_keys *sd_dpop_keys(void)
{
    return proof_keys;
}

const struct sg_digests *sd_dpop_digests(void)
{
    return &digests;
}

/* A nonce is a function of its time step: made once per step (an HMAC
 * each time would cost every token answer a MAC fetch and OpenSSL's global
 * locks), then copied. */
static pthread_mutex_t made_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t made_step = -1;
static char made[SG_DPOP_NONCE_MAX];

void sd_dpop_nonce(int64_t now, char out[SG_DPOP_NONCE_MAX])
{
    out[0] = '\0';
    const int64_t step = now / SD_DPOP_NONCE_STEP;
    pthread_mutex_lock(&made_lock);
    if (step == made_step)
        memcpy(out, made, SG_DPOP_NONCE_MAX);
    pthread_mutex_unlock(&made_lock);
    if (out[0] != '\0')
        return;
    if (key == NULL || sg_dpop_nonce_make(key->data, now, SD_DPOP_NONCE_STEP, out) != SIGNET_OK) {
        out[0] = '\0';
        return;
    }
    pthread_mutex_lock(&made_lock);
    made_step = step;
    memcpy(made, out, SG_DPOP_NONCE_MAX);
    pthread_mutex_unlock(&made_lock);
}

int sd_dpop_nonce_valid(int64_t now, const char *nonce)
{
    return key != NULL && nonce != NULL &&
           sg_dpop_nonce_valid(key->data, now, SD_DPOP_NONCE_STEP, nonce);
}
