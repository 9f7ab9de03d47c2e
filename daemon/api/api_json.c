/* JSON responses shared by the API handlers. */
#include <string.h>

#include "api/api_json.h"

void api_respond_json(web_req_t *req, int status, cJSON *o)
{
    char *s = o && status != 204 ? cJSON_PrintUnformatted(o) : NULL;
    if (status == 204)
        web_respond(req, 204, NULL, NULL, 0);
    else if (!s)
        web_respond(req, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
    else
        web_respond(req, status, "application/json", s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

void api_respond_error(web_req_t *req, int status, const char *key, const char *name,
                       const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    if (key && name)
        cJSON_AddStringToObject(o, key, name);
    api_respond_json(req, status, o);
}
