/* Fuzz target for the monitor's incremental audit scanner
 * (src/telemetry/auditscan.c), checked against the full verifier
 * (src/signer/audit.c). Both read records through one codec
 * (src/audit/record.c); this target makes sure the two readers around it
 * agree.
 *
 * The input is written as a log file, then read three ways: by
 * sg_audit_verify_file, by a fresh scanner in one poll, and by a fresh
 * scanner in two polls (a prefix first, the rest appended before the second
 * poll, as the monitor sees a log grow). Properties (abort on violation):
 *   - an intact chain is intact for all three, with the same record count,
 *     the same number of "sign" records (sg_audit_count_type), and one
 *     callback per record, in seq order;
 *   - a chain the verifier finds broken at record k is broken for both
 *     scanners at record k with the same reason ("record k: ..."), except a
 *     torn last line (no newline): the scanner leaves that one unread, as a
 *     record still being written, and reports k - 1 good records. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "signer/audit.h"
#include "telemetry/auditscan.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define NOW 1700000000
#define TORN "torn/missing newline"

static char fuzz_dir[256];
static char fuzz_log[300];

static void cleanup(void)
{
    (void)unlink(fuzz_log);
    (void)rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Damaged inputs make the library log errors: expected, and noisy. */
    sg_log_init("fuzz_audit_scan", (enum sg_log_level)(SG_LOG_ERROR + 1));
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(fuzz_dir, sizeof fuzz_dir, "%s/signet-fuzz-scan-XXXXXX",
                     tmp != NULL ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof fuzz_dir || mkdtemp(fuzz_dir) == NULL)
        abort();
    n = snprintf(fuzz_log, sizeof fuzz_log, "%s/audit.log", fuzz_dir);
    if (n < 0 || (size_t)n >= sizeof fuzz_log)
        abort();
    (void)atexit(cleanup);
    return 0;
}

static void write_bytes(const uint8_t *data, size_t size, int flags)
{
    int fd = open(fuzz_log, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
    if (fd < 0)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            abort();
        done += (size_t)w;
    }
    if (close(fd) != 0)
        abort();
}

struct seen {
    uint64_t calls;
    uint64_t signs;
};

static void on_record(void *user, uint64_t seq, int64_t time, const char *type,
                      const json_t *body, const struct sg_tm_sign *sign)
{
    struct seen *s = user;
    (void)time;
    if (seq == 1) /* a full re-read starts over */
        s->calls = s->signs = 0;
    if (seq != ++s->calls || type == NULL || type[0] == '\0' || !json_is_object(body) ||
        (sign != NULL && (strcmp(type, "sign") != 0 || sign->seq != seq)))
        abort();
    s->signs += strcmp(type, "sign") == 0 ? 1 : 0;
}

/* The scanner's verdict after reading data, in one poll or split at cut. */
struct scan {
    signet_err err;
    uint64_t records, sign_records;
    struct seen seen;
    char why[160];
};

static void scan(const uint8_t *data, size_t size, size_t cut, struct scan *out)
{
    struct sg_tm_audit *a = NULL;
    memset(out, 0, sizeof *out);
    write_bytes(data, cut, O_TRUNC);
    if (sg_tm_audit_new(fuzz_log, 86400, 600, 1000, &a) != SIGNET_OK)
        abort();
    out->err = sg_tm_audit_poll(a, NOW, on_record, &out->seen);
    if (cut < size) {
        write_bytes(data + cut, size - cut, O_APPEND);
        out->err = sg_tm_audit_poll(a, NOW, on_record, &out->seen);
    }
    out->records = sg_tm_audit_records(a);
    out->sign_records = sg_tm_audit_sign_records(a);
    (void)snprintf(out->why, sizeof out->why, "%s", sg_tm_audit_why(a));
    sg_tm_audit_free(&a);
}

static void agree(const struct scan *s, signet_err verr, uint64_t records, uint64_t first_bad,
                  const char *why, uint64_t signs)
{
    bool torn = verr == SIGNET_ERR_AUDIT_BROKEN && strstr(why, TORN) != NULL;
    if (verr == SIGNET_OK || torn) {
        uint64_t good = verr == SIGNET_OK ? records : first_bad - 1;
        if (s->err != SIGNET_OK || s->records != good || s->why[0] != '\0')
            abort();
        if (verr == SIGNET_OK && s->sign_records != signs)
            abort();
    } else if (verr == SIGNET_ERR_AUDIT_BROKEN) {
        if (s->err != SIGNET_ERR_AUDIT_BROKEN || s->records != first_bad - 1 ||
            strcmp(s->why, why) != 0)
            abort();
    } else {
        abort(); /* a file we just wrote: neither missing nor unreadable */
    }
    /* One callback per good record, the last read included. */
    if (s->seen.calls != s->records || s->seen.signs != s->sign_records)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t records = 0, first_bad = 0, signs = 0;
    char why[160];
    struct scan one, two;

    if (fuzz_log[0] == '\0')
        (void)LLVMFuzzerInitialize(NULL, NULL);

    write_bytes(data, size, O_TRUNC);
    signet_err verr = sg_audit_verify_file(fuzz_log, &records, &first_bad, why, sizeof why);
    if (verr == SIGNET_OK && (sg_audit_count_type(fuzz_log, "sign", &signs) != SIGNET_OK ||
                              signs > records))
        abort();

    scan(data, size, size, &one);
    agree(&one, verr, records, first_bad, why, signs);

    /* Split where the first byte says: anywhere, mid-line included. */
    size_t cut = size > 0 ? (size_t)data[0] * size / 256 : 0;
    scan(data, size, cut, &two);
    agree(&two, verr, records, first_bad, why, signs);

    (void)unlink(fuzz_log);
    return 0;
}
