/* Append-only, hash-chained audit log.
 *
 * One record per line: "<hash> <body>\n", where body is a compact JSON object
 * holding at least "seq" (1, 2, ...), "time" (NumericDate), "type" and
 * "prev" (the previous record's hash; 64 zeros for the first), and hash is the
 * lower-case hex SHA-256 of the body bytes; the grammar lives in one codec,
 * src/audit/record.h, which this writer and every reader use. A record is
 * durable once sg_audit_commit() returns SIGNET_OK.
 *
 * Records hold key ids, issuers, jti and token hashes; never key bytes, PINs
 * or whole tokens (STYLE.md, Secrets).
 *
 * Several writers, each with its own handle (the daemon's signer and every
 * CLI command's, all on one state directory), may append to one log at once.
 * A handle takes an exclusive flock(2) on the log file itself only inside
 * sg_audit_commit() (and while sg_audit_open() recovers the tail), and waits
 * for it; records staged by a handle are re-chained at commit if others
 * appended since. A handle is not shared between threads or across fork(2):
 * the lock belongs to its open file description. */
#ifndef SG_AUDIT_H
#define SG_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/record.h"
#include "signet/error.h"
#include "util/thumbprint.h"

/* Longest wait for the writers' lock (a commit, an open): past it the
 * commit fails (SIGNET_ERR_AUDIT) and the request is answered at once.
 * A commit holds it for one write and one fdatasync; 5 s leaves room for
 * a slow, busy disk, and bounds what a hung or immutable log costs. */
#define SG_AUDIT_LOCK_WAIT_MS 5000

/* Most bytes staged between two commits (about a thousand full records). */
#define SG_AUDIT_MAX_STAGED (16u * 1024u * 1024u)

struct sg_audit;

/* Opens (creating 0600 if absent) the log for appending; under the lock,
 * reads the last record to continue the chain. A torn last line (a writer
 * died mid-write, no newline) is cut off; any other damage is
 * SIGNET_ERR_AUDIT_BROKEN. Only the tail is read: the last record's own hash
 * is checked, the rest of the chain is not (that is sg_audit_verify_file's
 * job). Symlinks and non-regular files, and files writable by group or
 * others, are refused (SIGNET_ERR_PERMISSION); other failures SIGNET_ERR_IO.
 * Other handles on the same log, in this process or others, are fine. */
SIGNET_WUR signet_err sg_audit_open(const char *path, struct sg_audit **out);
/* The signer's open (issue 11). expect_records: the key store has keys, so
 * a missing or empty log is not a new one. Besides that, <log>.head holds
 * the last checkpoint committed (seq, end offset, hash): a log that does
 * not hold it was deleted, replaced or cut. Either is invariant I5
 * violated: the log is never created afresh then, and the open fails with
 * SIGNET_ERR_AUDIT_BROKEN, or with keep_broken returns a broken handle:
 * it refuses every record (SIGNET_ERR_AUDIT_BROKEN), says why
 * (sg_audit_health), looks for the log again at most once a second (a
 * restored log that holds the head is taken back), and is cleared by
 * sg_audit_reset. */
struct sg_audit_opts {
    bool expect_records;
    bool keep_broken;
};
SIGNET_WUR signet_err sg_audit_open_ex(const char *path, const struct sg_audit_opts *opts,
                                       struct sg_audit **out);
/* Drops any staged records (they were never durable) and closes. */
void sg_audit_close(struct sg_audit **a);

/* Stages a record of the given type; fields (borrowed, may be NULL) holds
 * the other members (kid, iss, jti, token_sha256, ...). Not durable yet.
 * fields must be an object without "seq", "time", "type" or "prev"
 * (SIGNET_ERR_INVALID_ARG); a record longer than SG_AUDIT_MAX_RECORD (its
 * seq counted at 19 digits, so that a commit can always renumber it), or
 * staging beyond SG_AUDIT_MAX_STAGED, is SIGNET_ERR_TOO_LARGE. On failure
 * nothing is staged. */
