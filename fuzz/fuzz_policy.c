/* libFuzzer target: the signer's own check of the claims it is asked to sign
 * (src/signer/policy.c).
 *
 * Input: an 11-byte header choosing the limits, then the claims.
 *   byte 0      issuer (low 2 bits); bits 2-3: the form (below);
 *               bits 4-5: which unsigned typ (form 3); bit 7: a huge max
 *               lifetime
 *   bytes 1-2   skew (u16 BE, mod 601: the config allows at most 600 s)
 *   bytes 3-6   max lifetime (u32 BE)
 *   bytes 7-10  now = 1700000000 + (int32 BE)
 * The form: 0 the base rules alone (typ and registry NULL, the unit tests'
 * mode), 1 typ "at+jwt" and 2 typ "JWT" with the registry below, as the
 * signer calls it (machine and person access tokens, ID tokens), 3 a typ
 * the signer never signs under (NULL, "jwt", "at+JWT", "JWT ") with the
 * registry.
 *
 * Properties checked on success (abort on violation), against an
 * independent parse of the claims with jansson:
 *   - an object without duplicate members, nesting depth <= 8;
 *   - iss is a string equal to the limits' issuer (same length, no NUL);
 *   - iat and exp are integers equal to what the policy reported,
 *     |iat - now| <= skew and 0 < exp - iat <= max lifetime;
 *   - nbf, when present, is an integer in [iat - skew, exp);
 *   - base rules: jti is a string of 1..128 characters in 0x21..0x7e, the
 *     reported one, and the kind is none;
 *   - with the registry: no jti; the kind follows typ and sub (a person's
 *     access token when sub is a user id other than client_id); only the
 *     form's members, the required ones present; the reported client is
 *     bound under exactly that name; an access token's sub (machine),
 *     audiences, scopes, cnf and the client's lifetime; an ID token's one
 *     audience equal to azp, lifetime <= 3600, nonce and at_hash; a
 *     person's auth_time, acr, amr and sid; the reported sub and sid; and
 *     sg_policy_add_jti gives the same object with the jti added, which the
 *     policy then refuses (POLICY_JTI: the front end never sends one).
 * On failure: a policy error (or the registry's own), and nothing reported. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "signer/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_LEN 11

enum form { FORM_BASE = 0, FORM_ACCESS = 1, FORM_ID = 2, FORM_BAD_TYP = 3 };

static const char *const issuers[] = {
    "https://issuer.example",
    "https://issuer.example/tenants/a",
    "https://\xc3\xa9x.example", /* U+00E9: escaped and raw forms must agree */
    "http://127.0.0.1:8080",
};

/* typs the signer refuses to sign under (form 3). */
static const char *const bad_typs[] = {NULL, "jwt", "at+JWT", "JWT "};

/* The signer's registry of clients bound to the tenant. */
static const struct sg_client_binding registry[] = {
    {.tenant = "a", .client_id = "svc-a", .scopes = "read write",
     .audiences = "https://api.example https://api2.example"},
    {.tenant = "a", .client_id = "svc-b", .scopes = "", .audiences = "https://api.example",
     .lifetime = 300},
    {.tenant = "a", .client_id = "web", .scopes = "openid profile read",
     .audiences = "https://api.example web"},
    /* A client id of a user id's shape: its own token is a machine token. */
    {.tenant = "a", .client_id = "u0123456789abcdefghijkl", .scopes = "read",
     .audiences = "https://api.example"},
};
#define N_REGISTRY (sizeof registry / sizeof registry[0])

static signet_err lookup(void *user, const char *client_id, struct sg_client_binding *out)
{
    (void)user;
    for (size_t i = 0; i < N_REGISTRY; i++) {
        if (strcmp(client_id, registry[i].client_id) == 0) {
            *out = registry[i];
            return SIGNET_OK;
        }
    }
    if (strcmp(client_id, "SVC-A") == 0) { /* a store that folds case */
        *out = registry[0];
        return SIGNET_OK;
    }
    if (strcmp(client_id, "broken") == 0)
        return SIGNET_ERR_STORE;
    return SIGNET_ERR_NOT_FOUND;
}

