/* signet user add | link | list | show | disable | enable | remove: the
 * people of a tenant (issue 13), kept in the front end's store
 * (store/people.h; no key material, so the CLI opens it directly, as for
 * clients). A person gets an id ("u" + 22 base64url characters of 16
 * random bytes: the `sub` of their tokens) and a one-time enrolment link
 * on which they register a passkey. The link's token (32 random bytes)
 * is printed once, inside the link, and stored only as its SHA-256: a
 * copy of the store hands out no working link (docs/people.md).
 *
 * A fresh link for someone who exists revokes their sessions and refresh
 * tokens, and once they hold a passkey it needs --reset, which the signer
 * records in the audit log (a "user_reset" note) before anything changes:
 * whoever can issue links could otherwise take over an account unseen. */
#include "cli/cmd.h"

#include <getopt.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "common/accounts.h"
#include "common/config.h"
#include "common/ipc.h"
#include "common/signer_client.h"
#include "store/people.h"
#include "store/store.h"
#include "util/b64url.h"
#include "util/buf.h"
#include "util/secret.h"
#include "util/sha256.h"
#include "util/strconv.h"

#define USER_NAME_MAX 64
#define USER_ID_BYTES 16
#define LINK_TOKEN_BYTES 32
#define LINK_LIFETIME_DEFAULT (24 * 3600)
#define LINK_LIFETIME_MAX (24 * 3600)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: signet user add --tenant T --name NAME [--email EMAIL]\n"
            "                       [--link-lifetime DURATION] [--reset] [--json]\n"
            "       signet user link --tenant T --name NAME [--reset]\n"
            "                        [--link-lifetime DURATION] [--json]\n"
            "       signet user list --tenant T [--json]\n"
            "       signet user show --tenant T --name NAME [--json]\n"
            "       signet user disable|enable|remove --tenant T --name NAME\n"
            "       (every form takes --state DIR)\n\n"
            "add creates a person (NAME: 1 to 64 of A-Z a-z 0-9 . _ @ -, unique in the\n"
            "tenant) and prints once a one-time enrolment link, <issuer>/enrol?token=...,\n"
            "on which they register a passkey (valid --link-lifetime, default and at\n"
            "most 24h). Only the link's SHA-256 is stored: it cannot be shown again.\n"
            "link issues a fresh link to someone who exists (add --reset does the same):\n"
            "it ends their earlier links, sessions and refresh tokens. Once they have a\n"
            "passkey they add more from their account page; a new link then needs\n"
            "--reset (e.g. a lost device), which the signer records in the audit log.\n"
            "list and show never print secrets. disable revokes the person's sessions\n"
            "and refresh tokens and refuses their sign-ins until enable; remove deletes\n"
            "them with their passkeys, links and sessions.\n");
}

struct opts {
    const char *state;
    const char *tenant;
    const char *name;
    const char *email;
    const char *link_lifetime;
    int reset;
    int json;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"tenant", required_argument, NULL, 't'},
        {"name", required_argument, NULL, 'n'},
        {"email", required_argument, NULL, 'e'},
        {"link-lifetime", required_argument, NULL, 'l'},
        {"reset", no_argument, NULL, 'r'},
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
        case 'n': o->name = optarg; break;
        case 'e': o->email = optarg; break;
        case 'l': o->link_lifetime = optarg; break;
        case 'r': o->reset = 1; break;
        case 'j': o->json = 1; break;
        case 'h': return 1;
        default: return -1;
        }
    }
    o->state = sg_cli_state_dir(o->state);
    return 0;
}

/* ---- shared with cmd_session.c (cmd.h) ---- */

int sg_cli_people_tenant(const char *who, const char *state, const char *tenant,
                         struct sg_config *cfg, const struct sg_tenant_cfg **t)
{
    if (tenant == NULL) {
        fprintf(stderr, "signet %s: --tenant is required\n", who);
        return SG_EXIT_USAGE;
    }
    char msg[768] = "";
    if (sg_config_load(state, cfg, msg, sizeof msg) != SIGNET_OK) {
        fprintf(stderr, "signet %s: %s\n", who, msg);
        return SG_EXIT_USAGE;
    }
    *t = sg_config_tenant_by_name(cfg, tenant);
    if (*t == NULL) {
        fprintf(stderr, "signet %s: no [tenant:%s] in %s\n", who, tenant, cfg->path);
        return SG_EXIT_USAGE;
    }
    return SG_EXIT_OK;
}

