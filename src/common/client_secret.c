/* Client secrets as HMAC-SHA-256 under the front end's pepper (see
 * client_secret.h for why not a memory-hard hash). */
#include "common/client_secret.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"
#include "util/b64url.h"
#include "util/sha256.h"

#define SALT_LEN 16
#define MAC_LEN 32
#define DOMAIN "signet-client-secret-v1"

enum sg_secret_kind sg_client_secret_kind(const char *encoded)
{
    if (encoded == NULL)
        return SG_SECRET_KIND_OTHER;
    if (strncmp(encoded, SG_SECRET_HMAC_PREFIX, sizeof SG_SECRET_HMAC_PREFIX - 1) == 0)
        return SG_SECRET_KIND_HMAC;
    if (strncmp(encoded, "$argon2id$", 10) == 0)
        return SG_SECRET_KIND_ARGON2ID;
    return SG_SECRET_KIND_OTHER;
}

/* <state>/front/<file>: a 32-byte key of the front end's, base64url. */
static int key_path(const char *state_dir, const char *file, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/" SG_FRONT_DIR "/%s", state_dir, file);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static signet_err front_key_load(const char *state_dir, const char *file, struct sg_secret **out)
{
    char path[4200];
    if (key_path(state_dir, file, path, sizeof path) != 0)
        return SIGNET_ERR_TOO_LARGE;
    struct sg_secret *text = NULL, *key = NULL;
    signet_err err = sg_secret_read_file(path, 128, &text);
    if (err != SIGNET_OK)
        return err;
    err = sg_secret_new(SG_PEPPER_LEN + 1, &key);
    size_t n = 0;
    if (err == SIGNET_OK &&
        (sg_b64url_decode((const char *)text->data, text->len, key->data, SG_PEPPER_LEN + 1,
                          &n) != SIGNET_OK ||
         n != SG_PEPPER_LEN))
        err = SIGNET_ERR_MALFORMED;
    sg_secret_free(&text);
    if (err != SIGNET_OK) {
        sg_secret_free(&key);
        return err;
    }
    key->len = SG_PEPPER_LEN;
    *out = key;
    return SIGNET_OK;
}

static signet_err front_key_create(const char *state_dir, const char *file, int *created)
{
    char path[4200];
    *created = 0;
    if (key_path(state_dir, file, path, sizeof path) != 0)
        return SIGNET_ERR_TOO_LARGE;
    uint8_t raw[SG_PEPPER_LEN];
    char text[64];
    signet_err err = SIGNET_ERR_CRYPTO;
    if (RAND_bytes(raw, sizeof raw) == 1 &&
        sg_b64url_encode(raw, sizeof raw, text, sizeof text - 1) == SIGNET_OK) {
        size_t len = strlen(text);
        text[len++] = '\n';
        err = sg_secret_write_file(path, (const uint8_t *)text, len);
        /* 0600 whatever the umask was (it can only have narrowed it). */
        if (err == SIGNET_OK && chmod(path, 0600) != 0)
            err = SIGNET_ERR_IO;
    }
    sg_wipe(raw, sizeof raw);
    sg_wipe(text, sizeof text);
    if (err == SIGNET_ERR_EXISTS)
        return SIGNET_OK;
    if (err == SIGNET_OK)
        *created = 1;
    return err;
}

signet_err sg_pepper_load(const char *state_dir, struct sg_secret **out)
{
    return front_key_load(state_dir, SG_PEPPER_FILE, out);
}

signet_err sg_pepper_create(const char *state_dir, int *created)
{
    return front_key_create(state_dir, SG_PEPPER_FILE, created);
}

signet_err sg_dpop_key_load(const char *state_dir, struct sg_secret **out)
{
    return front_key_load(state_dir, SG_DPOP_KEY_FILE, out);
}

signet_err sg_dpop_key_create(const char *state_dir, int *created)
{
    return front_key_create(state_dir, SG_DPOP_KEY_FILE, created);
}

/* HMAC-SHA-256 keyed with the pepper, made once and copied for each use:
 * fetching the algorithms and keying a context on every request would
 * take OpenSSL's global locks on every token request. The template is
 * rebuilt when another pepper comes (compared by its SHA-256, so the
 * pepper itself is not kept a second time). */
static pthread_mutex_t keyed_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_MAC_CTX *keyed;
static uint8_t keyed_for[32];

static EVP_MAC_CTX *keyed_ctx(const struct sg_secret *pepper)
{
    uint8_t id[32];
    sg_sha256(pepper->data, pepper->len, id);
    EVP_MAC_CTX *c = NULL;
    pthread_mutex_lock(&keyed_lock);
    if (keyed == NULL || CRYPTO_memcmp(id, keyed_for, sizeof id) != 0) {
        EVP_MAC_CTX_free(keyed);
        keyed = NULL;
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *k = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac);
        OSSL_PARAM params[] = {
            OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0), OSSL_PARAM_END};
        if (k != NULL && EVP_MAC_init(k, pepper->data, pepper->len, params) == 1) {
            keyed = k;
            memcpy(keyed_for, id, sizeof id);
        } else {
            EVP_MAC_CTX_free(k);
        }
    }
    if (keyed != NULL)
        c = EVP_MAC_CTX_dup(keyed);
    pthread_mutex_unlock(&keyed_lock);
    sg_wipe(id, sizeof id);
    return c;
}

