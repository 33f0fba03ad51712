#include "signer/policy.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "json.h"
#include "util/b64url.h"

/* Claims are shallow; the signer refuses anything nested deeper than this
 * (arrays and objects, the top-level object counting as 1). */
#define POLICY_MAX_DEPTH 8u
#define MAX_AUDIENCES 16u

/* The members of a machine access token (RFC 9068 §2.2, client
 * credentials, with cnf of RFC 9449 §6.1 when DPoP-bound); jti is added by
 * the signer. */
static const char *const machine_claims[] = {"iss", "sub", "aud", "exp", "iat", "nbf",
                                             "client_id", "scope", "cnf", NULL};

/* What a person's tokens add (RFC 9068 §2.2.1, OIDC Core §2), all four
 * required. */
static const char *const person_claims[] = {"auth_time", "acr", "amr", "sid", NULL};

/* The members of an ID token (OIDC Core §2): the first ten required, nonce
 * and at_hash optional; jti is added by the signer. */
static const char *const id_token_claims[] = {"iss", "sub",   "aud", "exp", "iat",
                                              "auth_time", "acr", "amr", "sid", "azp",
                                              "nonce", "at_hash", NULL};
#define ID_TOKEN_REQUIRED 10u

/* signet's acr values (docs/people.md "acr and amr"). */
static const char *const acr_values[] = {"urn:signet:acr:phr", "urn:signet:acr:mfa", NULL};

/* The RFC 8176 §2 amr values signet may issue. */
static const char *const amr_values[] = {"hwk", "swk", "user", "pin", "fpt",
                                         "mfa", "pwd", "otp", "face", NULL};
#define MAX_AMR 8u

#define ID_TOKEN_MAX_LIFETIME 3600
#define AUTH_TIME_MAX_AGE (30 * 86400)
#define NONCE_MAX 256u
/* at_hash: the left half of a SHA-256..SHA-512 digest, base64url (OIDC
 * Core §3.1.3.6): 16..32 bytes. */
#define AT_HASH_MIN 22u
#define AT_HASH_MAX 43u

const char *sg_policy_kind_name(enum sg_policy_kind kind)
{
    switch (kind) {
    case SG_POLICY_MACHINE:
        return "machine";
    case SG_POLICY_PERSON:
        return "person";
    case SG_POLICY_ID_TOKEN:
        return "id_token";
    case SG_POLICY_NONE:
        break;
    }
    return "";
}

static int in_set(const char *const *set, const char *s)
{
    for (size_t i = 0; set[i] != NULL; i++)
        if (strcmp(s, set[i]) == 0)
            return 1;
    return 0;
}

/* Every member of obj is in one of the lists (b may be NULL). */
static signet_err only_members(const json_t *obj, const char *const *a, const char *const *b)
{
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        if (!in_set(a, key) && (b == NULL || !in_set(b, key)))
            return SIGNET_ERR_POLICY_CLAIMS;
    }
    return SIGNET_OK;
}

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static int all_b64url(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_b64url(s[i]))
            return 0;
    return 1;
}

/* A user id: "u" and 22 base64url characters (src/store/people.h). */
static int is_user_id(const char *s, size_t n)
{
    return s != NULL && n == SG_POLICY_USER_ID_LEN && s[0] == 'u' && all_b64url(s + 1, n - 1);
}

static int get_int(const json_t *obj, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_integer(v))
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* Whether word (n bytes) is one of the space-separated words of list. */
static int in_list(const char *list, const char *word, size_t n)
{
    const char *p = list;
    while (*p != '\0') {
        size_t m = strcspn(p, " ");
        if (m == n && m > 0 && memcmp(p, word, n) == 0)
            return 1;
        p += m;
        while (*p == ' ')
            p++;
    }
    return 0;
}

/* A JSON string without NUL, with its length. */
static const char *str_of(const json_t *v, size_t *n)
{
    if (!json_is_string(v))
        return NULL;
    *n = json_string_length(v);
    const char *s = json_string_value(v);
    return strlen(s) == *n ? s : NULL;
}

