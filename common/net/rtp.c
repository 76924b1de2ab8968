/*
 * RTP header handling and the codec-independent half of the packetiser and depacketiser (see
 * rtp.h): arena bookkeeping with rollback, sequence-number tracking (loss, reordering, SSRC
 * changes), timestamp unwrapping and the hand-out of access units. The codec halves are in
 * rtp-h26x.c and rtp-aac.c.
 */
#include "common/net/rtp.h"
#include "common/net/rtp-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* A packet this far behind the expected sequence number is late (dropped), not a restart. */
#define LATE_WINDOW 1024u
/* RFC 3640 AUs are at most 2^sizelength - 1 bytes; cap the reassembly buffer there. */
#define AAC_MAX_CAP (64u << 10)

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int cv_rtp_header_parse(const uint8_t *pkt, size_t len, struct cv_rtp_header *h)
{
    size_t hl, end = len;

    if (len < CV_RTP_HEADER_SIZE || (pkt[0] >> 6) != 2)
        return -EBADMSG;
    h->version = 2;
    h->padding = (pkt[0] & 0x20) != 0;
    h->extension = (pkt[0] & 0x10) != 0;
    h->csrc_count = pkt[0] & 0x0f;
    h->marker = (pkt[1] & 0x80) != 0;
    h->payload_type = pkt[1] & 0x7f;
    h->seq = rd16(pkt + 2);
    h->timestamp = rd32(pkt + 4);
    h->ssrc = rd32(pkt + 8);

    hl = CV_RTP_HEADER_SIZE + 4u * h->csrc_count;
    if (hl > len)
        return -EBADMSG;
    if (h->extension) {
        if (len - hl < 4)
            return -EBADMSG;
        size_t ext = 4 + 4u * rd16(pkt + hl + 2);
        if (ext > len - hl)
            return -EBADMSG;
        hl += ext;
    }
    if (h->padding) {
        uint8_t pad = pkt[len - 1];
        if (pad == 0 || pad > len - hl)
            return -EBADMSG;
        end -= pad;
    }
    h->header_len = hl;
    h->payload_len = end - hl;
    return 0;
}

void cv_rtp_header_write(uint8_t *out, bool marker, uint8_t payload_type, uint16_t seq,
                         uint32_t timestamp, uint32_t ssrc)
{
    out[0] = 0x80;
    out[1] = (uint8_t)((marker ? 0x80 : 0) | (payload_type & 0x7f));
    out[2] = (uint8_t)(seq >> 8);
    out[3] = (uint8_t)seq;
    out[4] = (uint8_t)(timestamp >> 24);
    out[5] = (uint8_t)(timestamp >> 16);
    out[6] = (uint8_t)(timestamp >> 8);
    out[7] = (uint8_t)timestamp;
    out[8] = (uint8_t)(ssrc >> 24);
    out[9] = (uint8_t)(ssrc >> 16);
    out[10] = (uint8_t)(ssrc >> 8);
    out[11] = (uint8_t)ssrc;
}

/* --- packetiser -------------------------------------------------------------------------- */

int cv_rtp_packer_init(struct cv_rtp_packer *p, enum cv_codec codec, uint8_t payload_type,
                       size_t mtu, size_t headroom)
{
    uint8_t rnd[10];

    if (mtu == 0)
        mtu = CV_RTP_DEFAULT_MTU;
    if (mtu < 64 || mtu > 65531 || headroom > 64 || payload_type > 127)
        return -EINVAL;
    if (codec < CV_CODEC_H264 || codec > CV_CODEC_OPUS)
        return -EINVAL;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -EIO;
    memset(p, 0, sizeof(*p));
    p->codec = (uint8_t)codec;
    p->payload_type = payload_type;
    p->mtu = (uint16_t)mtu;
    p->headroom = (uint16_t)headroom;
    p->ssrc = rd32(rnd);
    p->ts_offset = rd32(rnd + 4);
    p->seq = rd16(rnd + 8);
    return 0;
}

