#include "common/fault.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static char fault_name[64];
static long fault_nth = 1;
static long fault_stall_ms; /* > 0: stall there this long instead of dying */
static int fault_armed;

void sg_fault_init(void)
{
    const char *v = getenv("SIGNET_FAULT");
    fault_armed = 0;
    if (v == NULL || v[0] == '\0' || strlen(v) >= sizeof fault_name)
        return;
    memcpy(fault_name, v, strlen(v) + 1);
    char *at = strchr(fault_name, '@');
    fault_stall_ms = 0;
    if (at != NULL) {
        *at = '\0';
        fault_stall_ms = strtol(at + 1, NULL, 10);
        if (fault_stall_ms < 1 || fault_stall_ms > 600000)
            return;
    }
    char *colon = strchr(fault_name, ':');
    fault_nth = 1;
    if (colon != NULL) {
        *colon = '\0';
        fault_nth = strtol(colon + 1, NULL, 10);
        if (fault_nth < 1)
            fault_nth = 1;
    }
    fault_armed = 1;
}

void sg_fault_point(const char *name)
{
    if (!fault_armed || strcmp(name, fault_name) != 0)
        return;
    if (--fault_nth > 0)
        return;
    if (fault_stall_ms > 0) {
        /* A slow HSM or a loaded machine: the point takes this long, once. */
        fault_armed = 0;
        sg_log(SG_LOG_WARN, "fault_stall", "point=%s ms=%ld", name, fault_stall_ms);
        struct timespec ts = {fault_stall_ms / 1000, (fault_stall_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        return;
    }
    (void)kill(getpid(), SIGKILL);
    _exit(137);
}
