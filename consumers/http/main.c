/*
 * camvisor-http: go2rtc's HTTP API, the web UI, MSE and progressive MP4, on the consumer
 * skeleton (common/consumer/process.h). Started by the supervisor with its control socket on
 * fd 3 and the listening socket (bound by the supervisor, so a restart refuses nobody) on fd 4.
 *
 * The loop. Debian's libwebsockets has no libevent integration and no external poll, so its
 * own loop runs the process, and libevent's (the control socket, the ring doorbells, accepting
 * on fd 4) is nested in it: libevent's epoll descriptor is adopted into libwebsockets as a file,
 * and after every turn of lws_service() libevent runs what is ready without waiting. A timer of
 * libwebsockets' wakes the loop every tick so libevent's timers run too. docs/architecture.md
 * says why this and not the alternatives.
 *
 * If it is killed, its viewers reconnect (the web UI's player does so by itself) and no camera
 * notices: the supervisor restarts it.
 */
#include <errno.h>
#include <event2/event.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/sockaddr.h"
#include "common/consumer/settings.h"
#include "consumers/http/http.h"
#include "proto/child.h"

/* The www/ folder: [api] static_dir, or the one installed beside the program, or the source
 * tree's (build/ and build/asan/ run from a checkout). */
static void cv_http_find_static(struct cv_http_srv *srv)
{
    if (srv->set.static_dir[0]) {
        snprintf(srv->static_dir, sizeof(srv->static_dir), "%s", srv->set.static_dir);
        return;
    }
    static const char *const rel[] = {"www", "../www", "../../www"};
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        char p[sizeof(srv->exe_dir) + 16];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", srv->exe_dir, rel[i]);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(srv->static_dir, sizeof(srv->static_dir), "%s", p);
            return;
        }
    }
    snprintf(srv->static_dir, sizeof(srv->static_dir), "%s/www", srv->exe_dir);
    cv_warn("no www/ folder beside %s: the web UI is not served", srv->exe_dir);
}

/* go2rtc listens on every interface with no password and people expose it (its #2155): the
 * same default here, for compatibility, but never silently. */
static void cv_http_warn_if_open(const struct cv_http_srv *srv)
{
    struct sockaddr_storage where = {0};
    socklen_t len = sizeof(where);
    if (srv->set.username[0] || srv->set.token[0] ||
        getsockname(CV_CHILD_LISTEN_FD, (struct sockaddr *)&where, &len) < 0 ||
        cv_sockaddr_is_loopback(&where))
        return;
    char addr[64];
    cv_sockaddr_str(&where, addr, sizeof(addr));
    cv_warn("the API on %s can be reached from other machines WITHOUT A PASSWORD: anyone on the "
            "network can watch and change every camera; set [api] username and password (or a "
            "token), or listen = 127.0.0.1:1984",
            addr);
}

static const struct cv_setting_def cv_http_settings[] = {
    CV_SETTING(struct cv_http_settings, "username", CV_SET_STR, username),
    CV_SETTING(struct cv_http_settings, "password", CV_SET_STR, password),
    CV_SETTING(struct cv_http_settings, "token", CV_SET_STR, token),
    CV_SETTING(struct cv_http_settings, "local_auth", CV_SET_BOOL, local_auth),
    CV_SETTING(struct cv_http_settings, "allow_write", CV_SET_BOOL, allow_write),
    CV_SETTING(struct cv_http_settings, "origin", CV_SET_STR, origin),
    CV_SETTING(struct cv_http_settings, "base_path", CV_SET_STR, base_path),
    CV_SETTING(struct cv_http_settings, "static_dir", CV_SET_STR, static_dir),
    CV_SETTING(struct cv_http_settings, "rtsp.listen", CV_SET_STR, rtsp_listen),
    CV_SETTING(struct cv_http_settings, "max_connections", CV_SET_U32, max_conns),
    CV_SETTING(struct cv_http_settings, "max_connections_per_client", CV_SET_U32,
               max_conns_per_client),
    CV_SETTING(struct cv_http_settings, "request_timeout", CV_SET_U32, request_timeout_ms),
    CV_SETTING(struct cv_http_settings, "idle_timeout", CV_SET_U32, idle_timeout_ms),
};

