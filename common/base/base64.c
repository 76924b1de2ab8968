/* Base64 encode and strict decode; see common/base/base64.h. */
#include "common/base/base64.h"

#include <string.h>

static const char cv_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *cv_base64_encode(char *out, size_t out_size, const uint8_t *in, size_t len)
{
    if (len > (SIZE_MAX - 1) / 4 * 3 - 2 || out_size < CV_BASE64_SIZE(len))
        return NULL;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = cv_b64_alphabet[v >> 18];
        *o++ = cv_b64_alphabet[(v >> 12) & 63];
        *o++ = cv_b64_alphabet[(v >> 6) & 63];
        *o++ = cv_b64_alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        *o++ = cv_b64_alphabet[v >> 18];
        *o++ = cv_b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < len ? cv_b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int cv_b64_value(char c)
{
    const char *p = c ? strchr(cv_b64_alphabet, c) : NULL;
    return p ? (int)(p - cv_b64_alphabet) : -1;
}

int cv_base64_decode(uint8_t *out, const char *in, size_t out_size)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0, i = 0;
    for (; in[i] && in[i] != '='; i++) {
        int v = cv_b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == out_size)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    /* What remains may only be padding, and only as much as the last group lacks. */
    size_t pad = 0;
    for (; in[i] == '='; i++)
        pad++;
    if (in[i] || bits >= 6 || (pad && (i % 4) != 0) || pad > 2)
        return -1;
    return (int)n;
}
