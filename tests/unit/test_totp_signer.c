/* TOTP end to end (issue 14): the front end's calls (src/signetd/totp.c,
 * compiled in; sd_pool_call is this file's, forwarding to a real signer
 * process on a front-end channel), a real SoftHSM2 token, codes computed
 * by oathtool (OATH Toolkit, the issue's reference), the audit log checked
 * by `signet audit verify`, the seal key's attributes read through the raw
 * module, and invariant I3 with the seal key in the token. */
#include <dlfcn.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "testutil.h"

#include "common/config.h"
#include "common/ipc.h"
#include "common/signer_client.h"
#include "signer/audit.h"
#include "signetd/ctx.h"
#include "signetd/pool.h"
#include "signetd/totp.h"
#include "telemetry/invariants.h"

#define T0 1800000000LL /* a multiple of 30: step 60000000 */
#define ISS_A "https://a.example/t/a"
#define ISS_B "https://b.example/t/b"
#define USER "uAAAAAAAAAAAAAAAAAAAAAA"
#define USER2 "uBBBBBBBBBBBBBBBBBBBBBB"
#define CRED "c1-AAAA"

/* The channel sd_pool_call uses: the front end's role, as the launcher
 * gives it. */
static struct sg_signer_client *g_front;

signet_err sd_pool_call(struct sd_pool *p, uint8_t type, const char *arg, signet_err *status,
                        char **json)
{
    (void)p;
    *json = NULL;
    *status = SIGNET_ERR_SIGNER_GONE;
    return sg_signer_call_str(g_front, type, arg, status, json);
}

