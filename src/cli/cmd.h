/* The subcommands of `signet`, one file each (cmd_*.c), dispatched by
 * cli.c. Each gets argv starting at its own name (argv[0] = "audit") and
 * returns an exit code (SG_EXIT_*, cli_util.h). */
#ifndef SG_CLI_CMD_H
#define SG_CLI_CMD_H

int sg_cmd_init(int argc, char **argv);            /* cmd_init.c */
int sg_cmd_status(int argc, char **argv);          /* cmd_keys.c */
int sg_cmd_keys(int argc, char **argv);            /* cmd_keys.c */
int sg_cmd_rotate(int argc, char **argv);          /* cmd_keys.c */
int sg_cmd_revoke(int argc, char **argv);          /* cmd_keys.c */
int sg_cmd_jwks(int argc, char **argv);            /* cmd_keys.c */
int sg_cmd_audit(int argc, char **argv);           /* cmd_audit.c */
int sg_cmd_verify(int argc, char **argv);          /* cmd_verify.c */
int sg_cmd_client(int argc, char **argv);          /* cmd_client.c */
int sg_cmd_invariants(int argc, char **argv);      /* cmd_invariants.c */
/* cmd_client.c: the signer's client registry. `signet init` over an
 * initialised directory back-fills it from the front end's store, once per
 * state directory (fresh: with nothing, so that it never happens later).
 * Returns an exit code; *bound (may be NULL) gets the number of clients
 * bound now, -1 when it was done before. */
int sg_cli_clients_backfill(const char *state, int fresh, long long *bound);

#endif
