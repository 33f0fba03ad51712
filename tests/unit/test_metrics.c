/* Metrics registry: the exposition text is parsed back strictly (our own
 * parser of the Prometheus text format 0.0.4, and promtool when installed),
 * hostile label values are escaped, histograms are cumulative, the series
 * cap holds, and concurrent updates add up. */
#include "testutil.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "telemetry/metrics.h"
#include "telemetry/monitor.h"
#include "util/log.h"

/* ---- a strict exposition parser -------------------------------------------------- */

#define MAX_FAM 64
#define MAX_SAMPLES 4096

struct fam {
    char name[128];
    char type[16];
    int has_help, has_type, samples;
};

struct sample {
    char name[128];
    char labels[512]; /* canonical "k=v," without le */
    char le[32];
    double value;
};

struct parsed {
    struct fam fam[MAX_FAM];
    size_t n_fam;
    struct sample s[MAX_SAMPLES];
    size_t n;
};

static int is_name(const char *s, size_t n, int colon)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = isalpha((unsigned char)c) || c == '_' || (colon && c == ':') ||
                 (i > 0 && isdigit((unsigned char)c));
        if (!ok)
            return 0;
    }
    return 1;
}

static struct fam *find_fam(struct parsed *p, const char *name)
{
    for (size_t i = 0; i < p->n_fam; i++)
        if (strcmp(p->fam[i].name, name) == 0)
            return &p->fam[i];
    return NULL;
}

/* The family a sample name belongs to (histogram suffixes stripped). */
static struct fam *fam_of_sample(struct parsed *p, const char *name)
{
    struct fam *f = find_fam(p, name);
    if (f != NULL && strcmp(f->type, "histogram") != 0)
        return f;
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(name), k = strlen(sfx[i]);
        if (n > k && strcmp(name + n - k, sfx[i]) == 0) {
            char base[128];
            snprintf(base, sizeof base, "%.*s", (int)(n - k), name);
            f = find_fam(p, base);
            if (f != NULL && strcmp(f->type, "histogram") == 0)
                return f;
        }
    }
    return NULL;
}

static int parse_value(const char *s, double *out)
{
    if (strcmp(s, "+Inf") == 0) {
        *out = INFINITY;
        return 0;
    }
    if (strcmp(s, "-Inf") == 0) {
        *out = -INFINITY;
        return 0;
    }
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    char *end = NULL;
    *out = strtod(s, &end);
    return end != s && *end == '\0' ? 0 : -1;
}

