/* PKCS#11 access through p11-kit: module allow-list, session pool with
 * recovery, key generation, signing and inspection. No function here reads
 * a private attribute (CKA_VALUE, CKA_PRIVATE_EXPONENT, ...), wraps or
 * exports a key: private keys are only ever named by CKA_ID. */
#include "signer/p11.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include "util/b64url.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/sha256.h"

/* Under AddressSanitizer: SoftHSM 2.6.1 leaks a few bytes in every EdDSA
 * C_SignInit (an ASN.1 string it decodes from EC_PARAMS and never frees). The fast unwinder stops at
 * libcrypto, which has no frame pointers, so the leak's stack would name
 * OpenSSL alone and tests/lsan.supp's "libsofthsm2.so" could not match it;
 * the slow unwinder finds SoftHSM's frames. Only processes that load a
 * PKCS#11 module (this file) pay for it, and our own leaks still show. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SG_P11_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SG_P11_ASAN 1
#endif
#ifdef SG_P11_ASAN
const char *__asan_default_options(void); /* NOLINT(bugprone-reserved-identifier) */
const char *__asan_default_options(void)  /* NOLINT(bugprone-reserved-identifier) */
{
    return "fast_unwind_on_malloc=0";
}
#endif

#define SG_P11_MAX_SESSIONS 64
#define SG_P11_CACHE_SIZE 8
#define SG_P11_LABEL_LEN 32        /* CK_TOKEN_INFO.label, space padded */
#define SG_P11_MAX_OBJECTS 100000u /* sanity cap for find results */

/* DER OIDs for CKA_EC_PARAMS (RFC 5480 §2.1.1.1, RFC 8410 §3). */
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
/* PKCS#11 3.0 §2.3.5 also allows the curve name as a PrintableString. */
static const uint8_t name_ed25519[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd',
                                       's', '2', '5', '5', '1', '9'};
static const uint8_t rsa_e65537[] = {0x01, 0x00, 0x01};

struct sg_p11_cache_ent {
    uint8_t id[SG_HSM_ID_LEN];
    CK_KEY_TYPE type;
    CK_OBJECT_HANDLE obj;
    uint64_t gen; /* sg_p11.key_gen when stored */
    bool used;
};

struct sg_p11_sess {
    CK_SESSION_HANDLE h;
    bool open;      /* h is a live session */
    bool ever_open; /* a later open is a reopen (stats) */
    bool busy;      /* borrowed by an operation */
    struct sg_p11_cache_ent cache[SG_P11_CACHE_SIZE];
    unsigned cache_next;
};

struct sg_p11 {
    CK_FUNCTION_LIST *fl;
    char label[SG_P11_LABEL_LEN + 1]; /* token label, unpadded */
    unsigned char serial[16];         /* CK_TOKEN_INFO.serialNumber at open */
    bool serial_known;
    struct sg_secret *pin;            /* kept for re-login after recovery */
    pthread_mutex_t mu;               /* guards slot, sess[].busy */
    pthread_cond_t cv;                /* a session was returned to the pool */
    bool sync_init;
    CK_SLOT_ID slot;
    struct sg_p11_sess *sess;
    unsigned nsess;
    uint64_t key_gen; /* atomic: bumped on destroy, invalidates caches */
    uint64_t n_signatures, n_errors, n_reopens; /* atomic */
#if SIGNET_TESTING
    unsigned long fail_nth; /* atomic: test hook */
    CK_RV fail_rv;
#endif
};

/* -- fault injection ---------------------------------------------------- */

#if SIGNET_TESTING
/* True when this is the call the test hook wants to fail. */
static bool p11_inject(struct sg_p11 *p)
{
    unsigned long n = __atomic_load_n(&p->fail_nth, __ATOMIC_ACQUIRE);
    while (n != 0) {
        if (__atomic_compare_exchange_n(&p->fail_nth, &n, n - 1, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return n == 1;
    }
    return false;
}

static CK_RV p11_injected_rv(const struct sg_p11 *p)
{
    return __atomic_load_n(&p->fail_rv, __ATOMIC_ACQUIRE);
}

/* Disarms a pending injection (the logout on close must reach the module). */
static void p11_inject_off(struct sg_p11 *p)
{
    __atomic_store_n(&p->fail_nth, 0, __ATOMIC_RELEASE);
}

/* Every PKCS#11 call goes through this, so a test can fail the nth one. */
#define SG_P11(p, fn, ...) (p11_inject(p) ? p11_injected_rv(p) : (p)->fl->fn(__VA_ARGS__))

void sg_p11_test_fail_call(struct sg_p11 *p, unsigned long nth, unsigned long rv)
{
    if (p == NULL)
        return;
    __atomic_store_n(&p->fail_rv, (CK_RV)rv, __ATOMIC_RELEASE);
    __atomic_store_n(&p->fail_nth, nth, __ATOMIC_RELEASE);
}

unsigned long sg_p11_test_fail_pending(const struct sg_p11 *p)
{
    return p != NULL ? __atomic_load_n(&p->fail_nth, __ATOMIC_ACQUIRE) : 0;
}
#else
static void p11_inject_off(struct sg_p11 *p)
{
    (void)p;
}

/* A release build calls the module directly: nothing can be injected. */
#define SG_P11(p, fn, ...) ((p)->fl->fn(__VA_ARGS__))
#endif

/* -- small helpers ------------------------------------------------------ */

static bool alg_valid(enum sg_alg alg)
{
    return (unsigned)alg < SG_ALG_COUNT && (SG_P11_ALGS & SG_ALG_BIT(alg)) != 0;
}

static CK_KEY_TYPE alg_key_type(enum sg_alg alg)
{
    switch (alg) {
    case SG_ALG_ES256:
        return CKK_EC;
    case SG_ALG_EDDSA:
        return CKK_EC_EDWARDS;
    case SG_ALG_PS256:
        return CKK_RSA;
    default:
        return CKK_VENDOR_DEFINED; /* not SG_P11_ALGS: refused by alg_valid() */
    }
}

/* Keeps the first failure of an operation: that is the one to report. */
static void keep_rv(CK_RV *first, CK_RV rv)
{
    if (*first == CKR_OK)
        *first = rv;
}

static signet_err map_rv(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return SIGNET_OK;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_PIN_NOT_INITIALIZED:
        return SIGNET_ERR_HSM_PIN;
    case CKR_SLOT_ID_INVALID:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_DEVICE_REMOVED:
        return SIGNET_ERR_HSM_TOKEN;
    case CKR_HOST_MEMORY:
        return SIGNET_ERR_NOMEM;
    case CKR_MECHANISM_INVALID:
    case CKR_CURVE_NOT_SUPPORTED:
        return SIGNET_ERR_UNSUPPORTED;
    default:
        return SIGNET_ERR_HSM;
    }
}

/* Errors after which the session (or the whole token) is gone: close it,
 * open a new one and retry the operation once. */
static bool rv_session_lost(CK_RV rv)
{
    switch (rv) {
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_REMOVED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_USER_NOT_LOGGED_IN:
        return true;
    default:
        return false;
    }
}

/* Errors of C_OpenSession after which the slot must be found again. */
static bool rv_slot_gone(CK_RV rv)
{
    return rv == CKR_SLOT_ID_INVALID || rv == CKR_TOKEN_NOT_PRESENT ||
           rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_RECOGNIZED || rv == CKR_DEVICE_ERROR;
}

static void id_hex(const uint8_t id[static SG_HSM_ID_LEN], char out[static 2 * SG_HSM_ID_LEN + 1])
{
    sg_hex_encode(id, SG_HSM_ID_LEN, out);
}

/* CK_TOKEN_INFO.label is 32 bytes padded with spaces, not NUL-terminated. */
static bool label_matches(const unsigned char padded[SG_P11_LABEL_LEN], const char *want)
{
    size_t n = strlen(want);
    if (n > SG_P11_LABEL_LEN || memcmp(padded, want, n) != 0)
        return false;
    for (size_t i = n; i < SG_P11_LABEL_LEN; i++)
        if (padded[i] != ' ')
            return false;
    return true;
}

/* -- module loading ----------------------------------------------------- */

/* Whether the resolved module path lies beneath one of the ':'-separated
 * directories, each resolved with realpath() too, so neither a symlink nor
 * ".." can point the signer at a library outside the list. */
static signet_err check_allowed(const char *resolved, const char *allow_dirs)
{
    if (allow_dirs == NULL)
        return SIGNET_ERR_MODULE_NOT_ALLOWED;
    const char *seg = allow_dirs;
    for (;;) {
        const char *end = strchr(seg, ':');
        size_t n = end != NULL ? (size_t)(end - seg) : strlen(seg);
        char dir[PATH_MAX];
        char rdir[PATH_MAX];
        if (n > 0 && n < sizeof dir) {
            memcpy(dir, seg, n);
            dir[n] = '\0';
            if (realpath(dir, rdir) != NULL) {
                size_t rn = strlen(rdir);
                /* "/" itself ends with the separator. */
                bool sep = rn > 0 && rdir[rn - 1] == '/';
                if (strncmp(resolved, rdir, rn) == 0 && (sep || resolved[rn] == '/'))
                    return SIGNET_OK;
            }
        }
        if (end == NULL)
            return SIGNET_ERR_MODULE_NOT_ALLOWED;
        seg = end + 1;
    }
}

static signet_err load_module(const struct sg_p11_opts *opts, CK_FUNCTION_LIST **out)
{
    char resolved[PATH_MAX];
    if (opts->module_path == NULL || realpath(opts->module_path, resolved) == NULL) {
        sg_log(SG_LOG_ERROR, "p11_module_missing", "errno=%d", errno);
        return SIGNET_ERR_HSM_MODULE;
    }
    signet_err err = check_allowed(resolved, opts->allow_dirs);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "p11_module_not_allowed", "path=\"%s\"", resolved);
        return err;
    }
    /* A library others can replace is no better than one outside the list:
     * neither writable by group or others, nor owned by anyone but root or
     * the signer itself (a local user's library would run in the signer). */
    struct stat st;
    if (stat(resolved, &st) != 0 || !S_ISREG(st.st_mode) ||
        (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        sg_log(SG_LOG_ERROR, "p11_module_not_allowed", "path=\"%s\" reason=mode", resolved);
        return SIGNET_ERR_MODULE_NOT_ALLOWED;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        sg_log(SG_LOG_ERROR, "p11_module_not_allowed", "path=\"%s\" reason=owner uid=%ld",
               resolved, (long)st.st_uid);
        return SIGNET_ERR_MODULE_NOT_ALLOWED;
    }
    /* Managed (flags 0): p11-kit reference-counts C_Initialize/C_Finalize,
     * so several users in one process do not finalize each other. */
    CK_FUNCTION_LIST *fl = p11_kit_module_load(resolved, 0);
    if (fl == NULL) {
        sg_log(SG_LOG_ERROR, "p11_module_load_failed", "path=\"%s\"", resolved);
        return SIGNET_ERR_HSM_MODULE;
    }
    CK_RV rv = p11_kit_module_initialize(fl);
    if (rv != CKR_OK) {
        sg_log(SG_LOG_ERROR, "p11_initialize_failed", "rv=0x%lx", rv);
        p11_kit_module_release(fl);
        return SIGNET_ERR_HSM_MODULE;
    }
    *out = fl;
    return SIGNET_OK;
}

