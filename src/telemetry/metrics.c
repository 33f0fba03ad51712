#include "telemetry/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/tmutil.h"

struct series {
    char *values[SG_METRICS_MAX_LABELS];
    double value; /* counter, gauge; histogram: sum */
    uint64_t count;
    uint64_t buckets[SG_METRICS_MAX_BUCKETS]; /* non-cumulative per bucket; +Inf = count */
};

struct sg_metric {
    struct sg_metrics *reg;
    enum sg_metric_type type;
    char *name;
    char *help;
    char *labels[SG_METRICS_MAX_LABELS];
    size_t n_labels;
    double bounds[SG_METRICS_MAX_BUCKETS];
    size_t n_bounds;
    struct series *series;
    size_t n_series;
    size_t cap_series;
    struct sg_metric *next;
};

struct sg_metrics {
    pthread_mutex_t mu;
    struct sg_metric *first;
    struct sg_metric *last;
    uint64_t dropped_series;
};

const double sg_metrics_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                             5,      10};
const size_t sg_metrics_latency_buckets_n =
    sizeof sg_metrics_latency_buckets / sizeof sg_metrics_latency_buckets[0];

signet_err sg_metrics_new(struct sg_metrics **out)
{
    struct sg_metrics *r = calloc(1, sizeof *r);
    if (r == NULL)
        return SIGNET_ERR_NOMEM;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return SIGNET_ERR_INTERNAL;
    }
    *out = r;
    return SIGNET_OK;
}

static void series_clear(struct series *s, size_t n_labels)
{
    for (size_t i = 0; i < n_labels; i++)
        free(s->values[i]);
}

static void family_free(struct sg_metric *m)
{
    for (size_t i = 0; i < m->n_series; i++)
        series_clear(&m->series[i], m->n_labels);
    free(m->series);
    for (size_t i = 0; i < m->n_labels; i++)
        free(m->labels[i]);
    free(m->name);
    free(m->help);
    free(m);
}

void sg_metrics_free(struct sg_metrics **reg)
{
    if (reg == NULL || *reg == NULL)
        return;
    struct sg_metric *m = (*reg)->first;
    while (m != NULL) {
        struct sg_metric *next = m->next;
        family_free(m);
        m = next;
    }
    pthread_mutex_destroy(&(*reg)->mu);
    free(*reg);
    *reg = NULL;
}

static int name_char(char c, int first, int colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':'))
        return 1;
    return !first && c >= '0' && c <= '9';
}

static int valid_name(const char *s, int colon)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 200)
        return 0;
    for (size_t i = 0; s[i] != '\0'; i++)
        if (!name_char(s[i], i == 0, colon))
            return 0;
    return colon || strncmp(s, "__", 2) != 0;
}

static size_t count_list(const char *const *l)
{
    size_t n = 0;
    while (l != NULL && l[n] != NULL)
        n++;
    return n;
}

static int same_family(const struct sg_metric *m, enum sg_metric_type type,
                       const char *const *labels)
{
    size_t n = count_list(labels);
    if (m->type != type || m->n_labels != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(m->labels[i], labels[i]) != 0)
            return 0;
    return 1;
}

static struct sg_metric *reg_family(struct sg_metrics *reg, enum sg_metric_type type,
                                    const char *name, const char *help, const char *const *labels,
                                    const double *buckets, size_t nb)
{
    size_t nl = count_list(labels);
    if (reg == NULL || !valid_name(name, 1) || help == NULL || nl > SG_METRICS_MAX_LABELS ||
        nb > SG_METRICS_MAX_BUCKETS)
        return NULL;
    for (size_t i = 0; i < nl; i++) {
        if (!valid_name(labels[i], 0) || (type == SG_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0))
            return NULL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return NULL;
    }
    for (size_t i = 0; i < nb; i++)
        if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
            return NULL;
    (void)pthread_mutex_lock(&reg->mu);
    struct sg_metric *found = NULL;
    for (struct sg_metric *m = reg->first; m != NULL; m = m->next)
        if (strcmp(m->name, name) == 0) {
            found = same_family(m, type, labels) ? m : NULL;
            (void)pthread_mutex_unlock(&reg->mu);
            return found;
        }
    struct sg_metric *m = calloc(1, sizeof *m);
    int ok = m != NULL;
    if (ok) {
        m->reg = reg;
        m->type = type;
        m->name = strdup(name);
        m->help = strdup(help);
        ok = m->name != NULL && m->help != NULL;
        for (size_t i = 0; ok && i < nl; i++) {
            m->labels[i] = strdup(labels[i]);
            ok = m->labels[i] != NULL;
            m->n_labels = i + 1;
        }
        if (nb > 0)
            memcpy(m->bounds, buckets, nb * sizeof buckets[0]);
        m->n_bounds = nb;
    }
    if (!ok) {
        if (m != NULL)
            family_free(m);
        (void)pthread_mutex_unlock(&reg->mu);
        return NULL;
    }
    if (reg->last != NULL)
        reg->last->next = m;
    else
        reg->first = m;
    reg->last = m;
    (void)pthread_mutex_unlock(&reg->mu);
    return m;
}

