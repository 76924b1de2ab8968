/*
 * RTSP Basic and Digest authentication (see rtsp-auth.h). Header values are lists of
 * name=token or name="quoted \"string\"" pairs; the parser walks them as spans and copies only the
 * fields it keeps, into fixed buffers, so an oversized unknown parameter costs nothing.
 */
#include "common/net/rtsp-auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/base/base64.h"
#include "common/base/hex.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

struct span {
    const char *s;
    const char *e;
};

static bool span_is(struct span v, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(v.e - v.s) == n && strncasecmp(v.s, word, n) == 0;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool is_token_char(char c)
{
    return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* The scheme token at the start of a header value; *p is left after it. */
static struct span scheme_of(const char **p)
{
    struct span s;
    s.s = skip_ws(*p);
    for (s.e = s.s; is_token_char(*s.e); s.e++)
        ;
    *p = s.e;
    return s;
}

/*
 * Next auth-param: name and raw value (quotes included, *quoted set). Returns 0, -ENOENT at the
 * end of the list, -EBADMSG when malformed.
 */
static int next_param(const char **pp, struct span *name, struct span *val, bool *quoted)
{
    const char *p = *pp;

    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    if (*p == '\0')
        return -ENOENT;
    name->s = p;
    while (is_token_char(*p))
        p++;
    name->e = p;
    p = skip_ws(p);
    if (name->s == name->e || *p != '=')
        return -EBADMSG;
    p = skip_ws(p + 1);
    *quoted = *p == '"';
    if (*quoted) {
        val->s = ++p;
        while (*p && *p != '"') {
            if (*p == '\\' && p[1] != '\0')
                p++;
            p++;
        }
        if (*p != '"')
            return -EBADMSG;
        val->e = p++;
    } else {
        val->s = p;
        while (is_token_char(*p))
            p++;
        val->e = p;
    }
    p = skip_ws(p);
    if (*p != '\0' && *p != ',')
        return -EBADMSG;
    *pp = p;
    return 0;
}

/* Copies a value, resolving backslash escapes of quoted strings; control bytes are refused. */
static int unquote(struct span v, bool quoted, char *out, size_t size)
{
    size_t o = 0;
    for (const char *c = v.s; c < v.e; c++) {
        if (quoted && *c == '\\' && c + 1 < v.e)
            c++;
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return -EBADMSG;
        if (o + 1 >= size)
            return -E2BIG;
        out[o++] = *c;
    }
    out[o] = '\0';
    return 0;
}

/* MD5-sess or MD5 (or absent) are fine; anything else (SHA-256) is not supported. */
static int parse_algorithm(struct span v, bool *sess)
{
    if (span_is(v, "MD5")) {
        *sess = false;
        return 0;
    }
    if (span_is(v, "MD5-sess")) {
        *sess = true;
        return 0;
    }
    return -ENOTSUP;
}

int cv_rtsp_auth_challenge_parse(const char *value, struct cv_rtsp_challenge *c)
{
    const char *p = value;
    struct span scheme = scheme_of(&p), name, val;
    bool quoted, have_nonce = false, have_qop = false;
    int rc;

    memset(c, 0, sizeof(*c));
    if (span_is(scheme, "Basic"))
        c->scheme = CV_RTSP_AUTH_BASIC;
    else if (span_is(scheme, "Digest"))
        c->scheme = CV_RTSP_AUTH_DIGEST;
    else
        return scheme.s == scheme.e ? -EBADMSG : -ENOTSUP;

    while ((rc = next_param(&p, &name, &val, &quoted)) == 0) {
        if (span_is(name, "realm")) {
            rc = unquote(val, quoted, c->realm, sizeof(c->realm));
        } else if (span_is(name, "nonce")) {
            rc = unquote(val, quoted, c->nonce, sizeof(c->nonce));
            have_nonce = true;
        } else if (span_is(name, "opaque")) {
            rc = unquote(val, quoted, c->opaque, sizeof(c->opaque));
            c->has_opaque = true;
        } else if (span_is(name, "stale")) {
            c->stale = span_is(val, "true");
        } else if (span_is(name, "algorithm") && c->scheme == CV_RTSP_AUTH_DIGEST) {
            rc = parse_algorithm(val, &c->sess);
        } else if (span_is(name, "qop")) {
            /* A list such as "auth,auth-int": we can answer only "auth". */
            const char *q = val.s;
            have_qop = true;
            while (q < val.e) {
                struct span tok = {q, q};
                while (tok.e < val.e && *tok.e != ',')
                    tok.e++;
                q = tok.e + 1;
                while (tok.s < tok.e && (*tok.s == ' ' || *tok.s == '\t'))
                    tok.s++;
                while (tok.e > tok.s && (tok.e[-1] == ' ' || tok.e[-1] == '\t'))
                    tok.e--;
                if (span_is(tok, "auth"))
                    c->qop_auth = true;
            }
        }
        if (rc < 0)
            return rc;
    }
    if (rc != -ENOENT)
        return rc;
    if (c->scheme == CV_RTSP_AUTH_DIGEST) {
        if (!have_nonce || c->nonce[0] == '\0')
            return -EBADMSG;
        if (have_qop && !c->qop_auth)
            return -ENOTSUP;
    }
    return 0;
}

int cv_rtsp_auth_challenge_pick(const struct cv_rtsp_msg *m, struct cv_rtsp_challenge *c)
{
    struct cv_rtsp_challenge cand;
    const char *v;
    bool found = false;

    for (unsigned i = 0; (v = cv_rtsp_msg_header_nth(m, "WWW-Authenticate", i)) != NULL; i++) {
        if (cv_rtsp_auth_challenge_parse(v, &cand) < 0)
            continue;
        if (!found || cand.scheme > c->scheme)
            *c = cand;
        found = true;
    }
    return found ? 0 : -ENOENT;
}

static int parse_basic(const char *p, struct cv_rtsp_credentials *cr)
{
    char b64[512];
    uint8_t dec[384];
    size_t n;
    int len;

    p = skip_ws(p);
    n = strcspn(p, " \t");
    if (*skip_ws(p + n) != '\0' || n == 0)
        return -EBADMSG;
    if (n >= sizeof(b64) || CV_BASE64_DECODE_SIZE(n) > sizeof(dec))
        return -E2BIG;
    memcpy(b64, p, n);
    b64[n] = '\0';
    len = cv_base64_decode(dec, b64, sizeof(dec));
    if (len <= 0)
        return -EBADMSG;
    uint8_t *colon = memchr(dec, ':', (size_t)len);
    if (!colon || memchr(dec, '\0', (size_t)len))
        return -EBADMSG;
    size_t un = (size_t)(colon - dec), pn = (size_t)len - un - 1;
    if (un >= sizeof(cr->username) || pn >= sizeof(cr->password))
        return -E2BIG;
    memcpy(cr->username, dec, un);
    cr->username[un] = '\0';
    memcpy(cr->password, colon + 1, pn);
    cr->password[pn] = '\0';
    return 0;
}

int cv_rtsp_auth_credentials_parse(const char *value, struct cv_rtsp_credentials *cr)
{
    const char *p = value;
    struct span scheme = scheme_of(&p), name, val;
    bool quoted, have_user = false, have_resp = false, have_uri = false, have_nonce = false;
    int rc;

    memset(cr, 0, sizeof(*cr));
    if (span_is(scheme, "Basic")) {
        cr->scheme = CV_RTSP_AUTH_BASIC;
        return parse_basic(p, cr);
    }
    if (!span_is(scheme, "Digest"))
        return scheme.s == scheme.e ? -EBADMSG : -ENOTSUP;
    cr->scheme = CV_RTSP_AUTH_DIGEST;

    while ((rc = next_param(&p, &name, &val, &quoted)) == 0) {
        if (span_is(name, "username")) {
            rc = unquote(val, quoted, cr->username, sizeof(cr->username));
            have_user = true;
        } else if (span_is(name, "realm")) {
            rc = unquote(val, quoted, cr->realm, sizeof(cr->realm));
        } else if (span_is(name, "nonce")) {
            rc = unquote(val, quoted, cr->nonce, sizeof(cr->nonce));
            have_nonce = true;
        } else if (span_is(name, "uri")) {
            rc = unquote(val, quoted, cr->uri, sizeof(cr->uri));
            have_uri = true;
        } else if (span_is(name, "response")) {
            rc = unquote(val, quoted, cr->response, sizeof(cr->response));
            have_resp = true;
        } else if (span_is(name, "opaque")) {
            rc = unquote(val, quoted, cr->opaque, sizeof(cr->opaque));
        } else if (span_is(name, "qop")) {
            rc = unquote(val, quoted, cr->qop, sizeof(cr->qop));
        } else if (span_is(name, "nc")) {
            rc = unquote(val, quoted, cr->nc, sizeof(cr->nc));
        } else if (span_is(name, "cnonce")) {
            rc = unquote(val, quoted, cr->cnonce, sizeof(cr->cnonce));
        } else if (span_is(name, "algorithm")) {
            rc = parse_algorithm(val, &cr->sess);
        }
        if (rc < 0)
            return rc;
    }
    if (rc != -ENOENT)
        return rc;
    if (!have_user || !have_resp || !have_uri || !have_nonce || !cv_hex_is(cr->response, 32))
        return -EBADMSG;
    for (char *c = cr->response; *c; c++)
        *c = (char)(*c | 0x20);
    if (cr->qop[0] != '\0' &&
        (strcasecmp(cr->qop, "auth") != 0 || !cv_hex_is(cr->nc, 8) || cr->cnonce[0] == '\0'))
        return -EBADMSG;
    if (cr->sess && cr->cnonce[0] == '\0')
        return -EBADMSG;
    return 0;
}

/* MD5 over the given strings joined by ':', as lowercase hex. */
static int md5_join(char out[33], const char *const *parts, size_t n)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    int rc = -ENOMEM;

    if (!ctx)
        return -ENOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
        goto out_ctx;
    for (size_t i = 0; i < n; i++)
        if ((i > 0 && EVP_DigestUpdate(ctx, ":", 1) != 1) ||
            EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) != 1)
            goto out_ctx;
    if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 16)
        goto out_ctx;
    cv_hex_encode(md, 16, out);
    rc = 0;