/* amr: a non-empty array of at most MAX_AMR distinct values of amr_values. */
static signet_err check_amr(const json_t *amr)
{
    if (!json_is_array(amr) || json_array_size(amr) == 0 || json_array_size(amr) > MAX_AMR)
        return SIGNET_ERR_POLICY_CLAIMS;
    for (size_t i = 0; i < json_array_size(amr); i++) {
        size_t n = 0;
        const char *v = str_of(json_array_get(amr, i), &n);
        if (v == NULL || !in_set(amr_values, v))
            return SIGNET_ERR_POLICY_CLAIMS;
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(amr, i), json_array_get(amr, j)))
                return SIGNET_ERR_POLICY_CLAIMS;
    }
    return SIGNET_OK;
}

/* The members that say a person signed in (a person's access token, an ID
 * token): auth_time, acr, amr, sid, all required. */
static signet_err check_person(const json_t *obj, int64_t iat, struct sg_policy_info *info)
{
    int64_t auth_time = 0;
    if (get_int(obj, "auth_time", &auth_time) != 0)
        return SIGNET_ERR_POLICY_CLAIMS;
    /* auth_time <= iat here, so the unsigned difference is exact. */
    if (auth_time > iat || (uint64_t)iat - (uint64_t)auth_time > (uint64_t)AUTH_TIME_MAX_AGE)
        return SIGNET_ERR_POLICY_TIME;
    size_t n = 0;
    const char *acr = str_of(json_object_get(obj, "acr"), &n);
    if (acr == NULL || !in_set(acr_values, acr))
        return SIGNET_ERR_POLICY_CLAIMS;
    signet_err err = check_amr(json_object_get(obj, "amr"));
    if (err != SIGNET_OK)
        return err;
    const char *sid = str_of(json_object_get(obj, "sid"), &n);
    if (sid == NULL || n == 0 || n > SG_POLICY_SID_MAX || !all_b64url(sid, n))
        return SIGNET_ERR_POLICY_CLAIMS;
    memcpy(info->sid, sid, n + 1);
    return SIGNET_OK;
}

/* RFC 7638 SHA-256 thumbprint, base64url: 43 characters, 32 bytes. */
#define JKT_LEN 43u

/* cnf: exactly {"jkt": "<thumbprint>"} (RFC 9449 §6.1). Any other member
 * (x5t#S256, jwk, ...) or shape would bind the token to something the
 * front end checked no proof for. */
static signet_err check_cnf(const json_t *cnf)
{
    if (!json_is_object(cnf) || json_object_size(cnf) != 1)
        return SIGNET_ERR_POLICY_CLAIMS;
    size_t n = 0;
    const char *jkt = str_of(json_object_get(cnf, "jkt"), &n);
    uint8_t raw[33];
    size_t rn = 0;
    if (jkt == NULL || n != JKT_LEN ||
        sg_b64url_decode(jkt, n, raw, sizeof raw, &rn) != SIGNET_OK || rn != 32)
        return SIGNET_ERR_POLICY_CLAIMS;
    return SIGNET_OK;
}

static signet_err check_audience(const json_t *aud, const struct sg_client_binding *b)
{
    size_t n = 0;
    const char *a = str_of(aud, &n);
    if (a != NULL)
        return n > 0 && in_list(b->audiences, a, n) ? SIGNET_OK : SIGNET_ERR_POLICY_AUDIENCE;
    if (!json_is_array(aud) || json_array_size(aud) == 0 || json_array_size(aud) > MAX_AUDIENCES)
        return SIGNET_ERR_POLICY_AUDIENCE;
    for (size_t i = 0; i < json_array_size(aud); i++) {
        a = str_of(json_array_get(aud, i), &n);
        if (a == NULL || n == 0 || !in_list(b->audiences, a, n))
            return SIGNET_ERR_POLICY_AUDIENCE;
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(aud, i), json_array_get(aud, j)))
                return SIGNET_ERR_POLICY_AUDIENCE;
    }
    return SIGNET_OK;
}

