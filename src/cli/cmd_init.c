/* signet init: a state directory with an embedded SoftHSM2 token, random
 * PINs (0600, never printed), config, store, audit log and first keys. */
#include "cli/cmd.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/checkpoint.h"
#include "cli/cli_util.h"
#include "common/accounts.h"
#include "common/client_secret.h"
#include "common/config.h"
#include "common/ipc.h"
#include "common/signer_client.h"
#include "store/keystore.h"
#include "store/store.h"
#include "util/secret.h"

#define MAX_ISSUERS 16

static const char *find_softhsm(void)
{
    /* p11-kit's registration of the module first, then the usual paths. */
    static char from_p11kit[512];
    FILE *f = fopen("/usr/share/p11-kit/modules/softhsm2.module", "r");
    if (f != NULL) {
        char line[600];
        while (fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "module:", 7) != 0)
                continue;
            char *v = line + 7;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\r\n")] = '\0';
            if (v[0] == '/' && strlen(v) < sizeof from_p11kit && access(v, R_OK) == 0) {
                memcpy(from_p11kit, v, strlen(v) + 1);
                fclose(f);
                return from_p11kit;
            }
        }
        fclose(f);
    }
    static const char *const paths[] = {
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], R_OK) == 0)
            return paths[i];
    return NULL;
}

