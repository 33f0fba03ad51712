/* signet session list | revoke: people's browser sessions (issue 13), in
 * the front end's store (store/people.h). A session is named by its sid,
 * the public `sid` claim of its ID tokens; the cookie's value is never
 * stored (only its SHA-256), so nothing here can print one. Revoking a
 * session also revokes the refresh tokens issued under it; signetd sees it
 * at the next request. */
#include "cli/cmd.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "common/accounts.h"
#include "common/config.h"
#include "store/people.h"
#include "store/store.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: signet session list --tenant T [--user NAME] [--json]\n"
               "       signet session revoke --tenant T (--user NAME | --session SID)\n"
               "       (every form takes --state DIR)\n\n"
               "list shows the live sign-in sessions of the tenant (or of one person):\n"
               "sid, person, when created and last seen, acr. revoke ends one session\n"
               "(by sid) or every session of a person, with the refresh tokens issued\n"
               "under them; their next request to signetd signs them out.\n");
}

struct opts {
    const char *state;
    const char *tenant;
    const char *user;
    const char *sid;
    int json;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"tenant", required_argument, NULL, 't'},
        {"user", required_argument, NULL, 'u'},
        {"session", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': o->state = optarg; break;
        case 't': o->tenant = optarg; break;
        case 'u': o->user = optarg; break;
        case 'i': o->sid = optarg; break;
        case 'j': o->json = 1; break;
        case 'h': return 1;
        default: return -1;
        }
    }
    o->state = sg_cli_state_dir(o->state);
    return 0;
}

static int open_front(const struct opts *o, struct sg_config *cfg, const struct sg_tenant_cfg **t,
                      struct sg_store **store)
{
    int rc = sg_cli_people_tenant("session", o->state, o->tenant, cfg, t);
    if (rc == SG_EXIT_OK)
        rc = sg_cli_people_store("session", o->state, cfg, store);
    return rc;
}

/* The user named o->user: SG_EXIT_OK, or an exit code (printed). */
static int find_user(struct sg_store *store, const char *tenant, const char *name,
                     struct sg_user *u)
{
    signet_err err = sg_people_user_by_name(store, tenant, name, u);
    if (err == SIGNET_ERR_NOT_FOUND) {
        fprintf(stderr, "signet session: tenant %s has no user '%s'\n", tenant, name);
        return SG_EXIT_FAIL;
    }
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet session: users: %s\n", signet_strerror(err));
        return SG_EXIT_USAGE;
    }
    return SG_EXIT_OK;
}

static const char *name_of(const struct sg_user *us, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(us[i].id, id) == 0)
            return us[i].name;
    return "-";
}

static int cmd_list(const struct opts *o)
{
    struct sg_config cfg;
    const struct sg_tenant_cfg *t = NULL;
    struct sg_store *store = NULL;
    int rc = open_front(o, &cfg, &t, &store);
    if (rc != SG_EXIT_OK)
        return rc;
    struct sg_user one;
    memset(&one, 0, sizeof one);
    struct sg_user *us = NULL;
    struct sg_session *ss = NULL;
    size_t nu = 0, ns = 0;
    signet_err err = SIGNET_OK;
    if (o->user != NULL) {
        rc = find_user(store, t->name, o->user, &one);
        if (rc != SG_EXIT_OK)
            goto out;
    } else {
        err = sg_people_user_list(store, t->name, &us, &nu);
    }
    if (err == SIGNET_OK)
        err = sg_people_session_list(store, t->name, o->user != NULL ? one.id : NULL,
                                     (int64_t)time(NULL), &ss, &ns);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet session: %s\n", signet_strerror(err));
        rc = SG_EXIT_USAGE;
        goto out;
    }
    json_t *arr = o->json ? json_array() : NULL;
    if (!o->json)
        printf("%-24s  %-24s  %-20s  %-20s  %s\n", "SID", "USER", "CREATED", "LAST_SEEN", "ACR");
    for (size_t i = 0; i < ns; i++) {
        const struct sg_session *x = &ss[i];
        const char *name = o->user != NULL ? one.name : name_of(us, nu, x->user_id);
        char created[32], seen[32], auth[32], ends[32];
        sg_cli_iso_time(x->created_at, created, sizeof created);
        sg_cli_iso_time(x->last_seen, seen, sizeof seen);
        sg_cli_iso_time(x->auth_time, auth, sizeof auth);
        sg_cli_iso_time(x->expires_at < x->idle_expires ? x->expires_at : x->idle_expires, ends,
                        sizeof ends);
        if (arr != NULL) {
            if (json_array_append_new(
                    arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "sid", x->sid,
                                   "user", name, "user_id", x->user_id, "acr", x->acr, "amr",
                                   x->amr, "auth_time", auth, "created", created, "last_seen",
                                   seen, "expires", ends)) != 0)
                rc = SG_EXIT_USAGE;
        } else {
            printf("%-24s  %-24s  %-20s  %-20s  %s\n", x->sid, name, created, seen, x->acr);
        }
    }
    if (arr != NULL) {
        char *text = rc == SG_EXIT_OK ? json_dumps(arr, JSON_INDENT(2)) : NULL;
        if (text != NULL)
            printf("%s\n", text);
        else
            rc = SG_EXIT_USAGE;
        free(text);
        json_decref(arr);
    }
