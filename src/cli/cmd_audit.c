/* `signet audit`: proves the audit log's hash chain is whole and anchored
 * (verify), prints its latest signed checkpoint for shipping off the host
 * (checkpoint), and starts a new chain after the log was lost (reset).
 *
 * Exit codes (cli_util.h): 0 chain intact, 1 chain broken (or not
 * anchored), 2 usage error, missing or unreadable log. Output names records
 * by number and says why a record fails; it never prints record bodies. */
#include "cli/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/checkpoint.h"
#include "cli/cli_util.h"
#include "common/accounts.h"
#include "common/config.h"
#include "common/signer_client.h"
#include "json.h"
#include "jwk.h"
#include "signer/audit.h"

#define AUDIT_LOG_NAME "signer/audit.log"
#ifndef SIGNET_DEFAULT_STATE
#define SIGNET_DEFAULT_STATE "/var/lib/signet"
#endif

#define AUDIT_SYNOPSIS                                                                          \
    "usage: signet audit verify [--state DIR] [--file PATH] [--key JWK] [--checkpoint FILE]"   \
    " [--json]\n"                                                                              \
    "       signet audit checkpoint [--state DIR] [--file PATH]\n"                             \
    "       signet audit reset --reason TEXT [--state DIR]\n"

static const char audit_usage[] =
    AUDIT_SYNOPSIS
    "\n"
    "verify: checks every record of the audit log (its own SHA-256, its\n"
    "sequence number, its link to the record before it) and every signed\n"
    "checkpoint in it against the audit key, whose private half never leaves\n"
    "the HSM: a log rewritten with recomputed hashes fails here. Records after\n"
    "the last checkpoint are reported as not yet anchored; on a log untouched\n"
    "for 10 s they fail (a writer checkpoints within a second and at close).\n"
    "\n"
    "  --state DIR        state directory (default: $SIGNET_STATE, else\n"
    "                     " SIGNET_DEFAULT_STATE "); the log is DIR/" AUDIT_LOG_NAME "\n"
    "  --file PATH        verify this file instead\n"
    "  --key JWK          the audit key's public JWK (default: " SG_AUDIT_KEY_FILE " next to\n"
    "                     the log; keep a copy off the host and give it here)\n"
    "  --checkpoint FILE  checkpoints shipped off the host (lines of `signet audit\n"
    "                     checkpoint`): each must verify and match the log\n"
    "  --json             print the verdict as one JSON object\n"
    "\n"
    "checkpoint: prints the latest signed checkpoint as one line of JSON, for a\n"
    "cron job or webhook to ship off the host.\n"
    "\n"
    "reset: after the log was lost (signing refused, invariant I5 violated),\n"
    "starts a new chain whose first record holds the reason and the last\n"
    "recorded head; what is left of the old log is kept as audit.log.replaced-T.\n"
    "\n"
    "Exit status: 0 chain intact, 1 chain broken or not anchored, 2 usage error or\n"
    "no readable log.\n";

struct verify_opts {
    const char *state;
    const char *file;
    const char *key;
    const char *checkpoint;
    const char *reason;
    bool json;
};

/* "--name VALUE" or "--name=VALUE"; advances *i past what it used. */
static int take_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *out = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "signet audit: %s needs a value\n", name);
        return -1;
    }
    *out = argv[++*i];
    return 1;
}

/* 0: parsed; 1: help shown; -1: usage error (message printed). */
static int parse_verify(int argc, char **argv, struct verify_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int r = 0;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(audit_usage, stdout);
            return 1;
        }
        if (strcmp(arg, "--json") == 0) {
            o->json = true;
            continue;
        }
        if ((r = take_value(argc, argv, &i, "--state", &o->state)) != 0 ||
            (r = take_value(argc, argv, &i, "--file", &o->file)) != 0 ||
            (r = take_value(argc, argv, &i, "--key", &o->key)) != 0 ||
            (r = take_value(argc, argv, &i, "--checkpoint", &o->checkpoint)) != 0 ||
            (r = take_value(argc, argv, &i, "--reason", &o->reason)) != 0) {
            if (r < 0)
                return -1;
            continue;
        }
        fprintf(stderr, "signet audit: unexpected argument '%s'\n", arg);
        return -1;
    }
    if ((o->state != NULL && o->state[0] == '\0') || (o->file != NULL && o->file[0] == '\0') ||
        (o->key != NULL && o->key[0] == '\0') ||
        (o->checkpoint != NULL && o->checkpoint[0] == '\0')) {
        fprintf(stderr, "signet audit verify: empty path\n");
        return -1;
    }
    return 0;
}