int sg_cli_people_store(const char *who, const char *state, const struct sg_config *cfg,
                        struct sg_store **store)
{
    struct sg_account front;
    if (geteuid() == 0 && sg_account_of_dir(state, SG_FRONT_DIR, &front) == SIGNET_OK &&
        front.uid != 0 && sg_account_assume(&front) != SIGNET_OK) {
        fprintf(stderr, "signet %s: cannot act as the front end's account\n", who);
        return SG_EXIT_USAGE;
    }
    signet_err err = sg_store_open(cfg->store, 0, store);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet %s: store %s: %s\n", who, cfg->store, signet_strerror(err));
        return SG_EXIT_USAGE;
    }
    return SG_EXIT_OK;
}

void sg_cli_iso_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)snprintf(buf, cap, "-");
}

/* ---- checks ---- */

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > USER_NAME_MAX)
        return 0;
    for (const char *c = s; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '@' || *c == '-'))
            return 0;
    return 1;
}

/* The shape only (local@domain.tld, printable, no spaces or specials):
 * signet sends no mail, the address is shown and put in `email`. */
static int email_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 5 || n >= SG_PEOPLE_EMAIL_MAX)
        return 0;
    const char *at = strchr(s, '@');
    if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
        return 0;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++)
        if (*c < 0x21 || *c > 0x7e || strchr("<>()[]\\,;:\"", *c) != NULL)
            return 0;
    const char *dom = at + 1;
    size_t dn = strlen(dom);
    return dn >= 3 && dom[0] != '.' && dom[dn - 1] != '.' && strchr(dom, '.') != NULL &&
           strstr(dom, "..") == NULL;
}

/* ---- output ---- */

static void print_json(json_t *doc)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    if (text != NULL)
        printf("%s\n", text);
    free(text);
}

static int not_found(const char *tenant, const char *name)
{
    fprintf(stderr, "signet user: tenant %s has no user '%s'\n", tenant, name);
    return SG_EXIT_FAIL;
}

static int store_failed(const char *what, signet_err err)
{
    fprintf(stderr, "signet user: %s: %s\n", what, signet_strerror(err));
    return SG_EXIT_USAGE;
}

/* ---- enrolment links ---- */

/* A fresh link: *token (secret buffer) holds its 43 characters, hash
 * their SHA-256 as stored. */
static int make_link(struct sg_secret **token, char hash[SG_PEOPLE_HASH_LEN + 1])
{
    uint8_t raw[LINK_TOKEN_BYTES], digest[32];
    size_t tlen = sg_b64url_encoded_len(sizeof raw);
    int rc = -1;
    if (RAND_bytes(raw, sizeof raw) != 1 || sg_secret_new(tlen + 1, token) != SIGNET_OK)
        goto out;
    if (sg_b64url_encode(raw, sizeof raw, (char *)(*token)->data, tlen + 1) != SIGNET_OK)
        goto out;
    (*token)->len = tlen;
    sg_sha256((*token)->data, tlen, digest);
    if (sg_b64url_encode(digest, sizeof digest, hash, SG_PEOPLE_HASH_LEN + 1) != SIGNET_OK)
        goto out;
    rc = 0;
out:
    sg_wipe(raw, sizeof raw);
    sg_wipe(digest, sizeof digest);
    if (rc != 0)
        sg_secret_free(token);
    return rc;
}

static int make_user_id(char id[SG_PEOPLE_ID_MAX])
{
    uint8_t raw[USER_ID_BYTES];
    id[0] = 'u';
    int ok = RAND_bytes(raw, sizeof raw) == 1 &&
             sg_b64url_encode(raw, sizeof raw, id + 1, SG_PEOPLE_ID_MAX - 1) == SIGNET_OK;
    sg_wipe(raw, sizeof raw);
    return ok ? 0 : -1;
}

