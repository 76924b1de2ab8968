/*
 * msgpack encoding of control messages, driven by one table of fields per message type so the
 * encoder and the decoder cannot disagree. The decoder is the trust boundary: every field is
 * type-checked and length-checked before it is copied.
 */
#include "proto/msg.h"

#include <errno.h>
#include <msgpack.h>
#include <stdbool.h>
#include <string.h>

enum cv_field_kind { F_U32, F_I32, F_U64, F_STR, F_STRARR, F_MAPARR };

struct cv_field {
    const char *key;
    enum cv_field_kind kind;
    size_t offset; /* within the message's union member */
    size_t size;   /* of the C field (strings: buffer size incl. NUL; arrays: one element) */
    bool required;
    size_t count_offset;        /* F_STRARR, F_MAPARR: offset of the uint32_t element count */
    size_t max_count;           /* F_STRARR, F_MAPARR */
    const struct cv_field *sub; /* F_MAPARR: each element is a map of these fields */
    size_t nsub;
};

#define FLD(type, member, k, req)                                                                  \
    {                                                                                              \
#member, k, offsetof(type, member), sizeof(((type *)0)->member), req, 0, 0, NULL, 0        \
    }

static const struct cv_field hello_fields[] = {
    FLD(struct cv_msg_hello, role, F_U32, true),
    FLD(struct cv_msg_hello, pid, F_U32, true),
    FLD(struct cv_msg_hello, camera, F_STR, false),
};
static const struct cv_field camera_fields[] = {
    FLD(struct cv_msg_camera, name, F_STR, true),
    FLD(struct cv_msg_camera, url, F_STR, true),
    FLD(struct cv_msg_camera, transport, F_U32, true),
    FLD(struct cv_msg_camera, ring_size, F_U32, false),
    FLD(struct cv_msg_camera, log_level, F_U32, false),
    FLD(struct cv_msg_camera, hwaccel, F_U32, false),
    FLD(struct cv_msg_camera, transcode_kbps, F_U32, false),
    FLD(struct cv_msg_camera, transcode_w, F_U32, false),
    FLD(struct cv_msg_camera, transcode_h, F_U32, false),
};
static const struct cv_field camera_entry_fields[] = {
    FLD(struct cv_msg_camera_entry, name, F_STR, true),
    FLD(struct cv_msg_camera_entry, state, F_U32, true),
    FLD(struct cv_msg_camera_entry, codecs, F_STR, false),
    FLD(struct cv_msg_camera_entry, restarts, F_U32, false),
};
static const struct cv_field catalogue_fields[] = {
    {"cameras", F_MAPARR, offsetof(struct cv_msg_catalogue, cameras),
     sizeof(struct cv_msg_camera_entry), true, offsetof(struct cv_msg_catalogue, camera_count),
     CV_PROTO_MAX_CAMS, camera_entry_fields,
     sizeof(camera_entry_fields) / sizeof(camera_entry_fields[0])},
    FLD(struct cv_msg_catalogue, log_level, F_U32, false),
};
static const struct cv_field setting_fields[] = {
    FLD(struct cv_msg_setting, key, F_STR, true),
    FLD(struct cv_msg_setting, value, F_STR, true),
};
static const struct cv_field settings_fields[] = {
    {"items", F_MAPARR, offsetof(struct cv_msg_settings, items), sizeof(struct cv_msg_setting),
     true, offsetof(struct cv_msg_settings, count), CV_PROTO_MAX_SETTINGS, setting_fields,
     sizeof(setting_fields) / sizeof(setting_fields[0])},
};
static const struct cv_field peer_fields[] = {
    FLD(struct cv_msg_peer, role, F_U32, true),
};
static const struct cv_field subscribe_fields[] = {
    FLD(struct cv_msg_subscribe, sub_id, F_U32, true),
    FLD(struct cv_msg_subscribe, camera, F_STR, true),
    FLD(struct cv_msg_subscribe, variant, F_STR, true),
};
static const struct cv_field ring_fields[] = {
    FLD(struct cv_msg_ring, size, F_U64, true),
};
static const struct cv_field keyframe_fields[] = {
    FLD(struct cv_msg_keyframe, sub_id, F_U32, true),
    FLD(struct cv_msg_keyframe, variant, F_STR, false),
};
static const struct cv_field subscribed_fields[] = {
    FLD(struct cv_msg_subscribed, sub_id, F_U32, true),
    FLD(struct cv_msg_subscribed, status, F_I32, true),
    FLD(struct cv_msg_subscribed, reason, F_STR, false),
};
static const struct cv_field unsubscribe_fields[] = {
    FLD(struct cv_msg_unsubscribe, sub_id, F_U32, true),
};
static const struct cv_field doorbell_fields[] = {
    FLD(struct cv_msg_doorbell, id, F_U32, true),
    FLD(struct cv_msg_doorbell, variant, F_STR, false),
};
static const struct cv_field camera_status_fields[] = {
    FLD(struct cv_msg_camera_status, camera, F_STR, true),
    FLD(struct cv_msg_camera_status, state, F_U32, true),
    FLD(struct cv_msg_camera_status, fps_x100, F_U32, false),
    FLD(struct cv_msg_camera_status, bitrate, F_U32, false),
    FLD(struct cv_msg_camera_status, restarts, F_U32, false),
    FLD(struct cv_msg_camera_status, frames, F_U64, false),
    FLD(struct cv_msg_camera_status, codecs, F_STR, false),
    FLD(struct cv_msg_camera_status, error, F_STR, false),
    FLD(struct cv_msg_camera_status, width, F_U32, false),
    FLD(struct cv_msg_camera_status, height, F_U32, false),
    FLD(struct cv_msg_camera_status, uptime_ms, F_U64, false),
    FLD(struct cv_msg_camera_status, bytes, F_U64, false),
    FLD(struct cv_msg_camera_status, source, F_STR, false),
    FLD(struct cv_msg_camera_status, transcode, F_STR, false),
    FLD(struct cv_msg_camera_status, encoders, F_U32, false),
    FLD(struct cv_msg_camera_status, decoded, F_U64, false),
    FLD(struct cv_msg_camera_status, xcode_skipped, F_U64, false),
    FLD(struct cv_msg_camera_status, xcode_p50_us, F_U32, false),
    FLD(struct cv_msg_camera_status, xcode_p99_us, F_U32, false),
};
static const struct cv_field stream_put_fields[] = {
    FLD(struct cv_msg_stream_put, req_id, F_U32, true),
    FLD(struct cv_msg_stream_put, name, F_STR, true),
    FLD(struct cv_msg_stream_put, url, F_STR, true),
};
static const struct cv_field stream_delete_fields[] = {
    FLD(struct cv_msg_stream_delete, req_id, F_U32, true),
    FLD(struct cv_msg_stream_delete, name, F_STR, true),
};
static const struct cv_field stream_result_fields[] = {
    FLD(struct cv_msg_stream_result, req_id, F_U32, true),
    FLD(struct cv_msg_stream_result, status, F_I32, true),
    FLD(struct cv_msg_stream_result, reason, F_STR, false),
};
static const struct cv_field webrtc_offer_fields[] = {
    FLD(struct cv_msg_webrtc_offer, req_id, F_U32, true),
    FLD(struct cv_msg_webrtc_offer, camera, F_STR, true),
    FLD(struct cv_msg_webrtc_offer, kind, F_STR, false),
    FLD(struct cv_msg_webrtc_offer, client, F_STR, false),
    FLD(struct cv_msg_webrtc_offer, sdp, F_STR, false),
    FLD(struct cv_msg_webrtc_offer, flags, F_U32, false),
    FLD(struct cv_msg_webrtc_offer, session, F_STR, false),
};
static const struct cv_field webrtc_answer_fields[] = {
    FLD(struct cv_msg_webrtc_answer, req_id, F_U32, true),
    FLD(struct cv_msg_webrtc_answer, status, F_I32, true),
    FLD(struct cv_msg_webrtc_answer, reason, F_STR, false),
    FLD(struct cv_msg_webrtc_answer, session, F_STR, false),
    FLD(struct cv_msg_webrtc_answer, sdp, F_STR, false),
    FLD(struct cv_msg_webrtc_answer, flags, F_U32, false),
};
static const struct cv_field webrtc_candidate_fields[] = {
    FLD(struct cv_msg_webrtc_candidate, req_id, F_U32, false),
    FLD(struct cv_msg_webrtc_candidate, session, F_STR, false),
    FLD(struct cv_msg_webrtc_candidate, candidate, F_STR, true),
};
static const struct cv_field webrtc_session_fields[] = {
    FLD(struct cv_msg_webrtc_session, session, F_STR, true),
    FLD(struct cv_msg_webrtc_session, camera, F_STR, true),
    FLD(struct cv_msg_webrtc_session, kind, F_STR, false),
    FLD(struct cv_msg_webrtc_session, client, F_STR, false),
    FLD(struct cv_msg_webrtc_session, state, F_U32, false),
    FLD(struct cv_msg_webrtc_session, packets, F_U64, false),
    FLD(struct cv_msg_webrtc_session, bytes, F_U64, false),
    FLD(struct cv_msg_webrtc_session, lost, F_U32, false),
    FLD(struct cv_msg_webrtc_session, jitter, F_U32, false),
    FLD(struct cv_msg_webrtc_session, nacks, F_U64, false),
    FLD(struct cv_msg_webrtc_session, retransmits, F_U64, false),
    FLD(struct cv_msg_webrtc_session, keyframe_requests, F_U64, false),
};
static const struct cv_field webrtc_stats_fields[] = {
    FLD(struct cv_msg_webrtc_stats, total, F_U32, true),
    {"sessions", F_MAPARR, offsetof(struct cv_msg_webrtc_stats, sessions),
     sizeof(struct cv_msg_webrtc_session), true, offsetof(struct cv_msg_webrtc_stats, count),
     CV_PROTO_MAX_WEBRTC_STATS, webrtc_session_fields,
     sizeof(webrtc_session_fields) / sizeof(webrtc_session_fields[0])},
};
static const struct cv_field webrtc_close_fields[] = {
    FLD(struct cv_msg_webrtc_close, req_id, F_U32, false),
    FLD(struct cv_msg_webrtc_close, session, F_STR, false),
    FLD(struct cv_msg_webrtc_close, with_signalling, F_U32, false),
};
static const struct cv_field variant_fields[] = {
    FLD(struct cv_msg_variant, variant, F_STR, true),
};
static const struct cv_field status_fields[] = {
    FLD(struct cv_msg_status, state, F_U32, true),
    FLD(struct cv_msg_status, fps_x100, F_U32, false),
    FLD(struct cv_msg_status, bitrate, F_U32, false),
    FLD(struct cv_msg_status, frames, F_U64, false),
    FLD(struct cv_msg_status, gop_ms, F_U32, false),
    FLD(struct cv_msg_status, ring_span_ms, F_U32, false),
    FLD(struct cv_msg_status, codecs, F_STR, false),
    FLD(struct cv_msg_status, error, F_STR, false),
    FLD(struct cv_msg_status, width, F_U32, false),
    FLD(struct cv_msg_status, height, F_U32, false),
    FLD(struct cv_msg_status, uptime_ms, F_U64, false),
    FLD(struct cv_msg_status, bytes, F_U64, false),
    FLD(struct cv_msg_status, gop_bytes, F_U32, false),
    FLD(struct cv_msg_status, transcode, F_STR, false),
    FLD(struct cv_msg_status, encoders, F_U32, false),
    FLD(struct cv_msg_status, decoded, F_U64, false),
    FLD(struct cv_msg_status, xcode_skipped, F_U64, false),
    FLD(struct cv_msg_status, xcode_p50_us, F_U32, false),
    FLD(struct cv_msg_status, xcode_p99_us, F_U32, false),
};

