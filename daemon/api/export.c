/* GET /api/v1/export?indicators=&from=&to=&step=&format=csv|json|xlsx: streamed reports for
 * analysts (daemon/reports/). */
#include "api/api.h"
#include "auth/auth.h"
#include "reports/reports.h"

static void handle_export(web_req_t *req, void *ud)
{
    app_t *app = ud;
    if (auth_require(app->cfg, req, ROLE_ANALYST))
        return;
    if (!app->reports) {
        web_respond(req, 503, "application/json", "{\"error\":\"reports are not running\"}", 35);
        return;
    }
    reports_export(app->reports, req, app->cfg);
}

int api_export_register(app_t *app)
{
    return web_route(app->web, "GET", "/api/v1/export", handle_export, app, 0);
}
