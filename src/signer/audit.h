/* Append-only, hash-chained audit log.
 *
 * One record per line: "<hash> <body>\n", where body is a compact JSON object
 * holding at least "seq" (1, 2, ...), "time" (NumericDate), "type" and
 * "prev" (the previous record's hash; 64 zeros for the first), and hash is the
 * lower-case hex SHA-256 of the body bytes. A record is durable once
 * sg_audit_commit() returns SIGNET_OK. */
#ifndef SG_AUDIT_H
#define SG_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "signet/error.h"

struct sg_audit;

/* Opens (creating 0600 if absent) the log for appending; reads the last
 * record to continue the chain. A torn last line (crash mid-write, no
 * newline) is cut off; any other damage is SIGNET_ERR_AUDIT_BROKEN. */
SIGNET_WUR signet_err sg_audit_open(const char *path, struct sg_audit **out);
void sg_audit_close(struct sg_audit **a);

/* Stages a record of the given type; fields (borrowed, may be NULL) holds
 * the other members (kid, iss, jti, token_sha256, ...). Not durable yet. */
SIGNET_WUR signet_err sg_audit_append(struct sg_audit *a, int64_t now, const char *type,
                                      const json_t *fields);
/* Writes every staged record and fdatasyncs. On failure the file is cut back
 * to its last durable length, the staged records are dropped, and the error
 * is returned: the caller must not release anything those records cover. */
SIGNET_WUR signet_err sg_audit_commit(struct sg_audit *a);
/* Drops staged records without writing them. */
void sg_audit_discard(struct sg_audit *a);

uint64_t sg_audit_last_seq(const struct sg_audit *a);

/* Checks the whole chain. On SIGNET_ERR_AUDIT_BROKEN, *first_bad is the
 * 1-based number of the first record that fails and why says how. */
SIGNET_WUR signet_err sg_audit_verify_file(const char *path, uint64_t *records,
                                           uint64_t *first_bad, char *why, size_t why_len);

#endif