static void unload_module(CK_FUNCTION_LIST *fl)
{
    if (fl == NULL)
        return;
    (void)p11_kit_module_finalize(fl);
    p11_kit_module_release(fl);
}

/* -- slots -------------------------------------------------------------- */

/* Finds the slot whose initialised token has this label (label != NULL), or
 * the first slot holding an uninitialised token (label == NULL). With
 * serial, the token's serial number must match too. Two matching tokens are
 * refused with SIGNET_ERR_EXISTS: the second one may be an impostor. */
static signet_err find_slot(struct sg_p11 *p, const char *label, const unsigned char *serial,
                            CK_SLOT_ID *out, CK_TOKEN_INFO *info_out, CK_RV *rv)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    signet_err err = SIGNET_ERR_HSM_TOKEN;
    CK_RV r = CKR_OK;
    /* The list can grow between the two calls (SoftHSM adds a fresh slot
     * after C_InitToken); try a few times. */
    for (int attempt = 0; attempt < 4; attempt++) {
        r = SG_P11(p, C_GetSlotList, CK_TRUE, NULL, &n);
        if (r != CKR_OK)
            break;
        free(slots);
        slots = calloc(n > 0 ? n : 1, sizeof *slots);
        if (slots == NULL) {
            err = SIGNET_ERR_NOMEM;
            goto out;
        }
        r = SG_P11(p, C_GetSlotList, CK_TRUE, slots, &n);
        if (r != CKR_BUFFER_TOO_SMALL)
            break;
    }
    if (r != CKR_OK) {
        keep_rv(rv, r);
        err = map_rv(r) == SIGNET_ERR_HSM_TOKEN ? SIGNET_ERR_HSM_TOKEN : SIGNET_ERR_HSM;
        goto out;
    }
    size_t found = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        memset(&info, 0, sizeof info);
        r = SG_P11(p, C_GetTokenInfo, slots[i], &info);
        if (r != CKR_OK)
            continue; /* token went away meanwhile */
        bool inited = (info.flags & CKF_TOKEN_INITIALIZED) != 0;
        if (label == NULL && !inited) {
            *out = slots[i];
            err = SIGNET_OK;
            goto out;
        }
        if (label != NULL && inited && label_matches(info.label, label) &&
            (serial == NULL || memcmp(info.serialNumber, serial, sizeof info.serialNumber) == 0)) {
            if (found++ == 0) {
                *out = slots[i];
                if (info_out != NULL)
                    *info_out = info;
            }
        }
    }
    if (found == 1) {
        err = SIGNET_OK;
    } else if (found > 1) {
        sg_log(SG_LOG_ERROR, "p11_token_ambiguous", "label=\"%s\" count=%zu", label, found);
        err = SIGNET_ERR_EXISTS;
    }
out:
    free(slots);
    return err;
}

/* Whether the token in a slot is still the one opened (label and serial):
 * a slot id can be reused for another token after re-enumeration. */
static bool token_is_ours(const struct sg_p11 *p, const CK_TOKEN_INFO *ti)
{
    return (ti->flags & CKF_TOKEN_INITIALIZED) != 0 && label_matches(ti->label, p->label) &&
           (!p->serial_known || memcmp(ti->serialNumber, p->serial, sizeof p->serial) == 0);
}

/* Finds our token again after its slot went away. */
static signet_err refind_slot(struct sg_p11 *p, CK_RV why, CK_SLOT_ID *slot)
{
    CK_RV frv = CKR_OK;
    signet_err err = find_slot(p, p->label, p->serial_known ? p->serial : NULL, slot, NULL, &frv);
    if (err == SIGNET_ERR_EXISTS)
        err = SIGNET_ERR_HSM_TOKEN;
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "p11_token_lost", "label=\"%s\" rv=0x%lx find_rv=0x%lx", p->label,
               why, frv);
        return err;
    }
    pthread_mutex_lock(&p->mu);
    p->slot = *slot;
    pthread_mutex_unlock(&p->mu);
    sg_log(SG_LOG_WARN, "p11_slot_refound", "label=\"%s\" slot=%lu", p->label, *slot);
    return SIGNET_OK;
}

/* -- session pool ------------------------------------------------------- */

static void cache_clear(struct sg_p11_sess *s)
{
    memset(s->cache, 0, sizeof s->cache);
    s->cache_next = 0;
}

static bool cache_get(struct sg_p11 *p, struct sg_p11_sess *s,
                      const uint8_t id[static SG_HSM_ID_LEN], CK_KEY_TYPE type,
                      CK_OBJECT_HANDLE *obj)
{
    uint64_t gen = __atomic_load_n(&p->key_gen, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < SG_P11_CACHE_SIZE; i++) {
        const struct sg_p11_cache_ent *e = &s->cache[i];
        if (e->used && e->gen == gen && e->type == type &&
            memcmp(e->id, id, SG_HSM_ID_LEN) == 0) {
            *obj = e->obj;
            return true;
        }
    }
    return false;
}

static void cache_drop(struct sg_p11_sess *s, const uint8_t id[static SG_HSM_ID_LEN])
{
    for (size_t i = 0; i < SG_P11_CACHE_SIZE; i++)
        if (s->cache[i].used && memcmp(s->cache[i].id, id, SG_HSM_ID_LEN) == 0)
            s->cache[i].used = false;
}

static void cache_put(struct sg_p11 *p, struct sg_p11_sess *s,
                      const uint8_t id[static SG_HSM_ID_LEN], CK_KEY_TYPE type,
                      CK_OBJECT_HANDLE obj)
{
    struct sg_p11_cache_ent *e = &s->cache[s->cache_next];
    s->cache_next = (s->cache_next + 1) % SG_P11_CACHE_SIZE;
    memcpy(e->id, id, SG_HSM_ID_LEN);
    e->type = type;
    e->obj = obj;
    e->gen = __atomic_load_n(&p->key_gen, __ATOMIC_ACQUIRE);
    e->used = true;
}

static CK_SLOT_ID current_slot(struct sg_p11 *p)
{
    pthread_mutex_lock(&p->mu);
    CK_SLOT_ID slot = p->slot;
    pthread_mutex_unlock(&p->mu);
    return slot;
}

static void sess_close(struct sg_p11 *p, struct sg_p11_sess *s)
{
    if (s->open)
        (void)SG_P11(p, C_CloseSession, s->h);
    s->open = false;
    s->h = CK_INVALID_HANDLE;
    cache_clear(s);
}

/* Opens a R/W session for s and logs in unless the application already is
 * (login state is per token and application, not per session). If the slot
 * has gone, the token is found again by its label. With verify_pin, an
 * existing login (another handle in this process) is dropped and redone, so
 * a wrong PIN is always detected; that handle logs in again on its own. */
