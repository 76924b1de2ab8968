/*
 * WebRTC signalling in camvisor-http: go2rtc's shapes (reference/go2rtc.md §1.2, §1.3) and WHEP
 * (RFC 9725), passed to camvisor-webrtc over the peer link (common/consumer/peer.h) as
 * webrtc_offer / webrtc_answer / webrtc_close messages. camvisor-http parses the HTTP and JSON
 * around an offer; the SDP itself is camvisor-webrtc's to read.
 *
 *   POST /api/webrtc?src=N   application/json {"type":"offer","sdp"} -> 200 {"type":"answer",...}
 *                            application/sdp (WHEP) -> 201, Location: the session, whose DELETE
 *                            ends it
 *                            application/x-www-form-urlencoded data=<base64> -> base64 answer
 *                            anything else: raw SDP in, raw SDP out, 200
 *   /api/ws?src=N            webrtc/offer (v1, SDP string) -> webrtc/answer; webrtc (v2,
 *                            {"type":"offer","sdp"}, Home Assistant's) -> webrtc {"type":"answer"};
 *                            webrtc/candidate is taken and ignored (ICE-lite: the answer has
 *                            every candidate); errors as {"type":"error","value":"webrtc: ..."}
 *
 * Server-made offers, for clients that want to answer rather than offer:
 *   POST /api/webrtc?src=N   with an empty body -> 201, our offer (application/sdp) and its
 *                            Location; PATCH Location with the answer (application/sdp) -> 204
 *                            (the server-offer mode of early WHEP drafts)
 *   /api/ws?src=N            webrtc/offer with an empty value -> webrtc/offer (our SDP), answered
 *                            with webrtc/answer (SDP string); webrtc whose value has neither
 *                            sdp nor type offer/answer (none, {}, {"type":"offer_request"}) ->
 *                            webrtc {"type":"offer","sdp"}, answered with webrtc
 *                            {"type":"answer","sdp"}; nothing comes back unless it is an error
 *
 * An offer waits at most CV_HTTP_WEBRTC_WAIT_MS for its answer (the camera's first picture
 * included), then 504; with camvisor-webrtc down, 503 at once. A WebSocket's sessions end with it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/base64.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/query.h"
#include "common/base/sockaddr.h"
#include "consumers/http/http.h"

enum cv_http_webrtc_mode {
    CV_WEBRTC_NONE,
    CV_WEBRTC_JSON,
    CV_WEBRTC_WHEP,
    CV_WEBRTC_FORM,
    CV_WEBRTC_RAW,
    CV_WEBRTC_WS1,
    CV_WEBRTC_WS2
};

static const char *const cv_http_webrtc_kind[] = {"", "json", "whep", "form", "raw", "ws", "ws"};

/* Sends the offer in sdp (len bytes) for camera; the answer completes c's request. With flags,
 * a request for our offer (no sdp) or the client's answer to the offer of session. */
static int cv_http_webrtc_send_offer(struct cv_http_conn *c, const char *camera, const char *sdp,
                                     size_t len, uint32_t flags, const char *session)
{
    struct cv_http_srv *srv = c->srv;
    struct cv_msg *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->type = CV_MSG_WEBRTC_OFFER;
    struct cv_msg_webrtc_offer *o = &m->u.webrtc_offer;
    o->req_id = ++srv->next_req ? srv->next_req : ++srv->next_req;
    snprintf(o->camera, sizeof(o->camera), "%s", camera);
    snprintf(o->kind, sizeof(o->kind), "%s", cv_http_webrtc_kind[c->webrtc_mode]);
    cv_sockaddr_str(&c->peer, o->client, sizeof(o->client));
    char *colon = strrchr(o->client, ':'); /* the address only: caps count per host */
    if (colon && strchr(o->client, '.'))
        *colon = '\0';
    memcpy(o->sdp, sdp, len);
    o->sdp[len] = '\0';
    o->flags = flags;
    snprintf(o->session, sizeof(o->session), "%s", session ? session : "");
    int rc = cv_consumer_peer_send(&srv->proc, CV_ROLE_WEBRTC, m);
    if (rc == 0) {
        c->webrtc_req = o->req_id;
        c->webrtc_since_ms = cv_clock_mono_ms();
        if (camera != c->webrtc_camera)
            snprintf(c->webrtc_camera, sizeof(c->webrtc_camera), "%s", camera);
    }
    free(m);
    return rc;
}

