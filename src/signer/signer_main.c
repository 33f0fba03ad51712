/* signet-signer: started by signetd's launcher or the CLI with one end of a
 * socketpair (and, from the launcher, one end of a second one, for the
 * monitor). It alone reads the PIN and loads the PKCS#11 module.
 *
 *   signet-signer --state DIR --fd N [--role-front] [--monitor-fd M] [--no-advance]
 *                                         serve frames on descriptor N (the
 *                                         front end's with --role-front, else
 *                                         an administrator's) and on M (the
 *                                         monitor's)
 *   signet-signer --state DIR --init-token
 *                                         initialise the embedded token with
 *                                         the PINs in the state directory
 *   signet-signer --state DIR --audit-reset REASON
 *                                         start a new audit chain after the
 *                                         log was lost (`signet audit reset`):
 *                                         exit 0 done, 1 nothing to reset */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/fault.h"
#include "common/ipc.h"
#include "common/signer_client.h"
#include "signer/p11.h"
#include "signer/sandbox.h"
#include "signer/signer.h"
#include "util/log.h"
#include "util/secret.h"

static int usage(void)
{
    fprintf(stderr, "usage: signet-signer --state DIR (--fd N [--no-advance] [--role-front] "
                    "[--monitor-fd M] | --init-token | --audit-reset REASON)\n");
    return 2;
}

static int init_token(const char *state)
{
    struct sg_config cfg;
    char msg[512] = "";
    signet_err err = sg_config_load(state, &cfg, msg, sizeof msg);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet-signer: %s\n", msg);
        return 2;
    }
    if (cfg.softhsm_conf[0] != '\0')
        (void)setenv("SOFTHSM2_CONF", cfg.softhsm_conf, 1);
    struct sg_secret *so = NULL, *user = NULL;
    err = sg_secret_read_file(cfg.so_pin_file, 256, &so);
    if (err == SIGNET_OK)
        err = sg_secret_read_file(cfg.pin_file, 256, &user);
    if (err == SIGNET_OK) {
        struct sg_p11_opts opts = {
            .module_path = cfg.module,
            .allow_dirs = cfg.module_dirs,
            .token_label = cfg.token_label,
            .sessions = 1,
        };
        err = sg_p11_init_token(&opts, so, user);
    }
    sg_secret_free(&so);
    sg_secret_free(&user);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet-signer: cannot initialise token '%s': %s\n", cfg.token_label,
                signet_strerror(err));
        return 1;
    }
    return 0;
}

/* `signet audit reset`: a new chain whose first record says why. */
static int audit_reset(const char *state, const char *reason)
{
    struct sg_signer *s = NULL;
    char msg[768] = "", moved[4200] = "";
    signet_err err = sg_signer_open(state, &s, msg, sizeof msg);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet-signer: %s\n", msg);
        return 3;
    }
    err = sg_signer_audit_reset(s, reason, moved, sizeof moved);
    sg_signer_close(&s);
    if (err == SIGNET_ERR_EXISTS) {
        fprintf(stderr, "signet-signer: the audit log is whole and holds its recorded head: "
                        "nothing to reset\n");
        return 1;
    }
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet-signer: audit reset failed: %s\n", signet_strerror(err));
        return 3;
    }
    printf("new audit chain started%s%s\n", moved[0] != '\0' ? "; the old log is kept as " : "",
           moved);
    return 0;
}

/* A descriptor number from argv: 3..1024. */
static int parse_fd(const char *arg, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 3 || v > 1024)
        return -1;
    *out = (int)v;
    return 0;
}

/* A monitor that stops reading its answers must not stall the signer's
 * front end: a write to its channel that cannot complete within this long
 * fails, and only the monitor's channel is closed. */
#define MONITOR_SEND_TIMEOUT_S 10

