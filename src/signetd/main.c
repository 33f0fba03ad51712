/* signetd: the OAuth 2.0 token service.
 *
 *   signetd [--state DIR] [--config FILE]
 *
 * Runs in the foreground and logs one line per event to stderr. SIGTERM or
 * SIGINT: stop accepting, let in-flight requests finish (drain_timeout),
 * exit 0. SIGHUP: reload the configuration and restart the signers so they
 * read it too (listen address and TLS need a restart). SIGUSR1 (from the
 * launcher, after it restarted the monitor): replace the signers one at a
 * time, so that each has a channel to the new monitor. With $NOTIFY_SOCKET
 * set, readiness is reported the sd_notify way. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/accounts.h"
#include "common/config.h"
#include "common/fault.h"
#include "signetd/auth.h"
#include "signetd/chan.h"
#include "signetd/conf.h"
#include "signetd/ctx.h"
#include "signetd/http.h"
#include "signetd/launcher.h"
#include "signetd/monproc.h"
#include "signetd/nonce.h"
#include "signetd/password.h"
#include "signetd/pool.h"
#include "signetd/replay.h"
#include "signetd/sandbox.h"
#include "signetd/sigpipe.h"
#include "signetd/telemetry.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"

static int sig_fd = -1; /* sigpipe.h */

/* Readiness goes to systemd from the launcher, the unit's main process
 * (NotifyAccess=main): the front end asks it to. */
static struct sd_ctx *notify_ctx;

static void notify(const char *msg)
{
    unsigned what = strcmp(msg, "READY=1") == 0       ? SD_NOTIFY_READY
                    : strcmp(msg, "RELOADING=1") == 0 ? SD_NOTIFY_RELOADING
                                                      : SD_NOTIFY_STOPPING;
    if (notify_ctx != NULL && notify_ctx->launcher_fd >= 0)
        sd_launcher_notify(notify_ctx->launcher_fd, what);
}

static unsigned pool_mode(const struct sg_config *cfg)
{
    unsigned mode = 0;
    if (cfg->rotation_period < SG_MIN_ROTATION_PERIOD)
        mode |= SD_POOL_SHORT_ROTATION;
    if (cfg->clock_file[0] != '\0')
        mode |= SD_POOL_FAST_POLL;
    if (cfg->pause_rotation)
        mode |= SD_POOL_PAUSED;
    return mode;
}

static enum sg_log_level level_of(const struct sg_config *cfg)
{
    if (getenv("SIGNET_DEBUG") != NULL)
        return SG_LOG_DEBUG;
    return (enum sg_log_level)cfg->server.log_level;
}

static void reload(struct sd_ctx *c)
{
    notify("RELOADING=1");
    struct sd_conf *k = NULL;
    char err[768] = "";
    signet_err e = sd_conf_load(c, &k, err, sizeof err);
    if (e != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "reload_failed", "error=%s detail=\"%s\" action=keep_old_config",
               signet_err_name(e), err);
        notify("READY=1");
        return;
    }
    struct sd_conf *old = sd_conf_get(c);
    const struct sg_server_cfg *a = &old->cfg.server, *b = &k->cfg.server;
    if (strcmp(a->listen_host, b->listen_host) != 0 || a->port != b->port ||
        strcmp(a->tls_cert, b->tls_cert) != 0 || strcmp(a->tls_key, b->tls_key) != 0 ||
        a->threads != b->threads || a->max_body != b->max_body ||
        a->max_connections != b->max_connections ||
        a->max_connections_per_address != b->max_connections_per_address ||
        a->connection_timeout != b->connection_timeout ||
        a->request_deadline != b->request_deadline || a->signers != b->signers ||
        a->log_level != b->log_level || a->telemetry_port != b->telemetry_port ||
        strcmp(a->telemetry_host, b->telemetry_host) != 0)
        sg_log(SG_LOG_WARN, "reload_partial",
               "detail=\"listen, telemetry_listen, TLS, threads, max_body, connections, "
               "signers and log_level "
               "take effect at the next start\"");
    sd_conf_put(old);
    sg_clock_use_file(k->cfg.clock_file[0] != '\0' ? k->cfg.clock_file : NULL);
    pthread_mutex_lock(&c->conf_lock);
    old = c->conf;
    c->conf = k;
    pthread_mutex_unlock(&c->conf_lock);
    sd_conf_put(old);
    /* The signers enforce lifetimes and issuers from their own copy of the
     * config: restart them so both sides agree. */
    sd_pool_respawn(&c->pool, pool_mode(&k->cfg));
    /* The monitor reloads on its own SIGHUP (the launcher sends it one). */
    sg_log(SG_LOG_INFO, "reloaded", "tenants=%zu", k->cfg.n_tenants);
    notify("READY=1");
}

