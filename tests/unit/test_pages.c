/* The people's pages (src/signetd/pages.c, issue 13), hostile: the HTML
 * escaper on every special character, attribute-breaking input, control
 * characters and short buffers; every page rendered with hostile tenant,
 * user, client, state and token strings and checked by a small tag scanner
 * (each attribute one of a known set, double-quoted, no quote or angle
 * bracket inside a value, one script element: the asset); the answer's
 * status, type and page flag; the embedded assets (types, caching, bytes
 * equal to the source files, 404 for any other name); allocation failures
 * at every step; and the script's own rules (no eval, no innerHTML). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signetd/pages.h"

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
    "maxlength", NULL};

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
            while (is_lower_alnum(*p) || *p == '-')
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
    /* Nothing inline, nothing external. */
    assert_null(strstr(b, " style="));
    assert_null(strstr(b, "<style"));
    assert_null(strstr(b, "http://"));
    assert_null(strstr(b, "https://"));
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
    struct sd_resp r;
    resp_init(&r);
    sd_page_account(&r, &good_base, "alice", 1700000000, keys, 2, 1);
    check_page(&r, 200, "account");
    const char *b = r.body;
    assert_non_null(strstr(b, "data-base=\"/t/default\" data-csrf=\"csrf-token_1\">"));
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
    resp_free(&r);

    /* No passkeys (NULL list), no password: nothing to remove. */
    resp_init(&r);
    sd_page_account(&r, &good_base, "alice", 0, NULL, 0, 0);
    check_page(&r, 200, "account");
    assert_non_null(strstr(r.body, "No passkeys."));
    assert_non_null(strstr(r.body, "No password"));
    assert_null(strstr(r.body, "removepw"));
    assert_non_null(strstr(r.body, "Signed in since an unknown time"));
    resp_free(&r);

    const struct sd_page_passkey evil[] = {{EVIL_USER, EVIL_NOTICE, -1, 1700000000}};
    resp_init(&r);
    sd_page_account(&r, &evil_base, EVIL_USER, 1700000000, evil, 1, 0);
    check_page(&r, 200, "account");
    check_no_injection(r.body);
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
    for (int which = 0; which < 4; which++) {
        int failed = 0;
        for (unsigned nth = 1; nth < 64; nth++) {
            struct sd_resp r;
            resp_init(&r);
            sd_pages_test_fail_alloc(nth);
            switch (which) {
            case 0: sd_page_signin(&r, &good_base, "req", "app", "notice"); break;
            case 1: sd_page_account(&r, &good_base, "alice", 1700000000, many, 200, 1); break;
            case 2: sd_page_asset(&r, "signet.js"); break;
            default: sd_page_error(&r, 400, "Bad", "Bad request."); break;
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
        sd_page_account(&r, &good_base, "alice", 1700000000, many, 200, 1);
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
    sd_page_account(&r, &good_base, "alice", 1700000000, keys, n, 0);
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
