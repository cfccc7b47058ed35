/*
 * control.c — see control.h.
 */
#include "control.h"

#include <string.h>

#include <jansson.h>

#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "reload.h"
#include "server.h"
#include "status.h"

typedef struct control_handler {
    h2o_handler_t super;
    server_t *srv;
} control_handler_t;

static int is_method(const h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static int path_is(h2o_iovec_t path, const char *p)
{
    return h2o_memis(path.base, path.len, p, strlen(p));
}

static pool_t *find_pool(server_t *srv, const char *name, size_t len)
{
    for (size_t i = 0; i < srv->npools; ++i)
        if (strlen(srv->pools[i]->cfg->name) == len && memcmp(srv->pools[i]->cfg->name, name, len) == 0)
            return srv->pools[i];
    return NULL;
}

static void method_not_allowed(h2o_req_t *req, const char *allowed)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allowed, strlen(allowed));
    respond_error(req, 405, "Method not allowed", allowed, 0, 0);
}

static int on_control_req(h2o_handler_t *self, h2o_req_t *req)
{
    server_t *srv = ((control_handler_t *)self)->srv;
    h2o_iovec_t path = req->path_normalized;

    if (path_is(path, "/status")) {
        if (!is_method(req, "GET") && !is_method(req, "HEAD"))
            method_not_allowed(req, "GET");
        else
            respond_json(req, 200, status_json(srv));
        return 0;
    }
    if (path_is(path, "/stop")) {
        if (!is_method(req, "POST")) {
            method_not_allowed(req, "POST");
            return 0;
        }
        respond_json(req, 200, json_pack("{s:s}", "result", "stopping"));
        server_stop(srv, "stop requested on the control socket");
        return 0;
    }
    static const char prefix[] = "/pools/", suffix[] = "/restart";
    if (path.len > sizeof(prefix) - 1 + sizeof(suffix) - 1 && memcmp(path.base, prefix, sizeof(prefix) - 1) == 0 &&
        memcmp(path.base + path.len - (sizeof(suffix) - 1), suffix, sizeof(suffix) - 1) == 0) {
        if (!is_method(req, "POST")) {
            method_not_allowed(req, "POST");
            return 0;
        }
        const char *name = path.base + sizeof(prefix) - 1;
        size_t len = path.len - (sizeof(prefix) - 1) - (sizeof(suffix) - 1);
        pool_t *pool = find_pool(srv, name, len);
        if (pool == NULL) {
            respond_error(req, 404, "No such pool", NULL, 0, 0);
            return 0;
        }
        if (srv->phase != PHASE_RUNNING) {
            respond_error(req, 409, "Not running", "the server is starting or stopping", 0, 0);
            return 0;
        }
        pool_restart(pool);
        respond_json(req, 200, json_pack("{s:s, s:s}", "result", "restarting", "pool", pool->cfg->name));
        return 0;
    }
    if (path_is(path, "/metrics")) {
        if (!is_method(req, "GET") && !is_method(req, "HEAD")) {
            method_not_allowed(req, "GET");
            return 0;
        }
        size_t len;
        char *text = metrics_text(srv, &len);
        req->res.status = 200;
        req->res.reason = "OK";
        req->res.content_length = len;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
        h2o_send_inline(req, text, len);
        free(text);
        return 0;
    }
    if (path_is(path, "/reload")) {
        if (!is_method(req, "POST")) {
            method_not_allowed(req, "POST");
            return 0;
        }
        reload_result_t res;
        server_reload(srv, &res);
        json_t *list = json_array();
        cfg_errors_t *lines = res.applied ? &res.notes : &res.errors;
        for (size_t i = 0; i < lines->len; ++i)
            json_array_append_new(list, json_string(lines->items[i]));
        if (res.applied)
            respond_json(req, 200, json_pack("{s:s, s:o}", "result", "reloaded", "changes", list));
        else
            respond_json(req, 422, json_pack("{s:s, s:s, s:o}", "error", "Configuration not reloaded", "reason",
                                             "the file has errors; the previous configuration stays in use", "errors",
                                             list));
        reload_result_free(&res);
        return 0;
    }
    respond_error(req, 404, "Not found",
                  "control endpoints: GET /status, GET /metrics, POST /reload, POST /stop, POST /pools/NAME/restart", 0,
                  0);
    return 0;
}

void control_register(server_t *srv, h2o_hostconf_t *host)
{
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    control_handler_t *h = (control_handler_t *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_control_req;
    h->srv = srv;
}
