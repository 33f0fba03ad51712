/* Second steps after a password, and the approver devices (issue 14,
 * docs/people.md): number-matching approvals on a device registered with
 * `signet-authenticator`, TOTP codes checked by the signer, and the
 * account's routes that add and remove them (mfa.c). http.c routes the
 * paths sd_mfa_route() claims here; mfa.c uses signin.c's kit and never
 * the other way round. */
#ifndef SD_MFA_H
#define SD_MFA_H

#include "signetd/resp.h"
#include "signetd/signin.h"

struct sd_ctx;
struct sg_config;
struct sg_tenant_cfg;

/* Prompts per user: at most SD_APPROVAL_MAX_PROMPTS within
 * SD_APPROVAL_WINDOW seconds; each lives SD_APPROVAL_TTL seconds; after
 * SD_APPROVAL_MAX_WRONG wrong numbers within SD_APPROVAL_LOCK seconds no
 * new prompt until the lock ends. */
#define SD_APPROVAL_TTL 60
#define SD_APPROVAL_WINDOW 600
#define SD_APPROVAL_MAX_PROMPTS 3
#define SD_APPROVAL_LOCK 900
#define SD_APPROVAL_MAX_WRONG 3
/* A device's one-time registration code: 10 minutes. */
#define SD_DEVICE_CODE_TTL 600
/* Wrong TOTP codes on one pending second step before the password is
 * needed again. */
#define SD_TOTP_MAX_TRIES 5

/* 1 when route is one of mfa.c's. */
int sd_mfa_route(enum sd_people_route route);

void sd_mfa_endpoint(struct sd_ctx *c, const struct sg_config *cfg, const struct sg_tenant_cfg *t,
                     enum sd_people_route route, const struct sd_people_in *in,
                     struct sd_resp *r);

#endif
