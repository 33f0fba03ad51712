/* signet client add | list | remove: OAuth clients of signetd, kept in the
 * store (not key material, so the CLI opens it directly; signetd reads a
 * client from the store on every request and sees changes at once).
 * Secrets (256 random bits) are generated here, shown once and stored
 * only as HMAC-SHA-256 under the front end's pepper (common/client_secret.h
 * says why not a memory-hard hash); private_key_jwt clients register a
 * public JWK. Clients of people's sign-in (issue 13) also register their
 * grants and exact redirect URIs; public ones (apps that cannot keep a
 * secret) authenticate with nothing but PKCE. */
#include "cli/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "cli/cli_util.h"
#include "common/accounts.h"
#include "common/client_secret.h"
#include "common/config.h"
#include "common/ipc.h"
#include "common/signer_client.h"
#include "common/oauth_req.h"
#include "json.h"
#include "store/store.h"
#include "util/b64url.h"
#include "util/secret.h"
#include "util/strconv.h"

#define SECRET_BYTES 32
#define MAX_AUDIENCES 16
#define MAX_REDIRECTS 16
#define REDIRECT_MAX 1023 /* SG_PEOPLE_URI_MAX - 1: what an authorization request holds */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: signet client add --tenant T [--id ID] [--scope \"a b\"]\n"
            "                         [--default-scope \"a\"] --audience URL [--audience URL]...\n"
            "                         [--lifetime DURATION] [--jwk FILE | --secret-file FILE]\n"
            "                         [--dpop required|allowed|forbidden]\n"
            "                         [--type confidential|public] [--redirect-uri URI]...\n"
            "                         [--grant G]... [--require-par]\n"
            "       signet client list --tenant T [--json]\n"
            "       signet client remove --tenant T ID\n"
            "       (every form takes --state DIR)\n\n"
            "add registers a client of the tenant's token endpoint. Without --jwk it\n"
            "generates a client secret (client_secret_basic / client_secret_post), prints\n"
            "it once (or writes it to --secret-file, mode 0600) and stores only its\n"
            "HMAC-SHA-256 under the front end's pepper. With --jwk FILE the client authenticates by private_key_jwt\n"
            "(RFC 7523) with that public JWK (ES256, EdDSA or PS256); a JWK holding\n"
            "private members is refused. --scope lists the scopes it may request\n"
            "(--default-scope those granted when it asks for none; default: all of\n"
            "them); the first --audience is the default aud of its tokens. --lifetime\n"
            "overrides the tenant's token_lifetime, up to its max_token_lifetime.\n"
            "--dpop sets whether its tokens are bound to a key with DPoP (RFC 9449):\n"
            "required (a request without a DPoP proof is refused), allowed (bound\n"
            "with a proof, Bearer without) or forbidden (a request with a proof is\n"
            "refused); without it, the tenant's dpop setting applies (default allowed).\n"
            "--type public registers a client that keeps no secret (a browser or native\n"
            "app: PKCE only, no --jwk or --secret-file, no client_credentials).\n"
            "--redirect-uri (up to 16, matched exactly): https, http only for localhost,\n"
            "127.0.0.1 or [::1], or an app's private-use scheme with a dot\n"
            "(com.example.app:/cb, RFC 8252); no fragment. --grant (repeatable):\n"
            "client_credentials, authorization_code, refresh_token; default\n"
            "authorization_code and refresh_token with redirect URIs, else\n"
            "client_credentials. --require-par: /authorize only through a pushed\n"
            "request (RFC 9126).\n"
            "list never shows secrets or hashes. signetd picks changes up at once.\n");
}

struct opts {
    const char *state;
    const char *tenant;
    const char *id;
    const char *scope;
    const char *default_scope;
    const char *audiences[MAX_AUDIENCES];
    size_t n_aud;
    const char *lifetime;
    const char *jwk;
    const char *secret_file;
    const char *dpop;
    const char *type;
    const char *redirects[MAX_REDIRECTS];
    size_t n_redirect;
    unsigned grants;
    int require_par;
    int json;
};

static const struct {
    const char *name;
    unsigned bit;
} grant_names[] = {
    {"client_credentials", SG_GRANT_CLIENT_CREDENTIALS},
    {"authorization_code", SG_GRANT_AUTHORIZATION_CODE},
    {"refresh_token", SG_GRANT_REFRESH_TOKEN},
};

