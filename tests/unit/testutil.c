#include "testutil.h"

#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "signer/p11.h"
#include "store/store.h"

const char *sg_test_softhsm_module(void)
{
    static const char *const candidates[] = {
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    return NULL;
}

int sg_test_mkdtemp(char *buf, size_t cap, const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(buf, cap, "%s/%s-XXXXXX", tmp != NULL ? tmp : "/tmp", prefix);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return mkdtemp(buf) != NULL ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void sg_test_rmrf(const char *dir)
{
    if (dir != NULL && dir[0] != '\0' && strstr(dir, "/tmp") != NULL)
        (void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int sg_test_hsm_setup(struct sg_test_hsm *t)
{
    memset(t, 0, sizeof *t);
    const char *module = sg_test_softhsm_module();
    if (module == NULL || sg_test_mkdtemp(t->dir, sizeof t->dir, "signet-hsm") != 0)
        return -1;
    snprintf(t->module, sizeof t->module, "%s", module);
    snprintf(t->conf, sizeof t->conf, "%s/softhsm2.conf", t->dir);
    snprintf(t->label, sizeof t->label, "signet-test");
    char tokens[300];
    snprintf(tokens, sizeof tokens, "%s/tokens", t->dir);
    if (mkdir(tokens, 0700) != 0)
        return -1;
    FILE *f = fopen(t->conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
               "slots.removable = false\n", tokens);
    fclose(f);
    setenv("SOFTHSM2_CONF", t->conf, 1);
    if (sg_secret_random_text(24, &t->so_pin) != SIGNET_OK ||
        sg_secret_random_text(24, &t->user_pin) != SIGNET_OK)
        return -1;
    struct sg_p11_opts opts;
    sg_test_hsm_opts(t, &opts);
    return sg_p11_init_token(&opts, t->so_pin, t->user_pin) == SIGNET_OK ? 0 : -1;
}

void sg_test_hsm_teardown(struct sg_test_hsm *t)
{
    sg_secret_free(&t->so_pin);
    sg_secret_free(&t->user_pin);
    sg_test_rmrf(t->dir);
}

void sg_test_hsm_opts(const struct sg_test_hsm *t, struct sg_p11_opts *opts)
{
    static char dirbuf[256];
    snprintf(dirbuf, sizeof dirbuf, "%s", t->module);
    char *slash = strrchr(dirbuf, '/');
    if (slash != NULL)
        *slash = '\0';
    opts->module_path = t->module;
    opts->allow_dirs = dirbuf;
    opts->token_label = t->label;
    opts->sessions = 2;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    return bad || chmod(path, mode) != 0 ? -1 : 0;
}

void sg_test_state_set_clock(const struct sg_test_state *st, long long now)
{
    char text[32];
    snprintf(text, sizeof text, "%lld\n", now);
    (void)write_file(st->clock, text, 0600);
}

int sg_test_state_setup(struct sg_test_state *st, const char *extra_conf)
{
    memset(st, 0, sizeof *st);
    const char *module = sg_test_softhsm_module();
    if (module == NULL || sg_test_mkdtemp(st->dir, sizeof st->dir, "signet-state") != 0)
        return -1;
    char path[400], text[2048];
    snprintf(st->clock, sizeof st->clock, "%s/clock", st->dir);
    /* The layout of `signet init` (single account): signer/ and front/. */
    snprintf(path, sizeof path, "%s/signer", st->dir);
    if (mkdir(path, 0700) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/front", st->dir);
    if (mkdir(path, 0700) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/signer/tokens", st->dir);
    if (mkdir(path, 0700) != 0)
        return -1;
    snprintf(text, sizeof text,
             "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", path);
    snprintf(path, sizeof path, "%s/signer/softhsm2.conf", st->dir);
    if (write_file(path, text, 0600) != 0)
        return -1;
    setenv("SOFTHSM2_CONF", path, 1);
    struct sg_secret *so = NULL, *user = NULL;
    if (sg_secret_random_text(24, &so) != SIGNET_OK || sg_secret_random_text(24, &user) != SIGNET_OK)
        return -1;
    snprintf(path, sizeof path, "%s/signer/so.pin", st->dir);
    int rc = write_file(path, (const char *)so->data, 0600);
    snprintf(path, sizeof path, "%s/signer/user.pin", st->dir);
    rc |= write_file(path, (const char *)user->data, 0600);
    snprintf(text, sizeof text,
             "[hsm]\nmodule = %s\ntoken_label = signet\n"
             "[keys]\nrotation_period = 600\njwks_max_age = 60\nclock_skew = 30\n"
             "max_token_lifetime = 900\n"
             "[tenant:a]\nissuer = https://a.example/t/a\nalgs = ES256, EdDSA, PS256\n"
             "[tenant:b]\nissuer = https://b.example/t/b\n"
             "%s\n",
             module, extra_conf != NULL ? extra_conf : "");
    snprintf(path, sizeof path, "%s/signet.conf", st->dir);
    rc |= write_file(path, text, 0600);
    struct sg_p11_opts opts;
    char dirbuf[256];
    snprintf(dirbuf, sizeof dirbuf, "%s", module);
    char *slash = strrchr(dirbuf, '/');
    if (slash != NULL)
        *slash = '\0';
    opts.module_path = module;
    opts.allow_dirs = dirbuf;
    opts.token_label = "signet";
    opts.sessions = 1;
    if (rc == 0 && sg_p11_init_token(&opts, so, user) != SIGNET_OK)
        rc = -1;
    sg_secret_free(&so);
    sg_secret_free(&user);
    if (rc != 0)
        return -1;
    static const char *const stores[] = {"signer/keys.db", "front/signet.db"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", st->dir, stores[i]);
        struct sg_store *store = NULL;
        if (sg_store_open(path, 1, &store) != SIGNET_OK)
            return -1;
        sg_store_close(&store);
    }
    return 0;
}

void sg_test_state_teardown(struct sg_test_state *st)
{
    sg_test_rmrf(st->dir);
}
