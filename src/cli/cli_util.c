/* Shared by the subcommands (cli_util.h). */
#include "cli/cli_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/signer_client.h"
#include "json.h"
#include "signet/error.h"

const char *sg_cli_state_dir(const char *opt)
{
    if (opt != NULL && opt[0] != '\0')
        return opt;
    const char *env = getenv("SIGNET_STATE");
    if (env != NULL && env[0] != '\0')
        return env;
    return SIGNET_DEFAULT_STATE;
}

int sg_cli_exit_for(int status)
{
    switch ((signet_err)status) {
    case SIGNET_ERR_UNKNOWN_KID:
    case SIGNET_ERR_KEY_STATE:
    case SIGNET_ERR_UNKNOWN_ISSUER_CONFIG:
    case SIGNET_ERR_NOT_FOUND:
    case SIGNET_ERR_REVOKE_TOO_SOON:
        return SG_EXIT_FAIL;
    default:
        return SG_EXIT_USAGE;
    }
}

int sg_cli_open_signer(const char *state, struct sg_signer_client **out)
{
    return sg_cli_open_signer_ex(state, 0, out);
}

int sg_cli_open_signer_ex(const char *state, unsigned flags, struct sg_signer_client **out)
{
    char conf[4096];
    int n = snprintf(conf, sizeof conf, "%s/signet.conf", state);
    if (n < 0 || (size_t)n >= sizeof conf) {
        fprintf(stderr, "signet: state directory path too long\n");
        return SG_EXIT_USAGE;
    }
    if (access(conf, F_OK) != 0) {
        fprintf(stderr, "signet: %s is not initialised (no signet.conf): run 'signet init --state %s'\n",
                state, state);
        return SG_EXIT_USAGE;
    }
    signet_err err = sg_signer_spawn_ex(state, flags, out);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet: cannot start the signer: %s\n", signet_strerror(err));
        return SG_EXIT_USAGE;
    }
    return SG_EXIT_OK;
}

int sg_cli_request(struct sg_signer_client *c, unsigned char type, const char *arg, char **json)
{
    signet_err status = SIGNET_OK;
    *json = NULL;
    signet_err err = type == SG_IPC_STATUS || type == SG_IPC_ADVANCE || type == SG_IPC_INVENTORY
                         ? sg_signer_call(c, type, NULL, 0, &status, json, NULL)
                         : sg_signer_call_str(c, type, arg != NULL ? arg : "", &status, json);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet: the signer stopped or could not start (%s); any reason it gave is above\n",
                signet_strerror(err));
        return SG_EXIT_USAGE;
    }
    if (status != SIGNET_OK) {
        fprintf(stderr, "signet: %s (%s)\n", signet_strerror(status), signet_err_name(status));
        free(*json);
        *json = NULL;
        return sg_cli_exit_for(status);
    }
    return SG_EXIT_OK;
}

json_t *sg_cli_reply_json(const char *text, const char *fallback)
{
    const char *s = text != NULL ? text : fallback;
    json_t *doc = NULL;
    if (s == NULL ||
        sg_json_parse((const uint8_t *)s, strlen(s), SG_IPC_MAX_PAYLOAD, &doc) != SIGNET_OK)
        return NULL;
    return doc;
}