#define TYPE(name, fields)                                                                         \
    {                                                                                              \
        name, fields, sizeof(fields) / sizeof(fields[0])                                           \
    }

static const struct {
    const char *name;
    const struct cv_field *fields;
    size_t nfields;
} cv_msg_types[CV_MSG_TYPE_COUNT] = {
    [CV_MSG_HELLO] = TYPE("hello", hello_fields),
    [CV_MSG_CAMERA] = TYPE("camera", camera_fields),
    [CV_MSG_CATALOGUE] = TYPE("catalogue", catalogue_fields),
    [CV_MSG_SUBSCRIBE] = TYPE("subscribe", subscribe_fields),
    [CV_MSG_SUBSCRIBED] = TYPE("subscribed", subscribed_fields),
    [CV_MSG_UNSUBSCRIBE] = TYPE("unsubscribe", unsubscribe_fields),
    [CV_MSG_DOORBELL_ADD] = TYPE("doorbell_add", doorbell_fields),
    [CV_MSG_DOORBELL_DEL] = TYPE("doorbell_del", doorbell_fields),
    [CV_MSG_STATUS] = TYPE("status", status_fields),
    [CV_MSG_SETTINGS] = TYPE("settings", settings_fields),
    [CV_MSG_KEYFRAME] = TYPE("keyframe", keyframe_fields),
    [CV_MSG_RING] = TYPE("ring", ring_fields),
    [CV_MSG_VARIANT_START] = TYPE("variant_start", variant_fields),
    [CV_MSG_VARIANT_STOP] = TYPE("variant_stop", variant_fields),
    [CV_MSG_CAMERA_STATUS] = TYPE("camera_status", camera_status_fields),
    [CV_MSG_PEER] = TYPE("peer", peer_fields),
    [CV_MSG_STREAM_PUT] = TYPE("stream_put", stream_put_fields),
    [CV_MSG_STREAM_DELETE] = TYPE("stream_delete", stream_delete_fields),
    [CV_MSG_STREAM_RESULT] = TYPE("stream_result", stream_result_fields),
    [CV_MSG_WEBRTC_OFFER] = TYPE("webrtc_offer", webrtc_offer_fields),
    [CV_MSG_WEBRTC_ANSWER] = TYPE("webrtc_answer", webrtc_answer_fields),
    [CV_MSG_WEBRTC_CANDIDATE] = TYPE("webrtc_candidate", webrtc_candidate_fields),
    [CV_MSG_WEBRTC_CLOSE] = TYPE("webrtc_close", webrtc_close_fields),
    [CV_MSG_WEBRTC_STATS] = TYPE("webrtc_stats", webrtc_stats_fields),
};

