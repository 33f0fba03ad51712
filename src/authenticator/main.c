/* signet-authenticator: approves (or refuses) sign-ins from a person's own
 * device (issue 14, docs/authenticator.md). Enrolled once with a one-time
 * code; afterwards every request carries a proof signed by the device key,
 * and an approval carries the two-digit number the person read on the
 * sign-in page. Exit codes: 0 done, 1 refused by the server, 2 usage,
 * 3 local error (files, keys, network). */
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "authenticator/conf.h"
#include "authenticator/devkey.h"
#include "authenticator/net.h"
#include "util/secret.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_LOCAL 3

#define ID_MAX 128u   /* an approval id */
#define CODE_MAX 128u /* an enrolment code */
#define SHOW_MAX 200u /* characters of a server string shown */

static const char usage_text[] =
    "usage: signet-authenticator [--dir DIR] COMMAND [ARGS]\n"
    "\n"
    "  enrol --issuer URL --code CODE [--name NAME]\n"
    "                         register this device with the one-time enrolment code\n"
    "                         shown on your account page (--code - reads it from stdin)\n"
    "  pending [--json]       list the sign-ins waiting for your answer\n"
    "  prompt                 answer them one by one: type the number shown on the\n"
    "                         sign-in page to approve; empty or n denies; ! reports\n"
    "                         \"this wasn't me\"\n"
    "  approve ID --number NN approve sign-in ID, NN being the number it shows\n"
    "  deny ID                refuse sign-in ID\n"
    "  not-me ID              refuse sign-in ID as not yours: your sessions and refresh\n"
    "                         tokens are revoked and an alert is raised\n"
    "\n"
    "  --dir DIR              where device.key and device.json are kept (default\n"
    "                         $XDG_CONFIG_HOME/signet-authenticator, else\n"
    "                         ~/.config/signet-authenticator)\n"
    "\n"
    "The issuer must be https:// (http:// only on localhost, 127.0.0.1 and [::1]).\n"
    "Exit status: 0 done, 1 refused by the server, 2 usage, 3 local error.\n";

static int usage(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "signet-authenticator: %s\n", why);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

static int local_error(const char *what, const char *why)
{
    fprintf(stderr, "signet-authenticator: %s%s%s\n", what, why != NULL && why[0] ? ": " : "",
            why != NULL ? why : "");
    return EXIT_LOCAL;
}

/* ---- showing what the server says ------------------------------------- */

/* A copy of untrusted text fit for a terminal: valid UTF-8 only, without
 * C0/C1 controls or bidirectional overrides (U+202A..U+202E,
 * U+2066..U+2069), each replaced by '?'; at most SHOW_MAX characters. */
static void clean(const char *in, char *out, size_t cap)
{
    size_t o = 0, shown = 0;
    const unsigned char *s = (const unsigned char *)(in != NULL ? in : "");
    while (*s != '\0' && shown < SHOW_MAX && o + 5 < cap) {
        unsigned c = s[0];
        size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                             : (c & 0xf8) == 0xf0    ? 4
                                                     : 0;
        uint32_t cp = k == 1 ? c : k == 2 ? c & 0x1f : k == 3 ? c & 0x0f : c & 0x07;
        int ok = k != 0;
        for (size_t j = 1; ok && j < k; j++) {
            if ((s[j] & 0xc0) != 0x80)
                ok = 0;
            else
                cp = (cp << 6) | (s[j] & 0x3f);
        }
        if (ok && ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
                   cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
            ok = 0; /* overlong, surrogate, out of range */
        if (ok && (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0x202a && cp <= 0x202e) ||
                   (cp >= 0x2066 && cp <= 0x2069)))
            ok = 0;
        if (ok) {
            memcpy(out + o, s, k);
            o += k;
            s += k;
        } else {
            out[o++] = '?';
            s += 1; /* resynchronise on the next byte */
            while (*s != '\0' && (*s & 0xc0) == 0x80)
                s++;
        }
        shown++;
    }
    if (*s != '\0' && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static const char *str_of(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)
               ? json_string_value(v)
               : NULL;
}

/* The server's refusal: its error_description (and error), cleaned. */
static int refused(const struct sa_reply *r)
{
    char err[SHOW_MAX * 4 + 8], desc[SHOW_MAX * 4 + 8];
    clean(str_of(r->doc, "error"), err, sizeof err);
    clean(str_of(r->doc, "error_description"), desc, sizeof desc);
    fprintf(stderr, "signet-authenticator: refused by the server (HTTP %ld%s%s): %s\n", r->status,
            err[0] ? ", " : "", err, desc[0] ? desc : "no description");
    return EXIT_REFUSED;
}

/* ---- argument checks ---------------------------------------------------- */

/* printable ASCII without spaces, 1..max bytes */
static int token_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

static int number_ok(const char *s)
{
    return s != NULL && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] == '\0';
}

