/*
 * STUN messages (see stun.h): one walk over the attributes that keeps pointers into the packet,
 * MESSAGE-INTEGRITY through OpenSSL's HMAC(), FINGERPRINT through a bitwise CRC-32, and writers
 * that build a message in the caller's buffer, fixing the header's length field as they go.
 *
 * A message is 32-bit aligned throughout: the header is 20 bytes, the length field a multiple
 * of 4, and every attribute padded to 4. So once cv_stun_is_stun() holds, the walk only has to
 * check that each attribute (padding included) fits what is left.
 */
#include "common/net/stun.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define FINGERPRINT_XOR 0x5354554eu /* "STUN" (RFC 8489 §14.7) */
#define MI_LEN          20          /* HMAC-SHA1 */
#define MAX_REASON      509         /* bytes of ERROR-CODE reason we send (RFC 8489 §14.8) */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/*
 * CRC-32 of ISO 3309 / ITU-T V.42 (zlib's), bit by bit: zlib is not linked and OpenSSL has no
 * public CRC. A check is about 100 bytes, so 8 shifts a byte cost nothing worth a table.
 */
static uint32_t crc32_v42(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static int hmac_sha1(const void *key, size_t key_len, const uint8_t *d, size_t n,
                     uint8_t mac[MI_LEN])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;

    if (key_len > INT_MAX)
        return -EINVAL;
    /* HMAC() wants a pointer even for an empty key. */
    if (!HMAC(EVP_sha1(), key_len ? key : "", (int)key_len, d, n, md, &md_len) || md_len != MI_LEN)
        return -EIO;
    memcpy(mac, md, MI_LEN);
    return 0;
}

/* --- parsing ------------------------------------------------------------------------------ */

bool cv_stun_is_stun(const uint8_t *p, size_t len)
{
    if (len < CV_STUN_HEADER_LEN || p[0] > 3)
        return false;
    size_t body = rd16(p + 2);
    return (body & 3) == 0 && body == len - CV_STUN_HEADER_LEN &&
           rd32(p + 4) == CV_STUN_MAGIC_COOKIE;
}

/*
 * Decodes a MAPPED-ADDRESS (tid NULL) or XOR-MAPPED-ADDRESS value into *out (RFC 8489 §14.1,
 * §14.2). The XOR variant masks the port with the cookie's top half and the address with the
 * cookie followed by the transaction id (an IPv4 address uses only the cookie).
 */
static int get_address(const uint8_t *v, size_t n, const uint8_t *tid, struct sockaddr_storage *out)
{
    uint8_t mask[16] = {0};

    if (n < 4)
        return -EBADMSG;
    if (tid) {
        wr32(mask, CV_STUN_MAGIC_COOKIE);
        memcpy(mask + 4, tid, CV_STUN_TID_LEN);
    }
    uint16_t port = rd16(v + 2) ^ rd16(mask);
    memset(out, 0, sizeof(*out));
    if (v[1] == 0x01 && n == 8) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        uint8_t *ip = (uint8_t *)&a.sin_addr.s_addr;
        for (int i = 0; i < 4; i++)
            ip[i] = v[4 + i] ^ mask[i];
        memcpy(out, &a, sizeof(a));
        return 0;
    }
    if (v[1] == 0x02 && n == 20) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
        for (int i = 0; i < 16; i++)
            a.sin6_addr.s6_addr[i] = v[4 + i] ^ mask[i];
        memcpy(out, &a, sizeof(a));
        return 0;
    }
    return -EBADMSG;
}

/*
 * Either address attribute. The first of each kind counts, and XOR-MAPPED-ADDRESS wins over
 * MAPPED-ADDRESS wherever they sit: the plain one is rewritten by NATs that "fix" addresses in
 * payloads, which is why RFC 5389 added the XOR one.
 */
