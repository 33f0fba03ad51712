/* `signet audit verify`: proves the audit log's hash chain is whole.
 *
 * Exit codes (cli_util.h): 0 chain intact, 1 chain broken, 2 usage error,
 * missing or unreadable log. Output names records by number and says why a
 * record fails; it never prints record bodies. */
#include "cli/cmd.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "signer/audit.h"

#define AUDIT_LOG_NAME "signer/audit.log"
#ifndef SIGNET_DEFAULT_STATE
#define SIGNET_DEFAULT_STATE "/var/lib/signet"
#endif

#define AUDIT_SYNOPSIS "usage: signet audit verify [--state DIR] [--file PATH] [--json]\n"

static const char audit_usage[] =
    AUDIT_SYNOPSIS
    "\n"
    "Checks every record of the audit log: its own SHA-256, its sequence\n"
    "number, and its link to the record before it.\n"
    "\n"
    "  --state DIR   state directory (default: $SIGNET_STATE, else " SIGNET_DEFAULT_STATE ");\n"
    "                the log is DIR/" AUDIT_LOG_NAME "\n"
    "  --file PATH   verify this file instead\n"
    "  --json        print the verdict as one JSON object\n"
    "\n"
    "Exit status: 0 chain intact, 1 chain broken, 2 usage error or no readable log.\n";

struct verify_opts {
    const char *state;
    const char *file;
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
        fprintf(stderr, "signet audit verify: %s needs a value\n", name);
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
            (r = take_value(argc, argv, &i, "--file", &o->file)) != 0) {
            if (r < 0)
                return -1;
            continue;
        }
        fprintf(stderr, "signet audit verify: unexpected argument '%s'\n", arg);
        return -1;
    }
    if ((o->state != NULL && o->state[0] == '\0') || (o->file != NULL && o->file[0] == '\0')) {
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

static int cmd_verify(int argc, char **argv)
{
    struct verify_opts o = {0};
    char path[4096];
    char why[160] = "";
    uint64_t records = 0, first_bad = 0;

    int r = parse_verify(argc, argv, &o);
    if (r != 0) {
        if (r < 0)
            fputs(AUDIT_SYNOPSIS, stderr);
        return r > 0 ? SG_EXIT_OK : SG_EXIT_USAGE;
    }
    if (o.file != NULL) {
        int n = snprintf(path, sizeof path, "%s", o.file);
        if (n < 0 || (size_t)n >= sizeof path)
            goto too_long;
    } else {
        const char *dir = sg_cli_state_dir(o.state);
        int n = snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : "", AUDIT_LOG_NAME);
        if (dir == NULL || n < 0 || (size_t)n >= sizeof path)
            goto too_long;
    }

    signet_err err = sg_audit_verify_file(path, &records, &first_bad, why, sizeof why);
    if (err == SIGNET_OK) {
        if (o.json)
            print_json(json_pack("{s:s, s:b, s:I}", "file", path, "intact", 1, "records",
                                 (json_int_t)records));
        else
            printf("audit log %s: %" PRIu64 " record%s, chain intact\n", path, records,
                   records == 1 ? "" : "s");
        return SG_EXIT_OK;
    }
    if (err == SIGNET_ERR_AUDIT_BROKEN) {
        if (o.json)
            print_json(json_pack("{s:s, s:b, s:I, s:I, s:s}", "file", path, "intact", 0,
                                 "records", (json_int_t)records, "first_bad",
                                 (json_int_t)first_bad, "reason", bare_reason(why)));
        else
            printf("audit log %s: chain broken at %s\n", path, why);
        return SG_EXIT_FAIL;
    }
    const char *what = err == SIGNET_ERR_NOT_FOUND       ? "no audit log"
                       : err == SIGNET_ERR_INVALID_ARG ? "not a file"
                                                       : "cannot read audit log";
    if (o.json)
        print_json(json_pack("{s:s, s:s, s:s}", "file", path, "error", signet_err_name(err),
                             "message", what));
    fprintf(stderr, "signet audit verify: %s at %s: %s\n", what, path, signet_strerror(err));
    return SG_EXIT_USAGE;

too_long:
    fprintf(stderr, "signet audit verify: path too long\n");
    return SG_EXIT_USAGE;
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
    fprintf(stderr, "signet audit: unknown subcommand '%s'\n", argv[1]);
    fputs(AUDIT_SYNOPSIS, stderr);
    return SG_EXIT_USAGE;
}