/* A line from f without its line end, surrounding blanks removed; the
 * rest of an over-long line is consumed. -1 at end of input. */
static int read_line(FILE *f, char *buf, size_t cap)
{
    if (fgets(buf, (int)cap, f) == NULL)
        return -1;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] != '\n' && !feof(f)) {
        int c;
        while ((c = fgetc(f)) != EOF && c != '\n')
            ;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '\t'))
        buf[--n] = '\0';
    size_t i = 0;
    while (buf[i] == ' ' || buf[i] == '\t')
        i++;
    memmove(buf, buf + i, n - i + 1);
    return 0;
}

/* ---- the device: directory, key, configuration -------------------------- */

struct device {
    char dir[SA_PATH_MAX];
    struct sa_conf conf;
    EVP_PKEY *key;
};

static int device_open(const char *dir_opt, struct device *d)
{
    const char *why = NULL;
    char path[SA_PATH_MAX];
    memset(d, 0, sizeof *d);
    if (sa_dir_resolve(dir_opt, d->dir) != SIGNET_OK)
        return local_error("no directory", "give --dir, or set HOME or XDG_CONFIG_HOME");
    if (sa_dir_prepare(d->dir, 0, &why) != SIGNET_OK)
        return local_error(d->dir, why);
    if (sa_path(d->dir, "device.json", path) != SIGNET_OK ||
        sa_conf_load(path, &d->conf, &why) != SIGNET_OK)
        return local_error(path, why);
    signet_err err = sa_path(d->dir, "device.key", path);
    if (err == SIGNET_OK)
        err = sa_key_load(path, &d->key);
    if (err != SIGNET_OK)
        return local_error(path, err == SIGNET_ERR_PERMISSION
                                     ? "readable by others, or a symlink: refused"
                                 : err == SIGNET_ERR_UNSUPPORTED ? "not a P-256 private key"
                                                                 : signet_strerror(err));
    return 0;
}

static void device_close(struct device *d)
{
    EVP_PKEY_free(d->key);
    d->key = NULL;
}

/* issuer + path into out */
static int endpoint(const struct sa_conf *c, const char *path, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s%s", c->issuer, path);
    return n > 0 && (size_t)n < cap;
}

/* ---- enrol -------------------------------------------------------------- */

static int read_code(char *code, size_t cap)
{
    if (isatty(STDIN_FILENO))
        fputs("enrolment code: ", stderr);
    return read_line(stdin, code, cap);
}

