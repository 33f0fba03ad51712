/* signetd's configuration: signet.conf plus --config FILE, loaded as an
 * immutable snapshot that a SIGHUP reload replaces (main.c) while running
 * requests keep the one they started with. */
#include "signetd/conf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signetd/ctx.h"

struct sd_conf *sd_conf_get(struct sd_ctx *c)
{
    pthread_mutex_lock(&c->conf_lock);
    struct sd_conf *k = c->conf;
    atomic_fetch_add(&k->refs, 1);
    pthread_mutex_unlock(&c->conf_lock);
    return k;
}

void sd_conf_put(struct sd_conf *k)
{
    if (k != NULL && atomic_fetch_sub(&k->refs, 1) == 1)
        free(k);
}

/* signetd serves /t/<name>/...; the issuer must say so, or discovery would
 * advertise endpoints nobody serves. */
static int issuers_match_routes(const struct sg_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->n_tenants; i++) {
        const struct sg_tenant_cfg *t = &cfg->tenants[i];
        char suffix[80];
        (void)snprintf(suffix, sizeof suffix, "/t/%s", t->name);
        size_t il = strlen(t->issuer), sl = strlen(suffix);
        if (il < sl || strcmp(t->issuer + il - sl, suffix) != 0) {
            (void)snprintf(err, errlen,
                           "[tenant:%s] issuer %s must end with %s (signetd serves each tenant "
                           "under <base>/t/<name>)",
                           t->name, t->issuer, suffix);
            return 0;
        }
    }
    return 1;
}

signet_err sd_conf_load(const struct sd_ctx *c, struct sd_conf **out, char *err, size_t errlen)
{
    struct sd_conf *k = calloc(1, sizeof *k);
    if (k == NULL)
        return SIGNET_ERR_NOMEM;
    atomic_init(&k->refs, 1);
    signet_err e = sg_config_load(c->state_dir, &k->cfg, err, errlen);
    if (e == SIGNET_OK && c->server_conf[0] != '\0')
        e = sg_config_load_server(c->server_conf, &k->cfg, err, errlen);
    if (e == SIGNET_OK && !issuers_match_routes(&k->cfg, err, errlen))
        e = SIGNET_ERR_CONFIG;
    if (e != SIGNET_OK) {
        free(k);
        return e;
    }
    *out = k;
    return SIGNET_OK;
}
