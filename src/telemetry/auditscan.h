/* Incremental reader of the audit log for the invariant monitor.
 *
 * It verifies the hash chain with the record codec sg_audit_verify_file
 * uses (src/audit/record.h: each line's own SHA-256, the required members,
 * seq continuity, prev link), so both give the same verdict, but
 * remembers where it stopped: each poll only reads the records appended
 * since, after checking that the last record it verified is still there,
 * byte for byte. A log that shrank or changed under the verified prefix is
 * read again from the start (a writer's failed commit may legitimately cut
 * back records we saw); if that full pass fails, or finds fewer records
 * than were verified before, the chain is broken.
 *
 * From the "sign" records it keeps a bounded index token_sha256 -> (kid,
 * iss, jti, time, exp) of the tokens that may still be valid: records
 * older than the retention (max token lifetime + clock skew + report lag)
 * are evicted, and at most index_max are kept (the oldest go first and the
 * index then says which tokens it can no longer vouch for).
 *
 * The index is a private temporary SQLite database (a file SQLite creates
 * and unlinks at once in its temporary directory: SQLITE_TMPDIR, TMPDIR,
 * /var/tmp or /tmp), not heap: memory stays bounded whatever the record
 * count, at a 1 MiB page cache plus SQLite's per-connection overhead
 * (under 2 MiB in all). The file takes about 125 bytes of disk per record
 * (10 000 000 records: 1.2 GB), kept in the kernel's page cache while
 * memory allows. The inserts of one poll are one transaction, committed
 * before the poll returns. A SQLite failure does not stop the chain
 * verification: the index is dropped, lookups answer SG_TM_UNCOVERED, and
 * a full re-read rebuilds it (a minute later, backing off to an hour while
 * it keeps failing).
 *
 * Not thread-safe: the monitor serialises access. */
#ifndef SG_AUDITSCAN_H
#define SG_AUDITSCAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "signet/error.h"

#define SG_TM_SHA256_LEN 32

/* One "sign" record as the monitor sees it while reading. */
struct sg_tm_sign {
    uint64_t seq;
    int64_t time; /* record time: when the signer signed */
    const char *kid;
    const char *iss;
    const char *jti;
    uint8_t token_sha256[SG_TM_SHA256_LEN];
    int64_t iat;
    int64_t exp;
};

/* Called for every verified record, in log order. sign is non-NULL for a
 * well-formed "sign" record. */
typedef void (*sg_tm_record_fn)(void *user, uint64_t seq, int64_t time, const char *type,
                                const json_t *body, const struct sg_tm_sign *sign);

/* What the index remembers of one signature. */
struct sg_tm_indexed {
    uint64_t kid_h, iss_h, jti_h; /* 64-bit digests of kid, iss, jti */
    int64_t time;
    int64_t exp;
};

enum sg_tm_lookup {
    SG_TM_FOUND = 0,     /* signet signed this token */
    SG_TM_NOT_FOUND = 1, /* not signed by signet (within the covered window) */
    SG_TM_UNCOVERED = 2, /* the index cannot tell: log broken, or records evicted by the cap */
};

struct sg_tm_audit;

/* retention: seconds a sign record stays indexed after its record time
 * (the longest token lifetime + clock skew + lag); lag: how long after a
 * token's expiry a relying party may still report it. */
SIGNET_WUR signet_err sg_tm_audit_new(const char *path, int64_t retention, int64_t lag,
                                      size_t index_max, struct sg_tm_audit **out);
void sg_tm_audit_free(struct sg_tm_audit **a);

/* Reads what was appended since the last poll (everything, the first
 * time). SIGNET_OK when the chain verified so far is whole (a missing log
 * is SIGNET_ERR_NOT_FOUND, unreadable SIGNET_ERR_IO); SIGNET_ERR_AUDIT_BROKEN
 * once a record fails, which stays until the log is whole again. now drives
 * the index eviction. fn (may be NULL) sees each new record. */
SIGNET_WUR signet_err sg_tm_audit_poll(struct sg_tm_audit *a, int64_t now, sg_tm_record_fn fn,
                                       void *user);

/* The next poll re-reads and re-verifies the whole log (the incremental
 * polls only check the last verified record; the monitor calls this
 * periodically so an edit deep in the history is caught too). */
void sg_tm_audit_force_full(struct sg_tm_audit *a);

/* The chain state after the last poll. */
uint64_t sg_tm_audit_records(const struct sg_tm_audit *a);      /* verified records */
uint64_t sg_tm_audit_sign_records(const struct sg_tm_audit *a); /* of which "sign" */
uint64_t sg_tm_audit_rescans(const struct sg_tm_audit *a);      /* full re-reads */
/* Why the chain is broken ("record 17: hash mismatch"), or "" when whole. */
const char *sg_tm_audit_why(const struct sg_tm_audit *a);

/* Index lookup by token hash. On SG_TM_FOUND, *out is the record. */
enum sg_tm_lookup sg_tm_audit_lookup(const struct sg_tm_audit *a,
                                     const uint8_t sha[static SG_TM_SHA256_LEN], int64_t now,
                                     struct sg_tm_indexed *out);
size_t sg_tm_audit_indexed(const struct sg_tm_audit *a);  /* records held */
uint64_t sg_tm_audit_evicted_by_cap(const struct sg_tm_audit *a);

/* The 64-bit digest the index keeps of a string (first 8 bytes of SHA-256). */
uint64_t sg_tm_digest64(const char *s, size_t len);

#endif
