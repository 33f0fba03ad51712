/* Status page: hostile kids, issuers, tenant names and messages come out
 * HTML-escaped; the page is self-contained (no script, no external
 * reference) and holds one SVG timeline per tenant, one row per
 * invariant and, with a front end, the trust boundary with each process's
 * sandbox.
 *
 *   test_statuspage --render FILE   writes a realistic demo page (used by
 *                                   tests/integration/test_statuspage.sh,
 *                                   which loads it in headless Chromium) */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "telemetry/monitor.h"
#include "telemetry/statuspage.h"
#include "util/log.h"

#define NOW 1790000000LL /* 2026-09-21 */

static struct sg_tm_key mk(const char *kid, const char *iss, int state, int64_t pub, int64_t act,
                           int64_t ret, int64_t destroyed, bool revoked)
{
    struct sg_tm_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.kid, sizeof k.kid, "%s", kid);
    snprintf(k.issuer, sizeof k.issuer, "%s", iss);
    snprintf(k.alg, sizeof k.alg, "ES256");
    k.state = state;
    k.created_at = pub;
    k.published_at = pub;
    k.activated_at = act;
    k.retired_at = ret;
    k.destroyed_at = destroyed;
    k.rotate_at = act > 0 ? act + 21600 : 0;
    k.revoked = revoked;
    return k;
}

static char *render(const struct sg_statuspage_in *in)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, 1 << 22);
    assert_int_equal(sg_statuspage_render(in, &w), SIGNET_OK);
    sg_wbuf_put_u8(&w, 0);
    char *s = strdup((const char *)w.data);
    sg_wbuf_free(&w);
    return s;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_hostile_strings_escaped(void **state)
{
    (void)state;
    const char *evil_kid = "<script>alert(1)</script>\"'&";
    const char *evil_iss = "https://x.example/\"><img src=x onerror=alert(1)>";
    struct sg_tm_key keys[2] = {
        mk(evil_kid, evil_iss, SG_KS_ACTIVE, NOW - 4000, NOW - 3000, 0, 0, false),
        mk("k2<svg onload=alert(1)>", evil_iss, SG_KS_PUBLISHED, NOW - 100, 0, 0, 0, false),
    };
    struct sg_statuspage_tenant t = {.name = "<b>tenant</b>", .issuer = evil_iss,
                                     .tokens_total = 12, .tokens_per_min = 3.5};
    struct sg_inv_status inv[SG_INV_COUNT];
    memset(inv, 0, sizeof inv);
    inv[6].state = SG_INV_VIOLATED;
    inv[6].last_check = NOW;
    snprintf(inv[6].message, sizeof inv[6].message, "kid </td></tr><script>x()</script>\x01");
    struct sg_statuspage_in in = {.now = NOW, .version = "0.1.0<i>", .tenants = &t, .n_tenants = 1,
                                  .keys = keys, .n_keys = 2, .inv = inv, .rotation_period = 21600,
                                  .prepublish = 360, .retire_window = 3660};
    char *html = render(&in);
    /* Nothing active, nothing fetched. */
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<svg onload"));
    assert_null(strstr(html, "<b>tenant"));
    assert_null(strstr(html, "<i>"));
    assert_null(strstr(html, "src=\""));
    assert_null(strstr(html, "href=\""));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "@import"));
    assert_null(strstr(html, "\x01"));
    assert_non_null(strstr(html, "default-src 'none'"));
    /* Escaped, readable. */
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
    assert_non_null(strstr(html, "https://x.example/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert_non_null(strstr(html, "&lt;b&gt;tenant&lt;/b&gt;"));
    assert_non_null(strstr(html, "kid &lt;/td&gt;&lt;/tr&gt;&lt;script&gt;x()&lt;/script&gt;&#xFFFD;"));
    /* The kid label is cut to 16 bytes before escaping (never mid-entity). */
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)… ES256"));
    free(html);
}

