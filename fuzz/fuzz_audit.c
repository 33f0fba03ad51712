/* Fuzz target for the audit log readers: the streaming verifier and the tail
 * recovery of sg_audit_open.
 *
 * Properties checked (abort on violation):
 *   - verifying from memory and from a file give the same verdict;
 *   - a broken verdict names a record within the input and gives a reason;
 *   - a log the verifier accepts is accepted by open, which continues its
 *     chain, also with two writers: one handle stages a record while
 *     another commits one, then commits its own re-chained after it, and
 *     the file still verifies with both;
 *   - a log that is good but for a torn last line is opened, the torn line
 *     cut, and what remains verifies;
 *   - the input read as a shipped checkpoint line (issue 11): one that
 *     parses prints back to a line that parses to the same checkpoint. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/checkpoint.h"
#include "signer/audit.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

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
    sg_log_init("fuzz_audit", (enum sg_log_level)(SG_LOG_ERROR + 1));
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(fuzz_dir, sizeof fuzz_dir, "%s/signet-fuzz-audit-XXXXXX",
                     tmp != NULL ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof fuzz_dir || mkdtemp(fuzz_dir) == NULL)
        abort();
    n = snprintf(fuzz_log, sizeof fuzz_log, "%s/audit.log", fuzz_dir);
    if (n < 0 || (size_t)n >= sizeof fuzz_log)
        abort();
    (void)atexit(cleanup);
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open(fuzz_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t records = 0, first_bad = 0, frecords = 0, ffirst_bad = 0;
    char why[128], fwhy[128];
    static const uint8_t empty[1];

    if (fuzz_log[0] == '\0')
        (void)LLVMFuzzerInitialize(NULL, NULL);

    /* The same bytes as a shipped checkpoint line (signet audit verify
     * --checkpoint reads them from off the host): a line that parses prints
     * back to a line that parses to the same checkpoint. */
    struct sg_audit_cp cp, cp2;
    if (sg_audit_cp_from_line((const char *)(size > 0 ? data : empty), size, &cp) == SIGNET_OK) {
        char *line = sg_audit_cp_to_line(&cp);
        if (line == NULL || sg_audit_cp_from_line(line, strlen(line), &cp2) != SIGNET_OK ||
            memcmp(&cp, &cp2, sizeof cp) != 0)
            abort();
        free(line);
    }

    /* fmemopen does not write in "r" mode; the cast only satisfies its prototype. */
    FILE *f = fmemopen((void *)(size > 0 ? data : empty), size, "r");
    if (f == NULL)
        abort();
    signet_err err = sg_audit_verify_stream(f, &records, &first_bad, why, sizeof why);
    (void)fclose(f);
    if (err != SIGNET_OK && err != SIGNET_ERR_AUDIT_BROKEN)
        abort();
    if (err == SIGNET_ERR_AUDIT_BROKEN &&
        (first_bad == 0 || first_bad > size || records != first_bad - 1 || why[0] == '\0'))
        abort();

    write_input(data, size);
    signet_err ferr = sg_audit_verify_file(fuzz_log, &frecords, &ffirst_bad, fwhy, sizeof fwhy);
    if (ferr != err || frecords != records || ffirst_bad != first_bad || strcmp(why, fwhy) != 0)
        abort();

    struct sg_audit *a = NULL, *b = NULL;
    signet_err oerr = sg_audit_open(fuzz_log, &a);
    if (err == SIGNET_OK) {
        if (oerr != SIGNET_OK || sg_audit_last_seq(a) != records ||
            sg_audit_open(fuzz_log, &b) != SIGNET_OK)
            abort();
        if (sg_audit_append(a, 1, "fuzz", NULL) != SIGNET_OK ||
            sg_audit_append(b, 2, "fuzz", NULL) != SIGNET_OK || sg_audit_commit(b) != SIGNET_OK ||
            sg_audit_commit(a) != SIGNET_OK || sg_audit_last_seq(a) != records + 2)
            abort();
        sg_audit_close(&a);
        sg_audit_close(&b);
        if (sg_audit_verify_file(fuzz_log, &frecords, &ffirst_bad, fwhy, sizeof fwhy) !=
                SIGNET_OK ||
            frecords != records + 2)
            abort();
    } else if (strstr(why, "torn/missing newline") != NULL) {
        /* Everything before the torn last line was good: open cuts it off. */
        if (oerr != SIGNET_OK || sg_audit_last_seq(a) != records)
            abort();
        sg_audit_close(&a);
        if (sg_audit_verify_file(fuzz_log, &frecords, &ffirst_bad, fwhy, sizeof fwhy) !=
                SIGNET_OK ||
            frecords != records)
            abort();
    }
    sg_audit_close(&a);
    (void)unlink(fuzz_log);
    return 0;
}
