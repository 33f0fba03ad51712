/* libFuzzer target: the relying parties' token report parser (POST
 * /t/<tenant>/reports, telemetry/reports.h). Whatever it accepts must obey
 * the documented limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/reports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sg_report *r = NULL;
    size_t n = 0;
    signet_err err = sg_reports_parse(data, size, &r, &n);
    if (err != SIGNET_OK) {
        if (r != NULL || n != 0)
            abort(); /* nothing leaks out of a refusal */
        return 0;
    }
    if (size > SG_REPORTS_MAX_BODY || n > SG_REPORTS_MAX_ITEMS || (n > 0) != (r != NULL))
        abort();
    for (size_t i = 0; i < n; i++) {
        size_t li = strnlen(r[i].iss, sizeof r[i].iss), lk = strnlen(r[i].kid, sizeof r[i].kid),
               lj = strnlen(r[i].jti, sizeof r[i].jti);
        if (li == 0 || li == sizeof r[i].iss || lk == 0 || lk == sizeof r[i].kid || lj == 0 ||
            lj == sizeof r[i].jti)
            abort();
    }
    sg_reports_free(r, n);
    return 0;
}
