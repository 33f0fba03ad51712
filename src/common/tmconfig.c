#include "common/tmconfig.h"

#include <stdlib.h>
#include <string.h>

#include "util/strconv.h"

void sg_telemetry_cfg_defaults(struct sg_telemetry_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->webhook_timeout = 5;
    c->webhook_retries = 5;
    c->webhook_backoff_ms = 1000;
    c->webhook_backoff_max_ms = 60000;
    c->queue_size = 256;
    c->command_timeout = 10;
    c->on_critical = SG_ON_CRITICAL_ALERT;
    c->coalesce_window = 60;
    c->interval = 60;
    c->rotation_grace = 300;
    c->report_lag = 3600;
    c->index_max = SG_TM_INDEX_MAX_DEFAULT;
    c->audit_full_verify = 3600;
}

/* An integer with an optional unit: ms (when allowed), s, m, h, d; the
 * result is in seconds, or milliseconds when ms_out, and at most max. */
static int parse_duration(const char *v, int ms_out, int64_t max, int64_t *out)
{
    return sg_parse_duration(v, ms_out ? SG_DUR_MILLIS : SG_DUR_SECONDS, max, out) == SIGNET_OK
               ? 0
               : -1;
}

static int parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
    return sg_parse_uint(v, lo, hi, out) == SIGNET_OK ? 0 : -1;
}

static int valid_url(const char *v)
{
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
        return 0;
    for (const char *p = v; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static int set_alerts(struct sg_telemetry_cfg *c, const char *key, const char *v)
{
    if (strcmp(key, "webhook_url") == 0)
        return (v[0] == '\0' || valid_url(v)) &&
               sg_copy_str(c->webhook_url, sizeof c->webhook_url, v) == 0;
    if (strcmp(key, "webhook_timeout") == 0)
        return parse_duration(v, 0, 300, &c->webhook_timeout) == 0 && c->webhook_timeout > 0;
    if (strcmp(key, "webhook_retries") == 0)
        return parse_uint(v, 0, 20, &c->webhook_retries) == 0;
    if (strcmp(key, "webhook_backoff") == 0)
        return parse_duration(v, 1, 3600000, &c->webhook_backoff_ms) == 0 &&
               c->webhook_backoff_ms > 0;
    if (strcmp(key, "queue_size") == 0)
        return parse_uint(v, 1, 65536, &c->queue_size) == 0;
    if (strcmp(key, "command") == 0)
        return (v[0] == '\0' || v[0] == '/') && sg_copy_str(c->command, sizeof c->command, v) == 0;
    if (strcmp(key, "command_timeout") == 0)
        return parse_duration(v, 0, 3600, &c->command_timeout) == 0 && c->command_timeout > 0;
    if (strcmp(key, "on_critical") == 0) {
        if (strcmp(v, "alert") == 0)
            c->on_critical = SG_ON_CRITICAL_ALERT;
        else if (strcmp(v, "rotate") == 0)
            c->on_critical = SG_ON_CRITICAL_ROTATE;
        else
            return 0;
        return 1;
    }
    if (strcmp(key, "coalesce_window") == 0)
        return parse_duration(v, 0, 86400, &c->coalesce_window) == 0;
    return -1;
}

static int set_invariants(struct sg_telemetry_cfg *c, const char *key, const char *v)
{
    if (strcmp(key, "interval") == 0)
        return parse_duration(v, 0, 86400, &c->interval) == 0 && c->interval > 0;
    if ((key[0] == 'i' || key[0] == 'I') && key[1] >= '1' && key[1] <= '9') {
        /* i1 .. i<SG_INV_COUNT>, no leading zero */
        unsigned n = (unsigned)(key[1] - '0');
        if (key[2] >= '0' && key[2] <= '9' && key[3] == '\0')
            n = n * 10u + (unsigned)(key[2] - '0');
        else if (key[2] != '\0')
            return -1;
        if (n > SG_INV_COUNT)
            return -1;
        int64_t *slot = &c->intervals[n - 1];
        return parse_duration(v, 0, 86400, slot) == 0 && *slot > 0;
    }
    if (strcmp(key, "rotation_grace") == 0)
        return parse_duration(v, 0, 30 * 86400, &c->rotation_grace) == 0;
    if (strcmp(key, "report_lag") == 0)
        return parse_duration(v, 0, 7 * 86400, &c->report_lag) == 0;
    if (strcmp(key, "index_max") == 0)
        return parse_uint(v, 1000, 50000000, &c->index_max) == 0;
    if (strcmp(key, "audit_full_verify") == 0)
        return parse_duration(v, 0, 7 * 86400, &c->audit_full_verify) == 0 &&
               c->audit_full_verify > 0;
    return -1;
}

int sg_telemetry_cfg_set(struct sg_telemetry_cfg *c, const char *section, const char *key,
                         const char *value)
{
    if (c == NULL || section == NULL || key == NULL || value == NULL)
        return -1;
    if (strcmp(section, "alerts") == 0)
        return set_alerts(c, key, value);
    if (strcmp(section, "invariants") == 0)
        return set_invariants(c, key, value);
    return -1;
}

int64_t sg_telemetry_interval(const struct sg_telemetry_cfg *c, unsigned i,
                              int64_t default_period)
{
    if (c == NULL)
        return default_period;
    if (i < SG_INV_COUNT && c->intervals[i] > 0)
        return c->intervals[i];
    int64_t upper = c->interval > 0 ? c->interval : 60;
    return default_period > 0 && default_period < upper ? default_period : upper;
}