static unsigned grant_bit(const char *name)
{
    for (size_t i = 0; i < sizeof grant_names / sizeof grant_names[0]; i++)
        if (strcmp(name, grant_names[i].name) == 0)
            return grant_names[i].bit;
    return 0;
}

/* The grants as a space-separated list into buf. */
static const char *grants_text(unsigned grants, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof grant_names / sizeof grant_names[0]; i++) {
        if ((grants & grant_names[i].bit) == 0)
            continue;
        int n = snprintf(buf + o, cap - o, "%s%s", o > 0 ? " " : "", grant_names[i].name);
        if (n < 0 || (size_t)n >= cap - o)
            break;
        o += (size_t)n;
    }
    return buf;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"tenant", required_argument, NULL, 't'},
        {"id", required_argument, NULL, 'i'},
        {"scope", required_argument, NULL, 'c'},
        {"default-scope", required_argument, NULL, 'd'},
        {"audience", required_argument, NULL, 'a'},
        {"lifetime", required_argument, NULL, 'l'},
        {"jwk", required_argument, NULL, 'k'},
        {"secret-file", required_argument, NULL, 'f'},
        {"dpop", required_argument, NULL, 'p'},
        {"type", required_argument, NULL, 'y'},
        {"redirect-uri", required_argument, NULL, 'r'},
        {"grant", required_argument, NULL, 'g'},
        {"require-par", no_argument, NULL, 'q'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': o->state = optarg; break;
        case 't': o->tenant = optarg; break;
        case 'i': o->id = optarg; break;
        case 'c': o->scope = optarg; break;
        case 'd': o->default_scope = optarg; break;
        case 'a':
            if (o->n_aud == MAX_AUDIENCES) {
                fprintf(stderr, "signet client: at most %d audiences\n", MAX_AUDIENCES);
                return -1;
            }
            o->audiences[o->n_aud++] = optarg;
            break;
        case 'l': o->lifetime = optarg; break;
        case 'k': o->jwk = optarg; break;
        case 'f': o->secret_file = optarg; break;
        case 'p': o->dpop = optarg; break;
        case 'y': o->type = optarg; break;
        case 'r':
            if (o->n_redirect == MAX_REDIRECTS) {
                fprintf(stderr, "signet client: at most %d redirect URIs\n", MAX_REDIRECTS);
                return -1;
            }
            o->redirects[o->n_redirect++] = optarg;
            break;
        case 'g': {
            unsigned g = grant_bit(optarg);
            if (g == 0) {
                fprintf(stderr, "signet client: --grant must be client_credentials, "
                                "authorization_code or refresh_token\n");
                return -1;
            }
            o->grants |= g;
            break;
        }
        case 'q': o->require_par = 1; break;
        case 'j': o->json = 1; break;
        case 'h': return 1;
        default: return -1;
        }
    }
    o->state = sg_cli_state_dir(o->state);
    return 0;
}

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SG_STORE_CLIENT_ID_MAX - 1)
        return 0;
    for (const char *c = s; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.' || *c == '~' || *c == '@'))
            return 0;
    return 1;
}

static int word_ok(const char *s)
{
    if (s[0] == '\0' || strlen(s) > SG_OAUTH_RESOURCE_MAX)
        return 0;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++)
        if (*c < 0x21 || *c > 0x7e)
            return 0;
    return 1;
}

/* A redirect URI a client may register (RFC 6749 §3.1.2, RFC 9700
 * §4.1.1, RFC 8252 §7): absolute, printable without spaces (the store
 * keeps them space-separated), no fragment, no userinfo; https with a
 * host, http only to a loopback host (any port), or an app's private-use
 * scheme in reverse-domain form (a dot in it). NULL when good, else why. */