/* ---- POST /api/webrtc ---------------------------------------------------------------------- */

int cv_http_webrtc_post(struct cv_http_conn *c, const struct cv_http_args *args)
{
    const char *src = cv_http_arg(args, "src");
    if (!src || !src[0])
        return cv_http_respond_text(c, 400, "src is required");
    if (!cv_cameras_exists(&c->srv->proc.cams, src))
        return cv_http_respond_text(c, 404, "stream not found");
    if (!cv_consumer_peer_up(&c->srv->proc, CV_ROLE_WEBRTC))
        return cv_http_respond_text(c, 503, "WebRTC is not running ([webrtc] listen)");
    char ctype[128] = "";
    lws_hdr_copy(c->wsi, ctype, sizeof(ctype), WSI_TOKEN_HTTP_CONTENT_TYPE);
    c->webrtc_mode = strncasecmp(ctype, "application/json", 16) == 0  ? CV_WEBRTC_JSON
                     : strncasecmp(ctype, "application/sdp", 15) == 0 ? CV_WEBRTC_WHEP
                     : strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0
                         ? CV_WEBRTC_FORM
                         : CV_WEBRTC_RAW;
    snprintf(c->webrtc_camera, sizeof(c->webrtc_camera), "%s", src);
    c->webrtc_offered[0] = '\0'; /* a POST is an offer, or asks for ours: never an answer */
    char clen[16] = "";
    lws_hdr_copy(c->wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (strcmp(clen, "0") == 0) { /* nothing offered: the client wants our offer */
        c->webrtc_mode = CV_WEBRTC_WHEP;
        if (cv_http_webrtc_send_offer(c, src, "", 0, CV_WEBRTC_WANT_OFFER, NULL) < 0)
            return cv_http_respond_text(c, 503, "WebRTC is not running");
        cv_http_conn_waiting(c, true);
        return 0;
    }
    free(c->req_body);
    c->req_body_len = 0;
    c->req_body = malloc(CV_HTTP_WEBRTC_BODY_MAX + 1);
    if (!c->req_body)
        return cv_http_respond_text(c, 500, "out of memory");
    return 0; /* the body follows: cv_http_webrtc_body(), then cv_http_webrtc_body_done() */
}

int cv_http_webrtc_body(struct cv_http_conn *c, const void *in, size_t len)
{
    if (!c->req_body)
        return 0;
    if (len > CV_HTTP_WEBRTC_BODY_MAX - c->req_body_len)
        return -1; /* the caller answers 413 and closes */
    memcpy(c->req_body + c->req_body_len, in, len);
    c->req_body_len += len;
    return 0;
}

int cv_http_webrtc_body_done(struct cv_http_conn *c)
{
    if (!c->req_body)
        return 0;
    char *body = c->req_body;
    size_t n = c->req_body_len;
    body[n] = '\0';
    c->req_body = NULL;
    char *sdp = malloc(CV_PROTO_SDP_MAX);
    int len = -1;
    if (sdp && c->webrtc_mode == CV_WEBRTC_JSON) {
        char type[16];
        if (cv_ws_json_field(body, n, "type", type, sizeof(type)) >= 0 &&
            strcmp(type, "offer") == 0)
            len = cv_ws_json_field(body, n, "sdp", sdp, CV_PROTO_SDP_MAX);
    } else if (sdp && c->webrtc_mode == CV_WEBRTC_FORM) {
        char *b64 = malloc(CV_HTTP_WEBRTC_BODY_MAX + 1);
        if (b64 && cv_query_get(body, "data", b64, CV_HTTP_WEBRTC_BODY_MAX + 1) == 0)
            len = cv_base64_decode((uint8_t *)sdp, b64, CV_PROTO_SDP_MAX - 1);
        free(b64);
    } else if (sdp && n < CV_PROTO_SDP_MAX) {
        memcpy(sdp, body, n);
        len = (int)n;
    }
    free(body);
    int rc;
    if (len <= 0 || (size_t)len >= CV_PROTO_SDP_MAX || memchr(sdp, '\0', (size_t)len))
        rc = cv_http_respond_text(c, 400, "no SDP offer in the request");
    else if ((rc = cv_http_webrtc_send_offer(c, c->webrtc_camera, sdp, (size_t)len,
                                             c->webrtc_offered[0] ? CV_WEBRTC_CLIENT_ANSWER : 0,
                                             c->webrtc_offered)) < 0)
        rc = cv_http_respond_text(c, 503, "WebRTC is not running");
    else
        cv_http_conn_waiting(c, true);
    free(sdp);
    return rc < 0 ? -1 : 0;
}

/* DELETE of a WHEP session's resource (its Location). */
int cv_http_webrtc_delete(struct cv_http_conn *c, const struct cv_http_args *args)
{
    const char *id = cv_http_arg(args, "id");
    if (!id || !id[0] || strlen(id) >= CV_PROTO_SESSION_MAX)
        return cv_http_respond_text(c, 400, "id is required");
    struct cv_msg m = {.type = CV_MSG_WEBRTC_CLOSE};
    snprintf(m.u.webrtc_close.session, sizeof(m.u.webrtc_close.session), "%s", id);
    if (cv_consumer_peer_send(&c->srv->proc, CV_ROLE_WEBRTC, &m) < 0)
        return cv_http_respond_text(c, 503, "WebRTC is not running");
    return cv_http_respond(c, 200, "text/plain", NULL, 0);
}

/* PATCH of a server-made offer's resource (its Location) with the client's answer. */
int cv_http_webrtc_patch(struct cv_http_conn *c, const struct cv_http_args *args)
{
    const char *id = cv_http_arg(args, "id"), *src = cv_http_arg(args, "src");
    if (!id || !id[0] || strlen(id) >= CV_PROTO_SESSION_MAX || !src || !src[0])
        return cv_http_respond_text(c, 400, "src and id are required");
    if (!cv_consumer_peer_up(&c->srv->proc, CV_ROLE_WEBRTC))
        return cv_http_respond_text(c, 503, "WebRTC is not running ([webrtc] listen)");
    c->webrtc_mode = CV_WEBRTC_RAW;
    snprintf(c->webrtc_camera, sizeof(c->webrtc_camera), "%s", src);
    snprintf(c->webrtc_offered, sizeof(c->webrtc_offered), "%s", id);
    free(c->req_body);
    c->req_body_len = 0;
    c->req_body = malloc(CV_HTTP_WEBRTC_BODY_MAX + 1);
    if (!c->req_body)
        return cv_http_respond_text(c, 500, "out of memory");
    return 0; /* the answer's SDP follows, as a POST's offer does */
}

/* ---- answers ----------------------------------------------------------------------------- */

static void cv_http_webrtc_ws_remember(struct cv_http_conn *c, const char *session)
{
    for (int i = 0; i < CV_HTTP_WS_SESSIONS; i++)
        if (!c->webrtc_sessions[i][0]) {
            snprintf(c->webrtc_sessions[i], sizeof(c->webrtc_sessions[i]), "%s", session);
            return;
        }
}

static int cv_http_webrtc_status(int32_t status)
{
    return status == -ENOENT                       ? 404
           : status == -EBUSY || status == -EMFILE ? 503
           : status == -ETIMEDOUT                  ? 504
           : status == -EINVAL                     ? 400
                                                   : 500;
}

static void cv_http_webrtc_answer_http(struct cv_http_conn *c, const struct cv_msg_webrtc_answer *a)
{
    bool patch = c->webrtc_offered[0] != '\0';
    c->webrtc_offered[0] = '\0';
    if (a->status < 0) {
        cv_http_respond_text(c, (unsigned)cv_http_webrtc_status(a->status), a->reason);
        return;
    }
    size_t n = strnlen(a->sdp, sizeof(a->sdp));
    if (patch) {
        cv_http_respond(c, 204, "text/plain", NULL, 0);
    } else if (c->webrtc_mode == CV_WEBRTC_JSON) {
        struct cv_json j;
        cv_json_init(&j);
        cv_json_obj_open(&j);
        cv_json_kv_str(&j, "type", "answer");
        cv_json_kv_str(&j, "sdp", a->sdp);
        cv_json_obj_close(&j);
        size_t len;
        char *s = cv_json_take(&j, &len);
        if (s)
            cv_http_respond(c, 200, "application/json", s, len);
        else
            cv_http_respond_text(c, 500, "out of memory");
    } else if (c->webrtc_mode == CV_WEBRTC_WHEP) {
        char loc[256];
        snprintf(loc, sizeof(loc), "%s/api/webrtc?src=%s&id=%s", c->srv->set.base_path,
                 c->webrtc_camera, a->session);
        const char *const extra[] = {"location:", loc, NULL};
        cv_http_respond_bytes_h(c, 201, "application/sdp", a->sdp, n, extra);
    } else if (c->webrtc_mode == CV_WEBRTC_FORM) {
        char *b64 = malloc(CV_BASE64_SIZE(n));
        if (b64 && cv_base64_encode(b64, CV_BASE64_SIZE(n), (const uint8_t *)a->sdp, n))
            cv_http_respond(c, 200, "text/plain", b64, strlen(b64));
        else {
            free(b64);
            cv_http_respond_text(c, 500, "out of memory");
        }
    } else {
        cv_http_respond_bytes(c, 200, "application/sdp", a->sdp, n, false);
    }
}

static void cv_http_webrtc_answer_ws(struct cv_http_conn *c, const struct cv_msg_webrtc_answer *a)
{
    bool v2 = c->webrtc_mode == CV_WEBRTC_WS2;
    bool ours = a->flags & CV_WEBRTC_WANT_OFFER, theirs = a->flags & CV_WEBRTC_CLIENT_ANSWER;
    if (a->status < 0) {
        cv_http_ws_error(c, v2 ? "webrtc" : theirs ? "webrtc/answer" : "webrtc/offer", a->reason);
        return;
    }
    if (theirs)
        return; /* the client's answer was taken: nothing to say */
    cv_http_webrtc_ws_remember(c, a->session);
    if (ours)
        snprintf(c->webrtc_offered, sizeof(c->webrtc_offered), "%s", a->session);
    if (!v2) {
        cv_http_ws_text(c, ours ? "webrtc/offer" : "webrtc/answer", a->sdp);
        return;
    }
    struct cv_json j;
    cv_json_init(&j);
    cv_json_obj_open(&j);
    cv_json_kv_str(&j, "type", "webrtc");
    cv_json_key(&j, "value");
    cv_json_obj_open(&j);
    cv_json_kv_str(&j, "type", ours ? "offer" : "answer");
    cv_json_kv_str(&j, "sdp", a->sdp);
    cv_json_obj_close(&j);
    cv_json_obj_close(&j);
    size_t n;
    char *s = cv_json_take(&j, &n);
    if (s && cv_http_send(c, LWS_WRITE_TEXT, s, n) < 0)
        cv_http_conn_drop(c, "too slow");
    free(s);
}

void cv_http_webrtc_on_answer(struct cv_http_srv *srv, const struct cv_msg_webrtc_answer *a)
{
    for (struct cv_http_conn *c = srv->conns; c; c = c->next) {
        if (!c->webrtc_req || c->webrtc_req != a->req_id)
            continue;
        c->webrtc_req = 0;
        bool ws = c->webrtc_mode == CV_WEBRTC_WS1 || c->webrtc_mode == CV_WEBRTC_WS2;
        if (ws) {
            cv_http_webrtc_answer_ws(c, a);
        } else {
            cv_http_conn_waiting(c, false);
            cv_http_webrtc_answer_http(c, a);
        }
        return;
    }
    /* Nobody waits for it (the client left): the session has no signalling, end it. */
    if (a->status == 0) {
        struct cv_msg m = {.type = CV_MSG_WEBRTC_CLOSE};
        snprintf(m.u.webrtc_close.session, sizeof(m.u.webrtc_close.session), "%s", a->session);
        cv_consumer_peer_send(&srv->proc, CV_ROLE_WEBRTC, &m);
    }
}

void cv_http_webrtc_consumers(struct cv_http_srv *srv, struct cv_json *j, const char *camera,
                              unsigned *id)
{
    const struct cv_msg_webrtc_stats *w = &srv->webrtc;
    for (uint32_t i = 0; i < w->count && i < CV_PROTO_MAX_WEBRTC_STATS; i++) {
        const struct cv_msg_webrtc_session *s = &w->sessions[i];
        if (strcmp(s->camera, camera) != 0)
            continue;
        char fmt[32];
        snprintf(fmt, sizeof(fmt), "webrtc/%s", s->kind);
        cv_json_obj_open(j);
        cv_json_kv_u64(j, "id", (*id)++);
        cv_json_kv_str(j, "format_name", fmt);
        cv_json_kv_str(j, "protocol", "udp");
        cv_json_kv_str(j, "remote_addr", s->client);
        cv_json_kv_str(j, "session", s->session);
        cv_json_kv_str(j, "state",
                       s->state == 3   ? "playing"
                       : s->state == 0 ? "waiting"
                                       : "connecting");
        cv_json_kv_u64(j, "bytes_send", s->bytes);
        cv_json_kv_u64(j, "packets_send", s->packets);
        cv_json_kv_u64(j, "packets_lost", s->lost);
        cv_json_kv_u64(j, "jitter", s->jitter);
        cv_json_kv_u64(j, "nacks", s->nacks);
        cv_json_kv_u64(j, "retransmits", s->retransmits);
        cv_json_kv_u64(j, "keyframe_requests", s->keyframe_requests);
        cv_json_obj_close(j);
    }
}

unsigned cv_http_webrtc_viewers(const struct cv_http_srv *srv, const char *camera)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < srv->webrtc.count && i < CV_PROTO_MAX_WEBRTC_STATS; i++)
        n += strcmp(srv->webrtc.sessions[i].camera, camera) == 0;
    return n;
}