const char *cv_msg_type_name(uint32_t type)
{
    if (type == CV_MSG_NONE || type >= CV_MSG_TYPE_COUNT)
        return "?";
    return cv_msg_types[type].name;
}

/* ---- encoding ------------------------------------------------------------------------------ */

struct cv_outbuf {
    uint8_t *p;
    size_t len, cap;
    bool overflow;
};

static int cv_outbuf_write(void *data, const char *buf, size_t len)
{
    struct cv_outbuf *o = data;
    if (o->overflow || len > o->cap - o->len) {
        o->overflow = true;
        return -1;
    }
    memcpy(o->p + o->len, buf, len);
    o->len += len;
    return 0;
}

static void cv_pack_str(msgpack_packer *pk, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* The key/value pairs of fields (the caller packed the map header). */
static int cv_pack_fields(msgpack_packer *pk, const struct cv_field *fields, size_t nfields,
                          const uint8_t *base)
{
    for (size_t i = 0; i < nfields; i++) {
        const struct cv_field *f = &fields[i];
        const uint8_t *p = base + f->offset;
        cv_pack_str(pk, f->key, 64);
        switch (f->kind) {
        case F_U32: msgpack_pack_uint32(pk, *(const uint32_t *)p); break;
        case F_I32: msgpack_pack_int32(pk, *(const int32_t *)p); break;
        case F_U64: msgpack_pack_uint64(pk, *(const uint64_t *)p); break;
        case F_STR: cv_pack_str(pk, (const char *)p, f->size); break;
        case F_STRARR:
        case F_MAPARR: {
            uint32_t n = *(const uint32_t *)(base + f->count_offset);
            if (n > f->max_count)
                return -EINVAL;
            msgpack_pack_array(pk, n);
            for (uint32_t j = 0; j < n; j++) {
                const uint8_t *e = p + (size_t)j * f->size;
                if (f->kind == F_STRARR) {
                    cv_pack_str(pk, (const char *)e, f->size);
                    continue;
                }
                msgpack_pack_map(pk, f->nsub);
                if (cv_pack_fields(pk, f->sub, f->nsub, e) < 0)
                    return -EINVAL;
            }
            break;
        }
        }
    }
    return 0;
}

int cv_msg_encode(const struct cv_msg *m, uint8_t *buf, size_t cap)
{
    if (m->type == CV_MSG_NONE || m->type >= CV_MSG_TYPE_COUNT)
        return -EINVAL;
    struct cv_outbuf out = {.p = buf, .cap = cap};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, cv_outbuf_write);

    const struct cv_field *fields = cv_msg_types[m->type].fields;
    size_t nfields = cv_msg_types[m->type].nfields;
    msgpack_pack_map(&pk, 2 + nfields);
    cv_pack_str(&pk, "v", 1);
    msgpack_pack_uint32(&pk, CV_PROTO_VERSION);
    cv_pack_str(&pk, "t", 1);
    cv_pack_str(&pk, cv_msg_types[m->type].name, 32);
    if (cv_pack_fields(&pk, fields, nfields, (const uint8_t *)&m->u) < 0)
        return -EINVAL;
    return out.overflow ? -EMSGSIZE : (int)out.len;
}