static void test_structure(void **state)
{
    (void)state;
    const char *a = "https://a.example/t/a", *b = "https://b.example/t/b";
    struct sg_tm_key keys[] = {
        mk("old-a", a, SG_KS_DESTROYED, NOW - 90000, NOW - 90000, NOW - 60000, NOW - 56000, false),
        mk("ret-a", a, SG_KS_RETIRED, NOW - 70000, NOW - 60000, NOW - 1000, 0, false),
        mk("act-a", a, SG_KS_ACTIVE, NOW - 5000, NOW - 1000, 0, 0, false),
        mk("stb-a", a, SG_KS_PUBLISHED, NOW - 900, 0, 0, 0, false),
        mk("act-b", b, SG_KS_ACTIVE, NOW - 5000, NOW - 4000, 0, 0, false),
        mk("rev-b", b, SG_KS_DESTROYED, NOW - 9000, NOW - 8000, NOW - 4000, NOW - 4000, true),
        mk("gen-b", b, SG_KS_GENERATING, 0, 0, 0, 0, false),
    };
    keys[6].kid[0] = '\0';
    struct sg_statuspage_tenant t[2] = {{"a", a, 100, 2}, {"b", b, 0, -1}};
    struct sg_inv_status inv[SG_INV_COUNT];
    memset(inv, 0, sizeof inv);
    for (int i = 0; i < SG_INV_COUNT; i++) {
        inv[i].state = SG_INV_OK;
        inv[i].last_check = NOW - 5;
    }
    struct sg_statuspage_in in = {.now = NOW, .version = "0.1.0", .tenants = t, .n_tenants = 2,
                                  .keys = keys, .n_keys = sizeof keys / sizeof keys[0], .inv = inv,
                                  .rotation_period = 21600, .prepublish = 360,
                                  .retire_window = 3660};
    char *html = render(&in);
    assert_int_equal(count(html, "<svg class=\"timeline\""), 2);
    assert_int_equal(count(html, "<line class=\"now\""), 2);
    assert_int_equal(count(html, "<tr class=\"inv "), SG_INV_COUNT);
    assert_int_equal(count(html, "<tr class=\"inv ok\""), SG_INV_COUNT);
    assert_non_null(strstr(html, "all invariants hold"));
    assert_non_null(strstr(html, "<b>100</b> tokens issued · <b>2.0</b> per minute"));
    assert_non_null(strstr(html, "class=\"span active\""));
    assert_non_null(strstr(html, "class=\"span active projected\""));
    assert_non_null(strstr(html, "class=\"span retired projected\""));
    assert_non_null(strstr(html, "class=\"span published\""));
    assert_non_null(strstr(html, "revoked</text>"));
    assert_null(strstr(html, "gen-b"));
    /* Not drawn: the GENERATING row, and old-a, gone before the window. */
    assert_int_equal(count(html, "<g class=\"key\""), 5);
    assert_null(strstr(html, "old-a"));
    assert_non_null(strstr(html, "2026-09-21"));
    free(html);
    /* A violated invariant turns the header red. */
    inv[3].state = SG_INV_VIOLATED;
    html = render(&in);
    assert_non_null(strstr(html, "<span class=\"pill violated\" id=\"overall\">1 invariant violated"));
    assert_non_null(strstr(html, "<tr class=\"inv violated\" id=\"inv-I4\""));
    free(html);
}

static void test_trust_boundary(void **state)
{
    (void)state;
    struct sg_statuspage_in in = {.now = NOW, .version = "0.1.0", .rotation_period = 21600,
                                  .prepublish = 360, .retire_window = 3660};
    /* No front end (a page rendered outside signetd): no section. */
    char *html = render(&in);
    assert_null(strstr(html, "Trust boundary"));
    free(html);
    struct sg_tm_frontend fe = {.boundary_enforced = true, .uid = 998, .entered = true,
                                .seccomp = true, .no_new_privs = true, .caps_dropped = true};
    struct sg_tm_signer signers[2];
    memset(signers, 0, sizeof signers);
    signers[0].seccomp = signers[0].no_new_privs = signers[0].mlocked = true;
    signers[1].no_new_privs = signers[1].dumpable = true; /* no filter, dumpable */
    in.frontend = &fe;
    in.signers = signers;
    in.n_signers = 2;
    html = render(&in);
    assert_non_null(strstr(html, "<h2 class=\"on\">Trust boundary: enforced</h2>"));
    assert_non_null(strstr(html, "<tr id=\"sandbox-front\"><td class=\"nw\">front end (uid "
                                 "998)</td><td class=\"on\">on</td><td class=\"on\">on</td>"
                                 "<td class=\"on\">dropped</td><td class=\"on\">no</td></tr>"));
    assert_non_null(strstr(html, "<tr id=\"sandbox-signer-0\"><td class=\"nw\">signer 0</td>"
                                 "<td class=\"on\">on</td><td class=\"on\">on</td><td>-</td>"
                                 "<td class=\"on\">no</td></tr>"));
    assert_non_null(strstr(html, "<tr id=\"sandbox-signer-1\"><td class=\"nw\">signer 1</td>"
                                 "<td class=\"off\">off</td><td class=\"on\">on</td><td>-</td>"
                                 "<td class=\"off\">yes</td></tr>"));
    assert_null(strstr(html, "<script"));
    free(html);
    /* One account, a front end that kept a capability. */
    fe.boundary_enforced = false;
    fe.caps_dropped = false;
    html = render(&in);
    assert_non_null(
        strstr(html, "<h2 class=\"off\">Trust boundary: not enforced (single account)</h2>"));
    assert_null(strstr(html, "Trust boundary: enforced"));
    assert_non_null(strstr(html, "<td class=\"off\">held</td>"));
    free(html);
    /* Before the sandbox is entered, and without a signer STATUS. */
    fe.entered = false;
    in.n_signers = 0;
    html = render(&in);
    assert_non_null(strstr(html, "<td colspan=\"4\">sandbox not entered yet</td>"));
    assert_non_null(strstr(html, "<td colspan=\"5\">no signer STATUS</td>"));
    free(html);
}

