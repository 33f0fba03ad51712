/* signetd's configuration snapshots (conf.c). */
#ifndef SD_CONF_H
#define SD_CONF_H

#include <stdatomic.h>
#include <stddef.h>

#include "common/config.h"
#include "signet/error.h"

struct sd_ctx;

/* A configuration snapshot: immutable once published, reference-counted
 * so a SIGHUP reload never pulls it from under a running request. */
struct sd_conf {
    atomic_int refs;
    struct sg_config cfg;
};

/* The current snapshot, with a reference; release it with sd_conf_put. */
struct sd_conf *sd_conf_get(struct sd_ctx *c);
void sd_conf_put(struct sd_conf *k);
/* Loads the configuration (signet.conf plus --config) as a new snapshot. */
SIGNET_WUR signet_err sd_conf_load(const struct sd_ctx *c, struct sd_conf **out, char *err,
                                   size_t errlen);

#endif