/* camvisor-webrtc went away: what waits for it is answered now. */
void cv_http_webrtc_peer_down(struct cv_http_srv *srv)
{
    struct cv_msg_webrtc_answer *a = calloc(1, sizeof(*a));
    if (!a)
        return;
    a->status = -EBUSY;
    snprintf(a->reason, sizeof(a->reason), "camvisor-webrtc restarted: try again");
    for (struct cv_http_conn *c = srv->conns; c; c = c->next) {
        if (!c->webrtc_req)
            continue;
        a->req_id = c->webrtc_req;
        cv_http_webrtc_on_answer(srv, a);
    }
    for (struct cv_http_conn *c = srv->conns; c; c = c->next)
        memset(c->webrtc_sessions, 0, sizeof(c->webrtc_sessions)); /* they died with it */
    srv->webrtc.count = srv->webrtc.total = 0;
    free(a);
}

void cv_http_webrtc_tick(struct cv_http_srv *srv, uint64_t now_ms)
{
    struct cv_msg_webrtc_answer *a = NULL;
    for (struct cv_http_conn *c = srv->conns; c; c = c->next) {
        if (!c->webrtc_req || now_ms - c->webrtc_since_ms < CV_HTTP_WEBRTC_WAIT_MS)
            continue;
        if (!a && !(a = calloc(1, sizeof(*a))))
            return;
        a->req_id = c->webrtc_req;
        a->status = -ETIMEDOUT;
        snprintf(a->reason, sizeof(a->reason), "no answer from camvisor-webrtc in time");
        cv_http_webrtc_on_answer(srv, a);
    }
    free(a);
}