/* Returns NULL when the text is valid, else a description of the error. */
static const char *parse_exposition(const char *text, struct parsed *p)
{
    static char why[256];
    memset(p, 0, sizeof *p);
    const char *line = text;
    int lineno = 0;
    struct fam *current = NULL;
    if (text[0] == '\0')
        return "empty";
    while (*line != '\0') {
        lineno++;
        const char *nl = strchr(line, '\n');
        if (nl == NULL)
            return "last line lacks a newline";
        char buf[2048];
        size_t len = (size_t)(nl - line);
        if (len >= sizeof buf)
            return "line too long";
        memcpy(buf, line, len);
        buf[len] = '\0';
        line = nl + 1;
        if (len == 0)
            return "empty line";
        if (buf[0] == '#') {
            char kind[8], name[128];
            const char *rest;
            if (strncmp(buf, "# HELP ", 7) == 0)
                snprintf(kind, sizeof kind, "HELP"), rest = buf + 7;
            else if (strncmp(buf, "# TYPE ", 7) == 0)
                snprintf(kind, sizeof kind, "TYPE"), rest = buf + 7;
            else
                continue; /* a comment */
            const char *sp = strchr(rest, ' ');
            if (sp == NULL || (size_t)(sp - rest) >= sizeof name)
                return "HELP/TYPE without text";
            snprintf(name, sizeof name, "%.*s", (int)(sp - rest), rest);
            if (!is_name(name, strlen(name), 1))
                return "bad metric name";
            struct fam *f = find_fam(p, name);
            if (f == NULL) {
                if (p->n_fam == MAX_FAM)
                    return "too many families";
                f = &p->fam[p->n_fam++];
                snprintf(f->name, sizeof f->name, "%s", name);
            } else if (f != current || f->samples > 0) {
                snprintf(why, sizeof why, "line %d: %s of %s not grouped", lineno, kind, name);
                return why;
            }
            current = f;
            if (kind[0] == 'H') {
                if (f->has_help++)
                    return "HELP twice";
                for (const char *c = sp + 1; *c != '\0'; c++)
                    if (*c == '\\' && c[1] != '\\' && c[1] != 'n')
                        return "bad escape in HELP";
                    else if (*c == '\\')
                        c++;
            } else {
                if (f->has_type++)
                    return "TYPE twice";
                const char *t = sp + 1;
                if (strcmp(t, "counter") != 0 && strcmp(t, "gauge") != 0 &&
                    strcmp(t, "histogram") != 0 && strcmp(t, "summary") != 0 &&
                    strcmp(t, "untyped") != 0)
                    return "unknown TYPE";
                snprintf(f->type, sizeof f->type, "%s", t);
            }
            continue;
        }
        /* A sample: name [ { labels } ] SP value */
        if (p->n == MAX_SAMPLES)
            return "too many samples";
        struct sample *s = &p->s[p->n];
        memset(s, 0, sizeof *s);
        size_t i = 0;
        while (i < len && buf[i] != '{' && buf[i] != ' ')
            i++;
        if (i >= sizeof s->name || !is_name(buf, i, 1))
            return "bad sample name";
        memcpy(s->name, buf, i);
        if (buf[i] == '{') {
            i++;
            char seen[SG_METRICS_MAX_LABELS + 1][64];
            int n_seen = 0;
            while (buf[i] != '}') {
                size_t k0 = i;
                while (buf[i] != '=' && buf[i] != '\0')
                    i++;
                if (buf[i] != '=' || !is_name(buf + k0, i - k0, 0) || i - k0 >= 64)
                    return "bad label name";
                char lname[64];
                snprintf(lname, sizeof lname, "%.*s", (int)(i - k0), buf + k0);
                for (int j = 0; j < n_seen; j++)
                    if (strcmp(seen[j], lname) == 0)
                        return "duplicate label";
                if (n_seen <= SG_METRICS_MAX_LABELS)
                    snprintf(seen[n_seen++], 64, "%s", lname);
                i++;
                if (buf[i] != '"')
                    return "label value not quoted";
                i++;
                char val[512];
                size_t vn = 0;
                while (buf[i] != '"') {
                    if (buf[i] == '\0')
                        return "unterminated label value";
                    if (buf[i] == '\\') {
                        i++;
                        if (buf[i] != '\\' && buf[i] != '"' && buf[i] != 'n')
                            return "bad escape in label value";
                    }
                    if (vn + 1 < sizeof val)
                        val[vn++] = buf[i];
                    i++;
                }
                val[vn] = '\0';
                i++;
                if (strcmp(lname, "le") == 0)
                    snprintf(s->le, sizeof s->le, "%.31s", val);
                else {
                    size_t used = strlen(s->labels);
                    snprintf(s->labels + used, sizeof s->labels - used, "%s=%s,", lname, val);
                }
                if (buf[i] == ',')
                    i++;
                else if (buf[i] != '}')
                    return "labels not separated";
            }
            i++;
        }
        if (buf[i] != ' ')
            return "no space before value";
        if (parse_value(buf + i + 1, &s->value) != 0) {
            snprintf(why, sizeof why, "line %d: bad value '%s'", lineno, buf + i + 1);
            return why;
        }
        struct fam *f = fam_of_sample(p, s->name);
        if (f == NULL || !f->has_type || f != current) {
            snprintf(why, sizeof why, "line %d: sample %s outside its family", lineno, s->name);
            return why;
        }
        if (strcmp(f->type, "counter") == 0 && (s->value < 0 || isnan(s->value)))
            return "negative counter";
        for (size_t j = 0; j < p->n; j++)
            if (strcmp(p->s[j].name, s->name) == 0 && strcmp(p->s[j].labels, s->labels) == 0 &&
                strcmp(p->s[j].le, s->le) == 0)
                return "duplicate series";
        f->samples++;
        p->n++;
    }
    /* Histograms: buckets cumulative, le ascending, +Inf == _count. */
    for (size_t i = 0; i < p->n; i++) {
        const struct sample *b = &p->s[i];
        size_t nl = strlen(b->name);
        if (nl < 7 || strcmp(b->name + nl - 7, "_bucket") != 0)
            continue;
        if (b->le[0] == '\0')
            return "bucket without le";
        if (i + 1 < p->n && strcmp(p->s[i + 1].name, b->name) == 0 &&
            strcmp(p->s[i + 1].labels, b->labels) == 0) {
            double a, c;
            if (parse_value(b->le, &a) != 0 || parse_value(p->s[i + 1].le, &c) != 0 || !(c > a))
                return "le not ascending";
            if (p->s[i + 1].value < b->value)
                return "buckets not cumulative";
        } else {
            if (strcmp(b->le, "+Inf") != 0)
                return "last bucket is not +Inf";
            char cname[128];
            snprintf(cname, sizeof cname, "%.*s_count", (int)(nl - 7), b->name);
            int found = 0;
            for (size_t j = 0; j < p->n; j++)
                if (strcmp(p->s[j].name, cname) == 0 && strcmp(p->s[j].labels, b->labels) == 0) {
                    found = 1;
                    if (p->s[j].value != b->value)
                        return "+Inf bucket differs from _count";
                }
            if (!found)
                return "histogram without _count";
        }
    }
    for (size_t i = 0; i < p->n_fam; i++)
        if (!p->fam[i].has_help || !p->fam[i].has_type)
            return "family without HELP or TYPE";
    return NULL;
}