static const char *redirect_bad(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > REDIRECT_MAX)
        return "empty or longer than 1023 characters";
    for (const unsigned char *c = (const unsigned char *)u; *c != '\0'; c++)
        if (*c < 0x21 || *c > 0x7e)
            return "spaces or characters outside printable ASCII";
    if (strchr(u, '#') != NULL)
        return "a fragment (#) is not allowed";
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" (RFC 3986 §3.1) */
    size_t sl = 0;
    int dot = 0;
    while ((u[sl] >= 'a' && u[sl] <= 'z') || (u[sl] >= 'A' && u[sl] <= 'Z') ||
           (sl > 0 && ((u[sl] >= '0' && u[sl] <= '9') || u[sl] == '+' || u[sl] == '-' ||
                       u[sl] == '.'))) {
        dot |= u[sl] == '.';
        sl++;
    }
    if (sl == 0 || u[sl] != ':')
        return "not an absolute URI (scheme:...)";
    const char *rest = u + sl + 1;
    int https = sl == 5 && strncasecmp(u, "https", 5) == 0;
    int http = sl == 4 && strncasecmp(u, "http", 4) == 0;
    if (!https && !http) {
        if (!dot)
            return "a private-use scheme needs a dot (reverse domain, e.g. com.example.app:/cb)";
        return rest[0] != '\0' ? NULL : "nothing after the scheme";
    }
    if (strncmp(rest, "//", 2) != 0)
        return "http(s) URI without //host";
    const char *host = rest + 2;
    size_t alen = strcspn(host, "/?");
    if (memchr(host, '@', alen) != NULL)
        return "userinfo (user@) is not allowed";
    /* The host without the port: "[v6]" keeps its brackets. */
    size_t hlen = alen;
    if (host[0] == '[') {
        const char *end = memchr(host, ']', alen);
        if (end == NULL)
            return "an unterminated [IPv6] host";
        hlen = (size_t)(end - host) + 1;
        if (hlen < alen && host[hlen] != ':')
            return "junk after the [IPv6] host";
    } else {
        const char *colon = memchr(host, ':', alen);
        if (colon != NULL)
            hlen = (size_t)(colon - host);
    }
    if (hlen == 0)
        return "no host";
    if (hlen < alen) { /* a port: digits only */
        const char *p = host + hlen + 1;
        size_t pl = alen - hlen - 1;
        if (pl == 0 || pl > 5 || strspn(p, "0123456789") < pl)
            return "a port must be digits";
    }
    if (https)
        return NULL;
    if ((hlen == 9 && strncasecmp(host, "localhost", 9) == 0) ||
        (hlen == 9 && strncmp(host, "127.0.0.1", 9) == 0) ||
        (hlen == 5 && strncmp(host, "[::1]", 5) == 0))
        return NULL;
    return "http only for a loopback host (localhost, 127.0.0.1, [::1]); else https";
}

static int parse_lifetime(const char *v, int64_t *out)
{
    if (sg_parse_duration(v, SG_DUR_SECONDS, SG_DURATION_MAX_S, out) != SIGNET_OK || *out <= 0)
        return -1;
    return 0;
}

/* Opens the tenant's config and the store. */
static int open_tenant(const struct opts *o, struct sg_config *cfg,
                       const struct sg_tenant_cfg **t, struct sg_store **store)
{
    if (o->tenant == NULL) {
        fprintf(stderr, "signet client: --tenant is required\n");
        return SG_EXIT_USAGE;
    }
    char msg[768] = "";
    if (sg_config_load(o->state, cfg, msg, sizeof msg) != SIGNET_OK) {
        fprintf(stderr, "signet client: %s\n", msg);
        return SG_EXIT_USAGE;
    }
    *t = sg_config_tenant_by_name(cfg, o->tenant);
    if (*t == NULL) {
        fprintf(stderr, "signet client: no [tenant:%s] in %s\n", o->tenant, cfg->path);
        return SG_EXIT_USAGE;
    }
    /* The front store is the front end's: an administrator's changes are
     * made under its account, so every file SQLite creates stays its. */
    struct sg_account front;
    if (geteuid() == 0 && sg_account_of_dir(o->state, SG_FRONT_DIR, &front) == SIGNET_OK &&
        front.uid != 0 && sg_account_assume(&front) != SIGNET_OK) {
        fprintf(stderr, "signet client: cannot act as the front end's account\n");
        return SG_EXIT_USAGE;
    }
    signet_err err = sg_store_open(cfg->store, 0, store);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet client: store %s: %s\n", cfg->store, signet_strerror(err));
        return SG_EXIT_USAGE;
    }
    return SG_EXIT_OK;
}

/* ---- the signer's client registry (issue 11) ----
 * The front end's store is the front end's to write, so the signer never
 * trusts it: what a client's tokens may say (tenant, client_id, scopes,
 * audiences, lifetime) is also bound in the key store, through the signer
 * (CLIENT_BIND, an operator-only message), which audits it. */

static json_t *binding_json(const struct sg_client *cl)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "tenant", cl->tenant, "client_id",
                     cl->client_id, "scopes", cl->scopes != NULL ? cl->scopes : "", "audiences",
                     cl->audiences != NULL ? cl->audiences : "", "lifetime",
                     (json_int_t)cl->lifetime);
}

