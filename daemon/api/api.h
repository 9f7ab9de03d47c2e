/* HTTP API routes of the daemon, registered on the web server. */
#ifndef IOCD_API_H
#define IOCD_API_H

#include "app.h"

/* Registers GET /healthz and GET /metrics. Returns 0 or an ioc_err_t. */
int api_health_register(app_t *app);
/* Registers POST /api/v1/write and POST /write (InfluxDB line protocol). Returns 0 or ioc_err_t. */
int api_write_register(app_t *app);
/* Registers GET /api/v1/indicators and GET /api/v1/indicators/{id}/series (app->engine).
 * Returns 0 or ioc_err_t. */
int api_indicators_register(app_t *app);
/* Registers /api/v1/alert-rules[/{id}|/preview], /api/v1/alerts[/{id}[/ack|/silence|/unsilence]]
 * and /api/v1/alert-events (app->alerts). Returns 0 or ioc_err_t. */
int api_alerts_register(app_t *app);
/* Registers /api/v1/session: POST log in, DELETE log out, GET who am I (app->auth). */
int api_session_register(app_t *app);
/* Registers /api/v1/users (GET, POST) and PUT /api/v1/users/{name}; admin only. */
int api_users_register(app_t *app);
/* Registers /api/v1/tokens (GET, POST) and DELETE /api/v1/tokens/{name}; admin only. */
int api_tokens_register(app_t *app);
/* Registers GET /api/v1/audit; admin only. */
int api_audit_register(app_t *app);
/* Registers GET /api/v1/export (app->reports); analyst or admin. Returns 0 or ioc_err_t. */
int api_export_register(app_t *app);

#endif
