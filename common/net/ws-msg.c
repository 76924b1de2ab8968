/* go2rtc's WebSocket JSON messages: see common/net/ws-msg.h. */
#include "common/net/ws-msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define CV_WS_MAX_DEPTH 32

struct cv_ws_cur {
    const char *p, *end;
};

static void cv_ws_skip_ws(struct cv_ws_cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int cv_ws_hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return -EBADMSG;
    }
    *out = v;
    return 0;
}

/* Appends the UTF-8 form of cp; false when it does not fit. */
static bool cv_ws_put_utf8(char *out, size_t cap, size_t *n, unsigned cp)
{
    uint8_t b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xc0 | (cp >> 6));
        b[1] = (uint8_t)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xe0 | (cp >> 12));
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (uint8_t)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        b[0] = (uint8_t)(0xf0 | (cp >> 18));
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (uint8_t)(0x80 | (cp & 0x3f));
        k = 4;
    }
    if (*n + k >= cap)
        return false;
    memcpy(out + *n, b, k);
    *n += k;
    return true;
}

/*
 * A string at c->p (the opening quote), decoded into out (NUL-terminated) when out is not
 * NULL; otherwise only skipped. An escaped NUL is refused: values become C strings.
 */
static int cv_ws_string(struct cv_ws_cur *c, char *out, size_t cap, size_t *out_len)
{
    size_t n = 0;
    c->p++; /* the quote */
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"') {
            if (out) {
                out[n] = '\0';
                *out_len = n;
            }
            return 0;
        }
        if ((unsigned char)ch < 0x20)
            return -EBADMSG;
        unsigned cp = (unsigned char)ch;
        if (ch == '\\') {
            if (c->p >= c->end)
                return -EBADMSG;
            char e = *c->p++;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (c->end - c->p < 4 || cv_ws_hex4(c->p, &cp) < 0)
                    return -EBADMSG;
                c->p += 4;
                if (cp >= 0xd800 && cp <= 0xdbff) { /* a surrogate pair */
                    unsigned lo;
                    if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
                        cv_ws_hex4(c->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                        return -EBADMSG;
                    c->p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return -EBADMSG;
                }
                if (cp == 0)
                    return -EBADMSG;
                break;
            default: return -EBADMSG;
            }
            if (out && !cv_ws_put_utf8(out, cap, &n, cp))
                return -E2BIG;
            continue;
        }
        if (out) {
            if (n + 1 >= cap)
                return -E2BIG;
            out[n++] = ch;
        }
    }
    return -EBADMSG;
}

/* Skips one JSON value of any kind (checking its syntax as far as skipping needs). */
static int cv_ws_skip_value(struct cv_ws_cur *c, int depth)
{
    if (depth > CV_WS_MAX_DEPTH)
        return -EBADMSG;
    cv_ws_skip_ws(c);
    if (c->p >= c->end)
        return -EBADMSG;
    char ch = *c->p;
    if (ch == '"')
        return cv_ws_string(c, NULL, 0, NULL);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->p++;
        cv_ws_skip_ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return 0;
        }
        for (;;) {
            if (ch == '{') {
                cv_ws_skip_ws(c);
                if (c->p >= c->end || *c->p != '"')
                    return -EBADMSG;
                int rc = cv_ws_string(c, NULL, 0, NULL);
                if (rc < 0)
                    return rc;
                cv_ws_skip_ws(c);
                if (c->p >= c->end || *c->p++ != ':')
                    return -EBADMSG;
            }
            int rc = cv_ws_skip_value(c, depth + 1);
            if (rc < 0)
                return rc;
            cv_ws_skip_ws(c);
            if (c->p >= c->end)
                return -EBADMSG;
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p++ != close)
                return -EBADMSG;
            return 0;
        }
    }
    /* A number or a literal: its characters up to a delimiter. */
    const char *start = c->p;
    while (c->p < c->end && strchr("+-.0123456789eEtruefalsn", *c->p))
        c->p++;
    size_t n = (size_t)(c->p - start);
    if (n == 0)
        return -EBADMSG;
    if ((*start == 't' && (n != 4 || memcmp(start, "true", 4))) ||
        (*start == 'f' && (n != 5 || memcmp(start, "false", 5))) ||
        (*start == 'n' && (n != 4 || memcmp(start, "null", 4))))
        return -EBADMSG;
    return 0;
}

/*
 * Walks the JSON object text[0..len): for each member, its key (a key that does not fit keysize
 * comes as "": it is not one the caller looks for) and the cursor at its value go to fn, which
 * consumes the value, or returns 1 to have it skipped. Returns 0 at the object's end with nothing
 * but white space after it, or the first error (-EBADMSG, or fn's).
 */
typedef int (*cv_ws_member_fn)(struct cv_ws_cur *c, const char *key, void *ctx);