/* Sends req (taken) to a signer of state, as root; *reply (may be NULL). */
static int signer_bind(const char *state, json_t *req, json_t **reply)
{
    if (reply != NULL)
        *reply = NULL;
    char *text = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (text == NULL)
        return SG_EXIT_USAGE;
    if (getuid() == 0 && geteuid() != 0 && sg_account_resume_root() != SIGNET_OK) {
        free(text);
        return SG_EXIT_USAGE;
    }
    struct sg_signer_client *c = NULL;
    int rc = sg_cli_open_signer_ex(state, SG_SPAWN_NO_ADVANCE, &c);
    if (rc != SG_EXIT_OK) {
        free(text);
        return rc;
    }
    signet_err status = SIGNET_OK;
    char *resp = NULL;
    signet_err err = sg_signer_call(c, SG_IPC_CLIENT_BIND, (const uint8_t *)text, strlen(text),
                                    &status, &resp, NULL);
    sg_signer_client_free(&c);
    free(text);
    if (err != SIGNET_OK || status != SIGNET_OK) {
        fprintf(stderr, "signet client: the signer did not record the binding: %s\n",
                signet_strerror(err != SIGNET_OK ? err : status));
        free(resp);
        return err != SIGNET_OK ? SG_EXIT_USAGE : sg_cli_exit_for(status);
    }
    if (reply != NULL)
        *reply = sg_cli_reply_json(resp, "{}");
    free(resp);
    return SG_EXIT_OK;
}

static int bind_client(const char *state, const struct sg_client *cl)
{
    json_t *req = binding_json(cl);
    if (req != NULL && json_object_set_new(req, "op", json_string("bind")) != 0) {
        json_decref(req);
        req = NULL;
    }
    return signer_bind(state, req, NULL);
}

static int unbind_client(const char *state, const char *tenant, const char *id)
{
    return signer_bind(state,
                       json_pack("{s:s, s:s, s:s}", "op", "unbind", "tenant", tenant, "client_id",
                                 id),
                       NULL);
}

int sg_cli_clients_backfill(const char *state, int fresh, long long *bound)
{
    if (bound != NULL)
        *bound = -1;
    struct sg_config cfg;
    char msg[512] = "";
    if (sg_config_load(state, &cfg, msg, sizeof msg) != SIGNET_OK) {
        fprintf(stderr, "signet: %s\n", msg);
        return SG_EXIT_USAGE;
    }
    /* Done before (or a new directory): nothing to do, and no signer is
     * started, so `signet init` again changes no file. */
    char mark[4200];
    (void)snprintf(mark, sizeof mark, "%s/" SG_SIGNER_DIR "/" SG_REGISTRY_FILLED, state);
    struct stat st;
    if (!fresh && lstat(mark, &st) == 0)
        return SG_EXIT_OK;
    json_t *arr = json_array();
    struct sg_store *store = NULL;
    int rc = SG_EXIT_USAGE;
    if (arr == NULL)
        return rc;
    if (!fresh) {
        /* Read as the front end's account (its store, its files). */
        struct sg_account front;
        if (geteuid() == 0 && sg_account_of_dir(state, SG_FRONT_DIR, &front) == SIGNET_OK &&
            front.uid != 0 && sg_account_assume(&front) != SIGNET_OK)
            goto out;
        signet_err err = sg_store_open(cfg.store, 0, &store);
        for (size_t t = 0; err == SIGNET_OK && t < cfg.n_tenants; t++) {
            struct sg_client *cs = NULL;
            size_t n = 0;
            err = sg_store_client_list(store, cfg.tenants[t].name, &cs, &n);
            for (size_t i = 0; err == SIGNET_OK && i < n; i++)
                if (json_array_append_new(arr, binding_json(&cs[i])) != 0)
                    err = SIGNET_ERR_NOMEM;
            sg_client_list_free(cs, n);
        }
        sg_store_close(&store);
        if (err != SIGNET_OK) {
            fprintf(stderr, "signet: the front end's store: %s\n", signet_strerror(err));
            goto out;
        }
    }
    json_t *reply = NULL;
    rc = signer_bind(state, json_pack("{s:s, s:O}", "op", "backfill", "clients", arr), &reply);
    if (rc == SG_EXIT_OK && bound != NULL && json_is_true(json_object_get(reply, "backfilled")))
        *bound = (long long)json_integer_value(json_object_get(reply, "bound"));
    json_decref(reply);
out:
    json_decref(arr);
    if (getuid() == 0 && geteuid() != 0 && sg_account_resume_root() != SIGNET_OK)
        rc = SG_EXIT_USAGE;
    return rc;
}