uint8_t *cv_rtp_pkt_begin(struct cv_rtp_packer *p, struct cv_rtp_out *out, size_t payload_len,
                          bool marker, uint32_t ts)
{
    size_t rtp_len = CV_RTP_HEADER_SIZE + payload_len, total = p->headroom + rtp_len;

    if (out->count >= out->max_pkts || out->used > out->arena_size ||
        total > out->arena_size - out->used || out->used + total > UINT32_MAX || rtp_len > p->mtu)
        return NULL;
    uint8_t *b = out->arena + out->used;
    if (p->headroom >= CV_RTP_INTERLEAVED_HEADROOM) {
        uint8_t *ih = b + p->headroom - CV_RTP_INTERLEAVED_HEADROOM;
        ih[0] = '$';
        ih[1] = 0;
        ih[2] = (uint8_t)(rtp_len >> 8);
        ih[3] = (uint8_t)rtp_len;
    }
    uint8_t *pkt = b + p->headroom;
    cv_rtp_header_write(pkt, marker, p->payload_type, p->seq++, ts, p->ssrc);
    out->pkts[out->count].offset = (uint32_t)(out->used + p->headroom);
    out->pkts[out->count].len = (uint32_t)rtp_len;
    out->count++;
    out->used += total;
    p->packets++;
    p->octets += (uint32_t)payload_len;
    return pkt + CV_RTP_HEADER_SIZE;
}

int cv_rtp_packetize(struct cv_rtp_packer *p, const uint8_t *frame, size_t len, int64_t pts,
                     unsigned flags, struct cv_rtp_out *out)
{
    const size_t used = out->used, count = out->count;
    const uint16_t seq = p->seq;
    const uint32_t packets = p->packets, octets = p->octets;
    const uint32_t ts = (uint32_t)((uint64_t)pts + p->ts_offset);
    int rc;

    if (len == 0)
        return -EINVAL;
    switch (p->codec) {
    case CV_CODEC_H264:
    case CV_CODEC_H265:
        rc = cv_rtp_h26x_pack(p, frame, len, ts, !(flags & CV_RTP_PACK_MORE), out);
        break;
    case CV_CODEC_AAC: rc = cv_rtp_aac_pack(p, frame, len, ts, out); break;
    case CV_CODEC_PCMA:
    case CV_CODEC_PCMU:
    case CV_CODEC_OPUS: rc = cv_rtp_raw_pack(p, frame, len, ts, out); break;
    default: rc = -EINVAL;
    }
    if (rc < 0) {
        out->used = used;
        out->count = count;
        p->seq = seq;
        p->packets = packets;
        p->octets = octets;
    }
    return rc;
}

size_t cv_rtp_packetize_bound(const struct cv_rtp_packer *p, size_t len, size_t *max_pkts)
{
    const size_t overhead = p->headroom + CV_RTP_HEADER_SIZE + 4;
    size_t frag = p->mtu > overhead ? p->mtu - CV_RTP_HEADER_SIZE - 3 : 1;
    /* Each NAL unit takes at least 5 bytes (prefix + header) and at most n/frag + 1 packets. */
    size_t pkts = len / frag + len / 5 + 1;
    *max_pkts = pkts;
    return len + pkts * overhead;
}

/* --- depacketiser ------------------------------------------------------------------------ */

int cv_rtp_depack_new(struct cv_rtp_depack **out, const struct cv_rtp_depack_cfg *cfg,
                      cv_rtp_au_fn fn, void *opaque)
{
    struct cv_rtp_depack *d;
    size_t cap = 0;

    *out = NULL;
    switch (cfg->codec) {
    case CV_CODEC_H264:
    case CV_CODEC_H265: cap = cfg->max_au ? cfg->max_au : CV_RTP_MAX_AU; break;
    case CV_CODEC_AAC:
        if (cfg->aac_sizelength == 0 || cfg->aac_sizelength > 16 || cfg->aac_indexlength > 8 ||
            cfg->aac_indexdeltalength > 8)
            return -EINVAL;
        cap = (size_t)1 << cfg->aac_sizelength;
        cap = cap > AAC_MAX_CAP ? AAC_MAX_CAP : cap;
        break;
    case CV_CODEC_PCMA:
    case CV_CODEC_PCMU:
    case CV_CODEC_OPUS: break;
    default: return -EINVAL;
    }
    if (!fn || cfg->payload_type > 127)
        return -EINVAL;
    if (!(d = calloc(1, sizeof(*d))))
        return -ENOMEM;
    if (cap && !(d->buf = malloc(cap))) {
        free(d);
        return -ENOMEM;
    }
    d->cfg = *cfg;
    d->cap = cap;
    d->fn = fn;
    d->opaque = opaque;
    *out = d;
    return 0;
}

