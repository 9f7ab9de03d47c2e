/* JSON responses shared by the API handlers. */
#ifndef IOCD_API_JSON_H
#define IOCD_API_JSON_H

#include <cjson/cJSON.h>

#include "web/web.h"

/* Sends o as the JSON body with status and frees o; status 204 sends no body; 500 when o is
 * NULL or cannot be serialised. */
void api_respond_json(web_req_t *req, int status, cJSON *o);
/* Sends {"error": msg} with status, plus {key: name} when both are given: key "field" names a
 * body field, "param" a query parameter, so a client can point at what was wrong. */
void api_respond_error(web_req_t *req, int status, const char *key, const char *name,
                       const char *msg);

#endif