/* ---- decoding ------------------------------------------------------------------------------ */

static bool cv_obj_is_key(const msgpack_object *o, const char *key)
{
    size_t n = strlen(key);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, key, n) == 0;
}

/* Copies a msgpack string into a fixed buffer; refuses embedded NULs and overlong strings. */
static int cv_obj_copy_str(const msgpack_object *o, char *dst, size_t size)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size)
        return -EBADMSG;
    if (memchr(o->via.str.ptr, '\0', o->via.str.size))
        return -EBADMSG;
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return 0;
}

static int cv_obj_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
        return -EBADMSG;
    *out = o->via.u64;
    return 0;
}

static int cv_decode_fields(const msgpack_object_map *map, const struct cv_field *fields,
                            size_t nfields, uint8_t *base);

static int cv_decode_field(const struct cv_field *f, const msgpack_object *v, uint8_t *base)
{
    uint8_t *p = base + f->offset;
    uint64_t u;
    switch (f->kind) {
    case F_U32:
        if (cv_obj_uint(v, UINT32_MAX, &u) < 0)
            return -EBADMSG;
        *(uint32_t *)p = (uint32_t)u;
        return 0;
    case F_U64:
        if (cv_obj_uint(v, UINT64_MAX, &u) < 0)
            return -EBADMSG;
        *(uint64_t *)p = u;
        return 0;
    case F_I32:
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT32_MAX)
            *(int32_t *)p = (int32_t)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && v->via.i64 >= INT32_MIN)
            *(int32_t *)p = (int32_t)v->via.i64;
        else
            return -EBADMSG;
        return 0;
    case F_STR: return cv_obj_copy_str(v, (char *)p, f->size);
    case F_STRARR:
        if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > f->max_count)
            return -EBADMSG;
        for (uint32_t j = 0; j < v->via.array.size; j++)
            if (cv_obj_copy_str(&v->via.array.ptr[j], (char *)p + (size_t)j * f->size, f->size))
                return -EBADMSG;
        *(uint32_t *)(base + f->count_offset) = v->via.array.size;
        return 0;
    case F_MAPARR:
        if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > f->max_count)
            return -EBADMSG;
        for (uint32_t j = 0; j < v->via.array.size; j++) {
            const msgpack_object *e = &v->via.array.ptr[j];
            if (e->type != MSGPACK_OBJECT_MAP ||
                cv_decode_fields(&e->via.map, f->sub, f->nsub, p + (size_t)j * f->size) < 0)
                return -EBADMSG;
        }
        *(uint32_t *)(base + f->count_offset) = v->via.array.size;
        return 0;
    }
    return -EBADMSG;
}

