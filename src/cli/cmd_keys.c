/* signet status | keys list | rotate | revoke | jwks */
#include "cli/cmd.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_util.h"
#include "common/accounts.h"
#include "common/ipc.h"
#include "common/signer_client.h"

struct opts {
    const char *state;
    const char *issuer;
    int json;
    int help;
};

/* Parses --state, --issuer, --json, --help; positional arguments are left
 * at argv[optind..]. Returns -1 on a usage error. */
static int parse(int argc, char **argv, struct opts *o, int allow_issuer, int allow_json)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"issuer", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (ch == 's')
            o->state = optarg;
        else if (ch == 'i' && allow_issuer)
            o->issuer = optarg;
        else if (ch == 'j' && allow_json)
            o->json = 1;
        else if (ch == 'h')
            o->help = 1;
        else
            return -1;
    }
    o->state = sg_cli_state_dir(o->state);
    return 0;
}

static void fmt_time(json_int_t t, char *buf, size_t cap)
{
    if (t <= 0) {
        (void)snprintf(buf, cap, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)snprintf(buf, cap, "%lld", (long long)t);
}

static int run(const struct opts *o, unsigned char type, const char *arg, char **json)
{
    struct sg_signer_client *c = NULL;
    /* rotate and revoke run the lifecycle themselves, after their change. */
    unsigned flags = type == SG_IPC_ROTATE || type == SG_IPC_REVOKE || type == SG_IPC_REVOKE_FORCE
                         ? SG_SPAWN_NO_ADVANCE
                         : 0;
    int rc = sg_cli_open_signer_ex(o->state, flags, &c);
    if (rc != SG_EXIT_OK)
        return rc;
    rc = sg_cli_request(c, type, arg, json);
    sg_signer_client_free(&c);
    return rc;
}

static void print_keys_table(json_t *rows)
{
    printf("%-43s  %-9s  %-5s  %-20s  %-20s  %s\n", "KID", "STATE", "ALG", "ACTIVATED",
           "RETIRED", "ISSUER");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *state = json_string_value(json_object_get(r, "state"));
        char act[32], ret[32];
        fmt_time(json_integer_value(json_object_get(r, "activated_at")), act, sizeof act);
        fmt_time(json_integer_value(json_object_get(r, "retired_at")), ret, sizeof ret);
        const char *kid = json_string_value(json_object_get(r, "kid"));
        printf("%-43s  %-9s  %-5s  %-20s  %-20s  %s%s\n", kid != NULL && kid[0] ? kid : "-",
               state != NULL ? state : "?", json_string_value(json_object_get(r, "alg")), act, ret,
               json_string_value(json_object_get(r, "issuer")),
               json_is_true(json_object_get(r, "revoked")) ? " (revoked)" : "");
    }
}

int sg_cmd_keys(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o, 1, 1) != 0 || (!o.help && (optind >= argc || strcmp(argv[optind], "list") != 0))) {
        fprintf(stderr, "usage: signet keys list [--state DIR] [--issuer URL] [--json]\n");
        return SG_EXIT_USAGE;
    }
    if (o.help) {
        printf("usage: signet keys list [--state DIR] [--issuer URL] [--json]\n\n"
               "Lists the keys of every issuer (or one) with their lifecycle state:\n"
               "PENDING, PUBLISHED (the pre-published standby), ACTIVE, RETIRED, and the\n"
               "DESTROYED tombstones. --json gives the same rows for scripts. No private\n"
               "key material exists outside the HSM, so none is ever shown.\n");
        return SG_EXIT_OK;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "signet keys list: unexpected argument '%s'\n", argv[optind + 1]);
        return SG_EXIT_USAGE;
    }
    char *text = NULL;
    int rc = run(&o, SG_IPC_KEYS, o.issuer, &text);
    if (rc != SG_EXIT_OK)
        return rc;
    json_t *rows = sg_cli_reply_json(text, "[]");
    free(text);
    if (!json_is_array(rows)) {
        json_decref(rows);
        fprintf(stderr, "signet: unexpected answer from the signer\n");
        return SG_EXIT_USAGE;
    }
    if (o.json) {
        char *out = json_dumps(rows, JSON_INDENT(2));
        if (out != NULL)
            printf("%s\n", out);
        free(out);
    } else {
        print_keys_table(rows);
    }
    json_decref(rows);
    return SG_EXIT_OK;
}