static signet_err sess_open(struct sg_p11 *p, struct sg_p11_sess *s, bool verify_pin)
{
    CK_SLOT_ID slot = current_slot(p);
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    const CK_FLAGS flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    CK_TOKEN_INFO ti;
    memset(&ti, 0, sizeof ti);
    CK_RV rv = SG_P11(p, C_GetTokenInfo, slot, &ti);
    signet_err err;
    if ((rv != CKR_OK || !token_is_ours(p, &ti)) &&
        (err = refind_slot(p, rv, &slot)) != SIGNET_OK)
        return err;
    rv = SG_P11(p, C_OpenSession, slot, flags, NULL, NULL, &h);
    if (rv_slot_gone(rv)) { /* it went away just now */
        if ((err = refind_slot(p, rv, &slot)) != SIGNET_OK)
            return err;
        rv = SG_P11(p, C_OpenSession, slot, flags, NULL, NULL, &h);
    }
    if (rv != CKR_OK) {
        sg_log(SG_LOG_ERROR, "p11_open_session_failed", "rv=0x%lx", rv);
        return map_rv(rv);
    }
    CK_SESSION_INFO info;
    memset(&info, 0, sizeof info);
    rv = SG_P11(p, C_GetSessionInfo, h, &info);
    if (rv == CKR_OK && verify_pin && info.state == CKS_RW_USER_FUNCTIONS) {
        rv = SG_P11(p, C_Logout, h);
        info.state = CKS_RW_PUBLIC_SESSION;
    }
    if (rv == CKR_OK && info.state != CKS_RW_USER_FUNCTIONS) {
        rv = SG_P11(p, C_Login, h, CKU_USER, p->pin->data, p->pin->len);
        if (rv == CKR_USER_ALREADY_LOGGED_IN)
            rv = CKR_OK;
    }
    if (rv != CKR_OK) {
        sg_log(SG_LOG_ERROR, "p11_login_failed", "rv=0x%lx", rv);
        (void)SG_P11(p, C_CloseSession, h);
        return map_rv(rv);
    }
    s->h = h;
    s->open = true;
    cache_clear(s);
    if (s->ever_open)
        __atomic_add_fetch(&p->n_reopens, 1, __ATOMIC_RELAXED);
    s->ever_open = true;
    return SIGNET_OK;
}

static struct sg_p11_sess *sess_borrow(struct sg_p11 *p)
{
    pthread_mutex_lock(&p->mu);
    struct sg_p11_sess *s = NULL;
    for (;;) {
        for (unsigned i = 0; i < p->nsess && s == NULL; i++)
            if (!p->sess[i].busy)
                s = &p->sess[i];
        if (s != NULL)
            break;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    s->busy = true;
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void sess_return(struct sg_p11 *p, struct sg_p11_sess *s)
{
    pthread_mutex_lock(&p->mu);
    s->busy = false;
    /* Everyone: sg_p11_reset_sessions waits for one session in particular. */
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

signet_err sg_p11_reset_sessions(struct sg_p11 *p)
{
    if (p == NULL)
        return SIGNET_ERR_INVALID_ARG;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->nsess; i++) {
        while (p->sess[i].busy)
            pthread_cond_wait(&p->cv, &p->mu);
        p->sess[i].busy = true;
    }
    pthread_mutex_unlock(&p->mu);
    /* Closing the last session also ends the login (PKCS#11 2.40 §5.6). */
    for (unsigned i = 0; i < p->nsess; i++)
        sess_close(p, &p->sess[i]);
    __atomic_add_fetch(&p->key_gen, 1, __ATOMIC_RELEASE);
    /* The first one again, at once: finds the token (label and serial) and
     * logs in, or says why not. The others open on their next use. */
    signet_err err = sess_open(p, &p->sess[0], false);
    sg_log(err == SIGNET_OK ? SG_LOG_WARN : SG_LOG_ERROR, "p11_sessions_reset",
           "label=\"%s\" result=%s", p->label, signet_err_name(err));
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->nsess; i++)
        p->sess[i].busy = false;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return err;
}

/* One operation on a borrowed session. It reports the first PKCS#11
 * failure in *rv (CKR_OK if there was none) next to its result. */
typedef signet_err (*sg_p11_op)(struct sg_p11 *p, struct sg_p11_sess *s, void *ctx, CK_RV *rv);

/* Runs op on a pooled session. A session that saw any PKCS#11 error is
 * closed (it may hold an unfinished find or sign operation) and reopened
 * on next use; after an error meaning the session or token went away, the
 * operation is retried once on a fresh session. */
static signet_err run_op(struct sg_p11 *p, const char *name, sg_p11_op op, void *ctx)
{
    struct sg_p11_sess *s = sess_borrow(p);
    signet_err err = SIGNET_ERR_HSM;
    bool hsm_error = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!s->open) {
            err = sess_open(p, s, false);
            if (err != SIGNET_OK) {
                hsm_error = true;
                break;
            }
        }
        CK_RV rv = CKR_OK;
        err = op(p, s, ctx, &rv);
        if (rv == CKR_OK)
            break;
        hsm_error = true;
        sess_close(p, s);
        if (err == SIGNET_OK || !rv_session_lost(rv))
            break;
        sg_log(SG_LOG_WARN, "p11_session_lost", "op=%s rv=0x%lx retry=%s", name, rv,
               attempt == 0 ? "yes" : "no");
    }
    sess_return(p, s);
    if (hsm_error)
        __atomic_add_fetch(&p->n_errors, 1, __ATOMIC_RELAXED);
    return err;
}

/* An operation that sees no private object must know it is logged in:
 * after someone else's C_Logout, private keys are simply invisible. */
static signet_err ensure_login(struct sg_p11 *p, struct sg_p11_sess *s, CK_RV *rv)
{
    CK_SESSION_INFO info;
    memset(&info, 0, sizeof info);
    CK_RV r = SG_P11(p, C_GetSessionInfo, s->h, &info);
    if (r == CKR_OK && info.state != CKS_RW_USER_FUNCTIONS)
        r = CKR_USER_NOT_LOGGED_IN;
    keep_rv(rv, r);
    return map_rv(r);
}

/* -- object search ------------------------------------------------------ */

/* All objects matching tmpl, in a malloc'ed array (*out NULL when none). */
static signet_err find_all(struct sg_p11 *p, struct sg_p11_sess *s, CK_ATTRIBUTE *tmpl,
                           CK_ULONG ntmpl, CK_OBJECT_HANDLE **out, size_t *n, CK_RV *rv)
{
    *out = NULL;
    *n = 0;
    CK_RV r = SG_P11(p, C_FindObjectsInit, s->h, tmpl, ntmpl);
    if (r != CKR_OK) {
        keep_rv(rv, r);
        return map_rv(r);
    }
    signet_err err = SIGNET_OK;
    CK_OBJECT_HANDLE *objs = NULL;
    size_t have = 0;
    size_t cap = 0;
    for (;;) {
        if (have == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            if (ncap > SG_P11_MAX_OBJECTS) {
                err = SIGNET_ERR_TOO_LARGE;
                break;
            }
            CK_OBJECT_HANDLE *grown = realloc(objs, ncap * sizeof *objs);
            if (grown == NULL) {
                err = SIGNET_ERR_NOMEM;
                break;
            }
            objs = grown;
            cap = ncap;
        }
        CK_ULONG got = 0;
        r = SG_P11(p, C_FindObjects, s->h, objs + have, cap - have, &got);
        if (r != CKR_OK) {
            keep_rv(rv, r);
            err = map_rv(r);
            break;
        }
        if (got == 0)
            break;
        if (got > cap - have) { /* a broken module: refuse its answer */
            err = SIGNET_ERR_HSM;
            break;
        }
        have += got;
    }
    r = SG_P11(p, C_FindObjectsFinal, s->h);
    if (r != CKR_OK) {
        keep_rv(rv, r);
        if (err == SIGNET_OK)
            err = map_rv(r);
    }
    if (err != SIGNET_OK) {
        free(objs);
        return err;
    }
    *out = objs;
    *n = have;
    return SIGNET_OK;
}

/* The one object of class cls with this CKA_ID (and key type, unless
 * CKK_VENDOR_DEFINED is given). Several objects are refused: the signer
 * must never pick one of two keys by chance. */