/* scope: space-separated scope tokens (RFC 6749 §3.3), each allowed. */
static signet_err check_scope(const json_t *scope, const struct sg_client_binding *b)
{
    size_t n = 0;
    const char *s = str_of(scope, &n);
    if (s == NULL || n == 0 || s[0] == ' ' || s[n - 1] == ' ')
        return SIGNET_ERR_POLICY_SCOPE;
    const char *p = s;
    while (*p != '\0') {
        size_t m = strcspn(p, " ");
        if (m == 0 || !in_list(b->scopes, p, m))
            return SIGNET_ERR_POLICY_SCOPE;
        p += m;
        if (*p == ' ')
            p++;
    }
    return SIGNET_OK;
}

/* The client named cid in the registry, bound to the tenant. */
static signet_err find_client(const struct sg_policy_limits *limits, const char *cid,
                              struct sg_client_binding *b)
{
    signet_err err = limits->lookup(limits->lookup_user, cid, b);
    if (err == SIGNET_ERR_NOT_FOUND)
        return SIGNET_ERR_POLICY_CLIENT;
    if (err != SIGNET_OK)
        return err;
    if (strcmp(b->client_id, cid) != 0)
        return SIGNET_ERR_POLICY_CLIENT;
    return SIGNET_OK;
}

/* Whether an at+jwt is a person's: sub a user id other than client_id. Any
 * other at+jwt is held to the machine token's rules. */
static int is_person(const json_t *obj)
{
    size_t sn = 0, cn = 0;
    const char *sub = str_of(json_object_get(obj, "sub"), &sn);
    const char *cid = str_of(json_object_get(obj, "client_id"), &cn);
    if (!is_user_id(sub, sn))
        return 0;
    return cid == NULL || cn != sn || memcmp(cid, sub, sn) != 0;
}

/* An access token and the client registry's part: exactly the machine
 * token's members (and a person's four, for a person), a bound client
 * named by client_id (and by sub, for a machine token), its audiences,
 * scopes and lifetime. */
static signet_err check_client(const json_t *obj, const struct sg_policy_limits *limits,
                               int64_t iat, int64_t exp, int person,
                               struct sg_policy_info *info)
{
    if (json_object_get(obj, "jti") != NULL)
        return SIGNET_ERR_POLICY_JTI;
    signet_err err = only_members(obj, machine_claims, person ? person_claims : NULL);
    if (err == SIGNET_OK && person)
        err = check_person(obj, iat, info);
    if (err != SIGNET_OK)
        return err;
    size_t cn = 0, sn = 0;
    const char *cid = str_of(json_object_get(obj, "client_id"), &cn);
    const char *sub = str_of(json_object_get(obj, "sub"), &sn);
    if (cid == NULL || sub == NULL || cn == 0 || cn >= sizeof info->client_id)
        return SIGNET_ERR_POLICY_CLIENT;
    /* A person's sub is a user id other than client_id (is_person). */
    if (!person && (sn != cn || memcmp(sub, cid, cn) != 0))
        return SIGNET_ERR_POLICY_CLIENT;
    struct sg_client_binding b;
    err = find_client(limits, cid, &b);
    if (err != SIGNET_OK)
        return err;
    err = check_audience(json_object_get(obj, "aud"), &b);
    if (err == SIGNET_OK && json_object_get(obj, "cnf") != NULL)
        err = check_cnf(json_object_get(obj, "cnf"));
    if (err == SIGNET_OK && json_object_get(obj, "scope") != NULL)
        err = check_scope(json_object_get(obj, "scope"), &b);
    if (err == SIGNET_OK && b.lifetime > 0 && exp - iat > b.lifetime)
        err = SIGNET_ERR_POLICY_LIFETIME;
    if (err != SIGNET_OK)
        return err;
    memcpy(info->client_id, cid, cn + 1);
    info->kind = SG_POLICY_MACHINE;
    if (person) {
        memcpy(info->sub, sub, sn + 1);
        info->kind = SG_POLICY_PERSON;
    }
    return SIGNET_OK;
}