int sg_cmd_status(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o, 0, 1) != 0 || optind != argc) {
        fprintf(stderr, "usage: signet status [--state DIR] [--json]\n");
        return SG_EXIT_USAGE;
    }
    if (o.help) {
        printf("usage: signet status [--state DIR] [--json]\n\n"
               "Shows the signer's view: HSM counters, sandbox, audit position, key\n"
               "timings and every key's state, and whether the trust boundary is\n"
               "enforced (front end, signers and monitor under three accounts, none root).\n");
        return SG_EXIT_OK;
    }
    char *text = NULL;
    int rc = run(&o, SG_IPC_STATUS, NULL, &text);
    if (rc != SG_EXIT_OK)
        return rc;
    json_t *doc = sg_cli_reply_json(text, "{}");
    free(text);
    if (!json_is_object(doc)) {
        json_decref(doc);
        fprintf(stderr, "signet: unexpected answer from the signer\n");
        return SG_EXIT_USAGE;
    }
    /* The layout `signet init` made decides the accounts (accounts.h). */
    const int enforced = sg_boundary_enforced(o.state);
    if (o.json) {
        (void)json_object_set_new(doc, "trust_boundary",
                                  json_pack("{s:b, s:s}", "enforced", enforced, "text",
                                            sg_boundary_text(enforced)));
        char *out = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (out != NULL)
            printf("%s\n", out);
        free(out);
    } else {
        json_t *hsm = json_object_get(doc, "hsm"), *sb = json_object_get(doc, "sandbox"),
               *tm = json_object_get(doc, "timing");
        printf("state: %s\ntrust boundary: %s\nsigner: version %s, audit records %lld\n",
               o.state, sg_boundary_text(enforced),
               json_string_value(json_object_get(doc, "version")),
               (long long)json_integer_value(json_object_get(doc, "audit_seq")));
        printf("hsm: %lld signatures, %lld errors, %lld session reopens\n",
               (long long)json_integer_value(json_object_get(hsm, "signatures")),
               (long long)json_integer_value(json_object_get(hsm, "errors")),
               (long long)json_integer_value(json_object_get(hsm, "session_reopens")));
        printf("sandbox: seccomp=%s no_new_privs=%s mlocked=%s dumpable=%s landlock=%lld\n",
               json_is_true(json_object_get(sb, "seccomp")) ? "on" : "off",
               json_is_true(json_object_get(sb, "no_new_privs")) ? "on" : "off",
               json_is_true(json_object_get(sb, "mlocked")) ? "yes" : "no",
               json_is_true(json_object_get(sb, "dumpable")) ? "yes" : "no",
               (long long)json_integer_value(json_object_get(sb, "landlock")));
        printf("timing: rotation every %llds, pre-publication %llds, retirement %llds, next "
               "transition in %llds\n\n",
               (long long)json_integer_value(json_object_get(tm, "rotation_period")),
               (long long)json_integer_value(json_object_get(tm, "prepublish")),
               (long long)json_integer_value(json_object_get(tm, "retire_window")),
               (long long)json_integer_value(json_object_get(tm, "next_transition_in")));
        print_keys_table(json_object_get(doc, "keys"));
    }
    json_decref(doc);
    return SG_EXIT_OK;
}

static void print_transitions(const char *text)
{
    json_t *doc = sg_cli_reply_json(text, "{}");
    json_t *arr = json_object_get(doc, "transitions");
    size_t i;
    json_t *t;
    if (json_array_size(arr) == 0)
        printf("no transition was due\n");
    json_array_foreach(arr, i, t) {
        printf("%s %s %s: %s -> %s\n", json_string_value(json_object_get(t, "issuer")),
               json_string_value(json_object_get(t, "alg")),
               json_string_value(json_object_get(t, "kid")),
               json_string_value(json_object_get(t, "from")),
               json_string_value(json_object_get(t, "to")));
    }
    json_decref(doc);
}