static int mac_of(const struct sg_secret *pepper, const uint8_t *salt, size_t salt_len,
                  const char *secret, uint8_t out[static MAC_LEN])
{
    if (pepper == NULL || pepper->len != SG_PEPPER_LEN)
        return -1;
    EVP_MAC_CTX *ctx = keyed_ctx(pepper);
    size_t outl = 0;
    int ok = ctx != NULL && EVP_MAC_update(ctx, (const uint8_t *)DOMAIN, sizeof DOMAIN) == 1 &&
             EVP_MAC_update(ctx, salt, salt_len) == 1 &&
             EVP_MAC_update(ctx, (const uint8_t *)secret, strlen(secret)) == 1 &&
             EVP_MAC_final(ctx, out, &outl, MAC_LEN) == 1 && outl == MAC_LEN;
    EVP_MAC_CTX_free(ctx);
    return ok ? 0 : -1;
}

signet_err sg_client_secret_hash(const struct sg_secret *pepper, const char *secret,
                                 char out[static SG_SECRET_HMAC_MAX])
{
    uint8_t salt[SALT_LEN], mac[MAC_LEN];
    char s64[32], m64[48];
    signet_err err = SIGNET_ERR_CRYPTO;
    if (RAND_bytes(salt, sizeof salt) == 1 && mac_of(pepper, salt, sizeof salt, secret, mac) == 0 &&
        sg_b64url_encode(salt, sizeof salt, s64, sizeof s64) == SIGNET_OK &&
        sg_b64url_encode(mac, sizeof mac, m64, sizeof m64) == SIGNET_OK) {
        int n = snprintf(out, SG_SECRET_HMAC_MAX, SG_SECRET_HMAC_PREFIX "%s$%s", s64, m64);
        err = n > 0 && n < SG_SECRET_HMAC_MAX ? SIGNET_OK : SIGNET_ERR_TOO_LARGE;
    }
    sg_wipe(mac, sizeof mac);
    return err;
}

int sg_client_secret_check(const struct sg_secret *pepper, const char *secret,
                           const char *encoded)
{
    uint8_t salt[SALT_LEN], want[MAC_LEN], got[MAC_LEN];
    size_t sl = 0, ml = 0;
    memset(salt, 0, sizeof salt);
    memset(want, 0, sizeof want);
    int well_formed = 0;
    if (sg_client_secret_kind(encoded) == SG_SECRET_KIND_HMAC) {
        const char *s = encoded + sizeof SG_SECRET_HMAC_PREFIX - 1;
        const char *d = strchr(s, '$');
        well_formed = d != NULL &&
                      sg_b64url_decode(s, (size_t)(d - s), salt, sizeof salt, &sl) == SIGNET_OK &&
                      sl == SALT_LEN &&
                      sg_b64url_decode(d + 1, strlen(d + 1), want, sizeof want, &ml) == SIGNET_OK &&
                      ml == MAC_LEN;
    }
    /* Computed whatever the stored form: the same work on every path. */
    int computed = mac_of(pepper, salt, sizeof salt, secret, got) == 0;
    int match = CRYPTO_memcmp(got, want, sizeof got) == 0;
    sg_wipe(got, sizeof got);
    return well_formed && computed && match;
}
