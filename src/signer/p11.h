/* PKCS#11 access: the only code in signet that talks to the HSM.
 * Linked only into the signer (and its tests). */
#ifndef SG_P11_H
#define SG_P11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alg.h"
#include "signet/error.h"
#include "util/secret.h"
#include "util/thumbprint.h"

/* The algorithms the signer's keys use (enum sg_alg, lib/alg.h); every
 * function below refuses the others with SIGNET_ERR_INVALID_ARG. */
#define SG_P11_ALGS (SG_ALG_BIT(SG_ALG_ES256) | SG_ALG_BIT(SG_ALG_EDDSA) | SG_ALG_BIT(SG_ALG_PS256))
/* Largest JOSE signature the signer produces (PS256 with RSA-3072); a
 * different quantity from SG_SIG_MAX, the most a verifier accepts. */
#define SG_P11_SIG_MAX 384u
_Static_assert(SG_P11_SIG_MAX <= SG_SIG_MAX, "the signer's signatures must be verifiable");

#define SG_HSM_ID_LEN 16 /* CKA_ID of both objects of a key pair */

struct sg_p11;

struct sg_p11_opts {
    const char *module_path;  /* PKCS#11 module (.so) */
    const char *allow_dirs;   /* ':'-separated directories the module must live in */
    const char *token_label;  /* token to use (CKA_LABEL of the token) */
    unsigned sessions;        /* session pool size (>= 1) */
};

/* Loads the module (p11-kit), refusing one outside allow_dirs after
 * realpath(), initialises it, finds the token, opens the session pool and
 * logs in as CKU_USER with pin. */
SIGNET_WUR signet_err sg_p11_open(const struct sg_p11_opts *opts, const struct sg_secret *pin,
                                  struct sg_p11 **out);
void sg_p11_close(struct sg_p11 **p);

/* Initialises a new token with the given label in the first uninitialised
 * slot (C_InitToken with so_pin, then C_InitPIN with user_pin).
 * SIGNET_ERR_EXISTS if a token with this label is already there. */
SIGNET_WUR signet_err sg_p11_init_token(const struct sg_p11_opts *opts,
                                        const struct sg_secret *so_pin,
                                        const struct sg_secret *user_pin);

/* Generates a key pair inside the token: private key CKA_TOKEN, CKA_PRIVATE,
 * CKA_SENSITIVE=TRUE, CKA_EXTRACTABLE=FALSE, CKA_SIGN only; CKA_ID = id,
 * CKA_LABEL = label on both objects. ES256 = P-256, EdDSA = Ed25519,
 * PS256 = RSA-3072. Returns the public JWK (kty and key members plus "alg"
 * and "use":"sig", no kid) as a compact JSON string (release with free()),
 * and its RFC 7638 kid. An id already in use is SIGNET_ERR_EXISTS. If the
 * public half cannot be read back, both objects are destroyed again. */
SIGNET_WUR signet_err sg_p11_generate(struct sg_p11 *p, enum sg_alg alg,
                                      const uint8_t id[static SG_HSM_ID_LEN], const char *label,
                                      char **jwk_json, char kid[static SG_THUMBPRINT_LEN + 1]);

/* Reads the public key of an existing pair back as above.
 * SIGNET_ERR_NOT_FOUND if no public key of alg's key type has this id. */
SIGNET_WUR signet_err sg_p11_public_jwk(struct sg_p11 *p, enum sg_alg alg,
                                        const uint8_t id[static SG_HSM_ID_LEN], char **jwk_json,
                                        char kid[static SG_THUMBPRINT_LEN + 1]);

/* Sets CKA_LABEL on both objects of the pair. */
SIGNET_WUR signet_err sg_p11_set_label(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                                       const char *label);

/* Signs msg with the private key; the signature is in JOSE form (ES256:
 * r||s 64 bytes; EdDSA: 64 bytes; PS256: RSASSA-PSS SHA-256, MGF1-SHA-256,
 * salt 32, 384 bytes). SIGNET_ERR_NOT_FOUND if no private key of alg's key
 * type has this id; SIGNET_ERR_ALG_KEY_MISMATCH for an EC key not on P-256;
 * SIGNET_ERR_HSM if several private keys share the id. */
SIGNET_WUR signet_err sg_p11_sign(struct sg_p11 *p, enum sg_alg alg,
                                  const uint8_t id[static SG_HSM_ID_LEN], const uint8_t *msg,
                                  size_t msg_len, uint8_t sig[static SG_P11_SIG_MAX],
                                  size_t *sig_len);

/* C_DestroyObject on every object with this CKA_ID. Idempotent: no object
 * left is success (*destroyed tells how many went). */