/*
 * Every known key of map into base. Unknown keys are ignored (a newer peer may add some); a key
 * twice or a missing required one refuses the whole message.
 */
static int cv_decode_fields(const msgpack_object_map *map, const struct cv_field *fields,
                            size_t nfields, uint8_t *base)
{
    uint64_t seen = 0;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object_kv *kv = &map->ptr[i];
        for (size_t f = 0; f < nfields; f++) {
            if (!cv_obj_is_key(&kv->key, fields[f].key))
                continue;
            if (seen & (1ull << f))
                return -EBADMSG; /* a key twice is ambiguous: refuse rather than pick one */
            if (cv_decode_field(&fields[f], &kv->val, base) < 0)
                return -EBADMSG;
            seen |= 1ull << f;
        }
    }
    for (size_t f = 0; f < nfields; f++)
        if (fields[f].required && !(seen & (1ull << f)))
            return -EBADMSG;
    return 0;
}

static int cv_decode_map(const msgpack_object *root, struct cv_msg *m)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return -EBADMSG;
    const msgpack_object_map *map = &root->via.map;

    /* Version and type first: they decide how the rest is read. */
    uint64_t version = 0;
    const msgpack_object *type = NULL;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object_kv *kv = &map->ptr[i];
        if (cv_obj_is_key(&kv->key, "v") && cv_obj_uint(&kv->val, UINT32_MAX, &version) < 0)
            return -EBADMSG;
        if (cv_obj_is_key(&kv->key, "t"))
            type = &kv->val;
    }
    if (version != CV_PROTO_VERSION || !type || type->type != MSGPACK_OBJECT_STR)
        return -EBADMSG;
    for (uint32_t t = 1; t < CV_MSG_TYPE_COUNT; t++)
        if (cv_obj_is_key(type, cv_msg_types[t].name))
            m->type = t;
    if (m->type == CV_MSG_NONE)
        return -EBADMSG;

    return cv_decode_fields(map, cv_msg_types[m->type].fields, cv_msg_types[m->type].nfields,
                            (uint8_t *)&m->u);
}