struct fx {
    struct sg_test_state st;
    struct sg_config cfg;
    struct sd_ctx *ctx;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(sg_test_state_setup(&f->st, "[testing]\nclock_file = clock\n"), 0);
    sg_test_state_set_clock(&f->st, T0);
    char err[256];
    assert_int_equal(sg_config_load(f->st.dir, &f->cfg, err, sizeof err), SIGNET_OK);
    assert_int_equal(sg_signer_spawn_ex(f->st.dir, SG_SPAWN_ROLE_FRONT, &g_front), SIGNET_OK);
    /* The signer is up (its seal key made) once it answers. */
    signet_err status = SIGNET_ERR_INTERNAL;
    char *text = NULL;
    assert_int_equal(sg_signer_call(g_front, SG_IPC_STATUS, NULL, 0, &status, &text, NULL),
                     SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    free(text);
    f->ctx = calloc(1, sizeof *f->ctx);
    assert_non_null(f->ctx);
    *state = f;
    return 0;
}

struct raw_token;
static void raw_close(struct raw_token *r);
static struct raw_token *g_raw; /* open: closed by the teardown after a failure */

static int teardown(void **state)
{
    struct fx *f = *state;
    if (g_raw != NULL)
        raw_close(g_raw);
    sg_signer_client_free(&g_front);
    sg_test_state_teardown(&f->st);
    free(f->ctx);
    free(f);
    return 0;
}

static const struct sg_tenant_cfg *tenant(struct fx *f, const char *issuer)
{
    const struct sg_tenant_cfg *t = sg_config_tenant_by_issuer(&f->cfg, issuer);
    assert_non_null(t);
    return t;
}

/* The code oathtool computes for secret at time t (an independent
 * implementation of RFC 6238: HMAC-SHA-1, 6 digits, 30 s, T0 = 0). */
static void oath_code(const char *secret, long long t, char code[7])
{
    for (const char *p = secret; *p != '\0'; p++)
        assert_true((*p >= 'A' && *p <= 'Z') || (*p >= '2' && *p <= '7'));
    char cmd[256];
    (void)snprintf(cmd, sizeof cmd, "oathtool --totp -b -N @%lld %s", t, secret);
    FILE *pipe = popen(cmd, "r");
    assert_non_null(pipe);
    char line[64] = "";
    char *got = fgets(line, sizeof line, pipe);
    int rc = pclose(pipe);
    if (got == NULL || rc != 0)
        fail_msg("oathtool failed (exit %d): is it installed? scripts/deps.sh lists it", rc);
    line[strcspn(line, "\n")] = '\0';
    assert_int_equal(strlen(line), 6);
    memcpy(code, line, 7);
}

static char *audit_text(struct fx *f)
{
    char path[400];
    (void)snprintf(path, sizeof path, "%s/signer/audit.log", f->st.dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* `signet audit verify --state DIR` exits 0. */
static void signet_audit_verify(struct fx *f)
{
    const char *build = getenv("SIGNET_BUILD_DIR");
    assert_non_null(build);
    char bin[400];
    (void)snprintf(bin, sizeof bin, "%s/src/signet", build);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(bin, bin, "audit", "verify", "--state", f->st.dir, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* A raw call: the status, and the answer's JSON (or NULL). */
static signet_err raw(uint8_t type, const char *arg, json_t **doc)
{
    signet_err status = SIGNET_ERR_INTERNAL;
    char *json = NULL;
    signet_err err = sg_signer_call_str(g_front, type, arg, &status, &json);
    if (doc != NULL)
        *doc = json != NULL ? json_loads(json, 0, NULL) : NULL;
    free(json);
    return err != SIGNET_OK ? err : status;
}

/* Enrol -> verify (oathtool's code) -> the same code refused as replayed
 * -> step - 2 refused -> the blob under another user, credential or tenant
 * refused -> a changed blob refused; every record in the log, no seed. */
static void test_enrol_and_verify(void **state)
{
    struct fx *f = *state;
    const struct sg_tenant_cfg *ta = tenant(f, ISS_A), *tb = tenant(f, ISS_B);
    char sealed[SD_TOTP_SEALED_CAP], secret[SD_TOTP_SECRET_CAP];
    assert_int_equal(sd_totp_enrol(f->ctx, ta, USER, CRED, sealed, sizeof sealed, secret,
                                   sizeof secret),
                     SIGNET_OK);
    assert_int_equal(strlen(sealed), 64);
    assert_int_equal(strlen(secret), 32);
    assert_true(sg_ipc_totp_sealed_ok(sealed));

    int64_t step = -1;
    char code[7];
    const long long now = T0 + 7;
    sg_test_state_set_clock(&f->st, now);
    oath_code(secret, now, code);
    assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, code, &step), SIGNET_OK);
    assert_int_equal(step, now / 30);
    /* Used once only: the same code, and any code of that step. */
    assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, code, &step),
                     SIGNET_ERR_EXISTS);
    assert_int_equal(step, -1);
    /* Two steps back: outside the window, wrong (not replayed). */
    char old[7];
    oath_code(secret, now - 60, old);
    if (strcmp(old, code) != 0)
        assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, old, &step),
                         SIGNET_ERR_PERMISSION);
    /* The step before: in the window, but before the last accepted one. */
    oath_code(secret, now - 30, old);
    if (strcmp(old, code) != 0)
        assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, old, &step),
                         SIGNET_ERR_EXISTS);
    /* The next step (a clock 30 s ahead of ours) is accepted once. */
    char next[7];
    oath_code(secret, now + 30, next);
    if (strcmp(next, code) != 0) {
        assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, next, &step), SIGNET_OK);
        assert_int_equal(step, now / 30 + 1);
        assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, next, &step),
                         SIGNET_ERR_EXISTS);
    }
    /* Later, a fresh code of the signer's own clock (a front end cannot
     * choose the time). */
    const long long later = now + 300;
    sg_test_state_set_clock(&f->st, later);
    oath_code(secret, later, code);
    /* Another user's, credential's or tenant's use of the blob: it does not
     * open (the AAD), so the code is wrong. */
    assert_int_equal(sd_totp_verify(f->ctx, ta, USER2, CRED, sealed, code, &step),
                     SIGNET_ERR_PERMISSION);
    assert_int_equal(sd_totp_verify(f->ctx, ta, USER, "c2", sealed, code, &step),
                     SIGNET_ERR_PERMISSION);
    assert_int_equal(sd_totp_verify(f->ctx, tb, USER, CRED, sealed, code, &step),
                     SIGNET_ERR_PERMISSION);
    /* A changed blob: one byte of the IV, of the ciphertext, of the tag. */
    static const size_t at[] = {3, 20, 50, 62};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        char bad[SD_TOTP_SEALED_CAP];
        memcpy(bad, sealed, sizeof bad);
        bad[at[i]] = bad[at[i]] == 'A' ? 'B' : 'A';
        assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, bad, code, &step),
                         SIGNET_ERR_PERMISSION);
    }
    /* A wrong code, and what is not six digits (refused without a call). */
    char wrong[7];
    memcpy(wrong, code, 7);
    wrong[5] = (char)(wrong[5] == '9' ? '0' : wrong[5] + 1);
    assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, wrong, &step),
                     SIGNET_ERR_PERMISSION);
    assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, "12345", &step),
                     SIGNET_ERR_PERMISSION);
    assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, "1234567", &step),
                     SIGNET_ERR_PERMISSION);
    /* Malformed arguments are refused before anything is sent. */
    assert_int_equal(sd_totp_verify(f->ctx, ta, "u1", CRED, sealed, code, &step),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, "short", code, &step),
                     SIGNET_ERR_INVALID_ARG);
    /* After all of that, the right code still works (nothing was used up). */
    assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, code, &step), SIGNET_OK);
    assert_int_equal(step, later / 30);

    /* What the signer counted, and what it audited. */
    json_t *st = NULL;
    signet_err status = SIGNET_ERR_INTERNAL;
    char *text = NULL;
    assert_int_equal(sg_signer_call(g_front, SG_IPC_STATUS, NULL, 0, &status, &text, NULL),
                     SIGNET_OK);
    st = json_loads(text, 0, NULL);
    free(text);
    json_t *totp = json_object_get(st, "totp");
    assert_true(json_is_true(json_object_get(totp, "seal_key")));
    assert_int_equal(json_integer_value(json_object_get(totp, "enrolled")), 1);
    assert_true(json_integer_value(json_object_get(totp, "verified")) >= 2);
    assert_true(json_integer_value(json_object_get(totp, "replayed")) >= 1);
    assert_true(json_integer_value(json_object_get(totp, "wrong")) >= 1);
    assert_int_equal(json_integer_value(json_object_get(totp, "unsealed")), 7);
    json_decref(st);

    const char *log = audit_text(f);
    assert_int_equal(count(log, "\"type\":\"totp_enrolled\""), 1);
    assert_true(count(log, "\"type\":\"totp_verified\"") >= 2);
    assert_non_null(strstr(log, "\"cred\":\"" CRED "\""));
    assert_non_null(strstr(log, "\"sub\":\"" USER "\""));
    /* Failures are counted, not audited; the seed and the blob never. */
    assert_null(strstr(log, "totp_refused"));
    assert_null(strstr(log, secret));
    assert_null(strstr(log, sealed));
    signet_audit_verify(f);
}

