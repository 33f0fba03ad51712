/* The audit record codec: the one place that knows what an audit log line
 * is. The writer (src/signer/audit.c) formats with it, and every reader (the
 * full verifier in the same file, the monitor's incremental scanner in
 * src/telemetry/auditscan.c) checks with it, so there is one grammar to
 * review and to fuzz (architecture review 6.2).
 *
 * One record per line: "<hash> <body>\n". body is a compact JSON object
 * holding at least
 *   "seq"   integer >= 1: 1 for the first record, then one more each line;
 *   "time"  integer (NumericDate of the event);
 *   "type"  non-empty string (the parser refuses "\u0000": no NUL inside);
 *   "prev"  the previous record's hash (64 zeros for the first);
 * and any other members the caller gave. hash is the lower-case hex SHA-256
 * of the body bytes exactly as they are in the line. The writer dumps the
 * body with sorted keys and no whitespace; readers accept any key order. */
#ifndef SG_AUDIT_RECORD_H
#define SG_AUDIT_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "util/buf.h"

#define SG_AUDIT_HASH_HEX 64
/* Longest record line, hash, space, body and newline included. */
#define SG_AUDIT_MAX_RECORD 16384
/* "<hash> " before the body, "\n" after it. */
#define SG_AUDIT_LINE_OVERHEAD (SG_AUDIT_HASH_HEX + 2)
#define SG_AUDIT_MAX_BODY (SG_AUDIT_MAX_RECORD - SG_AUDIT_LINE_OVERHEAD)
/* Decimal digits of the largest seq (INT64_MAX). */
#define SG_AUDIT_SEQ_MAX_DIGITS 19

/* One checked record. type points into body and lives as long as it. */
struct sg_audit_rec {
    uint64_t seq;
    int64_t time;
    const char *type;
    char prev[SG_AUDIT_HASH_HEX + 1];
    char hash[SG_AUDIT_HASH_HEX + 1];
    json_t *body; /* the parsed body, owned */
};

/* Checks one line (without its newline): length, framing, its own hash,
 * then the body through sg_json_parse (no NUL, nesting capped, duplicate
 * members refused) and every required member. On SIGNET_OK rec holds the
 * record (release it with sg_audit_record_clear). On
 * SIGNET_ERR_AUDIT_BROKEN rec is empty and why says how ("hash mismatch").
 * Nothing about the chain is checked here: see sg_audit_record_chain. */
SIGNET_WUR signet_err sg_audit_record_check(const uint8_t *line, size_t len,
                                            struct sg_audit_rec *rec, char *why,
                                            size_t why_len) __attribute__((nonnull(3)));

/* Does rec follow prev in the chain: seq one more, "prev" prev's hash?
 * prev NULL: rec must be the first record (seq 1, prev 64 zeros). Returns
 * SIGNET_OK or SIGNET_ERR_AUDIT_BROKEN with the reason in why
 * ("seq 4 where 3 belongs", "prev does not chain"). */
SIGNET_WUR signet_err sg_audit_record_chain(const struct sg_audit_rec *prev,
                                            const struct sg_audit_rec *rec, char *why,
                                            size_t why_len) __attribute__((nonnull(2)));

/* Drops the parsed body (and type with it); seq, time, prev and hash stay,
 * which is all sg_audit_record_chain needs of a previous record. */
void sg_audit_record_clear(struct sg_audit_rec *rec);

/* Appends the line of a new record to w: fields (borrowed, may be NULL; an
 * object without "seq", "time", "type" or "prev") plus those four, dumped
 * canonically, then checked back with sg_audit_record_check, so the writer
 * never writes what a reader refuses. hash gets the record's hash.
 * SIGNET_ERR_INVALID_ARG: seq 0, bad type, prev or fields, or a body that
 * does not check back (invalid UTF-8 in a string, too deep); SIGNET_ERR_TOO_LARGE: seq
 * beyond INT64_MAX, a body that would not fit SG_AUDIT_MAX_RECORD with its
 * seq at SG_AUDIT_SEQ_MAX_DIGITS digits (so that it can always be
 * renumbered), or no room left in w. On failure w is as it was. */
SIGNET_WUR signet_err sg_audit_record_format(struct sg_wbuf *w, uint64_t seq, int64_t time,
                                             const char *type,
                                             const char prev[static SG_AUDIT_HASH_HEX + 1],
                                             const json_t *fields,
                                             char hash[static SG_AUDIT_HASH_HEX + 1]);

/* The hash of a body: lower-case hex SHA-256 of its bytes. For the writer's
 * re-chaining, which splices a new seq and prev into a staged body. */
void sg_audit_record_hash(const uint8_t *body, size_t len, char out[static SG_AUDIT_HASH_HEX + 1]);

/* Exactly 64 lower-case hex digits (the form of every hash in the log,
 * "prev" and the "sign" records' "token_sha256" alike). */
bool sg_audit_record_is_hash(const char *s, size_t len);

#endif
