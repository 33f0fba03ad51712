/* The HTML pages people see and the two static assets they use (pages.h,
 * docs/people.md). A page is a short HTML5 document built in a growing,
 * capped buffer: fixed markup is appended as is, every value through
 * sd_html_escape. All attributes are double-quoted, so an escaped value
 * can neither end an attribute nor open a tag. The script and the style
 * come from /assets/ only (the CSP allows nothing inline). */
#include "signetd/pages.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "signetd/qr.h"
#include "util/secret.h"

/* The embedded assets: sd_asset_signet_js[], sd_asset_signet_js_len and
 * the same for signet.css, generated at build time by
 * cmake/EmbedAsset.cmake from src/signetd/assets/ (each array ends with a
 * NUL not counted in its length). */
#include "sd_asset_signet_css.inc"
#include "sd_asset_signet_js.inc"

#define PAGE_TYPE "text/html; charset=utf-8"
#define PAGE_INITIAL 4096
#define PAGE_MAX (1024u * 1024u) /* no page comes near; a runaway list stops here */

/* ---- allocation (the test hook makes the Nth allocation fail) ------------ */

#if SIGNET_TESTING
static atomic_uint alloc_fail_at; /* 0: never */
static atomic_uint alloc_count;

void sd_pages_test_fail_alloc(unsigned nth)
{
    atomic_store(&alloc_count, 0);
    atomic_store(&alloc_fail_at, nth);
}

static int alloc_fails(void)
{
    unsigned at = atomic_load(&alloc_fail_at);
    return at != 0 && atomic_fetch_add(&alloc_count, 1) + 1 == at;
}
#else
static int alloc_fails(void)
{
    return 0;
}
#endif

static void *page_realloc(void *p, size_t n)
{
    return alloc_fails() ? NULL : realloc(p, n);
}

/* ---- escaping ------------------------------------------------------------ */

static const char *entity(unsigned char c)
{
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\'': return "&#39;";
    default: return NULL;
    }
}

size_t sd_html_escape(char *dst, size_t cap, const char *src)
{
    if (dst == NULL || cap == 0)
        return (size_t)-1;
    const unsigned char *s = (const unsigned char *)(src != NULL ? src : "");
    size_t o = 0;
    for (; *s != '\0'; s++) {
        /* C0 controls and DEL; C1 controls (U+0080..U+009F, C2 80..C2 9F
         * in UTF-8) as well: nothing a name or a sentence needs. */
        if (*s < 0x20 || *s == 0x7f)
            continue;
        if (*s == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
            s++;
            continue;
        }
        const char *e = entity(*s);
        size_t n = e != NULL ? strlen(e) : 1;
        if (n >= cap - o) { /* room for n bytes and the NUL */
            dst[0] = '\0';
            return (size_t)-1;
        }
        if (e != NULL)
            memcpy(dst + o, e, n);
        else
            dst[o] = (char)*s;
        o += n;
    }
    dst[o] = '\0';
    return o;
}

/* ---- the page buffer ----------------------------------------------------- */

struct page {
    char *p;
    size_t len, cap;
    int failed;
    int secret; /* holds a secret: no copy is left behind unwiped */
};

/* Room for n more bytes and a NUL. */
static int reserve(struct page *pg, size_t n)
{
    if (pg->failed)
        return -1;
    if (n > PAGE_MAX || pg->len + n + 1 > PAGE_MAX) {
        pg->failed = 1;
        return -1;
    }
    size_t need = pg->len + n + 1;
    if (need <= pg->cap)
        return 0;
    size_t cap = pg->cap > 0 ? pg->cap : PAGE_INITIAL;
    while (cap < need)
        cap *= 2;
    if (cap > PAGE_MAX)
        cap = PAGE_MAX;
    char *p = page_realloc(pg->secret ? NULL : pg->p, cap);
    if (p == NULL) {
        pg->failed = 1;
        return -1;
    }
    if (pg->secret && pg->p != NULL) { /* realloc would free the old copy as it is */
        memcpy(p, pg->p, pg->len + 1);
        sg_wipe(pg->p, pg->cap);
        free(pg->p);
    }
    pg->p = p;
    pg->cap = cap;
    return 0;
}

static void put(struct page *pg, const char *s)
{
    size_t n = strlen(s);
    if (reserve(pg, n) != 0)
        return;
    memcpy(pg->p + pg->len, s, n + 1);
    pg->len += n;
}