/* Prints the one copy of the link there will ever be (stdout only). */
static int print_link(const struct opts *o, const struct sg_tenant_cfg *t,
                      const struct sg_user *u, const struct sg_secret *token, int64_t expires)
{
    size_t ilen = strlen(t->issuer);
    while (ilen > 0 && t->issuer[ilen - 1] == '/')
        ilen--;
    size_t cap = ilen + sizeof "/enrol?token=" + token->len;
    struct sg_secret *url = NULL;
    if (sg_secret_new(cap, &url) != SIGNET_OK)
        return SG_EXIT_USAGE;
    int n = snprintf((char *)url->data, cap, "%.*s/enrol?token=%s", (int)ilen, t->issuer,
                     (const char *)token->data);
    if (n < 0 || (size_t)n >= cap) {
        sg_secret_free(&url);
        return SG_EXIT_USAGE;
    }
    url->len = (size_t)n;
    char when[32];
    sg_cli_iso_time(expires, when, sizeof when);
    int rc = SG_EXIT_OK;
    if (o->json) {
        json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "user", u->name, "id", u->id,
                                "email", u->email, "enrolment_link", (const char *)url->data,
                                "expires", when, "expires_at", (json_int_t)expires);
        char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        json_decref(doc); /* jansson's copy of the link is freed (not wiped) here */
        if (text != NULL) {
            printf("%s\n", text);
            sg_wipe(text, strlen(text));
        } else {
            rc = SG_EXIT_USAGE;
        }
        free(text);
    } else {
        printf("user: %s\nid: %s\nenrolment_link: %s\nexpires: %s\n", u->name, u->id,
               (const char *)url->data, when);
    }
    (void)fflush(stdout);
    sg_secret_free(&url);
    return rc;
}

/* The audit record of a --reset, written by the signer before anything
 * changes: no record, no reset. */
static int audit_reset(const char *state, const struct sg_user *u, size_t passkeys)
{
    json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:I}", "action", "enrolment_link_reset",
                          "tenant", u->tenant, "user_id", u->id, "user", u->name, "passkeys",
                          (json_int_t)passkeys);
    char *text = f != NULL ? json_dumps(f, JSON_COMPACT) : NULL;
    json_decref(f);
    if (text == NULL)
        return SG_EXIT_USAGE;
    /* The signer is started as root (it becomes its own account). */
    if (getuid() == 0 && geteuid() != 0 && sg_account_resume_root() != SIGNET_OK) {
        free(text);
        return SG_EXIT_USAGE;
    }
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_note(&w, "user_reset", text, strlen(text));
    free(text);
    if (w.err != SIGNET_OK) {
        sg_wbuf_free(&w);
        return SG_EXIT_USAGE;
    }
    struct sg_signer_client *c = NULL;
    int rc = sg_cli_open_signer_ex(state, SG_SPAWN_NO_ADVANCE, &c);
    if (rc != SG_EXIT_OK) {
        sg_wbuf_free(&w);
        return rc;
    }
    signet_err status = SIGNET_OK;
    char *resp = NULL;
    signet_err err = sg_signer_call(c, SG_IPC_AUDIT_NOTE, w.data, w.len, &status, &resp, NULL);
    sg_signer_client_free(&c);
    sg_wbuf_free(&w);
    free(resp);
    if (err != SIGNET_OK || status != SIGNET_OK) {
        fprintf(stderr, "signet user: the signer did not record the reset in the audit log (%s): "
                        "nothing changed\n",
                signet_strerror(err != SIGNET_OK ? err : status));
        return SG_EXIT_USAGE;
    }
    return SG_EXIT_OK;
}

static int link_lifetime(const struct opts *o, int64_t *out)
{
    *out = LINK_LIFETIME_DEFAULT;
    if (o->link_lifetime == NULL)
        return 0;
    if (sg_parse_duration(o->link_lifetime, SG_DUR_SECONDS, SG_DURATION_MAX_S, out) !=
            SIGNET_OK ||
        *out <= 0 || *out > LINK_LIFETIME_MAX) {
        fprintf(stderr, "signet user: --link-lifetime must be a duration of at most 24h\n");
        return -1;
    }
    return 0;
}

