/* The `signet` command-line tool: one file per subcommand. Exit codes are
 * stable: 0 success, 1 a negative verdict or failed operation (e.g. a broken
 * audit chain, a rejected token), 2 usage or setup error. */
#ifndef SG_CLI_H
#define SG_CLI_H

enum { SG_EXIT_OK = 0, SG_EXIT_FAIL = 1, SG_EXIT_USAGE = 2 };

/* The state directory: --state DIR, else $SIGNET_STATE, else the default. */
const char *sg_cli_state_dir(const char *opt);

/* Each subcommand gets argv starting at its own name (argv[0] = "audit"). */
int sg_cmd_init(int argc, char **argv);
int sg_cmd_status(int argc, char **argv);
int sg_cmd_keys(int argc, char **argv);
int sg_cmd_rotate(int argc, char **argv);
int sg_cmd_revoke(int argc, char **argv);
int sg_cmd_jwks(int argc, char **argv);
int sg_cmd_audit(int argc, char **argv);
int sg_cmd_verify(int argc, char **argv);

#endif