static const struct sg_client_binding *bound(const char *client_id)
{
    for (size_t i = 0; i < N_REGISTRY; i++)
        if (strcmp(client_id, registry[i].client_id) == 0)
            return &registry[i];
    return NULL;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int depth(const json_t *v)
{
    int deepest = 0;
    if (json_is_object(v)) {
        const char *key;
        const json_t *member;
        json_object_foreach((json_t *)v, key, member) {
            int d = depth(member);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item) {
            int d = depth(item);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

static int64_t int_member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_integer(v))
        abort();
    return (int64_t)json_integer_value(v);
}

/* A string member without NUL (aborts otherwise), or NULL when absent. */
static const char *str_member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return NULL;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        abort();
    return json_string_value(v);
}

static int b64url(const char *s)
{
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static int user_id(const char *s)
{
    return s != NULL && strlen(s) == 23 && s[0] == 'u' && b64url(s + 1);
}

static int one_of(const char *const *set, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return 1;
    return 0;
}

/* word is one of the space-separated words of list. */
static int listed(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; wl > 0;) {
        const char *sp = strchr(p, ' ');
        size_t n = sp != NULL ? (size_t)(sp - p) : strlen(p);
        if (n == wl && memcmp(p, word, n) == 0)
            return 1;
        if (sp == NULL)
            return 0;
        p = sp + 1;
    }
    return 0;
}

/* Every member of obj is one of set (n names). */
static void only(const json_t *obj, const char *const *set, size_t n)
{
    const char *key;
    const json_t *member;
    json_object_foreach((json_t *)obj, key, member) {
        if (!one_of(set, n, key))
            abort();
    }
}

static void check_base(const json_t *obj, const struct sg_policy_limits *lim,
                       const struct sg_policy_info *info)
{
    const json_t *iss = json_object_get(obj, "iss");
    if (!json_is_string(iss) || json_string_length(iss) != strlen(lim->issuer) ||
        memcmp(json_string_value(iss), lim->issuer, strlen(lim->issuer)) != 0)
        abort();

    int64_t iat = int_member(obj, "iat"), exp = int_member(obj, "exp");
    if (iat != info->iat || exp != info->exp)
        abort();
    if (iat < lim->now - lim->skew || iat > lim->now + lim->skew)
        abort();
    if (exp <= iat || exp - iat > lim->max_lifetime)
        abort();
    if (json_object_get(obj, "nbf") != NULL) {
        int64_t nbf = int_member(obj, "nbf");
        if (nbf < iat - lim->skew || nbf >= exp)
            abort();
    }
}

static void check_jti(const json_t *obj, const struct sg_policy_info *info)
{
    const json_t *jti = json_object_get(obj, "jti");
    if (!json_is_string(jti))
        abort();
    size_t jlen = json_string_length(jti);
    const char *j = json_string_value(jti);
    if (jlen == 0 || jlen > 128 || strlen(info->jti) != jlen || memcmp(info->jti, j, jlen) != 0)
        abort();
    for (size_t i = 0; i < jlen; i++)
        if ((unsigned char)j[i] < 0x21 || (unsigned char)j[i] > 0x7e)
            abort();
    if (info->kind != SG_POLICY_NONE)
        abort();
}

/* auth_time, acr, amr and sid of a person's tokens. */
static void check_person(const json_t *obj, const struct sg_policy_info *info)
{
    static const char *const acrs[] = {"urn:signet:acr:phr", "urn:signet:acr:mfa"};
    static const char *const amrs[] = {"hwk", "swk", "user", "pin", "fpt",
                                       "mfa", "pwd", "otp", "face"};
    int64_t iat = int_member(obj, "iat"), auth_time = int_member(obj, "auth_time");
    if (auth_time > iat || (uint64_t)iat - (uint64_t)auth_time > 30 * 86400)
        abort();
    const char *acr = str_member(obj, "acr");
    if (acr == NULL || !one_of(acrs, 2, acr))
        abort();
    const json_t *amr = json_object_get(obj, "amr");
    if (!json_is_array(amr) || json_array_size(amr) == 0 || json_array_size(amr) > 8)
        abort();
    for (size_t i = 0; i < json_array_size(amr); i++) {
        const json_t *v = json_array_get(amr, i);
        if (!json_is_string(v) || !one_of(amrs, 9, json_string_value(v)) ||
            strlen(json_string_value(v)) != json_string_length(v))
            abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(v), json_string_value(json_array_get(amr, j))) == 0)
                abort();
    }
    const char *sid = str_member(obj, "sid");
    if (sid == NULL || sid[0] == '\0' || strlen(sid) > SG_POLICY_SID_MAX || !b64url(sid) ||
        strcmp(sid, info->sid) != 0)
        abort();
}

