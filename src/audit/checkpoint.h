/* Signed checkpoints of the audit chain (issue 11): a CT-style signed tree
 * head. A plain SHA-256 chain can be rewritten by anyone who can write the
 * file (change records, recompute every hash); a checkpoint binds the head
 * of the chain to a key the writer of the file cannot have: a
 * non-extractable P-256 key in the HSM (CKA_LABEL "signet-audit"), whose
 * public half `signet init` (any signer start) records as a JWK next to the
 * log (audit-key.jwk).
 *
 * A checkpoint covers the record seq and everything before it: the signed
 * message is the text
 *     "signet-audit-checkpoint/1 <seq> <head> <time>"
 * (head: the 64 lower-case hex digits of record seq's hash; time: the
 * NumericDate the checkpoint was made), signed ES256 (JOSE r||s). In the log
 * it is a record of type "checkpoint" that follows record seq directly
 * (its "prev" is head), with members "cp_seq", "cp_head", "key" (the RFC
 * 7638 thumbprint of the audit key) and "sig" (base64url); its own "time"
 * is the time signed. Shipped off the host it is one line of JSON:
 *     {"seq":N,"head":"<hex>","time":T,"key":"<thumbprint>","sig":"<b64url>"} */
#ifndef SG_AUDIT_CHECKPOINT_H
#define SG_AUDIT_CHECKPOINT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/record.h"
#include "signet/error.h"
#include "util/thumbprint.h"

#define SG_AUDIT_CP_TYPE "checkpoint"
#define SG_AUDIT_RESET_TYPE "audit_reset"
/* The audit key in the HSM: its CKA_ID (16 bytes) and CKA_LABEL. */
#define SG_AUDIT_KEY_ID "signet-audit-key"
#define SG_AUDIT_KEY_LABEL "signet-audit"
/* The public half, in the directory of the audit log. */
#define SG_AUDIT_KEY_FILE "audit-key.jwk"
#define SG_AUDIT_CP_MSG_MAX 160
#define SG_AUDIT_CP_SIG_LEN 64 /* ES256, r||s */

/* The message a checkpoint signs; returns its length (< SG_AUDIT_CP_MSG_MAX). */
size_t sg_audit_cp_message(uint64_t seq, const char head[static SG_AUDIT_HASH_HEX + 1],
                           int64_t time, char out[static SG_AUDIT_CP_MSG_MAX]);

/* One checkpoint, as read from a record or a shipped line. */
struct sg_audit_cp {
    uint64_t seq;
    char head[SG_AUDIT_HASH_HEX + 1];
    int64_t time;
    char key[SG_THUMBPRINT_LEN + 1];
    uint8_t sig[SG_AUDIT_CP_SIG_LEN];
};

/* Reads a "checkpoint" record (rec: checked by sg_audit_record_check):
 * cp_seq must be rec's seq - 1 and cp_head its prev. SIGNET_ERR_AUDIT_BROKEN
 * with why on anything else. */
SIGNET_WUR signet_err sg_audit_cp_from_record(const struct sg_audit_rec *rec,
                                              struct sg_audit_cp *cp, char *why, size_t why_len);
/* Reads a shipped line (sg_audit_cp_to_line); SIGNET_ERR_MALFORMED on junk. */
SIGNET_WUR signet_err sg_audit_cp_from_line(const char *line, size_t len, struct sg_audit_cp *cp);
/* The shipped form of a checkpoint: one line of JSON, no newline (free()). */
char *sg_audit_cp_to_line(const struct sg_audit_cp *cp);

#endif