/* An escaped value: at most 6 bytes ("&quot;") for each byte of it. */
static void put_esc(struct page *pg, const char *s)
{
    size_t n = strlen(s != NULL ? s : "");
    if (n > PAGE_MAX / 6 || reserve(pg, n * 6) != 0) {
        pg->failed = 1;
        return;
    }
    size_t w = sd_html_escape(pg->p + pg->len, pg->cap - pg->len, s);
    if (w == (size_t)-1) {
        pg->failed = 1;
        return;
    }
    pg->len += w;
}

/* ` name="value"`, value escaped. */
static void put_attr(struct page *pg, const char *name, const char *value)
{
    put(pg, " ");
    put(pg, name);
    put(pg, "=\"");
    put_esc(pg, value);
    put(pg, "\"");
}

/* <tag class="cls">value</tag>, value escaped; cls may be NULL. */
static void put_elem(struct page *pg, const char *tag, const char *cls, const char *value)
{
    put(pg, "<");
    put(pg, tag);
    if (cls != NULL)
        put_attr(pg, "class", cls);
    put(pg, ">");
    put_esc(pg, value);
    put(pg, "</");
    put(pg, tag);
    put(pg, ">\n");
}

/* A UTC time as <time datetime="...">YYYY-MM-DD HH:MM UTC</time>, or
 * `none` for 0. */
static void put_time(struct page *pg, int64_t t, const char *none)
{
    struct tm tm;
    time_t tt = (time_t)t;
    char iso[32], human[32];
    if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 ||
        strftime(human, sizeof human, "%Y-%m-%d %H:%M UTC", &tm) == 0) {
        put_esc(pg, none);
        return;
    }
    put(pg, "<time");
    put_attr(pg, "datetime", iso);
    put(pg, ">");
    put_esc(pg, human);
    put(pg, "</time>");
}

/* The document up to and including the opening <main id="signet" ...
 * (left open for the page's own data-* attributes). */
static void open_page(struct page *pg, const char *title, const char *tenant, const char *kind)
{
    put(pg, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta name=\"color-scheme\" content=\"light dark\">\n"
            "<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>");
    put_esc(pg, title);
    if (tenant != NULL && tenant[0] != '\0') {
        put(pg, " - ");
        put_esc(pg, tenant);
    }
    put(pg, "</title>\n<link rel=\"stylesheet\" href=\"/assets/signet.css\">\n"
            "<script src=\"/assets/signet.js\" defer></script>\n</head>\n<body>\n"
            "<main id=\"signet\" class=\"card\"");
    put_attr(pg, "data-page", kind);
}

/* data-base and data-csrf, then the end of the <main> tag. */
static void base_attrs(struct page *pg, const struct sd_page_base *b)
{
    put_attr(pg, "data-base", b != NULL && b->tenant_path != NULL ? b->tenant_path : "");
    put_attr(pg, "data-csrf", b != NULL && b->csrf != NULL ? b->csrf : "");
}

static void tenant_line(struct page *pg, const struct sd_page_base *b)
{
    if (b != NULL && b->tenant != NULL && b->tenant[0] != '\0')
        put_elem(pg, "p", "tenant", b->tenant);
}

static void message_area(struct page *pg)
{
    put(pg, "<p id=\"message\" role=\"status\" aria-live=\"polite\"></p>\n"
            "<noscript><p class=\"error\">Passkeys need JavaScript: turn it on for this "
            "site.</p></noscript>\n");
}

static void close_page(struct page *pg)
{
    put(pg, "</main>\n</body>\n</html>\n");
}

static const char *tenant_of(const struct sd_page_base *b)
{
    return b != NULL && b->tenant != NULL ? b->tenant : "";
}

/* ---- answers ------------------------------------------------------------- */