/* A fresh link for u, who exists: it ends their other links, sessions and
 * refresh tokens. Once they have a passkey it needs --reset (audited). */
static int relink(const struct opts *o, const struct sg_config *cfg,
                  const struct sg_tenant_cfg *t, struct sg_store **store, const struct sg_user *u,
                  int64_t lifetime)
{
    struct sg_passkey *pk = NULL;
    size_t npk = 0;
    signet_err err = sg_people_passkey_list(*store, t->name, u->id, &pk, &npk);
    free(pk);
    if (err != SIGNET_OK)
        return store_failed("passkeys", err);
    if (u->disabled) {
        fprintf(stderr, "signet user: '%s' is disabled: 'signet user enable' first\n", u->name);
        return SG_EXIT_FAIL;
    }
    if (npk > 0 && !o->reset) {
        fprintf(stderr,
                "signet user: '%s' already has %zu passkey(s): they add another from their "
                "account page (%s/account), signed in with one they have. If they have lost "
                "them all, --reset issues a new enrolment link, revokes their sessions and is "
                "recorded in the audit log.\n",
                u->name, npk, t->issuer);
        return SG_EXIT_FAIL;
    }
    if (o->reset) {
        /* The store is closed while the signer runs (started as root). */
        sg_store_close(store);
        int rc = audit_reset(o->state, u, npk);
        if (rc != SG_EXIT_OK)
            return rc;
        rc = sg_cli_people_store("user", o->state, cfg, store);
        if (rc != SG_EXIT_OK)
            return rc;
    }
    struct sg_secret *token = NULL;
    char hash[SG_PEOPLE_HASH_LEN + 1];
    if (make_link(&token, hash) != 0) {
        fprintf(stderr, "signet user: cannot make a link\n");
        return SG_EXIT_USAGE;
    }
    int64_t now = (int64_t)time(NULL);
    size_t revoked = 0;
    err = sg_store_begin(*store);
    if (err == SIGNET_OK) {
        err = sg_people_session_revoke_user(*store, t->name, u->id, now, &revoked);
        if (err == SIGNET_OK)
            err = sg_people_enrol_create(*store, t->name, u->id, hash, now + lifetime, now);
        if (err == SIGNET_OK)
            err = sg_store_commit(*store);
        else
            sg_store_rollback(*store);
    }
    sg_wipe(hash, sizeof hash);
    int rc;
    if (err != SIGNET_OK) {
        rc = store_failed("cannot issue the link", err);
    } else {
        if (revoked > 0 || o->reset)
            fprintf(stderr, "signet user: revoked %zu session(s) of '%s'%s\n", revoked, u->name,
                    o->reset ? "; the reset is in the audit log" : "");
        rc = print_link(o, t, u, token, now + lifetime);
    }
    sg_secret_free(&token);
    return rc;
}