SIGNET_WUR signet_err sg_p11_destroy(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                                     unsigned *destroyed);

/* Whether a private key with this CKA_ID exists. */
SIGNET_WUR signet_err sg_p11_exists(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                                    bool *exists);

/* Every private key object in the token, for invariant checks. id and label
 * of foreign objects are truncated to fit. *out is released with free().
 * Only public attributes are read (never CKA_VALUE or the like). */
struct sg_p11_keyinfo {
    uint8_t id[64];
    size_t id_len;
    char label[128];
    unsigned long key_type; /* CKK_* */
    bool sensitive, extractable, always_sensitive, never_extractable;
};
SIGNET_WUR signet_err sg_p11_list_private(struct sg_p11 *p, struct sg_p11_keyinfo **out,
                                          size_t *n);
/* The same for every secret key object (CKO_SECRET_KEY: the TOTP seal key,
 * and anything made behind signet's back). */
SIGNET_WUR signet_err sg_p11_list_secret(struct sg_p11 *p, struct sg_p11_keyinfo **out,
                                         size_t *n);

/* The seal key (issue 14): one AES-256 secret key, CKA_ID id, CKA_LABEL
 * label, CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, never CKA_EXTRACTABLE,
 * CKA_ENCRYPT and CKA_DECRYPT only (no wrap, unwrap, sign, verify or
 * derive). Finds it; when there is none and create is set, generates it
 * (C_GenerateKey, CKM_AES_KEY_GEN) and says so in *created (may be NULL).
 * SIGNET_ERR_NOT_FOUND when there is none and create is not set;
 * SIGNET_ERR_HSM if several share the id. The caller serialises creation
 * between processes (the signer's lifecycle lock). */
SIGNET_WUR signet_err sg_p11_seal_key(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                                      const char *label, bool create, bool *created);
/* n (1..1024) random bytes from the token (C_GenerateRandom). */
SIGNET_WUR signet_err sg_p11_random(struct sg_p11 *p, uint8_t *out, size_t n);
#define SG_P11_GCM_IV_LEN 12  /* 96-bit IV (NIST SP 800-38D §8.2) */
#define SG_P11_GCM_TAG_LEN 16 /* 128-bit tag */
/* AES-GCM with the seal key in the token: out gets ciphertext || tag
 * (pt_len + 16 bytes). */
SIGNET_WUR signet_err sg_p11_seal(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                                  const uint8_t iv[static SG_P11_GCM_IV_LEN], const uint8_t *aad,
                                  size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *out,
                                  size_t out_cap, size_t *out_len);
/* The reverse: SIGNET_ERR_CRYPTO when the tag does not verify (another
 * AAD, IV, key or a changed byte), out wiped; other errors as the
 * module's. */
SIGNET_WUR signet_err sg_p11_open_sealed(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                                         const uint8_t iv[static SG_P11_GCM_IV_LEN],
                                         const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                                         size_t ct_len, uint8_t *out, size_t out_cap,
                                         size_t *out_len);

/* Recovery for a token that answers CKR_OK but no longer shows a key it
 * holds (or whose sessions went stale without saying so): waits for every
 * pooled session to come back, closes them all (which ends the login),
 * then opens one again, finding the token by label and serial and logging
 * in; the others open on their next use. Not for use while the same thread
 * holds a session. SIGNET_OK when the fresh session is open and logged in. */
SIGNET_WUR signet_err sg_p11_reset_sessions(struct sg_p11 *p);

/* Counters for status and metrics. */
struct sg_p11_stats {
    uint64_t signatures;
    uint64_t errors;
    uint64_t session_reopens;
};
void sg_p11_get_stats(const struct sg_p11 *p, struct sg_p11_stats *out);

/* Thread safety: every function above may be called from several threads
 * on one handle (except sg_p11_close); each operation borrows a session
 * from the pool. An operation that finds its session or token gone
 * (CKR_DEVICE_ERROR, CKR_SESSION_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN...)
 * opens a fresh session, logs in again, finds the token again by label if
 * its slot vanished, and retries once (stats.session_reopens). */

#if SIGNET_TESTING
/* Test hooks, compiled only in a testing build (SIGNET_TESTING=1). */
/* Test hook: make the nth PKCS#11 call from now fail with rv (0 disables). */
void sg_p11_test_fail_call(struct sg_p11 *p, unsigned long nth, unsigned long rv);
/* Test hook: calls left before the injected failure (0: it fired or none). */
unsigned long sg_p11_test_fail_pending(const struct sg_p11 *p);
/* Test hook: closes the idle pooled sessions and forgets the slot id, as if
 * the token had been re-enumerated; the next operation must find it again. */
void sg_p11_test_lose_slot(struct sg_p11 *p);
#endif

#endif
