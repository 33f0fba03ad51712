/* The accounts of the trust boundary. When signet runs as root, the owner
 * of <state>/signer is the account the signers run under, the owner of
 * <state>/front the front end's and the owner of <state>/monitor the
 * invariant monitor's: the layout that `signet init` made is the policy, so
 * nothing else (no environment, no argument from the front end) can choose
 * who a process becomes. Without root, everything runs under the caller's
 * account and the boundary is reported as not enforced. */
#ifndef SG_ACCOUNTS_H
#define SG_ACCOUNTS_H

#include <sys/types.h>

#include "signet/error.h"

#define SG_ACCOUNT_SIGNER "signet-signer"
#define SG_ACCOUNT_FRONT "signet"
#define SG_ACCOUNT_MONITOR "signet-monitor"

struct sg_account {
    uid_t uid;
    gid_t gid;
};

/* The owner of <state>/<sub> (a directory, not a symlink). */
SIGNET_WUR signet_err sg_account_of_dir(const char *state, const char *sub,
                                        struct sg_account *out);
/* Becomes a for good: supplementary groups cleared, gid, then uid; fails
 * when root could be regained. A no-op when a is already who we are. */
SIGNET_WUR signet_err sg_account_become(const struct sg_account *a);
/* For a root CLI acting on one side's files: a becomes the effective
 * account (root stays the saved one), and sg_account_resume_root() returns
 * to root, e.g. to write an output file where the caller asked. */
SIGNET_WUR signet_err sg_account_assume(const struct sg_account *a);
SIGNET_WUR signet_err sg_account_resume_root(void);
/* Looks up a system account by name; SIGNET_ERR_NOT_FOUND when missing. */
SIGNET_WUR signet_err sg_account_lookup(const char *name, struct sg_account *out);
/* Creates a system account (no home, no login shell) unless it exists. */
SIGNET_WUR signet_err sg_account_ensure(const char *name, struct sg_account *out);

/* The state directory may be written by nobody but its owner, who is root
 * or the caller; with parts, also its parts (signer/, front/, monitor/,
 * where they exist) by nobody but their owners. SIGNET_ERR_PERMISSION with why filled (a
 * sentence naming the path, its mode and owner) otherwise; SIGNET_OK also
 * when state does not exist yet. */
SIGNET_WUR signet_err sg_state_dir_check(const char *state, int parts, char *why,
                                         size_t whylen);

/* "enforced" when the signer, the front end and the monitor run under
 * three different accounts, none of them root (signer/, front/ and
 * monitor/ exist and have three distinct non-root owners); else "not
 * enforced (single account)". */
const char *sg_boundary_describe(const char *state);
int sg_boundary_enforced(const char *state);
/* The same words for a state already known (signetd's logs, /status). */
const char *sg_boundary_text(int enforced);

#endif