static int cmd_add(const struct opts *o, int link_only)
{
    if (o->name == NULL || !name_ok(o->name)) {
        fprintf(stderr, "signet user: --name must be 1 to %d of A-Z a-z 0-9 . _ @ -\n",
                USER_NAME_MAX);
        return SG_EXIT_USAGE;
    }
    if (o->email != NULL && (link_only || !email_ok(o->email))) {
        fprintf(stderr, link_only ? "signet user: --email is for add\n"
                                  : "signet user: --email must look like name@example.com\n");
        return SG_EXIT_USAGE;
    }
    int64_t lifetime = 0;
    if (link_lifetime(o, &lifetime) != 0)
        return SG_EXIT_USAGE;
    struct sg_config cfg;
    const struct sg_tenant_cfg *t = NULL;
    struct sg_store *store = NULL;
    int rc = sg_cli_people_tenant("user", o->state, o->tenant, &cfg, &t);
    if (rc == SG_EXIT_OK)
        rc = sg_cli_people_store("user", o->state, &cfg, &store);
    if (rc != SG_EXIT_OK)
        return rc;
    struct sg_user u;
    memset(&u, 0, sizeof u);
    signet_err err = sg_people_user_by_name(store, t->name, o->name, &u);
    if (err == SIGNET_OK) {
        if (link_only || o->reset) {
            rc = relink(o, &cfg, t, &store, &u, lifetime);
        } else {
            fprintf(stderr,
                    "signet user: tenant %s already has a user '%s' (a fresh enrolment link: "
                    "signet user link --tenant %s --name %s)\n",
                    t->name, o->name, t->name, o->name);
            rc = SG_EXIT_FAIL;
        }
        goto out;
    }
    if (err != SIGNET_ERR_NOT_FOUND) {
        rc = store_failed("users", err);
        goto out;
    }
    if (link_only) {
        rc = not_found(t->name, o->name);
        goto out;
    }
    (void)snprintf(u.tenant, sizeof u.tenant, "%s", t->name);
    (void)snprintf(u.name, sizeof u.name, "%s", o->name);
    (void)snprintf(u.email, sizeof u.email, "%s", o->email != NULL ? o->email : "");
    u.created_at = (int64_t)time(NULL);
    struct sg_secret *token = NULL;
    char hash[SG_PEOPLE_HASH_LEN + 1];
    if (make_user_id(u.id) != 0 || make_link(&token, hash) != 0) {
        fprintf(stderr, "signet user: no randomness\n");
        rc = SG_EXIT_USAGE;
        goto out;
    }
    int64_t now = u.created_at;
    err = sg_store_begin(store);
    if (err == SIGNET_OK) {
        err = sg_people_user_add(store, &u);
        if (err == SIGNET_OK)
            err = sg_people_enrol_create(store, t->name, u.id, hash, now + lifetime, now);
        if (err == SIGNET_OK)
            err = sg_store_commit(store);
        else
            sg_store_rollback(store);
    }
    sg_wipe(hash, sizeof hash);
    if (err == SIGNET_ERR_EXISTS) {
        fprintf(stderr, "signet user: tenant %s already has a user '%s'\n", t->name, o->name);
        rc = SG_EXIT_FAIL;
    } else if (err != SIGNET_OK) {
        rc = store_failed("cannot add the user", err);
    } else {
        rc = print_link(o, t, &u, token, now + lifetime);
    }
    sg_secret_free(&token);
out:
    sg_store_close(&store);
    return rc;
}

static int cmd_list(const struct opts *o)
{
    struct sg_config cfg;
    const struct sg_tenant_cfg *t = NULL;
    struct sg_store *store = NULL;
    int rc = sg_cli_people_tenant("user", o->state, o->tenant, &cfg, &t);
    if (rc == SG_EXIT_OK)
        rc = sg_cli_people_store("user", o->state, &cfg, &store);
    if (rc != SG_EXIT_OK)
        return rc;
    struct sg_user *us = NULL;
    size_t n = 0;
    signet_err err = sg_people_user_list(store, t->name, &us, &n);
    json_t *arr = o->json ? json_array() : NULL;
    if (err == SIGNET_OK && !o->json)
        printf("%-24s  %-23s  %-8s  %-8s  %s\n", "NAME", "ID", "DISABLED", "PASSKEYS", "CREATED");
    for (size_t i = 0; err == SIGNET_OK && i < n; i++) {
        struct sg_passkey *pk = NULL;
        size_t npk = 0;
        err = sg_people_passkey_list(store, t->name, us[i].id, &pk, &npk);
        free(pk);
        if (err != SIGNET_OK)
            break;
        char created[32];
        sg_cli_iso_time(us[i].created_at, created, sizeof created);
        if (arr != NULL) {
            if (json_array_append_new(
                    arr, json_pack("{s:s, s:s, s:s, s:b, s:I, s:s, s:I}", "name", us[i].name,
                                   "id", us[i].id, "email", us[i].email, "disabled",
                                   us[i].disabled != 0, "passkeys", (json_int_t)npk, "created",
                                   created, "created_at", (json_int_t)us[i].created_at)) != 0)
                err = SIGNET_ERR_NOMEM;
        } else {
            printf("%-24s  %-23s  %-8s  %-8zu  %s\n", us[i].name, us[i].id,
                   us[i].disabled ? "yes" : "no", npk, created);
        }
    }
    sg_store_close(&store);
    free(us);
    if (err != SIGNET_OK) {
        json_decref(arr);
        return store_failed("users", err);
    }
    if (arr != NULL)
        print_json(arr);
    json_decref(arr);
    return SG_EXIT_OK;
}

