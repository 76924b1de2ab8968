/*
 * STUN (RFC 8489, formerly 5389) as an ICE-lite server needs it (RFC 8445 §2.5): camvisor-webrtc
 * answers the Binding requests browsers send to its one UDP port, and asks a public STUN server
 * for its own reflexive address. Pure code: no sockets, no allocation of ours (OpenSSL's HMAC()
 * allocates internally); the input is untrusted network bytes and every length is checked.
 *
 * What the server does with a datagram, in this order (RFC 8489 §6.3, RFC 8445 §7.3):
 *   cv_stun_is_stun()            demux against DTLS and RTP (RFC 7983); not STUN: not ours
 *   cv_stun_parse()              -EBADMSG: drop silently
 *   not a Binding request        drop (ICE-lite sends no checks, so answers nobody's response)
 *   no FINGERPRINT, or bad       drop (ICE requires it on every check, RFC 8445 §7)
 *   no USERNAME or no M-I        400, without MESSAGE-INTEGRITY
 *   cv_stun_split_username()     the local ufrag finds the session; none: 401
 *   cv_stun_check_integrity()    key: that session's local ICE password; failed: 401
 *   unknown_count != 0           420 (lists them), with MESSAGE-INTEGRITY
 *   cv_stun_build_binding_success() with the datagram's source address and the same password.
 * Role conflicts (487) and nominations (use_candidate) are the ICE agent's business, not ours.
 *
 * And what it does to learn its server-reflexive address (RFC 8445 §5.1.1.2), when
 * `[webrtc] ice_servers` names a STUN server:
 *   cv_stun_server_parse()          the setting -> host and port to resolve
 *   cv_stun_build_binding_request() sent from the ICE socket, with a fresh random tid
 *   cv_stun_read_mapped()           a response with that tid -> the srflx candidate's address
 *
 * Only short-term credentials (MESSAGE-INTEGRITY, HMAC-SHA1, key = the password as is) are
 * handled: ICE uses nothing else. MESSAGE-INTEGRITY-SHA256 and the long-term mechanism (REALM,
 * NONCE, USERHASH) are comprehension-required attributes we do not know: they count as unknown.
 */
#ifndef CV_STUN_H
#define CV_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CV_STUN_HEADER_LEN   20
#define CV_STUN_TID_LEN      12
#define CV_STUN_MAGIC_COOKIE 0x2112A442u
#define CV_STUN_MAX_USERNAME 512 /* RFC 5389 §15.3: "less than 513 bytes" */
#define CV_STUN_MAX_UNKNOWN  8   /* unknown comprehension-required types kept for a 420 */
/*
 * MESSAGE-INTEGRITY is checked over a stack copy of the message up to it (the length field must
 * be changed first and the packet is const); this bounds that copy. STUN over UDP fits the path
 * MTU (RFC 8489 §6.2.1), a browser's check is about 100 bytes.
 */
#define CV_STUN_MAX_SIGNED_LEN 2048

/* Methods (12 bits) and classes (2 bits) of the message type. */
#define CV_STUN_BINDING 0x001
enum cv_stun_class {
    CV_STUN_REQUEST = 0,
    CV_STUN_INDICATION = 1,
    CV_STUN_SUCCESS = 2,
    CV_STUN_ERROR = 3,
};

/* Attribute types; 0x0000-0x7fff are comprehension-required, 0x8000-0xffff optional. */
#define CV_STUN_ATTR_MAPPED_ADDRESS     0x0001
#define CV_STUN_ATTR_USERNAME           0x0006
#define CV_STUN_ATTR_MESSAGE_INTEGRITY  0x0008
#define CV_STUN_ATTR_ERROR_CODE         0x0009
#define CV_STUN_ATTR_UNKNOWN_ATTRIBUTES 0x000A
#define CV_STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define CV_STUN_ATTR_PRIORITY           0x0024 /* RFC 8445 §16.1 */
#define CV_STUN_ATTR_USE_CANDIDATE      0x0025
#define CV_STUN_ATTR_SOFTWARE           0x8022
#define CV_STUN_ATTR_FINGERPRINT        0x8028
#define CV_STUN_ATTR_ICE_CONTROLLED     0x8029
#define CV_STUN_ATTR_ICE_CONTROLLING    0x802A

/*
 * A parsed message. Of an attribute that appears several times the first counts (RFC 8489 §14);
 * attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored (§14.5).
 */
