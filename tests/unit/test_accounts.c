/* The trust boundary as the layout says it (src/common/accounts.c): signer/,
 * front/ and monitor/ must all exist, as directories, with three distinct
 * owners, none of them root. Owners are set with chown, so the cases that
 * need other accounts run as root only (uids without a passwd entry will
 * do: the directory's group stands in for the owner's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "common/accounts.h"
#include "common/config.h"

#define UID_SIGNER 61001
#define UID_FRONT 61002
#define UID_MONITOR 61003

struct fx {
    char dir[256];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(sg_test_mkdtemp(f->dir, sizeof f->dir, "signet-accounts"), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sg_test_rmrf(f->dir);
    free(f);
    return 0;
}

static void path_of(const struct fx *f, const char *sub, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", f->dir, sub);
    assert_true(n > 0 && (size_t)n < cap);
}

static void make_dir(const struct fx *f, const char *sub, uid_t uid)
{
    char p[320];
    path_of(f, sub, p, sizeof p);
    if (mkdir(p, 0700) != 0)
        assert_int_equal(access(p, F_OK), 0); /* already there */
    if (geteuid() == 0)
        assert_int_equal(lchown(p, uid, (gid_t)uid), 0);
}

static void remove_dir(const struct fx *f, const char *sub)
{
    char p[320];
    path_of(f, sub, p, sizeof p);
    assert_int_equal(rmdir(p), 0);
}

/* Without the three parts, or with only the caller's account, it is not
 * enforced. */
static void test_single_account(void **state)
{
    struct fx *f = *state;
    assert_false(sg_boundary_enforced(f->dir));
    uid_t me = geteuid();
    make_dir(f, SG_SIGNER_DIR, me);
    make_dir(f, SG_FRONT_DIR, me);
    assert_false(sg_boundary_enforced(f->dir));
    make_dir(f, SG_MONITOR_DIR, me);
    assert_false(sg_boundary_enforced(f->dir));
    assert_string_equal(sg_boundary_describe(f->dir), "not enforced (single account)");
}

/* Three distinct non-root owners: enforced; monitor/ missing, root's, or
 * shared with the signer or the front end: not. */
static void test_three_accounts(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0)
        skip();
    make_dir(f, SG_SIGNER_DIR, UID_SIGNER);
    make_dir(f, SG_FRONT_DIR, UID_FRONT);
    assert_false(sg_boundary_enforced(f->dir)); /* the layout before monitor/ */
    make_dir(f, SG_MONITOR_DIR, UID_MONITOR);
    assert_true(sg_boundary_enforced(f->dir));
    assert_string_equal(sg_boundary_describe(f->dir), "enforced");
    struct sg_account a;
    assert_int_equal(sg_account_of_dir(f->dir, SG_MONITOR_DIR, &a), SIGNET_OK);
    assert_int_equal(a.uid, UID_MONITOR);

    const uid_t bad[] = {0, UID_SIGNER, UID_FRONT};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_dir(f, SG_MONITOR_DIR, bad[i]);
        assert_false(sg_boundary_enforced(f->dir));
    }
    make_dir(f, SG_MONITOR_DIR, UID_MONITOR);
    assert_true(sg_boundary_enforced(f->dir));

    /* A symlink to a directory of the right owner is not the directory. */
    remove_dir(f, SG_MONITOR_DIR);
    make_dir(f, "elsewhere", UID_MONITOR);
    char target[320], link[320];
    path_of(f, "elsewhere", target, sizeof target);
    path_of(f, SG_MONITOR_DIR, link, sizeof link);
    assert_int_equal(symlink(target, link), 0);
    assert_false(sg_boundary_enforced(f->dir));
    assert_int_equal(unlink(link), 0);
    assert_false(sg_boundary_enforced(f->dir));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_accounts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