static int take_address(struct cv_stun_msg *m, uint16_t type, const uint8_t *v, size_t n)
{
    bool plain = type == CV_STUN_ATTR_MAPPED_ADDRESS;
    struct sockaddr_storage a;

    int rc = get_address(v, n, plain ? NULL : m->tid, &a);
    if (rc < 0)
        return rc;
    if (!m->has_mapped || (m->mapped_plain && !plain)) {
        m->has_mapped = true;
        m->mapped_plain = plain;
        m->mapped = a;
    }
    return 0;
}

/* One attribute before MESSAGE-INTEGRITY (or of a message without one). */
static int take_attr(struct cv_stun_msg *m, uint16_t type, const uint8_t *v, size_t n)
{
    switch (type) {
    case CV_STUN_ATTR_USERNAME:
        if (n > CV_STUN_MAX_USERNAME)
            return -EBADMSG;
        if (!m->username) {
            m->username = v;
            m->username_len = n;
        }
        return 0;
    case CV_STUN_ATTR_MESSAGE_INTEGRITY:
        return n == MI_LEN ? 0 : -EBADMSG; /* the caller notes where it is */
    case CV_STUN_ATTR_PRIORITY:
        if (n != 4)
            return -EBADMSG;
        if (!m->has_priority) {
            m->has_priority = true;
            m->priority = rd32(v);
        }
        return 0;
    case CV_STUN_ATTR_USE_CANDIDATE:
        if (n != 0)
            return -EBADMSG;
        m->use_candidate = true;
        return 0;
    case CV_STUN_ATTR_ICE_CONTROLLING:
    case CV_STUN_ATTR_ICE_CONTROLLED:
        if (n != 8)
            return -EBADMSG;
        if (!m->ice_controlling && !m->ice_controlled)
            m->tiebreaker = (uint64_t)rd32(v) << 32 | rd32(v + 4);
        if (type == CV_STUN_ATTR_ICE_CONTROLLING)
            m->ice_controlling = true;
        else
            m->ice_controlled = true;
        return 0;
    case CV_STUN_ATTR_XOR_MAPPED_ADDRESS:
    case CV_STUN_ATTR_MAPPED_ADDRESS: return take_address(m, type, v, n);
    case CV_STUN_ATTR_ERROR_CODE: {
        /* 21 reserved bits, class 3..6 in 3 bits, number 0..99, then the reason phrase */
        if (n < 4 || (v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99)
            return -EBADMSG;
        if (!m->error_code)
            m->error_code = (uint16_t)((v[2] & 7) * 100 + v[3]);
        return 0;
    }
    case CV_STUN_ATTR_UNKNOWN_ATTRIBUTES:
        /* Understood, not needed: a 420 answering us lists what it did not know, nothing we
         * can act on (our Binding request has no attributes). */
        return 0;
    default:
        if (type < 0x8000) {
            if (m->unknown_count < CV_STUN_MAX_UNKNOWN)
                m->unknown[m->unknown_count++] = type;
        }
        return 0;
    }
}

static int parse_attrs(const uint8_t *p, size_t len, struct cv_stun_msg *m)
{
    size_t pos = CV_STUN_HEADER_LEN;

    while (pos < len) {
        if (len - pos < 4)
            return -EBADMSG;
        uint16_t type = rd16(p + pos);
        size_t n = rd16(p + pos + 2);
        if (pad4(n) > len - pos - 4)
            return -EBADMSG;
        if (m->has_fingerprint)
            return -EBADMSG; /* it must be the last attribute (RFC 8489 §14.7) */
        const uint8_t *v = p + pos + 4;
        if (type == CV_STUN_ATTR_FINGERPRINT) {
            if (n != 4)
                return -EBADMSG;
            /* The length field already counts the FINGERPRINT, since it is last. */
            m->has_fingerprint = true;
            m->fingerprint_ok = rd32(v) == (crc32_v42(p, pos) ^ FINGERPRINT_XOR);
        } else if (!m->integrity_off) {
            int rc = take_attr(m, type, v, n);
            if (rc < 0)
                return rc;
            if (type == CV_STUN_ATTR_MESSAGE_INTEGRITY)
                m->integrity_off = pos;
        }
        pos += 4 + pad4(n);
    }
    return 0;
}

int cv_stun_parse(const uint8_t *p, size_t len, struct cv_stun_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (!cv_stun_is_stun(p, len))
        return -EBADMSG;
    /* Type: M11..M7 C1 M6..M4 C0 M3..M0 (RFC 8489 §5) */
    uint16_t t = rd16(p);
    m->method = (uint16_t)((t & 0x000f) | (t & 0x00e0) >> 1 | (t & 0x3e00) >> 2);
    m->cls = (uint8_t)((t >> 4 & 1) | (t >> 7 & 2));
    memcpy(m->tid, p + 8, CV_STUN_TID_LEN);
    m->len = len;
    int rc = parse_attrs(p, len, m);
    if (rc < 0) {
        memset(m, 0, sizeof(*m)); /* nobody acts on half a message */
        return rc;
    }
    return 0;
}

int cv_stun_check_integrity(const uint8_t *p, size_t len, const struct cv_stun_msg *m,
                            const void *key, size_t key_len)
{
    uint8_t copy[CV_STUN_MAX_SIGNED_LEN];
    uint8_t mac[MI_LEN];
    size_t off = m->integrity_off;

    if (!off)
        return -ENOENT;
    if (!key || m->len != len || off < CV_STUN_HEADER_LEN || off % 4 || off > len ||
        len - off < 4 + MI_LEN || rd16(p + off) != CV_STUN_ATTR_MESSAGE_INTEGRITY ||
        rd16(p + off + 2) != MI_LEN)
        return -EINVAL;
    if (off > sizeof(copy))
        return -EMSGSIZE;
    /* The HMAC covers the message as if it ended with MESSAGE-INTEGRITY (no FINGERPRINT). */
    memcpy(copy, p, off);
    wr16(copy + 2, (uint16_t)(off + 4 + MI_LEN - CV_STUN_HEADER_LEN));
    int rc = hmac_sha1(key, key_len, copy, off, mac);
    if (rc < 0)
        return rc;
    return CRYPTO_memcmp(mac, p + off + 4, MI_LEN) == 0 ? 0 : -EACCES;
}

static bool is_ice_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

int cv_stun_split_username(const struct cv_stun_msg *m, struct cv_stun_ufrags *out)
{
    const uint8_t *u = m->username;
    size_t n = m->username_len;

    memset(out, 0, sizeof(*out));
    if (!u)
        return -ENOENT;
    const uint8_t *colon = memchr(u, ':', n);
    if (!colon || colon == u || colon == u + n - 1)
        return -EBADMSG;
    for (size_t i = 0; i < n; i++)
        if (u + i != colon && !is_ice_char(u[i]))
            return -EBADMSG;
    out->local = (const char *)u;
    out->local_len = (size_t)(colon - u);
    out->remote = (const char *)colon + 1;
    out->remote_len = n - out->local_len - 1;
    return 0;
}

/* --- building ----------------------------------------------------------------------------- */

/* A message being built: a header written, whole attributes after it, all within size. */
static bool building(size_t size, size_t len)
{
    return len >= CV_STUN_HEADER_LEN && len % 4 == 0 && len <= size;
}

/* Room for add more bytes, both in the buffer and in the 16-bit length field. */
static bool room(size_t size, size_t len, size_t add)
{
    return add <= size - len && len + add - CV_STUN_HEADER_LEN <= 0xffff;
}

static void set_length(uint8_t *out, size_t len)
{
    wr16(out + 2, (uint16_t)(len - CV_STUN_HEADER_LEN));
}

int cv_stun_begin(uint8_t *out, size_t size, uint16_t method, uint8_t cls,
                  const uint8_t tid[CV_STUN_TID_LEN])
{
    if (method > 0xfff || cls > 3)
        return -EINVAL;
    if (size < CV_STUN_HEADER_LEN)
        return -ENOSPC;
    uint16_t t = (uint16_t)((method & 0x000f) | (method & 0x0070) << 1 | (method & 0x0f80) << 2 |
                            (cls & 1) << 4 | (cls & 2) << 7);
    wr16(out, t);
    wr16(out + 2, 0);
    wr32(out + 4, CV_STUN_MAGIC_COOKIE);
    memcpy(out + 8, tid, CV_STUN_TID_LEN);
    return CV_STUN_HEADER_LEN;
}

int cv_stun_put_attr(uint8_t *out, size_t size, size_t len, uint16_t type, const void *val,
                     size_t val_len)
{
    if (!building(size, len) || val_len > 0xffff)
        return -EINVAL;
    size_t padded = pad4(val_len);
    if (!room(size, len, 4 + padded))
        return -ENOSPC;
    wr16(out + len, type);
    wr16(out + len + 2, (uint16_t)val_len);
    if (val_len)
        memcpy(out + len + 4, val, val_len);
    memset(out + len + 4 + val_len, 0, padded - val_len);
    len += 4 + padded;
    set_length(out, len);
    return (int)len;
}

int cv_stun_finish(uint8_t *out, size_t size, size_t len, const void *key, size_t key_len)
{
    if (!building(size, len))
        return -EINVAL;
    if (!room(size, len, (key ? 4 + MI_LEN : 0) + 8))
        return -ENOSPC;
    if (key) {
        /* The HMAC covers the header with a length that counts MESSAGE-INTEGRITY itself. */
        set_length(out, len + 4 + MI_LEN);
        int rc = hmac_sha1(key, key_len, out, len, out + len + 4);
        if (rc < 0)
            return rc;
        wr16(out + len, CV_STUN_ATTR_MESSAGE_INTEGRITY);
        wr16(out + len + 2, MI_LEN);
        len += 4 + MI_LEN;
    }
    set_length(out, len + 8);
    wr16(out + len, CV_STUN_ATTR_FINGERPRINT);
    wr16(out + len + 2, 4);
    wr32(out + len + 4, crc32_v42(out, len) ^ FINGERPRINT_XOR);
    return (int)(len + 8);
}

/* XOR-MAPPED-ADDRESS value of a (RFC 8489 §14.2); its length, or -EAFNOSUPPORT. */
static int put_xor_address(const struct sockaddr_storage *a, const uint8_t *tid, uint8_t v[20])
{
    uint8_t mask[16];
    const uint8_t *ip;
    uint16_t port;
    int ip_len;

    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
        ip = (const uint8_t *)&a4->sin_addr.s_addr;
        port = ntohs(a4->sin_port);
        ip_len = 4;
    } else if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
        ip = a6->sin6_addr.s6_addr;
        port = ntohs(a6->sin6_port);
        ip_len = 16;
        /* ::ffff:a.b.c.d is how a dual-stack socket names an IPv4 peer: that peer sent IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
            ip += 12;
            ip_len = 4;
        }
    } else {
        return -EAFNOSUPPORT;
    }
    wr32(mask, CV_STUN_MAGIC_COOKIE);
    memcpy(mask + 4, tid, CV_STUN_TID_LEN);
    v[0] = 0;
    v[1] = ip_len == 4 ? 0x01 : 0x02;
    wr16(v + 2, port ^ (uint16_t)(CV_STUN_MAGIC_COOKIE >> 16));
    for (int i = 0; i < ip_len; i++)
        v[4 + i] = ip[i] ^ mask[i];
    return 4 + ip_len;
}

int cv_stun_build_binding_success(uint8_t *out, size_t size, const struct cv_stun_msg *req,
                                  const struct sockaddr_storage *mapped, const void *key,
                                  size_t key_len)
{
    uint8_t v[20];

    if (req->method != CV_STUN_BINDING || req->cls != CV_STUN_REQUEST)
        return -EINVAL;
    int n = put_xor_address(mapped, req->tid, v);
    if (n < 0)
        return n;
    int len = cv_stun_begin(out, size, CV_STUN_BINDING, CV_STUN_SUCCESS, req->tid);
    if (len >= 0)
        len =
            cv_stun_put_attr(out, size, (size_t)len, CV_STUN_ATTR_XOR_MAPPED_ADDRESS, v, (size_t)n);
    if (len >= 0)
        len = cv_stun_finish(out, size, (size_t)len, key, key_len);
    return len;
}

static const char *reason_for(int code)
{
    switch (code) {
    case 300: return "Try Alternate";
    case 400: return "Bad Request";
    case 401: return "Unauthenticated";
    case 403: return "Forbidden";
    case 420: return "Unknown Attribute";
    case 438: return "Stale Nonce";
    case 487: return "Role Conflict";
    case 500: return "Server Error";
    default: return "Error";
    }
}

int cv_stun_build_error(uint8_t *out, size_t size, const struct cv_stun_msg *req, int code,
                        const char *reason, const void *key, size_t key_len)
{
    uint8_t v[4 + MAX_REASON];
    uint8_t unknown[2 * CV_STUN_MAX_UNKNOWN];

    if (req->cls != CV_STUN_REQUEST || req->method > 0xfff || code < 300 || code > 699)
        return -EINVAL;
    if (!reason)
        reason = reason_for(code);
    size_t rlen = strlen(reason);
    if (rlen > MAX_REASON)
        return -EINVAL;
    v[0] = 0;
    v[1] = 0;
    v[2] = (uint8_t)(code / 100);
    v[3] = (uint8_t)(code % 100);
    memcpy(v + 4, reason, rlen);
    int len = cv_stun_begin(out, size, req->method, CV_STUN_ERROR, req->tid);
    if (len >= 0)
        len = cv_stun_put_attr(out, size, (size_t)len, CV_STUN_ATTR_ERROR_CODE, v, 4 + rlen);
    if (len >= 0 && code == 420 && req->unknown_count) {
        unsigned k =
            req->unknown_count < CV_STUN_MAX_UNKNOWN ? req->unknown_count : CV_STUN_MAX_UNKNOWN;
        for (unsigned i = 0; i < k; i++)
            wr16(unknown + 2 * i, req->unknown[i]);
        len = cv_stun_put_attr(out, size, (size_t)len, CV_STUN_ATTR_UNKNOWN_ATTRIBUTES, unknown,
                               2 * k);
    }
    if (len >= 0)
        len = cv_stun_finish(out, size, (size_t)len, key, key_len);
    return len;
}

int cv_stun_build_binding_request(uint8_t *out, size_t size, const uint8_t tid[CV_STUN_TID_LEN])
{
    return cv_stun_begin(out, size, CV_STUN_BINDING, CV_STUN_REQUEST, tid);
}

int cv_stun_read_mapped(const uint8_t *p, size_t len, const uint8_t tid[CV_STUN_TID_LEN],
                        struct sockaddr_storage *out)
{
    struct cv_stun_msg m;

    memset(out, 0, sizeof(*out));
    int rc = cv_stun_parse(p, len, &m);
    if (rc < 0)
        return rc;
    /* A FINGERPRINT is optional in a response, but one that fails marks a damaged datagram. */
    if (m.has_fingerprint && !m.fingerprint_ok)
        return -EBADMSG;
    if (m.method != CV_STUN_BINDING || m.cls != CV_STUN_SUCCESS ||
        memcmp(m.tid, tid, CV_STUN_TID_LEN) != 0)
        return -ENOENT;
    if (!m.has_mapped)
        return -EBADMSG; /* RFC 8489 §7.3.3: a success response must carry it */
    *out = m.mapped;
    return 0;
}