static void cv_http_on_settings(struct cv_http_srv *srv, const struct cv_msg_settings *m)
{
    bool first = !srv->have_settings;
    struct cv_http_settings set = srv->set;
    cv_settings_read(cv_http_settings, sizeof(cv_http_settings) / sizeof(cv_http_settings[0]), &set,
                     m);
    bool auth_changed = first || strcmp(set.username, srv->set.username) != 0 ||
                        strcmp(set.token, srv->set.token) != 0;
    srv->set = set;
    explicit_bzero(&set, sizeof(set));
    srv->have_settings = true;
    if (first)
        cv_http_find_static(srv);
    if (auth_changed)
        cv_http_warn_if_open(srv);
}

/* A camera that left the catalogue: its viewers go (its status went with it). */
static void cv_http_on_camera_gone(void *ctx, const char *camera)
{
    cv_http_mse_drop_camera(ctx, camera);
    cv_http_jpeg_drop_camera(ctx, camera);
}

static int cv_http_on_message(void *ctx, struct cv_msg *m, int *fds, int nfds)
{
    (void)fds;
    (void)nfds;
    struct cv_http_srv *srv = ctx;
    if (m->type == CV_MSG_SETTINGS)
        cv_http_on_settings(srv, &m->u.settings);
    else if (m->type == CV_MSG_STREAM_RESULT)
        cv_http_api_on_result(srv, &m->u.stream_result);
    else if (m->type != CV_MSG_CATALOGUE && m->type != CV_MSG_CAMERA_STATUS)
        cv_warn("unexpected %s message ignored", cv_msg_type_name(m->type));
    return 0;
}

static void cv_http_on_peer(void *ctx, enum cv_role role, bool up)
{
    if (role == CV_ROLE_WEBRTC && !up)
        cv_http_webrtc_peer_down(ctx);
}

static void cv_http_on_peer_message(void *ctx, enum cv_role role, struct cv_msg *m)
{
    if (role == CV_ROLE_WEBRTC && m->type == CV_MSG_WEBRTC_ANSWER)
        cv_http_webrtc_on_answer(ctx, &m->u.webrtc_answer);
    else if (role == CV_ROLE_WEBRTC && m->type == CV_MSG_WEBRTC_STATS)
        ((struct cv_http_srv *)ctx)->webrtc = m->u.webrtc_stats;
    else if (role == CV_ROLE_WEBRTC && m->type == CV_MSG_WEBRTC_CANDIDATE)
        ; /* ours are all in the answer (ICE-lite) */
    else
        cv_warn("unexpected %s from role %u ignored", cv_msg_type_name(m->type), (unsigned)role);
}

static void cv_http_on_tick(void *ctx, uint64_t now_ms)
{
    cv_http_webrtc_tick(ctx, now_ms);
    cv_http_server_tick(ctx, now_ms);
    cv_http_mse_tick(ctx, now_ms);
    cv_http_api_tick(ctx, now_ms);
    cv_http_jpeg_tick(ctx, now_ms);
}

static const struct cv_consumer_ops cv_http_ops = {
    .role = CV_ROLE_HTTP,
    .on_message = cv_http_on_message,
    .on_tick = cv_http_on_tick,
    .on_camera_gone = cv_http_on_camera_gone,
    .on_peer = cv_http_on_peer,
    .on_peer_message = cv_http_on_peer_message,
};

static void cv_http_accept(void *ctx, int fd, const struct sockaddr *sa, socklen_t salen)
{
    cv_http_conn_accepted(ctx, fd, sa, salen);
}

