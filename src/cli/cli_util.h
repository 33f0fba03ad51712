/* Helpers shared by the subcommands of `signet` (cmd_*.c): the state
 * directory, starting the signer and asking it, reading its answers, and
 * the exit codes. Exit codes are stable: 0 success, 1 a negative verdict
 * or failed operation (e.g. a broken audit chain, a rejected token), 2
 * usage or setup error. */
#ifndef SG_CLI_UTIL_H
#define SG_CLI_UTIL_H

#include <jansson.h>

enum { SG_EXIT_OK = 0, SG_EXIT_FAIL = 1, SG_EXIT_USAGE = 2 };

/* The state directory: --state DIR, else $SIGNET_STATE, else the default. */
const char *sg_cli_state_dir(const char *opt);

struct sg_signer_client;

/* Starts the signer for a state directory. On failure prints why and
 * returns an exit code (SG_EXIT_USAGE); SG_EXIT_OK on success. */
int sg_cli_open_signer(const char *state, struct sg_signer_client **out);
/* Same, with sg_signer_spawn_ex() flags. */
int sg_cli_open_signer_ex(const char *state, unsigned flags, struct sg_signer_client **out);
/* One request with an optional string argument; prints errors itself.
 * Returns SG_EXIT_OK with *json set (may be NULL), or an exit code. */
int sg_cli_request(struct sg_signer_client *c, unsigned char type, const char *arg, char **json);
/* A signer answer as JSON, read through the one JSON door (sg_json_parse,
 * at most SG_IPC_MAX_PAYLOAD bytes); text NULL (no answer) parses fallback
 * instead. NULL on junk; release with json_decref(). */
json_t *sg_cli_reply_json(const char *text, const char *fallback);
/* Exit code for a signer status: 1 for a refused operation, 2 for setup. */
int sg_cli_exit_for(int status);

#endif
