/* Signer hardening after start-up: no core dumps, no ptrace, locked memory,
 * privileges dropped, no-new-privs, Landlock (where the kernel has it)
 * confining the filesystem to the signer's own files, and a seccomp
 * allow-list that kills the process on anything else. */
#ifndef SG_SANDBOX_H
#define SG_SANDBOX_H

#include "common/config.h"
#include "signet/error.h"

struct sg_hardening {
    int dumpable;     /* PR_GET_DUMPABLE after hardening (0 = good) */
    int mlocked;      /* mlockall succeeded */
    int no_new_privs; /* PR_SET_NO_NEW_PRIVS in force */
    int seccomp;      /* seccomp filter installed */
    int landlock;     /* Landlock ABI version in force; 0 = the kernel has none */
};

/* First thing at start-up, before any secret is read. */
void sg_sandbox_early(void);
/* After the module, store and log are open. Honours config [signer]
 * sandbox = false and builds with SIGNET_SANDBOX=0 (sanitizers) by skipping
 * mlockall, capabilities, Landlock and seccomp; dumpable/core limits always
 * apply. Runs single-threaded: Landlock and seccomp cover the calling thread
 * and the threads it starts later. */
SIGNET_WUR signet_err sg_sandbox_enter(const struct sg_config *c, struct sg_hardening *h);

#endif