static signet_err find_key(struct sg_p11 *p, struct sg_p11_sess *s, CK_OBJECT_CLASS cls,
                           const uint8_t id[static SG_HSM_ID_LEN], CK_KEY_TYPE type,
                           CK_OBJECT_HANDLE *obj, CK_RV *rv)
{
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_ID, (void *)id, SG_HSM_ID_LEN},
        {CKA_KEY_TYPE, &type, sizeof type},
    };
    CK_ULONG ntmpl = type == CKK_VENDOR_DEFINED ? 2 : 3;
    CK_OBJECT_HANDLE *objs = NULL;
    size_t n = 0;
    signet_err err = find_all(p, s, tmpl, ntmpl, &objs, &n, rv);
    if (err != SIGNET_OK)
        return err;
    if (n == 1)
        *obj = objs[0];
    free(objs);
    if (n == 0) {
        err = ensure_login(p, s, rv);
        return err != SIGNET_OK ? err : SIGNET_ERR_NOT_FOUND;
    }
    if (n > 1) {
        char hex[2 * SG_HSM_ID_LEN + 1];
        id_hex(id, hex);
        sg_log(SG_LOG_ERROR, "p11_duplicate_id", "id=%s class=%lu count=%zu", hex, cls, n);
        return SIGNET_ERR_HSM;
    }
    return SIGNET_OK;
}

/* -- public keys to JWK ------------------------------------------------- */

/* CKA_EC_POINT should be a DER OCTET STRING holding the point (PKCS#11
 * 2.40 §2.3.3), but some modules return the bare point. Both are accepted,
 * told apart by length since the bare form has a fixed size. */
static signet_err ec_point_bytes(const uint8_t *in, size_t len, size_t want, const uint8_t **out)
{
    if (len == want) {
        *out = in;
        return SIGNET_OK;
    }
    if (want < 0x80 && len == want + 2 && in[0] == 0x04 && in[1] == want) {
        *out = in + 2;
        return SIGNET_OK;
    }
    return SIGNET_ERR_HSM;
}

static bool bytes_eq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

static signet_err set_b64(json_t *o, const char *name, const uint8_t *data, size_t n)
{
    char buf[1400]; /* base64url of up to 1024 bytes (RSA-8192) */
    if (sg_b64url_encoded_len(n) >= sizeof buf)
        return SIGNET_ERR_TOO_LARGE;
    signet_err err = sg_b64url_encode(data, n, buf, sizeof buf);
    if (err != SIGNET_OK)
        return err;
    return json_object_set_new(o, name, json_string(buf)) == 0 ? SIGNET_OK : SIGNET_ERR_NOMEM;
}

static signet_err set_str(json_t *o, const char *name, const char *v)
{
    return json_object_set_new(o, name, json_string(v)) == 0 ? SIGNET_OK : SIGNET_ERR_NOMEM;
}

/* Big-endian unsigned integer without leading zero bytes (RFC 7518 §6.3.1). */
static void strip_zeros(const uint8_t **d, size_t *n)
{
    while (*n > 1 && (*d)[0] == 0) {
        (*d)++;
        (*n)--;
    }
}

/* Reads the public key object pub and builds its JWK and RFC 7638 kid. */
static signet_err read_public(struct sg_p11 *p, struct sg_p11_sess *s, enum sg_alg alg,
                              CK_OBJECT_HANDLE pub, char **jwk_json,
                              char kid[static SG_THUMBPRINT_LEN + 1], CK_RV *rv)
{
    uint8_t a[1024] = {0}; /* zeroed: the module may write fewer bytes */
    uint8_t b[1024] = {0};
    CK_ATTRIBUTE attrs[2];
    if (alg == SG_ALG_PS256) {
        attrs[0] = (CK_ATTRIBUTE){CKA_MODULUS, a, sizeof a};
        attrs[1] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, b, sizeof b};
    } else {
        attrs[0] = (CK_ATTRIBUTE){CKA_EC_PARAMS, a, sizeof a};
        attrs[1] = (CK_ATTRIBUTE){CKA_EC_POINT, b, sizeof b};
    }
    CK_RV r = SG_P11(p, C_GetAttributeValue, s->h, pub, attrs, 2);
    if (r != CKR_OK) {
        keep_rv(rv, r);
        return map_rv(r);
    }
    if (attrs[0].ulValueLen > sizeof a || attrs[1].ulValueLen > sizeof b)
        return SIGNET_ERR_HSM;
    size_t alen = attrs[0].ulValueLen;
    size_t blen = attrs[1].ulValueLen;

    signet_err err = SIGNET_ERR_NOMEM;
    json_t *jwk = json_object();
    if (jwk == NULL)
        return SIGNET_ERR_NOMEM;
    const uint8_t *pt = NULL;
    switch (alg) {
    case SG_ALG_ES256:
        if (!bytes_eq(a, alen, oid_p256, sizeof oid_p256) ||
            ec_point_bytes(b, blen, 65, &pt) != SIGNET_OK || pt[0] != 0x04) {
            err = SIGNET_ERR_HSM;
            goto out;
        }
        /* x and y are fixed 32 bytes each (RFC 7518 §6.2.1.2). */
        if ((err = set_str(jwk, "kty", "EC")) != SIGNET_OK ||
            (err = set_str(jwk, "crv", "P-256")) != SIGNET_OK ||
            (err = set_b64(jwk, "x", pt + 1, 32)) != SIGNET_OK ||
            (err = set_b64(jwk, "y", pt + 33, 32)) != SIGNET_OK)
            goto out;
        break;
    case SG_ALG_EDDSA:
        if ((!bytes_eq(a, alen, oid_ed25519, sizeof oid_ed25519) &&
             !bytes_eq(a, alen, name_ed25519, sizeof name_ed25519)) ||
            ec_point_bytes(b, blen, 32, &pt) != SIGNET_OK) {
            err = SIGNET_ERR_HSM;
            goto out;
        }
        if ((err = set_str(jwk, "kty", "OKP")) != SIGNET_OK ||
            (err = set_str(jwk, "crv", "Ed25519")) != SIGNET_OK ||
            (err = set_b64(jwk, "x", pt, 32)) != SIGNET_OK)
            goto out;
        break;
    case SG_ALG_PS256: {
        const uint8_t *nd = a;
        const uint8_t *ed = b;
        strip_zeros(&nd, &alen);
        strip_zeros(&ed, &blen);
        /* RSA below 2048 bits is not acceptable for PS256 (RFC 7518 §3.5). */
        if (alen < 256 || blen == 0 || ed[0] == 0) {
            err = SIGNET_ERR_HSM;
            goto out;
        }
        if ((err = set_str(jwk, "kty", "RSA")) != SIGNET_OK ||
            (err = set_b64(jwk, "n", nd, alen)) != SIGNET_OK ||
            (err = set_b64(jwk, "e", ed, blen)) != SIGNET_OK)
            goto out;
        break;
    }
    default: /* not SG_P11_ALGS: refused by alg_valid() before */
        err = SIGNET_ERR_INVALID_ARG;
        goto out;
    }
    if ((err = set_str(jwk, "alg", sg_alg_name(alg))) != SIGNET_OK ||
        (err = set_str(jwk, "use", "sig")) != SIGNET_OK)
        goto out;
    char k[SG_THUMBPRINT_LEN + 1];
    if ((err = sg_jwk_thumbprint(jwk, k)) != SIGNET_OK)
        goto out;
    char *js = json_dumps(jwk, JSON_COMPACT);
    if (js == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    memcpy(kid, k, sizeof k);
    *jwk_json = js;
    err = SIGNET_OK;
out:
    json_decref(jwk);
    return err;
}

/* -- open / close ------------------------------------------------------- */

static void p11_free(struct sg_p11 *p)
{
    if (p->sess != NULL) {
        for (unsigned i = 0; i < p->nsess; i++)
            sess_close(p, &p->sess[i]);
        free(p->sess);
    }
    unload_module(p->fl); /* set only once initialised */
    if (p->sync_init) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    sg_secret_free(&p->pin);
    free(p);
}

signet_err sg_p11_open(const struct sg_p11_opts *opts, const struct sg_secret *pin,
                       struct sg_p11 **out)
{
    if (opts == NULL || pin == NULL || pin->data == NULL || out == NULL ||
        opts->token_label == NULL || strlen(opts->token_label) > SG_P11_LABEL_LEN ||
        opts->sessions == 0 || opts->sessions > SG_P11_MAX_SESSIONS)
        return SIGNET_ERR_INVALID_ARG;
    *out = NULL;
    struct sg_p11 *p = calloc(1, sizeof *p);
    if (p == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err err = SIGNET_ERR_NOMEM;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        goto fail;
    }
    p->sync_init = true;
    memcpy(p->label, opts->token_label, strlen(opts->token_label) + 1);
    if ((err = sg_secret_new(pin->len, &p->pin)) != SIGNET_OK)
        goto fail;
    memcpy(p->pin->data, pin->data, pin->len);
    p->pin->data[pin->len] = 0;
    p->pin->len = pin->len;
    p->sess = calloc(opts->sessions, sizeof *p->sess);
    if (p->sess == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto fail;
    }
    p->nsess = opts->sessions;
    if ((err = load_module(opts, &p->fl)) != SIGNET_OK)
        goto fail;
    CK_RV rv = CKR_OK;
    CK_TOKEN_INFO ti;
    memset(&ti, 0, sizeof ti);
    if ((err = find_slot(p, p->label, NULL, &p->slot, &ti, &rv)) != SIGNET_OK) {
        if (err == SIGNET_ERR_EXISTS)
            err = SIGNET_ERR_HSM_TOKEN;
        sg_log(SG_LOG_ERROR, "p11_token_not_found", "label=\"%s\" rv=0x%lx", p->label, rv);
        goto fail;
    }
    memcpy(p->serial, ti.serialNumber, sizeof p->serial);
    p->serial_known = true;
    /* The first session logs in; the others share that login state. */
    for (unsigned i = 0; i < p->nsess; i++)
        if ((err = sess_open(p, &p->sess[i], i == 0)) != SIGNET_OK)
            goto fail;
    sg_log(SG_LOG_INFO, "p11_open", "label=\"%s\" slot=%lu sessions=%u", p->label, p->slot,
           p->nsess);
    *out = p;
    return SIGNET_OK;
fail:
    p11_free(p);
    return err;
}