int sg_cmd_rotate(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o, 1, 0) != 0 || optind != argc) {
        fprintf(stderr, "usage: signet rotate [--state DIR] [--issuer URL]\n");
        return SG_EXIT_USAGE;
    }
    if (o.help) {
        printf("usage: signet rotate [--state DIR] [--issuer URL]\n\n"
               "Makes the ACTIVE key of every issuer (or one) due for rotation now. The\n"
               "pre-published standby takes over as soon as it has been in the JWKS for\n"
               "jwks_max_age + clock_skew, so no verifier ever meets an unknown kid.\n"
               "For a suspected compromise use 'signet revoke KID' instead.\n");
        return SG_EXIT_OK;
    }
    char *text = NULL;
    int rc = run(&o, SG_IPC_ROTATE, o.issuer, &text);
    if (rc == SG_EXIT_OK)
        print_transitions(text);
    free(text);
    return rc;
}

int sg_cmd_revoke(int argc, char **argv)
{
    /* Parsed by hand: a kid is base64url and may start with '-', which
     * getopt would take for options. */
    struct opts o;
    memset(&o, 0, sizeof o);
    const char *kid = NULL;
    int bad = 0, dashdash = 0, force = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0)
            dashdash = 1;
        else if (!dashdash && strcmp(a, "--force") == 0)
            force = 1;
        else if (!dashdash && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0))
            o.help = 1;
        else if (!dashdash && strcmp(a, "--state") == 0 && i + 1 < argc)
            o.state = argv[++i];
        else if (!dashdash && strncmp(a, "--state=", 8) == 0)
            o.state = a + 8;
        else if (kid == NULL && (dashdash || strncmp(a, "--", 2) != 0))
            kid = a;
        else
            bad = 1; /* a second kid, an unknown long option, --state without a value */
    }
    o.state = sg_cli_state_dir(o.state);
    if (o.help) {
        printf("usage: signet revoke [--state DIR] [--force] [--] KID\n\n"
               "Emergency revoke: the key leaves the JWKS and stops signing at once, its\n"
               "HSM object is destroyed, and (if it was ACTIVE) the standby takes over\n"
               "immediately. A new standby is generated.\n\n"
               "At most one revoke per issuer per pre-publication window (jwks_max_age +\n"
               "clock_skew): a second one would promote a standby relying parties have not\n"
               "fetched yet. --force revokes anyway (audited as revoke_forced); it is also\n"
               "how an operator confirms a revoke the monitor asked for.\n");
        return SG_EXIT_OK;
    }
    if (bad || kid == NULL) {
        fprintf(stderr, "usage: signet revoke [--state DIR] [--force] [--] KID\n");
        return SG_EXIT_USAGE;
    }
    char *text = NULL;
    int rc = run(&o, force ? SG_IPC_REVOKE_FORCE : SG_IPC_REVOKE, kid, &text);
    if (rc == SG_EXIT_OK) {
        printf("revoked %s\n", kid);
        print_transitions(text);
    }
    free(text);
    return rc;
}

int sg_cmd_jwks(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o, 1, 0) != 0 || optind != argc || (!o.help && o.issuer == NULL)) {
        fprintf(stderr, "usage: signet jwks --issuer URL [--state DIR]\n");
        return SG_EXIT_USAGE;
    }
    if (o.help) {
        printf("usage: signet jwks --issuer URL [--state DIR]\n\n"
               "Prints the issuer's JWKS: PUBLISHED, ACTIVE and RETIRED public keys, each\n"
               "with kid, alg, use, iss, active_from and (once retired) active_until.\n");
        return SG_EXIT_OK;
    }
    char *text = NULL;
    int rc = run(&o, SG_IPC_JWKS, o.issuer, &text);
    if (rc == SG_EXIT_OK) {
        json_t *doc = sg_cli_reply_json(text, "{}");
        char *out = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        printf("%s\n", out != NULL ? out : "{}");
        free(out);
        json_decref(doc);
    }
    free(text);
    return rc;
}