static const struct sample *find_sample(const struct parsed *p, const char *name,
                                        const char *labels, const char *le)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->s[i].name, name) == 0 && strcmp(p->s[i].labels, labels) == 0 &&
            strcmp(p->s[i].le, le != NULL ? le : "") == 0)
            return &p->s[i];
    return NULL;
}

static char *render(struct sg_metrics *reg)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, 1 << 24);
    assert_int_equal(sg_metrics_render(reg, &w), SIGNET_OK);
    char *text = malloc(w.len + 1);
    assert_non_null(text);
    memcpy(text, w.data, w.len);
    text[w.len] = '\0';
    sg_wbuf_free(&w);
    return text;
}

/* promtool check metrics, when installed; prints what it says. */
static int promtool_check(const char *text)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        fprintf(stderr, "promtool not installed: SKIPPED the promtool half of this check\n");
        return 0;
    }
    char path[] = "/tmp/signet-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s 2>&1", path);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, pp);
    out[n] = '\0';
    int rc = pclose(pp);
    unlink(path);
    if (rc != 0 || n > 0)
        fprintf(stderr, "promtool says (rc=%d):\n%s\n", rc, out);
    return rc == 0 && n == 0 ? 0 : -1;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_exposition_parses_strictly(void **state)
{
    (void)state;
    struct sg_metrics *reg = NULL;
    assert_int_equal(sg_metrics_new(&reg), SIGNET_OK);
    struct sg_tm_std_metrics std;
    assert_int_equal(sg_tm_std_metrics_register(reg, &std), SIGNET_OK);
    struct sg_metric *g = sg_metrics_gauge(reg, "signet_test_level", "A gauge with \\ and\nnewline.",
                                           SG_LABELS("issuer", "state"));
    assert_non_null(g);
    sg_metric_add(std.tokens_issued, SG_LABELS("default", "ok"), 3);
    sg_metric_add(std.tokens_issued, SG_LABELS("default", "SIGNET_ERR_POLICY_LIFETIME"), 1);
    sg_metric_add(std.tokens_issued, SG_LABELS("default", "ok"), 2);
    sg_metric_add(std.tokens_issued, SG_LABELS("default", "ok"), -5); /* ignored */
    sg_metric_add(std.http_requests, SG_LABELS("/t/default/token", "200"), 7);
    const double obs[] = {0.0001, 0.0005, 0.003, 0.003, 0.2, 4, 11, 100};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        sg_metric_observe(std.sign_latency, SG_NO_LABELS, obs[i]);
    /* Hostile label values: quotes, backslashes, newlines, braces. */
    sg_metric_set(g, SG_LABELS("https://evil\"}\nx{a=\"b\\", "ACTIVE"), 1.5);
    sg_metric_set(g, SG_LABELS("http://127.0.0.1:8080/t/default", "RETIRED"), -2);
    sg_metric_set(g, SG_LABELS("big", "x"), 1e300);
    char *text = render(reg);
    struct parsed *p = calloc(1, sizeof *p);
    assert_non_null(p);
    const char *why = parse_exposition(text, p);
    if (why != NULL)
        fprintf(stderr, "%s\n---\n%s", why, text);
    assert_null(why);
    const struct sample *s = find_sample(p, "signet_tokens_issued_total", "tenant=default,result=ok,", NULL);
    assert_non_null(s);
    assert_true(s->value == 5);
    s = find_sample(p, "signet_test_level", "issuer=https://evil\"}nx{a=\"b\\,state=ACTIVE,", NULL);
    assert_non_null(s);
    assert_true(s->value == 1.5);
    s = find_sample(p, "signet_sign_duration_seconds_bucket", "", "0.005");
    assert_non_null(s);
    assert_true(s->value == 4);
    s = find_sample(p, "signet_sign_duration_seconds_bucket", "", "+Inf");
    assert_non_null(s);
    assert_true(s->value == 8);
    s = find_sample(p, "signet_sign_duration_seconds_count", "", NULL);
    assert_non_null(s);
    assert_true(s->value == 8);
    assert_int_equal(promtool_check(text), 0);
    free(p);
    free(text);
    sg_metrics_free(&reg);
}