static json_t *passkey_json(const struct sg_passkey *p)
{
    char created[32], used[32];
    char *cred = NULL;
    sg_cli_iso_time(p->created_at, created, sizeof created);
    sg_cli_iso_time(p->last_used_at, used, sizeof used);
    if (sg_b64url_encode_alloc(p->cred_id, p->cred_id_len, &cred) != SIGNET_OK)
        return NULL;
    json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:I, s:s, s:I}", "credential_id",
                          cred, "aaguid", p->aaguid, "kind",
                          (p->flags & SG_PASSKEY_BE) != 0 ? "synced" : "device-bound", "alg",
                          p->alg, "sign_count", (json_int_t)p->sign_count, "transports",
                          p->transports, "created", created, "created_at",
                          (json_int_t)p->created_at, "last_used", used, "last_used_at",
                          (json_int_t)p->last_used_at);
    free(cred);
    return j;
}

static json_t *session_json(const struct sg_session *x)
{
    char created[32], seen[32], auth[32], ends[32];
    sg_cli_iso_time(x->created_at, created, sizeof created);
    sg_cli_iso_time(x->last_seen, seen, sizeof seen);
    sg_cli_iso_time(x->auth_time, auth, sizeof auth);
    sg_cli_iso_time(x->expires_at < x->idle_expires ? x->expires_at : x->idle_expires, ends,
                    sizeof ends);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "sid", x->sid, "acr", x->acr, "amr",
                     x->amr, "auth_time", auth, "created", created, "last_seen", seen, "expires",
                     ends);
}

static int cmd_show(const struct opts *o)
{
    if (o->name == NULL) {
        fprintf(stderr, "signet user: --name is required\n");
        return SG_EXIT_USAGE;
    }
    struct sg_config cfg;
    const struct sg_tenant_cfg *t = NULL;
    struct sg_store *store = NULL;
    int rc = sg_cli_people_tenant("user", o->state, o->tenant, &cfg, &t);
    if (rc == SG_EXIT_OK)
        rc = sg_cli_people_store("user", o->state, &cfg, &store);
    if (rc != SG_EXIT_OK)
        return rc;
    struct sg_user u;
    memset(&u, 0, sizeof u);
    struct sg_passkey *pk = NULL;
    struct sg_session *ss = NULL;
    size_t npk = 0, ns = 0;
    signet_err err = sg_people_user_by_name(store, t->name, o->name, &u);
    if (err == SIGNET_OK)
        err = sg_people_passkey_list(store, t->name, u.id, &pk, &npk);
    if (err == SIGNET_OK)
        err = sg_people_session_list(store, t->name, u.id, (int64_t)time(NULL), &ss, &ns);
    sg_store_close(&store);
    if (err == SIGNET_ERR_NOT_FOUND) {
        rc = not_found(t->name, o->name);
        goto out;
    }
    if (err != SIGNET_OK) {
        rc = store_failed("users", err);
        goto out;
    }
    char created[32];
    sg_cli_iso_time(u.created_at, created, sizeof created);
    if (o->json) {
        json_t *pks = json_array(), *sess = json_array();
        for (size_t i = 0; pks != NULL && i < npk; i++)
            if (json_array_append_new(pks, passkey_json(&pk[i])) != 0)
                rc = SG_EXIT_USAGE;
        for (size_t i = 0; sess != NULL && i < ns; i++)
            if (json_array_append_new(sess, session_json(&ss[i])) != 0)
                rc = SG_EXIT_USAGE;
        json_t *doc = json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:o, s:o}", "name", u.name, "id",
                                u.id, "email", u.email, "disabled", u.disabled != 0, "created",
                                created, "created_at", (json_int_t)u.created_at, "passkeys", pks,
                                "sessions", sess);
        if (doc == NULL || rc != SG_EXIT_OK) {
            rc = SG_EXIT_USAGE;
        } else {
            print_json(doc);
        }
        json_decref(doc);
        goto out;
    }
    printf("user: %s\nid: %s\nemail: %s\ndisabled: %s\ncreated: %s\n", u.name, u.id,
           u.email[0] != '\0' ? u.email : "-", u.disabled ? "yes" : "no", created);
    printf("passkeys: %zu\n", npk);
    for (size_t i = 0; i < npk; i++) {
        char pc[32], pu[32];
        sg_cli_iso_time(pk[i].created_at, pc, sizeof pc);
        sg_cli_iso_time(pk[i].last_used_at, pu, sizeof pu);
        printf("  aaguid %s  %s  created %s  last used %s  sign count %lu\n", pk[i].aaguid,
               (pk[i].flags & SG_PASSKEY_BE) != 0 ? "synced" : "device-bound", pc, pu,
               (unsigned long)pk[i].sign_count);
    }
    printf("sessions: %zu\n", ns);
    for (size_t i = 0; i < ns; i++) {
        char sc[32], sl[32];
        sg_cli_iso_time(ss[i].created_at, sc, sizeof sc);
        sg_cli_iso_time(ss[i].last_seen, sl, sizeof sl);
        printf("  %s  created %s  last seen %s  %s\n", ss[i].sid, sc, sl, ss[i].acr);
    }
