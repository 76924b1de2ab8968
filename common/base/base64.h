/*
 * Base64 (RFC 4648) for SDP sprop-parameter-sets and HTTP/RTSP Basic auth. Ours rather than
 * libavutil's so that the RTSP server and the worker need not load libavutil (and the 20-odd
 * libraries it pulls in) for twenty lines; OpenSSL's EVP_DecodeBlock refuses unpadded input,
 * which cameras send.
 */
#ifndef CV_BASE64_H
#define CV_BASE64_H

#include <stddef.h>
#include <stdint.h>

#define CV_BASE64_SIZE(n)        (((n) + 2) / 3 * 4 + 1) /* encoded, with the NUL */
#define CV_BASE64_DECODE_SIZE(n) ((n)*3 / 4)             /* at most, from n characters */

/* NUL-terminated encoding of in, with padding; NULL when out_size is too small. */
char *cv_base64_encode(char *out, size_t out_size, const uint8_t *in, size_t len);
/*
 * Decodes the NUL-terminated in (padding optional, no whitespace). Returns the byte count, or -1
 * for a character outside the alphabet, misplaced padding, a dangling sixth bit group, or output
 * that would not fit out_size.
 */
int cv_base64_decode(uint8_t *out, const char *in, size_t out_size);

#endif