/* Removal: the replay state goes (audited), the blob still opens for the
 * signer but the front end has deleted it. */
static void test_remove(void **state)
{
    struct fx *f = *state;
    const struct sg_tenant_cfg *ta = tenant(f, ISS_A);
    char sealed[SD_TOTP_SEALED_CAP], secret[SD_TOTP_SECRET_CAP], code[7];
    assert_int_equal(sd_totp_enrol(f->ctx, ta, USER, CRED, sealed, sizeof sealed, secret,
                                   sizeof secret),
                     SIGNET_OK);
    oath_code(secret, T0, code);
    int64_t step = -1;
    assert_int_equal(sd_totp_verify(f->ctx, ta, USER, CRED, sealed, code, &step), SIGNET_OK);
    assert_int_equal(sd_totp_remove(f->ctx, ta, USER, CRED), SIGNET_OK);
    assert_int_equal(sd_totp_remove(f->ctx, ta, USER, CRED), SIGNET_OK);
    const char *log = audit_text(f);
    assert_non_null(strstr(log, "\"had_replay_state\":true"));
    assert_non_null(strstr(log, "\"had_replay_state\":false"));
    assert_int_equal(count(log, "\"type\":\"totp_removed\""), 2);
    /* Each enrolment is a new seed. */
    char sealed2[SD_TOTP_SEALED_CAP], secret2[SD_TOTP_SECRET_CAP];
    assert_int_equal(sd_totp_enrol(f->ctx, ta, USER, CRED, sealed2, sizeof sealed2, secret2,
                                   sizeof secret2),
                     SIGNET_OK);
    assert_string_not_equal(secret, secret2);
    assert_string_not_equal(sealed, sealed2);
    signet_audit_verify(f);
}