/* ---- WebSocket ------------------------------------------------------------------------------ */

void cv_http_webrtc_ws_message(struct cv_http_conn *c, const struct cv_ws_msg *m)
{
    bool v2 = strcmp(m->type, "webrtc") == 0, v1_answer = strcmp(m->type, "webrtc/answer") == 0;
    if (strcmp(m->type, "webrtc/candidate") == 0)
        return; /* ICE-lite: every candidate of ours is in the answer; theirs are not needed */
    if (!v2 && !v1_answer && strcmp(m->type, "webrtc/offer") != 0) {
        cv_http_ws_error(c, m->type, "unknown request");
        return;
    }
    if (!c->ws_camera[0] || !cv_cameras_exists(&c->srv->proc.cams, c->ws_camera)) {
        cv_http_ws_error(c, m->type, "stream not found");
        return;
    }
    if (c->webrtc_req) {
        cv_http_ws_error(c, m->type, "an offer is already waiting for its answer");
        return;
    }
    /* What the message is: an offer (SDP), a request for ours (no SDP: a v1 offer with an empty
     * value, a v2 one whose value has neither sdp nor an offer/answer type), or the answer to ours.
     */
    char *sdp = malloc(CV_PROTO_SDP_MAX);
    char type[16] = "";
    int len = -1;
    bool empty = m->kind != CV_WS_VALUE_JSON && (m->kind != CV_WS_VALUE_STRING || !m->value_len);
    if (sdp && !v2 && m->kind == CV_WS_VALUE_STRING && m->value_len < CV_PROTO_SDP_MAX) {
        memcpy(sdp, m->value, m->value_len);
        len = (int)m->value_len;
    } else if (sdp && v2 && m->kind == CV_WS_VALUE_JSON) {
        if (cv_ws_json_field(m->value, m->value_len, "type", type, sizeof(type)) < 0 ||
            (strcmp(type, "offer") != 0 && strcmp(type, "answer") != 0))
            type[0] = '\0';
        len = cv_ws_json_field(m->value, m->value_len, "sdp", sdp, CV_PROTO_SDP_MAX);
        empty = len < 0 && !type[0]; /* {"type":"offer"} without sdp is a broken offer */
    }
    bool answer = v1_answer || strcmp(type, "answer") == 0;
    uint32_t flags = answer              ? CV_WEBRTC_CLIENT_ANSWER
                     : len <= 0 && empty ? CV_WEBRTC_WANT_OFFER
                                         : 0;
    c->webrtc_mode = v2 ? CV_WEBRTC_WS2 : CV_WEBRTC_WS1;
    if (answer && !c->webrtc_offered[0])
        cv_http_ws_error(c, m->type, "an answer, but no offer of ours waits for one");
    else if (flags != CV_WEBRTC_WANT_OFFER && (len <= 0 || memchr(sdp, '\0', (size_t)len)))
        cv_http_ws_error(c, m->type, "no SDP in the message");
    else if (cv_http_webrtc_send_offer(c, c->ws_camera, flags == CV_WEBRTC_WANT_OFFER ? "" : sdp,
                                       flags == CV_WEBRTC_WANT_OFFER ? 0 : (size_t)len, flags,
                                       c->webrtc_offered) < 0)
        cv_http_ws_error(c, m->type, "WebRTC is not running");
    else if (answer)
        c->webrtc_offered[0] = '\0';
    free(sdp);
}

/* The WebSocket closes: its sessions still being set up end; those that play go on until the
 * browser closes its PeerConnection (DTLS close_notify) or stops answering consent checks, as
 * with go2rtc, whose own player (video-rtc.js) closes the socket as soon as WebRTC plays. */
void cv_http_webrtc_conn_gone(struct cv_http_conn *c)
{
    free(c->req_body);
    c->req_body = NULL;
    for (int i = 0; i < CV_HTTP_WS_SESSIONS; i++) {
        if (!c->webrtc_sessions[i][0])
            continue;
        struct cv_msg m = {.type = CV_MSG_WEBRTC_CLOSE};
        snprintf(m.u.webrtc_close.session, sizeof(m.u.webrtc_close.session), "%s",
                 c->webrtc_sessions[i]);
        m.u.webrtc_close.with_signalling = 1;
        cv_consumer_peer_send(&c->srv->proc, CV_ROLE_WEBRTC, &m);
        c->webrtc_sessions[i][0] = '\0';
    }
    c->webrtc_req = 0;
}