/*
 * Walks the msgpack encoding without building anything, and refuses a message whose declared
 * array, map, string or binary sizes exceed the bytes that follow. msgpack-c's unpacker trusts
 * those sizes and allocates for them up front, so a 20-byte message claiming 2^31 map entries
 * would have it allocate 128 GiB: a child could exhaust the supervisor's memory.
 */
static int cv_msg_precheck(const uint8_t *p, size_t len)
{
    static const uint8_t fixed[32] = {
        /* 0xc0..0xdf: bytes after the type byte for fixed-size types; 0xff = variable. */
        0, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 4,    8,    1,    2,    4,    8,
        1, 2,    4, 8, 2,    3,    5,    9,    17,   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    };
    size_t off = 0, pending = 1;
    while (pending > 0) {
        if (off >= len || pending > len - off)
            return -EBADMSG; /* every pending object needs at least one byte */
        pending--;
        uint8_t t = p[off++];
        uint64_t count = 0, skip = 0;
        if (t <= 0x7f || t >= 0xe0)
            continue; /* fixint */
        if (t <= 0x8f)
            count = 2u * (t & 0x0f);
        else if (t <= 0x9f)
            count = t & 0x0f;
        else if (t <= 0xbf)
            skip = t & 0x1f;
        else if (t == 0xc1)
            return -EBADMSG;
        else if (fixed[t - 0xc0] != 0xff)
            skip = fixed[t - 0xc0];
        else {
            /* Variable: a big-endian length of 1, 2 or 4 bytes, then the payload or elements. */
            size_t nlen = (t == 0xc4 || t == 0xc7 || t == 0xd9)                             ? 1
                          : (t == 0xc5 || t == 0xc8 || t == 0xda || t == 0xdc || t == 0xde) ? 2
                                                                                            : 4;
            if (len - off < nlen)
                return -EBADMSG;
            uint64_t n = 0;
            for (size_t i = 0; i < nlen; i++)
                n = (n << 8) | p[off + i];
            off += nlen;
            if (t == 0xdc || t == 0xdd)
                count = n;
            else if (t == 0xde || t == 0xdf)
                count = 2 * n;
            else
                skip = n + (t >= 0xc7 && t <= 0xc9); /* ext: one type byte more */
        }
        if (skip > len - off || count > len - off)
            return -EBADMSG;
        off += skip;
        pending += count;
    }
    return off == len ? 0 : -EBADMSG;
}

int cv_msg_decode(const uint8_t *buf, size_t len, struct cv_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len == 0 || len > CV_PROTO_MAX_MSG || cv_msg_precheck(buf, len) < 0)
        return -EBADMSG;

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = -EBADMSG;
    if (msgpack_unpack_next(&up, (const char *)buf, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        off == len)
        rc = cv_decode_map(&up.data, m);
    msgpack_unpacked_destroy(&up);
    if (rc < 0)
        memset(m, 0, sizeof(*m));
    return rc;
}
