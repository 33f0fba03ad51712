/* Replays the attack corpus in tests/attacks/: every token file must be
 * rejected by signet_verify() with exactly the error its MANIFEST line
 * names (the two controls must pass). Corpus: tests/attacks/gen_attacks.py. */
#include <signet/signet.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int64_t corpus_now;

static int64_t corpus_clock(void *ctx)
{
    (void)ctx;
    return corpus_now;
}

static char *corpus_path(const char *name)
{
    const char *src = getenv("SIGNET_SOURCE_DIR");
    char *p = malloc(1024);
    snprintf(p, 1024, "%s/tests/attacks/%s", src != NULL ? src : ".", name);
    return p;
}

static signet_err code_by_name(const char *name)
{
    for (int i = 0; i < 400; i++)
        if (strcmp(signet_err_name((signet_err)i), name) == 0)
            return (signet_err)i;
    fail_msg("unknown error name %s in MANIFEST", name);
    return SIGNET_ERR_INTERNAL;
}

/* Splits off the next space-separated word of *line (in place). */
static char *word(char **line)
{
    char *s = *line;
    while (*s == ' ')
        s++;
    if (*s == '\0')
        return NULL;
    char *e = strchr(s, ' ');
    if (e != NULL) {
        *e = '\0';
        *line = e + 1;
    } else {
        *line = s + strlen(s);
    }
    return s;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void test_attack_corpus(void **state)
{
    (void)state;
    char *mpath = corpus_path("MANIFEST");
    FILE *m = fopen(mpath, "r");
    assert_non_null(m);
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_clock(cfg, corpus_clock, NULL), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_background_refresh(cfg, 0), SIGNET_OK);
    char line[1024];
    size_t cases = 0, rejected = 0;
    while (fgets(line, sizeof line, m) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *rest = line;
        char *kind = word(&rest);
        if (kind == NULL || kind[0] == '#')
            continue;
        if (strcmp(kind, "now") == 0) {
            corpus_now = strtoll(word(&rest), NULL, 10);
        } else if (strcmp(kind, "issuer") == 0) {
            char *iss = word(&rest);
            char *jwks = corpus_path(word(&rest));
            assert_int_equal(signet_verifier_config_add_issuer_jwks_file(cfg, iss, jwks), SIGNET_OK);
            free(jwks);
        } else if (strcmp(kind, "audience") == 0) {
            assert_int_equal(signet_verifier_config_add_audience(cfg, word(&rest)), SIGNET_OK);
        } else if (strcmp(kind, "case") == 0) {
            if (v == NULL)
                assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_OK);
            char *file = word(&rest);
            signet_err want = code_by_name(word(&rest));
            char *path = corpus_path(file);
            size_t len = 0;
            char *tok = read_all(path, &len);
            signet_claims *c = NULL;
            signet_err got = signet_verify(v, tok, len, NULL, &c);
            printf("# %-34s %-34s %s\n", file, signet_err_name(got), rest);
            if (got != want)
                fail_msg("%s: expected %s, got %s", file, signet_err_name(want), signet_err_name(got));
            assert_true((got == SIGNET_OK) == (c != NULL));
            signet_claims_free(c);
            cases++;
            rejected += got != SIGNET_OK;
            free(tok);
            free(path);
        } else {
            fail_msg("bad MANIFEST line: %s", kind);
        }
    }
    fclose(m);
    free(mpath);
    /* Every token file in the directory is in the MANIFEST. */
    char *dir = corpus_path("");
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        files += n > 4 && strcmp(e->d_name + n - 4, ".jwt") == 0;
    }
    closedir(d);
    free(dir);
    printf("# %zu cases, %zu rejected for the expected reason\n", cases, rejected);
    assert_int_equal(files, cases);
    assert_true(cases >= 40);
    signet_verifier_free(v);
    signet_verifier_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attack_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