void cv_rtp_depack_free(struct cv_rtp_depack *d)
{
    if (!d)
        return;
    free(d->buf);
    free(d);
}

int cv_rtp_depack_set_params(struct cv_rtp_depack *d, const uint8_t *extradata, size_t len)
{
    if (d->cfg.codec != CV_CODEC_H264 && d->cfg.codec != CV_CODEC_H265)
        return -EINVAL;
    return cv_rtp_h26x_set_params(d, extradata, len);
}

const struct cv_rtp_depack_stats *cv_rtp_depack_stats(const struct cv_rtp_depack *d)
{
    return &d->stats;
}

void cv_rtp_depack_flush(struct cv_rtp_depack *d)
{
    if (d->cfg.codec == CV_CODEC_H264 || d->cfg.codec == CV_CODEC_H265)
        cv_rtp_h26x_finish(d, true);
    else if (d->in_au)
        d->stats.dropped_aus++; /* an incomplete RFC 3640 fragment */
    d->in_au = false;
    d->len = 0;
    d->carry = 0;
}

/* Discards the AU in progress, counting it when it held anything of its own. */
static void drop_in_progress(struct cv_rtp_depack *d)
{
    if (d->in_au && (d->len > d->carry || d->broken))
        d->stats.dropped_aus++;
    d->in_au = d->broken = d->fu_open = d->oversize = false;
    d->len = d->carry = 0;
    d->discont = true;
}

void cv_rtp_depack_reset(struct cv_rtp_depack *d)
{
    drop_in_progress(d);
    d->have_seq = false;
    d->have_ext = false;
}

int cv_rtp_emit(struct cv_rtp_depack *d, const uint8_t *data, size_t len, uint32_t ts, bool key,
                bool params_changed)
{
    struct cv_rtp_au au;

    if (!d->have_ext) {
        d->ext_ts = ts;
        d->have_ext = true;
    } else {
        uint32_t diff = ts - d->last_ts;
        d->ext_ts += diff < 0x80000000u ? (int64_t)diff : (int64_t)diff - ((int64_t)1 << 32);
    }
    d->last_ts = ts;

    au.data = data;
    au.len = len;
    au.timestamp = ts;
    au.ext_timestamp = d->ext_ts;
    au.keyframe = key;
    au.discont = d->discont;
    au.params_changed = params_changed;
    au.params = d->params;
    au.params_len = d->params_len;
    d->discont = false;
    d->stats.aus++;
    d->fn(d->opaque, &au);
    return 0;
}

int cv_rtp_depack_push(struct cv_rtp_depack *d, const uint8_t *pkt, size_t len)
{
    struct cv_rtp_header h;
    uint32_t gap = 0;
    int rc;

    if (cv_rtp_header_parse(pkt, len, &h) < 0) {
        d->stats.bad++;
        return -EBADMSG;
    }
    if (d->cfg.payload_type >= 0 && h.payload_type != d->cfg.payload_type) {
        d->stats.ignored++;
        return 0;
    }
    if (d->have_seq && h.ssrc != d->ssrc) {
        /* A new source (the camera restarted): numbering starts afresh, like a new stream. */
        drop_in_progress(d);
    } else if (d->have_seq && h.seq != d->next_seq) {
        uint16_t ahead = (uint16_t)(h.seq - d->next_seq);
        if (ahead >= 0x10000u - LATE_WINDOW) {
            d->stats.late++;
            return 0;
        }
        if (ahead < 0x8000u)
            d->stats.lost += ahead;
        gap = ahead < 0x8000u ? ahead : UINT32_MAX;
    }
    d->have_seq = true;
    d->next_seq = (uint16_t)(h.seq + 1);
    d->ssrc = h.ssrc;
    d->stats.packets++;
    if (gap)
        d->discont = true;

    const uint8_t *pl = pkt + h.header_len;
    switch (d->cfg.codec) {
    case CV_CODEC_H264:
    case CV_CODEC_H265: rc = cv_rtp_h26x_push(d, &h, pl, h.payload_len, gap); break;
    case CV_CODEC_AAC: rc = cv_rtp_aac_push(d, &h, pl, h.payload_len, gap); break;
    default: rc = cv_rtp_raw_push(d, &h, pl, h.payload_len, gap); break;
    }
    if (rc < 0 && rc != -E2BIG)
        d->stats.bad++;
    return rc;
}
