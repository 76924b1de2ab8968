/*
 * go2rtc's WebSocket messages on any bytes, the way camvisor-http reads what a browser sends on
 * /api/ws. Checked beyond "no crash": a message that parses is written back with the JSON writer
 * (common/base/json.c) and must parse again to the same type and value, so the writer's escaping
 * and the parser's decoding agree on every string the fuzzer finds.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/json.h"
#include "common/net/ws-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cv_ws_msg m, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* cv_ws_json_field() (a POST body's or a v2 value's "type" and "sdp") on the same bytes:
     * its answer is a length that fits, and where the message parser read a type, the same. */
    char field[CV_WS_TYPE_MAX];
    int fl = cv_ws_json_field((const char *)data, size, "type", field, sizeof(field));
    if (fl >= (int)sizeof(field) || (fl >= 0 && strlen(field) > (size_t)fl))
        abort();
    if (cv_ws_msg_parse((const char *)data, size, &m) < 0)
        return 0;
    if (fl != (int)strlen(m.type) || strcmp(field, m.type) != 0)
        abort();
    if (strnlen(m.type, sizeof(m.type)) >= sizeof(m.type) || m.value_len >= sizeof(m.value) ||
        m.value[m.value_len] != '\0' || m.kind > CV_WS_VALUE_JSON)
        abort();
    struct cv_json j;
    cv_json_init(&j);
    cv_json_obj_open(&j);
    cv_json_kv_str(&j, "type", m.type);
    cv_json_key(&j, "value");
    if (m.kind == CV_WS_VALUE_STRING)
        cv_json_strn(&j, m.value, m.value_len);
    else if (m.kind == CV_WS_VALUE_JSON)
        cv_json_raw(&j, m.value, m.value_len);
    else
        cv_json_null(&j);
    cv_json_obj_close(&j);
    size_t n;
    char *s = cv_json_take(&j, &n);
    if (!s)
        return 0;
    int rc = cv_ws_msg_parse(s, n, &again);
    /* A string value may grow when escaped and no longer fit: that is the only allowed failure. */
    if (rc < 0 && !(rc == -E2BIG && m.kind == CV_WS_VALUE_STRING))
        abort();
    if (rc == 0 && (strcmp(again.type, m.type) != 0 || again.kind != m.kind ||
                    again.value_len != m.value_len || memcmp(again.value, m.value, m.value_len)))
        abort();
    free(s);
    return 0;
}