static int cv_ws_object_walk(const char *text, size_t len, size_t keysize, cv_ws_member_fn fn,
                             void *ctx)
{
    struct cv_ws_cur c = {text, text + len};
    char key[32];
    if (keysize > sizeof(key))
        keysize = sizeof(key);
    cv_ws_skip_ws(&c);
    if (c.p >= c.end || *c.p++ != '{')
        return -EBADMSG;
    cv_ws_skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
    } else {
        for (;;) {
            size_t klen = 0;
            cv_ws_skip_ws(&c);
            if (c.p >= c.end || *c.p != '"')
                return -EBADMSG;
            const char *key_start = c.p;
            int rc = cv_ws_string(&c, key, keysize, &klen);
            if (rc == -E2BIG) { /* a long key is not one of ours: skip it from its quote again */
                c.p = key_start;
                key[0] = '\0';
                rc = cv_ws_string(&c, NULL, 0, NULL);
            }
            if (rc < 0)
                return rc;
            cv_ws_skip_ws(&c);
            if (c.p >= c.end || *c.p++ != ':')
                return -EBADMSG;
            cv_ws_skip_ws(&c);
            if (c.p >= c.end)
                return -EBADMSG;
            rc = fn(&c, key, ctx);
            if (rc == 1)
                rc = cv_ws_skip_value(&c, 0);
            if (rc < 0)
                return rc;
            cv_ws_skip_ws(&c);
            if (c.p >= c.end)
                return -EBADMSG;
            if (*c.p == ',') {
                c.p++;
                continue;
            }
            if (*c.p++ != '}')
                return -EBADMSG;
            break;
        }
    }
    cv_ws_skip_ws(&c);
    return c.p == c.end ? 0 : -EBADMSG;
}

struct cv_ws_msg_walk {
    struct cv_ws_msg *out;
    bool have_type;
};

static int cv_ws_msg_member(struct cv_ws_cur *c, const char *key, void *ctx)
{
    struct cv_ws_msg_walk *w = ctx;
    struct cv_ws_msg *out = w->out;
    int rc;
    if (strcmp(key, "type") == 0) {
        size_t tl;
        if (*c->p != '"')
            return -EBADMSG;
        rc = cv_ws_string(c, out->type, sizeof(out->type), &tl);
        if (rc < 0)
            return rc;
        w->have_type = true;
        return 0;
    }
    if (strcmp(key, "value") != 0)
        return 1;
    if (*c->p == '"') {
        rc = cv_ws_string(c, out->value, sizeof(out->value), &out->value_len);
        if (rc < 0)
            return rc;
        out->kind = CV_WS_VALUE_STRING;
        return 0;
    }
    const char *start = c->p;
    rc = cv_ws_skip_value(c, 0);
    if (rc < 0)
        return rc;
    size_t n = (size_t)(c->p - start);
    if (n == 4 && memcmp(start, "null", 4) == 0) {
        out->kind = CV_WS_VALUE_NONE; /* a later "value" wins, all of it */
        out->value[0] = '\0';
        out->value_len = 0;
        return 0;
    }
    if (n >= sizeof(out->value))
        return -E2BIG;
    memcpy(out->value, start, n);
    out->value[n] = '\0';
    out->value_len = n;
    out->kind = CV_WS_VALUE_JSON;
    return 0;
}

int cv_ws_msg_parse(const char *text, size_t len, struct cv_ws_msg *out)
{
    /* Not the whole struct: value is 16 KiB, and only its first byte needs to be a NUL. */
    memset(out, 0, offsetof(struct cv_ws_msg, value) + 1);
    out->value_len = 0;
    struct cv_ws_msg_walk w = {out, false};
    int rc = cv_ws_object_walk(text, len, 16, cv_ws_msg_member, &w);
    if (rc < 0)
        return rc;
    return w.have_type ? 0 : -EBADMSG;
}

struct cv_ws_field_walk {
    const char *key;
    char *out;
    size_t cap;
    int found;
};

static int cv_ws_field_member(struct cv_ws_cur *c, const char *key, void *ctx)
{
    struct cv_ws_field_walk *w = ctx;
    if (strcmp(key, w->key) != 0 || *c->p != '"')
        return 1;
    size_t n = 0;
    int rc = cv_ws_string(c, w->out, w->cap, &n);
    if (rc < 0)
        return rc;
    w->found = (int)n; /* a later one wins, as in the message parser */
    return 0;
}

int cv_ws_json_field(const char *text, size_t len, const char *key, char *out, size_t cap)
{
    if (cap == 0)
        return -EBADMSG;
    out[0] = '\0';
    struct cv_ws_field_walk w = {key, out, cap, -ENOENT};
    int rc = cv_ws_object_walk(text, len, 32, cv_ws_field_member, &w);
    return rc < 0 ? rc : w.found;
}
