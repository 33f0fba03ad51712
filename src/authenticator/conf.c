/* The directory, device.json and issuer URLs. See conf.h. */
#include "authenticator/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "util/secret.h"

#define APP_DIR "signet-authenticator"

signet_err sa_dir_resolve(const char *dir, char out[static SA_PATH_MAX])
{
    int n = -1;
    out[0] = '\0';
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (dir != NULL && dir[0] != '\0')
        n = snprintf(out, SA_PATH_MAX, "%s", dir);
    else if (xdg != NULL && xdg[0] == '/') /* XDG Base Directory: relative paths are ignored */
        n = snprintf(out, SA_PATH_MAX, "%s/" APP_DIR, xdg);
    else if (home != NULL && home[0] == '/')
        n = snprintf(out, SA_PATH_MAX, "%s/.config/" APP_DIR, home);
    else
        return SIGNET_ERR_CONFIG;
    if (n < 0 || (size_t)n >= SA_PATH_MAX) {
        out[0] = '\0';
        return SIGNET_ERR_TOO_LARGE;
    }
    return SIGNET_OK;
}

signet_err sa_path(const char *dir, const char *name, char out[static SA_PATH_MAX])
{
    int n = snprintf(out, SA_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= SA_PATH_MAX) {
        out[0] = '\0';
        return SIGNET_ERR_TOO_LARGE;
    }
    return SIGNET_OK;
}

signet_err sa_dir_prepare(const char *dir, int create, const char **why)
{
    *why = "";
    if (create && mkdir(dir, 0700) != 0 && errno == ENOENT) {
        /* the default's parent (~/.config) may not exist yet */
        char parent[SA_PATH_MAX];
        int n = snprintf(parent, sizeof parent, "%s", dir);
        char *slash = n > 0 && (size_t)n < sizeof parent ? strrchr(parent, '/') : NULL;
        if (slash != NULL && slash != parent) {
            *slash = '\0';
            if (mkdir(parent, 0700) == 0 || errno == EEXIST)
                (void)mkdir(dir, 0700);
        }
    }
    struct stat st;
    if (lstat(dir, &st) != 0) {
        *why = create ? "cannot create the directory" : "no such directory (enrol first)";
        return SIGNET_ERR_NOT_FOUND;
    }
    if (!S_ISDIR(st.st_mode)) {
        *why = "not a directory (a symlink is refused)";
        return SIGNET_ERR_PERMISSION;
    }
    if (st.st_uid != geteuid()) {
        *why = "the directory belongs to another user";
        return SIGNET_ERR_PERMISSION;
    }
    if ((st.st_mode & 022) != 0) {
        *why = "the directory is writable by group or others";
        return SIGNET_ERR_PERMISSION;
    }
    return SIGNET_OK;
}

static int lower_eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

signet_err sa_issuer_check(const char *url, char out[static SA_ISSUER_MAX + 1], const char **why)
{
    out[0] = '\0';
    *why = "";
    size_t len = strnlen(url, SA_ISSUER_MAX + 1);
    if (len == 0 || len > SA_ISSUER_MAX) {
        *why = "the issuer URL is empty or longer than 512 bytes";
        return SIGNET_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '@' || c == '\\') {
            *why = "the issuer URL has a space, a control character, a query, a fragment or "
                   "userinfo";
            return SIGNET_ERR_INVALID_ARG;
        }
    }
    int https = 0;
    size_t i = 0;
    if (len > 8 && strncasecmp(url, "https://", 8) == 0) {
        https = 1;
        i = 8;
    } else if (len > 7 && strncasecmp(url, "http://", 7) == 0) {
        i = 7;
    } else {
        *why = "the issuer URL must be https:// (http:// only on localhost)";
        return SIGNET_ERR_INVALID_ARG;
    }
    size_t a_end = i;
    while (a_end < len && url[a_end] != '/')
        a_end++;
    size_t h_end = i;
    if (url[i] == '[') {
        const char *rb = memchr(url + i, ']', a_end - i);
        h_end = rb != NULL ? (size_t)(rb - url) + 1 : i;
    } else {
        while (h_end < a_end && url[h_end] != ':')
            h_end++;
    }
    if (h_end == i || (h_end < a_end && url[h_end] != ':')) {
        *why = "the issuer URL has no host";
        return SIGNET_ERR_INVALID_ARG;
    }
    for (size_t p = h_end + 1; p < a_end; p++) {
        if (url[p] < '0' || url[p] > '9' || p - h_end > 5) {
            *why = "the issuer URL's port is not a number";
            return SIGNET_ERR_INVALID_ARG;
        }
    }
    const char *host = url + i;
    size_t hl = h_end - i;
    if (!https && !lower_eq(host, hl, "localhost") && !lower_eq(host, hl, "127.0.0.1") &&
        !lower_eq(host, hl, "[::1]")) {
        *why = "the issuer URL must be https:// (http:// only on localhost, 127.0.0.1, [::1])";
        return SIGNET_ERR_INVALID_ARG;
    }
    while (len > a_end && url[len - 1] == '/')
        len--;
    memcpy(out, url, len);
    out[len] = '\0';
    return SIGNET_OK;
}