/* --- the ice_servers setting -------------------------------------------------------------- */

#define SERVER_SEPARATORS " \t\r\n,"

/* Whether the n bytes at s are name followed by ':', compared without case. */
static bool has_scheme(const char *s, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && s[k] == ':' && strncasecmp(s, name, k) == 0;
}

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

/* 1..65535 in decimal, the n bytes at s exactly. */
static int parse_port(const char *s, size_t n, uint16_t *port)
{
    unsigned v = 0;

    if (n == 0 || n > 5)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -EINVAL;
    *port = (uint16_t)v;
    return 0;
}

/*
 * A DNS name or IPv4 literal. Digits and dots alone must make a dotted quad: getaddrinfo()
 * would take "3478" (a port written without its host) as the address 0.0.13.142.
 */
static bool valid_host(const char *s, size_t n)
{
    char ip[INET_ADDRSTRLEN];
    struct in_addr a;
    bool numeric = true;

    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_host_char(s[i]))
            return false;
        numeric &= (s[i] >= '0' && s[i] <= '9') || s[i] == '.';
    }
    if (!numeric)
        return true;
    if (n >= sizeof(ip))
        return false;
    memcpy(ip, s, n);
    ip[n] = 0;
    return inet_pton(AF_INET, ip, &a) == 1;
}