out:
    free(pk);
    free(ss);
    return rc;
}

/* disable, enable, remove */
static int cmd_state(const struct opts *o, const char *sub)
{
    if (o->name == NULL) {
        fprintf(stderr, "signet user: --name is required\n");
        return SG_EXIT_USAGE;
    }
    struct sg_config cfg;
    const struct sg_tenant_cfg *t = NULL;
    struct sg_store *store = NULL;
    int rc = sg_cli_people_tenant("user", o->state, o->tenant, &cfg, &t);
    if (rc == SG_EXIT_OK)
        rc = sg_cli_people_store("user", o->state, &cfg, &store);
    if (rc != SG_EXIT_OK)
        return rc;
    struct sg_user u;
    signet_err err = sg_people_user_by_name(store, t->name, o->name, &u);
    if (err == SIGNET_OK) {
        if (strcmp(sub, "remove") == 0)
            err = sg_people_user_remove(store, t->name, u.id);
        else
            err = sg_people_user_set_disabled(store, t->name, u.id, strcmp(sub, "disable") == 0,
                                              (int64_t)time(NULL));
    }
    sg_store_close(&store);
    if (err == SIGNET_ERR_NOT_FOUND)
        return not_found(t->name, o->name);
    if (err != SIGNET_OK)
        return store_failed(sub, err);
    if (strcmp(sub, "remove") == 0)
        printf("removed %s (%s)\n", u.name, u.id);
    else if (strcmp(sub, "disable") == 0)
        printf("disabled %s (%s): sessions and refresh tokens revoked\n", u.name, u.id);
    else
        printf("enabled %s (%s)\n", u.name, u.id);
    return SG_EXIT_OK;
}

int sg_cmd_user(int argc, char **argv)
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
    int rc = SG_EXIT_USAGE;
    int args_ok = argc - 1 - optind == 0;
    if (!args_ok)
        sub = "";
    if (strcmp(sub, "add") == 0)
        rc = cmd_add(&o, 0);
    else if (strcmp(sub, "link") == 0)
        rc = cmd_add(&o, 1);
    else if (strcmp(sub, "list") == 0)
        rc = cmd_list(&o);
    else if (strcmp(sub, "show") == 0)
        rc = cmd_show(&o);
    else if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0 ||
             strcmp(sub, "remove") == 0)
        rc = cmd_state(&o, sub);
    else
        usage(stderr);
    /* Back to root once the front store is closed (the account was only
     * assumed for it). */
    if (getuid() == 0 && geteuid() != 0 && sg_account_resume_root() != SIGNET_OK)
        rc = SG_EXIT_USAGE;
    return rc;
}