struct cv_stun_msg {
    uint16_t method; /* CV_STUN_BINDING, ... */
    uint8_t cls;     /* enum cv_stun_class */
    uint8_t tid[CV_STUN_TID_LEN];
    size_t len; /* the whole message: header and attributes */
    /* USERNAME: points into the packet (valid while it is), not NUL-terminated; NULL if absent */
    const uint8_t *username;
    size_t username_len;
    size_t integrity_off; /* offset of the MESSAGE-INTEGRITY attribute, 0 when absent */
    bool has_fingerprint;
    bool fingerprint_ok; /* the CRC-32 matched (checked by cv_stun_parse) */
    bool has_priority;
    bool use_candidate;
    bool ice_controlling;
    bool ice_controlled;
    uint32_t priority;
    uint64_t tiebreaker; /* of the first ICE-CONTROLLING or ICE-CONTROLLED */
    /*
     * XOR-MAPPED-ADDRESS (a sockaddr_in or sockaddr_in6), or, in a message without one,
     * MAPPED-ADDRESS, which RFC 8489 §14.1 keeps for servers older than RFC 5389; mapped_plain
     * says it is that one.
     */
    bool has_mapped;
    bool mapped_plain;
    struct sockaddr_storage mapped;
    uint16_t error_code; /* ERROR-CODE, 300..699; 0 when absent */
    /* Comprehension-required types we do not understand (the first CV_STUN_MAX_UNKNOWN). */
    unsigned unknown_count;
    uint16_t unknown[CV_STUN_MAX_UNKNOWN];
};

/*
 * RFC 7983 demultiplexing plus the header checks: first byte 0..3, at least a header, the magic
 * cookie, and a length field that is a multiple of 4 and accounts for exactly len bytes (one
 * datagram is one message).
 */
bool cv_stun_is_stun(const uint8_t *p, size_t len);

/*
 * Parses one message (failing cv_stun_is_stun is -EBADMSG) and checks its FINGERPRINT. 0, or
 * -EBADMSG for a bad header or attribute length, a known attribute of the wrong size or content,
 * or a FINGERPRINT that is not last; *m is then zeroed. Unknown comprehension-optional
 * attributes are skipped; unknown comprehension-required ones are listed, not an error (the
 * caller answers 420 to a request).
 */
int cv_stun_parse(const uint8_t *p, size_t len, struct cv_stun_msg *m);

/*
 * Verifies the MESSAGE-INTEGRITY of a message that cv_stun_parse() read into m: HMAC-SHA1 keyed
 * with key over the message up to that attribute, with the length field as if the message
 * ended after it (RFC 8489 §14.5), compared in constant time. 0 when it matches; -ENOENT when
 * there is none (answer 400); -EACCES when it does not match (answer 401); -EMSGSIZE when it
 * sits past CV_STUN_MAX_SIGNED_LEN; -EINVAL for m not of this packet; -EIO if OpenSSL fails.
 */
int cv_stun_check_integrity(const uint8_t *p, size_t len, const struct cv_stun_msg *m,
                            const void *key, size_t key_len);

/* The two halves of an ICE USERNAME "<recipient ufrag>:<sender ufrag>"; they point into it. */
struct cv_stun_ufrags {
    const char *local; /* ours: the session it is for */
    size_t local_len;
    const char *remote; /* the browser's */
    size_t remote_len;
};

/*
 * Splits m's USERNAME at its first ':' (RFC 8445 §7.2.2). Both halves must be non-empty ice-chars
 * (ALPHA, DIGIT, '+', '/': RFC 8839 §5.4), so they are safe to log and compare. 0, -ENOENT when
 * there is no USERNAME, -EBADMSG when it is not of that form.
 */
int cv_stun_split_username(const struct cv_stun_msg *m, struct cv_stun_ufrags *out);

/*
 * Builders. Each writes into out[0..size) and returns the message length, or -ENOSPC when it
 * does not fit (size, or a STUN message's 16-bit length); nothing is written past size.
 */

/*
 * The success response to a Binding request: same transaction id, XOR-MAPPED-ADDRESS of mapped
 * (AF_INET or AF_INET6; an IPv4-mapped IPv6 address, as a dual-stack socket reports an IPv4
 * peer, is sent as IPv4), MESSAGE-INTEGRITY with key unless key is NULL, and FINGERPRINT.
 * -EINVAL when req is not a Binding request; -EAFNOSUPPORT for another family.
 */
int cv_stun_build_binding_success(uint8_t *out, size_t size, const struct cv_stun_msg *req,
                                  const struct sockaddr_storage *mapped, const void *key,
                                  size_t key_len);

