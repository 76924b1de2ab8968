/*
 * go2rtc's WebSocket messages (reference/go2rtc.md §1.3): a text frame holding one JSON object
 * {"type": "<request>", "value": <string | object | absent>}. This is the parser of what a
 * browser sends on /api/ws: outside input, so bounded (depth, sizes) and total
 * (tests/fuzz/fuzz_ws_msg.c). Other keys are ignored, as go2rtc does.
 */
#ifndef CV_NET_WS_MSG_H
#define CV_NET_WS_MSG_H

#include <stddef.h>

#define CV_WS_TYPE_MAX  32
#define CV_WS_VALUE_MAX 16384 /* an SDP offer fits */

enum cv_ws_value_kind {
    CV_WS_VALUE_NONE = 0, /* absent or null */
    CV_WS_VALUE_STRING,   /* decoded into value */
    CV_WS_VALUE_JSON,     /* an object, array, number or boolean: its JSON text in value */
};

struct cv_ws_msg {
    char type[CV_WS_TYPE_MAX];
    enum cv_ws_value_kind kind;
    char value[CV_WS_VALUE_MAX];
    size_t value_len;
};

/* 0, -EBADMSG (not such an object, or no "type" string), -E2BIG (a part does not fit). */
int cv_ws_msg_parse(const char *text, size_t len, struct cv_ws_msg *out);

/* The string value of key in a JSON object text (the last one when given twice), decoded into out
 * (NUL-terminated): its length, -ENOENT when the object has no such string, -EBADMSG when text is
 * not one object, -E2BIG when the value does not fit cap. For {"type":"offer","sdp":"..."}. */
int cv_ws_json_field(const char *text, size_t len, const char *key, char *out, size_t cap);

#endif