out_ctx:
    EVP_MD_CTX_free(ctx);
    return rc;
}

int cv_rtsp_digest_response(const struct cv_rtsp_digest_params *p, char out[33])
{
    char ha1[33], ha2[33];
    int rc;

    if (!p->username || !p->realm || !p->password || !p->method || !p->uri || !p->nonce)
        return -EINVAL;
    if ((p->qop || p->sess) && !p->cnonce)
        return -EINVAL;
    if (p->qop && !p->nc)
        return -EINVAL;

    const char *a1[] = {p->username, p->realm, p->password};
    if ((rc = md5_join(ha1, a1, 3)) < 0)
        return rc;
    if (p->sess) {
        const char *s[] = {ha1, p->nonce, p->cnonce};
        char tmp[33];
        if ((rc = md5_join(tmp, s, 3)) < 0)
            return rc;
        memcpy(ha1, tmp, sizeof(ha1));
    }
    const char *a2[] = {p->method, p->uri};
    if ((rc = md5_join(ha2, a2, 2)) < 0)
        return rc;
    if (p->qop) {
        const char *r[] = {ha1, p->nonce, p->nc, p->cnonce, p->qop, ha2};
        return md5_join(out, r, 6);
    }
    const char *r[] = {ha1, p->nonce, ha2};
    return md5_join(out, r, 3);
}

