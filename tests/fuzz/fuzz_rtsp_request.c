/*
 * What camvisor-rtsp does with a client's bytes: split them into interleaved frames and RTSP
 * requests, then parse each request's Transport, Session, Range, Authorization and URI. Checked
 * beyond "no crash": consumed never exceeds the input, a body lies inside it, every parsed string
 * is NUL-terminated inside the message, and a formatted Transport parses back to itself.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/net/rtsp-auth.h"
#include "common/base/query.h"
#include "common/net/rtsp-msg.h"
#include "common/net/rtsp-transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cv_rtsp_msg msg;

static void check_str(const char *s)
{
    const char *end = msg.strbuf + sizeof(msg.strbuf);
    if (s && (s < msg.strbuf || s >= end || !memchr(s, '\0', (size_t)(end - s))))
        abort();
}

static void transport(const char *v)
{
    static const unsigned masks[] = {CV_RTSP_ACCEPT_ANY, CV_RTSP_ACCEPT_TCP, CV_RTSP_ACCEPT_UDP};
    struct cv_rtsp_transport t, t2;
    char out[256];

    for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        if (cv_rtsp_transport_parse(v, masks[i], &t) < 0)
            continue;
        int n = cv_rtsp_transport_format(&t, out, sizeof(out));
        if (n < 0 || (size_t)n != strlen(out))
            abort();
        if (cv_rtsp_transport_parse(out, CV_RTSP_ACCEPT_ANY, &t2) < 0 || t2.lower != t.lower ||
            t2.multicast != t.multicast || t2.has_interleaved != t.has_interleaved ||
            memcmp(t.interleaved, t2.interleaved, 2) != 0 || t2.has_ssrc != t.has_ssrc ||
            t2.ssrc != t.ssrc || t2.mode != t.mode || t2.has_client_port != t.has_client_port ||
            memcmp(t.client_port, t2.client_port, sizeof(t.client_port)) != 0)
            abort();
        if (cv_rtsp_transport_format(&t, out, (size_t)n) != -E2BIG)
            abort();
    }
}

static void authorization(const char *v, const char *method)
{
    struct cv_rtsp_credentials cr;
    struct cv_rtsp_challenge c;

    if (cv_rtsp_auth_credentials_parse(v, &cr) == 0) {
        int rc = cv_rtsp_auth_verify(&cr, method, cr.realm, cr.nonce, cr.username, "secret");
        if (rc != 0 && rc != -EACCES)
            abort();
    }
    cv_rtsp_auth_challenge_parse(v, &c); /* the same grammar, another reader */
}

static void request(void)
{
    char id[64], path[256], query[256], k[64], val[64];
    unsigned timeout;
    double start, end;
    const char *v;

    check_str(msg.method_str);
    check_str(msg.uri);
    check_str(msg.version);
    check_str(msg.reason);
    for (unsigned i = 0; i < msg.header_count; i++) {
        check_str(msg.headers[i].name);
        check_str(msg.headers[i].value);
    }
    if ((v = cv_rtsp_msg_header(&msg, "Transport")))
        transport(v);
    if ((v = cv_rtsp_msg_header(&msg, "Session")))
        cv_rtsp_session_parse(v, id, sizeof(id), &timeout);
    if ((v = cv_rtsp_msg_header(&msg, "Range")))
        cv_rtsp_range_parse(v, &start, &end);
    if ((v = cv_rtsp_msg_header(&msg, "Authorization")))
        authorization(v, msg.method_str ? msg.method_str : "OPTIONS");
    if (msg.uri && cv_rtsp_url_split(msg.uri, path, sizeof(path), query, sizeof(query)) == 0) {
        const char *cur = query;
        for (int i = 0; i < 64 && cv_query_next(&cur, k, sizeof(k), val, sizeof(val)) != -ENOENT;
             i++)
            ;
    }
}

#define SERVER_IN 16384 /* camvisor-rtsp's input buffer per connection (consumers/rtsp/rtsp.h) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;

    /* The server's input loop (consumers/rtsp/conn.c) over a connection's bytes. */
    while (pos < size) {
        struct cv_rtsp_item it;
        int rc = cv_rtsp_next_item(data + pos, size - pos, SERVER_IN, &msg, &it);
        if (rc == -EPROTONOSUPPORT) {
            request();
            break;
        }
        if (rc < 0)
            break;
        if (it.size == 0 || it.size > size - pos)
            abort();
        if (it.is_data && (it.data != data + pos + 4 || it.data_len + 4 != it.size))
            abort();
        if (!it.is_data) {
            if (msg.body_len &&
                (msg.body < data + pos || msg.body + msg.body_len > data + pos + it.size))
                abort();
            request();
        }
        pos += it.size;
    }
    return 0;
}