static void print_json(json_t *obj)
{
    char *s = obj != NULL ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (s != NULL)
        printf("%s\n", s);
    else
        printf("{\"error\":\"internal\"}\n");
    free(s);
    json_decref(obj);
}

/* The reason without the "record N: " prefix, for the JSON form. */
static const char *bare_reason(const char *why)
{
    const char *p = strstr(why, ": ");
    return p != NULL ? p + 2 : why;
}

/* ---- anchoring: the checkpoints and the audit key (issue 11) ---------------- */

#define KEY_FILE_MAX 4096
/* How long after the log's last change records may wait for their
 * checkpoint (a writer checkpoints within a second, and at close). */
#define ANCHOR_GRACE_S 10
#define MAX_SHIPPED 256

static signet_err key_load(const char *path, struct sg_key *out)
{
    uint8_t buf[KEY_FILE_MAX];
    struct stat st;
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_PERMISSION;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof buf) : -1;
    (void)close(fd);
    if (n <= 0 || (size_t)n >= sizeof buf)
        return SIGNET_ERR_MALFORMED;
    json_t *doc = NULL;
    signet_err err = sg_json_parse(buf, (size_t)n, sizeof buf, &doc);
    if (err == SIGNET_OK)
        err = sg_jwk_parse(doc, out);
    json_decref(doc);
    if (err == SIGNET_OK &&
        (out->kty != SG_KTY_EC || (out->algs & SG_ALG_BIT(SG_ALG_ES256)) == 0)) {
        sg_jwk_key_clear(out);
        err = SIGNET_ERR_UNSUPPORTED;
    }
    return err;
}

static bool cp_valid(const struct sg_key *key, const struct sg_audit_cp *cp)
{
    char msg[SG_AUDIT_CP_MSG_MAX];
    if (strcmp(cp->key, key->thumbprint) != 0)
        return false;
    size_t n = sg_audit_cp_message(cp->seq, cp->head, cp->time, msg);
    return n > 0 && sg_sig_verify(SG_ALG_ES256, key->pkey, (const uint8_t *)msg, n, cp->sig,
                                  SG_AUDIT_CP_SIG_LEN) == SIGNET_OK;
}

/* What one pass over the log learns of its anchoring. */
struct anchor_scan {
    const struct sg_key *key;  /* NULL: no audit key to check with */
    uint64_t checkpoints;
    uint64_t last_cp_seq;      /* the record the last checkpoint covers */
    struct sg_audit_cp last_cp;
    uint64_t unanchored;       /* records after it (checkpoints not counted) */
    uint64_t resets, last_reset_seq;
    struct sg_audit_cp *shipped; /* --checkpoint lines, checked as the log passes them */
    size_t n_shipped;
    size_t shipped_seen;
};

