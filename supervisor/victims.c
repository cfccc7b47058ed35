/*
 * victims.c — see victims.h.
 *
 * The JSON line is appended with one write(2) on an O_APPEND descriptor: a line is
 * either wholly in the file or not at all, even if uhw is killed right after.
 */
#include "victims.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "log.h"

#define COMMAND_TIMEOUT_MS 10000
#define COMMAND_MAX_RUNNING 16

int victims_open(victims_t *v, char *err, size_t errsz)
{
    const char *path = v->cfg->log;
    v->log_fd = -1;
    if (path == NULL)
        return 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errsz, "cannot open victims log %s: %s", path, strerror(errno));
        return -1;
    }
    v->log_fd = fd;
    return 0;
}

void victims_close(victims_t *v)
{
    if (v->log_fd >= 0)
        close(v->log_fd);
    v->log_fd = -1;
}

static int is_redacted(const victims_t *v, const char *name, size_t len)
{
    const cfg_strs_t *r = &v->cfg->redact_headers;
    for (size_t i = 0; i < r->len; ++i)
        if (strlen(r->items[i]) == len && strncasecmp(r->items[i], name, len) == 0)
            return 1;
    return 0;
}

static json_t *base64_json(const void *p, size_t n)
{
    size_t out_len = 4 * ((n + 2) / 3);
    unsigned char *out = malloc(out_len + 1);
    if (out == NULL)
        return json_null();
    int len = EVP_EncodeBlock(out, p, (int)n);
    json_t *s = json_stringn((const char *)out, len > 0 ? (size_t)len : 0);
    free(out);
    return s;
}

static json_t *headers_json(const victims_t *vs, const h2o_req_t *req)
{
    json_t *h = json_object();
    for (size_t i = 0; i < req->headers.size; ++i) {
        const h2o_header_t *e = req->headers.entries + i;
        char *name = strndup(e->name->base, e->name->len);
        if (name == NULL)
            continue;
        json_t *v = is_redacted(vs, e->name->base, e->name->len) ? json_string("[redacted]")
                                                                     : json_stringn(e->value.base, e->value.len);
        if (v == NULL) /* not UTF-8: keep it replayable as base64 */
            v = json_pack("{s:o}", "base64", base64_json(e->value.base, e->value.len));
        json_t *prev = json_object_get(h, name);
        if (prev != NULL && json_is_string(prev) && json_is_string(v)) {
            /* repeated header: join as HTTP does */
            size_t n = json_string_length(prev) + 2 + json_string_length(v);
            char *joined = malloc(n + 1);
            if (joined != NULL) {
                snprintf(joined, n + 1, "%s, %s", json_string_value(prev), json_string_value(v));
                json_object_set_new(h, name, json_stringn(joined, n));
                free(joined);
            }
            json_decref(v);
        } else {
            json_object_set_new(h, name, v);
        }
        free(name);
    }
    return h;
}

static json_t *nullable_str(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    return v != NULL ? v : json_null();
}

static char *victim_line(const victims_t *v, const victim_t *vi, const char *remote)
{
    const h2o_req_t *req = vi->req;
    const exit_info_t *ei = vi->ei;
    char when[40], sig[32];
    iso8601(ei->at_wall_ms, when, sizeof(when));
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *query = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
    size_t query_len = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
    size_t body_len = req->entity.base != NULL ? req->entity.len : 0;
    size_t keep = body_len < v->cfg->max_body ? body_len : v->cfg->max_body;

    json_t *rq = json_object();
    json_object_set_new(rq, "id", json_integer((json_int_t)vi->id));
    json_object_set_new(rq, "method", nullable_str(req->method.base, req->method.len));
    json_object_set_new(rq, "path", nullable_str(req->path.base, path_len));
    json_object_set_new(rq, "query", nullable_str(query, query_len));
    json_object_set_new(rq, "headers", headers_json(v, req));
    json_object_set_new(rq, "remote", json_string(remote));
    json_object_set_new(rq, "body_size", json_integer((json_int_t)body_len));
    json_object_set_new(rq, "body_base64", base64_json(req->entity.base, keep));
    json_object_set_new(rq, "body_truncated", json_boolean(keep < body_len));

    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "pool", json_string(vi->pool));
    json_object_set_new(o, "worker", json_integer(vi->slot));
    json_object_set_new(o, "pid", json_integer(vi->pid));
    json_object_set_new(o, "reason", json_string(ei->reason));
    json_object_set_new(o, "detail", json_string(ei->detail));
    json_object_set_new(o, "exit_code", ei->code >= 0 ? json_integer(ei->code) : json_null());
    json_object_set_new(o, "signal", ei->signal ? json_string(proc_signal_name(ei->signal, sig, sizeof(sig))) : json_null());
    json_object_set_new(o, "status", json_integer(vi->status));
    json_object_set_new(o, "request", rq);
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return line;
}