/* An ID token (OIDC Core §2) for a person, to a client bound to the
 * tenant. */
static signet_err check_id_token(const json_t *obj, const struct sg_policy_limits *limits,
                                 int64_t iat, int64_t exp, struct sg_policy_info *info)
{
    if (json_object_get(obj, "jti") != NULL)
        return SIGNET_ERR_POLICY_JTI;
    signet_err err = only_members(obj, id_token_claims, NULL);
    if (err != SIGNET_OK)
        return err;
    for (size_t i = 0; i < ID_TOKEN_REQUIRED; i++)
        if (json_object_get(obj, id_token_claims[i]) == NULL)
            return SIGNET_ERR_POLICY_CLAIMS;
    size_t sn = 0, n = 0;
    const char *sub = str_of(json_object_get(obj, "sub"), &sn);
    if (!is_user_id(sub, sn))
        return SIGNET_ERR_POLICY_CLAIMS;
    err = check_person(obj, iat, info);
    if (err != SIGNET_OK)
        return err;
    const json_t *nonce = json_object_get(obj, "nonce");
    if (nonce != NULL && (str_of(nonce, &n) == NULL || n == 0 || n > NONCE_MAX))
        return SIGNET_ERR_POLICY_CLAIMS;
    const json_t *at_hash = json_object_get(obj, "at_hash");
    const char *ah = at_hash != NULL ? str_of(at_hash, &n) : NULL;
    if (at_hash != NULL &&
        (ah == NULL || n < AT_HASH_MIN || n > AT_HASH_MAX || !all_b64url(ah, n)))
        return SIGNET_ERR_POLICY_CLAIMS;
    /* One audience, the authorized party itself (OIDC Core §2: azp). */
    size_t an = 0, zn = 0;
    const char *aud = str_of(json_object_get(obj, "aud"), &an);
    const char *azp = str_of(json_object_get(obj, "azp"), &zn);
    if (aud == NULL || azp == NULL || an != zn || memcmp(aud, azp, an) != 0)
        return SIGNET_ERR_POLICY_AUDIENCE;
    if (an == 0 || an >= sizeof info->client_id)
        return SIGNET_ERR_POLICY_CLIENT;
    struct sg_client_binding b;
    err = find_client(limits, aud, &b);
    if (err != SIGNET_OK)
        return err;
    if (exp - iat > ID_TOKEN_MAX_LIFETIME)
        return SIGNET_ERR_POLICY_LIFETIME;
    memcpy(info->client_id, aud, an + 1);
    memcpy(info->sub, sub, sn + 1);
    info->kind = SG_POLICY_ID_TOKEN;
    return SIGNET_OK;
}

/* The base rules' jti: a front-supplied one of 1..128 printable bytes. */
static signet_err take_jti(const json_t *obj, struct sg_policy_info *info)
{
    const json_t *jti = json_object_get(obj, "jti");
    size_t jlen = json_is_string(jti) ? json_string_length(jti) : 0;
    if (jlen == 0 || jlen >= sizeof info->jti)
        return SIGNET_ERR_POLICY_PAYLOAD;
    const char *j = json_string_value(jti);
    for (size_t i = 0; i < jlen; i++)
        if ((unsigned char)j[i] < 0x21 || (unsigned char)j[i] > 0x7e)
            return SIGNET_ERR_POLICY_PAYLOAD;
    memcpy(info->jti, j, jlen + 1);
    return SIGNET_OK;
}