int main(int argc, char **argv)
{
    sg_sandbox_early();
    /* A vanished front end or a file-size limit is an error to handle
     * (EPIPE, EFBIG: fail closed), not a signal that kills the signer. */
    (void)signal(SIGPIPE, SIG_IGN);
    (void)signal(SIGXFSZ, SIG_IGN);
    const char *lvl = getenv("SIGNET_LOG_LEVEL");
    sg_log_init("signer", getenv("SIGNET_DEBUG") != NULL                   ? SG_LOG_DEBUG
                          : lvl != NULL && strcmp(lvl, "warn") == 0  ? SG_LOG_WARN
                          : lvl != NULL && strcmp(lvl, "error") == 0 ? SG_LOG_ERROR
                                                                     : SG_LOG_INFO);
    sg_fault_init();
    const char *state = NULL;
    int fd = -1, mon_fd = -1, do_init = 0, advance = 1, front = 0;
    const char *reset_reason = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            state = argv[++i];
        } else if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
            if (parse_fd(argv[++i], &fd) != 0)
                return usage();
        } else if (strcmp(argv[i], "--monitor-fd") == 0 && i + 1 < argc) {
            /* The launcher's second channel: its peer is the monitor. */
            if (parse_fd(argv[++i], &mon_fd) != 0)
                return usage();
        } else if (strcmp(argv[i], "--no-advance") == 0) {
            advance = 0;
        } else if (strcmp(argv[i], "--role-front") == 0) {
            front = 1; /* the launcher says the peer is the front end */
        } else if (strcmp(argv[i], "--init-token") == 0) {
            do_init = 1;
        } else if (strcmp(argv[i], "--audit-reset") == 0 && i + 1 < argc) {
            reset_reason = argv[++i];
        } else {
            return usage();
        }
    }
    if (state != NULL && reset_reason != NULL && fd < 0 && mon_fd < 0 && !do_init)
        return audit_reset(state, reset_reason);
    if (state == NULL || reset_reason != NULL || (fd < 0) == !do_init ||
        (mon_fd >= 0 && (do_init || mon_fd == fd)))
        return usage();
    if (do_init)
        return init_token(state);

    struct sg_signer *s = NULL;
    char msg[768] = "";
    signet_err err = sg_signer_open(state, &s, msg, sizeof msg);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "signer_start_failed", "error=%s detail=\"%s\"",
               signet_err_name(err), msg);
        /* Tell the front end why, as the status of a pseudo-response. */
        fprintf(stderr, "signet-signer: %s\n", msg);
        return 3;
    }
    sg_signer_set_role(s, front ? SG_ROLE_FRONT : SG_ROLE_ADMIN);
    if (mon_fd >= 0) {
        /* Before the sandbox, whose filter has no setsockopt. */
        struct timeval tv = {.tv_sec = MONITOR_SEND_TIMEOUT_S};
        if (setsockopt(mon_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
            sg_log(SG_LOG_WARN, "monitor_channel_timeout_failed", "fd=%d errno=%d", mon_fd, errno);
    }
    err = advance ? sg_signer_advance(s) : SIGNET_OK;
    if (err != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "lifecycle_start_failed", "error=%s", signet_err_name(err));
    struct sg_hardening h;
    err = sg_sandbox_enter(sg_signer_config(s), &h);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "sandbox_failed", "error=%s", signet_err_name(err));
        sg_signer_close(&s);
        return 4;
    }
    sg_signer_set_hardening(s, h.seccomp, h.dumpable, h.mlocked, h.no_new_privs, h.landlock);
    /* Signing threads start inside the sandbox so that they inherit all of
     * it (seccomp filter, dropped capabilities and no-new-privs are
     * per-thread attributes). */
    err = sg_signer_start_workers(s);
    if (err != SIGNET_OK)
        sg_log(SG_LOG_WARN, "workers_failed", "error=%s", signet_err_name(err));
    sg_log(SG_LOG_INFO, "signer_ready", "state=%s", state);
    err = sg_signer_serve2(s, fd, front ? SG_ROLE_FRONT : SG_ROLE_ADMIN, mon_fd);
    sg_signer_close(&s);
    if (err == SIGNET_ERR_HSM_TOKEN)
        return SG_SIGNER_EXIT_TOKEN_LOST; /* the launcher's next signer starts afresh */
    return err == SIGNET_OK ? 0 : 5;
}
