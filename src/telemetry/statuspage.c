#include "telemetry/statuspage.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/accounts.h"
#include "store/store.h"
#include "telemetry/tmutil.h"

#define SVG_W 1180
#define LABEL_W 300
#define PLOT_L (LABEL_W + 10)
#define PLOT_R (SVG_W - 20)
#define ROW_H 28
#define AXIS_H 34
#define MAX_ROWS 16

void sg_html_escape(struct sg_wbuf *w, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&': sg_tm_puts(w, "&amp;"); break;
        case '<': sg_tm_puts(w, "&lt;"); break;
        case '>': sg_tm_puts(w, "&gt;"); break;
        case '"': sg_tm_puts(w, "&quot;"); break;
        case '\'': sg_tm_puts(w, "&#39;"); break;
        default:
            /* Control characters other than tab have no place in the page. */
            if ((unsigned char)*s < 0x20 && *s != '\t')
                sg_tm_puts(w, "&#xFFFD;");
            else
                sg_wbuf_put_bytes(w, s, 1);
        }
    }
}

enum tfmt { T_CLOCK, T_DAY_CLOCK, T_FULL, T_HEADER };

static void put_time(struct sg_wbuf *w, int64_t t, enum tfmt f)
{
    char buf[40] = "-";
    time_t tt = (time_t)t;
    struct tm tm;
    if (t > 0 && gmtime_r(&tt, &tm) != NULL) {
        switch (f) {
        case T_CLOCK: (void)strftime(buf, sizeof buf, "%H:%M", &tm); break;
        case T_DAY_CLOCK: (void)strftime(buf, sizeof buf, "%m-%d %H:%M", &tm); break;
        case T_FULL: (void)strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm); break;
        case T_HEADER: (void)strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm); break;
        }
    }
    sg_tm_puts(w, buf);
}

static const char style[] =
    "body{font:14px/1.4 'DejaVu Sans',system-ui,sans-serif;margin:0;color:#1d2327;"
    "background:#f4f6f8}"
    "header{background:#1d2327;color:#fff;padding:14px 24px}"
    "h1{margin:0;font-size:22px}h2{font-size:17px;margin:0 0 6px}"
    ".sub{margin:4px 0 0;color:#c9d1d9}"
    "main{padding:16px 24px}"
    "section{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:12px 16px;"
    "margin-bottom:16px}"
    ".iss{font-family:'DejaVu Sans Mono',monospace;font-size:13px;color:#57606a;"
    "font-weight:normal;margin-left:8px}"
    ".rate{margin:0 0 8px;color:#24292f}.rate b{font-size:16px}"
    ".pill{display:inline-block;padding:1px 10px;border-radius:10px;font-weight:bold}"
    ".pill.ok{background:#2da44e;color:#fff}.pill.violated{background:#cf222e;color:#fff}"
    ".pill.unknown{background:#8c959f;color:#fff}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}"
    ".nw{white-space:nowrap}"
    "th{font-size:12px;color:#57606a;text-transform:uppercase}"
    "tr.violated{background:#ffebe9}"
    ".dot{display:inline-block;width:12px;height:12px;border-radius:6px}"
    "tr.ok .dot{background:#2da44e}tr.violated .dot{background:#cf222e}"
    "tr.unknown .dot{background:#8c959f}"
    ".on{color:#1a7f37;font-weight:bold}.off{color:#cf222e;font-weight:bold}"
    ".state{font-weight:bold}tr.ok .state{color:#1a7f37}tr.violated .state{color:#cf222e}"
    ".msg{font-size:12px;color:#57606a;max-width:560px;word-break:break-word}"
    "tr.violated .msg{color:#82071e}"
    ".legend span{display:inline-block;margin-right:16px}"
    ".sw{display:inline-block;width:14px;height:10px;margin-right:5px;vertical-align:middle}"
    "svg text{font-family:'DejaVu Sans Mono',monospace;font-size:12px;fill:#24292f}"
    "svg .tick{font-family:'DejaVu Sans',sans-serif;font-size:11px;fill:#57606a}";

struct frame {
    int64_t start, end;
};

static int xpos(const struct frame *f, int64_t t)
{
    if (t < f->start)
        t = f->start;
    if (t > f->end)
        t = f->end;
    double r = (double)(t - f->start) / (double)(f->end - f->start);
    return PLOT_L + (int)(r * (PLOT_R - PLOT_L));
}