static signet_err scan_record(void *user, const struct sg_audit_rec *rec, char *why,
                              size_t why_len)
{
    struct anchor_scan *x = user;
    for (size_t i = 0; i < x->n_shipped; i++) {
        if (x->shipped[i].seq != rec->seq)
            continue;
        if (memcmp(x->shipped[i].head, rec->hash, SG_AUDIT_HASH_HEX) != 0) {
            (void)snprintf(why, why_len,
                           "does not match the checkpoint shipped off the host (the log was "
                           "rewritten)");
            return SIGNET_ERR_AUDIT_BROKEN;
        }
        x->shipped_seen++;
    }
    if (strcmp(rec->type, SG_AUDIT_RESET_TYPE) == 0) {
        x->resets++;
        x->last_reset_seq = rec->seq;
    }
    if (strcmp(rec->type, SG_AUDIT_CP_TYPE) != 0) {
        x->unanchored++;
        return SIGNET_OK;
    }
    struct sg_audit_cp cp;
    signet_err err = sg_audit_cp_from_record(rec, &cp, why, why_len);
    if (err != SIGNET_OK)
        return err;
    if (x->key == NULL) {
        (void)snprintf(why, why_len, "checkpoint, but no audit key to check it with");
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    if (!cp_valid(x->key, &cp)) {
        (void)snprintf(why, why_len,
                       "checkpoint signature does not match the chain head at record %" PRIu64
                       " (records up to it were changed and re-hashed, or the checkpoint was "
                       "forged)",
                       cp.seq);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    x->checkpoints++;
    x->last_cp_seq = cp.seq;
    x->last_cp = cp;
    x->unanchored = 0;
    return SIGNET_OK;
}

/* The shipped checkpoints of FILE (one line each), every one checked
 * against the audit key before the log is read. */
static int load_shipped(const char *file, const struct sg_key *key, struct anchor_scan *x)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "signet audit verify: cannot read %s\n", file);
        return SG_EXIT_USAGE;
    }
    x->shipped = calloc(MAX_SHIPPED, sizeof *x->shipped);
    char line[2048];
    int rc = x->shipped != NULL ? SG_EXIT_OK : SG_EXIT_USAGE;
    while (rc == SG_EXIT_OK && fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '\n' || line[0] == '#')
            continue;
        struct sg_audit_cp cp;
        if (x->n_shipped == MAX_SHIPPED ||
            sg_audit_cp_from_line(line, strlen(line), &cp) != SIGNET_OK) {
            fprintf(stderr, "signet audit verify: %s: not a checkpoint line (or over %d)\n", file,
                    MAX_SHIPPED);
            rc = SG_EXIT_USAGE;
        } else if (!cp_valid(key, &cp)) {
            printf("checkpoint for record %" PRIu64 " in %s: signature does not verify with the "
                   "audit key\n",
                   cp.seq, file);
            rc = SG_EXIT_FAIL;
        } else {
            x->shipped[x->n_shipped++] = cp;
        }
    }
    (void)fclose(f);
    return rc;
}

/* The audit key's file: --key, else audit-key.jwk next to the log. */
static void key_path_for(const char *log, const char *opt, char *out, size_t cap)
{
    if (opt != NULL) {
        (void)snprintf(out, cap, "%s", opt);
        return;
    }
    const char *slash = strrchr(log, '/');
    if (slash == NULL)
        (void)snprintf(out, cap, "%s", SG_AUDIT_KEY_FILE);
    else
        (void)snprintf(out, cap, "%.*s/%s", (int)(slash - log), log, SG_AUDIT_KEY_FILE);
}

/* The log's path: --file, else DIR/signer/audit.log. */
static int log_path(const struct verify_opts *o, char *path, size_t cap)
{
    int n = o->file != NULL ? snprintf(path, cap, "%s", o->file) : -1;
    if (o->file == NULL) {
        const char *dir = sg_cli_state_dir(o->state);
        n = dir != NULL ? snprintf(path, cap, "%s/%s", dir, AUDIT_LOG_NAME) : -1;
    }
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "signet audit: path too long\n");
        return SG_EXIT_USAGE;
    }
    return SG_EXIT_OK;
}

static int report_unreadable(const struct verify_opts *o, const char *path, signet_err err)
{
    const char *what = err == SIGNET_ERR_NOT_FOUND       ? "no audit log"
                       : err == SIGNET_ERR_INVALID_ARG ? "not a file"
                                                       : "cannot read audit log";
    if (o->json)
        print_json(json_pack("{s:s, s:s, s:s}", "file", path, "error", signet_err_name(err),
                             "message", what));
    fprintf(stderr, "signet audit: %s at %s: %s\n", what, path, signet_strerror(err));
    return SG_EXIT_USAGE;
}

