/* A small, thread-safe metrics registry rendered in the Prometheus text
 * exposition format (version 0.0.4): counters, gauges and histograms with
 * fixed buckets, each a family with a fixed list of label names.
 *
 *   struct sg_metrics *reg = NULL;
 *   sg_metrics_new(&reg);
 *   struct sg_metric *tok = sg_metrics_counter(reg, "signet_tokens_issued_total",
 *                                              "Tokens issued.", SG_LABELS("tenant", "result"));
 *   sg_metric_add(tok, SG_LABELS("default", "ok"), 1);
 *   sg_metrics_render(reg, &wbuf);
 *
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and label names
 * [a-zA-Z_][a-zA-Z0-9_]* (not starting with "__"); a bad name is a
 * programming error and registration returns NULL. Label values are any
 * bytes; they are escaped on output. Each family holds at most
 * SG_METRICS_MAX_SERIES label combinations: observations for more are
 * dropped and counted in signet_metrics_dropped_series_total, so an
 * attacker-influenced label can never grow memory without bound.
 * Every call is safe from any thread (one mutex per registry; an update is
 * a lookup among a family's series, so keep label sets small). A NULL
 * family is accepted and ignored by the update calls, so a caller need not
 * check registration at every use. */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "util/buf.h"

#define SG_METRICS_MAX_LABELS 4
#define SG_METRICS_MAX_SERIES 512
#define SG_METRICS_MAX_BUCKETS 24
#define SG_METRICS_MAX_VALUE_LEN 256 /* longer label values are cut */

/* A NULL-terminated list of label names or values, e.g. SG_LABELS("tenant"). */
#define SG_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define SG_NO_LABELS ((const char *const[]){NULL})

enum sg_metric_type { SG_METRIC_COUNTER, SG_METRIC_GAUGE, SG_METRIC_HISTOGRAM };

struct sg_metrics;
struct sg_metric;

SIGNET_WUR signet_err sg_metrics_new(struct sg_metrics **out);
void sg_metrics_free(struct sg_metrics **reg);

/* Registers a family (or returns the existing one of that name, if its type
 * and labels match; NULL otherwise). help is one line of text. */
struct sg_metric *sg_metrics_counter(struct sg_metrics *reg, const char *name, const char *help,
                                     const char *const *labels);
struct sg_metric *sg_metrics_gauge(struct sg_metrics *reg, const char *name, const char *help,
                                   const char *const *labels);
/* buckets: n strictly increasing finite upper bounds (+Inf is implicit). */
struct sg_metric *sg_metrics_histogram(struct sg_metrics *reg, const char *name, const char *help,
                                       const char *const *labels, const double *buckets,
                                       size_t n);

/* values: one per label name, in order (SG_NO_LABELS for none); a wrong
 * count is ignored. Counter: v >= 0 is added. Gauge: add may be negative. */
void sg_metric_add(struct sg_metric *m, const char *const *values, double v);
/* Gauge: sets the value. Counter: sets it too, for totals mirrored from
 * another process (e.g. the signer's HSM error count); keep them monotonic. */
void sg_metric_set(struct sg_metric *m, const char *const *values, double v);
/* Histogram: one observation. */
void sg_metric_observe(struct sg_metric *m, const char *const *values, double v);
/* Removes every series of the family (for gauges rebuilt from a snapshot,
 * such as the key states, so vanished keys disappear). */
void sg_metric_clear(struct sg_metric *m);
/* The current value of one series (a histogram's observation count); 0 when
 * absent. */
double sg_metric_get(struct sg_metric *m, const char *const *values);
/* Sum over every series whose label `label` equals value (all series when
 * label is NULL). */
double sg_metric_sum(struct sg_metric *m, const char *label, const char *value);

/* Appends the exposition text of every family, in registration order. */
SIGNET_WUR signet_err sg_metrics_render(struct sg_metrics *reg, struct sg_wbuf *out);
/* The families alone, without the registry's own
 * signet_metrics_dropped_series_total: to follow another registry's
 * rendering (signetd's monitor process, after the front end's). */
SIGNET_WUR signet_err sg_metrics_render_families(struct sg_metrics *reg, struct sg_wbuf *out);

/* Default buckets for latencies in seconds (0.5 ms .. 10 s). */
extern const double sg_metrics_latency_buckets[];
extern const size_t sg_metrics_latency_buckets_n;

#endif