struct sg_metric *sg_metrics_counter(struct sg_metrics *reg, const char *name, const char *help,
                                     const char *const *labels)
{
    return reg_family(reg, SG_METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct sg_metric *sg_metrics_gauge(struct sg_metrics *reg, const char *name, const char *help,
                                   const char *const *labels)
{
    return reg_family(reg, SG_METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct sg_metric *sg_metrics_histogram(struct sg_metrics *reg, const char *name, const char *help,
                                       const char *const *labels, const double *buckets,
                                       size_t n)
{
    return reg_family(reg, SG_METRIC_HISTOGRAM, name, help, labels, buckets, n);
}

static int series_matches(const struct sg_metric *m, const struct series *s,
                          const char *const *values)
{
    for (size_t i = 0; i < m->n_labels; i++) {
        size_t n = strnlen(values[i], SG_METRICS_MAX_VALUE_LEN);
        if (strncmp(s->values[i], values[i], n) != 0 || s->values[i][n] != '\0')
            return 0;
    }
    return 1;
}

/* Under the lock: the series for values, created if absent; NULL if the
 * family is full (counted) or memory ran out. */
static struct series *find_series(struct sg_metric *m, const char *const *values, int create)
{
    if (count_list(values) != m->n_labels)
        return NULL;
    for (size_t i = 0; i < m->n_series; i++)
        if (series_matches(m, &m->series[i], values))
            return &m->series[i];
    if (!create)
        return NULL;
    if (m->n_series == SG_METRICS_MAX_SERIES) {
        m->reg->dropped_series++;
        return NULL;
    }
    if (m->n_series == m->cap_series) {
        size_t cap = m->cap_series == 0 ? 4 : 2 * m->cap_series;
        struct series *grown = realloc(m->series, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        m->series = grown;
        m->cap_series = cap;
    }
    struct series *s = &m->series[m->n_series];
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < m->n_labels; i++) {
        s->values[i] = strndup(values[i], SG_METRICS_MAX_VALUE_LEN);
        if (s->values[i] == NULL) {
            series_clear(s, i);
            return NULL;
        }
    }
    m->n_series++;
    return s;
}

void sg_metric_add(struct sg_metric *m, const char *const *values, double v)
{
    if (m == NULL || m->type == SG_METRIC_HISTOGRAM || !isfinite(v) ||
        (m->type == SG_METRIC_COUNTER && v < 0))
        return;
    (void)pthread_mutex_lock(&m->reg->mu);
    struct series *s = find_series(m, values, 1);
    if (s != NULL)
        s->value += v;
    (void)pthread_mutex_unlock(&m->reg->mu);
}

void sg_metric_set(struct sg_metric *m, const char *const *values, double v)
{
    if (m == NULL || m->type == SG_METRIC_HISTOGRAM || isnan(v))
        return;
    (void)pthread_mutex_lock(&m->reg->mu);
    struct series *s = find_series(m, values, 1);
    if (s != NULL)
        s->value = v;
    (void)pthread_mutex_unlock(&m->reg->mu);
}

void sg_metric_observe(struct sg_metric *m, const char *const *values, double v)
{
    if (m == NULL || m->type != SG_METRIC_HISTOGRAM || isnan(v))
        return;
    (void)pthread_mutex_lock(&m->reg->mu);
    struct series *s = find_series(m, values, 1);
    if (s != NULL) {
        size_t b = 0;
        while (b < m->n_bounds && v > m->bounds[b])
            b++;
        if (b < m->n_bounds)
            s->buckets[b]++;
        s->count++;
        s->value += v;
    }
    (void)pthread_mutex_unlock(&m->reg->mu);
}

void sg_metric_clear(struct sg_metric *m)
{
    if (m == NULL)
        return;
    (void)pthread_mutex_lock(&m->reg->mu);
    for (size_t i = 0; i < m->n_series; i++)
        series_clear(&m->series[i], m->n_labels);
    m->n_series = 0;
    (void)pthread_mutex_unlock(&m->reg->mu);
}

double sg_metric_get(struct sg_metric *m, const char *const *values)
{
    if (m == NULL)
        return 0;
    (void)pthread_mutex_lock(&m->reg->mu);
    const struct series *s = find_series(m, values, 0);
    double v = s == NULL ? 0 : m->type == SG_METRIC_HISTOGRAM ? (double)s->count : s->value;
    (void)pthread_mutex_unlock(&m->reg->mu);
    return v;
}

double sg_metric_sum(struct sg_metric *m, const char *label, const char *value)
{
    if (m == NULL)
        return 0;
    (void)pthread_mutex_lock(&m->reg->mu);
    size_t li = m->n_labels;
    for (size_t i = 0; label != NULL && i < m->n_labels; i++)
        if (strcmp(m->labels[i], label) == 0)
            li = i;
    double sum = 0;
    if (label == NULL || li < m->n_labels)
        for (size_t i = 0; i < m->n_series; i++) {
            const struct series *s = &m->series[i];
            if (label != NULL && (value == NULL || strcmp(s->values[li], value) != 0))
                continue;
            sum += m->type == SG_METRIC_HISTOGRAM ? (double)s->count : s->value;
        }
    (void)pthread_mutex_unlock(&m->reg->mu);
    return sum;
}

/* ---- exposition ---------------------------------------------------------- */

/* HELP text escapes backslash and newline; label values also the quote. */
static void put_escaped(struct sg_wbuf *w, const char *s, int quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            sg_wbuf_put_bytes(w, "\\\\", 2);
        else if (*s == '\n')
            sg_wbuf_put_bytes(w, "\\n", 2);
        else if (quote && *s == '"')
            sg_wbuf_put_bytes(w, "\\\"", 2);
        else
            sg_wbuf_put_bytes(w, s, 1);
    }
}

/* The shortest of %.15g and %.17g that reads back as v. */
static void format_double(double v, char *buf, size_t cap)
{
    (void)snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        (void)snprintf(buf, cap, "%.17g", v);
}

static void put_number(struct sg_wbuf *w, double v)
{
    char tmp[64];
    if (isinf(v))
        sg_tm_puts(w, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        sg_tm_printf(w, "%.0f", v);
    else {
        format_double(v, tmp, sizeof tmp);
        sg_tm_puts(w, tmp);
    }
}

static void put_labels(struct sg_wbuf *w, const struct sg_metric *m, const struct series *s,
                       const char *le)
{
    if (m->n_labels == 0 && le == NULL)
        return;
    sg_wbuf_put_bytes(w, "{", 1);
    for (size_t i = 0; i < m->n_labels; i++) {
        if (i > 0)
            sg_wbuf_put_bytes(w, ",", 1);
        sg_tm_printf(w, "%s=\"", m->labels[i]);
        put_escaped(w, s->values[i], 1);
        sg_wbuf_put_bytes(w, "\"", 1);
    }
    if (le != NULL)
        sg_tm_printf(w, "%sle=\"%s\"", m->n_labels > 0 ? "," : "", le);
    sg_wbuf_put_bytes(w, "}", 1);
}

static void put_sample(struct sg_wbuf *w, const struct sg_metric *m, const char *suffix,
                       const struct series *s, const char *le, double v)
{
    sg_tm_printf(w, "%s%s", m->name, suffix);
    put_labels(w, m, s, le);
    sg_wbuf_put_bytes(w, " ", 1);
    put_number(w, v);
    sg_wbuf_put_bytes(w, "\n", 1);
}

static void render_family(struct sg_wbuf *w, const struct sg_metric *m)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    sg_tm_printf(w, "# HELP %s ", m->name);
    put_escaped(w, m->help, 0);
    sg_tm_printf(w, "\n# TYPE %s %s\n", m->name, types[m->type]);
    for (size_t i = 0; i < m->n_series; i++) {
        const struct series *s = &m->series[i];
        if (m->type != SG_METRIC_HISTOGRAM) {
            put_sample(w, m, "", s, NULL, s->value);
            continue;
        }
        uint64_t cum = 0;
        for (size_t b = 0; b < m->n_bounds; b++) {
            char le[64];
            format_double(m->bounds[b], le, sizeof le);
            cum += s->buckets[b];
            put_sample(w, m, "_bucket", s, le, (double)cum);
        }
        put_sample(w, m, "_bucket", s, "+Inf", (double)s->count);
        put_sample(w, m, "_sum", s, NULL, s->value);
        put_sample(w, m, "_count", s, NULL, (double)s->count);
    }
}

static signet_err render(struct sg_metrics *reg, struct sg_wbuf *out, int trailer)
{
    if (reg == NULL || out == NULL)
        return SIGNET_ERR_INVALID_ARG;
    (void)pthread_mutex_lock(&reg->mu);
    for (const struct sg_metric *m = reg->first; m != NULL; m = m->next)
        render_family(out, m);
    if (trailer)
        sg_tm_printf(out,
            "# HELP signet_metrics_dropped_series_total Observations dropped because a metric "
            "family reached its series limit.\n# TYPE signet_metrics_dropped_series_total "
            "counter\nsignet_metrics_dropped_series_total %llu\n",
            (unsigned long long)reg->dropped_series);
    (void)pthread_mutex_unlock(&reg->mu);
    return out->err;
}

signet_err sg_metrics_render(struct sg_metrics *reg, struct sg_wbuf *out)
{
    return render(reg, out, 1);
}

signet_err sg_metrics_render_families(struct sg_metrics *reg, struct sg_wbuf *out)
{
    return render(reg, out, 0);
}
