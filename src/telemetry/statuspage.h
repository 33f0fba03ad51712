/* The status page: one self-contained HTML document (inline CSS and SVG,
 * no script, no external asset; a Content-Security-Policy meta tag forbids
 * them) showing, per tenant, a timeline of every key's PUBLISHED, ACTIVE
 * and RETIRED spans with "now" marked and the projected future dashed, the
 * issuance rate, the invariants with their state and last check, and the
 * trust boundary with each process's sandbox.
 * Every string that comes from data (kids, issuer URLs, tenant names,
 * messages) is HTML-escaped. */
#ifndef SG_STATUSPAGE_H
#define SG_STATUSPAGE_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "telemetry/invariants.h"
#include "util/buf.h"

struct sg_statuspage_tenant {
    const char *name;
    const char *issuer;
    double tokens_total;   /* tokens issued (ok) since signetd started */
    double tokens_per_min; /* over the last monitor interval; < 0 = not known yet */
};

struct sg_statuspage_in {
    int64_t now;
    const char *version;
    const struct sg_statuspage_tenant *tenants;
    size_t n_tenants;
    const struct sg_tm_key *keys; /* every row, tombstones too */
    size_t n_keys;
    const struct sg_inv_status *inv; /* SG_INV_COUNT entries, or NULL */
    int64_t rotation_period;
    int64_t prepublish;    /* jwks_max_age + clock_skew */
    int64_t retire_window; /* max_token_lifetime + clock_skew */
    /* The trust boundary section: NULL = no front end reported (none is
     * drawn). signers: their STATUS sandbox flags, n_signers of them. */
    const struct sg_tm_frontend *frontend;
    const struct sg_tm_signer *signers;
    size_t n_signers;
};

SIGNET_WUR signet_err sg_statuspage_render(const struct sg_statuspage_in *in,
                                           struct sg_wbuf *out);
/* HTML-escapes s (& < > " ') into w. */
void sg_html_escape(struct sg_wbuf *w, const char *s);

#endif