/* The text between brackets: an IPv6 literal (no zone: a STUN server is not link-local). */
static bool valid_ipv6(const char *s, size_t n)
{
    char ip[INET6_ADDRSTRLEN];
    struct in6_addr a;

    if (n == 0 || n >= sizeof(ip))
        return false;
    memcpy(ip, s, n);
    ip[n] = 0;
    return inet_pton(AF_INET6, ip, &a) == 1;
}

/* "host", "host:port", "[v6]" or "[v6]:port", the n bytes at s; host copied out unbracketed. */
static int parse_host_port(const char *s, size_t n, char *host, size_t hostsize, uint16_t *port)
{
    const char *h = s, *rest;
    size_t hn;

    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -EINVAL;
        h = s + 1;
        hn = (size_t)(close - h);
        rest = close + 1;
        if (!valid_ipv6(h, hn))
            return -EINVAL;
    } else {
        const char *colon = memchr(s, ':', n);
        hn = colon ? (size_t)(colon - s) : n;
        rest = s + hn;
        if (!valid_host(h, hn))
            return -EINVAL; /* an IPv6 address without brackets lands here too */
    }
    size_t rn = n - (size_t)(rest - s);
    uint16_t p = CV_STUN_SERVER_PORT;
    if (rn && (rest[0] != ':' || parse_port(rest + 1, rn - 1, &p) < 0))
        return -EINVAL;
    if (hn >= hostsize)
        return -ENAMETOOLONG;
    memcpy(host, h, hn);
    host[hn] = 0;
    *port = p;
    return 0;
}

/* One list entry, the n bytes at s: 0, -ENOENT for one we skip, or an error. */
static int parse_server(const char *s, size_t n, char *host, size_t hostsize, uint16_t *port)
{
    static const char *const skipped[] = {"stuns", "turn", "turns"};

    for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
        if (has_scheme(s, n, skipped[i]))
            return -ENOENT;
    if (has_scheme(s, n, "stun"))
        return parse_host_port(s + 5, n - 5, host, hostsize, port);
    return parse_host_port(s, n, host, hostsize, port);
}

int cv_stun_server_parse(const char *text, char *host, size_t hostsize, uint16_t *port)
{
    const char *s = text;

    if (hostsize)
        host[0] = 0;
    *port = 0;
    for (;;) {
        s += strspn(s, SERVER_SEPARATORS);
        if (!*s)
            return -ENOENT;
        size_t n = strcspn(s, SERVER_SEPARATORS);
        int rc = parse_server(s, n, host, hostsize, port);
        if (rc != -ENOENT)
            return rc;
        s += n;
    }
}