void sg_p11_close(struct sg_p11 **pp)
{
    if (pp == NULL || *pp == NULL)
        return;
    struct sg_p11 *p = *pp;
    *pp = NULL;
    p11_inject_off(p);
    for (unsigned i = 0; i < p->nsess; i++) {
        if (p->sess[i].open) {
            (void)SG_P11(p, C_Logout, p->sess[i].h);
            break;
        }
    }
    p11_free(p);
}

signet_err sg_p11_init_token(const struct sg_p11_opts *opts, const struct sg_secret *so_pin,
                             const struct sg_secret *user_pin)
{
    if (opts == NULL || so_pin == NULL || user_pin == NULL || opts->token_label == NULL ||
        strlen(opts->token_label) > SG_P11_LABEL_LEN)
        return SIGNET_ERR_INVALID_ARG;
    struct sg_p11 p;
    memset(&p, 0, sizeof p);
    signet_err err = load_module(opts, &p.fl);
    if (err != SIGNET_OK)
        return err;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    bool logged_in = false;
    CK_RV rv = CKR_OK;
    CK_SLOT_ID slot = 0;
    /* A second token with the same label would make the label ambiguous. */
    err = find_slot(&p, opts->token_label, NULL, &slot, NULL, &rv);
    if (err == SIGNET_OK || err == SIGNET_ERR_EXISTS) {
        sg_log(SG_LOG_ERROR, "p11_token_exists", "label=\"%s\"", opts->token_label);
        err = SIGNET_ERR_EXISTS;
        goto out;
    }
    if (err != SIGNET_ERR_HSM_TOKEN) /* not "none": the module failed */
        goto out;
    rv = CKR_OK;
    if ((err = find_slot(&p, NULL, NULL, &slot, NULL, &rv)) != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "p11_no_free_slot", "rv=0x%lx", rv);
        goto out;
    }
    unsigned char padded[SG_P11_LABEL_LEN];
    memset(padded, ' ', sizeof padded);
    memcpy(padded, opts->token_label, strlen(opts->token_label));
    rv = SG_P11(&p, C_InitToken, slot, so_pin->data, so_pin->len, padded);
    if (rv != CKR_OK) {
        sg_log(SG_LOG_ERROR, "p11_init_token_failed", "rv=0x%lx", rv);
        err = map_rv(rv);
        goto out;
    }
    /* SoftHSM moves a freshly initialised token to a new slot id. */
    if ((err = find_slot(&p, opts->token_label, NULL, &slot, NULL, &rv)) != SIGNET_OK)
        goto out;
    rv = SG_P11(&p, C_OpenSession, slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
    if (rv != CKR_OK) {
        err = map_rv(rv);
        goto out;
    }
    rv = SG_P11(&p, C_Login, h, CKU_SO, so_pin->data, so_pin->len);
    if (rv != CKR_OK) {
        err = map_rv(rv);
        goto out;
    }
    logged_in = true;
    rv = SG_P11(&p, C_InitPIN, h, user_pin->data, user_pin->len);
    if (rv != CKR_OK) {
        sg_log(SG_LOG_ERROR, "p11_init_pin_failed", "rv=0x%lx", rv);
        err = map_rv(rv);
        goto out;
    }
    sg_log(SG_LOG_INFO, "p11_token_initialised", "label=\"%s\"", opts->token_label);
    err = SIGNET_OK;
out:
    if (logged_in)
        (void)SG_P11(&p, C_Logout, h);
    if (h != CK_INVALID_HANDLE)
        (void)SG_P11(&p, C_CloseSession, h);
    unload_module(p.fl);
    return err;
}

/* -- operations --------------------------------------------------------- */

struct sg_p11_id_ctx {
    const uint8_t *id;
    enum sg_alg alg;
    const char *label;
    /* generate */
    bool generated; /* C_GenerateKeyPair was attempted: objects may exist */
    char **jwk_json;
    char *kid;
    /* sign */
    const uint8_t *msg;
    size_t msg_len;
    uint8_t *sig;
    size_t *sig_len;
    /* destroy / exists */
    unsigned destroyed;
    bool exists;
};

/* Destroys every object with this CKA_ID; *destroyed counts them. */
static signet_err destroy_id(struct sg_p11 *p, struct sg_p11_sess *s,
                             const uint8_t id[static SG_HSM_ID_LEN], unsigned *destroyed, CK_RV *rv)
{
    signet_err err = ensure_login(p, s, rv);
    if (err != SIGNET_OK)
        return err;
    CK_ATTRIBUTE tmpl[] = {{CKA_ID, (void *)id, SG_HSM_ID_LEN}};
    CK_OBJECT_HANDLE *objs = NULL;
    size_t n = 0;
    if ((err = find_all(p, s, tmpl, 1, &objs, &n, rv)) != SIGNET_OK)
        return err;
    for (size_t i = 0; i < n; i++) {
        CK_RV r = SG_P11(p, C_DestroyObject, s->h, objs[i]);
        if (r == CKR_OK) {
            (*destroyed)++;
        } else if (r != CKR_OBJECT_HANDLE_INVALID) { /* already gone is fine */
            keep_rv(rv, r);
            err = map_rv(r);
        }
    }
    free(objs);
    if (n > 0)
        __atomic_add_fetch(&p->key_gen, 1, __ATOMIC_ACQ_REL);
    cache_drop(s, id);
    return err;
}

static signet_err op_generate(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    struct sg_p11_id_ctx *c = vctx;
    signet_err err;
    if (c->generated) {
        /* Retry after the session was lost: the first attempt may have
         * left objects behind, and no one else uses this fresh id. */
        unsigned gone = 0;
        if ((err = destroy_id(p, s, c->id, &gone, rv)) != SIGNET_OK)
            return err;
    } else {
        if ((err = ensure_login(p, s, rv)) != SIGNET_OK)
            return err;
        CK_ATTRIBUTE tmpl[] = {{CKA_ID, (void *)c->id, SG_HSM_ID_LEN}};
        CK_OBJECT_HANDLE *objs = NULL;
        size_t n = 0;
        if ((err = find_all(p, s, tmpl, 1, &objs, &n, rv)) != SIGNET_OK)
            return err;
        free(objs);
        if (n > 0)
            return SIGNET_ERR_EXISTS;
    }

    CK_BBOOL yes = CK_TRUE;
    CK_BBOOL no = CK_FALSE;
    CK_ULONG bits = 3072;
    CK_ULONG label_len = strlen(c->label);
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub_tmpl[9] = {
        {CKA_TOKEN, &yes, sizeof yes},   {CKA_PRIVATE, &no, sizeof no},
        {CKA_VERIFY, &yes, sizeof yes},  {CKA_ENCRYPT, &no, sizeof no},
        {CKA_WRAP, &no, sizeof no},      {CKA_ID, (void *)c->id, SG_HSM_ID_LEN},
        {CKA_LABEL, (void *)c->label, label_len},
    };
    CK_ULONG npub = 7;
    switch (c->alg) {
    case SG_ALG_ES256:
        pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid_p256, sizeof oid_p256};
        break;
    case SG_ALG_EDDSA:
        /* SoftHSM 2.6 takes the RFC 8410 OID; PKCS#11 3.0 also allows it. */
        mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
        pub_tmpl[npub++] =
            (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid_ed25519, sizeof oid_ed25519};
        break;
    case SG_ALG_PS256:
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof bits};
        pub_tmpl[npub++] =
            (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, (void *)rsa_e65537, sizeof rsa_e65537};
        break;
    default: /* not SG_P11_ALGS: refused by alg_valid() before */
        return SIGNET_ERR_INVALID_ARG;
    }
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof yes},       {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},   {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_SIGN, &yes, sizeof yes},        {CKA_DECRYPT, &no, sizeof no},
        {CKA_UNWRAP, &no, sizeof no},        {CKA_DERIVE, &no, sizeof no},
        {CKA_ID, (void *)c->id, SG_HSM_ID_LEN}, {CKA_LABEL, (void *)c->label, label_len},
    };
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
    c->generated = true;
    CK_RV r = SG_P11(p, C_GenerateKeyPair, s->h, &mech, pub_tmpl, npub, priv_tmpl,
                     sizeof priv_tmpl / sizeof priv_tmpl[0], &pub, &priv);
    if (c->alg == SG_ALG_EDDSA && (r == CKR_ATTRIBUTE_VALUE_INVALID ||
                                   r == CKR_DOMAIN_PARAMS_INVALID || r == CKR_CURVE_NOT_SUPPORTED ||
                                   r == CKR_TEMPLATE_INCONSISTENT)) {
        /* Modules that predate RFC 8410 OIDs take the curve name instead. */
        pub_tmpl[npub - 1] =
            (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)name_ed25519, sizeof name_ed25519};
        r = SG_P11(p, C_GenerateKeyPair, s->h, &mech, pub_tmpl, npub, priv_tmpl,
                   sizeof priv_tmpl / sizeof priv_tmpl[0], &pub, &priv);
    }
    if (r != CKR_OK) {
        keep_rv(rv, r);
        sg_log(SG_LOG_ERROR, "p11_generate_failed", "alg=%s rv=0x%lx", sg_alg_name(c->alg), r);
        return map_rv(r);
    }
    err = read_public(p, s, c->alg, pub, c->jwk_json, c->kid, rv);
    if (err != SIGNET_OK) {
        /* No orphan: a key whose public half we cannot publish is useless. */
        CK_RV r1 = SG_P11(p, C_DestroyObject, s->h, priv);
        CK_RV r2 = SG_P11(p, C_DestroyObject, s->h, pub);
        if (r1 == CKR_OK && r2 == CKR_OK) {
            c->generated = false; /* nothing left behind */
        } else {
            char hex[2 * SG_HSM_ID_LEN + 1];
            id_hex(c->id, hex);
            sg_log(SG_LOG_ERROR, "p11_generate_cleanup_failed", "id=%s rv=0x%lx", hex,
                   r1 != CKR_OK ? r1 : r2);
            keep_rv(rv, r1 != CKR_OK ? r1 : r2);
        }
    }
    return err;
}

