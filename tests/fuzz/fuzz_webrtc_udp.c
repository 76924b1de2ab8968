/*
 * camvisor-webrtc's UDP input (consumers/webrtc/session.c) on any datagram: the demultiplexing
 * by first byte (RFC 7983), STUN checks against a live session, DTLS records into a real
 * OpenSSL server handshake, SRTCP from an address that is or is not the session's. The first
 * input byte says where the datagram comes from (the session's address or another); the rest is
 * the datagram. Checked beyond "no crash": nothing is ever sent to an address that did not pass
 * a check (the socket is one end of a pair whose other end is read here), and a datagram from
 * another address never changes the session.
 */
#include <event2/event.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "consumers/webrtc/webrtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cv_webrtc_srv srv;
static struct cv_webrtc_session sess;
static int out_peer = -1;

static void cv_fuzz_noop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static int cv_fuzz_send(void *arg, const uint8_t *p, size_t n)
{
    struct cv_webrtc_session *s = arg;
    return sendto(s->srv->udp, p, n, MSG_DONTWAIT, (struct sockaddr *)&s->addr, s->addrlen) < 0 ? -1
                                                                                                : 0;
}

static void cv_fuzz_setup(void)
{
    int sv[2];
    /* A closed session asks the skeleton for a reap: it needs the loop's event. */
    srv.proc.base = event_base_new();
    srv.proc.reap_ev = event_new(srv.proc.base, -1, 0, cv_fuzz_noop, NULL);
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) < 0 || cv_dtls_ctx_init(&srv.dtls))
        abort();
    srv.udp = sv[0]; /* sendto() on a connected datagram socket goes to sv[1] whatever the
                      * address: what the code sends can be counted */
    out_peer = sv[1];
    cv_srtp_library_init();
}

static void cv_fuzz_session(void)
{
    cv_dtls_conn_fini(&sess.dtls);
    memset(&sess, 0, sizeof(sess));
    sess.srv = &srv;
    sess.state = CV_WEBRTC_DTLS;
    memcpy(sess.ufrag, "abcdEFGH", 9);
    memcpy(sess.pwd, "0123456789abcdefABCDEF0123456789", 33);
    struct sockaddr_in *in = (struct sockaddr_in *)&sess.addr;
    in->sin_family = AF_INET;
    in->sin_port = htons(50000);
    in->sin_addr.s_addr = htonl(0x7f000001);
    sess.addrlen = sizeof(*in);
    sess.have_addr = true;
    if (cv_dtls_conn_init(&sess.dtls, &srv.dtls, cv_fuzz_send, &sess) < 0)
        abort();
    srv.sessions = &sess;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (out_peer < 0)
        cv_fuzz_setup();
    if (size < 1)
        return 0;
    cv_fuzz_session();
    struct sockaddr_storage from = sess.addr;
    bool stranger = data[0] & 1;
    if (stranger)
        ((struct sockaddr_in *)&from)->sin_port = htons(40000);
    struct cv_webrtc_session before = sess;
    cv_webrtc_input(&srv, data + 1, size - 1, &from, sizeof(struct sockaddr_in), NULL);
    char buf[4096];
    ssize_t n = recv(out_peer, buf, sizeof(buf), MSG_DONTWAIT);
    if (stranger && n >= 0)
        abort(); /* answered a stranger: only a valid check is ever answered */
    if (stranger && (sess.state != before.state || sess.dead != before.dead))
        abort();
    while (recv(out_peer, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
        ;
    return 0;
}
