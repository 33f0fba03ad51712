/* common/client_secret: client secrets as HMAC-SHA-256 under the front
 * end's pepper (issue 11), the pepper file, and signetd's dummy client keys
 * (an unknown client's assertion costs what a known one's does). */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/client_secret.h"
#include "common/config.h"
#include "common/oauth_req.h"
#include "signetd/dummy_jwks.h"

struct fx {
    char dir[256];
    struct sg_secret *pepper;
};

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    if (sg_test_mkdtemp(f.dir, sizeof f.dir, "client-secret") != 0)
        return -1;
    char front[300];
    (void)snprintf(front, sizeof front, "%s/" SG_FRONT_DIR, f.dir);
    if (mkdir(front, 0700) != 0)
        return -1;
    int created = 0;
    if (sg_pepper_create(f.dir, &created) != SIGNET_OK || !created ||
        sg_pepper_load(f.dir, &f.pepper) != SIGNET_OK)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sg_secret_free(&f->pepper);
    sg_test_rmrf(f->dir);
    return 0;
}

static void test_pepper_file(void **state)
{
    struct fx *f = *state;
    char path[320];
    (void)snprintf(path, sizeof path, "%s/" SG_FRONT_DIR "/" SG_PEPPER_FILE, f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(f->pepper->len, SG_PEPPER_LEN);
    /* Creating again keeps it. */
    int created = 1;
    assert_int_equal(sg_pepper_create(f->dir, &created), SIGNET_OK);
    assert_int_equal(created, 0);
    struct sg_secret *again = NULL;
    assert_int_equal(sg_pepper_load(f->dir, &again), SIGNET_OK);
    assert_memory_equal(again->data, f->pepper->data, SG_PEPPER_LEN);
    sg_secret_free(&again);
    /* Readable by others: refused. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(sg_pepper_load(f->dir, &again), SIGNET_ERR_PERMISSION);
    assert_int_equal(chmod(path, 0600), 0);
    /* Not 32 bytes: refused. */
    char short_dir[300];
    (void)snprintf(short_dir, sizeof short_dir, "%s/short", f->dir);
    char front[320], p2[340];
    (void)snprintf(front, sizeof front, "%s/" SG_FRONT_DIR, short_dir);
    (void)snprintf(p2, sizeof p2, "%s/" SG_PEPPER_FILE, front);
    assert_int_equal(mkdir(short_dir, 0700), 0);
    assert_int_equal(mkdir(front, 0700), 0);
    assert_int_equal(sg_secret_write_file(p2, (const uint8_t *)"c2hvcnQ\n", 8), SIGNET_OK);
    assert_int_not_equal(sg_pepper_load(short_dir, &again), SIGNET_OK);
    assert_null(again);
    /* Missing: not found. */
    assert_int_equal(unlink(p2), 0);
    assert_int_equal(sg_pepper_load(short_dir, &again), SIGNET_ERR_NOT_FOUND);
}

static void test_hash_and_check(void **state)
{
    struct fx *f = *state;
    char h1[SG_SECRET_HMAC_MAX], h2[SG_SECRET_HMAC_MAX];
    assert_int_equal(sg_client_secret_hash(f->pepper, "s3cret", h1), SIGNET_OK);
    assert_int_equal(sg_client_secret_hash(f->pepper, "s3cret", h2), SIGNET_OK);
    assert_int_equal(strncmp(h1, "hmac-sha256$", 12), 0);
    assert_int_equal(sg_client_secret_kind(h1), SG_SECRET_KIND_HMAC);
    assert_string_not_equal(h1, h2); /* a fresh salt each time */
    assert_true(sg_client_secret_check(f->pepper, "s3cret", h1));
    assert_true(sg_client_secret_check(f->pepper, "s3cret", h2));
    assert_false(sg_client_secret_check(f->pepper, "s3cret ", h1));
    assert_false(sg_client_secret_check(f->pepper, "s3cre", h1));
    assert_false(sg_client_secret_check(f->pepper, "", h1));
    /* Another pepper: no match (a copy of the store alone confirms nothing). */
    struct sg_secret *other = NULL;
    assert_int_equal(sg_secret_new(SG_PEPPER_LEN + 1, &other), SIGNET_OK);
    memset(other->data, 7, SG_PEPPER_LEN);
    other->len = SG_PEPPER_LEN;
    assert_false(sg_client_secret_check(other, "s3cret", h1));
    sg_secret_free(&other);
    assert_false(sg_client_secret_check(NULL, "s3cret", h1));
}

static void test_malformed(void **state)
{
    struct fx *f = *state;
    char h[SG_SECRET_HMAC_MAX];
    assert_int_equal(sg_client_secret_hash(f->pepper, "x", h), SIGNET_OK);
    char bad[SG_SECRET_HMAC_MAX + 8];
    static const char *const forms[] = {
        "", "hmac-sha256$", "hmac-sha256$$", "hmac-sha256$AAAA$AAAA",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "HMAC-SHA256$x$y",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        assert_false(sg_client_secret_check(f->pepper, "x", forms[i]));
    assert_int_equal(sg_client_secret_kind(forms[4]), SG_SECRET_KIND_ARGON2ID);
    assert_int_equal(sg_client_secret_kind(forms[5]), SG_SECRET_KIND_OTHER);
    assert_int_equal(sg_client_secret_kind(NULL), SG_SECRET_KIND_OTHER);
    /* The right MAC with a trailing byte, or a bit flipped: no match. */
    (void)snprintf(bad, sizeof bad, "%sA", h);
    assert_false(sg_client_secret_check(f->pepper, "x", bad));
    (void)snprintf(bad, sizeof bad, "%s", h);
    size_t last = strlen(bad) - 2;
    bad[last] = bad[last] == 'A' ? 'B' : 'A';
    assert_false(sg_client_secret_check(f->pepper, "x", bad));
}

/* The keys an unknown client's assertion is checked against must load as
 * client keys, or that check would be cheaper than a real one. */
static void test_dummy_jwks(void **state)
{
    (void)state;
    size_t n = sizeof sd_dummy_jwks / sizeof sd_dummy_jwks[0];
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        assert_int_equal(sg_client_jwk_check(sd_dummy_jwks[i], strlen(sd_dummy_jwks[i]), &why),
                         SIGNET_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pepper_file),
        cmocka_unit_test(test_hash_and_check),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_dummy_jwks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