static void check_access(const json_t *obj, const struct sg_policy_info *info)
{
    /* The machine token's nine, then a person's four. */
    static const char *const members[] = {"iss", "sub", "aud", "exp", "iat", "nbf", "client_id",
                                          "scope", "cnf", "auth_time", "acr", "amr", "sid"};
    const char *cid = str_member(obj, "client_id"), *sub = str_member(obj, "sub");
    if (cid == NULL || sub == NULL || strcmp(cid, info->client_id) != 0)
        abort();
    const int person = user_id(sub) && strcmp(sub, cid) != 0;
    if (person) {
        only(obj, members, 13);
        check_person(obj, info);
        if (info->kind != SG_POLICY_PERSON || strcmp(info->sub, sub) != 0)
            abort();
    } else {
        only(obj, members, 9);
        if (info->kind != SG_POLICY_MACHINE || strcmp(sub, cid) != 0 || info->sub[0] != '\0' ||
            info->sid[0] != '\0')
            abort();
    }
    const struct sg_client_binding *b = bound(cid);
    if (b == NULL)
        abort();
    const json_t *aud = json_object_get(obj, "aud");
    if (json_is_array(aud)) {
        if (json_array_size(aud) == 0 || json_array_size(aud) > 16)
            abort();
        for (size_t i = 0; i < json_array_size(aud); i++) {
            const json_t *a = json_array_get(aud, i);
            if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a) ||
                !listed(b->audiences, json_string_value(a)))
                abort();
            for (size_t j = 0; j < i; j++)
                if (strcmp(json_string_value(a), json_string_value(json_array_get(aud, j))) == 0)
                    abort();
        }
    } else {
        const char *a = str_member(obj, "aud");
        if (a == NULL || !listed(b->audiences, a))
            abort();
    }
    const char *scope = str_member(obj, "scope");
    if (scope != NULL) {
        char copy[SG_IPC_MAX_CLAIMS];
        if (strlen(scope) >= sizeof copy)
            abort();
        memcpy(copy, scope, strlen(scope) + 1);
        for (char *w = copy; w != NULL;) {
            char *sp = strchr(w, ' ');
            if (sp != NULL)
                *sp = '\0';
            if (!listed(b->scopes, w))
                abort();
            w = sp != NULL ? sp + 1 : NULL;
        }
    }
    const json_t *cnf = json_object_get(obj, "cnf");
    if (cnf != NULL) {
        const char *jkt = str_member(cnf, "jkt");
        if (json_object_size(cnf) != 1 || jkt == NULL || strlen(jkt) != 43 || !b64url(jkt))
            abort();
    }
    if (b->lifetime > 0 && info->exp - info->iat > b->lifetime)
        abort();
}

static void check_id_token(const json_t *obj, const struct sg_policy_info *info)
{
    /* The ten required, then nonce and at_hash. */
    static const char *const members[] = {"iss", "sub", "aud", "exp", "iat", "auth_time",
                                          "acr", "amr", "sid", "azp", "nonce", "at_hash"};
    only(obj, members, 12);
    for (size_t i = 0; i < 10; i++)
        if (json_object_get(obj, members[i]) == NULL)
            abort();
    const char *sub = str_member(obj, "sub"), *aud = str_member(obj, "aud"),
               *azp = str_member(obj, "azp");
    if (info->kind != SG_POLICY_ID_TOKEN || !user_id(sub) || strcmp(sub, info->sub) != 0 ||
        aud == NULL || azp == NULL || strcmp(aud, azp) != 0 || strcmp(aud, info->client_id) != 0 ||
        bound(aud) == NULL || info->exp - info->iat > 3600)
        abort();
    check_person(obj, info);
    const char *nonce = str_member(obj, "nonce");
    if (nonce != NULL && (nonce[0] == '\0' || strlen(nonce) > 256))
        abort();
    const char *at_hash = str_member(obj, "at_hash");
    if (at_hash != NULL && (strlen(at_hash) < 22 || strlen(at_hash) > 43 || !b64url(at_hash)))
        abort();
}

/* What the signer does next: the claims with its jti added are the same
 * object plus that jti, and a front end sending them back is refused. */