/*
 * The error response to a request of any method: ERROR-CODE code (300..699) with reason (NULL:
 * RFC 8489's phrase for the code), for 420 UNKNOWN-ATTRIBUTES listing req->unknown, then
 * MESSAGE-INTEGRITY with key unless key is NULL (a 400 or 401 answering a request whose
 * integrity failed must not have one: RFC 8489 §9.1.3), and FINGERPRINT. -EINVAL when req is
 * not a request, or for a bad code or a reason over 509 bytes (RFC 8489 §14.8).
 */
int cv_stun_build_error(uint8_t *out, size_t size, const struct cv_stun_msg *req, int code,
                        const char *reason, const void *key, size_t key_len);

/*
 * A bare Binding request (20 bytes: the header with the magic cookie, no attributes) to learn
 * our reflexive address from a STUN server, as RFC 8489 §6.1 and RFC 8445 §5.1.1.2 describe it:
 * no credentials (a public server has none to check) and no FINGERPRINT (optional there: it
 * tells STUN from other protocols sharing a port, and a server's port carries only STUN). The
 * caller draws tid from a CSPRNG, keeps it, and hands it to cv_stun_read_mapped().
 */
int cv_stun_build_binding_request(uint8_t *out, size_t size, const uint8_t tid[CV_STUN_TID_LEN]);

/*
 * Reads the answer to that request: p, len is one datagram from the STUN server. 0 when it is
 * a Binding success response with transaction id tid that carries our address, copied to *out
 * (a sockaddr_in or sockaddr_in6, port included): XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS.
 * -ENOENT for STUN that is not that answer (another tid, another method, a request, an
 * indication, an error response: see its error_code with cv_stun_parse() to log it); keep
 * waiting. -EBADMSG for what is not a valid STUN message (cv_stun_parse() fails, or its
 * FINGERPRINT does not match), or is that answer without an address. MESSAGE-INTEGRITY is not
 * checked (we sent no credentials). Unknown comprehension-required attributes are ignored, not
 * fatal as RFC 8489 §6.3.3 has it: they cannot change what a Binding response's address means,
 * and a server kept compatible with RFC 3489 may add its SOURCE-ADDRESS or CHANGED-ADDRESS
 * (0x0004, 0x0005). *out is zeroed unless 0.
 */
int cv_stun_read_mapped(const uint8_t *p, size_t len, const uint8_t tid[CV_STUN_TID_LEN],
                        struct sockaddr_storage *out);

#define CV_STUN_SERVER_PORT      3478 /* RFC 8489 §18.1, when a stun: URI names none */
#define CV_STUN_SERVER_HOST_SIZE 256  /* enough for any host cv_stun_server_parse() returns */

/*
 * Picks the STUN server out of an ice_servers setting: a list separated by commas and/or white
 * space whose entries are go2rtc's forms "stun:host:port", "stun:host" (port 3478),
 * "stun:[IPv6]:port", "stun:[IPv6]", or "host:port" / "[IPv6]:port" / "host" without a scheme.
 * The first such entry counts; "stuns:", "turn:" and "turns:" entries (STUN over TLS, TURN:
 * neither supported) are skipped, schemes compared without case. On 0, host holds a DNS name,
 * IPv4 or IPv6 literal (without brackets, NUL-terminated) and *port the port. -ENOENT when the
 * list has no entry we could use (empty, or only skipped ones); -EINVAL for a malformed entry
 * met first (bad host characters, an unbracketed IPv6 address, a port not 1..65535, a path or
 * query); -ENAMETOOLONG when host does not fit hostsize. Unless 0, *port is 0 and host ""
 * (when hostsize allows).
 */
int cv_stun_server_parse(const char *text, char *host, size_t hostsize, uint16_t *port);

/*
 * The pieces the builders above are made of, for other messages (tests build ICE checks with
 * them). cv_stun_begin writes a header with no attributes (-EINVAL for a method over 12 bits or
 * a class over 3). cv_stun_put_attr appends one attribute after the len bytes already written,
 * zero-padded, and updates the length field. cv_stun_finish appends MESSAGE-INTEGRITY (unless
 * key is NULL) and FINGERPRINT. Each returns the new length, -ENOSPC, or -EINVAL for a len that
 * is not a message being built (under a header, not a multiple of 4, past size); cv_stun_finish
 * -EIO if OpenSSL fails.
 */
int cv_stun_begin(uint8_t *out, size_t size, uint16_t method, uint8_t cls,
                  const uint8_t tid[CV_STUN_TID_LEN]);
int cv_stun_put_attr(uint8_t *out, size_t size, size_t len, uint16_t type, const void *val,
                     size_t val_len);
int cv_stun_finish(uint8_t *out, size_t size, size_t len, const void *key, size_t key_len);

#endif