/* ---------------------------------------------------------------- victims.command */

typedef struct victim_cmd {
    reaper_watch_t watch;
    victims_t *v;
    h2o_socket_t *in;
    char *line;            /* the JSON line + "\n", being written to stdin */
    size_t line_len;
    utimer_t kill_timer;
    uint64_t request_id;
} victim_cmd_t;

static void cmd_stdin_done(h2o_socket_t *sock, const char *err)
{
    victim_cmd_t *vc = sock->data;
    (void)err; /* a command that does not read its stdin is its own business */
    vc->in = NULL;
    sock->data = NULL;
    h2o_socket_close(sock);
}

static void on_cmd_timeout(utimer_t *t)
{
    victim_cmd_t *vc = H2O_STRUCT_FROM_MEMBER(victim_cmd_t, kill_timer, t);
    log_msg(LOG_WARNING, NULL, "victims.command for id=%llu still running after %d s; killing it",
            (unsigned long long)vc->request_id, COMMAND_TIMEOUT_MS / 1000);
    kill(-vc->watch.pid, SIGKILL);
}

static void on_cmd_exit(reaper_watch_t *rw, int status)
{
    victim_cmd_t *vc = H2O_STRUCT_FROM_MEMBER(victim_cmd_t, watch, rw);
    char sig[32];
    if (WIFSIGNALED(status))
        log_msg(LOG_WARNING, NULL, "victims.command for id=%llu was killed by %s", (unsigned long long)vc->request_id,
                proc_signal_name(WTERMSIG(status), sig, sizeof(sig)));
    else if (WEXITSTATUS(status) == 127)
        log_msg(LOG_WARNING, NULL, "victims.command for id=%llu could not be run (exit 127: not found?)",
                (unsigned long long)vc->request_id);
    else if (WEXITSTATUS(status) != 0)
        log_msg(LOG_WARNING, NULL, "victims.command for id=%llu failed with exit code %d",
                (unsigned long long)vc->request_id, WEXITSTATUS(status));
    timers_cancel(vc->v->timers, &vc->kill_timer);
    if (vc->in != NULL) {
        vc->in->data = NULL;
        h2o_socket_close(vc->in);
    }
    --vc->v->running;
    free(vc->line);
    free(vc);
}

/* Runs victims.command with the line on its stdin, as the user of the pool whose worker died
 * (never as root when uhw is), with a minimal environment: the line is all it needs. */
