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
#include <event2/listener.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/sockaddr.h"
#include "consumers/http/http.h"
#include "proto/child.h"

const struct cv_http_cam *cv_http_cam_find(const struct cv_http_srv *srv, const char *name)
{
    for (uint32_t i = 0; i < srv->cam_count; i++)
        if (strcmp(srv->cams[i].st.camera, name) == 0)
            return &srv->cams[i];
    return NULL;
}

bool cv_http_camera_exists(const struct cv_http_srv *srv, const char *name)
{
    for (uint32_t i = 0; i < srv->cat.camera_count; i++)
        if (strcmp(srv->cat.cameras[i].name, name) == 0)
            return true;
    return false;
}

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

static void cv_http_on_settings(struct cv_http_srv *srv, const struct cv_msg_http_settings *set)
{
    bool first = !srv->have_settings;
    bool auth_changed = first || strcmp(set->username, srv->set.username) != 0 ||
                        strcmp(set->token, srv->set.token) != 0;
    srv->set = *set;
    srv->have_settings = true;
    if (first)
        cv_http_find_static(srv);
    if (auth_changed)
        cv_http_warn_if_open(srv);
}

static void cv_http_on_catalogue(struct cv_http_srv *srv, const struct cv_msg_catalogue *cat)
{
    /* Cameras that left the catalogue lose their viewers and their status. */
    for (uint32_t i = 0; i < srv->cat.camera_count; i++) {
        bool kept = false;
        for (uint32_t j = 0; j < cat->camera_count; j++)
            kept |= strcmp(srv->cat.cameras[i].name, cat->cameras[j].name) == 0;
        if (!kept) {
            cv_http_mse_drop_camera(srv, srv->cat.cameras[i].name);
            cv_http_jpeg_drop_camera(srv, srv->cat.cameras[i].name);
        }
    }
    srv->cat = *cat;
    srv->have_catalogue = true;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < srv->cam_count; i++)
        if (cv_http_camera_exists(srv, srv->cams[i].st.camera))
            srv->cams[keep++] = srv->cams[i];
    srv->cam_count = keep;
    if (cat->log_level <= CV_LOG_ERR)
        cv_log_set_level((enum cv_log_level)cat->log_level);
}

static void cv_http_on_camera_status(struct cv_http_srv *srv, const struct cv_msg_camera_status *st)
{
    struct cv_http_cam *slot = (struct cv_http_cam *)cv_http_cam_find(srv, st->camera);
    if (!slot && srv->cam_count < CV_PROTO_MAX_CAMS)
        slot = &srv->cams[srv->cam_count++];
    if (slot) {
        slot->st = *st;
        slot->have_status = true;
    } else { /* cannot happen while the catalogue is the bound (max_cameras); said if it does */
        cv_warn("camera %s: status table full (%d cameras): status dropped", st->camera,
                CV_PROTO_MAX_CAMS);
    }
}

static int cv_http_on_message(void *ctx, struct cv_msg *m, int *fds, int nfds)
{
    (void)fds;
    (void)nfds;
    struct cv_http_srv *srv = ctx;
    if (m->type == CV_MSG_HTTP_SETTINGS)
        cv_http_on_settings(srv, &m->u.http_settings);
    else if (m->type == CV_MSG_CATALOGUE)
        cv_http_on_catalogue(srv, &m->u.catalogue);
    else if (m->type == CV_MSG_CAMERA_STATUS)
        cv_http_on_camera_status(srv, &m->u.camera_status);
    else if (m->type == CV_MSG_STREAM_RESULT)
        cv_http_api_on_result(srv, &m->u.stream_result);
    else
        cv_warn("unexpected %s message ignored", cv_msg_type_name(m->type));
    return 0;
}

static void cv_http_on_tick(void *ctx, uint64_t now_ms)
{
    cv_http_server_tick(ctx, now_ms);
    cv_http_mse_tick(ctx, now_ms);
    cv_http_api_tick(ctx, now_ms);
    cv_http_jpeg_tick(ctx, now_ms);
}

static const struct cv_consumer_ops cv_http_ops = {
    .role = CV_ROLE_HTTP,
    .on_message = cv_http_on_message,
    .on_tick = cv_http_on_tick,
};

static void cv_http_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                              int salen, void *arg)
{
    (void)l;
    struct cv_http_srv *srv = arg;
    cv_http_conn_accepted(srv, fd, sa, (socklen_t)salen);
}

/* Out of descriptors: pause accepting (clients wait in the backlog) rather than spin. */
static void cv_http_accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct cv_http_srv *srv = arg;
    cv_warn("cannot accept a client: %s (%u connections open); pausing %d ms",
            evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()), srv->conn_count,
            CV_HTTP_ACCEPT_PAUSE_MS);
    evconnlistener_disable(l);
    struct timeval tv = {0, CV_HTTP_ACCEPT_PAUSE_MS * 1000};
    event_add(srv->resume_ev, &tv);
}

static void cv_http_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_http_srv *srv = arg;
    evconnlistener_enable(srv->listener);
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
    srv.resume_ev = event_new(srv.proc.base, -1, 0, cv_http_accept_resume_cb, &srv);
    srv.listener = evconnlistener_new(
        srv.proc.base, cv_http_accept_cb, &srv,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, -1, CV_CHILD_LISTEN_FD);
    if (!srv.resume_ev || !srv.listener) {
        cv_err("cannot set up (no listening socket on fd %d?)", CV_CHILD_LISTEN_FD);
        goto out;
    }
    evconnlistener_set_error_cb(srv.listener, cv_http_accept_error_cb);
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
    evconnlistener_enable(srv.listener);
    while (cv_consumer_step(&srv.proc))
        if (lws_service(srv.lws, 0) < 0)
            break;
    rc = 0;
out:
    if (srv.listener)
        evconnlistener_free(srv.listener);
    if (srv.resume_ev)
        event_free(srv.resume_ev);
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