int cv_rtsp_auth_verify(const struct cv_rtsp_credentials *cr, const char *method, const char *realm,
                        const char *nonce, const char *user, const char *pass)
{
    char want[33], got[33];

    if (cr->scheme == CV_RTSP_AUTH_BASIC) {
        /* Compare digests, not the strings: equal length, so the compare is constant-time. */
        const char *w[] = {user, pass}, *g[] = {cr->username, cr->password};
        if (md5_join(want, w, 2) < 0 || md5_join(got, g, 2) < 0)
            return -EACCES;
        return CRYPTO_memcmp(want, got, 32) == 0 ? 0 : -EACCES;
    }
    if (cr->scheme != CV_RTSP_AUTH_DIGEST)
        return -EACCES;
    if (strcmp(cr->username, user) != 0 || strcmp(cr->realm, realm) != 0)
        return -EACCES;
    if (strcmp(cr->nonce, nonce) != 0)
        return -ESTALE;
    struct cv_rtsp_digest_params p = {
        .username = user,
        .realm = realm,
        .password = pass,
        .method = method,
        .uri = cr->uri,
        .nonce = nonce,
        .qop = cr->qop[0] ? "auth" : NULL,
        .nc = cr->nc,
        .cnonce = cr->cnonce,
        .sess = cr->sess,
    };
    if (cv_rtsp_digest_response(&p, want) < 0)
        return -EACCES;
    return CRYPTO_memcmp(want, cr->response, 32) == 0 ? 0 : -EACCES;
}