static char *join(const char *const *words, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++) {
        if (words[i] == NULL)
            return NULL;
        len += strlen(words[i]) + 1;
    }
    char *s = malloc(len);
    if (s == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            s[o++] = ' ';
        memcpy(s + o, words[i], strlen(words[i]));
        o += strlen(words[i]);
    }
    s[o] = '\0';
    return s;
}

static char *read_jwk(const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        fprintf(stderr, "signet client: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(8193);
    size_t n = buf != NULL ? fread(buf, 1, 8193, f) : 0;
    fclose(f);
    if (buf == NULL || n == 0 || n > 8192) {
        fprintf(stderr, "signet client: %s is empty or larger than 8 KiB\n", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    const char *why = NULL;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (sg_client_jwk_check(buf, n, &why) != SIGNET_OK) {
        fprintf(stderr, "signet client: %s: %s\n", path, why);
        free(buf);
        return NULL;
    }
    /* Stored compact, exactly as parsed (through the JSON door, with the
     * same 8 KiB cap as sg_client_jwk_check() above). */
    json_t *doc = NULL;
    if (sg_json_parse((const uint8_t *)buf, n, 8192, &doc) != SIGNET_OK)
        doc = NULL;
    free(buf);
    char *out = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    return out;
}

/* A random secret and its hash under the front end's pepper. */
static int make_secret(const char *state, struct sg_secret **secret, char **encoded)
{
    uint8_t raw[SECRET_BYTES];
    struct sg_secret *pepper = NULL;
    char hash[SG_SECRET_HMAC_MAX];
    signet_err err = sg_pepper_load(state, &pepper);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet client: %s/" SG_FRONT_DIR "/" SG_PEPPER_FILE ": %s (run 'signet "
                        "init --state %s': it adds one to an earlier layout)\n",
                state, signet_strerror(err), state);
        return -1;
    }
    int rc = -1;
    if (RAND_bytes(raw, sizeof raw) != 1)
        goto out;
    size_t tlen = sg_b64url_encoded_len(sizeof raw);
    if (sg_secret_new(tlen + 1, secret) != SIGNET_OK)
        goto out;
    if (sg_b64url_encode(raw, sizeof raw, (char *)(*secret)->data, tlen + 1) != SIGNET_OK)
        goto out;
    (*secret)->len = tlen;
    if (sg_client_secret_hash(pepper, (const char *)(*secret)->data, hash) != SIGNET_OK)
        goto out;
    *encoded = strdup(hash);
    if (*encoded == NULL)
        goto out;
    rc = 0;
out:
    sg_wipe(raw, sizeof raw);
    sg_wipe(hash, sizeof hash);
    sg_secret_free(&pepper);
    if (rc != 0)
        sg_secret_free(secret);
    return rc;
}

static int cmd_add(const struct opts *o)
{
    struct sg_config cfg;
    const struct sg_tenant_cfg *t = NULL;
    struct sg_store *store = NULL;
    struct sg_secret *secret = NULL;
    struct sg_client cl;
    memset(&cl, 0, sizeof cl);
    char gen_id[32];
    const char *id = o->id;
    if (id == NULL) {
        uint8_t raw[12];
        if (RAND_bytes(raw, sizeof raw) != 1 ||
            sg_b64url_encode(raw, sizeof raw, gen_id, sizeof gen_id) != SIGNET_OK)
            return SG_EXIT_USAGE;
        id = gen_id;
    }
    if (!id_ok(id)) {
        fprintf(stderr, "signet client: --id must be 1 to 127 characters of A-Z a-z 0-9 - _ . ~ @\n");
        return SG_EXIT_USAGE;
    }
    if (o->n_aud == 0) {
        fprintf(stderr, "signet client: at least one --audience is required (the aud of its tokens)\n");
        return SG_EXIT_USAGE;
    }
    for (size_t i = 0; i < o->n_aud; i++)
        if (!word_ok(o->audiences[i])) {
            fprintf(stderr, "signet client: --audience must be printable without spaces\n");
            return SG_EXIT_USAGE;
        }
    const char *scope = o->scope != NULL ? o->scope : "";
    if (scope[0] != '\0' && !sg_scope_valid(scope)) {
        fprintf(stderr, "signet client: --scope must be scope tokens separated by single spaces\n");
        return SG_EXIT_USAGE;
    }
    const char *def = o->default_scope != NULL ? o->default_scope : scope;
    if (def[0] != '\0') {
        char granted[SG_OAUTH_SCOPE_MAX + 1], bad[80];
        if (sg_scope_check(def, scope, granted, sizeof granted, bad, sizeof bad) != SIGNET_OK) {
            fprintf(stderr, "signet client: --default-scope '%s' is not in --scope\n", bad);
            return SG_EXIT_USAGE;
        }
    }
    if (o->jwk != NULL && o->secret_file != NULL) {
        fprintf(stderr, "signet client: --secret-file is for secret clients, not --jwk\n");
        return SG_EXIT_USAGE;
    }
    int public = 0;
    if (o->type != NULL && strcmp(o->type, "public") == 0) {
        public = 1;
    } else if (o->type != NULL && strcmp(o->type, "confidential") != 0) {
        fprintf(stderr, "signet client: --type must be confidential or public\n");
        return SG_EXIT_USAGE;
    }
    if (public && (o->jwk != NULL || o->secret_file != NULL)) {
        fprintf(stderr, "signet client: a public client has no secret and no key: "
                        "--jwk and --secret-file are for confidential clients\n");
        return SG_EXIT_USAGE;
    }
    for (size_t i = 0; i < o->n_redirect; i++) {
        const char *why = redirect_bad(o->redirects[i]);
        if (why != NULL) {
            fprintf(stderr, "signet client: --redirect-uri '%s': %s\n", o->redirects[i], why);
            return SG_EXIT_USAGE;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->redirects[i], o->redirects[j]) == 0) {
                fprintf(stderr, "signet client: --redirect-uri '%s' given twice\n",
                        o->redirects[i]);
                return SG_EXIT_USAGE;
            }
    }
    unsigned grants = o->grants;
    if (grants == 0)
        grants = o->n_redirect > 0 || public
                     ? SG_GRANT_AUTHORIZATION_CODE | SG_GRANT_REFRESH_TOKEN
                     : SG_GRANT_CLIENT_CREDENTIALS;
    if (public && (grants & SG_GRANT_CLIENT_CREDENTIALS) != 0) {
        fprintf(stderr, "signet client: a public client cannot use client_credentials "
                        "(it has no credentials: RFC 6749 §4.4)\n");
        return SG_EXIT_USAGE;
    }
    if ((grants & SG_GRANT_AUTHORIZATION_CODE) != 0 && o->n_redirect == 0) {
        fprintf(stderr, "signet client: authorization_code needs at least one --redirect-uri\n");
        return SG_EXIT_USAGE;
    }
    if ((grants & SG_GRANT_AUTHORIZATION_CODE) == 0 &&
        ((grants & SG_GRANT_REFRESH_TOKEN) != 0 || o->n_redirect > 0 || o->require_par)) {
        fprintf(stderr, "signet client: refresh_token, --redirect-uri and --require-par go with "
                        "the authorization_code grant\n");
        return SG_EXIT_USAGE;
    }
    int dpop = o->dpop != NULL ? sg_config_dpop_policy(o->dpop) : SG_CLIENT_DPOP_DEFAULT;
    if (o->dpop != NULL && dpop == 0) {
        fprintf(stderr, "signet client: --dpop must be required, allowed or forbidden\n");
        return SG_EXIT_USAGE;
    }
    int rc = open_tenant(o, &cfg, &t, &store);
    if (rc != SG_EXIT_OK)
        return rc;
    rc = SG_EXIT_USAGE;
    int64_t lifetime = 0;
    if (o->lifetime != NULL &&
        (parse_lifetime(o->lifetime, &lifetime) != 0 || lifetime > t->max_token_lifetime)) {
        fprintf(stderr, "signet client: --lifetime must be a duration up to the tenant's "
                        "max_token_lifetime (%llds)\n",
                (long long)t->max_token_lifetime);
        goto out;
    }
    (void)snprintf(cl.tenant, sizeof cl.tenant, "%s", t->name);
    (void)snprintf(cl.client_id, sizeof cl.client_id, "%s", id);
    cl.lifetime = lifetime;
    cl.dpop = (enum sg_client_dpop)dpop;
    cl.created_at = (int64_t)time(NULL);
    cl.scopes = strdup(scope);
    cl.default_scopes = strdup(def);
    cl.audiences = join(o->audiences, o->n_aud);
    cl.grants = grants;
    cl.redirect_uris = join(o->redirects, o->n_redirect);
    cl.require_par = o->require_par;
    if (cl.scopes == NULL || cl.default_scopes == NULL || cl.audiences == NULL ||
        cl.redirect_uris == NULL)
        goto out;
    if (public) {
        cl.auth = SG_CLIENT_NONE;
    } else if (o->jwk != NULL) {
        cl.auth = SG_CLIENT_PRIVATE_KEY_JWT;
        cl.jwk = read_jwk(o->jwk);
        if (cl.jwk == NULL)
            goto out;
    } else {
        cl.auth = SG_CLIENT_SECRET;
        if (make_secret(o->state, &secret, &cl.secret_hash) != 0) {
            fprintf(stderr, "signet client: cannot generate a secret\n");
            goto out;
        }
    }
    signet_err err = sg_store_client_insert(store, &cl);
    if (err == SIGNET_ERR_EXISTS) {
        fprintf(stderr, "signet client: tenant %s already has a client '%s'\n", t->name, id);
        rc = SG_EXIT_FAIL;
        goto out;
    }
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet client: cannot store the client: %s\n", signet_strerror(err));
        goto out;
    }
    /* Then in the signer's registry: without it the signer signs nothing
     * for the client, so a failure takes the client back. */
    if (bind_client(o->state, &cl) != SG_EXIT_OK) {
        if (sg_store_client_delete(store, t->name, id) != SIGNET_OK)
            fprintf(stderr, "signet client: remove '%s' by hand\n", id);
        fprintf(stderr, "signet client: client not added\n");
        goto out;
    }
    printf("client_id: %s\n", id);
    if (secret != NULL && o->secret_file != NULL) {
        /* The file goes where the caller asked, as the caller. */
        err = getuid() == 0 && geteuid() != 0 ? sg_account_resume_root() : SIGNET_OK;
        if (err == SIGNET_OK)
            err = sg_secret_write_file(o->secret_file, secret->data, secret->len);
        if (err != SIGNET_OK) {
            /* The client exists but nobody knows its secret: take it back. */
            if (sg_store_client_delete(store, t->name, id) != SIGNET_OK)
                fprintf(stderr, "signet client: remove '%s' by hand: its secret is lost\n", id);
            fprintf(stderr, "signet client: cannot write %s (%s); client not added\n",
                    o->secret_file, signet_strerror(err));
            goto out;
        }
        printf("client_secret: written to %s (mode 0600)\n", o->secret_file);
    } else if (secret != NULL) {
        printf("client_secret: %s\n", (const char *)secret->data);
        printf("(shown once: only its HMAC under the front end's pepper is stored)\n");
    } else if (public) {
        printf("auth: none (public client: PKCE, no secret)\n");
    } else {
        printf("auth: private_key_jwt\n");
    }
    if (grants != SG_GRANT_CLIENT_CREDENTIALS) {
        char gt[80];
        printf("grants: %s\n", grants_text(grants, gt, sizeof gt));
        for (size_t i = 0; i < o->n_redirect; i++)
            printf("redirect_uri: %s\n", o->redirects[i]);
        if (o->require_par)
            printf("require_par: yes\n");
    }
    rc = SG_EXIT_OK;
out:
    sg_secret_free(&secret);
    if (cl.secret_hash != NULL)
        sg_wipe(cl.secret_hash, strlen(cl.secret_hash));
    sg_client_clear(&cl);
    sg_store_close(&store);
    return rc;
}

