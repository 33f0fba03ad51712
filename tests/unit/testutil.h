/* Test fixtures: temporary directories and a real SoftHSM2 token. */
#ifndef SG_TESTUTIL_H
#define SG_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/secret.h"

struct sg_p11_opts;

struct sg_test_hsm {
    char dir[256];        /* temp dir holding tokens/ and softhsm2.conf */
    char conf[320];       /* path of softhsm2.conf; SOFTHSM2_CONF points here */
    char module[256];     /* path of libsofthsm2.so */
    char label[32];       /* token label */
    struct sg_secret *so_pin;
    struct sg_secret *user_pin;
};

/* Path of the SoftHSM2 module on this machine, or NULL. */
const char *sg_test_softhsm_module(void);
/* Creates a fresh temp directory under $TMPDIR (or /tmp); 0 on success. */
int sg_test_mkdtemp(char *buf, size_t cap, const char *prefix);
/* Recursively removes a directory tree created by the tests. */
void sg_test_rmrf(const char *dir);
/* Creates a temp SoftHSM2 token with random PINs; 0 on success. */
int sg_test_hsm_setup(struct sg_test_hsm *t);
void sg_test_hsm_teardown(struct sg_test_hsm *t);
/* Fills opts for this token (sessions = 2, allow_dirs = the module's dir). */
void sg_test_hsm_opts(const struct sg_test_hsm *t, struct sg_p11_opts *opts);

#endif

/* A complete state directory (config, PINs, SoftHSM2 token, store), as
 * `signet init` makes it but without its keys: the signer's first advance
 * creates them. extra_conf is appended to signet.conf (may be NULL). */
struct sg_test_state {
    char dir[256];
    char clock[300]; /* clock file (config [testing] clock_file) */
};
int sg_test_state_setup(struct sg_test_state *st, const char *extra_conf);
void sg_test_state_teardown(struct sg_test_state *st);
/* Writes the injected time into the state's clock file. */
void sg_test_state_set_clock(const struct sg_test_state *st, long long now);
