/* Telemetry settings: the [alerts] and [invariants] sections of
 * signet.conf. The parser is one function with the config loader's
 * handle-key contract, so src/common/config.c hooks it in with two lines:
 *
 *     int r = sg_telemetry_cfg_set(&c->telemetry, section, key, v);
 *     if (r >= 0) return r;            (in handle_key, before "return -1")
 *
 * plus "alerts" and "invariants" in known_section() and a call to
 * sg_telemetry_cfg_defaults() in sg_config_defaults(). */
#ifndef SG_TMCONFIG_H
#define SG_TMCONFIG_H

#include <stdint.h>

#define SG_INV_COUNT 10 /* I1 .. I10 */

enum sg_on_critical {
    SG_ON_CRITICAL_ALERT = 0,  /* alert only (default) */
    SG_ON_CRITICAL_ROTATE = 1, /* also emergency-revoke the affected key */
};

#define SG_TM_INDEX_MAX_DEFAULT 10000000u /* [invariants] index_max */

struct sg_telemetry_cfg {
    /* [alerts] */
    char webhook_url[1024];       /* http(s) URL; empty = no webhook */
    int64_t webhook_timeout;      /* seconds per attempt (default 5) */
    unsigned webhook_retries;     /* attempts after the first (default 5) */
    int64_t webhook_backoff_ms;   /* first retry delay, doubled each time (default 1000) */
    int64_t webhook_backoff_max_ms; /* cap on one delay (default 60000) */
    unsigned queue_size;          /* pending alerts per sink; the oldest drop (default 256) */
    char command[1024];           /* absolute path [args...], run without a shell; "" = none */
    int64_t command_timeout;      /* seconds before the command is killed (default 10) */
    enum sg_on_critical on_critical;
    int64_t coalesce_window;      /* seconds (default 60; 0 = no coalescing) */
    /* [invariants] */
    int64_t interval;                /* default period of every check, seconds (default 60) */
    int64_t intervals[SG_INV_COUNT]; /* per check (i1 .. i10); 0 = interval */
    int64_t rotation_grace;          /* I2: ACTIVE may outlast rotation_period by prepublish + this (default 300) */
    int64_t report_lag;              /* I7: how late a relying party may report a token (default 3600) */
    unsigned index_max;              /* I7: most sign records indexed (on disk, ~125 bytes each) */
    int64_t audit_full_verify;       /* I5: seconds between whole-chain re-verifications (default 3600) */
};

void sg_telemetry_cfg_defaults(struct sg_telemetry_cfg *c);
/* One "key = value" of section "alerts" or "invariants": 1 handled, 0 an
 * invalid value, -1 not a telemetry key (another section or unknown key).
 * Keys:
 *   [alerts] webhook_url, webhook_timeout, webhook_retries, webhook_backoff,
 *            queue_size, command, command_timeout, on_critical (alert|rotate),
 *            coalesce_window
 *   [invariants] interval, i1 .. i9 (period of that check), rotation_grace,
 *            report_lag, index_max, audit_full_verify
 * Durations take s, m, h or d (webhook_backoff also "ms"). */
int sg_telemetry_cfg_set(struct sg_telemetry_cfg *c, const char *section, const char *key,
                         const char *value);
/* The period of check i (0-based): its iN when set, else the smaller of
 * interval and default_period (the table's period). */
int64_t sg_telemetry_interval(const struct sg_telemetry_cfg *c, unsigned i,
                              int64_t default_period);

#endif