/* The signer judges the request itself: an unknown issuer is refused, a
 * malformed body drops the channel (and is audited as a refused frame). */
static void test_signer_refusals(void **state)
{
    struct fx *f = *state;
    assert_int_equal(raw(SG_IPC_TOTP_ENROL,
                         "{\"issuer\":\"https://c.example/t/c\",\"user_id\":\"" USER
                         "\",\"cred_id\":\"c1\"}",
                         NULL),
                     SIGNET_ERR_UNKNOWN_ISSUER_CONFIG);
    /* A seed is never in the answer to anything but an enrolment. */
    json_t *doc = NULL;
    assert_int_equal(raw(SG_IPC_TOTP_VERIFY,
                         "{\"issuer\":\"" ISS_A "\",\"user_id\":\"" USER "\",\"cred_id\":\"c1\","
                         "\"sealed\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_\","
                         "\"code\":\"000000\"}",
                         &doc),
                     SIGNET_OK);
    assert_true(json_is_false(json_object_get(doc, "ok")));
    assert_string_equal(json_string_value(json_object_get(doc, "reason")), "wrong");
    json_decref(doc);
    assert_int_equal(raw(SG_IPC_TOTP_VERIFY,
                         "{\"issuer\":\"" ISS_A "\",\"user_id\":\"" USER "\",\"cred_id\":\"c1\"}",
                         NULL),
                     SIGNET_ERR_SIGNER_GONE);
    const char *log = audit_text(f);
    assert_non_null(strstr(log, "\"type\":\"frame_refused\""));
}

/* -- the seal key in the token ----------------------------------------------- */

struct raw_token {
    void *dl;
    CK_FUNCTION_LIST *fl;
    CK_SESSION_HANDLE h;
};

static void raw_open(struct fx *f, struct raw_token *r)
{
    const char *module = sg_test_softhsm_module();
    assert_non_null(module);
    r->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(r->dl);
    CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(r->dl, "C_GetFunctionList");
    assert_non_null(gfl);
    assert_int_equal(gfl(&r->fl), CKR_OK);
    assert_int_equal(r->fl->C_Initialize(NULL), CKR_OK);
    r->h = CK_INVALID_HANDLE;
    g_raw = r;
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    assert_int_equal(r->fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    CK_SLOT_ID slot = 0;
    int found = 0;
    for (CK_ULONG i = 0; i < n && !found; i++) {
        CK_TOKEN_INFO ti;
        found = r->fl->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
                memcmp(ti.label, "signet ", 7) == 0;
        slot = slots[i];
    }
    assert_true(found);
    assert_int_equal(r->fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &r->h), CKR_OK);
    char path[400], pin[128] = "";
    (void)snprintf(path, sizeof path, "%s/signer/user.pin", f->st.dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(pin, sizeof pin, fp));
    fclose(fp);
    pin[strcspn(pin, "\n")] = '\0';
    assert_int_equal(r->fl->C_Login(r->h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
}

static void raw_close(struct raw_token *r)
{
    if (r->h != CK_INVALID_HANDLE) {
        (void)r->fl->C_Logout(r->h);
        (void)r->fl->C_CloseSession(r->h);
    }
    (void)r->fl->C_Finalize(NULL);
    dlclose(r->dl);
    g_raw = NULL;
}

/* The secret key objects with the seal key's CKA_ID. */
static size_t seal_keys(struct raw_token *r, CK_OBJECT_HANDLE *first)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                           {CKA_ID, (void *)SG_TOTP_SEAL_KEY_ID, 16}};
    CK_OBJECT_HANDLE objs[8];
    CK_ULONG n = 0;
    assert_int_equal(r->fl->C_FindObjectsInit(r->h, tmpl, 2), CKR_OK);
    assert_int_equal(r->fl->C_FindObjects(r->h, objs, 8, &n), CKR_OK);
    assert_int_equal(r->fl->C_FindObjectsFinal(r->h), CKR_OK);
    if (n > 0 && first != NULL)
        *first = objs[0];
    return n;
}