static int cmd_enrol(const char *dir_opt, int argc, char **argv)
{
    const char *issuer_arg = NULL, *code_arg = NULL, *name_arg = NULL;
    for (int i = 0; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--issuer") == 0)
            issuer_arg = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--code") == 0)
            code_arg = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--name") == 0)
            name_arg = argv[++i];
        else
            return usage("enrol: unknown or incomplete argument");
    }
    if (issuer_arg == NULL || code_arg == NULL)
        return usage("enrol needs --issuer and --code");
    struct sa_conf conf;
    memset(&conf, 0, sizeof conf);
    const char *why = NULL;
    if (sa_issuer_check(issuer_arg, conf.issuer, &why) != SIGNET_OK)
        return usage(why);
    if (name_arg != NULL && !sa_name_ok(name_arg))
        return usage("the name must be 1 to 64 bytes of UTF-8 without control characters");
    char host[SA_NAME_MAX + 1] = "";
    if (name_arg == NULL && (gethostname(host, sizeof host) != 0 || !sa_name_ok(host)))
        (void)snprintf(host, sizeof host, "signet-authenticator");
    (void)snprintf(conf.name, sizeof conf.name, "%s", name_arg != NULL ? name_arg : host);

    char code[CODE_MAX + 2] = "";
    if (strcmp(code_arg, "-") == 0) {
        if (read_code(code, sizeof code) != 0)
            return usage("no enrolment code on standard input");
    } else {
        (void)snprintf(code, sizeof code, "%s", code_arg);
    }
    if (!token_ok(code, CODE_MAX))
        return usage("the enrolment code must be 1 to 128 printable characters");

    int rc = EXIT_LOCAL;
    EVP_PKEY *key = NULL;
    char *body = NULL;
    json_t *doc = NULL;
    struct sa_reply reply = {0, NULL};
    char dir[SA_PATH_MAX], key_path[SA_PATH_MAX], conf_path[SA_PATH_MAX], errs[512];
    char jwk[SA_JWK_TEXT_MAX], id[SG_THUMBPRINT_LEN + 1], url[SA_ISSUER_MAX + 64];
    int key_written = 0;
    struct stat st;
    if (sa_dir_resolve(dir_opt, dir) != SIGNET_OK) {
        rc = local_error("no directory", "give --dir, or set HOME or XDG_CONFIG_HOME");
        goto out;
    }
    if (sa_dir_prepare(dir, 1, &why) != SIGNET_OK) {
        rc = local_error(dir, why);
        goto out;
    }
    if (sa_path(dir, "device.key", key_path) != SIGNET_OK ||
        sa_path(dir, "device.json", conf_path) != SIGNET_OK ||
        !endpoint(&conf, "/approver/register", url, sizeof url)) {
        rc = local_error(dir, "path too long");
        goto out;
    }
    if (lstat(key_path, &st) == 0 || lstat(conf_path, &st) == 0) {
        rc = local_error(dir, "this device is already enrolled there (device.key or device.json "
                              "exists; nothing was overwritten)");
        goto out;
    }
    signet_err err = sa_key_generate(&key);
    if (err == SIGNET_OK)
        err = sa_key_save(key, key_path);
    if (err != SIGNET_OK) {
        rc = local_error(key_path, err == SIGNET_ERR_EXISTS
                                       ? "exists: nothing was overwritten"
                                       : "cannot create the device key");
        goto out;
    }
    key_written = 1;
    if (sa_key_jwk(key, jwk, id) != SIGNET_OK) {
        rc = local_error("device key", "cannot compute its JWK");
        goto out;
    }
    doc = json_pack("{s:s, s:s}", "code", code, "name", conf.name);
    body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (body == NULL) {
        rc = local_error("enrol", "out of memory");
        goto out;
    }
    err = sa_call(key, NULL, "POST", url, body, &reply, errs, sizeof errs);
    if (err != SIGNET_OK) {
        rc = local_error(url, errs);
        goto out;
    }
    if (reply.status != 201 && reply.status != 200) {
        rc = refused(&reply);
        goto out;
    }
    const char *got_id = str_of(reply.doc, "device_id");
    const char *user = str_of(reply.doc, "user");
    if (got_id == NULL || strcmp(got_id, id) != 0) {
        rc = local_error(url, "the server's device_id is not this key's thumbprint");
        goto out;
    }
    if (!sa_name_ok(user)) {
        rc = local_error(url, "the server named no valid user");
        goto out;
    }
    (void)snprintf(conf.device_id, sizeof conf.device_id, "%s", id);
    (void)snprintf(conf.user, sizeof conf.user, "%s", user);
    if (sa_conf_save(conf_path, &conf) != SIGNET_OK) {
        rc = local_error(conf_path, "cannot write it (the server has the device registered: "
                                    "remove it from your account page)");
        goto out;
    }
    key_written = 0; /* enrolled: the key stays */
    char shown[SHOW_MAX * 4 + 8];
    clean(conf.user, shown, sizeof shown);
    printf("enrolled as %s's device \"%s\" at %s\ndevice id %s\n", shown, conf.name, conf.issuer,
           conf.device_id);
    rc = 0;
out:
    /* a key the server never took is removed, so that enrol can run again */
    if (key_written)
        (void)unlink(key_path);
    sg_wipe(code, sizeof code);
    if (body != NULL)
        sg_wipe(body, strlen(body));
    free(body);
    json_decref(doc);
    sa_reply_clear(&reply);
    EVP_PKEY_free(key);
    return rc;
}