static void bar(struct sg_wbuf *w, const struct frame *f, int y, int64_t from, int64_t to,
                const char *cls, const char *fill, bool future)
{
    if (to <= f->start || from >= f->end || to <= from)
        return;
    int x0 = xpos(f, from), x1 = xpos(f, to);
    if (x1 - x0 < 2)
        x1 = x0 + 2;
    sg_tm_printf(w,
                 "<rect class=\"span %s%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"3\" "
                 "fill=\"%s\"%s/>",
                 cls, future ? " projected" : "", x0, y + 5, x1 - x0, ROW_H - 10, fill,
                 future ? " fill-opacity=\"0.35\" stroke-dasharray=\"4 3\" stroke=\"#57606a\""
                        : "");
}

static bool shown(const struct sg_tm_key *k, const char *issuer, const struct frame *f)
{
    if (strcmp(k->issuer, issuer) != 0 || k->state == SG_KS_GENERATING || k->kid[0] == '\0')
        return false;
    return k->destroyed_at == 0 || k->destroyed_at >= f->start;
}

static void key_row(struct sg_wbuf *w, const struct sg_statuspage_in *in, const struct frame *f,
                    const struct sg_tm_key *k, int y)
{
    const char *state = sg_key_state_name((enum sg_key_state)k->state);
    sg_tm_printf(w, "<g class=\"key\" data-state=\"%s\"><title>", state);
    sg_html_escape(w, k->kid);
    sg_tm_printf(w, " %s %s%s</title>", k->alg, state, k->revoked ? " (revoked)" : "");
    /* The first 16 bytes, not splitting a UTF-8 sequence. */
    char shortkid[20];
    (void)snprintf(shortkid, sizeof shortkid, "%.16s", k->kid);
    size_t cut = strlen(shortkid);
    if (cut == 16 && strlen(k->kid) > 16)
        while (cut > 0 && ((unsigned char)k->kid[cut] & 0xC0) == 0x80)
            cut--;
    shortkid[cut] = '\0';
    sg_tm_printf(w, "<text x=\"8\" y=\"%d\">", y + 18);
    sg_html_escape(w, shortkid);
    sg_tm_printf(w, "%s %s</text>", strlen(k->kid) > 16 ? "…" : "", k->alg);
    sg_tm_printf(w, "<text x=\"%d\" y=\"%d\" class=\"tick\"%s>%s</text>", LABEL_W - 88, y + 18,
                 k->revoked ? " style=\"fill:#cf222e\"" : "", k->revoked ? "REVOKED" : state);
    const int64_t now = in->now;
    /* PUBLISHED: from publication until activation (or the end). */
    if (k->published_at > 0) {
        int64_t until = k->activated_at > 0   ? k->activated_at
                        : k->retired_at > 0   ? k->retired_at
                        : k->destroyed_at > 0 ? k->destroyed_at
                                              : now;
        bar(w, f, y, k->published_at, until, "published", "#4c8df6", false);
    }
    if (k->activated_at > 0) {
        int64_t until = k->retired_at > 0 ? k->retired_at : now;
        bar(w, f, y, k->activated_at, until, "active", "#2da44e", false);
        if (k->state == SG_KS_ACTIVE && k->rotate_at > now)
            bar(w, f, y, now, k->rotate_at, "active", "#2da44e", true);
    }
    if (k->retired_at > 0) {
        int64_t until = k->destroyed_at > 0 ? k->destroyed_at : now;
        bar(w, f, y, k->retired_at, until, "retired", k->revoked ? "#cf222e" : "#8c959f", false);
        if (k->state == SG_KS_RETIRED && !k->revoked)
            bar(w, f, y, now, k->retired_at + in->retire_window, "retired", "#8c959f", true);
    }
    if (k->revoked && k->retired_at > f->start && k->retired_at < f->end)
        sg_tm_printf(w,
                     "<text x=\"%d\" y=\"%d\" fill=\"#cf222e\" style=\"fill:#cf222e\">✕ "
                     "revoked</text>",
                     xpos(f, k->retired_at) + 4, y + 18);
    sg_tm_puts(w, "</g>");
}

