/*
 * H.264 (RFC 6184) and H.265 (RFC 7798) payloads. The two differ in the NAL header (1 or 2 bytes,
 * type in bits 0-4 or 1-6) and in the numbers of their aggregation (STAP-A 24 / AP 48) and
 * fragmentation (FU-A 28 / FU 49) packets; everything else is shared.
 *
 * Depacketising writes straight into the AU buffer in the ring's format (4-byte length + NAL).
 * A fragmented NAL unit gets its length prefix patched when its end fragment arrives. An AU made
 * only of parameter sets (some cameras send SPS/PPS with their own marker bit) is not handed out
 * alone: it is kept and prefixed to the next AU, so keyframes arrive with their parameter sets.
 */
#include "common/net/rtp-internal.h"

#include <errno.h>
#include <string.h>

#include "common/media/nal.h"

#define H264_STAP_A 24
#define H264_FU_A   28
#define H265_AP     48
#define H265_FU     49
#define H265_PACI   50

static bool is_h264(uint8_t codec)
{
    return codec == CV_CODEC_H264;
}

static unsigned nal_type(uint8_t codec, const uint8_t *nal)
{
    return (unsigned)cv_nal_type((enum cv_codec)codec, nal);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* --- packetiser -------------------------------------------------------------------------- */

static int pack_nal(struct cv_rtp_packer *p, struct cv_rtp_out *out, const uint8_t *nal, size_t n,
                    uint32_t ts, bool marker)
{
    const size_t max = p->mtu - CV_RTP_HEADER_SIZE;
    const bool h264 = is_h264(p->codec);
    const size_t hdr = h264 ? 1 : 2, fu_hdr = h264 ? 2 : 3;
    uint8_t *pl;

    if (n <= max) {
        if (!(pl = cv_rtp_pkt_begin(p, out, n, marker, ts)))
            return -ENOSPC;
        memcpy(pl, nal, n);
        return 0;
    }
    /* Fragment: the NAL header travels in the FU headers, the rest in chunks. */
    const uint8_t *data = nal + hdr;
    size_t left = n - hdr;
    for (bool first = true; left > 0; first = false) {
        size_t chunk = left < max - fu_hdr ? left : max - fu_hdr;
        bool last = chunk == left;
        if (!(pl = cv_rtp_pkt_begin(p, out, fu_hdr + chunk, marker && last, ts)))
            return -ENOSPC;
        uint8_t se = (uint8_t)((first ? 0x80 : 0) | (last ? 0x40 : 0));
        if (h264) {
            pl[0] = (uint8_t)((nal[0] & 0xe0) | H264_FU_A);
            pl[1] = (uint8_t)(se | (nal[0] & 0x1f));
        } else {
            pl[0] = (uint8_t)((nal[0] & 0x81) | (H265_FU << 1));
            pl[1] = nal[1];
            pl[2] = (uint8_t)(se | ((nal[0] >> 1) & 0x3f));
        }
        memcpy(pl + fu_hdr, data, chunk);
        data += chunk;
        left -= chunk;
    }
    return 0;
}

int cv_rtp_h26x_pack(struct cv_rtp_packer *p, const uint8_t *frame, size_t len, uint32_t ts,
                     bool last, struct cv_rtp_out *out)
{
    const size_t min_nal = is_h264(p->codec) ? 1 : 2;
    size_t pos = 0, n;
    const uint8_t *nal;

    while (cv_nal_next(frame, len, &pos, &nal, &n)) {
        if (n < min_nal)
            return -EBADMSG;
        int rc = pack_nal(p, out, nal, n, ts, last && pos == len);
        if (rc < 0)
            return rc;
    }
    return pos == len ? 0 : -EBADMSG; /* stopped early: a bad length */
}

/* --- depacketiser ------------------------------------------------------------------------ */

static int au_reserve(struct cv_rtp_depack *d, size_t n)
{
    return n > d->cap - d->len ? -E2BIG : 0;
}

static int put_nal(struct cv_rtp_depack *d, const uint8_t *nal, size_t n)
{
    int rc = au_reserve(d, 4 + n);
    if (rc < 0)
        return rc;
    wr32(d->buf + d->len, (uint32_t)n);
    memcpy(d->buf + d->len + 4, nal, n);
    d->len += 4 + n;
    return 0;
}

/* STAP-A / AP body: 16-bit size, NAL unit, repeated; at least one. */
static int put_aggregate(struct cv_rtp_depack *d, const uint8_t *p, size_t n, size_t min_nal)
{
    int rc;
    if (n == 0)
        return -EBADMSG;
    while (n > 0) {
        if (n < 2)
            return -EBADMSG;
        size_t sz = (size_t)(p[0] << 8 | p[1]);
        p += 2;
        n -= 2;
        if (sz < min_nal || sz > n)
            return -EBADMSG;
        if ((rc = put_nal(d, p, sz)) < 0)
            return rc;
        p += sz;
        n -= sz;
    }
    return 0;
}

/* One fragment; hdr is the rebuilt NAL header, written in front of the start fragment. */
static int put_fragment(struct cv_rtp_depack *d, bool start, bool end, uint8_t type,
                        const uint8_t *hdr, size_t hdr_len, const uint8_t *data, size_t n)
{
    int rc;
    if (start) {
        if (d->fu_open)
            return -EBADMSG; /* the previous fragmented NAL unit never ended */
        if ((rc = au_reserve(d, 4 + hdr_len + n)) < 0)
            return rc;
        d->fu_start = d->len;
        memcpy(d->buf + d->len + 4, hdr, hdr_len);
        d->len += 4 + hdr_len;
        d->fu_open = true;
        d->fu_type = type;
    } else {
        if (!d->fu_open || d->fu_type != type)
            return -EBADMSG; /* its start fragment is missing */
        if ((rc = au_reserve(d, n)) < 0)
            return rc;
    }
    memcpy(d->buf + d->len, data, n);
    d->len += n;
    if (end) {
        wr32(d->buf + d->fu_start, (uint32_t)(d->len - d->fu_start - 4));
        d->fu_open = false;
    }
    return 0;
}

static int h264_payload(struct cv_rtp_depack *d, const uint8_t *pl, size_t n)
{
    unsigned type = pl[0] & 0x1fu;

    if (pl[0] & 0x80)
        return -EBADMSG; /* forbidden_zero_bit: the sender flags the NAL unit as corrupt */
    if (d->fu_open && type != H264_FU_A)
        return -EBADMSG;
    if (type >= 1 && type <= 23)
        return put_nal(d, pl, n);
    if (type == H264_STAP_A)
        return put_aggregate(d, pl + 1, n - 1, 1);
    if (type == H264_FU_A) {
        if (n < 2)
            return -EBADMSG;
        uint8_t fh = pl[1], t = fh & 0x1f, hdr = (uint8_t)((pl[0] & 0xe0) | t);
        if (t == 0 || t > 23)
            return -EBADMSG;
        return put_fragment(d, fh & 0x80, fh & 0x40, t, &hdr, 1, pl + 2, n - 2);
    }
    return type == 0 || type > 29 ? -EBADMSG : -ENOTSUP; /* STAP-B, MTAP, FU-B */
}

static int h265_payload(struct cv_rtp_depack *d, const uint8_t *pl, size_t n)
{
    if (n < 2 || (pl[0] & 0x80))
        return -EBADMSG;
    unsigned type = (pl[0] >> 1) & 0x3fu;
    if (d->fu_open && type != H265_FU)
        return -EBADMSG;
    if (type < H265_AP)
        return put_nal(d, pl, n);
    if (type == H265_AP)
        return put_aggregate(d, pl + 2, n - 2, 2);
    if (type == H265_FU) {
        if (n < 3)
            return -EBADMSG;
        uint8_t fh = pl[2], t = fh & 0x3f;
        uint8_t hdr[2] = {(uint8_t)((pl[0] & 0x81) | (t << 1)), pl[1]};
        if (t >= H265_AP)
            return -EBADMSG;
        return put_fragment(d, fh & 0x80, fh & 0x40, t, hdr, 2, pl + 3, n - 3);
    }
    return type == H265_PACI ? -ENOTSUP : -EBADMSG;
}

/* Parameter-set NAL types, in the order extradata holds them. */
static unsigned param_types(uint8_t codec, const unsigned **types)
{
    static const unsigned h264[] = {7, 8}, h265[] = {32, 33, 34};
    *types = is_h264(codec) ? h264 : h265;
    return is_h264(codec) ? 2 : 3;
}

/* Whether a length-prefixed buffer already holds this exact NAL unit. */
static bool contains_nal(const uint8_t *buf, size_t len, const uint8_t *nal, size_t n)
{
    size_t pos = 0, m;
    const uint8_t *x;
    while (cv_nal_next(buf, len, &pos, &x, &m))
        if (m == n && memcmp(x, nal, n) == 0)
            return true;
    return false;
}

/*
 * Folds the AU's in-band parameter sets into the known set: each type present in the AU replaces
 * that type's entries (duplicates dropped: sliced encoders repeat SPS/PPS before every slice), the
 * other types are kept. True when the set changed.
 */
static bool update_params(struct cv_rtp_depack *d)
{
    const unsigned *types;
    unsigned ntypes = param_types(d->cfg.codec, &types), present = 0;
    uint8_t cand[CV_MAX_EXTRADATA];
    size_t pos = 0, n, cl = 0;
    const uint8_t *nal;

    while (cv_nal_next(d->buf, d->len, &pos, &nal, &n))
        for (unsigned i = 0; i < ntypes; i++)
            if (nal_type(d->cfg.codec, nal) == types[i])
                present |= 1u << i;
    if (!present)
        return false;
    for (unsigned i = 0; i < ntypes; i++) {
        bool from_au = present & (1u << i);
        const uint8_t *src = from_au ? d->buf : d->params;
        size_t src_len = from_au ? d->len : d->params_len;
        for (pos = 0; cv_nal_next(src, src_len, &pos, &nal, &n);) {
            if (nal_type(d->cfg.codec, nal) != types[i] || contains_nal(cand, cl, nal, n))
                continue;
            if (n + 4 > sizeof(cand) - cl)
                return false; /* too large to describe in a ring: keep the old set */
            wr32(cand + cl, (uint32_t)n);
            memcpy(cand + cl + 4, nal, n);
            cl += 4 + n;
        }
    }
    if (cl == d->params_len && memcmp(cand, d->params, cl) == 0)
        return false;
    memcpy(d->params, cand, cl);
    d->params_len = cl;
    return true;
}

int cv_rtp_h26x_set_params(struct cv_rtp_depack *d, const uint8_t *extradata, size_t len)
{
    size_t pos = 0, n;
    const uint8_t *nal;

    if (len > sizeof(d->params))
        return -E2BIG;
    while (cv_nal_next(extradata, len, &pos, &nal, &n))
        if (n < (is_h264(d->cfg.codec) ? 1u : 2u))
            return -EINVAL;
    if (pos != len)
        return -EINVAL;
    if (len)
        memcpy(d->params, extradata, len);
    d->params_len = len;
    return 0;
}

void cv_rtp_h26x_finish(struct cv_rtp_depack *d, bool flush)
{
    size_t pos = 0, n;
    const uint8_t *nal;
    bool key = false, vcl = false;

    if (!d->in_au)
        return;
    d->in_au = false;
    if (d->broken || d->fu_open) {
        d->stats.dropped_aus++;
        if (d->oversize)
            d->stats.oversize++;
        d->len = d->carry = 0;
        d->broken = d->fu_open = d->oversize = false;
        d->discont = true;
        return;
    }
    while (cv_nal_next(d->buf, d->len, &pos, &nal, &n)) {
        unsigned t = nal_type(d->cfg.codec, nal);
        if (is_h264(d->cfg.codec)) {
            vcl |= t >= 1 && t <= 5;
            key |= t == 5;
        } else {
            vcl |= t <= 31;
            key |= t >= 16 && t <= 21;
        }
    }
    if (!vcl && !flush) {
        d->carry = d->len; /* parameter sets (or SEI) alone: they belong to the next AU */
        return;
    }
    if (d->len > 0) {
        bool changed = update_params(d);
        cv_rtp_emit(d, d->buf, d->len, d->au_ts, key, changed);
    }
    d->len = d->carry = 0;
}

int cv_rtp_h26x_push(struct cv_rtp_depack *d, const struct cv_rtp_header *h, const uint8_t *pl,
                     size_t n, uint32_t gap)
{
    int rc = 0;

    /*
     * Lost packets may have been the tail of the AU in progress, or the head of this one. With a
     * sender that sets marker bits, one lost packet between an AU that never saw its marker and a
     * new timestamp can only have been that marker packet: the new AU is whole.
     */
    bool ts_change = d->in_au && h->timestamp != d->au_ts;
    bool head_whole = gap == 1 && ts_change && d->saw_marker;
    if (gap && d->in_au)
        d->broken = true;
    /* A new timestamp ends the AU in progress even without its marker bit. */
    if (ts_change)
        cv_rtp_h26x_finish(d, false);
    if (!d->in_au) {
        d->in_au = true;
        d->au_ts = h->timestamp;
        d->broken = gap && !head_whole;
        d->fu_open = d->oversize = false;
        d->len = d->carry;
    }
    if (!d->broken && n > 0) {
        rc = is_h264(d->cfg.codec) ? h264_payload(d, pl, n) : h265_payload(d, pl, n);
        if (rc < 0) {
            d->broken = true;
            d->oversize = rc == -E2BIG;
        }
    }
    if (h->marker) {
        d->saw_marker = true;
        cv_rtp_h26x_finish(d, false);
    }
    return rc;
}