/* ---- pending ------------------------------------------------------------ */

struct approval {
    const char *id, *client, *client_name, *address, *location;
    int64_t created_at, expires_at;
};

static int approval_of(const json_t *a, struct approval *out)
{
    memset(out, 0, sizeof *out);
    const json_t *c = json_object_get(a, "created_at");
    const json_t *e = json_object_get(a, "expires_at");
    out->id = str_of(a, "id");
    out->client = str_of(a, "client");
    out->client_name = str_of(a, "client_name");
    out->address = str_of(a, "address");
    out->location = str_of(a, "location");
    if (!json_is_object(a) || out->id == NULL || !token_ok(out->id, ID_MAX) ||
        out->client == NULL || out->address == NULL || !json_is_integer(c) || !json_is_integer(e))
        return 0;
    out->created_at = (int64_t)json_integer_value(c);
    out->expires_at = (int64_t)json_integer_value(e);
    return 1;
}

static void show_approval(const struct approval *a, int64_t now)
{
    char id[SHOW_MAX * 4 + 8], name[SHOW_MAX * 4 + 8], client[SHOW_MAX * 4 + 8];
    char addr[SHOW_MAX * 4 + 8], loc[SHOW_MAX * 4 + 8], when[64] = "?";
    clean(a->id, id, sizeof id);
    clean(a->client_name != NULL && a->client_name[0] ? a->client_name : a->client, name,
          sizeof name);
    clean(a->client, client, sizeof client);
    clean(a->address, addr, sizeof addr);
    clean(a->location, loc, sizeof loc);
    time_t t = (time_t)a->created_at;
    struct tm tm;
    if (localtime_r(&t, &tm) != NULL)
        (void)strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", &tm);
    int64_t left = a->expires_at - now;
    printf("sign-in %s\n", id);
    printf("  application  %s (%s)\n", name, client);
    printf("  from         %s\n", addr);
    if (loc[0] != '\0')
        printf("  location     %s\n", loc);
    printf("  requested    %s\n", when);
    printf("  answer within %lld s\n", (long long)(left > 0 ? left : 0));
}

/* GET the pending approvals into *reply; 0 or an exit code. */
static int fetch_pending(const struct device *d, struct sa_reply *reply, const json_t **list)
{
    char url[SA_ISSUER_MAX + 64], errs[512];
    if (!endpoint(&d->conf, "/approver/pending", url, sizeof url))
        return local_error("issuer", "too long");
    if (sa_call(d->key, d->conf.device_id, "GET", url, NULL, reply, errs, sizeof errs) !=
        SIGNET_OK)
        return local_error(url, errs);
    if (reply->status != 200)
        return refused(reply);
    *list = json_object_get(reply->doc, "approvals");
    if (!json_is_array(*list))
        return local_error(url, "the answer has no approvals array");
    return 0;
}