int sa_name_ok(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = strnlen(s, SA_NAME_MAX + 1);
    if (n == 0 || n > SA_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        size_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                                : (c & 0xf8) == 0xf0                 ? 3
                                                                     : 4;
        if (k == 4 || (k == 1 && c < 0xc2) || i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++)
            if (((unsigned char)s[i + j] & 0xc0) != 0x80)
                return 0;
        /* C1 controls (U+0080..U+009F) */
        if (k == 1 && c == 0xc2 && (unsigned char)s[i + 1] < 0xa0)
            return 0;
        i += k + 1;
    }
    return 1;
}

signet_err sa_conf_save(const char *path, const struct sa_conf *c)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "issuer", c->issuer, "device_id", c->device_id,
                          "user", c->user, "name", c->name);
    if (o == NULL)
        return SIGNET_ERR_NOMEM;
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err err = sg_secret_write_file(path, (const uint8_t *)text, strlen(text));
    free(text);
    return err;
}

/* Copies string member name of o (1..cap-1 bytes, no NUL) into out. */
static int member(const json_t *o, const char *name, char *out, size_t cap)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_string(v))
        return 0;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || n >= cap || strlen(s) != n)
        return 0;
    memcpy(out, s, n + 1);
    return 1;
}

signet_err sa_conf_load(const char *path, struct sa_conf *c, const char **why)
{
    memset(c, 0, sizeof *c);
    *why = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        *why = errno == ENOENT ? "not enrolled (no device.json): run enrol first"
                               : "cannot open device.json";
        return errno == ENOENT ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO;
    }
    static uint8_t buf[SA_CONF_FILE_MAX + 1];
    size_t n = 0;
    signet_err err = SIGNET_OK;
    json_t *o = NULL;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = SIGNET_ERR_IO;
            *why = "cannot read device.json";
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > SA_CONF_FILE_MAX) {
            err = SIGNET_ERR_TOO_LARGE;
            *why = "device.json is too large";
            goto out;
        }
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    char issuer[SA_ISSUER_MAX + 1];
    if (sg_json_parse_depth(buf, n, SA_CONF_FILE_MAX, 1, &o) != SIGNET_OK ||
        !json_is_object(o) || !member(o, "issuer", issuer, sizeof issuer) ||
        !member(o, "device_id", c->device_id, sizeof c->device_id) ||
        strlen(c->device_id) != SG_THUMBPRINT_LEN || !member(o, "user", c->user, sizeof c->user) ||
        !member(o, "name", c->name, sizeof c->name) ||
        sa_issuer_check(issuer, c->issuer, why) != SIGNET_OK) {
        err = SIGNET_ERR_CONFIG;
        *why = "device.json is not what enrol wrote";
    }
out:
    if (err != SIGNET_OK)
        memset(c, 0, sizeof *c);
    json_decref(o);
    close(fd);
    return err;
}