SIGNET_WUR signet_err sg_audit_append(struct sg_audit *a, int64_t now, const char *type,
                                      const json_t *fields);
/* Under the lock, writes every staged record and fdatasyncs. If other
 * handles appended since this one last committed, their last record's own
 * hash is checked and the staged records are renumbered and re-chained after
 * it (a torn line a dead writer left is cut first, as at open). On failure
 * (SIGNET_ERR_AUDIT) the file is cut back to the length it had when the
 * commit took the lock, the staged records are dropped, and the caller must
 * not release anything those records cover. The handle stays usable: a later
 * commit works again once the disk does. If even the cut-back failed, the
 * handle keeps the lock (no one may chain onto unacknowledged bytes; other
 * writers wait) and its next commit retries the cut first. A log shorter
 * than this handle last saw it, or whose new last record does not check out
 * or does not move the seq forward, is SIGNET_ERR_AUDIT_BROKEN: nothing is
 * written or repaired, staged records are dropped. Only the tail is read, so
 * a log swapped for a longer, self-consistent one goes unnoticed here: that
 * is for sg_audit_verify_file. */
SIGNET_WUR signet_err sg_audit_commit(struct sg_audit *a);
/* Anchoring (issue 11, src/audit/checkpoint.h). sign signs a checkpoint
 * message with the audit key (ES256, r||s into sig). From then on a commit
 * stages a "checkpoint" record over the head it leaves when the last
 * checkpoint of this handle is interval_ms old or older (so at most one
 * HSM signature a second, whatever the rate), and <log>.head is rewritten
 * after it. A failed signature leaves the records unanchored, not lost. */
typedef signet_err (*sg_audit_sign_fn)(void *ctx, const uint8_t *msg, size_t len,
                                       uint8_t sig[static 64]);
void sg_audit_set_anchor(struct sg_audit *a, sg_audit_sign_fn sign, void *ctx,
                         const char key[static SG_THUMBPRINT_LEN + 1], unsigned interval_ms);
/* Commits a checkpoint now if records this handle committed (or staged)
 * are not anchored yet; at close and when sg_audit_checkpoint_wait_ms says
 * so. Without an anchor: SIGNET_OK, nothing done. */
SIGNET_WUR signet_err sg_audit_checkpoint(struct sg_audit *a);
/* The timer's checkpoint: as sg_audit_checkpoint, but it never waits for
 * the writers' lock: taken by someone, it returns SIGNET_ERR_BUSY at once
 * and is due again 200 ms later (a signer stuck in lock waits would answer
 * nothing, not even STATUS). */
SIGNET_WUR signet_err sg_audit_checkpoint_try(struct sg_audit *a);
/* Milliseconds until sg_audit_checkpoint_try is due (0: now), -1 if
 * nothing is waiting for one. */
int64_t sg_audit_checkpoint_wait_ms(const struct sg_audit *a);
uint64_t sg_audit_checkpoints(const struct sg_audit *a);
/* SIGNET_OK, or why records cannot be made durable now: the log is broken
 * (SIGNET_ERR_AUDIT_BROKEN: deleted, replaced, missing; checked here too,
 * so an idle signer notices) or the last commit failed (its error: the
 * lock wait timed out, the disk refused) and the lock is still not free.
 * why gets a sentence. */
signet_err sg_audit_health(struct sg_audit *a, char *why, size_t why_len);
/* `signet audit reset`: only on a broken handle (else SIGNET_ERR_EXISTS).
 * Whatever is at the path is renamed <log>.replaced-<now> (its name goes to
 * moved), and a new chain starts whose first record, "audit_reset", holds
 * reason, the violation and the previous recorded head; it is
 * checkpointed at once and becomes the recorded head. */
SIGNET_WUR signet_err sg_audit_reset(struct sg_audit *a, int64_t now, const char *reason,
                                     char *moved, size_t moved_len);

