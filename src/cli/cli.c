/* signet: the command-line tool. main() dispatches to the subcommands
 * (cmd.h); what they share is in cli_util.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/cmd.h"
#include "util/log.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"init", sg_cmd_init, "create a state directory: HSM token, PINs, config, store, first keys"},
    {"status", sg_cmd_status, "show the signer, HSM, sandbox and key lifecycle state"},
    {"keys", sg_cmd_keys, "list keys (keys list [--issuer I] [--json])"},
    {"rotate", sg_cmd_rotate, "rotate the ACTIVE key(s) as soon as pre-publication allows"},
    {"revoke", sg_cmd_revoke, "emergency-revoke a key: the standby takes over at once"},
    {"jwks", sg_cmd_jwks, "print an issuer's published JWKS"},
    {"client", sg_cmd_client, "register OAuth clients of a tenant (client add|list|remove)"},
    {"user", sg_cmd_user, "people of a tenant, enrolment links (user add|link|list|show|...)"},
    {"session", sg_cmd_session, "people's sign-in sessions (session list|revoke)"},
    {"invariants", sg_cmd_invariants, "list (or --check) the declared security invariants"},
    {"audit", sg_cmd_audit, "verify the hash-chained audit log (audit verify)"},
    {"verify", sg_cmd_verify, "validate an access token the way relying parties should"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: signet COMMAND [--state DIR] [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nEvery command takes --help. The state directory is --state DIR, else "
               "$SIGNET_STATE, else %s.\nExit codes: 0 success, 1 failed or rejected, "
               "2 usage or setup error.\n", SIGNET_DEFAULT_STATE);
}

int main(int argc, char **argv)
{
    sg_log_init("cli", getenv("SIGNET_DEBUG") != NULL ? SG_LOG_DEBUG : SG_LOG_WARN);
    /* The signer this command starts reports only warnings and errors. */
    if (getenv("SIGNET_LOG_LEVEL") == NULL)
        (void)setenv("SIGNET_LOG_LEVEL", "warn", 1);
    if (argc < 2) {
        usage(stderr);
        return SG_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return SG_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("signet %s\n", SIGNET_VERSION);
        return SG_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "signet: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return SG_EXIT_USAGE;
}

