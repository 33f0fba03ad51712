/* The people's pages (src/signetd/pages.c, issues 13 and 14), hostile: the HTML
 * escaper on every special character, attribute-breaking input, control
 * characters and short buffers; every page rendered with hostile tenant,
 * user, client, state and token strings and checked by a small tag scanner
 * (each attribute one of a known set, double-quoted, no quote or angle
 * bracket inside a value, one script element: the asset); the answer's
 * status, type and page flag; the embedded assets (types, caching, bytes
 * equal to the source files, 404 for any other name); allocation failures
 * at every step; and the script's own rules (no eval, no innerHTML).
 * Issue 14: the sign-in page's second steps, the account page's devices
 * and TOTP sections under each mfa policy, the TOTP set-up page, and
 * src/signetd/qr.c: the QR code's SVG (its modules are libqrencode's, its
 * size the version's, and zbarimg reads it back when installed), the
 * otpauth URI's encoding and the typed code's parser. */
#include "testutil.h"

#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "signetd/pages.h"
#include "signetd/qr.h"

#define HTML_TYPE "text/html; charset=utf-8"

/* Hostile values, each trying to leave its attribute or its text. */
#define EVIL_TENANT "\"><script>alert(1)</script>"
#define EVIL_USER "<script>alert('u')</script>&\x01\x7f"
#define EVIL_CLIENT "' onmouseover='alert(1)"
#define EVIL_STATE "\" onfocus=\"alert(1)\" x=\""
#define EVIL_URI "javascript:alert(1)//\"><img src=x onerror=alert(1)>"
#define EVIL_CSRF "abc\"def<>"
#define EVIL_REQ "r\"><script>alert(2)</script>"
#define EVIL_NOTICE "<b>bold</b>\"'"
#define EVIL_TOKEN "t\"><script>alert(3)</script>"
#define EVIL_DEVICE "d\" onfocus=\"alert(4)\"><img src=x>"
#define EVIL_ISSUER "https://x/\"><script>alert(5)</script>"
#define EVIL_SECRET "JBSW\"><script>alert(6)</script>"
#define EVIL_OTPAUTH "otpauth://totp/\"><script>alert(7)</script>"

static const struct sd_page_base evil_base = {"/t/\"><script>alert(1)</script>", EVIL_TENANT,
                                              EVIL_CSRF};
static const struct sd_page_base good_base = {"/t/default", "default", "csrf-token_1"};

static void resp_init(struct sd_resp *r)
{
    memset(r, 0, sizeof *r);
}