static int cmd_list(const struct opts *o)
{
    struct sg_config cfg;
    const struct sg_tenant_cfg *t = NULL;
    struct sg_store *store = NULL;
    int rc = open_tenant(o, &cfg, &t, &store);
    if (rc != SG_EXIT_OK)
        return rc;
    struct sg_client *cs = NULL;
    size_t n = 0;
    signet_err err = sg_store_client_list(store, t->name, &cs, &n);
    sg_store_close(&store);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet client: %s\n", signet_strerror(err));
        return SG_EXIT_USAGE;
    }
    json_t *arr = o->json ? json_array() : NULL;
    if (!o->json)
        printf("%-24s  %-12s  %-15s  %-8s  %-24s  %-24s  %-40s  %s\n", "CLIENT_ID", "TYPE",
               "AUTH", "LIFETIME", "SCOPES", "AUDIENCES", "GRANTS", "REDIRECT_URIS");
    for (size_t i = 0; i < n; i++) {
        const struct sg_client *c = &cs[i];
        const char *auth = c->auth == SG_CLIENT_SECRET ? "client_secret"
                           : c->auth == SG_CLIENT_NONE ? "none"
                                                       : "private_key_jwt";
        const char *type = c->auth == SG_CLIENT_NONE ? "public" : "confidential";
        const char *redirects = c->redirect_uris != NULL ? c->redirect_uris : "";
        char gt[80];
        (void)grants_text(c->grants != 0 ? c->grants : SG_GRANT_CLIENT_CREDENTIALS, gt,
                          sizeof gt);
        const char *dpop = c->dpop == SG_CLIENT_DPOP_REQUIRED    ? "required"
                           : c->dpop == SG_CLIENT_DPOP_ALLOWED   ? "allowed"
                           : c->dpop == SG_CLIENT_DPOP_FORBIDDEN ? "forbidden"
                                                                 : "tenant";
        if (arr != NULL) {
            json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "client_id",
                                    c->client_id, "auth", auth, "scopes", c->scopes,
                                    "default_scopes", c->default_scopes, "audiences",
                                    c->audiences, "lifetime", (json_int_t)c->lifetime,
                                    "created_at", (json_int_t)c->created_at, "dpop", dpop);
            if (row != NULL &&
                json_object_update_new(
                    row, json_pack("{s:s, s:s, s:s, s:b}", "type", type, "grants", gt,
                                   "redirect_uris", redirects, "require_par",
                                   c->require_par != 0)) != 0) {
                json_decref(row);
                row = NULL;
            }
            (void)json_array_append_new(arr, row);
        } else {
            char lt[24];
            if (c->lifetime > 0)
                (void)snprintf(lt, sizeof lt, "%llds", (long long)c->lifetime);
            else
                (void)snprintf(lt, sizeof lt, "tenant");
            printf("%-24s  %-12s  %-15s  %-8s  %-24s  %-24s  %-40s  %s\n", c->client_id, type,
                   auth, lt, c->scopes[0] != '\0' ? c->scopes : "-", c->audiences, gt,
                   redirects[0] != '\0' ? redirects : "-");
        }
    }
    if (arr != NULL) {
        char *text = json_dumps(arr, JSON_INDENT(2));
        if (text != NULL)
            printf("%s\n", text);
        free(text);
        json_decref(arr);
    }
    sg_client_list_free(cs, n);
    return SG_EXIT_OK;
}

