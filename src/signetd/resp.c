/* Filling an answer (resp.h) for the endpoints. */
#include "signetd/resp.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sd_resp_json(struct sd_resp *r, unsigned status, const char *json)
{
    free(r->body);
    r->status = status;
    r->body = strdup(json);
    r->len = r->body != NULL ? strlen(r->body) : 0;
    r->content_type = "application/json";
}

void sd_resp_oauth_error(struct sd_resp *r, unsigned status, const char *code,
                         const char *description)
{
    json_t *doc = json_pack("{s:s, s:s}", "error", code, "error_description",
                            description != NULL && description[0] != '\0' ? description : code);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    sd_resp_json(r, status, text != NULL ? text : "{\"error\":\"server_error\"}");
    free(text);
    (void)snprintf(r->cache_control, sizeof r->cache_control, "no-store");
}