/* Drops staged records without writing them: all of them, whoever staged
 * them. To undo only your own, use a mark. */
void sg_audit_discard(struct sg_audit *a);

/* A point in the staged records, so that one part of the signer can undo
 * what it staged (a failed key transition) without dropping records others
 * staged before it in the same batch (signatures waiting for the group
 * commit). sg_audit_rollback() drops the records staged after the mark; if a
 * commit or discard happened since the mark, those records were already
 * written or dropped and it does nothing. Marks are positions among this
 * handle's staged records; the seqs they hold may change at commit (see
 * sg_audit_commit), never before the mark is spent. */
struct sg_audit_mark {
    uint64_t epoch;
    size_t len;
    size_t count;
    uint64_t seq;
    char prev[SG_AUDIT_HASH_HEX + 1];
};
void sg_audit_mark(const struct sg_audit *a, struct sg_audit_mark *m);
void sg_audit_rollback(struct sg_audit *a, const struct sg_audit_mark *m);

/* The seq of the last durable record this handle knows of: from open or its
 * own last commit (0 for an empty log). Others may have appended since. */
uint64_t sg_audit_last_seq(const struct sg_audit *a);
/* How many records are staged and not yet committed. */
size_t sg_audit_staged(const struct sg_audit *a);
/* How many commits reached fdatasync successfully since open (for tests and
 * metrics: a group commit of any size counts once). */
uint64_t sg_audit_syncs(const struct sg_audit *a);
/* How many times staged records were dropped unwritten (sg_audit_discard or
 * a failed commit) since open. A batch that staged records and sees this
 * change before its own commit returns has lost some of them: even if that
 * commit succeeds, it must withhold what those records covered. */
uint64_t sg_audit_drops(const struct sg_audit *a);

/* Checks the whole chain. On SIGNET_ERR_AUDIT_BROKEN, *first_bad is the
 * 1-based number of the first record that fails and why says how
 * ("record 17: hash mismatch"); *records is then the number of good records
 * before it. A missing file is SIGNET_ERR_NOT_FOUND, a directory
 * SIGNET_ERR_INVALID_ARG; an empty file holds 0 records. The file is
 * streamed, never loaded whole, and read without the writers' lock: a writer
 * appending at the same moment may make the last line look torn: check
 * again. */
SIGNET_WUR signet_err sg_audit_verify_file(const char *path, uint64_t *records,
                                           uint64_t *first_bad, char *why, size_t why_len);
/* The same over an open stream (read to EOF, not closed); the fuzz target
 * uses it with fmemopen(3). */
SIGNET_WUR signet_err sg_audit_verify_stream(FILE *f, uint64_t *records, uint64_t *first_bad,
                                             char *why, size_t why_len);
/* sg_audit_verify_file, calling fn for every record that checks out and
 * chains (rec is valid during the call). A non-OK return from fn ends the
 * verification there as a broken record, with fn's reason. */
typedef signet_err (*sg_audit_rec_fn)(void *user, const struct sg_audit_rec *rec, char *why,
                                      size_t why_len);
SIGNET_WUR signet_err sg_audit_verify_file_each(const char *path, sg_audit_rec_fn fn,
                                                void *user, uint64_t *records,
                                                uint64_t *first_bad, char *why, size_t why_len);
/* Verifies the whole chain and counts the records whose "type" equals type
 * (e.g. the number of signature records). A broken chain is
 * SIGNET_ERR_AUDIT_BROKEN and *count is not set. */
SIGNET_WUR signet_err sg_audit_count_type(const char *path, const char *type, uint64_t *count);

#if SIGNET_TESTING
/* Test hook: while on, sg_audit_commit writes at most half of the staged
 * bytes and then fails as if the disk returned EIO, so tests can check the
 * cut-back. Compiled only in a testing build. */
void sg_audit_test_fail_writes(struct sg_audit *a, bool fail);
#endif

#endif