static void timeline(struct sg_wbuf *w, const struct sg_statuspage_in *in,
                     const struct sg_statuspage_tenant *t)
{
    int64_t past = 2 * in->rotation_period + in->retire_window + in->prepublish;
    if (past < 600)
        past = 600;
    if (past > 60 * 86400)
        past = 60 * 86400;
    struct frame f = {in->now - past, in->now + past / 3};
    /* The most recent MAX_ROWS keys shown (rows come ordered by id). */
    size_t total = 0;
    for (size_t i = 0; i < in->n_keys; i++)
        total += shown(&in->keys[i], t->issuer, &f) ? 1 : 0;
    const struct sg_tm_key *rows[MAX_ROWS];
    size_t n = 0, skip = total > MAX_ROWS ? total - MAX_ROWS : 0;
    for (size_t i = 0; i < in->n_keys && n < MAX_ROWS; i++) {
        if (!shown(&in->keys[i], t->issuer, &f))
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        rows[n++] = &in->keys[i];
    }
    int h = AXIS_H + (int)(n > 0 ? n : 1) * ROW_H + 8;
    sg_tm_printf(w,
                 "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                 "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"key timeline\">",
                 SVG_W, h, SVG_W, h);
    sg_tm_printf(w, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f6f8fa\"/>",
                 PLOT_L, AXIS_H - 6, PLOT_R - PLOT_L, h - AXIS_H);
    enum tfmt fmt = past > 2 * 86400 ? T_DAY_CLOCK : T_CLOCK;
    for (int i = 0; i <= 6; i++) {
        int64_t tt = f.start + (f.end - f.start) * i / 6;
        int x = xpos(&f, tt);
        sg_tm_printf(w,
                     "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d8dee4\"/>"
                     "<text class=\"tick\" x=\"%d\" y=\"14\" text-anchor=\"middle\">",
                     x, AXIS_H - 6, x, h, x);
        put_time(w, tt, fmt);
        sg_tm_puts(w, "</text>");
    }
    sg_tm_printf(w, "<text class=\"tick\" x=\"8\" y=\"14\">key (UTC)</text>");
    for (size_t i = 0; i < n; i++)
        key_row(w, in, &f, rows[i], AXIS_H + (int)i * ROW_H);
    if (n == 0)
        sg_tm_printf(w, "<text x=\"%d\" y=\"%d\">no keys</text>", PLOT_L + 8, AXIS_H + 18);
    int xn = xpos(&f, in->now);
    sg_tm_printf(w,
                 "<line class=\"now\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#cf222e\" "
                 "stroke-width=\"2\"/><text x=\"%d\" y=\"28\" text-anchor=\"middle\" "
                 "style=\"fill:#cf222e;font-weight:bold\">now</text></svg>",
                 xn, AXIS_H - 8, xn, h, xn);
}

static void tenant_section(struct sg_wbuf *w, const struct sg_statuspage_in *in,
                           const struct sg_statuspage_tenant *t)
{
    sg_tm_puts(w, "<section class=\"tenant\"><h2>tenant ");
    sg_html_escape(w, t->name);
    sg_tm_puts(w, "<span class=\"iss\">");
    sg_html_escape(w, t->issuer);
    sg_tm_printf(w, "</span></h2><p class=\"rate\"><b>%.0f</b> tokens issued", t->tokens_total);
    if (t->tokens_per_min >= 0)
        sg_tm_printf(w, " · <b>%.1f</b> per minute now", t->tokens_per_min);
    sg_tm_puts(w, "</p>");
    timeline(w, in, t);
    sg_tm_puts(w, "</section>");
}

static void invariants_section(struct sg_wbuf *w, const struct sg_statuspage_in *in)
{
    sg_tm_puts(w, "<section><h2>Invariants</h2><table class=\"invariants\"><tr><th></th><th>id</th>"
                  "<th>invariant</th><th>severity</th><th>state</th><th>last check</th>"
                  "<th>violations</th><th>last finding</th></tr>");
    for (unsigned i = 0; i < SG_INV_COUNT; i++) {
        const struct sg_invariant *v = &sg_invariants[i];
        const struct sg_inv_status *s = in->inv != NULL ? &in->inv[i] : NULL;
        enum sg_inv_state st = s != NULL ? s->state : SG_INV_UNKNOWN;
        const char *name = sg_inv_state_name(st);
        sg_tm_printf(w, "<tr class=\"inv %s\" id=\"inv-%s\" title=\"", name, v->id);
        sg_html_escape(w, v->statement);
        sg_tm_printf(w,
                     "\"><td><span class=\"dot\"></span></td><td><b>%s</b></td><td class=\"nw\">%s"
                     "</td><td>%s</td><td class=\"state\">%s</td><td class=\"nw\">",
                     v->id, v->name, sg_inv_severity_name(v->severity), name);
        if (s != NULL && s->last_check > 0)
            put_time(w, s->last_check, T_FULL);
        else
            sg_tm_puts(w, "never");
        sg_tm_printf(w, "</td><td>%" PRIu64 "</td><td class=\"msg\">",
                     s != NULL ? s->violations : 0);
        if (s != NULL)
            sg_html_escape(w, s->message);
        sg_tm_puts(w, "</td></tr>");
    }
    sg_tm_puts(w, "</table></section>");
}

static void flag(struct sg_wbuf *w, bool good, const char *yes, const char *no)
{
    sg_tm_printf(w, "<td class=\"%s\">%s</td>", good ? "on" : "off", good ? yes : no);
}