static void check_add_jti(const uint8_t *claims, size_t len, const json_t *obj,
                          const struct sg_policy_limits *lim, const struct sg_policy_info *info)
{
    struct sg_policy_info minted = *info;
    memcpy(minted.jti, "fuzz-jti_0123456789abcd", sizeof "fuzz-jti_0123456789abcd");
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (sg_policy_add_jti(claims, len, &minted, &out, &out_len) != SIGNET_OK)
        abort();
    json_error_t jerr;
    json_t *again = json_loadb((const char *)out, out_len, JSON_REJECT_DUPLICATES, &jerr); /* lint: allow independent oracle, not the door under test */
    const char *jti = again != NULL ? str_member(again, "jti") : NULL;
    if (jti == NULL || strcmp(jti, minted.jti) != 0 || json_object_del(again, "jti") != 0 ||
        !json_equal(again, obj))
        abort();
    json_decref(again);
    struct sg_policy_info back;
    if (out_len <= SG_IPC_MAX_CLAIMS &&
        sg_policy_check_claims(out, out_len, lim, &back) != SIGNET_ERR_POLICY_JTI)
        abort();
    free(out);
}

static void check_accepted(const uint8_t *claims, size_t len, const struct sg_policy_limits *lim,
                           enum form form, const struct sg_policy_info *info)
{
    if (len == 0 || len > SG_IPC_MAX_CLAIMS || form == FORM_BAD_TYP)
        abort();
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)claims, len, JSON_REJECT_DUPLICATES, &jerr); /* lint: allow independent oracle, not the door under test */
    if (!json_is_object(obj) || depth(obj) > 8)
        abort();
    check_base(obj, lim, info);
    if (form == FORM_BASE) {
        check_jti(obj, info);
    } else {
        if (json_object_get(obj, "jti") != NULL || info->jti[0] != '\0')
            abort();
        if (form == FORM_ACCESS)
            check_access(obj, info);
        else
            check_id_token(obj, info);
        check_add_jti(claims, len, obj, lim, info);
    }
    json_decref(obj);
}

static int policy_error(signet_err err, enum form form)
{
    switch (err) {
    case SIGNET_ERR_POLICY_PAYLOAD:
    case SIGNET_ERR_POLICY_ISSUER:
    case SIGNET_ERR_POLICY_TIME:
    case SIGNET_ERR_POLICY_LIFETIME:
        return 1;
    case SIGNET_ERR_POLICY_CLAIMS:
    case SIGNET_ERR_POLICY_JTI:
    case SIGNET_ERR_POLICY_CLIENT:
    case SIGNET_ERR_POLICY_AUDIENCE:
    case SIGNET_ERR_POLICY_SCOPE:
    case SIGNET_ERR_STORE: /* the registry's own failure, passed on */
        return form == FORM_ACCESS || form == FORM_ID;
    default:
        return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER_LEN)
        return 0;
    const enum form form = (enum form)((data[0] >> 2) & 3);
    struct sg_policy_limits lim = {
        .issuer = issuers[data[0] & 3],
        .skew = (int64_t)(((unsigned)data[1] << 8 | data[2]) % 601),
        .max_lifetime = (data[0] & 0x80) != 0 ? INT64_MAX / 1000 : (int64_t)be32(data + 3),
        .now = 1700000000 + (int64_t)(int32_t)be32(data + 7),
    };
    if (form != FORM_BASE) {
        lim.lookup = lookup;
        lim.typ = form == FORM_ACCESS ? "at+jwt"
                  : form == FORM_ID   ? "JWT"
                                      : bad_typs[(data[0] >> 4) & 3];
    }
    const uint8_t *claims = data + HEADER_LEN;
    size_t len = size - HEADER_LEN;

    struct sg_policy_info info;
    memset(&info, 0xa5, sizeof info);
    signet_err err = sg_policy_check_claims(claims, len, &lim, &info);
    if (err == SIGNET_OK) {
        check_accepted(claims, len, &lim, form, &info);
        return 0;
    }
    if (!policy_error(err, form) || (form == FORM_BAD_TYP && err != SIGNET_ERR_POLICY_PAYLOAD))
        abort();
    static const struct sg_policy_info none;
    if (memcmp(&info, &none, sizeof info) != 0)
        abort(); /* a refusal reports nothing */
    return 0;
}
