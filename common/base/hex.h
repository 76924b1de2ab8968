/*
 * Hexadecimal digits, the one decoder and encoder of the tree: %XX escapes (url.c), SDP's
 * profile-level-id, Digest responses and nonces (rtsp-auth.c).
 */
#ifndef CV_HEX_H
#define CV_HEX_H

#include <stddef.h>
#include <stdint.h>

/* 0..15 for [0-9a-fA-F], -1 for anything else. */
int cv_hex_value(char c);

/* True when s is exactly n hex digits (and no more). */
int cv_hex_is(const char *s, size_t n);

/* n bytes as 2n lowercase hex digits and a NUL: out holds 2n + 1 bytes. */
void cv_hex_encode(const uint8_t *in, size_t n, char *out);

#endif