static void test_seal_key_attributes(void **state)
{
    struct fx *f = *state;
    struct raw_token r;
    raw_open(f, &r);
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    assert_int_equal(seal_keys(&r, &key), 1);
    CK_BBOOL tok = 0, priv = 0, sens = 0, extr = 1, asens = 0, nextr = 0, enc = 0, dec = 0,
             wrap = 1, unwrap = 1, sign = 1, verify = 1, derive = 1;
    CK_KEY_TYPE kt = 0;
    CK_ULONG len = 0;
    char label[64] = "";
    CK_ATTRIBUTE a[] = {
        {CKA_TOKEN, &tok, 1},          {CKA_PRIVATE, &priv, 1},
        {CKA_SENSITIVE, &sens, 1},     {CKA_EXTRACTABLE, &extr, 1},
        {CKA_ALWAYS_SENSITIVE, &asens, 1}, {CKA_NEVER_EXTRACTABLE, &nextr, 1},
        {CKA_ENCRYPT, &enc, 1},        {CKA_DECRYPT, &dec, 1},
        {CKA_WRAP, &wrap, 1},          {CKA_UNWRAP, &unwrap, 1},
        {CKA_SIGN, &sign, 1},          {CKA_VERIFY, &verify, 1},
        {CKA_DERIVE, &derive, 1},      {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_VALUE_LEN, &len, sizeof len}, {CKA_LABEL, label, sizeof label - 1},
    };
    assert_int_equal(r.fl->C_GetAttributeValue(r.h, key, a, sizeof a / sizeof a[0]), CKR_OK);
    assert_true(tok && priv && sens && asens && nextr && enc && dec);
    assert_false(extr || wrap || unwrap || sign || verify || derive);
    assert_int_equal(kt, CKK_AES);
    assert_int_equal(len, 32);
    label[a[15].ulValueLen] = '\0';
    assert_string_equal(label, SG_TOTP_SEAL_KEY_LABEL);
    /* Its value cannot be read, nor be made readable. */
    uint8_t value[64];
    CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof value};
    assert_int_equal(r.fl->C_GetAttributeValue(r.h, key, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE flip[] = {{CKA_EXTRACTABLE, &yes, 1}, {CKA_SENSITIVE, &no, 1}};
    for (size_t i = 0; i < 2; i++) {
        CK_SESSION_HANDLE rw = CK_INVALID_HANDLE;
        CK_SESSION_INFO info;
        assert_int_equal(r.fl->C_GetSessionInfo(r.h, &info), CKR_OK);
        assert_int_equal(r.fl->C_OpenSession(info.slotID, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                             NULL, NULL, &rw),
                         CKR_OK);
        assert_int_not_equal(r.fl->C_SetAttributeValue(rw, key, &flip[i], 1), CKR_OK);
        (void)r.fl->C_CloseSession(rw);
    }
    assert_int_equal(r.fl->C_GetAttributeValue(r.h, key, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
    raw_close(&r);
}

/* Signers starting together make one seal key (the lifecycle lock). */
static void test_seal_key_race(void **state)
{
    (void)state;
    struct fx g;
    memset(&g, 0, sizeof g);
    assert_int_equal(sg_test_state_setup(&g.st, NULL), 0);
    struct sg_signer_client *c[2] = {NULL};
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(sg_signer_spawn_ex(g.st.dir, SG_SPAWN_NO_ADVANCE, &c[i]), SIGNET_OK);
    for (size_t i = 0; i < 2; i++) {
        signet_err status = SIGNET_ERR_INTERNAL;
        char *text = NULL;
        assert_int_equal(sg_signer_call(c[i], SG_IPC_STATUS, NULL, 0, &status, &text, NULL),
                         SIGNET_OK);
        assert_int_equal(status, SIGNET_OK);
        json_t *st = json_loads(text, 0, NULL);
        free(text);
        assert_true(json_is_true(json_object_get(json_object_get(st, "totp"), "seal_key")));
        json_decref(st);
    }
    for (size_t i = 0; i < 2; i++)
        sg_signer_client_free(&c[i]);
    struct raw_token r;
    raw_open(&g, &r);
    assert_int_equal(seal_keys(&r, NULL), 1);
    raw_close(&r);
    sg_test_state_teardown(&g.st);
}

/* I3 with the seal key in the token: the INVENTORY shows it (a secret key,
 * sensitive, never extractable) and the invariant holds; the JWKS has no
 * such key; a rotation leaves it alone. */
static void test_inventory_and_invariant(void **state)
{
    struct fx *f = *state;
    struct sg_signer_client *admin = NULL;
    assert_int_equal(sg_signer_spawn_ex(f->st.dir, 0, &admin), SIGNET_OK);
    signet_err status = SIGNET_ERR_INTERNAL;
    char *rot = NULL;
    assert_int_equal(sg_signer_call_str(admin, SG_IPC_ROTATE, "", &status, &rot), SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    free(rot);
    char *before = NULL, *inv = NULL, *after = NULL;
    assert_int_equal(sg_signer_call(admin, SG_IPC_STATUS, NULL, 0, &status, &before, NULL),
                     SIGNET_OK);
    assert_int_equal(sg_signer_call(admin, SG_IPC_INVENTORY, NULL, 0, &status, &inv, NULL),
                     SIGNET_OK);
    assert_int_equal(status, SIGNET_OK);
    assert_int_equal(sg_signer_call(admin, SG_IPC_STATUS, NULL, 0, &status, &after, NULL),
                     SIGNET_OK);
    json_t *doc = json_loads(inv, 0, NULL);
    size_t i, seal = 0;
    json_t *o;
    json_array_foreach(doc, i, o) {
        if (strcmp(json_string_value(json_object_get(o, "label")), SG_TOTP_SEAL_KEY_LABEL) != 0)
            continue;
        seal++;
        assert_string_equal(json_string_value(json_object_get(o, "class")), "secret_key");
        assert_string_equal(json_string_value(json_object_get(o, "id")),
                            "7369676e65742d746f74702d7365616c");
        assert_true(json_is_true(json_object_get(o, "sensitive")));
        assert_true(json_is_false(json_object_get(o, "extractable")));
        assert_true(json_is_true(json_object_get(o, "never_extractable")));
    }
    assert_int_equal(seal, 1);
    json_decref(doc);

    struct sg_tm_key *kb = NULL, *ka = NULL;
    size_t nkb = 0, nka = 0, nobj = 0;
    struct sg_tm_signer sig;
    struct sg_tm_object *objs = NULL;
    assert_int_equal(sg_tm_parse_status(before, strlen(before), &sig, &kb, &nkb), SIGNET_OK);
    assert_int_equal(sg_tm_parse_status(after, strlen(after), &sig, &ka, &nka), SIGNET_OK);
    assert_int_equal(sg_tm_parse_inventory(inv, strlen(inv), &objs, &nobj), SIGNET_OK);
    struct sg_inv_input in = {.cfg = &f->cfg, .now = T0, .keys = ka, .n_keys = nka,
                              .have_keys = true, .keys_before = kb, .n_keys_before = nkb,
                              .objects = objs, .n_objects = nobj, .have_inventory = true};
    struct sg_inv_result res;
    memset(&res, 0, sizeof res);
    sg_inv_check_token_objects(&in, &res);
    if (res.state != SG_INV_OK)
        fail_msg("I3: %s", res.msg);
    /* A foreign secret key would not pass: the exemption is the seal key's
     * id and label together. */
    for (size_t k = 0; k < nobj; k++)
        if (strcmp(objs[k].label, SG_TOTP_SEAL_KEY_LABEL) == 0)
            (void)snprintf(objs[k].label, sizeof objs[k].label, "other");
    memset(&res, 0, sizeof res);
    sg_inv_check_token_objects(&in, &res);
    assert_int_equal(res.state, SG_INV_VIOLATED);
    free(kb);
    free(ka);
    free(objs);

    /* No JWKS publishes it. */
    for (size_t t = 0; t < f->cfg.n_tenants; t++) {
        char *jwks = NULL;
        assert_int_equal(sg_signer_call_str(admin, SG_IPC_JWKS, f->cfg.tenants[t].issuer,
                                            &status, &jwks),
                         SIGNET_OK);
        assert_null(strstr(jwks, "\"oct\""));
        assert_null(strstr(jwks, "7369676e65742d746f74702d7365616c"));
        free(jwks);
    }
    free(before);
    free(inv);
    free(after);
    sg_signer_client_free(&admin);
    struct raw_token r;
    raw_open(f, &r);
    assert_int_equal(seal_keys(&r, NULL), 1);
    raw_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enrol_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signer_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_key_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inventory_and_invariant, setup, teardown),
        cmocka_unit_test(test_seal_key_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