/* Appends name="value" with '"' and '\' escaped; tracks the length like snprintf. */
static void put_quoted(char *out, size_t size, size_t *n, const char *name, const char *v)
{
    int w = snprintf(*n < size ? out + *n : NULL, *n < size ? size - *n : 0, "%s%s=\"",
                     *n > 7 ? ", " : "", name);
    if (w > 0)
        *n += (size_t)w;
    for (; *v; v++) {
        if (*v == '"' || *v == '\\') {
            if (*n < size)
                out[*n] = '\\';
            (*n)++;
        }
        if (*n < size)
            out[*n] = *v;
        (*n)++;
    }
    if (*n < size)
        out[*n] = '"';
    (*n)++;
    if (*n < size)
        out[*n] = '\0';
}

int cv_rtsp_auth_nonce(char out[33])
{
    uint8_t rnd[16];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return -EIO;
    cv_hex_encode(rnd, sizeof(rnd), out);
    return 0;
}

static int build_basic(const char *user, const char *pass, char *out, size_t size)
{
    char plain[258], b64[CV_BASE64_SIZE(257)];
    int n = snprintf(plain, sizeof(plain), "%s:%s", user, pass);

    if (strchr(user, ':'))
        return -EINVAL;
    if (n < 0 || (size_t)n >= sizeof(plain))
        return -E2BIG;
    if (!cv_base64_encode(b64, sizeof(b64), (const uint8_t *)plain, (size_t)n))
        return -E2BIG;
    n = snprintf(out, size, "Basic %s", b64);
    return n < 0 || (size_t)n >= size ? -E2BIG : n;
}

int cv_rtsp_auth_build(const struct cv_rtsp_challenge *c, const char *user, const char *pass,
                       const char *method, const char *uri, uint32_t *nc, const char *cnonce,
                       char *out, size_t size)
{
    char resp[33], ncbuf[9], cn[33];
    size_t n;
    int rc;

    if (c->scheme == CV_RTSP_AUTH_BASIC)
        return build_basic(user, pass, out, size);
    if (c->scheme != CV_RTSP_AUTH_DIGEST)
        return -EINVAL;
    if ((c->qop_auth || c->sess) && !cnonce) {
        if ((rc = cv_rtsp_auth_nonce(cn)) < 0)
            return rc;
        cnonce = cn;
    }
    if (c->qop_auth)
        (*nc)++;
    snprintf(ncbuf, sizeof(ncbuf), "%08x", (unsigned)*nc);
    struct cv_rtsp_digest_params p = {
        .username = user,
        .realm = c->realm,
        .password = pass,
        .method = method,
        .uri = uri,
        .nonce = c->nonce,
        .qop = c->qop_auth ? "auth" : NULL,
        .nc = ncbuf,
        .cnonce = cnonce,
        .sess = c->sess,
    };
    if ((rc = cv_rtsp_digest_response(&p, resp)) < 0)
        return rc;

    n = (size_t)snprintf(out, size, "Digest ");
    put_quoted(out, size, &n, "username", user);
    put_quoted(out, size, &n, "realm", c->realm);
    put_quoted(out, size, &n, "nonce", c->nonce);
    put_quoted(out, size, &n, "uri", uri);
    put_quoted(out, size, &n, "response", resp);
    if (c->has_opaque)
        put_quoted(out, size, &n, "opaque", c->opaque);
    if (c->sess) {
        int w =
            snprintf(n < size ? out + n : NULL, n < size ? size - n : 0, ", algorithm=MD5-sess");
        n += w > 0 ? (size_t)w : 0;
    }
    if (c->qop_auth) {
        int w = snprintf(n < size ? out + n : NULL, n < size ? size - n : 0, ", qop=auth, nc=%s",
                         ncbuf);
        n += w > 0 ? (size_t)w : 0;
    }
    if (c->qop_auth || c->sess)
        put_quoted(out, size, &n, "cnonce", cnonce);
    if (n >= size)
        return -E2BIG;
    return (int)n;
}