/* Tenant name from an issuer URL: the segment after "/t/", else "default". */
static void tenant_name(const char *issuer, size_t index, char *out, size_t cap)
{
    const char *t = issuer != NULL ? strstr(issuer, "/t/") : NULL;
    size_t n = 0;
    if (t != NULL) {
        for (t += 3; *t != '\0' && *t != '/' && n + 1 < cap; t++) {
            char c = *t;
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            out[n++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') ? c : '-';
        }
    }
    out[n] = '\0';
    if (n == 0)
        (void)snprintf(out, cap, index == 0 ? "default" : "tenant%zu", index);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wx");
    if (f == NULL)
        return -1;
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

static int run_signer_init(const char *state)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        struct sg_account a;
        if (geteuid() == 0 && sg_account_of_dir(state, SG_SIGNER_DIR, &a) == SIGNET_OK &&
            a.uid != 0 && sg_account_become(&a) != SIGNET_OK)
            _exit(126);
        char *argv[] = {(char *)"signet-signer", (char *)"--state", (char *)state,
                        (char *)"--init-token", NULL};
        execv(sg_signer_path(), argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Who a tree of the state directory is given to: every entry's owner and
 * group are the account's, except a few entries (by inode) that keep a
 * group and mode of their own. Only what differs is changed, and changed
 * says whether anything was, so that a state directory made by an earlier
 * layout is brought up to this one. */
struct kept {
    dev_t dev;
    ino_t ino;
    gid_t gid;
    mode_t mode;
};
static struct {
    struct sg_account to;
    struct kept kept[2];
    size_t n_kept;
    int changed;
} walk;

static int give_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_NS)
        return -1;
    gid_t gid = walk.to.gid;
    mode_t mode = st->st_mode & 07777;
    for (size_t i = 0; i < walk.n_kept; i++)
        if (st->st_dev == walk.kept[i].dev && st->st_ino == walk.kept[i].ino) {
            gid = walk.kept[i].gid;
            mode = walk.kept[i].mode;
        }
    if (st->st_uid != walk.to.uid || st->st_gid != gid) {
        if (lchown(p, walk.to.uid, gid) != 0)
            return -1;
        walk.changed = 1;
    }
    if ((st->st_mode & 07777) != mode) {
        if (chmod(p, mode) != 0)
            return -1;
        walk.changed = 1;
    }
    return 0;
}

/* Gives path (a tree, or one file) to a; kept: its special entries. */
static int give(const char *path, const struct sg_account *a, const struct kept *kept,
                size_t n_kept)
{
    walk.to = *a;
    walk.n_kept = n_kept;
    for (size_t i = 0; i < n_kept; i++)
        walk.kept[i] = kept[i];
    return nftw(path, give_entry, 16, FTW_PHYS);
}

/* An entry that keeps gid and mode when its tree is given away. */
static int keep(const char *path, gid_t gid, mode_t mode, struct kept *out)
{
    struct stat st;
    if (lstat(path, &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
        return -1;
    *out = (struct kept){st.st_dev, st.st_ino, gid, mode};
    return 0;
}

/* Gives signer/ to the signer's account, front/ to the front end's and
 * monitor/ (0700) to the monitor's. signer/ itself and the audit log are
 * group-owned by the monitor's group (0710, 0640) so that the invariant
 * monitor, in its own process, can read the log; nothing else in signer/
 * is readable by it (0600 files, 0700 directories), and nothing in signer/
 * by the front end. */
static int hand_over(const char *state, const struct sg_account *signer,
                     const struct sg_account *front, const struct sg_account *monitor,
                     const char *audit_log)
{
    char dir[4096];
    struct kept k[2];
    (void)snprintf(dir, sizeof dir, "%s/" SG_SIGNER_DIR, state);
    /* The log is given on its own too: it may be configured outside signer/. */
    if (keep(dir, monitor->gid, 0710, &k[0]) != 0 ||
        keep(audit_log, monitor->gid, 0640, &k[1]) != 0 || give(dir, signer, k, 2) != 0 ||
        give(audit_log, signer, k, 2) != 0)
        return -1;
    (void)snprintf(dir, sizeof dir, "%s/" SG_FRONT_DIR, state);
    if (give(dir, front, NULL, 0) != 0)
        return -1;
    (void)snprintf(dir, sizeof dir, "%s/" SG_MONITOR_DIR, state);
    if (keep(dir, monitor->gid, 0700, &k[0]) != 0)
        return -1;
    return give(dir, monitor, k, 1);
}

/* `signet init` on an initialised state directory changes none of its
 * files; it brings the layout up to date: monitor/ is created when
 * missing, so is front/client.pepper (the key of the client-secret
 * hashes), and, when the directory is split between accounts (signer/ is
 * not root's, and we are root), monitor/ is given to the monitor's
 * account (the owner of an existing monitor/, else signet-monitor, created
 * when missing), which also gets the group of signer/ and of the audit log
 * in place of the front end's (a directory made before the monitor left
 * the front end). */
static int update_layout(const char *state)
{
    struct sg_config cfg;
    char msg[512] = "";
    if (sg_config_load(state, &cfg, msg, sizeof msg) != SIGNET_OK) {
        fprintf(stderr, "signet init: %s is initialised but its configuration is not valid: %s\n",
                state, msg);
        return SG_EXIT_USAGE;
    }
    char dir[4096];
    (void)snprintf(dir, sizeof dir, "%s/" SG_MONITOR_DIR, state);
    walk.changed = 0;
    int created = mkdir(dir, 0700) == 0;
    if (!created && errno != EEXIST) {
        fprintf(stderr, "signet init: cannot create %s: %s\n", dir, strerror(errno));
        return SG_EXIT_USAGE;
    }
    int pepper = 0;
    signet_err perr = sg_pepper_create(state, &pepper);
    if (perr != SIGNET_OK) {
        fprintf(stderr, "signet init: cannot create %s/" SG_FRONT_DIR "/" SG_PEPPER_FILE ": %s\n",
                state, signet_strerror(perr));
        return SG_EXIT_USAGE;
    }
    int dpop_key = 0;
    perr = sg_dpop_key_create(state, &dpop_key);
    if (perr != SIGNET_OK) {
        fprintf(stderr, "signet init: cannot create %s/" SG_FRONT_DIR "/" SG_DPOP_KEY_FILE
                        ": %s\n",
                state, signet_strerror(perr));
        return SG_EXIT_USAGE;
    }
    struct sg_account signer, front, monitor;
    if (geteuid() == 0 && sg_account_of_dir(state, SG_SIGNER_DIR, &signer) == SIGNET_OK &&
        signer.uid != 0) {
        signet_err err = sg_account_of_dir(state, SG_FRONT_DIR, &front);
        if (err == SIGNET_OK && (sg_account_of_dir(state, SG_MONITOR_DIR, &monitor) != SIGNET_OK ||
                                 monitor.uid == 0))
            err = sg_account_ensure(SG_ACCOUNT_MONITOR, &monitor);
        if (err != SIGNET_OK || front.uid == 0 || front.uid == signer.uid ||
            monitor.uid == signer.uid || monitor.uid == front.uid) {
            fprintf(stderr,
                    "signet init: %s: cannot give " SG_MONITOR_DIR "/ an account of its own "
                    "(%s, distinct from the signer's and the front end's)\n",
                    state, SG_ACCOUNT_MONITOR);
            return SG_EXIT_USAGE;
        }
        if (hand_over(state, &signer, &front, &monitor, cfg.audit_log) != 0) {
            fprintf(stderr, "signet init: cannot give the parts of %s to their accounts\n", state);
            return SG_EXIT_USAGE;
        }
    }
    /* A directory made before the audit key existed gets one: any signer
     * makes it when it starts (issue 11). */
    bool key_made = false;
    char keyfile[PATH_MAX + 32];
    const char *slash = strrchr(cfg.audit_log, '/');
    (void)snprintf(keyfile, sizeof keyfile, "%.*s/%s",
                   slash != NULL ? (int)(slash - cfg.audit_log) : 1,
                   slash != NULL ? cfg.audit_log : ".", SG_AUDIT_KEY_FILE);
    if (access(keyfile, F_OK) != 0) {
        struct sg_signer_client *c = NULL;
        char *json = NULL;
        if (sg_cli_open_signer_ex(state, SG_SPAWN_NO_ADVANCE, &c) == SG_EXIT_OK &&
            sg_cli_request(c, SG_IPC_STATUS, NULL, &json) == SG_EXIT_OK)
            key_made = access(keyfile, F_OK) == 0;
        free(json);
        sg_signer_client_free(&c);
    }
    /* The signer's client registry, filled from the front end's store the
     * first time only (a directory made before the registry existed). */
    long long bound = -1;
    if (sg_cli_clients_backfill(state, 0, &bound) != SG_EXIT_OK)
        fprintf(stderr, "signet init: the signer's client registry was not filled: the "
                        "signer refuses tokens for clients it does not know (signet client "
                        "add binds them)\n");
    if (!created && !pepper && !dpop_key && !walk.changed && !key_made && bound < 0) {
        printf("signet: %s is already initialised; nothing changed\n", state);
        return SG_EXIT_OK;
    }
    printf("signet: %s is already initialised; no file changed, the layout was brought up to "
           "date:\n",
           state);
    if (created)
        printf("  " SG_MONITOR_DIR "/ created\n");
    if (pepper)
        printf("  " SG_FRONT_DIR "/" SG_PEPPER_FILE " created (new client secrets are HMACs "
               "under it)\n");
    if (dpop_key)
        printf("  " SG_FRONT_DIR "/" SG_DPOP_KEY_FILE " created (the key of the DPoP nonces)\n");
    if (walk.changed)
        printf("  owners and modes set (signer/ and its audit log: the monitor's group)\n");
    if (key_made)
        printf("  audit key (in the HSM): its public half written to %s\n", keyfile);
    if (bound >= 0)
        printf("  the signer's client registry filled from the front end's store (once): %lld "
               "client(s) bound\n",
               bound);
    printf("  trust boundary: %s\n", sg_boundary_describe(state));
    return SG_EXIT_OK;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: signet init [--state DIR] [--issuer URL]... [--alg ES256|EdDSA|PS256]\n"
            "                   [--module PATH] [--rotation-period DURATION]\n\n"
            "Creates DIR (default $SIGNET_STATE, else %s) with:\n"
            "  signet.conf      the configuration (see README), readable by both sides\n"
            "  signer/          the signer's alone: softhsm2.conf and tokens/ (the embedded\n"
            "                   SoftHSM2 token), user.pin so.pin (random, 0600, never printed),\n"
            "                   keys.db (the key store), audit.log (the hash-chained log)\n"
            "  front/           the front end's: signet.db (clients, replay caches),\n"
            "                   client.pepper (the key of the client-secret hashes, 0600)\n"
            "                   dpop.key (the key of the DPoP nonces, 0600)\n"
            "  monitor/         the invariant monitor's own state\n"
            "and the first ACTIVE key plus a pre-published standby per issuer.\n"
            "As root, signer/, front/ and monitor/ belong to the system accounts %s,\n"
            "%s and %s (created when missing) and the trust boundary is enforced;\n"
            "the monitor's account may read signer/audit.log and nothing else in signer/.\n"
            "Default issuer: http://localhost:8080/t/default. Running it again on an\n"
            "initialised directory changes none of its files; it brings the layout up to\n"
            "date (creates monitor/, front/client.pepper and front/dpop.key, fixes owners\n"
            "and modes of an earlier layout).\n",
            SIGNET_DEFAULT_STATE, SG_ACCOUNT_SIGNER, SG_ACCOUNT_FRONT, SG_ACCOUNT_MONITOR);
}

int sg_cmd_init(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"issuer", required_argument, NULL, 'i'},
        {"alg", required_argument, NULL, 'a'},
        {"module", required_argument, NULL, 'm'},
        {"rotation-period", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *state_opt = NULL, *alg = "ES256", *module = NULL, *period = NULL;
    const char *issuers[MAX_ISSUERS];
    size_t n_issuers = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': state_opt = optarg; break;
        case 'a': alg = optarg; break;
        case 'm': module = optarg; break;
        case 'r': period = optarg; break;
        case 'i':
            if (n_issuers == MAX_ISSUERS) {
                fprintf(stderr, "signet init: at most %d issuers\n", MAX_ISSUERS);
                return SG_EXIT_USAGE;
            }
            issuers[n_issuers++] = optarg;
            break;
        case 'h': usage(stdout); return SG_EXIT_OK;
        default: usage(stderr); return SG_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return SG_EXIT_USAGE;
    }
    const char *state = sg_cli_state_dir(state_opt);
    if (n_issuers == 0)
        issuers[n_issuers++] = "http://localhost:8080/t/default";

    /* A state directory someone else may write is not one to put keys,
     * PINs and a configuration in: refused, whether new or existing. */
    char why[4400];
    if (sg_state_dir_check(state, 0, why, sizeof why) == SIGNET_ERR_PERMISSION) {
        fprintf(stderr, "signet init: %s\n", why);
        return SG_EXIT_USAGE;
    }
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/signet.conf", state);
    if (access(path, F_OK) == 0)
        return update_layout(state);
    if (module == NULL)
        module = find_softhsm();
    if (module == NULL || access(module, R_OK) != 0) {
        fprintf(stderr, "signet init: PKCS#11 module %s not found (install softhsm2 or pass --module)\n",
                module != NULL ? module : "libsofthsm2.so");
        return SG_EXIT_USAGE;
    }

    /* Build and validate the whole config before touching the disk. */
    struct sg_config cfg;
    sg_config_defaults(&cfg, state);
    (void)snprintf(cfg.module, sizeof cfg.module, "%s", module);
    char text[4096];
    int tn = snprintf(text, sizeof text, "[hsm]\nmodule = %s\n[keys]\n%s%s%s", module,
                      period != NULL ? "rotation_period = " : "", period != NULL ? period : "",
                      period != NULL ? "\n" : "");
    for (size_t i = 0; i < n_issuers && tn > 0 && (size_t)tn < sizeof text; i++) {
        char name[64];
        tenant_name(issuers[i], i, name, sizeof name);
        tn += snprintf(text + tn, sizeof text - (size_t)tn, "[tenant:%s]\nissuer = %s\nalgs = %s\n",
                       name, issuers[i], alg);
    }
    char msg[512] = "";
    if (tn < 0 || (size_t)tn >= sizeof text ||
        sg_config_parse_string(text, state, &cfg, msg, sizeof msg) != SIGNET_OK) {
        fprintf(stderr, "signet init: invalid options: %s\n", msg[0] ? msg : "too long");
        return SG_EXIT_USAGE;
    }

    /* As root, the state directory is split between three system accounts
     * (made here when missing); otherwise everything is the caller's. */
    struct sg_account signer_acct = {getuid(), getgid()}, front_acct = {getuid(), getgid()},
                      monitor_acct = {getuid(), getgid()};
    int as_root = geteuid() == 0;
    if (as_root && (sg_account_ensure(SG_ACCOUNT_SIGNER, &signer_acct) != SIGNET_OK ||
                    sg_account_ensure(SG_ACCOUNT_FRONT, &front_acct) != SIGNET_OK ||
                    sg_account_ensure(SG_ACCOUNT_MONITOR, &monitor_acct) != SIGNET_OK)) {
        fprintf(stderr, "signet init: cannot create the system accounts %s, %s and %s (useradd)\n",
                SG_ACCOUNT_SIGNER, SG_ACCOUNT_FRONT, SG_ACCOUNT_MONITOR);
        return SG_EXIT_USAGE;
    }
    int created_dir = 0;
    mode_t old_umask = umask(077);
    if (mkdir(state, as_root ? 0755 : 0700) == 0)
        created_dir = 1;
    else if (errno != EEXIST) {
        fprintf(stderr, "signet init: cannot create %s: %s\n", state, strerror(errno));
        umask(old_umask);
        return SG_EXIT_USAGE;
    }
    if (created_dir && as_root)
        (void)chmod(state, 0755); /* every account must reach its part */
    int rc = SG_EXIT_USAGE;
    struct sg_secret *so = NULL, *user = NULL;
    struct sg_store *store = NULL;
    struct sg_signer_client *c = NULL;
    char *json = NULL;
    char tokens[4200], conf[8400], signer_dir[4096], front_dir[4096], monitor_dir[4096];
    (void)snprintf(signer_dir, sizeof signer_dir, "%s/" SG_SIGNER_DIR, state);
    (void)snprintf(front_dir, sizeof front_dir, "%s/" SG_FRONT_DIR, state);
    (void)snprintf(monitor_dir, sizeof monitor_dir, "%s/" SG_MONITOR_DIR, state);
    (void)snprintf(tokens, sizeof tokens, "%s/tokens", signer_dir);
    if (mkdir(signer_dir, 0700) != 0 || mkdir(front_dir, 0700) != 0 ||
        mkdir(monitor_dir, 0700) != 0 || mkdir(tokens, 0700) != 0) {
        fprintf(stderr, "signet init: cannot create the parts of %s: %s\n", state, strerror(errno));
        goto out;
    }
    (void)snprintf(conf, sizeof conf,
                   "# SoftHSM2 token of this signet state directory.\n"
                   "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
                   "slots.removable = false\n", tokens);
    if (write_text(cfg.softhsm_conf, conf) != 0) {
        fprintf(stderr, "signet init: cannot write %s\n", cfg.softhsm_conf);
        goto out;
    }
    if (sg_secret_random_text(32, &so) != SIGNET_OK || sg_secret_random_text(32, &user) != SIGNET_OK ||
        sg_secret_write_file(cfg.so_pin_file, so->data, so->len) != SIGNET_OK ||
        sg_secret_write_file(cfg.pin_file, user->data, user->len) != SIGNET_OK) {
        fprintf(stderr, "signet init: cannot write the PIN files\n");
        goto out;
    }
    sg_secret_free(&so);
    sg_secret_free(&user);
    if (sg_config_write(&cfg, path) != SIGNET_OK) {
        fprintf(stderr, "signet init: cannot write %s\n", path);
        goto out;
    }
    signet_err err = sg_store_open(cfg.store, 1, &store);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet init: cannot create the store %s: %s\n", cfg.store, signet_strerror(err));
        goto out;
    }
    sg_store_close(&store);
    err = sg_keystore_open(cfg.keystore, 1, &store);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet init: cannot create the key store %s: %s\n", cfg.keystore,
                signet_strerror(err));
        goto out;
    }
    sg_store_close(&store);
    int pepper = 0;
    err = sg_pepper_create(state, &pepper);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet init: cannot create %s/" SG_PEPPER_FILE ": %s\n", front_dir,
                signet_strerror(err));
        goto out;
    }
    err = sg_dpop_key_create(state, &pepper);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet init: cannot create %s/" SG_DPOP_KEY_FILE ": %s\n", front_dir,
                signet_strerror(err));
        goto out;
    }
    if (write_text(cfg.audit_log, "") != 0) {
        fprintf(stderr, "signet init: cannot create %s\n", cfg.audit_log);
        goto out;
    }
    if (as_root && hand_over(state, &signer_acct, &front_acct, &monitor_acct, cfg.audit_log) != 0) {
        fprintf(stderr, "signet init: cannot give %s, %s and %s to their accounts\n", signer_dir,
                front_dir, monitor_dir);
        goto out;
    }
    if (run_signer_init(state) != 0) {
        fprintf(stderr, "signet init: the HSM token could not be initialised\n");
        goto out;
    }
    /* The signer generates, publishes and activates the first keys. */
    rc = sg_cli_open_signer(state, &c);
    if (rc == SG_EXIT_OK)
        rc = sg_cli_request(c, SG_IPC_KEYS, "", &json);
    sg_signer_client_free(&c);
    /* A new directory has no client to carry over: its registry is marked
     * filled, so a later `signet init` never takes clients from the front
     * end's store (which the front end could have written meanwhile). */
    if (rc == SG_EXIT_OK)
        rc = sg_cli_clients_backfill(state, 1, NULL);
    if (rc != SG_EXIT_OK)
        goto out;
    printf("initialised %s\n", state);
    printf("  token: SoftHSM2 '%s' (%s), PINs in " SG_SIGNER_DIR "/user.pin and so.pin (mode 0600)\n",
           cfg.token_label, module);
    printf("  trust boundary: %s\n", sg_boundary_describe(state));
    json_t *rows = sg_cli_reply_json(json, "[]");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        printf("  %s %s %s %s\n", json_string_value(json_object_get(r, "issuer")),
               json_string_value(json_object_get(r, "alg")),
               json_string_value(json_object_get(r, "state")),
               json_string_value(json_object_get(r, "kid")));
    }
    json_decref(rows);
    rc = SG_EXIT_OK;
out:
    free(json);
    sg_signer_client_free(&c);
    sg_secret_free(&so);
    sg_secret_free(&user);
    if (rc != SG_EXIT_OK) {
        /* Leave nothing half-made behind. */
        if (created_dir) {
            (void)nftw(state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        } else {
            (void)unlink(path);
            (void)nftw(signer_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            (void)nftw(front_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            (void)nftw(monitor_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        }
    }
    umask(old_umask);
    return rc;
}