signet_err sg_policy_check_claims(const uint8_t *claims, size_t len,
                                  const struct sg_policy_limits *limits,
                                  struct sg_policy_info *info)
{
    memset(info, 0, sizeof *info);
    json_t *obj = NULL;
    signet_err err = SIGNET_OK;
    const char *typ = limits->typ;
    const int id_token = typ != NULL && strcmp(typ, "JWT") == 0;
    if (typ == NULL ? limits->lookup != NULL : !id_token && strcmp(typ, "at+jwt") != 0) {
        err = SIGNET_ERR_POLICY_PAYLOAD;
        goto out;
    }
    if (sg_json_parse_depth(claims, len, SG_IPC_MAX_CLAIMS, POLICY_MAX_DEPTH, &obj) != SIGNET_OK ||
        !json_is_object(obj)) {
        err = SIGNET_ERR_POLICY_PAYLOAD;
        goto out;
    }
    const json_t *iss = json_object_get(obj, "iss");
    if (!json_is_string(iss)) {
        err = SIGNET_ERR_POLICY_PAYLOAD;
        goto out;
    }
    if (strcmp(json_string_value(iss), limits->issuer) != 0 ||
        json_string_length(iss) != strlen(limits->issuer)) {
        err = SIGNET_ERR_POLICY_ISSUER;
        goto out;
    }
    int64_t iat = 0, exp = 0, nbf = 0;
    if (get_int(obj, "iat", &iat) != 0 || get_int(obj, "exp", &exp) != 0) {
        err = SIGNET_ERR_POLICY_PAYLOAD;
        goto out;
    }
    if (iat > limits->now + limits->skew || iat < limits->now - limits->skew) {
        err = SIGNET_ERR_POLICY_TIME;
        goto out;
    }
    /* exp > iat here, so the unsigned difference is exact: no overflow even
     * for extreme values (an injected clock near the epoch). */
    if (exp <= iat || (uint64_t)exp - (uint64_t)iat > (uint64_t)limits->max_lifetime) {
        err = SIGNET_ERR_POLICY_LIFETIME;
        goto out;
    }
    if (json_object_get(obj, "nbf") != NULL &&
        (get_int(obj, "nbf", &nbf) != 0 || nbf < iat - limits->skew || nbf >= exp)) {
        err = SIGNET_ERR_POLICY_PAYLOAD;
        goto out;
    }
    if (limits->lookup == NULL)
        err = take_jti(obj, info);
    else if (id_token)
        err = check_id_token(obj, limits, iat, exp, info);
    else
        err = check_client(obj, limits, iat, exp, is_person(obj), info);
    if (err != SIGNET_OK)
        goto out;
    info->iat = iat;
    info->exp = exp;
out:
    if (err != SIGNET_OK)
        memset(info, 0, sizeof *info);
    json_decref(obj);
    return err;
}

signet_err sg_policy_mint_jti(struct sg_policy_info *info)
{
    uint8_t raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return SIGNET_ERR_CRYPTO;
    return sg_b64url_encode(raw, sizeof raw, info->jti, sizeof info->jti);
}

signet_err sg_policy_add_jti(const uint8_t *claims, size_t len, const struct sg_policy_info *info,
                             uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    /* The policy accepted an object with at least iss in it: its last
     * non-blank byte is the closing brace. */
    size_t end = len;
    while (end > 0 && (claims[end - 1] == ' ' || claims[end - 1] == '\t' ||
                       claims[end - 1] == '\n' || claims[end - 1] == '\r'))
        end--;
    if (end < 2 || claims[end - 1] != '}')
        return SIGNET_ERR_POLICY_PAYLOAD;
    static const char pre[] = ",\"jti\":\"";
    size_t jn = strlen(info->jti);
    size_t n = (end - 1) + (sizeof pre - 1) + jn + 2;
    uint8_t *buf = malloc(n);
    if (buf == NULL)
        return SIGNET_ERR_NOMEM;
    size_t o = end - 1;
    memcpy(buf, claims, o);
    memcpy(buf + o, pre, sizeof pre - 1);
    o += sizeof pre - 1;
    memcpy(buf + o, info->jti, jn); /* base64url: nothing to escape */
    o += jn;
    buf[o++] = '"';
    buf[o++] = '}';
    *out = buf;
    *out_len = o;
    return SIGNET_OK;
}