signet_err sg_p11_generate(struct sg_p11 *p, enum sg_alg alg,
                           const uint8_t id[static SG_HSM_ID_LEN], const char *label,
                           char **jwk_json, char kid[static SG_THUMBPRINT_LEN + 1])
{
    if (p == NULL || !alg_valid(alg) || label == NULL || jwk_json == NULL)
        return SIGNET_ERR_INVALID_ARG;
    *jwk_json = NULL;
    struct sg_p11_id_ctx c = {.id = id, .alg = alg, .label = label, .jwk_json = jwk_json,
                              .kid = kid};
    signet_err err = run_op(p, "generate", op_generate, &c);
    char hex[2 * SG_HSM_ID_LEN + 1];
    id_hex(id, hex);
    if (err == SIGNET_OK)
        sg_log(SG_LOG_INFO, "p11_generated", "alg=%s id=%s kid=%s", sg_alg_name(alg), hex, kid);
    else if (c.generated)
        sg_log(SG_LOG_ERROR, "p11_orphan_possible", "id=%s", hex);
    return err;
}

static signet_err op_public_jwk(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    struct sg_p11_id_ctx *c = vctx;
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
    signet_err err = find_key(p, s, CKO_PUBLIC_KEY, c->id, alg_key_type(c->alg), &pub, rv);
    if (err != SIGNET_OK)
        return err;
    return read_public(p, s, c->alg, pub, c->jwk_json, c->kid, rv);
}

signet_err sg_p11_public_jwk(struct sg_p11 *p, enum sg_alg alg,
                             const uint8_t id[static SG_HSM_ID_LEN], char **jwk_json,
                             char kid[static SG_THUMBPRINT_LEN + 1])
{
    if (p == NULL || !alg_valid(alg) || jwk_json == NULL)
        return SIGNET_ERR_INVALID_ARG;
    *jwk_json = NULL;
    struct sg_p11_id_ctx c = {.id = id, .alg = alg, .jwk_json = jwk_json, .kid = kid};
    return run_op(p, "public_jwk", op_public_jwk, &c);
}

static signet_err op_set_label(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    struct sg_p11_id_ctx *c = vctx;
    signet_err err = ensure_login(p, s, rv);
    if (err != SIGNET_OK)
        return err;
    CK_ATTRIBUTE tmpl[] = {{CKA_ID, (void *)c->id, SG_HSM_ID_LEN}};
    CK_OBJECT_HANDLE *objs = NULL;
    size_t n = 0;
    if ((err = find_all(p, s, tmpl, 1, &objs, &n, rv)) != SIGNET_OK)
        return err;
    CK_ATTRIBUTE lab = {CKA_LABEL, (void *)c->label, strlen(c->label)};
    for (size_t i = 0; i < n && err == SIGNET_OK; i++) {
        CK_RV r = SG_P11(p, C_SetAttributeValue, s->h, objs[i], &lab, 1);
        if (r != CKR_OK) {
            keep_rv(rv, r);
            err = map_rv(r);
        }
    }
    free(objs);
    if (err == SIGNET_OK && n == 0)
        err = SIGNET_ERR_NOT_FOUND;
    return err;
}

signet_err sg_p11_set_label(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                            const char *label)
{
    if (p == NULL || label == NULL)
        return SIGNET_ERR_INVALID_ARG;
    struct sg_p11_id_ctx c = {.id = id, .label = label};
    return run_op(p, "set_label", op_set_label, &c);
}

/* ES256 means P-256 (RFC 7518 §3.4): another CKK_EC curve with 32-byte
 * coordinates (secp256k1) would yield a signature of the right length. */
static signet_err check_p256(struct sg_p11 *p, struct sg_p11_sess *s, CK_OBJECT_HANDLE key,
                             CK_RV *rv)
{
    uint8_t params[64] = {0};
    CK_ATTRIBUTE a = {CKA_EC_PARAMS, params, sizeof params};
    CK_RV r = SG_P11(p, C_GetAttributeValue, s->h, key, &a, 1);
    if (r != CKR_OK) {
        keep_rv(rv, r);
        return map_rv(r);
    }
    if (a.ulValueLen > sizeof params || !bytes_eq(params, a.ulValueLen, oid_p256, sizeof oid_p256))
        return SIGNET_ERR_ALG_KEY_MISMATCH;
    return SIGNET_OK;
}

static signet_err op_sign(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    struct sg_p11_id_ctx *c = vctx;
    CK_KEY_TYPE type = alg_key_type(c->alg);
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    bool cached = cache_get(p, s, c->id, type, &key);
    signet_err err;
    if (!cached) {
        if ((err = find_key(p, s, CKO_PRIVATE_KEY, c->id, type, &key, rv)) != SIGNET_OK)
            return err;
        if (c->alg == SG_ALG_ES256 && (err = check_p256(p, s, key, rv)) != SIGNET_OK)
            return err;
    }

    /* RFC 7518 §3.6: PS256 = RSASSA-PSS, SHA-256, MGF1 SHA-256, 32-byte salt. */
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    uint8_t digest[SHA256_DIGEST_LENGTH];
    static uint8_t empty[1];
    const uint8_t *in = c->msg != NULL ? c->msg : empty;
    size_t in_len = c->msg_len;
    size_t want_min = 64;
    size_t want_max = 64;
    switch (c->alg) {
    case SG_ALG_ES256:
        /* CKM_ECDSA signs a hash; its r||s output is already the JOSE form
         * (RFC 7518 §3.4). */
        sg_sha256(in, in_len, digest);
        in = digest;
        in_len = sizeof digest;
        break;
    case SG_ALG_EDDSA:
        mech.mechanism = CKM_EDDSA; /* pure Ed25519 over the message, RFC 8037 */
        break;
    case SG_ALG_PS256:
        mech = (CK_MECHANISM){CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss};
        want_min = 256;
        want_max = SG_P11_SIG_MAX;
        break;
    default: /* not SG_P11_ALGS: refused by alg_valid() before */
        return SIGNET_ERR_INVALID_ARG;
    }
    CK_RV r = SG_P11(p, C_SignInit, s->h, &mech, key);
    if ((r == CKR_KEY_HANDLE_INVALID || r == CKR_OBJECT_HANDLE_INVALID) && cached) {
        /* The cached handle went stale (destroyed elsewhere): look again. */
        cache_drop(s, c->id);
        if ((err = find_key(p, s, CKO_PRIVATE_KEY, c->id, type, &key, rv)) != SIGNET_OK)
            return err;
        cached = false;
        r = SG_P11(p, C_SignInit, s->h, &mech, key);
    }
    if (r != CKR_OK) {
        keep_rv(rv, r);
        return map_rv(r);
    }
    CK_ULONG sig_len = SG_P11_SIG_MAX;
    r = SG_P11(p, C_Sign, s->h, (CK_BYTE_PTR)in, in_len, c->sig, &sig_len);
    sg_wipe(digest, sizeof digest);
    if (r != CKR_OK) {
        keep_rv(rv, r);
        return map_rv(r);
    }
    if (sig_len < want_min || sig_len > want_max) {
        sg_log(SG_LOG_ERROR, "p11_bad_signature_length", "alg=%s len=%lu", sg_alg_name(c->alg),
               sig_len);
        return SIGNET_ERR_HSM;
    }
    if (!cached)
        cache_put(p, s, c->id, type, key);
    *c->sig_len = sig_len;
    return SIGNET_OK;
}