static int cmd_verify(int argc, char **argv)
{
    struct verify_opts o = {0};
    char path[4096], keyfile[4200];
    char why[256] = "";
    uint64_t records = 0, first_bad = 0;
    struct sg_key key;
    struct anchor_scan x = {0};
    struct stat st;

    int r = parse_verify(argc, argv, &o);
    if (r != 0) {
        if (r < 0)
            fputs(AUDIT_SYNOPSIS, stderr);
        return r > 0 ? SG_EXIT_OK : SG_EXIT_USAGE;
    }
    if (log_path(&o, path, sizeof path) != SG_EXIT_OK)
        return SG_EXIT_USAGE;
    key_path_for(path, o.key, keyfile, sizeof keyfile);
    signet_err kerr = key_load(keyfile, &key);
    if (kerr != SIGNET_OK && (o.key != NULL || kerr != SIGNET_ERR_NOT_FOUND)) {
        fprintf(stderr, "signet audit verify: audit key %s: %s\n", keyfile, signet_strerror(kerr));
        return SG_EXIT_USAGE;
    }
    x.key = kerr == SIGNET_OK ? &key : NULL;
    if (o.checkpoint != NULL) {
        int rc = x.key != NULL ? load_shipped(o.checkpoint, x.key, &x) : SG_EXIT_USAGE;
        if (x.key == NULL)
            fprintf(stderr, "signet audit verify: --checkpoint needs the audit key (--key)\n");
        if (rc != SG_EXIT_OK) {
            free(x.shipped);
            if (x.key != NULL)
                sg_jwk_key_clear(&key);
            return rc;
        }
    }

    signet_err err = sg_audit_verify_file_each(path, scan_record, &x, &records, &first_bad, why,
                                               sizeof why);
    int rc = SG_EXIT_OK;
    if (err == SIGNET_OK) {
        /* Records after the last checkpoint: waiting for the next one (a
         * live log), or stripped of theirs (a log nobody writes). */
        bool stale = stat(path, &st) == 0 && time(NULL) - st.st_mtime > ANCHOR_GRACE_S;
        bool unanchored_bad = x.key != NULL && x.unanchored > 0 && stale;
        bool shipped_missing = x.shipped_seen < x.n_shipped;
        rc = unanchored_bad || shipped_missing ? SG_EXIT_FAIL : SG_EXIT_OK;
        if (o.json) {
            print_json(json_pack("{s:s, s:b, s:I, s:b, s:b, s:I, s:I, s:I, s:I, s:I}", "file",
                                 path, "intact", 1, "records", (json_int_t)records, "audit_key",
                                 x.key != NULL, "anchored", rc == SG_EXIT_OK && x.key != NULL,
                                 "checkpoints", (json_int_t)x.checkpoints,
                                 "last_checkpoint_seq", (json_int_t)x.last_cp_seq, "unanchored",
                                 (json_int_t)x.unanchored, "shipped_checked",
                                 (json_int_t)x.shipped_seen, "resets", (json_int_t)x.resets));
        } else {
            printf("audit log %s: %" PRIu64 " record%s, chain intact\n", path, records,
                   records == 1 ? "" : "s");
            if (x.key != NULL)
                printf("anchored: %" PRIu64 " signed checkpoint%s (audit key %s), the last "
                       "covers record %" PRIu64 "; %" PRIu64 " record%s after it%s\n",
                       x.checkpoints, x.checkpoints == 1 ? "" : "s", key.thumbprint,
                       x.last_cp_seq, x.unanchored, x.unanchored == 1 ? "" : "s",
                       x.unanchored == 0 ? ""
                       : unanchored_bad  ? ", NOT anchored"
                                         : ", not yet anchored");
            if (unanchored_bad)
                printf("NOT anchored: the log has not changed for over %d s and its last "
                       "records have no checkpoint: checkpoints were stripped (the records "
                       "rewritten), or a writer died before its next checkpoint\n",
                       ANCHOR_GRACE_S);
            if (shipped_missing)
                printf("the log ends before a checkpoint shipped off the host: records were cut "
                       "(%zu of %zu shipped checkpoints found)\n",
                       x.shipped_seen, x.n_shipped);
            else if (x.n_shipped > 0)
                printf("matches all %zu shipped checkpoint%s of %s\n", x.n_shipped,
                       x.n_shipped == 1 ? "" : "s", o.checkpoint);
            if (x.resets > 0)
                printf("note: the chain was reset %" PRIu64 " time%s (last at record %" PRIu64
                       ", signet audit reset)\n",
                       x.resets, x.resets == 1 ? "" : "s", x.last_reset_seq);
        }
        if (x.key == NULL)
            fprintf(stderr, "signet audit verify: not anchored: no audit key at %s (a signer "
                            "creates it when it starts: run signet init or start signetd); "
                            "only the hash chain was checked\n",
                    keyfile);
    } else if (err == SIGNET_ERR_AUDIT_BROKEN) {
        if (o.json)
            print_json(json_pack("{s:s, s:b, s:I, s:I, s:s}", "file", path, "intact", 0,
                                 "records", (json_int_t)records, "first_bad",
                                 (json_int_t)first_bad, "reason", bare_reason(why)));
        else
            printf("audit log %s: chain broken at %s\n", path, why);
        rc = SG_EXIT_FAIL;
    } else {
        rc = report_unreadable(&o, path, err);
    }
    free(x.shipped);
    if (x.key != NULL)
        sg_jwk_key_clear(&key);
    return rc;
}