/* A realistic page for the headless browser test and the screenshot in docs/. */
static int render_demo(const char *path)
{
    const char *a = "https://id.example.com/t/default", *b = "https://id.example.com/t/partners";
    const int64_t P = 21600; /* 6 h rotation */
    struct sg_tm_key keys[] = {
        mk("q1Vb8mK2-old0RkY3eW0c8n1ZpXo4dT7sLhJ9aUf2gE", a, SG_KS_DESTROYED, NOW - 3 * P - 400,
           NOW - 3 * P, NOW - 2 * P, NOW - 2 * P + 3660, false),
        mk("Z7yUv3b9-prevT1qW5rN2xK8mC4jH6gF0sD3aL9pQe", a, SG_KS_RETIRED, NOW - 2 * P - 400,
           NOW - 2 * P, NOW - P - 1500, 0, false),
        mk("eLk4FRaD40-_bV7_7uZHYGJf8QlZJoCfHEsikFlEuQQ", a, SG_KS_RETIRED, NOW - P - 1900,
           NOW - P - 1500, NOW - 1200, 0, false),
        mk("n_fF6d_RBGJSGV_AFMWxayhtcrhcwxFSsm2X4s0fnhc", a, SG_KS_ACTIVE, NOW - 1600, NOW - 1200,
           0, 0, false),
        mk("Hc2pW9sX4-standbyL0kM7nB3vR6tY1uI8oP5aS2dF", a, SG_KS_PUBLISHED, NOW - 1190, 0, 0, 0,
           false),
        mk("r8TqY2wE5-partnersOld3nM6bV9cX1zL4kJ7hG0fD", b, SG_KS_DESTROYED, NOW - 2 * P - 400,
           NOW - 2 * P, NOW - P - 2000, NOW - P + 1660, false),
        mk("m3KdP8sL1-leakedN5vB2xC7zQ4wE9rT6yU0iO3pA", b, SG_KS_DESTROYED, NOW - P - 2400,
           NOW - P - 2000, NOW - 2700, NOW - 2700, true),
        mk("u6GhJ1kL4-successorZ8xC5vB2nM9qW3eR7tY0uI", b, SG_KS_ACTIVE, NOW - P - 2300,
           NOW - 2700, 0, 0, false),
        mk("w2ErT5yU8-standbyP1oI4uY7tR0eW3qA6sD9fG2h", b, SG_KS_PUBLISHED, NOW - 2690, 0, 0, 0,
           false),
    };
    keys[7].rotate_at = NOW - 2700 + P;
    struct sg_statuspage_tenant t[2] = {{"default", a, 184213, 312.4},
                                        {"partners", b, 9120, 14.0}};
    struct sg_inv_status inv[SG_INV_COUNT];
    memset(inv, 0, sizeof inv);
    for (int i = 0; i < SG_INV_COUNT; i++) {
        inv[i].state = SG_INV_OK;
        inv[i].last_check = NOW - 7 - i;
    }
    inv[6].state = SG_INV_VIOLATED;
    inv[6].violations = 3;
    inv[6].last_violation = NOW - 2710;
    snprintf(inv[6].message, sizeof inv[6].message,
             "a relying party of partners accepted a token signed by key "
             "m3KdP8sL1-leakedN5vB2xC7zQ4wE9rT6yU0iO3pA that signet never issued: the key is out "
             "in the wild (revoked by on_critical = rotate)");
    struct sg_tm_frontend fe = {.boundary_enforced = true, .uid = 998, .entered = true,
                                .seccomp = true, .no_new_privs = true, .caps_dropped = true};
    struct sg_tm_signer signers[2];
    memset(signers, 0, sizeof signers);
    for (int i = 0; i < 2; i++)
        signers[i].seccomp = signers[i].no_new_privs = signers[i].mlocked = true;
    struct sg_statuspage_in in = {.now = NOW, .version = "0.1.0", .tenants = t, .n_tenants = 2,
                                  .keys = keys, .n_keys = sizeof keys / sizeof keys[0], .inv = inv,
                                  .rotation_period = P, .prepublish = 360, .retire_window = 3660,
                                  .frontend = &fe, .signers = signers, .n_signers = 2};
    struct sg_wbuf w;
    sg_wbuf_init(&w, 1 << 22);
    if (sg_statuspage_render(&in, &w) != SIGNET_OK)
        return 1;
    FILE *f = fopen(path, "w");
    if (f == NULL || fwrite(w.data, 1, w.len, f) != w.len || fclose(f) != 0)
        return 1;
    sg_wbuf_free(&w);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--render") == 0)
        return render_demo(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_strings_escaped),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_trust_boundary),
    };
    sg_log_init("test_statuspage", SG_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
