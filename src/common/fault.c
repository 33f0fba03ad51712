#include "common/fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fault_name[64];
static long fault_nth = 1;
static int fault_armed;

void sg_fault_init(void)
{
    const char *v = getenv("SIGNET_FAULT");
    fault_armed = 0;
    if (v == NULL || v[0] == '\0' || strlen(v) >= sizeof fault_name)
        return;
    memcpy(fault_name, v, strlen(v) + 1);
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
    (void)kill(getpid(), SIGKILL);
    _exit(137);
}