static signet_err last_cp_record(void *user, const struct sg_audit_rec *rec, char *why,
                                 size_t why_len)
{
    struct anchor_scan *x = user;
    if (strcmp(rec->type, SG_AUDIT_CP_TYPE) != 0)
        return SIGNET_OK;
    signet_err err = sg_audit_cp_from_record(rec, &x->last_cp, why, why_len);
    if (err == SIGNET_OK)
        x->checkpoints++;
    return err;
}

/* `signet audit checkpoint`: the latest checkpoint, one line, for shipping. */
static int cmd_checkpoint(int argc, char **argv)
{
    struct verify_opts o = {0};
    char path[4096], why[256] = "";
    uint64_t records = 0, first_bad = 0;
    struct anchor_scan x = {0};
    int r = parse_verify(argc, argv, &o);
    if (r != 0)
        return r > 0 ? SG_EXIT_OK : SG_EXIT_USAGE;
    if (log_path(&o, path, sizeof path) != SG_EXIT_OK)
        return SG_EXIT_USAGE;
    signet_err err = sg_audit_verify_file_each(path, last_cp_record, &x, &records, &first_bad, why,
                                               sizeof why);
    if (err == SIGNET_ERR_AUDIT_BROKEN) {
        fprintf(stderr, "signet audit checkpoint: chain broken at %s\n", why);
        return SG_EXIT_FAIL;
    }
    if (err != SIGNET_OK)
        return report_unreadable(&o, path, err);
    if (x.checkpoints == 0) {
        fprintf(stderr, "signet audit checkpoint: %s holds no checkpoint yet\n", path);
        return SG_EXIT_FAIL;
    }
    char *line = sg_audit_cp_to_line(&x.last_cp);
    if (line == NULL)
        return SG_EXIT_USAGE;
    printf("%s\n", line);
    free(line);
    return SG_EXIT_OK;
}

/* `signet audit reset --reason TEXT`: run by the signer (it alone writes
 * the log and holds the audit key), as the signer's account. */
static int cmd_reset(int argc, char **argv)
{
    struct verify_opts o = {0};
    int r = parse_verify(argc, argv, &o);
    if (r != 0)
        return r > 0 ? SG_EXIT_OK : SG_EXIT_USAGE;
    if (o.reason == NULL || o.reason[0] == '\0' || o.file != NULL) {
        fprintf(stderr, "signet audit reset: --reason TEXT is required (it goes into the new "
                        "chain's first record)\n");
        return SG_EXIT_USAGE;
    }
    const char *state = sg_cli_state_dir(o.state);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return SG_EXIT_USAGE;
    if (pid == 0) {
        struct sg_account a;
        if (geteuid() == 0 && sg_account_of_dir(state, SG_SIGNER_DIR, &a) == SIGNET_OK &&
            a.uid != 0 && sg_account_become(&a) != SIGNET_OK)
            _exit(126);
        char *args[] = {(char *)"signet-signer", (char *)"--state", (char *)state,
                        (char *)"--audit-reset", (char *)o.reason, NULL};
        execv(sg_signer_path(), args);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return SG_EXIT_USAGE;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 3;
    return code == 0 ? SG_EXIT_OK : code == 1 ? SG_EXIT_FAIL : SG_EXIT_USAGE;
}

int sg_cmd_audit(int argc, char **argv)
{
    if (argc < 2) {
        fputs(AUDIT_SYNOPSIS, stderr);
        return SG_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(audit_usage, stdout);
        return SG_EXIT_OK;
    }
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "checkpoint") == 0)
        return cmd_checkpoint(argc - 1, argv + 1);
    if (strcmp(argv[1], "reset") == 0)
        return cmd_reset(argc - 1, argv + 1);
    fprintf(stderr, "signet audit: unknown subcommand '%s'\n", argv[1]);
    fputs(AUDIT_SYNOPSIS, stderr);
    return SG_EXIT_USAGE;
}