signet_err sg_p11_sign(struct sg_p11 *p, enum sg_alg alg,
                       const uint8_t id[static SG_HSM_ID_LEN], const uint8_t *msg,
                       size_t msg_len, uint8_t sig[static SG_P11_SIG_MAX], size_t *sig_len)
{
    if (p == NULL || !alg_valid(alg) || (msg == NULL && msg_len > 0) || sig_len == NULL)
        return SIGNET_ERR_INVALID_ARG;
    *sig_len = 0;
    struct sg_p11_id_ctx c = {.id = id, .alg = alg, .msg = msg, .msg_len = msg_len, .sig = sig,
                              .sig_len = sig_len};
    signet_err err = run_op(p, "sign", op_sign, &c);
    if (err == SIGNET_OK)
        __atomic_add_fetch(&p->n_signatures, 1, __ATOMIC_RELAXED);
    return err;
}

static signet_err op_destroy(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    struct sg_p11_id_ctx *c = vctx;
    return destroy_id(p, s, c->id, &c->destroyed, rv);
}

signet_err sg_p11_destroy(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                          unsigned *destroyed)
{
    if (p == NULL)
        return SIGNET_ERR_INVALID_ARG;
    struct sg_p11_id_ctx c = {.id = id};
    signet_err err = run_op(p, "destroy", op_destroy, &c);
    char hex[2 * SG_HSM_ID_LEN + 1];
    id_hex(id, hex);
    sg_log(err == SIGNET_OK ? SG_LOG_INFO : SG_LOG_ERROR, "p11_destroy", "id=%s objects=%u err=%d",
           hex, c.destroyed, (int)err);
    if (destroyed != NULL)
        *destroyed = c.destroyed;
    return err;
}

static signet_err op_exists(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    struct sg_p11_id_ctx *c = vctx;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    signet_err err = find_key(p, s, CKO_PRIVATE_KEY, c->id, CKK_VENDOR_DEFINED, &key, rv);
    c->exists = err == SIGNET_OK;
    return err == SIGNET_ERR_NOT_FOUND ? SIGNET_OK : err;
}

signet_err sg_p11_exists(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN], bool *exists)
{
    if (p == NULL || exists == NULL)
        return SIGNET_ERR_INVALID_ARG;
    struct sg_p11_id_ctx c = {.id = id};
    signet_err err = run_op(p, "exists", op_exists, &c);
    *exists = err == SIGNET_OK && c.exists;
    return err;
}

struct sg_p11_list_ctx {
    struct sg_p11_keyinfo *keys;
    size_t n;
    CK_OBJECT_CLASS cls; /* CKO_PRIVATE_KEY or CKO_SECRET_KEY */
};

/* Reads one variable-length attribute, truncated to cap bytes (CKA_ID and
 * CKA_LABEL of keys made by others can be of any length). */
static CK_RV get_var_attr(struct sg_p11 *p, struct sg_p11_sess *s, CK_OBJECT_HANDLE obj,
                          CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap, size_t *len)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    CK_RV r = SG_P11(p, C_GetAttributeValue, s->h, obj, &a, 1);
    *len = 0;
    if (r == CKR_ATTRIBUTE_TYPE_INVALID) /* no such attribute: empty */
        return CKR_OK;
    if (r != CKR_OK)
        return r;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen == 0)
        return CKR_OK;
    if (a.ulValueLen <= cap) {
        a.pValue = buf;
        r = SG_P11(p, C_GetAttributeValue, s->h, obj, &a, 1);
        if (r == CKR_OK)
            *len = a.ulValueLen;
        return r;
    }
    uint8_t *tmp = malloc(a.ulValueLen);
    if (tmp == NULL)
        return CKR_HOST_MEMORY;
    a.pValue = tmp;
    r = SG_P11(p, C_GetAttributeValue, s->h, obj, &a, 1);
    if (r == CKR_OK) {
        memcpy(buf, tmp, cap);
        *len = cap;
    }
    free(tmp);
    return r;
}

static signet_err op_list(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    struct sg_p11_list_ctx *c = vctx;
    signet_err err = ensure_login(p, s, rv);
    if (err != SIGNET_OK)
        return err;
    CK_OBJECT_CLASS cls = c->cls;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}};
    CK_OBJECT_HANDLE *objs = NULL;
    size_t n = 0;
    if ((err = find_all(p, s, tmpl, 1, &objs, &n, rv)) != SIGNET_OK)
        return err;
    struct sg_p11_keyinfo *keys = calloc(n > 0 ? n : 1, sizeof *keys);
    if (keys == NULL) {
        free(objs);
        return SIGNET_ERR_NOMEM;
    }
    for (size_t i = 0; i < n && err == SIGNET_OK; i++) {
        struct sg_p11_keyinfo *k = &keys[i];
        CK_KEY_TYPE kt = CKK_VENDOR_DEFINED;
        CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, asens = CK_FALSE, nextr = CK_FALSE;
        CK_ATTRIBUTE attrs[] = {
            {CKA_KEY_TYPE, &kt, sizeof kt},
            {CKA_SENSITIVE, &sens, sizeof sens},
            {CKA_EXTRACTABLE, &extr, sizeof extr},
            {CKA_ALWAYS_SENSITIVE, &asens, sizeof asens},
            {CKA_NEVER_EXTRACTABLE, &nextr, sizeof nextr},
        };
        CK_RV r = SG_P11(p, C_GetAttributeValue, s->h, objs[i], attrs,
                         sizeof attrs / sizeof attrs[0]);
        /* A foreign key may lack one of these; the module still fills the
         * others (PKCS#11 2.40 §5.7) and the missing ones, left with
         * CK_UNAVAILABLE_INFORMATION, count as unsafe below. */
        if (r == CKR_ATTRIBUTE_TYPE_INVALID || r == CKR_ATTRIBUTE_SENSITIVE)
            r = CKR_OK;
        size_t label_len = 0;
        if (r == CKR_OK)
            r = get_var_attr(p, s, objs[i], CKA_ID, k->id, sizeof k->id, &k->id_len);
        if (r == CKR_OK)
            r = get_var_attr(p, s, objs[i], CKA_LABEL, (uint8_t *)k->label, sizeof k->label - 1,
                             &label_len);
        if (r != CKR_OK) {
            keep_rv(rv, r);
            err = map_rv(r);
            break;
        }
        k->label[label_len] = '\0';
        k->key_type = attrs[0].ulValueLen == sizeof kt ? kt : CKK_VENDOR_DEFINED;
        /* Anything but a definite answer counts as the unsafe value. */
        k->sensitive = attrs[1].ulValueLen == sizeof sens && sens == CK_TRUE;
        k->extractable = attrs[2].ulValueLen != sizeof extr || extr != CK_FALSE;
        k->always_sensitive = attrs[3].ulValueLen == sizeof asens && asens == CK_TRUE;
        k->never_extractable = attrs[4].ulValueLen == sizeof nextr && nextr == CK_TRUE;
    }
    free(objs);
    if (err != SIGNET_OK) {
        free(keys);
        return err;
    }
    free(c->keys); /* from a failed first attempt */
    c->keys = keys;
    c->n = n;
    return SIGNET_OK;
}

static signet_err list_class(struct sg_p11 *p, CK_OBJECT_CLASS cls, struct sg_p11_keyinfo **out,
                             size_t *n)
{
    if (p == NULL || out == NULL || n == NULL)
        return SIGNET_ERR_INVALID_ARG;
    *out = NULL;
    *n = 0;
    struct sg_p11_list_ctx c = {NULL, 0, cls};
    signet_err err = run_op(p, cls == CKO_SECRET_KEY ? "list_secret" : "list_private", op_list,
                            &c);
    if (err != SIGNET_OK) {
        free(c.keys);
        return err;
    }
    *out = c.keys;
    *n = c.n;
    return SIGNET_OK;
}

signet_err sg_p11_list_private(struct sg_p11 *p, struct sg_p11_keyinfo **out, size_t *n)
{
    return list_class(p, CKO_PRIVATE_KEY, out, n);
}

signet_err sg_p11_list_secret(struct sg_p11 *p, struct sg_p11_keyinfo **out, size_t *n)
{
    return list_class(p, CKO_SECRET_KEY, out, n);
}

/* -- the seal key (issue 14) -------------------------------------------- */

struct sg_p11_seal_ctx {
    const uint8_t *id;
    const char *label;
    bool create;
    bool created;
    /* seal / open */
    const uint8_t *iv;
    const uint8_t *aad;
    size_t aad_len;
    const uint8_t *in;
    size_t in_len;
    uint8_t *out;
    size_t out_cap;
    size_t *out_len;
    /* random */
    uint8_t *rnd;
    size_t rnd_len;
};