static int cmd_pending(const char *dir_opt, int argc, char **argv)
{
    int as_json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else
            return usage("pending: unknown argument");
    }
    struct device d;
    int rc = device_open(dir_opt, &d);
    if (rc != 0)
        return rc;
    struct sa_reply reply = {0, NULL};
    const json_t *list = NULL;
    rc = fetch_pending(&d, &reply, &list);
    if (rc == 0 && as_json) {
        /* escaped to ASCII: nothing in it can drive a terminal */
        json_t *out = json_pack("{s:O}", "approvals", list);
        char *text = out != NULL ? json_dumps(out, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
        if (text == NULL)
            rc = local_error("pending", "out of memory");
        else
            printf("%s\n", text);
        free(text);
        json_decref(out);
    } else if (rc == 0) {
        int64_t now = (int64_t)time(NULL);
        size_t i = 0, shown = 0;
        const json_t *a = NULL;
        json_array_foreach(list, i, a) {
            struct approval ap;
            if (!approval_of(a, &ap)) {
                printf("(an approval the server described badly was skipped)\n");
                continue;
            }
            if (shown++ > 0)
                printf("\n");
            show_approval(&ap, now);
        }
        if (shown == 0)
            printf("no sign-in is waiting for an answer\n");
    }
    sa_reply_clear(&reply);
    device_close(&d);
    return rc;
}

/* ---- answers ------------------------------------------------------------ */

/* POST {id, number, decision}; prints the outcome. 0 or an exit code. */
static int answer(const struct device *d, const char *id, const char *number,
                  const char *decision)
{
    char url[SA_ISSUER_MAX + 64], errs[512];
    if (!endpoint(&d->conf, "/approver/answer", url, sizeof url))
        return local_error("issuer", "too long");
    json_t *doc = json_pack("{s:s, s:s, s:s}", "id", id, "number", number, "decision", decision);
    char *body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (body == NULL)
        return local_error("answer", "out of memory");
    struct sa_reply reply = {0, NULL};
    int rc = 0;
    if (sa_call(d->key, d->conf.device_id, "POST", url, body, &reply, errs, sizeof errs) !=
        SIGNET_OK) {
        rc = local_error(url, errs);
        goto out;
    }
    if (reply.status != 200) {
        rc = refused(&reply);
        goto out;
    }
    const char *result = str_of(reply.doc, "result");
    if (result != NULL && strcmp(result, "approved") == 0) {
        printf("approved: the sign-in goes on\n");
    } else if (result != NULL && strcmp(result, "denied") == 0) {
        printf("denied: the sign-in was refused\n");
    } else if (result != NULL && strcmp(result, "reported") == 0) {
        printf("reported: the sign-in was refused, your sessions and refresh tokens were "
               "revoked and an alert was raised\n");
    } else if (result != NULL && strcmp(result, "wrong_number") == 0) {
        fprintf(stderr, "signet-authenticator: wrong number: the sign-in was not approved\n");
        rc = EXIT_REFUSED;
    } else {
        rc = local_error(url, "the server's answer has no known result");
    }
out:
    free(body);
    sa_reply_clear(&reply);
    return rc;
}

static int cmd_answer(const char *dir_opt, const char *decision, int argc, char **argv)
{
    const char *id = NULL, *number = NULL;
    int approve = strcmp(decision, "approve") == 0;
    for (int i = 0; i < argc; i++) {
        if (approve && i + 1 < argc && strcmp(argv[i], "--number") == 0)
            number = argv[++i];
        else if (id == NULL && i + 1 < argc && strcmp(argv[i], "--") == 0)
            id = argv[++i];
        else if (id == NULL && (argv[i][0] != '-' || (argv[i][1] != '-' && argv[i][1] != '\0')))
            id = argv[i]; /* an ID may begin with '-' (base64url); options begin with "--" */
        else
            return usage("unknown or incomplete argument");
    }
    if (id == NULL || !token_ok(id, ID_MAX))
        return usage("give the sign-in's ID (as pending shows it)");
    if (approve && !number_ok(number))
        return usage("approve needs --number NN: the two digits shown on the sign-in page");
    struct device d;
    int rc = device_open(dir_opt, &d);
    if (rc != 0)
        return rc;
    rc = answer(&d, id, approve ? number : "", strcmp(decision, "not-me") == 0 ? "not_me"
                                               : approve                       ? "approve"
                                                                               : "deny");
    device_close(&d);
    return rc;
}