static void run_command(victims_t *v, const victim_t *vi, const char *line)
{
    static const char *const kept[] = {"PATH", "LANG", "TZ", NULL};
    if (v->loop == NULL)
        return;
    if (v->running >= COMMAND_MAX_RUNNING) {
        log_msg(LOG_WARNING, NULL, "victims.command not run for id=%llu: %d already running",
                (unsigned long long)vi->id, COMMAND_MAX_RUNNING);
        return;
    }
    proc_env_t env;
    proc_env_init(&env, 1);
    for (size_t i = 0; i < env.len;) { /* clear_env keeps PATH, HOME, LANG, TZ: drop HOME too */
        int keep = 0;
        for (size_t k = 0; kept[k] != NULL && !keep; ++k)
            keep = strncmp(env.items[i], kept[k], strlen(kept[k])) == 0 && env.items[i][strlen(kept[k])] == '=';
        if (keep) {
            ++i;
        } else {
            free(env.items[i]);
            memmove(&env.items[i], &env.items[i + 1], (env.len - i) * sizeof(env.items[0]));
            --env.len;
        }
    }
    if (proc_env_get(&env, "PATH") == NULL)
        proc_env_set(&env, "PATH", "/usr/local/bin:/usr/bin:/bin");
    /* as root: victims.user, else the user of the pool whose worker died (config_check_runtime
     * resolved both; neither is set when uhw does not run as root) */
    const cfg_identity_t *id = v->cfg->run_as;
    proc_user_t own;
    const proc_user_t *user = vi->user;
    if (id != NULL) {
        own = (proc_user_t){.uid = id->uid, .gid = id->gid, .groups = id->groups, .ngroups = id->ngroups,
                            .name = id->name, .home = id->home};
        user = &own;
    }
    if (user != NULL)
        proc_env_set_user(&env, user);
    proc_env_set(&env, "UHW_POOL", vi->pool);
    proc_spec_t spec = {.argv = v->cfg->command, .envp = env.items, .cwd = v->cwd, .pipe_stdin = 1, .user = user};
    proc_t p;
    int rc = proc_spawn(&spec, &p);
    proc_env_free(&env);
    if (rc != 0) {
        log_msg(LOG_WARNING, NULL, "cannot run victims.command: %s", strerror(errno));
        return;
    }
    close(p.execfail_fd); /* exit code 127 tells the same story */
    victim_cmd_t *vc = calloc(1, sizeof(*vc));
    if (vc == NULL)
        abort();
    vc->v = v;
    vc->request_id = vi->id;
    vc->watch.pid = p.pid;
    vc->watch.on_exit = on_cmd_exit;
    vc->line_len = strlen(line) + 1;
    vc->line = malloc(vc->line_len);
    if (vc->line == NULL)
        abort();
    memcpy(vc->line, line, vc->line_len - 1);
    vc->line[vc->line_len - 1] = '\n';
    vc->in = h2o_evloop_socket_create(v->loop, p.in_fd, 0);
    vc->in->data = vc;
    h2o_iovec_t buf = h2o_iovec_init(vc->line, vc->line_len);
    h2o_socket_write(vc->in, &buf, 1, cmd_stdin_done);
    utimer_init(&vc->kill_timer, on_cmd_timeout);
    timers_schedule(v->timers, &vc->kill_timer, timers_now(v->timers) + COMMAND_TIMEOUT_MS);
    ++v->running;
    reaper_watch(v->reaper, &vc->watch);
}

void victims_dispose(victims_t *v)
{
    /* Commands still running at exit: don't leave them behind. */
    for (reaper_watch_t *rw = v->reaper != NULL ? v->reaper->watches : NULL, *next; rw != NULL; rw = next) {
        next = rw->next;
        if (rw->on_exit != on_cmd_exit)
            continue;
        reaper_forget(v->reaper, rw);
        kill(-rw->pid, SIGKILL);
        waitpid(rw->pid, NULL, 0);
        on_cmd_exit(rw, 0);
    }
    victims_close(v);
}

/* ---------------------------------------------------------------- entry point */

void victims_record(victims_t *v, const victim_t *vi)
{
    h2o_req_t *req = vi->req;
    char remote[NI_MAXHOST + 8] = "-", host[NI_MAXHOST];
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl != 0 && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
        h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, host);
        snprintf(remote, sizeof(remote), ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host,
                 (int)h2o_socket_getport((struct sockaddr *)&ss));
    }
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    size_t body_len = req->entity.base != NULL ? req->entity.len : 0;
    log_msg(LOG_ERROR, vi->who, "victim id=%llu from=%s %.*s %.*s body=%zuB (%s: %s)", (unsigned long long)vi->id, remote,
            (int)req->method.len, req->method.base, (int)path_len, req->path.base, body_len, vi->ei->reason,
            vi->ei->detail);

    if (v->log_fd < 0 && v->cfg->command == NULL)
        return;
    char *line = victim_line(v, vi, remote);
    if (line == NULL)
        return;
    if (v->log_fd >= 0) {
        size_t n = strlen(line);
        line[n] = '\n'; /* json_dumps' terminator becomes the newline; written as one record */
        ssize_t wr = write(v->log_fd, line, n + 1);
        if (wr != (ssize_t)(n + 1))
            log_msg(LOG_ERROR, NULL, "cannot append to victims log %s: %s", v->cfg->log,
                    wr < 0 ? strerror(errno) : "short write");
        line[n] = '\0';
    }
    if (v->cfg->command != NULL)
        run_command(v, vi, line);
    free(line);
}