/* An AES key that only encrypts and decrypts, inside the token, never
 * readable: CKA_SENSITIVE and not CKA_EXTRACTABLE, so neither CKA_VALUE
 * nor a wrap of it ever leaves (PKCS#11 3.0 §4.10); no CKA_WRAP, CKA_UNWRAP,
 * CKA_SIGN, CKA_VERIFY or CKA_DERIVE, so it cannot be turned into a key
 * that could carry another out either. */
static signet_err op_seal_key(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    struct sg_p11_seal_ctx *c = vctx;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    signet_err err = find_key(p, s, CKO_SECRET_KEY, c->id, CKK_AES, &key, rv);
    if (err != SIGNET_ERR_NOT_FOUND || !c->create || c->created)
        return err;
    CK_BBOOL yes = CK_TRUE;
    CK_BBOOL no = CK_FALSE;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},     {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_VALUE_LEN, &len, sizeof len}, {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},   {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &no, sizeof no}, {CKA_ENCRYPT, &yes, sizeof yes},
        {CKA_DECRYPT, &yes, sizeof yes},   {CKA_WRAP, &no, sizeof no},
        {CKA_UNWRAP, &no, sizeof no},      {CKA_SIGN, &no, sizeof no},
        {CKA_VERIFY, &no, sizeof no},      {CKA_DERIVE, &no, sizeof no},
        {CKA_ID, (void *)c->id, SG_HSM_ID_LEN},
        {CKA_LABEL, (void *)c->label, strlen(c->label)},
    };
    c->created = true;
    CK_RV r = SG_P11(p, C_GenerateKey, s->h, &mech, tmpl, sizeof tmpl / sizeof tmpl[0], &key);
    if (r != CKR_OK) {
        keep_rv(rv, r);
        c->created = false;
        sg_log(SG_LOG_ERROR, "p11_seal_key_generate_failed", "rv=0x%lx", r);
        return map_rv(r);
    }
    return SIGNET_OK;
}

signet_err sg_p11_seal_key(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                           const char *label, bool create, bool *created)
{
    if (p == NULL || label == NULL)
        return SIGNET_ERR_INVALID_ARG;
    struct sg_p11_seal_ctx c = {.id = id, .label = label, .create = create};
    signet_err err = run_op(p, "seal_key", op_seal_key, &c);
    if (created != NULL)
        *created = err == SIGNET_OK && c.created;
    return err;
}

static signet_err op_random(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    struct sg_p11_seal_ctx *c = vctx;
    CK_RV r = SG_P11(p, C_GenerateRandom, s->h, c->rnd, c->rnd_len);
    keep_rv(rv, r);
    return map_rv(r);
}

signet_err sg_p11_random(struct sg_p11 *p, uint8_t *out, size_t n)
{
    if (p == NULL || out == NULL || n == 0 || n > 1024)
        return SIGNET_ERR_INVALID_ARG;
    struct sg_p11_seal_ctx c = {.rnd = out, .rnd_len = n};
    signet_err err = run_op(p, "random", op_random, &c);
    if (err != SIGNET_OK)
        sg_wipe(out, n);
    return err;
}

/* C_EncryptInit/C_Encrypt (seal) or C_DecryptInit/C_Decrypt (open) with
 * CKM_AES_GCM: the given 96-bit IV, the AAD, a 128-bit tag after the
 * ciphertext (PKCS#11 3.0 §2.12.3). A single-part call always ends the
 * operation, so a refused tag leaves the session clean: it is not an HSM
 * error, and the session is kept. */
static signet_err op_gcm(struct sg_p11 *p, struct sg_p11_sess *s, struct sg_p11_seal_ctx *c,
                         bool seal, CK_RV *rv)
{
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    signet_err err = find_key(p, s, CKO_SECRET_KEY, c->id, CKK_AES, &key, rv);
    if (err != SIGNET_OK)
        return err;
    CK_GCM_PARAMS gcm = {(CK_BYTE_PTR)c->iv, SG_P11_GCM_IV_LEN, 8u * SG_P11_GCM_IV_LEN,
                         (CK_BYTE_PTR)c->aad, c->aad_len, 8u * SG_P11_GCM_TAG_LEN};
    CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
    CK_RV r = seal ? SG_P11(p, C_EncryptInit, s->h, &mech, key)
                   : SG_P11(p, C_DecryptInit, s->h, &mech, key);
    if (r != CKR_OK) {
        keep_rv(rv, r);
        return map_rv(r);
    }
    CK_ULONG n = c->out_cap;
    r = seal ? SG_P11(p, C_Encrypt, s->h, (CK_BYTE_PTR)c->in, c->in_len, c->out, &n)
             : SG_P11(p, C_Decrypt, s->h, (CK_BYTE_PTR)c->in, c->in_len, c->out, &n);
    /* A tag that does not verify: CKR_ENCRYPTED_DATA_INVALID (PKCS#11 3.0
     * §5.2), or CKR_GENERAL_ERROR from SoftHSM 2.6, whose GCM decryptFinal
     * failure says nothing more. Either ends the operation; the answer is
     * a refusal whichever it was. */
    if (!seal && (r == CKR_ENCRYPTED_DATA_INVALID || r == CKR_ENCRYPTED_DATA_LEN_RANGE ||
                  r == CKR_GENERAL_ERROR)) {
        sg_wipe(c->out, c->out_cap);
        return SIGNET_ERR_CRYPTO;
    }
    if (r != CKR_OK) {
        sg_wipe(c->out, c->out_cap);
        keep_rv(rv, r);
        return map_rv(r);
    }
    if (n > c->out_cap) { /* a broken module */
        sg_wipe(c->out, c->out_cap);
        return SIGNET_ERR_HSM;
    }
    *c->out_len = n;
    return SIGNET_OK;
}

static signet_err op_seal(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    return op_gcm(p, s, vctx, true, rv);
}

static signet_err op_open(struct sg_p11 *p, struct sg_p11_sess *s, void *vctx, CK_RV *rv)
{
    return op_gcm(p, s, vctx, false, rv);
}

signet_err sg_p11_seal(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                       const uint8_t iv[static SG_P11_GCM_IV_LEN], const uint8_t *aad,
                       size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *out,
                       size_t out_cap, size_t *out_len)
{
    if (p == NULL || aad == NULL || pt == NULL || pt_len == 0 || out == NULL ||
        out_len == NULL || pt_len > SIZE_MAX - SG_P11_GCM_TAG_LEN ||
        out_cap < pt_len + SG_P11_GCM_TAG_LEN)
        return SIGNET_ERR_INVALID_ARG;
    *out_len = 0;
    struct sg_p11_seal_ctx c = {.id = id, .iv = iv, .aad = aad, .aad_len = aad_len, .in = pt,
                                .in_len = pt_len, .out = out, .out_cap = out_cap,
                                .out_len = out_len};
    return run_op(p, "seal", op_seal, &c);
}

signet_err sg_p11_open_sealed(struct sg_p11 *p, const uint8_t id[static SG_HSM_ID_LEN],
                              const uint8_t iv[static SG_P11_GCM_IV_LEN], const uint8_t *aad,
                              size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *out,
                              size_t out_cap, size_t *out_len)
{
    if (p == NULL || aad == NULL || ct == NULL || out == NULL || out_len == NULL ||
        ct_len <= SG_P11_GCM_TAG_LEN || out_cap < ct_len - SG_P11_GCM_TAG_LEN)
        return SIGNET_ERR_INVALID_ARG;
    *out_len = 0;
    struct sg_p11_seal_ctx c = {.id = id, .iv = iv, .aad = aad, .aad_len = aad_len, .in = ct,
                                .in_len = ct_len, .out = out, .out_cap = out_cap,
                                .out_len = out_len};
    return run_op(p, "open_sealed", op_open, &c);
}

void sg_p11_get_stats(const struct sg_p11 *p, struct sg_p11_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (p == NULL)
        return;
    out->signatures = __atomic_load_n(&p->n_signatures, __ATOMIC_RELAXED);
    out->errors = __atomic_load_n(&p->n_errors, __ATOMIC_RELAXED);
    out->session_reopens = __atomic_load_n(&p->n_reopens, __ATOMIC_RELAXED);
}

#if SIGNET_TESTING
void sg_p11_test_lose_slot(struct sg_p11 *p)
{
    if (p == NULL)
        return;
    /* Point at another token's slot (SoftHSM always offers an empty one):
     * a slot id that no module knows makes SoftHSM throw a C++ exception
     * internally, which ASan builds of C programs cannot intercept. */
    CK_SLOT_ID other = (CK_SLOT_ID)0x7ffffff0UL;
    CK_RV rv = CKR_OK;
    if (find_slot(p, NULL, NULL, &other, NULL, &rv) != SIGNET_OK)
        sg_log(SG_LOG_WARN, "p11_test_lose_slot", "no empty slot rv=0x%lx", rv);
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->nsess; i++)
        if (!p->sess[i].busy)
            sess_close(p, &p->sess[i]);
    p->slot = other;
    pthread_mutex_unlock(&p->mu);
}
#endif