static const char fail_body[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Server "
    "error</title></head><body><h1>Server error</h1><p>The page cannot be shown right "
    "now.</p></body></html>\n";

/* Out of memory (or a page beyond PAGE_MAX): a tiny static 500 page;
 * if even its copy cannot be made, an empty 500. */
static void fail500(struct sd_resp *r)
{
    free(r->body);
    r->status = 500;
    r->body = page_realloc(NULL, sizeof fail_body);
    if (r->body != NULL)
        memcpy(r->body, fail_body, sizeof fail_body);
    r->len = r->body != NULL ? sizeof fail_body - 1 : 0;
    r->content_type = PAGE_TYPE;
    r->cache_control[0] = '\0';
    r->page = 1;
}

static void finish(struct sd_resp *r, struct page *pg, unsigned status)
{
    if (pg->failed || pg->p == NULL) {
        if (pg->p != NULL && pg->secret)
            sg_wipe(pg->p, pg->cap);
        free(pg->p);
        fail500(r);
        return;
    }
    free(r->body);
    r->status = status;
    r->body = pg->p;
    r->len = pg->len;
    r->content_type = PAGE_TYPE;
    r->cache_control[0] = '\0'; /* no-store */
    r->page = 1;
}

/* ---- the pages ----------------------------------------------------------- */

void sd_page_signin(struct sd_resp *r, const struct sd_page_base *b, const char *req,
                    const char *client, const char *notice)
{
    struct page pg = {0};
    open_page(&pg, "Sign in", tenant_of(b), "signin");
    base_attrs(&pg, b);
    put_attr(&pg, "data-req", req != NULL ? req : "");
    put(&pg, ">\n");
    tenant_line(&pg, b);
    put(&pg, "<h1>Sign in</h1>\n");
    if (notice != NULL && notice[0] != '\0')
        put_elem(&pg, "p", "notice", notice);
    if (client != NULL && client[0] != '\0') {
        put(&pg, "<p class=\"client\">to continue to <strong>");
        put_esc(&pg, client);
        put(&pg, "</strong></p>\n");
    }
    put(&pg, "<label for=\"username\">User name</label>\n"
             "<input id=\"username\" name=\"username\" type=\"text\" "
             "autocomplete=\"username webauthn\" autocapitalize=\"none\" spellcheck=\"false\" "
             "placeholder=\"Choose a passkey\">\n"
             "<button id=\"passkey\" type=\"button\">Sign in with a passkey</button>\n"
             "<p class=\"hint\">Your device asks for your fingerprint, face, PIN or security "
             "key.</p>\n"
             "<details class=\"password\"><summary>Sign in with a password</summary>\n"
             "<label for=\"password\">Password</label>\n"
             "<input id=\"password\" name=\"password\" type=\"password\" "
             "autocomplete=\"current-password\" maxlength=\"128\">\n"
             "<button id=\"pwsignin\" type=\"button\" class=\"secondary\">Continue</button>\n"
             "<p class=\"hint\">A password is never enough on its own: a second step confirms "
             "it next.</p>\n</details>\n");
    /* The second steps (issue 14): hidden until a right password; the
     * script shows the wrappers of the methods the server offers. */
    put(&pg, "<section id=\"second\" hidden>\n<h2>Confirm it&#39;s you</h2>\n"
             "<div class=\"method\" data-method=\"passkey\" hidden>\n"
             "<button id=\"second-passkey\" type=\"button\">Use my passkey</button>\n</div>\n"
             "<div class=\"method\" data-method=\"approval\" hidden>\n"
             "<button id=\"second-approval\" type=\"button\" class=\"secondary\">Approve on my "
             "device</button>\n"
             "<div id=\"approval\" hidden>\n"
             "<p class=\"number\" id=\"approval-number\"></p>\n"
             "<p>Type this number in signet-authenticator on your device</p>\n"
             "<dl class=\"context\" id=\"approval-context\">\n"
             "<dt>Application</dt><dd id=\"approval-client\"></dd>\n"
             "<dt>From</dt><dd id=\"approval-address\"></dd>\n"
             "<dt class=\"loc\" hidden>Location</dt><dd class=\"loc\" id=\"approval-location\" "
             "hidden></dd>\n"
             "<dt>Requested</dt><dd id=\"approval-time\"></dd>\n</dl>\n"
             "<p class=\"hint\"><span id=\"approval-expires\"></span></p>\n</div>\n</div>\n"
             "<div class=\"method\" data-method=\"totp\" hidden>\n"
             "<label for=\"totpcode\">Code from your authenticator app</label>\n"
             "<input id=\"totpcode\" name=\"totpcode\" type=\"text\" inputmode=\"numeric\" "
             "autocomplete=\"one-time-code\" maxlength=\"8\" spellcheck=\"false\">\n"
             "<button id=\"second-totp\" type=\"button\" class=\"secondary\">Verify "
             "code</button>\n</div>\n</section>\n");
    message_area(&pg);
    close_page(&pg);
    finish(r, &pg, 200);
}

void sd_page_enrol(struct sd_resp *r, const struct sd_page_base *b, const char *user_name,
                   const char *token)
{
    struct page pg = {0};
    open_page(&pg, "Create a passkey", tenant_of(b), "enrol");
    base_attrs(&pg, b);
    put_attr(&pg, "data-token", token != NULL ? token : "");
    put(&pg, ">\n");
    tenant_line(&pg, b);
    put(&pg, "<h1>Create a passkey for <span class=\"user\">");
    put_esc(&pg, user_name);
    put(&pg, "</span></h1>\n"
             "<p>A passkey lets you sign in with your fingerprint, face, screen lock or a "
             "security key instead of a password. It stays on your device or in your password "
             "manager, and works only on this site.</p>\n"
             "<button id=\"create\" type=\"button\">Create a passkey</button>\n");
    message_area(&pg);
    close_page(&pg);
    finish(r, &pg, 200);
}

/* The passkeys: kind, label, when created and last used. */
static void account_passkeys(struct page *pg, const struct sd_page_passkey *keys, size_t n)
{
    put(pg, "<h2>Passkeys</h2>\n");
    if (keys == NULL || n == 0) {
        put(pg, "<p>No passkeys.</p>\n");
        return;
    }
    put(pg, "<ul class=\"passkeys\">\n");
    for (size_t i = 0; i < n && !pg->failed; i++) {
        put(pg, "<li>");
        put_elem(pg, "span", "kind", keys[i].kind != NULL ? keys[i].kind : "passkey");
        put_elem(pg, "span", "label", keys[i].label != NULL ? keys[i].label : "passkey");
        put(pg, "<span class=\"dates\">created ");
        put_time(pg, keys[i].created_at, "at an unknown time");
        put(pg, ", last used ");
        put_time(pg, keys[i].last_used_at, "never");
        put(pg, "</span></li>\n");
    }
    put(pg, "</ul>\n");
}

static void account_password(struct page *pg, int has_password)
{
    put(pg, "<h2>Password</h2>\n");
    put(pg, has_password ? "<p class=\"pwstate\">A password is set. It is only ever a first "
                           "step: a passkey, an approval or a code confirms it.</p>\n"
                         : "<p class=\"pwstate\">No password (none is needed).</p>\n");
    put(pg, "<label for=\"newpw\">New password (12 to 128 characters)</label>\n"
            "<input id=\"newpw\" name=\"newpw\" type=\"password\" "
            "autocomplete=\"new-password\" minlength=\"12\" maxlength=\"128\">\n"
            "<div class=\"actions\">\n"
            "<button id=\"setpw\" type=\"button\" class=\"secondary\">Set password</button>\n");
    if (has_password)
        put(pg, "<button id=\"removepw\" type=\"button\" class=\"secondary\">Remove "
                "password</button>\n");
    put(pg, "</div>\n");
}

/* Approval devices: the list (each with its Remove button) and, unless
 * the policy accepts passkeys only, "Register a device" with the panel
 * the script fills with the one-time code and the command to type. */
static void account_devices(struct page *pg, const struct sd_page_account_info *a)
{
    put(pg, "<h2>Approval devices</h2>\n");
    if (a->devices == NULL || a->n_devices == 0) {
        put(pg, "<p>No devices.</p>\n");
    } else {
        put(pg, "<ul class=\"passkeys devices\">\n");
        for (size_t i = 0; i < a->n_devices && !pg->failed; i++) {
            const struct sd_page_device *d = &a->devices[i];
            put(pg, "<li>");
            put_elem(pg, "span", "kind",
                     d->name != NULL && d->name[0] != '\0' ? d->name : "device");
            put(pg, "<span class=\"dates\">registered ");
            put_time(pg, d->created_at, "at an unknown time");
            put(pg, ", last used ");
            put_time(pg, d->last_used_at, "never");
            put(pg, "</span>\n<button type=\"button\" class=\"secondary remove-device\"");
            put_attr(pg, "data-device", d->id != NULL ? d->id : "");
            put(pg, ">Remove</button></li>\n");
        }
        put(pg, "</ul>\n");
    }
    if (a->mfa_policy == SG_MFA_PHISHING_RESISTANT) {
        put(pg, "<p class=\"hint\">Approvals on a device are not accepted by this "
                "organisation&#39;s policy: sign in with a passkey.</p>\n");
        return;
    }
    put(pg, "<p class=\"hint\">Approve sign-ins on your phone or computer with "
            "signet-authenticator, after your password.</p>\n"
            "<button id=\"device-code\" type=\"button\" class=\"secondary\">Register a "
            "device</button>\n"
            "<div id=\"device-enrol\" hidden>\n"
            "<p>Your one-time code:</p>\n"
            "<p class=\"number code\" id=\"device-code-value\"></p>\n"
            "<p>On the device, run:</p>\n"
            "<pre><code id=\"device-command\"></code></pre>\n"
            "<p class=\"hint\"><span id=\"device-code-expires\"></span></p>\n</div>\n");
}

/* Authenticator app (TOTP): where the policy accepts codes, or to remove
 * one set up before the policy changed. */
static void account_totp(struct page *pg, const struct sd_page_account_info *a)
{
    if (a->mfa_policy != SG_MFA_ANY && !a->has_totp)
        return;
    put(pg, "<h2>Authenticator app (TOTP)</h2>\n");
    if (a->has_totp) {
        put(pg, "<p class=\"totpstate\">An authenticator app is set up.</p>\n");
        if (a->mfa_policy != SG_MFA_ANY)
            put(pg, "<p class=\"hint\">Codes are not accepted by this organisation&#39;s "
                    "policy.</p>\n");
        put(pg, "<button id=\"totp-remove\" type=\"button\" class=\"secondary\">Remove the "
                "authenticator app</button>\n");
        return;
    }
    put(pg, "<p class=\"totpstate\">No authenticator app.</p>\n"
            "<button id=\"totp-setup\" type=\"button\" class=\"link\">Set up an "
            "authenticator app</button>\n");
}

void sd_page_account(struct sd_resp *r, const struct sd_page_base *b,
                     const struct sd_page_account_info *a)
{
    struct page pg = {0};
    if (a == NULL) {
        fail500(r);
        return;
    }
    open_page(&pg, "Your account", tenant_of(b), "account");
    base_attrs(&pg, b);
    put_attr(&pg, "data-issuer", a->issuer != NULL ? a->issuer : "");
    put(&pg, ">\n");
    tenant_line(&pg, b);
    put_elem(&pg, "h1", "user", a->user_name);
    put(&pg, "<p class=\"since\">Signed in since ");
    put_time(&pg, a->auth_time, "an unknown time");
    put(&pg, "</p>\n");
    account_passkeys(&pg, a->keys, a->n_keys);
    put(&pg, "<div class=\"actions\">\n"
             "<button id=\"add\" type=\"button\">Add a passkey</button>\n</div>\n");
    account_password(&pg, a->has_password);
    account_devices(&pg, a);
    account_totp(&pg, a);
    put(&pg, "<div class=\"actions\">\n"
             "<button id=\"logout\" type=\"button\" class=\"secondary\">Sign out</button>\n"
             "</div>\n");
    message_area(&pg);
    close_page(&pg);
    finish(r, &pg, 200);
}

/* The secret in groups of 4 ("JBSW Y3DP ..."), each escaped. */
static void put_groups(struct page *pg, const char *s)
{
    char group[5];
    size_t n = strlen(s != NULL ? s : "");
    for (size_t i = 0; i < n && !pg->failed; i += 4) {
        size_t k = n - i < 4 ? n - i : 4;
        memcpy(group, s + i, k);
        group[k] = '\0';
        if (i > 0)
            put(pg, " ");
        put_esc(pg, group);
    }
    sg_wipe(group, sizeof group);
}

void sd_page_totp(struct sd_resp *r, const struct sd_page_base *b, const char *user_name,
                  const char *otpauth_uri, const char *secret_b32)
{
    struct page pg = {0};
    pg.secret = 1;
    size_t svg_len = 0;
    char *svg = sd_qr_svg(otpauth_uri, &svg_len);
    open_page(&pg, "Set up an authenticator app", tenant_of(b), "totp");
    base_attrs(&pg, b);
    put(&pg, ">\n");
    tenant_line(&pg, b);
    put(&pg, "<h1>Set up an authenticator app</h1>\n<p>For <span class=\"user\">");
    put_esc(&pg, user_name);
    put(&pg, "</span>: scan this code with your authenticator app.</p>\n");
    if (svg != NULL) {
        /* sd_qr_svg's markup is fixed text and numbers (qr.h). */
        put(&pg, "<div class=\"qr\">");
        put(&pg, svg);
        put(&pg, "</div>\n");
    } else {
        put(&pg, "<p class=\"error\">The QR code cannot be shown: type the key below "
                 "instead.</p>\n");
    }
    put(&pg, "<p>Or type this key in the app:</p>\n<p><code class=\"secret\">");
    put_groups(&pg, secret_b32);
    put(&pg, "</code></p>\n"
             "<p class=\"hint\">The key is shown only once: this page cannot show it again. "
             "Codes are 6 digits and change every 30 seconds.</p>\n"
             "<label for=\"totpcode\">Code from your authenticator app</label>\n"
             "<input id=\"totpcode\" name=\"totpcode\" type=\"text\" inputmode=\"numeric\" "
             "autocomplete=\"one-time-code\" maxlength=\"8\" spellcheck=\"false\">\n"
             "<button id=\"totp-confirm\" type=\"button\">Confirm</button>\n");
    message_area(&pg);
    close_page(&pg);
    if (svg != NULL) {
        sg_wipe(svg, svg_len); /* it encodes the secret */
        free(svg);
    }
    finish(r, &pg, 200);
}

void sd_page_logout(struct sd_resp *r, const struct sd_page_base *b, const char *client_id,
                    const char *post_logout_redirect_uri, const char *state)
{
    struct page pg = {0};
    open_page(&pg, "Sign out", tenant_of(b), "logout");
    base_attrs(&pg, b);
    put_attr(&pg, "data-client", client_id != NULL ? client_id : "");
    put_attr(&pg, "data-post-logout-redirect-uri",
             post_logout_redirect_uri != NULL ? post_logout_redirect_uri : "");
    put_attr(&pg, "data-state", state != NULL ? state : "");
    put(&pg, ">\n<h1>Sign out of <span class=\"tenant-name\">");
    put_esc(&pg, tenant_of(b));
    put(&pg, "</span>?</h1>\n");
    if (client_id != NULL && client_id[0] != '\0') {
        put(&pg, "<p class=\"client\">Requested by <strong>");
        put_esc(&pg, client_id);
        put(&pg, "</strong>.</p>\n");
    }
    put(&pg, "<p>This ends your session here; applications you signed in to may keep you "
             "signed in until their own sessions end.</p>\n"
             "<button id=\"logout\" type=\"button\">Sign out</button>\n");
    message_area(&pg);
    close_page(&pg);
    finish(r, &pg, 200);
}

void sd_page_error(struct sd_resp *r, unsigned status, const char *title, const char *detail)
{
    if (status < 400 || status > 599)
        status = 500;
    char code[16];
    (void)snprintf(code, sizeof code, "Error %u", status);
    struct page pg = {0};
    open_page(&pg, title != NULL && title[0] != '\0' ? title : "Error", "", "error");
    put(&pg, ">\n");
    put_elem(&pg, "h1", NULL, title != NULL && title[0] != '\0' ? title : "Error");
    if (detail != NULL && detail[0] != '\0')
        put_elem(&pg, "p", NULL, detail);
    put_elem(&pg, "p", "status", code);
    close_page(&pg);
    finish(r, &pg, status);
}

void sd_page_asset(struct sd_resp *r, const char *name)
{
    const unsigned char *data = NULL;
    size_t len = 0;
    const char *type = NULL;
    if (name != NULL && strcmp(name, "signet.js") == 0) {
        data = sd_asset_signet_js;
        len = sd_asset_signet_js_len;
        type = "application/javascript; charset=utf-8";
    } else if (name != NULL && strcmp(name, "signet.css") == 0) {
        data = sd_asset_signet_css;
        len = sd_asset_signet_css_len;
        type = "text/css; charset=utf-8";
    } else {
        sd_page_error(r, 404, "Not found", "There is no such file.");
        return;
    }
    char *body = page_realloc(NULL, len + 1);
    if (body == NULL) {
        fail500(r);
        return;
    }
    memcpy(body, data, len);
    body[len] = '\0';
    free(r->body);
    r->status = 200;
    r->body = body;
    r->len = len;
    r->content_type = type;
    (void)snprintf(r->cache_control, sizeof r->cache_control, "public, max-age=3600");
    r->page = 0;
}