static void resp_free(struct sd_resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* ---- sd_html_escape ------------------------------------------------------- */

static void expect_escape(const char *in, const char *want)
{
    char out[256];
    size_t n = sd_html_escape(out, sizeof out, in);
    assert_int_not_equal(n, (size_t)-1);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_escape_specials(void **state)
{
    (void)state;
    expect_escape("&", "&amp;");
    expect_escape("<", "&lt;");
    expect_escape(">", "&gt;");
    expect_escape("\"", "&quot;");
    expect_escape("'", "&#39;");
    expect_escape("&<>\"'", "&amp;&lt;&gt;&quot;&#39;");
    expect_escape("plain text 123", "plain text 123");
    expect_escape("", "");
    expect_escape(NULL, "");
    /* An entity in the input is escaped again: the page shows it as typed. */
    expect_escape("&amp;", "&amp;amp;");
    /* UTF-8 passes through (é, NBSP, an emoji). */
    expect_escape("caf\xc3\xa9 \xc2\xa0 \xf0\x9f\x94\x91", "caf\xc3\xa9 \xc2\xa0 \xf0\x9f\x94\x91");
}

static void test_escape_attribute_breaking(void **state)
{
    (void)state;
    expect_escape("\"><script>", "&quot;&gt;&lt;script&gt;");
    expect_escape("\" onfocus=\"x", "&quot; onfocus=&quot;x");
    expect_escape("' onmouseover='x", "&#39; onmouseover=&#39;x");
    expect_escape("</main><script>alert(1)</script>",
                  "&lt;/main&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
    /* Whatever the input, the output holds no character that ends a
     * double- or single-quoted attribute or opens a tag. */
    char in[256], out[256 * 6 + 1];
    for (unsigned c = 1; c < 256; c++)
        in[c - 1] = (char)c;
    in[255] = '\0';
    assert_int_not_equal(sd_html_escape(out, sizeof out, in), (size_t)-1);
    assert_null(strpbrk(out, "\"'<>"));
}

static void test_escape_controls(void **state)
{
    (void)state;
    expect_escape("a\x01" "b\tc\nd\re\x1f" "f\x7fg", "abcdefg");
    expect_escape("\x1b[31mred", "[31mred");
    /* C1 controls (U+0080..U+009F) are dropped too. */
    expect_escape("x\xc2\x85y\xc2\x9fz", "xyz");
    /* A lone C2 at the end is kept as a byte (not a C1 control). */
    expect_escape("\xc2", "\xc2");
}

static void test_escape_buffer(void **state)
{
    (void)state;
    char out[16];
    /* Exactly enough: the text and its NUL. */
    assert_int_equal(sd_html_escape(out, 6, "abcde"), 5);
    assert_string_equal(out, "abcde");
    /* One short. */
    memset(out, 'x', sizeof out);
    assert_int_equal(sd_html_escape(out, 5, "abcde"), (size_t)-1);
    assert_int_equal(out[0], '\0');
    /* An entity never half-written: "a&amp;" needs 7. */
    assert_int_equal(sd_html_escape(out, 6, "a&"), (size_t)-1);
    assert_int_equal(out[0], '\0');
    assert_int_equal(sd_html_escape(out, 7, "a&"), 6);
    assert_string_equal(out, "a&amp;");
    /* Nothing to write into. */
    assert_int_equal(sd_html_escape(out, 0, "a"), (size_t)-1);
    assert_int_equal(sd_html_escape(NULL, 8, "a"), (size_t)-1);
    assert_int_equal(sd_html_escape(out, 1, ""), 0);
    assert_string_equal(out, "");
    /* Dropped characters take no room. */
    assert_int_equal(sd_html_escape(out, 2, "\x01" "a\x02"), 1);
    assert_string_equal(out, "a");
}

/* ---- the markup scanner ----------------------------------------------------- */

static const char *const allowed_attrs[] = {
    "lang", "charset", "name", "content", "rel", "href", "src", "defer", "id", "class",
    "data-page", "data-base", "data-csrf", "data-req", "data-token", "data-client",
    "data-post-logout-redirect-uri", "data-state", "for", "type", "autocomplete",
    "autocapitalize", "spellcheck", "placeholder", "role", "aria-live", "datetime", "minlength",
    "maxlength",
    /* issue 14: the second steps, devices, TOTP */
    "hidden", "inputmode", "data-method", "data-device", "data-issuer", "aria-label",
    /* the QR code's inline SVG (presentation attributes only) */
    "xmlns", "viewBox", "width", "height", "shape-rendering", "fill", "d", NULL};

static int allowed_attr(const char *name, size_t n)
{
    for (size_t i = 0; allowed_attrs[i] != NULL; i++)
        if (strlen(allowed_attrs[i]) == n && memcmp(allowed_attrs[i], name, n) == 0)
            return 1;
    return 0;
}

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Walks every tag of body: element names [a-z0-9], attribute names from
 * the list, values double-quoted with no quote or angle bracket inside;
 * text between tags holds no '>' or '"'. Fails the test otherwise. */
static void check_markup(const char *body)
{
    const char *p = body;
    int scripts = 0;
    while (*p != '\0') {
        if (*p != '<') {
            if (*p == '>' || *p == '"')
                fail_msg("raw '%c' in text near: %.60s", *p, p);
            p++;
            continue;
        }
        p++;
        if (*p == '!') { /* <!doctype html> */
            assert_int_equal(strncmp(p, "!doctype html>", 14), 0);
            p += 14;
            continue;
        }
        if (*p == '/')
            p++;
        const char *tag = p;
        while (is_lower_alnum(*p))
            p++;
        if (p == tag)
            fail_msg("bad tag near: %.60s", tag - 1);
        if ((size_t)(p - tag) == 6 && strncmp(tag, "script", 6) == 0 && tag[-1] == '<') {
            scripts++;
            assert_int_equal(strncmp(tag, "script src=\"/assets/signet.js\" defer></script>", 46),
                             0);
        }
        if ((size_t)(p - tag) == 5 && strncmp(tag, "style", 5) == 0)
            fail_msg("a <style> element");
        for (;;) {
            while (*p == ' ' || *p == '\n')
                p++;
            if (*p == '>') {
                p++;
                break;
            }
            const char *name = p;
            while (is_lower_alnum(*p) || *p == '-' || (*p >= 'A' && *p <= 'Z')) /* viewBox */
                p++;
            if (p == name)
                fail_msg("bad attribute near: %.60s", name);
            if (!allowed_attr(name, (size_t)(p - name)))
                fail_msg("unexpected attribute: %.*s", (int)(p - name), name);
            if (*p != '=')
                continue; /* a boolean attribute (defer) */
            p++;
            if (*p != '"')
                fail_msg("unquoted attribute value near: %.60s", name);
            p++;
            while (*p != '"') {
                if (*p == '\0' || *p == '<' || *p == '>' || *p == '\'')
                    fail_msg("bad character in an attribute value near: %.60s", name);
                p++;
            }
            p++;
            if (*p != ' ' && *p != '>' && *p != '\n')
                fail_msg("attribute not followed by space or '>' near: %.60s", name);
        }
    }
    assert_int_equal(scripts, 1);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + k, needle))
        n++;
    return n;
}

/* The parts every page has, and the answer's fields. */
static void check_page(const struct sd_resp *r, unsigned status, const char *kind)
{
    assert_int_equal(r->status, status);
    assert_int_equal(r->page, 1);
    assert_non_null(r->body);
    assert_string_equal(r->content_type, HTML_TYPE);
    assert_int_equal(r->len, strlen(r->body));
    assert_string_equal(r->cache_control, ""); /* no-store */
    const char *b = r->body;
    assert_int_equal(strncmp(b, "<!doctype html>\n<html lang=\"en\">", 32), 0);
    assert_non_null(strstr(b, "<meta charset=\"utf-8\">"));
    assert_non_null(
        strstr(b, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    assert_non_null(strstr(b, "<title>"));
    assert_non_null(strstr(b, "<link rel=\"stylesheet\" href=\"/assets/signet.css\">"));
    assert_non_null(strstr(b, "<script src=\"/assets/signet.js\" defer></script>"));
    char want[64];
    (void)snprintf(want, sizeof want, "<main id=\"signet\" class=\"card\" data-page=\"%s\"", kind);
    assert_non_null(strstr(b, want));
    assert_non_null(strstr(b, "</main>\n</body>\n</html>\n"));
    /* Nothing inline, nothing external: the only URLs are the SVG
     * namespace (a name, never fetched) and the account page's issuer (a
     * data attribute the script shows as text). */
    assert_null(strstr(b, " style="));
    assert_null(strstr(b, "<style"));
    assert_int_equal(count(b, "http://"), count(b, "xmlns=\"http://www.w3.org/2000/svg\""));
    assert_int_equal(count(b, "https://"), count(b, "data-issuer=\"https://"));
    assert_null(strstr(b, "<foreignobject"));
    assert_null(strstr(b, "<foreignObject"));
    assert_null(strstr(b, "href=\"javascript"));
    assert_null(strstr(b, "<script>"));
    assert_null(strstr(b, "<a "));
    check_markup(b);
}

static void check_no_injection(const char *b)
{
    assert_null(strstr(b, "<script>alert"));
    assert_null(strstr(b, "<img"));
    assert_null(strstr(b, "<b>"));
    assert_null(strstr(b, "\" onfocus"));
    assert_null(strstr(b, "' onmouseover"));
    assert_null(strchr(b, '\x01'));
    assert_null(strchr(b, '\x7f'));
}

/* ---- the pages ------------------------------------------------------------ */

static void test_signin(void **state)
{
    (void)state;
    struct sd_resp r;
    resp_init(&r);
    sd_page_signin(&r, &good_base, "req123", "my-app", "Sign in again to continue.");
    check_page(&r, 200, "signin");
    const char *b = r.body;
    assert_non_null(strstr(b, "data-base=\"/t/default\" data-csrf=\"csrf-token_1\" "
                              "data-req=\"req123\">"));
    assert_non_null(strstr(b, "<h1>Sign in</h1>"));
    assert_non_null(strstr(b, "<p class=\"tenant\">default</p>"));
    assert_non_null(strstr(b, "Sign in again to continue."));
    assert_non_null(strstr(b, "to continue to <strong>my-app</strong>"));
    assert_non_null(strstr(b, "<input id=\"username\""));
    assert_non_null(strstr(b, "autocomplete=\"username webauthn\""));
    assert_non_null(strstr(b, "<button id=\"passkey\" type=\"button\">Sign in with a passkey"));
    /* The password is a first step only, and says so. */
    assert_non_null(strstr(b, "autocomplete=\"current-password\""));
    assert_non_null(strstr(b, "<button id=\"pwsignin\""));
    assert_non_null(strstr(b, "never enough on its own"));
    assert_non_null(strstr(b, "<p id=\"message\" role=\"status\" aria-live=\"polite\">"));
    /* The second steps (issue 14): hidden, one wrapper per method. */
    const char *second = strstr(b, "<section id=\"second\" hidden>");
    assert_non_null(second);
    assert_true(second > strstr(b, "</details>"));
    assert_non_null(strstr(second, "<h2>Confirm it&#39;s you</h2>"));
    assert_non_null(strstr(second, "data-method=\"passkey\" hidden>\n<button id=\"second-passkey\" "
                                   "type=\"button\">Use my passkey</button>"));
    assert_non_null(strstr(second, "data-method=\"approval\" hidden>\n<button id=\"second-approval\""));
    assert_non_null(strstr(second, ">Approve on my device</button>"));
    assert_non_null(strstr(second, "<div id=\"approval\" hidden>"));
    assert_non_null(strstr(second, "<p class=\"number\" id=\"approval-number\"></p>"));
    assert_non_null(strstr(second, "Type this number in signet-authenticator on your device"));
    assert_non_null(strstr(second, "<span id=\"approval-expires\"></span>"));
    assert_non_null(strstr(second, "data-method=\"totp\" hidden>"));
    assert_non_null(strstr(second, "<label for=\"totpcode\">Code from your authenticator app</label>"));
    assert_non_null(strstr(second, "<input id=\"totpcode\""));
    assert_non_null(strstr(second, "inputmode=\"numeric\" autocomplete=\"one-time-code\" "
                                   "maxlength=\"8\""));
    assert_non_null(strstr(second, "<button id=\"second-totp\" type=\"button\" class=\"secondary\">"
                                   "Verify code</button>"));
    assert_true(strstr(second, "</section>") < strstr(b, "id=\"message\""));
    assert_int_equal(count(b, "data-method="), 3);
    /* The token travels in the script's memory, never in the page. */
    assert_null(strstr(b, "data-second"));
    resp_free(&r);

    /* No request, no client, no notice: none of their lines. */
    resp_init(&r);
    sd_page_signin(&r, &good_base, "", "", "");
    check_page(&r, 200, "signin");
    assert_non_null(strstr(r.body, "data-req=\"\""));
    assert_null(strstr(r.body, "to continue to"));
    assert_null(strstr(r.body, "class=\"notice\""));
    resp_free(&r);

    resp_init(&r);
    sd_page_signin(&r, &good_base, NULL, NULL, NULL);
    check_page(&r, 200, "signin");
    resp_free(&r);
}

static void test_signin_hostile(void **state)
{
    (void)state;
    struct sd_resp r;
    resp_init(&r);
    sd_page_signin(&r, &evil_base, EVIL_REQ, EVIL_CLIENT, EVIL_NOTICE);
    check_page(&r, 200, "signin");
    check_no_injection(r.body);
    assert_non_null(strstr(r.body, "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(r.body, "data-csrf=\"abc&quot;def&lt;&gt;\""));
    assert_non_null(strstr(r.body, "&#39; onmouseover=&#39;alert(1)"));
    assert_non_null(strstr(r.body, "&lt;b&gt;bold&lt;/b&gt;&quot;&#39;"));
    resp_free(&r);
}

static void test_enrol(void **state)
{
    (void)state;
    struct sd_resp r;
    resp_init(&r);
    sd_page_enrol(&r, &good_base, "alice", "tok_123");
    check_page(&r, 200, "enrol");
    assert_non_null(strstr(r.body, "data-base=\"/t/default\" data-csrf=\"csrf-token_1\" "
                                   "data-token=\"tok_123\">"));
    assert_non_null(strstr(r.body, "Create a passkey for <span class=\"user\">alice</span>"));
    assert_non_null(strstr(r.body, "<button id=\"create\" type=\"button\">"));
    assert_non_null(strstr(r.body, "id=\"message\""));
    resp_free(&r);

    resp_init(&r);
    sd_page_enrol(&r, &evil_base, EVIL_USER, EVIL_TOKEN);
    check_page(&r, 200, "enrol");
    check_no_injection(r.body);
    assert_non_null(strstr(r.body, "&lt;script&gt;alert(&#39;u&#39;)&lt;/script&gt;&amp;</span>"));
    assert_non_null(strstr(r.body, "data-token=\"t&quot;&gt;&lt;script&gt;alert(3)"));
    resp_free(&r);
}

static void test_account(void **state)
{
    (void)state;
    const struct sd_page_passkey keys[] = {
        {"passkey", "synced", 1700000000, 1700003600},
        {"ee882879-721c-4913-9775-3dfcce97072a", "device-bound", 1700000000, 0},
    };
    struct sd_page_account_info a = {
        .user_name = "alice", .auth_time = 1700000000, .keys = keys, .n_keys = 2,
        .has_password = 1, .mfa_policy = SG_MFA_APPROVAL_OR_PASSKEY,
        .issuer = "https://id.example/t/default"};
    struct sd_resp r;
    resp_init(&r);
    sd_page_account(&r, &good_base, &a);
    check_page(&r, 200, "account");
    const char *b = r.body;
    assert_non_null(strstr(b, "data-base=\"/t/default\" data-csrf=\"csrf-token_1\" "
                              "data-issuer=\"https://id.example/t/default\">"));
    assert_non_null(strstr(b, "<h1 class=\"user\">alice</h1>"));
    assert_non_null(strstr(b, "Signed in since <time datetime=\"2023-11-14T22:13:20Z\">"
                              "2023-11-14 22:13 UTC</time>"));
    assert_non_null(strstr(b, "<span class=\"kind\">synced</span>"));
    assert_non_null(strstr(b, "<span class=\"kind\">device-bound</span>"));
    assert_non_null(strstr(b, "last used <time datetime=\"2023-11-14T23:13:20Z\">"));
    assert_non_null(strstr(b, "last used never"));
    assert_non_null(strstr(b, "<button id=\"add\" type=\"button\">Add a passkey</button>"));
    assert_non_null(strstr(b, "<button id=\"logout\" type=\"button\" class=\"secondary\">"
                              "Sign out</button>"));
    /* A password is set: it can be replaced or removed. */
    assert_non_null(strstr(b, "A password is set."));
    assert_non_null(strstr(b, "autocomplete=\"new-password\""));
    assert_non_null(strstr(b, "<button id=\"removepw\""));
    /* The sections, in order. */
    const char *pk = strstr(b, "<h2>Passkeys</h2>"), *pw = strstr(b, "<h2>Password</h2>"),
               *dv = strstr(b, "<h2>Approval devices</h2>");
    assert_non_null(pk);
    assert_non_null(pw);
    assert_non_null(dv);
    assert_true(pk < pw && pw < dv);
    /* No devices yet: register one (the default policy allows approvals). */
    assert_non_null(strstr(b, "No devices."));
    assert_null(strstr(b, "remove-device"));
    assert_non_null(strstr(b, "<button id=\"device-code\" type=\"button\" class=\"secondary\">"
                              "Register a device</button>"));
    assert_non_null(strstr(b, "<div id=\"device-enrol\" hidden>"));
    assert_non_null(strstr(b, "<p class=\"number code\" id=\"device-code-value\"></p>"));
    assert_non_null(strstr(b, "<code id=\"device-command\"></code>"));
    assert_null(strstr(b, "not accepted"));
    /* approval_or_passkey, no TOTP: no TOTP section at all. */
    assert_null(strstr(b, "Authenticator app (TOTP)"));
    assert_null(strstr(b, "totp-setup"));
    assert_null(strstr(b, "totp-remove"));
    resp_free(&r);

    /* No passkeys (NULL list), no password: nothing to remove. */
    struct sd_page_account_info empty = {.user_name = "alice"};
    resp_init(&r);
    sd_page_account(&r, &good_base, &empty);
    check_page(&r, 200, "account");
    assert_non_null(strstr(r.body, "No passkeys."));
    assert_non_null(strstr(r.body, "No password"));
    assert_null(strstr(r.body, "removepw"));
    assert_non_null(strstr(r.body, "Signed in since an unknown time"));
    assert_non_null(strstr(r.body, "data-issuer=\"\""));
    assert_non_null(strstr(r.body, "id=\"device-code\"")); /* 0: the default policy */
    resp_free(&r);

    /* No info at all: a 500, not a page that looks fine. */
    resp_init(&r);
    sd_page_account(&r, &good_base, NULL);
    assert_int_equal(r.status, 500);
    assert_int_equal(r.page, 1);
    resp_free(&r);

    const struct sd_page_passkey evil[] = {{EVIL_USER, EVIL_NOTICE, -1, 1700000000}};
    const struct sd_page_device evil_dev[] = {{EVIL_DEVICE, EVIL_USER, -1, 0}};
    struct sd_page_account_info bad = {
        .user_name = EVIL_USER, .auth_time = 1700000000, .keys = evil, .n_keys = 1,
        .devices = evil_dev, .n_devices = 1, .has_totp = 1, .mfa_policy = SG_MFA_ANY,
        .issuer = EVIL_ISSUER};
    resp_init(&r);
    sd_page_account(&r, &evil_base, &bad);
    check_page(&r, 200, "account");
    check_no_injection(r.body);
    assert_non_null(strstr(r.body, "data-device=\"d&quot; onfocus=&quot;alert(4)&quot;&gt;&lt;img "
                                   "src=x&gt;\""));
    assert_non_null(strstr(r.body, "data-issuer=\"https://x/&quot;&gt;&lt;script&gt;alert(5)"
                                   "&lt;/script&gt;\""));
    resp_free(&r);
}

static void test_account_devices(void **state)
{
    (void)state;
    const struct sd_page_device devs[] = {
        {"dev_1", "Alice's phone", 1700000000, 1700003600},
        {"dev_2", NULL, 1700000000, 0},
    };
    struct sd_page_account_info a = {.user_name = "alice", .auth_time = 1700000000,
                                     .devices = devs, .n_devices = 2,
                                     .mfa_policy = SG_MFA_APPROVAL_OR_PASSKEY,
                                     .issuer = "https://id.example/t/default"};
    struct sd_resp r;
    resp_init(&r);
    sd_page_account(&r, &good_base, &a);
    check_page(&r, 200, "account");
    const char *b = r.body;
    assert_non_null(strstr(b, "<ul class=\"passkeys devices\">"));
    assert_non_null(strstr(b, "<span class=\"kind\">Alice&#39;s phone</span>"));
    assert_non_null(strstr(b, "<span class=\"kind\">device</span>")); /* no name */
    assert_non_null(strstr(b, "registered <time datetime=\"2023-11-14T22:13:20Z\">"));
    assert_non_null(strstr(b, "last used <time datetime=\"2023-11-14T23:13:20Z\">"));
    assert_non_null(strstr(b, "<button type=\"button\" class=\"secondary remove-device\" "
                              "data-device=\"dev_1\">Remove</button>"));
    assert_non_null(strstr(b, "data-device=\"dev_2\">Remove</button>"));
    assert_int_equal(count(b, "remove-device"), 2);
    assert_non_null(strstr(b, "id=\"device-code\""));
    resp_free(&r);

    /* phishing_resistant: the devices can still be removed, not added. */
    a.mfa_policy = SG_MFA_PHISHING_RESISTANT;
    resp_init(&r);
    sd_page_account(&r, &good_base, &a);
    check_page(&r, 200, "account");
    assert_int_equal(count(r.body, "remove-device"), 2);
    assert_null(strstr(r.body, "device-code"));
    assert_null(strstr(r.body, "device-enrol"));
    assert_non_null(strstr(r.body, "Approvals on a device are not accepted by this "
                                   "organisation&#39;s policy"));
    assert_null(strstr(r.body, "Authenticator app (TOTP)"));
    resp_free(&r);
}

static void test_account_totp(void **state)
{
    (void)state;
    struct sd_page_account_info a = {.user_name = "alice", .auth_time = 1700000000,
                                     .mfa_policy = SG_MFA_ANY};
    struct sd_resp r;
    /* any, none set up: the link-styled button to the set-up page. */
    resp_init(&r);
    sd_page_account(&r, &good_base, &a);
    check_page(&r, 200, "account");
    const char *h = strstr(r.body, "<h2>Authenticator app (TOTP)</h2>");
    assert_non_null(h);
    assert_true(h > strstr(r.body, "<h2>Approval devices</h2>"));
    assert_non_null(strstr(h, "No authenticator app."));
    assert_non_null(strstr(h, "<button id=\"totp-setup\" type=\"button\" class=\"link\">"));
    assert_null(strstr(r.body, "totp-remove"));
    resp_free(&r);

    /* any, set up: remove it. */
    a.has_totp = 1;
    resp_init(&r);
    sd_page_account(&r, &good_base, &a);
    check_page(&r, 200, "account");
    assert_non_null(strstr(r.body, "An authenticator app is set up."));
    assert_non_null(strstr(r.body, "<button id=\"totp-remove\" type=\"button\""));
    assert_null(strstr(r.body, "totp-setup"));
    assert_null(strstr(r.body, "Codes are not accepted"));
    resp_free(&r);

    /* Set up, then the policy stopped accepting codes: it can be removed. */
    for (int policy = 0; policy <= SG_MFA_APPROVAL_OR_PASSKEY; policy++) {
        a.mfa_policy = policy;
        resp_init(&r);
        sd_page_account(&r, &good_base, &a);
        check_page(&r, 200, "account");
        assert_non_null(strstr(r.body, "An authenticator app is set up."));
        assert_non_null(strstr(r.body, "id=\"totp-remove\""));
        assert_non_null(strstr(r.body, "Codes are not accepted"));
        assert_null(strstr(r.body, "totp-setup"));
        resp_free(&r);
    }
}

/* ---- the TOTP set-up page and qr.c ------------------------------------------ */

#define TEST_SECRET "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
#define TEST_URI                                                                                 \
    "otpauth://totp/Example%20Co:alice%40example.com?secret=" TEST_SECRET                       \
    "&issuer=Example%20Co&algorithm=SHA1&digits=6&period=30"

/* The SVG's dark modules, read back from its path ("M x y hN v1h-N z"
 * subpaths) into grid (s x s, 1 = dark). Fails the test on anything else. */
static void svg_grid(const char *svg, unsigned s, unsigned char *grid)
{
    const char *d = strstr(svg, " d=\"");
    assert_non_null(d);
    d += 4;
    memset(grid, 0, (size_t)s * s);
    while (*d != '"') {
        char *end;
        if (*d == ' ')
            d++;
        assert_int_equal(*d, 'M');
        unsigned long x = strtoul(d + 1, &end, 10);
        assert_int_equal(*end, ' ');
        unsigned long y = strtoul(end + 1, &end, 10);
        assert_int_equal(*end, 'h');
        unsigned long run = strtoul(end + 1, &end, 10);
        assert_int_equal(strncmp(end, "v1h-", 4), 0);
        unsigned long back = strtoul(end + 4, &end, 10);
        assert_int_equal(*end, 'z');
        d = end + 1;
        assert_int_equal(run, back);
        assert_true(run >= 1 && x + run <= s && y < s);
        for (unsigned long i = 0; i < run; i++) {
            assert_int_equal(grid[y * s + x + i], 0); /* no module drawn twice */
            grid[y * s + x + i] = 1;
        }
    }
}

/* text's SVG: its structure, and modules equal to libqrencode's symbol
 * for the same text (level M, byte mode, case kept) in a 4-module quiet
 * zone, so its size is the version's: 17 + 4 * version + 8. */
static void check_qr(const char *text)
{
    size_t len = 0;
    char *svg = sd_qr_svg(text, &len);
    assert_non_null(svg);
    assert_int_equal(len, strlen(svg));
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(q);
    const unsigned w = (unsigned)q->width, s = w + 2 * SD_QR_QUIET;
    assert_int_equal(w, 17 + 4 * (unsigned)q->version);
    char head[256];
    (void)snprintf(head, sizeof head,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %u %u\" width=\"%u\" "
                   "height=\"%u\" shape-rendering=\"crispEdges\" role=\"img\" "
                   "aria-label=\"QR code\"><rect width=\"%u\" height=\"%u\" fill=\"#fff\"></rect>"
                   "<path fill=\"#000\" d=\"M",
                   s, s, s * SD_QR_MODULE_PX, s * SD_QR_MODULE_PX, s, s);
    assert_int_equal(strncmp(svg, head, strlen(head)), 0);
    assert_int_equal(strcmp(svg + len - 15, "\"></path></svg>"), 0);
    assert_int_equal(count(svg, "<path"), 1);
    assert_int_equal(count(svg, "<"), 6); /* svg, rect, /rect, path, /path, /svg */
    assert_null(strstr(svg, "script"));
    assert_null(strchr(svg, '\''));
    unsigned char *grid = malloc((size_t)s * s);
    assert_non_null(grid);
    svg_grid(svg, s, grid);
    for (unsigned y = 0; y < s; y++)
        for (unsigned x = 0; x < s; x++) {
            int in = x >= SD_QR_QUIET && y >= SD_QR_QUIET && x < w + SD_QR_QUIET &&
                     y < w + SD_QR_QUIET;
            int want = in ? (q->data[(y - SD_QR_QUIET) * w + (x - SD_QR_QUIET)] & 1) : 0;
            if (grid[y * s + x] != want)
                fail_msg("module (%u,%u) is %d, libqrencode's is %d", x, y, grid[y * s + x], want);
        }
    free(grid);
    QRcode_free(q);
    free(svg);
}

static void test_qr_svg(void **state)
{
    (void)state;
    check_qr("a"); /* version 1: 21 modules, 29 with the quiet zone */
    size_t len = 0;
    char *svg = sd_qr_svg("a", &len);
    assert_non_null(strstr(svg, "viewBox=\"0 0 29 29\" width=\"116\" height=\"116\""));
    free(svg);
    check_qr(TEST_URI);
    check_qr("Case Matters: aBc 123 <&> \"'");
    check_qr("\xc3\xa9\xf0\x9f\x94\x91 UTF-8");
    char big[SD_QR_TEXT_MAX + 2];
    memset(big, 'x', sizeof big);
    big[SD_QR_TEXT_MAX] = '\0'; /* exactly the maximum: encoded */
    check_qr(big);
    big[SD_QR_TEXT_MAX] = 'x';
    big[SD_QR_TEXT_MAX + 1] = '\0'; /* one byte more: refused */
    len = 7;
    assert_null(sd_qr_svg(big, &len));
    assert_int_equal(len, 0);
    assert_null(sd_qr_svg("", &len));
    assert_null(sd_qr_svg(NULL, &len));
    svg = sd_qr_svg("abc", NULL); /* the length is optional */
    assert_non_null(svg);
    free(svg);
}

/* The SVG, drawn into a PGM at 4 pixels a module, decoded by zbarimg
 * (package zbar-tools) when it is installed. */
static void test_qr_decodes(void **state)
{
    (void)state;
    const char *zbar = "/usr/bin/zbarimg";
    if (access(zbar, X_OK) != 0)
        skip();
    char dir[256];
    assert_int_equal(sg_test_mkdtemp(dir, sizeof dir, "signet-qr"), 0);
    char *svg = sd_qr_svg(TEST_URI, NULL);
    assert_non_null(svg);
    unsigned long s = strtoul(strstr(svg, "viewBox=\"0 0 ") + 13, NULL, 10);
    assert_true(s >= 29 && s <= 185);
    unsigned char *grid = malloc(s * s);
    assert_non_null(grid);
    svg_grid(svg, (unsigned)s, grid);
    char path[320];
    (void)snprintf(path, sizeof path, "%s/qr.pgm", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    const unsigned px = 4;
    fprintf(f, "P5\n%lu %lu\n255\n", s * px, s * px);
    for (unsigned long y = 0; y < s * px; y++)
        for (unsigned long x = 0; x < s * px; x++)
            fputc(grid[(y / px) * s + x / px] ? 0 : 255, f);
    assert_int_equal(fclose(f), 0);
    char cmd[512];
    (void)snprintf(cmd, sizeof cmd, "%s --quiet --raw '%s' 2>/dev/null", zbar, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char got[1024] = "";
    size_t n = fread(got, 1, sizeof got - 1, p);
    got[n] = '\0';
    int rc = pclose(p);
    while (n > 0 && (got[n - 1] == '\n' || got[n - 1] == '\r'))
        got[--n] = '\0';
    if (rc != 0)
        fail_msg("zbarimg failed (%d) on %s", rc, path);
    assert_string_equal(got, TEST_URI);
    free(grid);
    free(svg);
    sg_test_rmrf(dir);
}

static void expect_uri(const char *issuer, const char *account, const char *secret,
                       const char *want)
{
    char out[512];
    memset(out, 'x', sizeof out);
    assert_int_equal(sd_otpauth_uri(out, sizeof out, issuer, account, secret), 0);
    assert_string_equal(out, want);
}

static void test_otpauth_uri(void **state)
{
    (void)state;
    expect_uri("Example Co", "alice@example.com", TEST_SECRET, TEST_URI);
    expect_uri("signet", "bob", "GEZDGNBV",
               "otpauth://totp/signet:bob?secret=GEZDGNBV&issuer=signet&algorithm=SHA1"
               "&digits=6&period=30");
    /* Unreserved kept; ':' and every other byte encoded (a label can
     * neither split the "issuer:account" label nor add a parameter). */
    expect_uri("a-b._~Z9", "x:y", "AB",
               "otpauth://totp/a-b._~Z9:x%3Ay?secret=AB&issuer=a-b._~Z9&algorithm=SHA1"
               "&digits=6&period=30");
    expect_uri("Evil:Co&secret=AAAA#x", "m\"<>/?%\xc3\xa9\n", "AB",
               "otpauth://totp/Evil%3ACo%26secret%3DAAAA%23x:m%22%3C%3E%2F%3F%25%C3%A9%0A"
               "?secret=AB&issuer=Evil%3ACo%26secret%3DAAAA%23x&algorithm=SHA1&digits=6"
               "&period=30");
    char out[512];
    /* Invalid inputs: "" out. */
    const char *bad_secrets[] = {"", "abc", "AB=", "AB1", "AB 8", "AB\xc3\xa9", "A&issuer=x"};
    for (size_t i = 0; i < sizeof bad_secrets / sizeof bad_secrets[0]; i++) {
        memset(out, 'x', sizeof out);
        assert_int_equal(sd_otpauth_uri(out, sizeof out, "i", "a", bad_secrets[i]), -1);
        assert_string_equal(out, "");
    }
    char long_secret[130];
    memset(long_secret, 'A', 129);
    long_secret[129] = '\0';
    assert_int_equal(sd_otpauth_uri(out, sizeof out, "i", "a", long_secret), -1);
    long_secret[128] = '\0';
    assert_int_equal(sd_otpauth_uri(out, sizeof out, "i", "a", long_secret), 0);
    assert_int_equal(sd_otpauth_uri(out, sizeof out, "", "a", "AB"), -1);
    assert_int_equal(sd_otpauth_uri(out, sizeof out, "i", "", "AB"), -1);
    assert_int_equal(sd_otpauth_uri(out, sizeof out, NULL, "a", "AB"), -1);
    assert_int_equal(sd_otpauth_uri(out, sizeof out, "i", NULL, "AB"), -1);
    assert_int_equal(sd_otpauth_uri(out, sizeof out, "i", "a", NULL), -1);
    assert_int_equal(sd_otpauth_uri(NULL, 10, "i", "a", "AB"), -1);
    assert_int_equal(sd_otpauth_uri(out, 0, "i", "a", "AB"), -1);
    /* Exactly enough room, and one byte short (never truncated). */
    const char *want = "otpauth://totp/i:a?secret=AB&issuer=i&algorithm=SHA1&digits=6&period=30";
    size_t n = strlen(want);
    assert_int_equal(sd_otpauth_uri(out, n + 1, "i", "a", "AB"), 0);
    assert_string_equal(out, want);
    out[n - 1] = 'x';
    assert_int_equal(sd_otpauth_uri(out, n, "i", "a", "AB"), -1);
    assert_string_equal(out, "");
    /* An encoded byte never half-written at the end. */
    for (size_t cap = 1; cap < 40; cap++) {
        memset(out, 'x', sizeof out);
        assert_int_equal(sd_otpauth_uri(out, cap, "::::", "a", "AB"), -1);
        assert_string_equal(out, "");
        assert_int_equal(out[cap], 'x'); /* nothing written past cap */
    }
}

static void expect_code(const char *typed, const char *want)
{
    char out[7];
    memset(out, 'x', sizeof out);
    if (want == NULL) {
        assert_int_equal(sd_totp_code_parse(typed, out), -1);
        assert_string_equal(out, "");
        return;
    }
    assert_int_equal(sd_totp_code_parse(typed, out), 0);
    assert_string_equal(out, want);
}

static void test_totp_code_parse(void **state)
{
    (void)state;
    expect_code("123456", "123456");
    expect_code("000000", "000000");
    expect_code("123 456", "123456");
    expect_code(" 1 2 3 4 5 6 ", "123456");
    expect_code("123-456", "123456");
    expect_code("123 - 456", "123456");
    expect_code(NULL, NULL);
    expect_code("", NULL);
    expect_code("   ", NULL);
    expect_code("12345", NULL);
    expect_code("1234567", NULL);
    expect_code("12345678", NULL);
    expect_code("-123456", NULL);
    expect_code("123456-", NULL);
    expect_code("12-3456", NULL);
    expect_code("123--456", NULL);
    expect_code("12-34-56", NULL);
    expect_code("123\t456", NULL);
    expect_code("123456\n", NULL);
    expect_code("12345a", NULL);
    expect_code("+123456", NULL);
    expect_code("123.456", NULL);
    expect_code("\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6", NULL); /* Arabic-Indic digits */
    expect_code("\xef\xbc\x91" "23456", NULL); /* a fullwidth 1 */
    expect_code("123\xc2\xa0" "456", NULL);      /* NBSP is not a space here */
}

static void test_totp_page(void **state)
{
    (void)state;
    struct sd_resp r;
    resp_init(&r);
    sd_page_totp(&r, &good_base, "alice", TEST_URI, TEST_SECRET);
    check_page(&r, 200, "totp");
    const char *b = r.body;
    assert_non_null(strstr(b, "data-page=\"totp\" data-base=\"/t/default\" "
                              "data-csrf=\"csrf-token_1\">"));
    assert_non_null(strstr(b, "<h1>Set up an authenticator app</h1>"));
    assert_non_null(strstr(b, "<span class=\"user\">alice</span>"));
    /* The QR code, inline: exactly sd_qr_svg's. */
    char *svg = sd_qr_svg(TEST_URI, NULL);
    assert_non_null(svg);
    const char *at = strstr(b, "<div class=\"qr\"><svg ");
    assert_non_null(at);
    assert_int_equal(strncmp(at + 16, svg, strlen(svg)), 0);
    assert_int_equal(strncmp(at + 16 + strlen(svg), "</div>", 6), 0);
    free(svg);
    assert_int_equal(count(b, "<svg"), 1);
    /* The key in groups of 4, and said to be shown once. */
    assert_non_null(strstr(b, "<code class=\"secret\">JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK "
                              "3PXP</code>"));
    assert_non_null(strstr(b, "shown only once"));
    assert_non_null(strstr(b, "<label for=\"totpcode\">"));
    assert_non_null(strstr(b, "<input id=\"totpcode\""));
    assert_non_null(strstr(b, "autocomplete=\"one-time-code\""));
    assert_non_null(strstr(b, "<button id=\"totp-confirm\" type=\"button\">Confirm</button>"));
    /* The URI itself is not on the page as text or a link. */
    assert_null(strstr(b, "otpauth://"));
    resp_free(&r);

    /* A secret not a multiple of 4. */
    resp_init(&r);
    sd_page_totp(&r, &good_base, "alice", TEST_URI, "ABCDEFGHIJ");
    check_page(&r, 200, "totp");
    assert_non_null(strstr(r.body, "<code class=\"secret\">ABCD EFGH IJ</code>"));
    resp_free(&r);

    /* No QR code possible (too long, or none): the page still shows the key. */
    char big[SD_QR_TEXT_MAX + 2];
    memset(big, 'x', sizeof big);
    big[sizeof big - 1] = '\0';
    const char *uris[] = {big, NULL, ""};
    for (size_t i = 0; i < 3; i++) {
        resp_init(&r);
        sd_page_totp(&r, &good_base, "alice", uris[i], TEST_SECRET);
        check_page(&r, 200, "totp");
        assert_null(strstr(r.body, "<svg"));
        assert_non_null(strstr(r.body, "The QR code cannot be shown"));
        assert_non_null(strstr(r.body, "JBSW Y3DP"));
        resp_free(&r);
    }

    /* Hostile values: escaped; a hostile URI only ever becomes modules. */
    resp_init(&r);
    sd_page_totp(&r, &evil_base, EVIL_USER, EVIL_OTPAUTH, EVIL_SECRET);
    check_page(&r, 200, "totp");
    check_no_injection(r.body);
    assert_non_null(strstr(r.body, "<svg "));
    assert_non_null(strstr(r.body, "JBSW &quot;&gt;&lt;s crip t&gt;al ert( 6)&lt;/ scri pt&gt;"));
    assert_null(strstr(r.body, "alert(7)"));
    resp_free(&r);

    resp_init(&r);
    sd_page_totp(&r, NULL, NULL, NULL, NULL);
    check_page(&r, 200, "totp");
    resp_free(&r);
}

static void test_logout(void **state)
{
    (void)state;
    struct sd_resp r;
    resp_init(&r);
    sd_page_logout(&r, &good_base, "my-app", "https_x", "st8");
    check_page(&r, 200, "logout");
    assert_non_null(strstr(r.body, "data-base=\"/t/default\" data-csrf=\"csrf-token_1\" "
                                   "data-client=\"my-app\" data-post-logout-redirect-uri=\""
                                   "https_x\" data-state=\"st8\">"));
    assert_non_null(strstr(r.body, "Sign out of <span class=\"tenant-name\">default</span>?"));
    assert_non_null(strstr(r.body, "<button id=\"logout\" type=\"button\">"));
    resp_free(&r);

    /* A real redirect URI is an attribute value, escaped as any other. */
    resp_init(&r);
    sd_page_logout(&r, &good_base, "", "https://rp.example/cb?a=1&b=2", "");
    assert_non_null(strstr(r.body, "data-post-logout-redirect-uri=\"https://rp.example/cb?a=1"
                                   "&amp;b=2\""));
    assert_null(strstr(r.body, "Requested by"));
    resp_free(&r);

    resp_init(&r);
    sd_page_logout(&r, &evil_base, EVIL_CLIENT, EVIL_URI, EVIL_STATE);
    check_page(&r, 200, "logout");
    check_no_injection(r.body);
    assert_non_null(strstr(r.body, "data-state=\"&quot; onfocus=&quot;alert(1)&quot; x=&quot;\""));
    resp_free(&r);

    resp_init(&r);
    sd_page_logout(&r, NULL, NULL, NULL, NULL);
    check_page(&r, 200, "logout");
    resp_free(&r);
}

static void test_error(void **state)
{
    (void)state;
    struct sd_resp r;
    resp_init(&r);
    sd_page_error(&r, 410, "This link does not work", "Ask for a new one.");
    check_page(&r, 410, "error");
    assert_non_null(strstr(r.body, "<h1>This link does not work</h1>"));
    assert_non_null(strstr(r.body, "<p>Ask for a new one.</p>"));
    assert_non_null(strstr(r.body, "Error 410"));
    assert_null(strstr(r.body, "data-csrf"));
    resp_free(&r);

    resp_init(&r);
    sd_page_error(&r, 400, EVIL_TENANT, EVIL_USER);
    check_page(&r, 400, "error");
    check_no_injection(r.body);
    resp_free(&r);

    /* Not an error status: a 500 rather than a page that looks fine. */
    resp_init(&r);
    sd_page_error(&r, 200, NULL, NULL);
    check_page(&r, 500, "error");
    resp_free(&r);
}

/* A render replaces an earlier body and keeps the cookies set before it
 * (the CSRF cookie is set before the page is rendered). */
static void test_replaces_body_keeps_cookies(void **state)
{
    (void)state;
    struct sd_resp r;
    resp_init(&r);
    (void)snprintf(r.cookies[0], sizeof r.cookies[0], "__Host-signet-csrf=x");
    r.body = malloc(8);
    assert_non_null(r.body);
    sd_page_signin(&r, &good_base, "", "", "");
    sd_page_error(&r, 404, "Not found", "");
    check_page(&r, 404, "error");
    assert_string_equal(r.cookies[0], "__Host-signet-csrf=x");
    resp_free(&r);
}

/* ---- assets ---------------------------------------------------------------- */

static char *read_source(const char *rel, size_t *len)
{
    const char *dir = getenv("SIGNET_SOURCE_DIR");
    if (dir == NULL)
        return NULL;
    char path[1024];
    (void)snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(1 << 20);
    *len = buf != NULL ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    return buf;
}

static void check_asset(const char *name, const char *type, const char *source)
{
    struct sd_resp r;
    resp_init(&r);
    sd_page_asset(&r, name);
    assert_int_equal(r.status, 200);
    assert_non_null(r.body);
    assert_true(r.len > 100);
    assert_string_equal(r.content_type, type);
    assert_string_equal(r.cache_control, "public, max-age=3600");
    assert_int_equal(strlen(r.body), r.len); /* text, NUL-terminated */
    size_t n = 0;
    char *src = read_source(source, &n);
    if (src != NULL) { /* the embedded bytes are the file's */
        assert_int_equal(n, r.len);
        assert_memory_equal(src, r.body, n);
        free(src);
    }
    resp_free(&r);
}

static void test_assets(void **state)
{
    (void)state;
    check_asset("signet.js", "application/javascript; charset=utf-8",
                "src/signetd/assets/signet.js");
    check_asset("signet.css", "text/css; charset=utf-8", "src/signetd/assets/signet.css");
}

static void test_asset_unknown(void **state)
{
    (void)state;
    const char *names[] = {"", "signet", "signet.js.map", "SIGNET.JS", "../signet.js",
                           "signet.js/", "signet.css?x", "/signet.js", "pages.c", "x\"><script>"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct sd_resp r;
        resp_init(&r);
        sd_page_asset(&r, names[i]);
        check_page(&r, 404, "error");
        resp_free(&r);
    }
    struct sd_resp r;
    resp_init(&r);
    sd_page_asset(&r, NULL);
    check_page(&r, 404, "error");
    resp_free(&r);
}

/* The script's own rules: no eval, no HTML built from data, strict. */
static void test_script_rules(void **state)
{
    (void)state;
    struct sd_resp r;
    resp_init(&r);
    sd_page_asset(&r, "signet.js");
    const char *js = r.body;
    assert_non_null(js);
    assert_null(strstr(js, "eval("));
    assert_null(strstr(js, "innerHTML"));
    assert_null(strstr(js, "outerHTML"));
    assert_null(strstr(js, "insertAdjacentHTML"));
    assert_null(strstr(js, "document.write"));
    assert_null(strstr(js, "new Function"));
    assert_null(strstr(js, "setTimeout('"));
    assert_non_null(strstr(js, "'use strict';"));
    assert_non_null(strstr(js, "textContent"));
    assert_non_null(strstr(js, "mediation: 'conditional'"));
    assert_non_null(strstr(js, "isConditionalMediationAvailable"));
    assert_non_null(strstr(js, "AbortController"));
    assert_non_null(strstr(js, "'/webauthn/options'"));
    resp_free(&r);
}

/* ---- allocation failures ----------------------------------------------------- */

/* After an allocation failure: the small static 500 page (or, if even
 * its copy failed, an empty 500); otherwise the normal answer. */
static void check_failed_or_ok(const struct sd_resp *r, unsigned ok_status, int ok_page)
{
    if (r->status == 500) {
        assert_int_equal(r->page, 1);
        assert_string_equal(r->content_type, HTML_TYPE);
        if (r->body != NULL) {
            assert_int_equal(r->len, strlen(r->body));
            assert_non_null(strstr(r->body, "Server error"));
        }
        return;
    }
    assert_int_equal(r->status, ok_status);
    assert_int_equal(r->page, ok_page);
    assert_non_null(r->body);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    struct sd_page_passkey many[200];
    for (size_t i = 0; i < 200; i++)
        many[i] = (struct sd_page_passkey){"ee882879-721c-4913-9775-3dfcce97072a", "synced",
                                           1700000000, 1700000000};
    struct sd_page_device devs[50];
    for (size_t i = 0; i < 50; i++)
        devs[i] = (struct sd_page_device){"dev_0123456789", "phone", 1700000000, 1700000000};
    const struct sd_page_account_info many_info = {
        .user_name = "alice", .auth_time = 1700000000, .keys = many, .n_keys = 200,
        .has_password = 1, .devices = devs, .n_devices = 50, .has_totp = 1,
        .mfa_policy = SG_MFA_ANY, .issuer = "https://id.example"};
    for (int which = 0; which < 5; which++) {
        int failed = 0;
        for (unsigned nth = 1; nth < 64; nth++) {
            struct sd_resp r;
            resp_init(&r);
            sd_pages_test_fail_alloc(nth);
            switch (which) {
            case 0: sd_page_signin(&r, &good_base, "req", "app", "notice"); break;
            case 1: sd_page_account(&r, &good_base, &many_info); break;
            case 2: sd_page_asset(&r, "signet.js"); break;
            case 3: sd_page_error(&r, 400, "Bad", "Bad request."); break;
            default: sd_page_totp(&r, &good_base, "alice", TEST_URI, TEST_SECRET); break;
            }
            sd_pages_test_fail_alloc(0);
            check_failed_or_ok(&r, which == 3 ? 400 : 200, which == 2 ? 0 : 1);
            int ok = r.status != 500;
            if (!ok)
                failed++;
            resp_free(&r);
            if (ok)
                break; /* past the last allocation */
        }
        assert_true(failed > 0); /* every render allocates */
    }
    /* The account page with 200 passkeys grows its buffer more than once. */
    int growths = 0;
    for (unsigned nth = 1; nth < 64; nth++) {
        struct sd_resp r;
        resp_init(&r);
        sd_pages_test_fail_alloc(nth);
        sd_page_account(&r, &good_base, &many_info);
        sd_pages_test_fail_alloc(0);
        unsigned st = r.status;
        resp_free(&r);
        if (st != 500)
            break;
        growths++;
    }
    assert_true(growths > 2);
}

/* A page beyond the cap (1 MiB) is refused as a 500, not truncated. */
static void test_page_cap(void **state)
{
    (void)state;
    size_t n = 4000;
    struct sd_page_passkey *keys = calloc(n, sizeof *keys);
    char *label = malloc(600);
    assert_non_null(keys);
    assert_non_null(label);
    memset(label, '"', 599); /* 6 bytes each once escaped */
    label[599] = '\0';
    for (size_t i = 0; i < n; i++)
        keys[i] = (struct sd_page_passkey){label, "synced", 1700000000, 0};
    struct sd_resp r;
    resp_init(&r);
    const struct sd_page_account_info info = {.user_name = "alice", .auth_time = 1700000000,
                                               .keys = keys, .n_keys = n};
    sd_page_account(&r, &good_base, &info);
    assert_int_equal(r.status, 500);
    assert_int_equal(r.page, 1);
    assert_non_null(r.body);
    assert_non_null(strstr(r.body, "Server error"));
    resp_free(&r);
    free(label);
    free(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_specials),
        cmocka_unit_test(test_escape_attribute_breaking),
        cmocka_unit_test(test_escape_controls),
        cmocka_unit_test(test_escape_buffer),
        cmocka_unit_test(test_signin),
        cmocka_unit_test(test_signin_hostile),
        cmocka_unit_test(test_enrol),
        cmocka_unit_test(test_account),
        cmocka_unit_test(test_account_devices),
        cmocka_unit_test(test_account_totp),
        cmocka_unit_test(test_qr_svg),
        cmocka_unit_test(test_qr_decodes),
        cmocka_unit_test(test_otpauth_uri),
        cmocka_unit_test(test_totp_code_parse),
        cmocka_unit_test(test_totp_page),
        cmocka_unit_test(test_logout),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_replaces_body_keeps_cookies),
        cmocka_unit_test(test_assets),
        cmocka_unit_test(test_asset_unknown),
        cmocka_unit_test(test_script_rules),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_page_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