/* ---- prompt ------------------------------------------------------------- */

static int cmd_prompt(const char *dir_opt, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return usage("prompt takes no argument");
    struct device d;
    int rc = device_open(dir_opt, &d);
    if (rc != 0)
        return rc;
    struct sa_reply reply = {0, NULL};
    const json_t *list = NULL;
    rc = fetch_pending(&d, &reply, &list);
    size_t i = 0, asked = 0;
    const json_t *a = NULL;
    int eof = 0;
    if (rc == 0) {
        json_array_foreach(list, i, a) {
            struct approval ap;
            int64_t now = (int64_t)time(NULL);
            if (eof)
                break;
            if (!approval_of(a, &ap) || ap.expires_at <= now)
                continue;
            if (asked++ > 0)
                printf("\n");
            show_approval(&ap, now);
            for (int tries = 0; tries < 3; tries++) {
                char line[64];
                printf("Type the number shown on the sign-in page to approve it\n"
                       "(empty or n: deny; !: this wasn't me): ");
                fflush(stdout);
                if (read_line(stdin, line, sizeof line) != 0) {
                    printf("\n(no answer: left pending)\n");
                    eof = 1;
                    break;
                }
                int r = -1;
                if (line[0] == '\0' || strcmp(line, "n") == 0 || strcmp(line, "N") == 0)
                    r = answer(&d, ap.id, "", "deny");
                else if (strcmp(line, "!") == 0)
                    r = answer(&d, ap.id, "", "not_me");
                else if (number_ok(line))
                    r = answer(&d, ap.id, line, "approve");
                if (r < 0) {
                    printf("two digits, n or !, please\n");
                    continue;
                }
                if (r > rc)
                    rc = r;
                break;
            }
        }
        if (asked == 0)
            printf("no sign-in is waiting for an answer\n");
    }
    sa_reply_clear(&reply);
    device_close(&d);
    return rc;
}

/* ---- main --------------------------------------------------------------- */

/* The device key must not end up in a core file or be read by ptrace from
 * a process of the same user that is not our parent. */
static void harden(void)
{
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    umask(077);
}

int main(int argc, char **argv)
{
    harden();
    const char *dir_opt = NULL;
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc && argv[i + 1][0] != '\0') {
            dir_opt = argv[i + 1];
            i += 2;
            continue;
        }
        return usage("unknown option");
    }
    if (i >= argc)
        return usage(NULL);
    const char *cmd = argv[i];
    int sub_argc = argc - i - 1;
    char **sub_argv = argv + i + 1;
    int known = strcmp(cmd, "enrol") == 0 || strcmp(cmd, "enroll") == 0 ||
                strcmp(cmd, "pending") == 0 || strcmp(cmd, "prompt") == 0 ||
                strcmp(cmd, "approve") == 0 || strcmp(cmd, "deny") == 0 ||
                strcmp(cmd, "not-me") == 0;
    if (!known)
        return usage("unknown command");
    if (sa_net_init() != SIGNET_OK)
        return local_error("libcurl", "cannot initialise");
    int rc;
    if (strcmp(cmd, "enrol") == 0 || strcmp(cmd, "enroll") == 0)
        rc = cmd_enrol(dir_opt, sub_argc, sub_argv);
    else if (strcmp(cmd, "pending") == 0)
        rc = cmd_pending(dir_opt, sub_argc, sub_argv);
    else if (strcmp(cmd, "prompt") == 0)
        rc = cmd_prompt(dir_opt, sub_argc, sub_argv);
    else
        rc = cmd_answer(dir_opt, cmd, sub_argc, sub_argv);
    sa_net_done();
    fflush(stdout);
    return rc;
}