/* "Trust boundary: enforced" and each process's sandbox as it reports it. */
static void boundary_section(struct sg_wbuf *w, const struct sg_statuspage_in *in)
{
    const struct sg_tm_frontend *fe = in->frontend;
    if (fe == NULL)
        return;
    sg_tm_printf(w, "<section id=\"trust-boundary\"><h2 class=\"%s\">Trust boundary: ",
                 fe->boundary_enforced ? "on" : "off");
    sg_html_escape(w, sg_boundary_text(fe->boundary_enforced));
    sg_tm_puts(w, "</h2><table class=\"sandbox\"><tr><th>process</th><th>seccomp</th>"
                  "<th>no-new-privs</th><th>capabilities</th><th>dumpable</th></tr>");
    sg_tm_printf(w, "<tr id=\"sandbox-front\"><td class=\"nw\">front end (uid %ld)</td>",
                 fe->uid);
    if (fe->entered) {
        flag(w, fe->seccomp, "on", "off");
        flag(w, fe->no_new_privs, "on", "off");
        flag(w, fe->caps_dropped, "dropped", "held");
        flag(w, !fe->dumpable, "no", "yes");
    } else {
        sg_tm_puts(w, "<td colspan=\"4\">sandbox not entered yet</td>");
    }
    sg_tm_puts(w, "</tr>");
    for (size_t i = 0; i < in->n_signers; i++) {
        const struct sg_tm_signer *s = &in->signers[i];
        sg_tm_printf(w, "<tr id=\"sandbox-signer-%zu\"><td class=\"nw\">signer %zu</td>", i,
                     i);
        flag(w, s->seccomp, "on", "off");
        flag(w, s->no_new_privs, "on", "off");
        sg_tm_puts(w, "<td>-</td>"); /* the signers' STATUS does not report them */
        flag(w, !s->dumpable, "no", "yes");
        sg_tm_puts(w, "</tr>");
    }
    if (in->n_signers == 0)
        sg_tm_puts(w, "<tr><td colspan=\"5\">no signer STATUS</td></tr>");
    sg_tm_puts(w, "</table></section>");
}

signet_err sg_statuspage_render(const struct sg_statuspage_in *in, struct sg_wbuf *w)
{
    if (in == NULL || w == NULL)
        return SIGNET_ERR_INVALID_ARG;
    size_t violated = 0, unknown = 0;
    for (unsigned i = 0; i < SG_INV_COUNT; i++) {
        enum sg_inv_state st = in->inv != NULL ? in->inv[i].state : SG_INV_UNKNOWN;
        violated += st == SG_INV_VIOLATED;
        unknown += st == SG_INV_UNKNOWN;
    }
    sg_tm_puts(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                  "style-src 'unsafe-inline'\">"
                  "<meta name=\"viewport\" content=\"width=device-width\">"
                  "<title>signet status</title><style>");
    sg_tm_puts(w, style);
    sg_tm_puts(w, "</style></head><body><header><h1>signet status</h1><p class=\"sub\">");
    put_time(w, in->now, T_HEADER);
    sg_tm_puts(w, " · version ");
    sg_html_escape(w, in->version != NULL ? in->version : "?");
    sg_tm_puts(w, " · ");
    if (violated > 0)
        sg_tm_printf(w, "<span class=\"pill violated\" id=\"overall\">%zu invariant%s violated"
                        "</span>",
                     violated, violated == 1 ? "" : "s");
    else if (unknown > 0)
        sg_tm_printf(w, "<span class=\"pill unknown\" id=\"overall\">%zu not checked yet</span>",
                     unknown);
    else
        sg_tm_puts(w, "<span class=\"pill ok\" id=\"overall\">all invariants hold</span>");
    sg_tm_puts(w, "</p></header><main>");
    invariants_section(w, in);
    boundary_section(w, in);
    for (size_t i = 0; i < in->n_tenants; i++)
        tenant_section(w, in, &in->tenants[i]);
    sg_tm_puts(w, "<p class=\"legend\"><span><i class=\"sw\" style=\"background:#4c8df6\"></i>"
                  "PUBLISHED</span><span><i class=\"sw\" style=\"background:#2da44e\"></i>ACTIVE"
                  "</span><span><i class=\"sw\" style=\"background:#8c959f\"></i>RETIRED</span>"
                  "<span><i class=\"sw\" style=\"background:#cf222e\"></i>revoked</span><span>"
                  "<i class=\"sw\" style=\"background:#2da44e;opacity:.35;border:1px dashed "
                  "#57606a\"></i>scheduled</span><span><i class=\"sw\" style=\"background:"
                  "#cf222e;width:2px\"></i>now</span></p>");
    sg_tm_puts(w, "</main></body></html>\n");
    return w->err;
}