static void cv_http_wake_cb(lws_sorted_usec_list_t *sul)
{
    struct cv_http_srv *srv = lws_container_of(sul, struct cv_http_srv, wake);
    lws_sul_schedule(srv->lws, 0, &srv->wake, cv_http_wake_cb, CV_HTTP_TICK_MS * LWS_US_PER_MS);
}

static int cv_http_adopt_loop(struct cv_http_srv *srv, int efd)
{
    lws_adopt_desc_t info = {.vh = srv->vh,
                             .type = LWS_ADOPT_RAW_FILE_DESC,
                             .fd.filefd = efd,
                             .vh_prot_name = "cv-loop"};
    if (!lws_adopt_descriptor_vhost_via_info(&info)) { /* lws closed efd */
        cv_err("cannot adopt libevent's loop into libwebsockets");
        return -ENOMEM;
    }
    lws_sul_schedule(srv->lws, 0, &srv->wake, cv_http_wake_cb, CV_HTTP_TICK_MS * LWS_US_PER_MS);
    return 0;
}

int main(void)
{
    static struct cv_http_srv srv; /* the process's one server (large: the catalogue) */
    int rc = 1;
    if (cv_consumer_init(&srv.proc, "http", &cv_http_ops, &srv, CV_HTTP_TICK_MS) < 0)
        goto out;
    srv.started_ms = cv_clock_mono_ms();
    srv.budget.max = CV_HTTP_BACKLOG_ALL;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        snprintf(srv.exe_dir, sizeof(srv.exe_dir), "%s", dirname(exe));
    }
    cv_throttle_init(&srv.throttle, CV_HTTP_AUTH_MAX_FAILS, CV_HTTP_AUTH_WINDOW_MS,
                     CV_HTTP_AUTH_LOCK_MS);
    if (cv_listener_open(&srv.listen, srv.proc.base, CV_CHILD_LISTEN_FD, "http",
                         CV_HTTP_ACCEPT_PAUSE_MS, cv_http_accept, &srv) < 0)
        goto out;
    srv.listen.conn_count = &srv.conn_count;
    /* libevent's epoll descriptor is looked up before lws creates any descriptor of its own. */
    int efd = cv_consumer_loop_fd(&srv.proc);
    if (efd < 0)
        goto out;
    /* The settings (auth, limits, timeouts) come first, right after HELLO: libwebsockets is set
     * up with them, and only then are clients taken (they wait in the kernel's backlog). */
    if (cv_consumer_start(&srv.proc) < 0) {
        close(efd);
        goto out;
    }
    while (!srv.have_settings && cv_consumer_step(&srv.proc))
        event_base_loop(srv.proc.base, EVLOOP_ONCE);
    if (srv.proc.stop) { /* SIGTERM before the settings came: a stop like any other */
        close(efd);
        rc = 0;
        goto out;
    }
    if (!srv.have_settings || cv_http_server_init(&srv) < 0) {
        close(efd);
        goto out;
    }
    if (cv_http_adopt_loop(&srv, efd) < 0)
        goto out;
    /* Descriptors are counted from here (server.c admits clients, feeds refuse themselves), so
     * that a ring sent by the supervisor always finds one free. */
    cv_feed_set_limit(&srv.proc.feeds, &srv.conn_count);
    cv_listener_enable(&srv.listen);
    while (cv_consumer_step(&srv.proc))
        if (lws_service(srv.lws, 0) < 0)
            break;
    rc = 0;
out:
    cv_listener_close(&srv.listen);
    if (srv.lws) {
        lws_sul_cancel(&srv.wake);
        lws_context_destroy(srv.lws); /* closes every connection: their destroy callbacks run */
    }
    cv_http_rawin_fini(&srv);
    cv_http_mse_fini(&srv);
    cv_http_jpeg_fini(&srv);
    cv_consumer_fini(&srv.proc);
    return rc;
}
