/* Passwords (password.h): argon2id hashes on a bounded pool, a hash of no
 * one's for the names that have none, and the attempt budgets per name
 * and per address (auth.c's table of budgets strangers can fill). */
#include "signetd/password.h"

#include <argon2.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "signetd/auth.h"

#define PW_T_COST 2
#define PW_M_COST 19456 /* KiB */
#define PW_LANES 1
#define PW_SALT 16
#define PW_HASH 32
#define PW_SLOTS 2u

#define NAME_RATE (1.0 / 60.0)
#define NAME_BURST 5u
#define ADDR_RATE (1.0 / 6.0)
#define ADDR_BURST 20u

static sem_t slots;
static char dummy[160];
static int ready;

signet_err sd_password_init(void)
{
    if (ready)
        return SIGNET_OK;
    uint8_t pw[32];
    if (sem_init(&slots, 0, PW_SLOTS) != 0 || RAND_bytes(pw, sizeof pw) != 1)
        return SIGNET_ERR_CRYPTO;
    char text[65];
    for (size_t i = 0; i < sizeof pw; i++)
        (void)snprintf(text + 2 * i, 3, "%02x", pw[i]);
    int rc = sd_password_hash(text, dummy, sizeof dummy);
    OPENSSL_cleanse(pw, sizeof pw);
    OPENSSL_cleanse(text, sizeof text);
    if (rc != 0)
        return SIGNET_ERR_CRYPTO;
    ready = 1;
    return SIGNET_OK;
}

const char *sd_password_weak(const char *password, const char *user_name)
{
    size_t n = strlen(password);
    if (n < SD_PASSWORD_MIN)
        return "a password needs at least 12 characters";
    if (n > SD_PASSWORD_MAX)
        return "a password may have at most 128 characters";
    for (const unsigned char *p = (const unsigned char *)password; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return "a password may not hold control characters";
    if (user_name != NULL && strcasecmp(password, user_name) == 0)
        return "a password may not be the account's name";
    return NULL;
}

int sd_password_hash(const char *password, char *out, size_t cap)
{
    uint8_t salt[PW_SALT];
    if (RAND_bytes(salt, sizeof salt) != 1)
        return -1;
    size_t need = argon2_encodedlen(PW_T_COST, PW_M_COST, PW_LANES, PW_SALT, PW_HASH, Argon2_id);
    if (need > cap)
        return -1;
    int rc = argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_LANES, password, strlen(password),
                                   salt, sizeof salt, PW_HASH, out, cap);
    return rc == ARGON2_OK ? 0 : -1;
}

int sd_password_verify(const char *encoded, const char *password)
{
    if (!ready)
        return SD_PW_BUSY;
    while (sem_trywait(&slots) != 0)
        if (errno != EINTR)
            return SD_PW_BUSY;
    /* argon2id_verify recomputes with the encoded parameters and salt and
     * compares in constant time; the dummy costs what a real one does. */
    int ok = argon2id_verify(encoded != NULL ? encoded : dummy, password, strlen(password)) ==
             ARGON2_OK;
    (void)sem_post(&slots);
    return ok && encoded != NULL ? SD_PW_OK : SD_PW_BAD;
}

int64_t sd_password_throttle(const char *tenant, const char *name, int *name_over)
{
    char key[200];
    int n = snprintf(key, sizeof key, "%s\n%s", tenant, name);
    *name_over = n < 0 || (size_t)n >= sizeof key ||
                 sd_budget_take("pw-name", key, NAME_RATE, NAME_BURST) != 0;
    return sd_budget_take("pw-addr", sd_auth_peer(), ADDR_RATE, ADDR_BURST);
}