/* The OpenSSH way round: the privileged process is the parent. The child
 * becomes the front end, under the account that owns <state>/front when we
 * are root; the parent runs the launcher until the front end exits (and
 * then c->launcher_fd is -1 and c->exit_code its status). */
static signet_err split_processes(struct sd_ctx *c)
{
    struct sg_account front = {getuid(), getgid()}, monitor;
    if (geteuid() == 0) {
        /* Both directories, or no start: the monitor must not be left out
         * by a state directory from before it had an account. */
        static const char *const dirs[] = {SG_FRONT_DIR, SG_MONITOR_DIR};
        for (size_t i = 0; i < 2; i++) {
            signet_err err = sg_account_of_dir(c->state_dir, dirs[i], i == 0 ? &front : &monitor);
            if (err != SIGNET_OK) {
                sg_log(SG_LOG_ERROR, "layout_invalid", "dir=%s/%s error=%s action=\"run signet "
                       "init --state on it: it brings an earlier layout up to date\"",
                       c->state_dir, dirs[i], signet_err_name(err));
                fprintf(stderr, "signetd: %s/%s: %s (run 'signet init --state %s': it brings an "
                                "earlier layout up to date)\n",
                        c->state_dir, dirs[i], signet_strerror(err), c->state_dir);
                return err;
            }
        }
    }
    c->boundary_enforced = sg_boundary_enforced(c->state_dir) && geteuid() == 0;
    int end = -1;
    pid_t pid = -1;
    if (sd_chan_fork(&end, &pid) != SIGNET_OK)
        return SIGNET_ERR_IO;
    if (pid > 0) {
        sg_log(SG_LOG_INFO, "launcher_started", "front_pid=%ld trust_boundary=\"%s\"", (long)pid,
               sg_boundary_text(c->boundary_enforced));
        const struct sd_monitor_starter ms = {sd_monproc_start, c};
        c->exit_code = sd_launcher_run(c->state_dir, end, pid, &ms);
        c->launcher_fd = -1;
        return SIGNET_OK;
    }
    c->launcher_fd = end;
    notify_ctx = c;
    char why[768] = "";
    signet_err terr = sd_tls_load(c, &c->conf->cfg.server, why, sizeof why);
    if (terr != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "listen_failed", "error=%s detail=\"%s\"", signet_err_name(terr), why);
        fprintf(stderr, "signetd: %s\n", why);
        _exit(1);
    }
    pid_t launcher = getppid();
    signet_err err = sd_sandbox_become(&front);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "front_drop_failed", "uid=%ld error=%s", (long)front.uid,
               signet_err_name(err));
        _exit(1);
    }
    /* The launcher's death ends us too. Set after the change of account,
     * which clears it (prctl(2)); a launcher already gone is caught here. */
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != launcher)
        _exit(1);
    c->front_uid = (long)getuid(); /* before the monitor thread reads it */
    return SIGNET_OK;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: signetd [--state DIR] [--config FILE]\n\n"
               "The signet OAuth 2.0 token service. DIR is the state directory made by\n"
               "'signet init' (default $SIGNET_STATE, else %s); its signet.conf is the\n"
               "configuration. --config FILE reads the [server] section from FILE instead.\n"
               "Signals: TERM/INT drain and exit, HUP reloads the configuration.\n"
               "See docs/signetd.md.\n",
               SIGNET_DEFAULT_STATE);
}

