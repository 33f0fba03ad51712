/* signet-authenticator's directory and its device.json (issuer, device id,
 * user, name), and the rule for an issuer URL. */
#ifndef SA_CONF_H
#define SA_CONF_H

#include <stddef.h>

#include "signet/error.h"
#include "util/thumbprint.h"

#define SA_PATH_MAX 4096u
#define SA_ISSUER_MAX 512u
#define SA_NAME_MAX 64u  /* device name, user name: bytes */
#define SA_CONF_FILE_MAX 8192u

struct sa_conf {
    char issuer[SA_ISSUER_MAX + 1]; /* without a trailing '/' */
    char device_id[SG_THUMBPRINT_LEN + 1];
    char user[SA_NAME_MAX + 1];
    char name[SA_NAME_MAX + 1];
};

/* The directory: dir when given, else $XDG_CONFIG_HOME/signet-authenticator
 * (an absolute XDG_CONFIG_HOME only), else $HOME/.config/signet-authenticator.
 * SIGNET_ERR_CONFIG when neither variable helps. */
SIGNET_WUR signet_err sa_dir_resolve(const char *dir, char out[static SA_PATH_MAX]);

/* Creates the directory (0700) when missing, its parent too when the
 * parent is the default's ~/.config, then checks it: a directory (not a
 * symlink) of ours, writable by nobody else (SIGNET_ERR_PERMISSION). */
SIGNET_WUR signet_err sa_dir_prepare(const char *dir, int create, const char **why);

/* DIR/name into out. */
SIGNET_WUR signet_err sa_path(const char *dir, const char *name, char out[static SA_PATH_MAX]);

/* An issuer URL the authenticator talks to: https://host[:port][/path], or
 * http:// on localhost, 127.0.0.1 or [::1] only (tests and development);
 * no userinfo, query, fragment, space or control character, at most
 * SA_ISSUER_MAX bytes. out gets it without a trailing '/'. */
SIGNET_WUR signet_err sa_issuer_check(const char *url, char out[static SA_ISSUER_MAX + 1],
                                      const char **why);

/* A name the person gives or the server returns: 1..SA_NAME_MAX bytes of
 * valid UTF-8 without control characters. */
int sa_name_ok(const char *s);

/* device.json: written once (O_EXCL, 0600), read back strictly (the one
 * JSON door, every member checked). */
SIGNET_WUR signet_err sa_conf_save(const char *path, const struct sa_conf *c);
SIGNET_WUR signet_err sa_conf_load(const char *path, struct sa_conf *c, const char **why);

#endif
