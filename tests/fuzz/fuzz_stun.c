/*
 * STUN on any bytes, the way camvisor-webrtc reads a datagram on its ICE port: demux, parse,
 * check MESSAGE-INTEGRITY against a fixed password, split the USERNAME. Checked beyond "no
 * crash": parse agrees with the demux test, pointers stay inside the input, and every request
 * that parses is answered (a Binding success to a Binding request, an error response to any
 * request) with an answer that parses back with the same transaction id, mapped address and
 * error code, and verifies with the password.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "common/net/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char key[] = "VOkJxbRl1RmTxUk/WvJxBt"; /* RFC 5769's, so its vectors verify */
#define KEY_LEN (sizeof(key) - 1)

static struct cv_stun_msg m, back;
static uint8_t out[1024];

static bool inside(const void *p, size_t n, const void *start, size_t len)
{
    const uint8_t *b = p, *s = start;
    return b >= s && n <= len && b - s <= (ptrdiff_t)(len - n);
}

/* The address a success response must carry for peer: an IPv4-mapped IPv6 one goes as IPv4. */
static void expect_mapped(const struct sockaddr_storage *peer, const struct cv_stun_msg *got)
{
    uint8_t ip[16];
    uint16_t port;
    int family = peer->ss_family;
    size_t n;

    if (family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)peer;
        memcpy(ip, &a->sin_addr, 4);
        port = a->sin_port;
        n = 4;
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)peer;
        memcpy(ip, a->sin6_addr.s6_addr, 16);
        port = a->sin6_port;
        n = 16;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            memmove(ip, ip + 12, 4);
            family = AF_INET;
            n = 4;
        }
    }
    if (!got->has_mapped || got->mapped.ss_family != family)
        abort();
    if (family == AF_INET) {
        const struct sockaddr_in *g = (const struct sockaddr_in *)&got->mapped;
        if (g->sin_port != port || memcmp(&g->sin_addr, ip, n) != 0)
            abort();
    } else {
        const struct sockaddr_in6 *g = (const struct sockaddr_in6 *)&got->mapped;
        if (g->sin6_port != port || memcmp(g->sin6_addr.s6_addr, ip, n) != 0)
            abort();
    }
}

static void same_transaction(const struct cv_stun_msg *req, const struct cv_stun_msg *resp,
                             uint8_t cls)
{
    if (resp->cls != cls || resp->method != req->method ||
        memcmp(resp->tid, req->tid, CV_STUN_TID_LEN) != 0 || !resp->has_fingerprint ||
        !resp->fingerprint_ok)
        abort();
}

static void answer(const struct cv_stun_msg *req)
{
    /* Where the request came from: its own XOR-MAPPED-ADDRESS if any, else a fixed peer. */
    struct sockaddr_storage peer;
    memset(&peer, 0, sizeof(peer));
    if (req->has_mapped) {
        peer = req->mapped;
    } else if (req->tid[0] & 1) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(50000)};
        memcpy(a.sin6_addr.s6_addr, req->tid, CV_STUN_TID_LEN);
        memcpy(&peer, &a, sizeof(a));
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(50000)};
        memcpy(&a.sin_addr, req->tid, 4);
        memcpy(&peer, &a, sizeof(a));
    }

    int n = cv_stun_build_binding_success(out, sizeof(out), req, &peer, key, KEY_LEN);
    if (req->method != CV_STUN_BINDING) {
        if (n != -EINVAL)
            abort();
    } else {
        if (n <= 0 || cv_stun_parse(out, (size_t)n, &back) < 0)
            abort();
        same_transaction(req, &back, CV_STUN_SUCCESS);
        expect_mapped(&peer, &back);
        if (cv_stun_check_integrity(out, (size_t)n, &back, key, KEY_LEN) != 0)
            abort();
    }

    /* An error, with or without integrity as the code calls for. */
    static const int codes[] = {400, 401, 487, 500};
    int code = req->unknown_count ? 420 : codes[req->tid[1] & 3];
    bool with_mi = code == 420 || code == 487;
    n = cv_stun_build_error(out, sizeof(out), req, code, NULL, with_mi ? key : NULL,
                            with_mi ? KEY_LEN : 0);
    if (n <= 0 || cv_stun_parse(out, (size_t)n, &back) < 0)
        abort();
    same_transaction(req, &back, CV_STUN_ERROR);
    if (back.error_code != code || back.unknown_count != 0 ||
        cv_stun_check_integrity(out, (size_t)n, &back, key, KEY_LEN) != (with_mi ? 0 : -ENOENT))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The client side: a response to the request we sent (tid = the input's own, when it has
     * one), and the ice_servers setting read from the same bytes as text. */
    struct sockaddr_storage ss;
    if (size >= CV_STUN_HEADER_LEN && cv_stun_read_mapped(data, size, data + 8, &ss) == 0 &&
        ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
        abort();
    char text[300], host[CV_STUN_SERVER_HOST_SIZE];
    size_t tl = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, tl);
    text[tl] = '\0';
    uint16_t port = 0;
    if (cv_stun_server_parse(text, host, sizeof(host), &port) == 0 && (port == 0 || !host[0]))
        abort();

    bool stun = cv_stun_is_stun(data, size);
    int rc = cv_stun_parse(data, size, &m);
    int ic = cv_stun_check_integrity(data, size, &m, key, KEY_LEN);

    if (rc < 0) {
        if (rc != -EBADMSG || ic != -ENOENT) /* a refused message is zeroed */
            abort();
        return 0;
    }
    if (!stun || m.len != size || m.cls > CV_STUN_ERROR || m.method > 0xfff ||
        m.unknown_count > CV_STUN_MAX_UNKNOWN || (m.fingerprint_ok && !m.has_fingerprint) ||
        (m.username && !inside(m.username, m.username_len, data, size)) ||
        m.username_len > CV_STUN_MAX_USERNAME)
        abort();
    if (!(ic == 0 || ic == -EACCES || ic == -EMSGSIZE || (ic == -ENOENT && !m.integrity_off)))
        abort();

    struct cv_stun_ufrags u;
    if (cv_stun_split_username(&m, &u) == 0) {
        if (!u.local_len || !u.remote_len || u.local != (const char *)m.username ||
            u.local_len + 1 + u.remote_len != m.username_len || u.local[u.local_len] != ':' ||
            memchr(u.local, ':', u.local_len) || memchr(u.remote, ':', u.remote_len))
            abort();
    }

    if (m.cls == CV_STUN_REQUEST) {
        answer(&m);
    } else {
        /* Nobody answers a response or an indication. */
        struct sockaddr_storage any = {.ss_family = AF_INET};
        if (cv_stun_build_binding_success(out, sizeof(out), &m, &any, NULL, 0) != -EINVAL ||
            cv_stun_build_error(out, sizeof(out), &m, 400, NULL, NULL, 0) != -EINVAL)
            abort();
    }
    return 0;
}
