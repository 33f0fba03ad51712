/* The HSM ceiling: raw ES256 signing throughput of a PKCS#11 module, the
 * way the signer signs (CKM_ECDSA over a SHA-256 digest of a JWS signing
 * input of a realistic size), with THREADS threads each on its own session.
 *
 *   p11_ceiling MODULE TOKEN_LABEL PIN_FILE THREADS SECONDS [REPS]
 *
 * The module is loaded through p11-kit; the token must exist (the caller
 * makes a fresh one with softhsm2-util). An ES256 key pair is generated in
 * the token once; then, REPS times, every thread signs for SECONDS and one
 * line "ops_per_s N" is printed per repetition. */
#include <p11-kit/p11-kit.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#define MAX_THREADS 16

static CK_FUNCTION_LIST *mod;
static CK_OBJECT_HANDLE priv;
static atomic_int running;

struct worker {
    pthread_t th;
    CK_SESSION_HANDLE s;
    unsigned long ops;
    int failed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    /* A signing input as large as signetd's (header + claims, base64url). */
    unsigned char input[620];
    for (size_t i = 0; i < sizeof input; i++)
        input[i] = (unsigned char)('A' + i % 26);
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    while (atomic_load_explicit(&running, memory_order_relaxed)) {
        unsigned char digest[SHA256_DIGEST_LENGTH], sig[128];
        input[w->ops % sizeof input] ^= 1;
        SHA256(input, sizeof input, digest);
        CK_ULONG sig_len = sizeof sig;
        if (mod->C_SignInit(w->s, &mech, priv) != CKR_OK ||
            mod->C_Sign(w->s, digest, sizeof digest, sig, &sig_len) != CKR_OK || sig_len != 64) {
            w->failed = 1;
            break;
        }
        w->ops++;
    }
    return NULL;
}

static int read_pin(const char *path, char *pin, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(pin, 1, cap - 1, f);
    fclose(f);
    while (n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r'))
        n--;
    pin[n] = '\0';
    return n > 0 ? 0 : -1;
}

static int find_slot(const char *label, CK_SLOT_ID *out)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    if (mod->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return -1;
    size_t want = strlen(label);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (mod->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        size_t len = sizeof ti.label;
        while (len > 0 && ti.label[len - 1] == ' ')
            len--;
        if (len == want && memcmp(ti.label, label, want) == 0) {
            *out = slots[i];
            return 0;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: p11_ceiling MODULE TOKEN_LABEL PIN_FILE THREADS SECONDS [REPS]\n");
        return 2;
    }
    long threads = strtol(argv[4], NULL, 10);
    double seconds = strtod(argv[5], NULL);
    long reps = argc > 6 ? strtol(argv[6], NULL, 10) : 1;
    if (threads < 1 || threads > MAX_THREADS || seconds <= 0 || reps < 1)
        return 2;
    char pin[256];
    if (read_pin(argv[3], pin, sizeof pin) != 0) {
        fprintf(stderr, "p11_ceiling: cannot read %s\n", argv[3]);
        return 1;
    }
    mod = p11_kit_module_load(argv[1], 0);
    if (mod == NULL || p11_kit_module_initialize(mod) != CKR_OK) {
        fprintf(stderr, "p11_ceiling: cannot load %s\n", argv[1]);
        return 1;
    }
    CK_SLOT_ID slot;
    if (find_slot(argv[2], &slot) != 0) {
        fprintf(stderr, "p11_ceiling: no token '%s'\n", argv[2]);
        return 1;
    }
    struct worker w[MAX_THREADS];
    memset(w, 0, sizeof w);
    for (long i = 0; i < threads; i++)
        if (mod->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &w[i].s) !=
            CKR_OK)
            return 1;
    if (mod->C_Login(w[0].s, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin)) != CKR_OK) {
        fprintf(stderr, "p11_ceiling: login failed\n");
        return 1;
    }
    /* P-256 (RFC 7518 §3.4), as the signer generates it: a token object,
     * sensitive, not extractable, sign only. */
    static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE pub_t[] = {{CKA_EC_PARAMS, p256, sizeof p256},
                            {CKA_VERIFY, &yes, sizeof yes},
                            {CKA_TOKEN, &no, sizeof no}};
    CK_ATTRIBUTE priv_t[] = {{CKA_TOKEN, &yes, sizeof yes},
                             {CKA_PRIVATE, &yes, sizeof yes},
                             {CKA_SENSITIVE, &yes, sizeof yes},
                             {CKA_EXTRACTABLE, &no, sizeof no},
                             {CKA_SIGN, &yes, sizeof yes}};
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE pub;
    if (mod->C_GenerateKeyPair(w[0].s, &gen, pub_t, 3, priv_t, 5, &pub, &priv) != CKR_OK) {
        fprintf(stderr, "p11_ceiling: key generation failed\n");
        return 1;
    }
    for (long r = 0; r < reps; r++) {
        atomic_store(&running, 1);
        double t0 = now_s();
        for (long i = 0; i < threads; i++) {
            w[i].ops = 0;
            if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
                return 1;
        }
        struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
        (void)nanosleep(&ts, NULL);
        atomic_store(&running, 0);
        unsigned long total = 0;
        for (long i = 0; i < threads; i++) {
            pthread_join(w[i].th, NULL);
            total += w[i].ops;
            if (w[i].failed) {
                fprintf(stderr, "p11_ceiling: C_Sign failed\n");
                return 1;
            }
        }
        printf("ops_per_s %.0f\n", (double)total / (now_s() - t0));
        fflush(stdout);
    }
    (void)mod->C_DestroyObject(w[0].s, priv);
    for (long i = 0; i < threads; i++)
        (void)mod->C_CloseSession(w[i].s);
    (void)p11_kit_module_finalize(mod);
    p11_kit_module_release(mod);
    return 0;
}
