/* signet invariants [--json]            the declared invariant table
 * signet invariants --check [--json]    runs every check once against the
 *                                       state directory (a signer of its own)
 *
 * Exit codes (cli_util.h): 0 listed / all hold, 1 an invariant is violated,
 * 2 usage or setup error. --check compares with the signer's own JWKS
 * (the CLI serves none) and cannot judge I7, which needs relying parties'
 * reports to signetd. */
#include "cli/cmd.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "common/config.h"
#include "common/signer_client.h"
#include "telemetry/invariants.h"
#include "telemetry/monitor.h"
#include "telemetry/signer_source.h"
#include "util/clock.h"

int sg_cmd_invariants(int argc, char **argv);

static const char usage[] =
    "usage: signet invariants [--check] [--state DIR] [--json]\n"
    "\n"
    "Lists the security invariants signetd watches (id, what must hold, how it\n"
    "is checked, severity, period). With --check, runs every check once against\n"
    "the state directory and prints each verdict.\n"
    "\n"
    "Exit status: 0 listed or all hold, 1 an invariant is violated, 2 usage or setup error.\n";

static int check(const char *state, int json)
{
    struct sg_config cfg;
    char msg[512] = "";
    if (sg_config_load(state, &cfg, msg, sizeof msg) != SIGNET_OK) {
        fprintf(stderr, "signet invariants: %s\n", msg);
        return SG_EXIT_USAGE;
    }
    sg_clock_use_file(cfg.clock_file[0] != '\0' ? cfg.clock_file : NULL);
    struct sg_signer_client *c = NULL;
    int rc = sg_cli_open_signer(state, &c);
    if (rc != SG_EXIT_OK)
        return rc;
    struct sg_telemetry_cfg tcfg;
    sg_telemetry_cfg_defaults(&tcfg); /* alerts go to the log only */
    struct sg_signer_client *clients[1] = {c};
    struct sg_signer_source ss = {clients, 1};
    struct sg_monitor_source src;
    sg_signer_source_init(&src, &ss);
    src.revoke = NULL; /* a check never rotates */
    struct sg_monitor *m = NULL;
    if (sg_monitor_new(&cfg, &tcfg, &src, NULL, &m) != SIGNET_OK) {
        fprintf(stderr, "signet invariants: cannot start the monitor\n");
        sg_signer_client_free(&c);
        return SG_EXIT_USAGE;
    }
    sg_monitor_run(m, SG_INV_ALL, sg_clock_now());
    struct sg_inv_status st[SG_INV_COUNT];
    sg_monitor_get(m, st);
    rc = SG_EXIT_OK;
    for (int i = 0; i < SG_INV_COUNT; i++)
        if (st[i].state == SG_INV_VIOLATED)
            rc = SG_EXIT_FAIL;
    if (json) {
        json_t *doc = sg_monitor_status_json(m);
        char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        if (text != NULL)
            printf("%s\n", text);
        free(text);
        json_decref(doc);
    } else {
        for (int i = 0; i < SG_INV_COUNT; i++)
            printf("%s  %-24s %-8s %-9s %s\n", sg_invariants[i].id, sg_invariants[i].name,
                   sg_inv_severity_name(sg_invariants[i].severity), sg_inv_state_name(st[i].state),
                   st[i].message);
    }
    sg_monitor_free(&m);
    sg_signer_client_free(&c);
    return rc;
}

int sg_cmd_invariants(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
        {"check", no_argument, NULL, 'c'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *state = NULL;
    int json = 0, do_check = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (ch == 's')
            state = optarg;
        else if (ch == 'j')
            json = 1;
        else if (ch == 'c')
            do_check = 1;
        else if (ch == 'h') {
            fputs(usage, stdout);
            return SG_EXIT_OK;
        } else {
            fputs(usage, stderr);
            return SG_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return SG_EXIT_USAGE;
    }
    if (do_check)
        return check(sg_cli_state_dir(state), json);
    if (json) {
        json_t *arr = sg_invariants_json(NULL);
        char *text = arr != NULL ? json_dumps(arr, JSON_INDENT(2)) : NULL;
        json_decref(arr);
        if (text == NULL)
            return SG_EXIT_FAIL;
        printf("%s\n", text);
        free(text);
        return SG_EXIT_OK;
    }
    sg_invariants_print(stdout, NULL);
    return SG_EXIT_OK;
}
