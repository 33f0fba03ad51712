/* The subcommands of `signet`, one file each (cmd_*.c), dispatched by
 * cli.c. Each gets argv starting at its own name (argv[0] = "audit") and
 * returns an exit code (SG_EXIT_*, cli_util.h). */
#ifndef SG_CLI_CMD_H
#define SG_CLI_CMD_H

#include <stddef.h>
#include <stdint.h>

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
int sg_cmd_user(int argc, char **argv);            /* cmd_user.c */
int sg_cmd_session(int argc, char **argv);         /* cmd_session.c */
/* cmd_client.c: the signer's client registry. `signet init` over an
 * initialised directory back-fills it from the front end's store, once per
 * state directory (fresh: with nothing, so that it never happens later).
 * Returns an exit code; *bound (may be NULL) gets the number of clients
 * bound now, -1 when it was done before. */
int sg_cli_clients_backfill(const char *state, int fresh, long long *bound);

/* cmd_user.c, shared with cmd_session.c (people, issue 13). */
struct sg_config;
struct sg_tenant_cfg;
struct sg_store;
/* Loads the config of state and finds tenant in it ("signet <who>: ..."
 * on failure); returns an exit code. */
int sg_cli_people_tenant(const char *who, const char *state, const char *tenant,
                         struct sg_config *cfg, const struct sg_tenant_cfg **t);
/* Opens the front end's store (as the front end's account when run as
 * root: every file SQLite creates stays its); returns an exit code. */
int sg_cli_people_store(const char *who, const char *state, const struct sg_config *cfg,
                        struct sg_store **store);
/* Unix seconds as "YYYY-MM-DDTHH:MM:SSZ" (0: "-"). */
void sg_cli_iso_time(int64_t t, char *buf, size_t cap);

#endif