out:
    sg_store_close(&store);
    free(us);
    free(ss);
    return rc;
}

static int cmd_revoke(const struct opts *o)
{
    if ((o->user == NULL) == (o->sid == NULL)) {
        fprintf(stderr, "signet session: revoke takes one of --user NAME or --session SID\n");
        return SG_EXIT_USAGE;
    }
    struct sg_config cfg;
    const struct sg_tenant_cfg *t = NULL;
    struct sg_store *store = NULL;
    int rc = open_front(o, &cfg, &t, &store);
    if (rc != SG_EXIT_OK)
        return rc;
    int64_t now = (int64_t)time(NULL);
    if (o->user != NULL) {
        struct sg_user u;
        size_t n = 0;
        rc = find_user(store, t->name, o->user, &u);
        if (rc == SG_EXIT_OK) {
            signet_err err = sg_people_session_revoke_user(store, t->name, u.id, now, &n);
            if (err != SIGNET_OK) {
                fprintf(stderr, "signet session: %s\n", signet_strerror(err));
                rc = SG_EXIT_USAGE;
            } else {
                printf("revoked %zu session(s) of %s and their refresh tokens\n", n, u.name);
            }
        }
    } else {
        signet_err err = sg_people_session_revoke(store, t->name, o->sid, now);
        if (err == SIGNET_ERR_NOT_FOUND) {
            fprintf(stderr, "signet session: tenant %s has no live session '%s'\n", t->name,
                    o->sid);
            rc = SG_EXIT_FAIL;
        } else if (err != SIGNET_OK) {
            fprintf(stderr, "signet session: %s\n", signet_strerror(err));
            rc = SG_EXIT_USAGE;
        } else {
            printf("revoked session %s and its refresh tokens\n", o->sid);
        }
    }
    sg_store_close(&store);
    return rc;
}

int sg_cmd_session(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? SG_EXIT_USAGE : SG_EXIT_OK;
    }
    const char *sub = argv[1];
    struct opts o;
    int p = parse_opts(argc - 1, argv + 1, &o);
    if (p > 0) {
        usage(stdout);
        return SG_EXIT_OK;
    }
    if (p < 0) {
        usage(stderr);
        return SG_EXIT_USAGE;
    }
    int rc = SG_EXIT_USAGE;
    int args_ok = argc - 1 - optind == 0;
    if (args_ok && strcmp(sub, "list") == 0 && o.sid == NULL)
        rc = cmd_list(&o);
    else if (args_ok && strcmp(sub, "revoke") == 0)
        rc = cmd_revoke(&o);
    else
        usage(stderr);
    /* Back to root once the front store is closed. */
    if (getuid() == 0 && geteuid() != 0 && sg_account_resume_root() != SIGNET_OK)
        rc = SG_EXIT_USAGE;
    return rc;
}