static int install_signals(void)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
    sig_fd = sd_sigpipe_open(sigs, sizeof sigs / sizeof sigs[0]);
    return sig_fd >= 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *state = NULL, *server_conf = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': state = optarg; break;
        case 'c': server_conf = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("signetd %s\n", SIGNET_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (state == NULL || state[0] == '\0')
        state = getenv("SIGNET_STATE");
    if (state == NULL || state[0] == '\0')
        state = SIGNET_DEFAULT_STATE;
    sg_log_init("signetd", SG_LOG_INFO);

    static struct sd_ctx ctx; /* large (JWKS slots); not on the stack */
    struct sd_ctx *c = &ctx;
    if (strlen(state) >= sizeof c->state_dir ||
        (server_conf != NULL && strlen(server_conf) >= sizeof c->server_conf)) {
        fprintf(stderr, "signetd: path too long\n");
        return 2;
    }
    memcpy(c->state_dir, state, strlen(state) + 1);
    /* Every file this process and its children make is theirs alone,
     * whatever umask started us (the layout gives the rest explicitly). */
    (void)umask(077);
    char why[4400];
    if (sg_state_dir_check(state, 1, why, sizeof why) == SIGNET_ERR_PERMISSION) {
        sg_log(SG_LOG_ERROR, "state_insecure", "detail=\"%s\"", why);
        fprintf(stderr, "signetd: %s\n", why);
        return 2;
    }
    if (server_conf != NULL)
        memcpy(c->server_conf, server_conf, strlen(server_conf) + 1);
    pthread_mutex_init(&c->conf_lock, NULL);
    pthread_mutex_init(&c->store_lock, NULL);
    pthread_mutex_init(&c->replay_lock, NULL);
    for (size_t i = 0; i < SG_MAX_TENANTS; i++) {
        pthread_mutex_init(&c->jwks[i].lock, NULL);
        c->jwks[i].version = -1;
    }
    char err[768] = "";
    signet_err e = sd_conf_load(c, &c->conf, err, sizeof err);
    if (e != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "config_invalid", "error=%s detail=\"%s\"", signet_err_name(e), err);
        fprintf(stderr, "signetd: %s\n", err);
        return 2;
    }
    const struct sg_config *cfg = &c->conf->cfg;
    sg_log_init("signetd", level_of(cfg));
    /* Split before anything else runs (no thread exists yet): the parent
     * stays the launcher, the child becomes the front end. */
    e = split_processes(c);
    if (e != SIGNET_OK) {
        fprintf(stderr, "signetd: cannot start the front end: %s\n", signet_strerror(e));
        return 1;
    }
    if (c->launcher_fd < 0)
        return c->exit_code; /* the launcher, done */
    sg_clock_use_file(cfg->clock_file[0] != '\0' ? cfg->clock_file : NULL);
    sg_fault_init();
    if (install_signals() != 0 || sd_auth_init(c->state_dir) != SIGNET_OK ||
        sd_password_init() != SIGNET_OK ||
        sd_dpop_init(c->state_dir) != SIGNET_OK) {
        fprintf(stderr, "signetd: cannot initialise\n");
        return 1;
    }
    /* The store: clients and the replay cache (opening it also migrates). */
    e = sg_store_open(cfg->store, 0, &c->store);
    if (e == SIGNET_OK) {
        e = sg_store_open_replay(cfg->store, &c->replay);
        if (e == SIGNET_OK)
            e = sd_replay_start(c);
        if (e != SIGNET_OK) {
            sg_store_close(&c->replay);
            sg_store_close(&c->store);
        }
    }
    if (e != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "store_open_failed", "store=%s error=%s", cfg->store,
               signet_err_name(e));
        fprintf(stderr, "signetd: store %s: %s\n", cfg->store, signet_strerror(e));
        return 2;
    }
    /* Signers start before the listener; one that cannot start (wrong PIN,
     * HSM missing) is retried, and readyz answers 503 meanwhile. */
    sd_tm_init(c);
    e = sd_pool_start(&c->pool, c->launcher_fd, cfg->server.signers, pool_mode(cfg));
    if (e != SIGNET_OK) {
        fprintf(stderr, "signetd: cannot start the signer pool: %s\n", signet_strerror(e));
        return 1;
    }
    /* The metrics, and the channel to the monitor process. */
    e = sd_tm_start(c, cfg);
    if (e != SIGNET_OK) {
        fprintf(stderr, "signetd: cannot start the metrics: %s\n", signet_strerror(e));
        sd_tm_stop(c);
        sd_pool_stop(&c->pool);
        sd_tm_free(c);
        sd_replay_stop();
        sg_store_close(&c->replay);
        sg_store_close(&c->store);
        return 1;
    }
    struct sd_http *http = NULL;
    e = sd_http_start(c, cfg, &http, err, sizeof err);
    if (e != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "listen_failed", "error=%s detail=\"%s\"", signet_err_name(e), err);
        fprintf(stderr, "signetd: %s\n", err);
        sd_pool_stop_scheduler(&c->pool);
        sd_tm_stop(c);
        sd_pool_stop(&c->pool);
        sd_tm_free(c);
        sd_replay_stop();
        sg_store_close(&c->replay);
        sg_store_close(&c->store);
        return 1;
    }
    /* ---- SANDBOX: the one call site of sd_sandbox_enter ----------------
     * Here because everything that needs what the filter refuses is done:
     * the port is bound, the store open (the TLS key was read before the
     * front end gave up root). Threads already run (MHD's pool, the
     * signer readers, the scheduler): the filter is synchronised to every
     * one (TSYNC) and each drops its own capabilities. The launcher starts
     * the signers and the monitor (which runs the alerts): the front end
     * never starts a process. */
    struct sd_hardening hardening;
    e = sd_sandbox_enter(SIGNET_SANDBOX ? SD_SANDBOX_ON : 0, &hardening);
    if (e != SIGNET_OK) {
        fprintf(stderr, "signetd: cannot enter the sandbox: %s\n", signet_strerror(e));
        sd_http_drain_and_stop(&http, c, 0);
        sd_pool_stop_scheduler(&c->pool);
        sd_tm_stop(c);
        sd_pool_stop(&c->pool);
        sd_tm_free(c);
        sd_replay_stop();
        sg_store_close(&c->replay);
        sg_store_close(&c->store);
        return 1;
    }
    atomic_store(&c->hardening_ready, 1);
    sd_tm_ready(c); /* I8 judges the front end now, not a period later */
    /* ---- end SANDBOX ----------------------------------------------------- */
    sg_log(SG_LOG_INFO, "started",
           "version=%s state=%s tenants=%zu signers=%u uid=%ld trust_boundary=\"%s\"",
           SIGNET_VERSION, c->state_dir, cfg->n_tenants, cfg->server.signers, c->front_uid,
           sg_boundary_text(c->boundary_enforced));
    notify("READY=1");

    int stop = 0;
    while (!stop) {
        unsigned char b = 0;
        ssize_t n = read(sig_fd, &b, 1);
        if (n < 0 && errno == EAGAIN) {
            fd_set rfds;
            FD_ZERO(&rfds);
            FD_SET(sig_fd, &rfds);
            /* Every 10 s of no signal, freed heap goes back to the system:
             * requests allocate on several threads, and glibc's per-thread
             * arenas otherwise keep the pages of what they freed (RSS crept
             * up by megabytes under private_key_jwt load while the live
             * heap stayed the same). */
            struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
            if (select(sig_fd + 1, &rfds, NULL, NULL, &tv) == 0)
                (void)malloc_trim(0);
            continue;
        }
        if (n <= 0)
            continue;
        if (b == SIGHUP) {
            sg_log(SG_LOG_INFO, "signal", "sig=HUP action=reload");
            reload(c);
        } else if (b == SIGUSR1) {
            /* The launcher started a new monitor: replace the signers, one
             * at a time, so that each gets a channel to it. */
            sg_log(SG_LOG_INFO, "signal", "sig=USR1 action=replace_signers");
            /* Tests stall here: a front end that ignores the request. */
            sg_fault_point("replace_signers");
            struct sd_conf *k = sd_conf_get(c);
            sd_pool_respawn(&c->pool, pool_mode(&k->cfg));
            sd_conf_put(k);
        } else {
            sg_log(SG_LOG_INFO, "signal", "sig=%s action=drain", b == SIGINT ? "INT" : "TERM");
            stop = 1;
        }
    }
    notify("STOPPING=1");
    atomic_store(&c->draining, 1);
    struct sd_conf *k = sd_conf_get(c);
    sd_http_drain_and_stop(&http, c, k->cfg.server.drain_timeout);
    sd_conf_put(k);
    /* Proofs still queued are recorded and signed before the signers go. */
    sd_replay_stop();
    /* The scheduler pokes the monitor: stop it, then close the channel to
     * the monitor, then the signers. */
    sd_pool_stop_scheduler(&c->pool);
    sd_tm_stop(c);
    sd_pool_stop(&c->pool);
    sd_tm_free(c);
    sg_store_close(&c->replay);
    sg_store_close(&c->store);
    sd_auth_shutdown();
    sd_dpop_shutdown();
    for (size_t i = 0; i < SG_MAX_TENANTS; i++)
        free(c->jwks[i].body);
    sd_conf_put(c->conf);
    sg_log(SG_LOG_INFO, "stopped", "requests=%lu tokens=%lu", atomic_load(&c->requests),
           atomic_load(&c->tokens));
    return 0;
}