static void test_parser_rejects_bad_text(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "x 1",
        "# TYPE x counter\nx 1\n",                       /* no HELP */
        "# HELP x h\n# TYPE x counter\nx -1\n",          /* negative counter */
        "# HELP x h\n# TYPE x counter\nx{a=\"1} 1\n",    /* unterminated */
        "# HELP x h\n# TYPE x counter\nx{a=\"\\q\"} 1\n", /* bad escape */
        "# HELP x h\n# TYPE x counter\nx 1\nx 2\n",      /* duplicate */
        "# HELP x h\n# TYPE x gauge\nx one\n",
        ("# HELP x h\n# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 1\n"
         "x_count 1\nx_sum 1\n"),
        "# HELP x h\n# TYPE x counter\ny 1\n",
    };
    struct parsed *p = calloc(1, sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_non_null(parse_exposition(bad[i], p));
    free(p);
}

static void test_registration_rules(void **state)
{
    (void)state;
    struct sg_metrics *reg = NULL;
    assert_int_equal(sg_metrics_new(&reg), SIGNET_OK);
    assert_null(sg_metrics_counter(reg, "9bad", "h", SG_NO_LABELS));
    assert_null(sg_metrics_counter(reg, "bad-name", "h", SG_NO_LABELS));
    assert_null(sg_metrics_counter(reg, "ok_total", "h", SG_LABELS("__reserved")));
    assert_null(sg_metrics_counter(reg, "ok_total", "h", SG_LABELS("a", "a")));
    assert_null(sg_metrics_histogram(reg, "h_seconds", "h", SG_LABELS("le"),
                                     sg_metrics_latency_buckets, 3));
    const double unsorted[] = {1, 0.5};
    assert_null(sg_metrics_histogram(reg, "h_seconds", "h", SG_NO_LABELS, unsorted, 2));
    struct sg_metric *a = sg_metrics_counter(reg, "ok_total", "h", SG_LABELS("a"));
    assert_non_null(a);
    assert_ptr_equal(sg_metrics_counter(reg, "ok_total", "h", SG_LABELS("a")), a);
    assert_null(sg_metrics_gauge(reg, "ok_total", "h", SG_LABELS("a")));
    /* A wrong number of values is ignored; NULL families are harmless. */
    sg_metric_add(a, SG_LABELS("x", "y"), 1);
    sg_metric_add(NULL, SG_LABELS("x"), 1);
    assert_true(sg_metric_get(a, SG_LABELS("x")) == 0);
    /* The series cap holds and is counted. */
    char v[32];
    for (int i = 0; i < SG_METRICS_MAX_SERIES + 50; i++) {
        snprintf(v, sizeof v, "v%d", i);
        sg_metric_add(a, SG_LABELS(v), 1);
    }
    assert_true(sg_metric_sum(a, NULL, NULL) == SG_METRICS_MAX_SERIES);
    char *text = render(reg);
    assert_non_null(strstr(text, "signet_metrics_dropped_series_total 50\n"));
    free(text);
    sg_metric_clear(a);
    assert_true(sg_metric_sum(a, NULL, NULL) == 0);
    sg_metrics_free(&reg);
}

struct worker {
    struct sg_metric *c, *h;
    int id;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    char t[16];
    snprintf(t, sizeof t, "t%d", w->id % 2);
    for (int i = 0; i < 20000; i++) {
        sg_metric_add(w->c, SG_LABELS(t), 1);
        sg_metric_observe(w->h, SG_NO_LABELS, 0.001 * (i % 7));
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    struct sg_metrics *reg = NULL;
    assert_int_equal(sg_metrics_new(&reg), SIGNET_OK);
    struct worker w[4];
    pthread_t th[4];
    struct sg_metric *c = sg_metrics_counter(reg, "c_total", "c", SG_LABELS("t"));
    struct sg_metric *h = sg_metrics_histogram(reg, "h_seconds", "h", SG_NO_LABELS,
                                               sg_metrics_latency_buckets,
                                               sg_metrics_latency_buckets_n);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){c, h, i};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        char *text = render(reg); /* rendering while others write */
        free(text);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(sg_metric_sum(c, NULL, NULL) == 80000);
    assert_true(sg_metric_get(h, SG_NO_LABELS) == 80000);
    char *text = render(reg);
    struct parsed *p = calloc(1, sizeof *p);
    assert_non_null(p);
    assert_null(parse_exposition(text, p));
    free(p);
    free(text);
    sg_metrics_free(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition_parses_strictly),
        cmocka_unit_test(test_parser_rejects_bad_text),
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_concurrent_updates),
    };
    sg_log_init("test_metrics", SG_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