static int cmd_remove(const struct opts *o, const char *id)
{
    struct sg_config cfg;
    const struct sg_tenant_cfg *t = NULL;
    struct sg_store *store = NULL;
    /* The signer forgets the client first: from then on it signs nothing
     * for it, whatever the front end's store still says. */
    if (o->tenant != NULL && unbind_client(o->state, o->tenant, id) != SG_EXIT_OK)
        return SG_EXIT_USAGE;
    int rc = open_tenant(o, &cfg, &t, &store);
    if (rc != SG_EXIT_OK)
        return rc;
    signet_err err = sg_store_client_delete(store, t->name, id);
    sg_store_close(&store);
    if (err == SIGNET_ERR_NOT_FOUND) {
        fprintf(stderr, "signet client: tenant %s has no client '%s'\n", t->name, id);
        return SG_EXIT_FAIL;
    }
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet client: %s\n", signet_strerror(err));
        return SG_EXIT_USAGE;
    }
    printf("removed %s\n", id);
    return SG_EXIT_OK;
}

int sg_cmd_client(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? SG_EXIT_USAGE : SG_EXIT_OK;
    }
    const char *sub = argv[1];
    struct opts o;
    int p = parse_opts(argc - 1, argv + 1, &o);
    if (p > 0) {
        usage(stdout);
        return SG_EXIT_OK;
    }
    if (p < 0) {
        usage(stderr);
        return SG_EXIT_USAGE;
    }
    int rest = argc - 1 - optind;
    int rc = SG_EXIT_USAGE;
    if (strcmp(sub, "add") == 0 && rest == 0)
        rc = cmd_add(&o);
    else if (strcmp(sub, "list") == 0 && rest == 0)
        rc = cmd_list(&o);
    else if (strcmp(sub, "remove") == 0 && rest == 1)
        rc = cmd_remove(&o, argv[1 + optind]);
    else
        usage(stderr);
    /* Back to root once the front store is closed (the account was only
     * assumed for it): the rest of the process, and its exit, are root's. */
    if (getuid() == 0 && geteuid() != 0 && sg_account_resume_root() != SIGNET_OK)
        rc = SG_EXIT_USAGE;
    return rc;
}
