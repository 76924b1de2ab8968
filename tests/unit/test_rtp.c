/*
 * RTP packetiser, depacketiser and RTCP. Round trips through our own packetiser (large IDRs in
 * FU-A/FU, several slices, wrapping sequence numbers and timestamps), hand-built camera packets
 * (STAP-A, AP, several AAC AUs per packet, fragmented AAC), loss/reordering/duplicates, and the
 * key requirement: an access unit comes out on its marker packet, not on the next frame's first.
 *
 * test_real_streams replays RTP captured from GStreamer 1.22 (x264enc/x265enc/avenc_aac through
 * rtph264pay/rtph265pay/rtpmp4gpay, stored in the rtp_depack fuzz corpus) and checks the output
 * against the MD5 of what GStreamer's own depayloaders produce from the same packets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "common/net/rtcp.h"
#include "common/net/rtp.h"

/* --- helpers ----------------------------------------------------------------------------- */

#define MAX_AUS 64

struct got {
    uint8_t *data;
    size_t len;
    uint32_t ts;
    int64_t ext_ts;
    bool key, discont, changed;
    size_t params_len;
    uint8_t params[CV_MAX_EXTRADATA];
};

static struct got aus[MAX_AUS];
static unsigned naus;

static void on_au(void *opaque, const struct cv_rtp_au *au)
{
    (void)opaque;
    assert_true(naus < MAX_AUS);
    struct got *g = &aus[naus++];
    g->data = malloc(au->len ? au->len : 1);
    memcpy(g->data, au->data, au->len);
    g->len = au->len;
    g->ts = au->timestamp;
    g->ext_ts = au->ext_timestamp;
    g->key = au->keyframe;
    g->discont = au->discont;
    g->changed = au->params_changed;
    g->params_len = au->params_len;
    memcpy(g->params, au->params, au->params_len);
}

static void clear_aus(void)
{
    for (unsigned i = 0; i < naus; i++)
        free(aus[i].data);
    naus = 0;
}

static int setup(void **state)
{
    (void)state;
    naus = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clear_aus();
    return 0;
}

/* Appends a NAL unit of n bytes: header bytes, then a deterministic pattern. */
static void add_nal(uint8_t *f, size_t *len, const uint8_t *hdr, size_t hdr_len, size_t n)
{
    uint8_t *p = f + *len;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    memcpy(p + 4, hdr, hdr_len);
    for (size_t i = hdr_len; i < n; i++)
        p[4 + i] = (uint8_t)(i * 7 + n);
    *len += 4 + n;
}

static uint8_t arena[1 << 20];
static struct cv_rtp_pkt pkts[1024];
static struct cv_rtp_out out;

static void out_reset(void)
{
    out = (struct cv_rtp_out){arena, sizeof(arena), 0, pkts, 1024, 0};
}

static size_t pack(struct cv_rtp_packer *p, const uint8_t *f, size_t len, int64_t pts)
{
    size_t before = out.count;
    assert_int_equal(cv_rtp_packetize(p, f, len, pts, 0, &out), 0);
    return out.count - before;
}

static uint8_t *pkt_at(size_t i)
{
    return arena + pkts[i].offset;
}

static void push_range(struct cv_rtp_depack *d, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        assert_int_equal(cv_rtp_depack_push(d, pkt_at(i), pkts[i].len), 0);
}

static void packer(struct cv_rtp_packer *p, enum cv_codec codec, uint8_t pt, size_t mtu)
{
    assert_int_equal(cv_rtp_packer_init(p, codec, pt, mtu, 0), 0);
    p->ssrc = 0x11223344;
    p->seq = 65530; /* wraps inside the tests */
    p->ts_offset = 0xfffff000u;
}

static struct cv_rtp_depack *depack(enum cv_codec codec, int pt)
{
    struct cv_rtp_depack *d;
    struct cv_rtp_depack_cfg cfg = {.codec = (uint8_t)codec, .payload_type = (int16_t)pt};
    if (codec == CV_CODEC_AAC) {
        cfg.aac_sizelength = 13;
        cfg.aac_indexlength = 3;
        cfg.aac_indexdeltalength = 3;
    }
    assert_int_equal(cv_rtp_depack_new(&d, &cfg, on_au, NULL), 0);
    return d;
}

static const uint8_t sps264[] = {0x67, 0x42, 0xc0, 0x1f};
static const uint8_t pps264[] = {0x68, 0xce};
static const uint8_t idr264[] = {0x65, 0x88};
static const uint8_t p264[] = {0x41, 0x9a};

/* SPS, PPS, a 6000-byte IDR slice and a 300-byte second slice. */
static size_t h264_idr(uint8_t *f)
{
    size_t len = 0;
    add_nal(f, &len, sps264, sizeof(sps264), 12);
    add_nal(f, &len, pps264, sizeof(pps264), 4);
    add_nal(f, &len, idr264, sizeof(idr264), 6000);
    add_nal(f, &len, idr264, sizeof(idr264), 300);
    return len;
}

static size_t h264_p(uint8_t *f, size_t big)
{
    size_t len = 0;
    add_nal(f, &len, p264, sizeof(p264), big);
    add_nal(f, &len, p264, sizeof(p264), 100);
    return len;
}

/* --- RTP header -------------------------------------------------------------------------- */

static void test_header(void **state)
{
    (void)state;
    struct cv_rtp_header h;
    /* V=2 P X CC=2, M PT=96, CSRCs, a one-word extension, 5 payload bytes, 3 padding. */
    uint8_t p[] = {0xb2, 0xe0, 0x12, 0x34, 0,   0,   0,   9,   0xaa, 0xbb, 0xcc, 0xdd,
                   1,    1,    1,    1,    2,   2,   2,   2,   0xbe, 0xde, 0,    1,
                   9,    9,    9,    9,    'a', 'b', 'c', 'd', 'e',  0,    0,    3};
    assert_int_equal(cv_rtp_header_parse(p, sizeof(p), &h), 0);
    assert_true(h.padding && h.extension && h.marker);
    assert_int_equal(h.csrc_count, 2);
    assert_int_equal(h.payload_type, 96);
    assert_int_equal(h.seq, 0x1234);
    assert_int_equal(h.timestamp, 9);
    assert_int_equal(h.ssrc, 0xaabbccdd);
    assert_int_equal(h.header_len, 28);
    assert_int_equal(h.payload_len, 5);

    p[sizeof(p) - 1] = 0; /* padding count 0 */
    assert_int_equal(cv_rtp_header_parse(p, sizeof(p), &h), -EBADMSG);
    p[sizeof(p) - 1] = 9; /* more padding than payload */
    assert_int_equal(cv_rtp_header_parse(p, sizeof(p), &h), -EBADMSG);
    p[sizeof(p) - 1] = 8; /* exactly the payload: empty */
    assert_int_equal(cv_rtp_header_parse(p, sizeof(p), &h), 0);
    assert_int_equal(h.payload_len, 0);
    assert_int_equal(cv_rtp_header_parse(p, 27, &h), -EBADMSG); /* extension cut */
    assert_int_equal(cv_rtp_header_parse(p, 11, &h), -EBADMSG);
    p[0] = 0x4f; /* version 1 */
    assert_int_equal(cv_rtp_header_parse(p, sizeof(p), &h), -EBADMSG);
    p[0] = 0x8f; /* 15 CSRCs: 72 bytes */
    assert_int_equal(cv_rtp_header_parse(p, sizeof(p), &h), -EBADMSG);

    uint8_t w[12];
    cv_rtp_header_write(w, true, 97, 65535, 0xdeadbeef, 7);
    assert_int_equal(cv_rtp_header_parse(w, sizeof(w), &h), 0);
    assert_true(h.marker && !h.padding && !h.extension);
    assert_int_equal(h.payload_type, 97);
    assert_int_equal(h.seq, 65535);
    assert_int_equal(h.timestamp, 0xdeadbeef);
    assert_int_equal(h.ssrc, 7);
}

/* --- H.264 ------------------------------------------------------------------------------- */

static void test_h264_round_trip(void **state)
{
    (void)state;
    static uint8_t f1[8192], f2[8192];
    size_t l1 = h264_idr(f1), l2 = h264_p(f2, 3000);
    struct cv_rtp_packer p;
    struct cv_rtp_header h;

    packer(&p, CV_CODEC_H264, 96, 1400);
    out_reset();
    size_t n1 = pack(&p, f1, l1, 0);
    /* SPS, PPS, 6000 bytes in ceil(5999 / 1386) = 5 FU-A, the small slice. */
    assert_int_equal(n1, 8);
    for (size_t i = 0; i < n1; i++) {
        assert_int_equal(cv_rtp_header_parse(pkt_at(i), pkts[i].len, &h), 0);
        assert_true(pkts[i].len <= 1400);
        assert_int_equal(h.seq, (uint16_t)(65530 + i));
        assert_int_equal(h.timestamp, 0xfffff000u);
        assert_int_equal(h.ssrc, 0x11223344);
        assert_int_equal(h.marker, i == n1 - 1);
    }
    assert_int_equal(pkt_at(2)[12], 0x7c); /* FU indicator: NRI of the IDR, type 28 */
    assert_int_equal(pkt_at(2)[13], 0x85); /* start, type 5 */
    assert_int_equal(pkt_at(3)[13], 0x05);
    assert_int_equal(pkt_at(6)[13], 0x45);  /* end */
    size_t n2 = pack(&p, f2, l2, 3600 * 2); /* the RTP timestamp wraps */
    assert_int_equal(n2, 4);
    assert_int_equal(p.seq, (uint16_t)(65530 + 12));

    struct cv_rtp_depack *d = depack(CV_CODEC_H264, 96);
    /* Marker-bit completion: nothing before the last packet, the AU on it. */
    for (size_t i = 0; i < n1; i++) {
        assert_int_equal(naus, 0);
        assert_int_equal(cv_rtp_depack_push(d, pkt_at(i), pkts[i].len), 0);
    }
    assert_int_equal(naus, 1);
    assert_int_equal(aus[0].len, l1);
    assert_memory_equal(aus[0].data, f1, l1);
    assert_true(aus[0].key && aus[0].changed && !aus[0].discont);
    assert_int_equal(aus[0].ts, 0xfffff000u);
    assert_int_equal(aus[0].params_len, 4 + 12 + 4 + 4);
    assert_memory_equal(aus[0].params, f1, aus[0].params_len);

    push_range(d, n1, n1 + n2);
    assert_int_equal(naus, 2);
    assert_memory_equal(aus[1].data, f2, l2);
    assert_true(!aus[1].key && !aus[1].changed && !aus[1].discont);
    assert_int_equal(aus[1].ext_ts, aus[0].ext_ts + 7200);
    assert_int_equal(aus[1].ts, (uint32_t)(0xfffff000u + 7200));

    const struct cv_rtp_depack_stats *st = cv_rtp_depack_stats(d);
    assert_int_equal(st->packets, 12);
    assert_int_equal(st->aus, 2);
    assert_int_equal(st->lost + st->late + st->bad + st->dropped_aus, 0);
    cv_rtp_depack_free(d);
}

static void test_h264_loss_in_fu(void **state)
{
    (void)state;
    static uint8_t f1[8192], f2[8192];
    size_t l1 = h264_idr(f1), l2 = h264_p(f2, 2000);
    struct cv_rtp_packer p;

    packer(&p, CV_CODEC_H264, 96, 1400);
    out_reset();
    size_t n1 = pack(&p, f1, l1, 0), n2 = pack(&p, f2, l2, 3600);
    struct cv_rtp_depack *d = depack(CV_CODEC_H264, -1);
    push_range(d, 0, 3);
    push_range(d, 4, n1); /* packet 3, in the middle of the FU-A, is lost */
    assert_int_equal(naus, 0);
    push_range(d, n1, n1 + n2);
    assert_int_equal(naus, 1);
    assert_memory_equal(aus[0].data, f2, l2);
    assert_true(aus[0].discont);
    const struct cv_rtp_depack_stats *st = cv_rtp_depack_stats(d);
    assert_int_equal(st->lost, 1);
    assert_int_equal(st->dropped_aus, 1);
    cv_rtp_depack_free(d);
}

static void test_h264_lost_marker(void **state)
{
    (void)state;
    static uint8_t f[4][8192];
    size_t l[4], n[4], at[5] = {0};
    struct cv_rtp_packer p;

    packer(&p, CV_CODEC_H264, 96, 1400);
    out_reset();
    for (int i = 0; i < 4; i++) {
        l[i] = h264_p(f[i], 2000);
        n[i] = pack(&p, f[i], l[i], 3600 * i);
        at[i + 1] = at[i] + n[i];
    }
    struct cv_rtp_depack *d = depack(CV_CODEC_H264, -1);

    /* Only the marker packet of AU 1 is lost: AU 1 goes, AU 2 is whole and kept. */
    push_range(d, at[0], at[1]);
    push_range(d, at[1], at[2] - 1);
    push_range(d, at[2], at[4]);
    assert_int_equal(naus, 3);
    assert_memory_equal(aus[1].data, f[2], l[2]);
    assert_true(aus[1].discont);
    assert_false(aus[2].discont);
    assert_int_equal(cv_rtp_depack_stats(d)->dropped_aus, 1);
    cv_rtp_depack_free(d);

    /* Two packets lost, AU 1's marker and AU 2's first: both go. */
    clear_aus();
    d = depack(CV_CODEC_H264, -1);
    push_range(d, at[0], at[1]);
    push_range(d, at[1], at[2] - 1);
    push_range(d, at[2] + 1, at[4]);
    assert_int_equal(naus, 2);
    assert_memory_equal(aus[1].data, f[3], l[3]);
    assert_true(aus[1].discont);
    assert_int_equal(cv_rtp_depack_stats(d)->dropped_aus, 2);
    assert_int_equal(cv_rtp_depack_stats(d)->lost, 2);
    cv_rtp_depack_free(d);
}

static void test_h264_reorder_duplicate(void **state)
{
    (void)state;
    static uint8_t f1[8192], f2[8192];
    size_t l1 = h264_idr(f1), l2 = h264_p(f2, 2000);
    struct cv_rtp_packer p;

    packer(&p, CV_CODEC_H264, 96, 1400);
    out_reset();
    size_t n1 = pack(&p, f1, l1, 0), n2 = pack(&p, f2, l2, 3600);
    struct cv_rtp_depack *d = depack(CV_CODEC_H264, -1);

    /* A duplicate is dropped and harms nothing. */
    push_range(d, 0, 3);
    push_range(d, 2, n1);
    assert_int_equal(naus, 1);
    assert_memory_equal(aus[0].data, f1, l1);
    assert_int_equal(cv_rtp_depack_stats(d)->late, 1);

    /* Two packets swapped: the late one is dropped, so is the AU. */
    push_range(d, n1, n1 + 1);
    push_range(d, n1 + 2, n1 + 3);
    push_range(d, n1 + 1, n1 + 2);
    push_range(d, n1 + 3, n1 + n2);
    assert_int_equal(naus, 1);
    assert_int_equal(cv_rtp_depack_stats(d)->late, 2);
    assert_int_equal(cv_rtp_depack_stats(d)->dropped_aus, 1);
    cv_rtp_depack_free(d);
}

static void test_h264_no_marker(void **state)
{
    (void)state;
    static uint8_t f1[8192], f2[8192];
    size_t l1 = h264_idr(f1), l2 = h264_p(f2, 2000);
    struct cv_rtp_packer p;

    packer(&p, CV_CODEC_H264, 96, 1400);
    out_reset();
    size_t n1 = pack(&p, f1, l1, 0), n2 = pack(&p, f2, l2, 3600);
    for (size_t i = 0; i < n1 + n2; i++)
        pkt_at(i)[1] &= 0x7f; /* a sender that never sets the marker bit */
    struct cv_rtp_depack *d = depack(CV_CODEC_H264, -1);
    push_range(d, 0, n1);
    assert_int_equal(naus, 0);
    push_range(d, n1, n1 + 1); /* the next timestamp closes the first AU */
    assert_int_equal(naus, 1);
    assert_memory_equal(aus[0].data, f1, l1);
    push_range(d, n1 + 1, n1 + n2);
    assert_int_equal(naus, 1);
    cv_rtp_depack_flush(d);
    assert_int_equal(naus, 2);
    assert_memory_equal(aus[1].data, f2, l2);
    cv_rtp_depack_free(d);
}

/* An RTP packet by hand: header (marker, seq, ts) and payload. */
static size_t mk_pkt(uint8_t *buf, bool marker, uint16_t seq, uint32_t ts, const uint8_t *pl,
                     size_t n)
{
    cv_rtp_header_write(buf, marker, 96, seq, ts, 0xcafe);
    memcpy(buf + 12, pl, n);
    return 12 + n;
}

static void test_h264_stap_a_and_carry(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct cv_rtp_depack *d = depack(CV_CODEC_H264, 96);
    const uint8_t stap[] = {0x18, 0, 4, 0x67, 0x42, 0xc0, 0x1f, 0, 2, 0x68, 0xce};
    const uint8_t idr[] = {0x65, 0x88, 0x80, 0x40};
    const uint8_t want[] = {0, 0,    0,    4, 0x67, 0x42, 0xc0, 0x1f, 0,    0,    0,
                            2, 0x68, 0xce, 0, 0,    0,    4,    0x65, 0x88, 0x80, 0x40};

    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, false, 1, 1000, stap, sizeof(stap))),
                     0);
    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 2, 1000, idr, sizeof(idr))), 0);
    assert_int_equal(naus, 1);
    assert_int_equal(aus[0].len, sizeof(want));
    assert_memory_equal(aus[0].data, want, sizeof(want));
    assert_true(aus[0].key && aus[0].changed);
    assert_int_equal(aus[0].params_len, 14);

    /* Parameter sets sent alone with a marker (and their own timestamp) ride on the next AU. */
    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 3, 2000, stap, sizeof(stap))), 0);
    assert_int_equal(naus, 1);
    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 4, 3000, idr, sizeof(idr))), 0);
    assert_int_equal(naus, 2);
    assert_memory_equal(aus[1].data, want, sizeof(want));
    assert_int_equal(aus[1].ts, 3000);
    assert_false(aus[1].changed);

    /* A new PPS changes the set; the SPS is kept. */
    const uint8_t pps2[] = {0x68, 0xcf, 0x01};
    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, false, 5, 4000, pps2, sizeof(pps2))),
                     0);
    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 6, 4000, idr, sizeof(idr))), 0);
    assert_int_equal(naus, 3);
    assert_true(aus[2].changed);
    const uint8_t params[] = {0, 0, 0, 4, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 3, 0x68, 0xcf, 0x01};
    assert_int_equal(aus[2].params_len, sizeof(params));
    assert_memory_equal(aus[2].params, params, sizeof(params));

    /* Malformed payloads: the AU is dropped, the error reported. */
    const uint8_t bad_stap[] = {0x18, 0, 9, 0x67};
    const uint8_t fu_no_start[] = {0x7c, 0x05, 1, 2, 3};
    const uint8_t stap_b[] = {0x19, 0, 0};
    const uint8_t forbidden[] = {0xe5, 0};
    assert_int_equal(
        cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 7, 5000, bad_stap, sizeof(bad_stap))),
        -EBADMSG);
    assert_int_equal(
        cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 8, 6000, fu_no_start, sizeof(fu_no_start))),
        -EBADMSG);
    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 9, 7000, stap_b, sizeof(stap_b))),
                     -ENOTSUP);
    assert_int_equal(
        cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 10, 8000, forbidden, sizeof(forbidden))),
        -EBADMSG);
    assert_int_equal(naus, 3);
    assert_int_equal(cv_rtp_depack_stats(d)->dropped_aus, 4);
    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 11, 9000, idr, sizeof(idr))), 0);
    assert_int_equal(naus, 4);
    assert_true(aus[3].discont);

    /* Comfort noise and other payload types are ignored. */
    cv_rtp_header_write(buf, true, 13, 12, 9000, 0xcafe);
    assert_int_equal(cv_rtp_depack_push(d, buf, 14), 0);
    assert_int_equal(cv_rtp_depack_stats(d)->ignored, 1);
    cv_rtp_depack_free(d);
}

static void test_seeded_params(void **state)
{
    (void)state;
    static uint8_t f1[8192];
    size_t l1 = h264_idr(f1);
    struct cv_rtp_packer p;
    struct cv_rtp_depack *d = depack(CV_CODEC_H264, 96);

    /* The SDP's sprop-parameter-sets equal the in-band ones: no change reported. */
    assert_int_equal(cv_rtp_depack_set_params(d, f1, 4 + 12 + 4 + 4), 0);
    assert_int_equal(cv_rtp_depack_set_params(d, f1, 4 + 12 + 3), -EINVAL);
    packer(&p, CV_CODEC_H264, 96, 1400);
    out_reset();
    size_t n = pack(&p, f1, l1, 0);
    push_range(d, 0, n);
    assert_int_equal(naus, 1);
    assert_false(aus[0].changed);
    assert_true(aus[0].key);
    cv_rtp_depack_free(d);
}

static void test_oversize(void **state)
{
    (void)state;
    static uint8_t f1[8192], f2[8192];
    size_t l1 = h264_idr(f1), l2 = h264_p(f2, 500);
    struct cv_rtp_packer p;
    struct cv_rtp_depack *d;
    struct cv_rtp_depack_cfg cfg = {.codec = CV_CODEC_H264, .payload_type = -1, .max_au = 4096};

    assert_int_equal(cv_rtp_depack_new(&d, &cfg, on_au, NULL), 0);
    packer(&p, CV_CODEC_H264, 96, 1400);
    out_reset();
    size_t n1 = pack(&p, f1, l1, 0), n2 = pack(&p, f2, l2, 3600);
    int e2big = 0;
    for (size_t i = 0; i < n1; i++)
        e2big += cv_rtp_depack_push(d, pkt_at(i), pkts[i].len) == -E2BIG;
    assert_int_equal(e2big, 1);
    push_range(d, n1, n1 + n2);
    assert_int_equal(naus, 1);
    assert_true(aus[0].discont);
    assert_int_equal(cv_rtp_depack_stats(d)->oversize, 1);
    assert_int_equal(cv_rtp_depack_stats(d)->dropped_aus, 1);
    cv_rtp_depack_free(d);
}

static void test_pack_errors_and_headroom(void **state)
{
    (void)state;
    static uint8_t f[8192];
    size_t len = h264_idr(f), max_pkts;
    struct cv_rtp_packer p;

    assert_int_equal(cv_rtp_packer_init(&p, CV_CODEC_H264, 96, 1400, 4), 0);
    assert_int_equal(p.mtu, 1400);
    assert_int_equal(cv_rtp_packer_init(&p, CV_CODEC_H264, 96, 0, 4), 0);
    assert_int_equal(p.mtu, CV_RTP_DEFAULT_MTU);
    assert_int_equal(cv_rtp_packer_init(&p, CV_CODEC_H264, 96, 20, 0), -EINVAL);
    assert_int_equal(cv_rtp_packer_init(&p, CV_CODEC_NONE, 96, 0, 0), -EINVAL);
    assert_int_equal(cv_rtp_packer_init(&p, CV_CODEC_H264, 128, 0, 0), -EINVAL);

    assert_int_equal(cv_rtp_packer_init(&p, CV_CODEC_H264, 96, 1400, 4), 0);
    uint16_t seq = p.seq;
    out_reset();
    size_t bound = cv_rtp_packetize_bound(&p, len, &max_pkts);
    size_t n = pack(&p, f, len, 0);
    assert_true(out.used <= bound && n <= max_pkts);
    for (size_t i = 0; i < n; i++) {
        /* '$', channel 0, length: ready for interleaved TCP. */
        const uint8_t *ih = pkt_at(i) - 4;
        assert_int_equal(ih[0], '$');
        assert_int_equal(ih[1], 0);
        assert_int_equal(ih[2] << 8 | ih[3], pkts[i].len);
    }

    /* Errors leave out and the packer as they were. */
    size_t used = out.used, count = out.count;
    seq = p.seq;
    uint8_t bad[] = {0, 0, 0, 9, 0x65, 1};
    assert_int_equal(cv_rtp_packetize(&p, bad, sizeof(bad), 0, 0, &out), -EBADMSG);
    uint8_t zero[] = {0, 0, 0, 0};
    assert_int_equal(cv_rtp_packetize(&p, zero, sizeof(zero), 0, 0, &out), -EBADMSG);
    assert_int_equal(cv_rtp_packetize(&p, f, 0, 0, 0, &out), -EINVAL);
    struct cv_rtp_out small = {arena, 3000, 0, pkts, 1024, 0};
    assert_int_equal(cv_rtp_packetize(&p, f, len, 0, 0, &small), -ENOSPC);
    assert_int_equal(small.used, 0);
    assert_int_equal(small.count, 0);
    struct cv_rtp_out few = {arena, sizeof(arena), 0, pkts, 3, 0};
    assert_int_equal(cv_rtp_packetize(&p, f, len, 0, 0, &few), -ENOSPC);
    assert_int_equal(p.seq, seq);
    assert_int_equal(out.used, used);
    assert_int_equal(out.count, count);

    /* CV_RTP_PACK_MORE: extradata ahead of a frame, one marker at the very end. */
    out_reset();
    size_t plen = 4 + 12 + 4 + 4;
    assert_int_equal(cv_rtp_packetize(&p, f, plen, 0, CV_RTP_PACK_MORE, &out), 0);
    assert_int_equal(cv_rtp_packetize(&p, f + plen, len - plen, 0, 0, &out), 0);
    for (size_t i = 0; i < out.count; i++)
        assert_int_equal(pkt_at(i)[1] >> 7, i == out.count - 1);
}

/* --- H.265 ------------------------------------------------------------------------------- */

static void test_h265(void **state)
{
    (void)state;
    static uint8_t f1[16384], f2[8192];
    const uint8_t vps[] = {0x40, 0x01}, sps[] = {0x42, 0x01}, pps[] = {0x44, 0x01};
    const uint8_t idr[] = {0x26, 0x01}, trail[] = {0x02, 0x01};
    size_t l1 = 0, l2 = 0;
    struct cv_rtp_packer p;
    struct cv_rtp_header h;

    add_nal(f1, &l1, vps, 2, 24);
    add_nal(f1, &l1, sps, 2, 40);
    add_nal(f1, &l1, pps, 2, 8);
    add_nal(f1, &l1, idr, 2, 9000);
    add_nal(f2, &l2, trail, 2, 1500);

    packer(&p, CV_CODEC_H265, 96, 1000);
    out_reset();
    size_t n1 = pack(&p, f1, l1, 90000), n2 = pack(&p, f2, l2, 93600);
    /* VPS, SPS, PPS, then 8998 bytes in ceil(8998 / 985) = 10 FUs. */
    assert_int_equal(n1, 13);
    assert_int_equal(n2, 2);
    assert_int_equal(pkt_at(3)[12], 0x62); /* FU payload header: type 49, layer/TID kept */
    assert_int_equal(pkt_at(3)[13], 0x01);
    assert_int_equal(pkt_at(3)[14], 0x80 | 19);
    assert_int_equal(pkt_at(12)[14], 0x40 | 19);
    assert_int_equal(cv_rtp_header_parse(pkt_at(12), pkts[12].len, &h), 0);
    assert_true(h.marker);

    struct cv_rtp_depack *d = depack(CV_CODEC_H265, 96);
    for (size_t i = 0; i < n1; i++) {
        assert_int_equal(naus, 0);
        assert_int_equal(cv_rtp_depack_push(d, pkt_at(i), pkts[i].len), 0);
    }
    assert_int_equal(naus, 1);
    assert_memory_equal(aus[0].data, f1, l1);
    assert_true(aus[0].key && aus[0].changed);
    assert_int_equal(aus[0].params_len, 4 + 24 + 4 + 40 + 4 + 8);
    push_range(d, n1, n1 + n2);
    assert_int_equal(naus, 2);
    assert_memory_equal(aus[1].data, f2, l2);
    assert_false(aus[1].key);

    /* An aggregation packet with the parameter sets, then a CRA (IRAP type 21). */
    uint8_t buf[256];
    const uint8_t ap[] = {0x60, 0x01, 0,    3, 0x40, 0x01, 0xaa, 0,   3,
                          0x42, 0x01, 0xbb, 0, 3,    0x44, 0x01, 0xcc};
    const uint8_t cra[] = {0x2a, 0x01, 0x10};
    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, false, 100, 5, ap, sizeof(ap))), 0);
    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 101, 5, cra, sizeof(cra))), 0);
    assert_int_equal(naus, 3);
    assert_true(aus[2].key && aus[2].changed && aus[2].discont);
    assert_int_equal(aus[2].len, 3 * 7 + 7);
    const uint8_t params[] = {0,    0,    0,    3, 0x40, 0x01, 0xaa, 0,    0,    0,   3,
                              0x42, 0x01, 0xbb, 0, 0,    0,    3,    0x44, 0x01, 0xcc};
    assert_memory_equal(aus[2].params, params, sizeof(params));

    const uint8_t paci[] = {0x64, 0x01, 0};
    const uint8_t short_ap[] = {0x60, 0x01, 0, 1, 0x40};
    assert_int_equal(cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 102, 6, paci, sizeof(paci))),
                     -ENOTSUP);
    assert_int_equal(
        cv_rtp_depack_push(d, buf, mk_pkt(buf, true, 103, 7, short_ap, sizeof(short_ap))),
        -EBADMSG);
    cv_rtp_depack_free(d);
}

/* --- audio ------------------------------------------------------------------------------- */

static void test_aac(void **state)
{
    (void)state;
    uint8_t au[200], buf[4096];
    struct cv_rtp_packer p;
    struct cv_rtp_header h;

    for (size_t i = 0; i < sizeof(au); i++)
        au[i] = (uint8_t)i;
    packer(&p, CV_CODEC_AAC, 97, 1400);
    out_reset();
    assert_int_equal(pack(&p, au, sizeof(au), 1024), 1);
    assert_int_equal(cv_rtp_header_parse(pkt_at(0), pkts[0].len, &h), 0);
    assert_true(h.marker);
    assert_int_equal(h.payload_len, 4 + 200);
    const uint8_t hdr[] = {0x00, 0x10, 200 >> 5, (200 & 31) << 3};
    assert_memory_equal(pkt_at(0) + 12, hdr, 4);
    static uint8_t big[9000];
    assert_int_equal(cv_rtp_packetize(&p, big, 1390, 0, 0, &out), -EMSGSIZE);
    assert_int_equal(cv_rtp_packetize(&p, big, 9000, 0, 0, &out), -EMSGSIZE);

    struct cv_rtp_depack *d = depack(CV_CODEC_AAC, 97);
    assert_int_equal(cv_rtp_depack_push(d, pkt_at(0), pkts[0].len), 0);
    assert_int_equal(naus, 1);
    assert_int_equal(aus[0].len, 200);
    assert_memory_equal(aus[0].data, au, 200);
    assert_true(aus[0].key);

    /* Three AUs in one packet (100, 50 and 7 bytes), 1024 samples apart. */
    uint8_t pl[2 + 6 + 157];
    const uint8_t hdrs[] = {0x00, 0x30, 0x03, 0x20, 0x01, 0x90, 0x00, 0x38};
    memcpy(pl, hdrs, sizeof(hdrs));
    for (size_t i = 0; i < 157; i++)
        pl[8 + i] = (uint8_t)(i ^ 0x5a);
    cv_rtp_header_write(buf, true, 97, 7, 50000, 1);
    memcpy(buf + 12, pl, sizeof(pl));
    assert_int_equal(cv_rtp_depack_push(d, buf, 12 + sizeof(pl)), 0);
    assert_int_equal(naus, 4);
    assert_int_equal(aus[1].len, 100);
    assert_int_equal(aus[2].len, 50);
    assert_int_equal(aus[3].len, 7);
    assert_int_equal(aus[1].ts, 50000);
    assert_int_equal(aus[2].ts, 50000 + 1024);
    assert_int_equal(aus[3].ts, 50000 + 2048);
    assert_memory_equal(aus[2].data, pl + 8 + 100, 50);
    assert_true(aus[1].discont); /* a new SSRC */

    /* One 3000-byte AU in three fragments; then again with the middle one lost. */
    static uint8_t big_au[3000];
    for (size_t i = 0; i < sizeof(big_au); i++)
        big_au[i] = (uint8_t)(i * 13);
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 3; k++) {
            if (round == 1 && k == 1)
                continue;
            uint8_t *q = buf + 12;
            cv_rtp_header_write(buf, k == 2, 97, (uint16_t)(8 + round * 3 + k),
                                (uint32_t)(60000 + round * 1024), 1);
            q[0] = 0;
            q[1] = 16;
            q[2] = (uint8_t)(3000 >> 5);
            q[3] = (uint8_t)((3000 & 31) << 3);
            memcpy(q + 4, big_au + k * 1000, 1000);
            assert_int_equal(cv_rtp_depack_push(d, buf, 12 + 4 + 1000), 0);
            assert_int_equal(naus, 4 + (round == 1 || k == 2));
        }
    }
    assert_int_equal(aus[4].len, 3000);
    assert_memory_equal(aus[4].data, big_au, 3000);
    assert_int_equal(cv_rtp_depack_stats(d)->dropped_aus, 1);

    /* Malformed: headers longer than the payload, AU sizes beyond the data. */
    const uint8_t bad1[] = {0x00, 0xff, 0x00};
    const uint8_t bad2[] = {0x00, 0x20, 0x00, 0x10, 0x00, 0x28, 1, 2, 3};
    cv_rtp_header_write(buf, true, 97, 20, 70000, 1);
    memcpy(buf + 12, bad1, sizeof(bad1));
    assert_int_equal(cv_rtp_depack_push(d, buf, 12 + sizeof(bad1)), -EBADMSG);
    cv_rtp_header_write(buf, true, 97, 21, 71024, 1);
    memcpy(buf + 12, bad2, sizeof(bad2));
    assert_int_equal(cv_rtp_depack_push(d, buf, 12 + sizeof(bad2)), -EBADMSG);
    cv_rtp_depack_free(d);

    struct cv_rtp_depack_cfg cfg = {.codec = CV_CODEC_AAC, .payload_type = -1};
    assert_int_equal(cv_rtp_depack_new(&d, &cfg, on_au, NULL), -EINVAL);
}

static void test_raw_audio(void **state)
{
    (void)state;
    static const enum cv_codec codecs[] = {CV_CODEC_PCMA, CV_CODEC_PCMU, CV_CODEC_OPUS};
    uint8_t frame[160];
    struct cv_rtp_packer p;
    struct cv_rtp_header h;

    for (size_t i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(0xd5 ^ i);
    for (size_t c = 0; c < 3; c++) {
        clear_aus();
        packer(&p, codecs[c], c == 2 ? 111 : 8, 1400);
        out_reset();
        assert_int_equal(pack(&p, frame, sizeof(frame), 160), 1);
        assert_int_equal(pack(&p, frame, 80, 320), 1);
        assert_int_equal(cv_rtp_header_parse(pkt_at(1), pkts[1].len, &h), 0);
        assert_true(h.marker);
        assert_int_equal(h.timestamp, (uint32_t)(0xfffff000u + 320));
        struct cv_rtp_depack *d = depack(codecs[c], -1);
        push_range(d, 0, 2);
        assert_int_equal(naus, 2);
        assert_memory_equal(aus[0].data, frame, sizeof(frame));
        assert_int_equal(aus[1].len, 80);
        assert_int_equal(aus[1].ext_ts - aus[0].ext_ts, 160);
        cv_rtp_depack_free(d);
    }
    static uint8_t big[2000];
    assert_int_equal(cv_rtp_packetize(&p, big, sizeof(big), 0, 0, &out), -EMSGSIZE);
}

/* --- RTCP -------------------------------------------------------------------------------- */

static void test_rtcp(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct cv_rtcp_info info;
    struct cv_rtcp_sr sr = {.ssrc = 0x01020304,
                            .ntp = 0xe9b1f2c380000000ull,
                            .rtp_ts = 123456,
                            .packets = 10,
                            .octets = 5000};

    int n = cv_rtcp_build_sr(buf, sizeof(buf), &sr, "camvisor");
    assert_int_equal(n, 28 + 20); /* SDES: 4 + 4 + 2 + 8 + 1, to 20 */
    assert_int_equal(cv_rtcp_parse(buf, (size_t)n, &info), 0);
    assert_true(info.has_sr && !info.bye);
    assert_int_equal(info.sr.ssrc, sr.ssrc);
    assert_int_equal(info.sr.ntp, sr.ntp);
    assert_int_equal(info.sr.rtp_ts, sr.rtp_ts);
    assert_int_equal(info.sr.packets, sr.packets);
    assert_int_equal(info.sr.octets, sr.octets);

    struct cv_rtcp_report_block rb = {
        .ssrc = 0x01020304, .fraction_lost = 3, .cumulative_lost = 0x123456, .highest_seq = 70000};
    n = cv_rtcp_build_rr(buf, sizeof(buf), 0xabcdef01, &rb, NULL);
    assert_int_equal(n, 32);
    assert_int_equal(buf[0], 0x81);
    assert_int_equal(buf[1], 201);
    assert_int_equal(buf[3], 7);
    assert_int_equal(buf[12], 3);
    assert_int_equal(buf[13], 0x12);
    assert_int_equal(cv_rtcp_parse(buf, (size_t)n, &info), 0);
    assert_false(info.has_sr);
    n = cv_rtcp_build_rr(buf, sizeof(buf), 0xabcdef01, NULL, "a");
    assert_int_equal(n, 8 + 12);
    assert_int_equal(cv_rtcp_build_rr(buf, 10, 1, NULL, "camvisor"), -E2BIG);
    assert_int_equal(cv_rtcp_build_sr(buf, 20, &sr, NULL), -E2BIG);

    /* SR + BYE compound; then broken lengths and versions. */
    n = cv_rtcp_build_sr(buf, sizeof(buf), &sr, NULL);
    const uint8_t bye[] = {0x81, 203, 0, 1, 1, 2, 3, 4};
    memcpy(buf + n, bye, sizeof(bye));
    assert_int_equal(cv_rtcp_parse(buf, (size_t)n + sizeof(bye), &info), 0);
    assert_true(info.has_sr && info.bye);
    assert_false(info.wants_keyframe);
    /* A receiver report then a PLI (PSFB, FMT 1), and a FIR (FMT 4): a keyframe is wanted. */
    const uint8_t rr_pli[] = {0x80, 201, 0, 1, 9, 9, 9, 9, 0x81, 206, 0, 2, 9, 9, 9, 9, 1, 2, 3, 4};
    assert_int_equal(cv_rtcp_parse(rr_pli, sizeof(rr_pli), &info), 0);
    assert_true(info.wants_keyframe);
    const uint8_t fir[] = {0x84, 206, 0, 4, 9, 9, 9, 9, 0, 0, 0, 0, 1, 2, 3, 4, 7, 0, 0, 0};
    assert_int_equal(cv_rtcp_parse(fir, sizeof(fir), &info), 0);
    assert_true(info.wants_keyframe);
    /* A browser's compound packet: an RR with one report block, then a generic NACK of packet
     * 1000 and (bitmask 0x0005) 1001 and 1003. */
    const uint8_t rr_nack[] = {
        0x81, 201,  0,    7,    1,  1, 1, 1,  /* RR from 0x01010101 */
        0xaa, 0xbb, 0xcc, 0xdd, 25, 0, 0, 12, /* 10 % lost, 12 in all */
        0,    1,    0x03, 0xe8, 0,  0, 0, 40, /* highest seq, jitter */
        0,    0,    0,    0,    0,  0, 0, 0,  /* LSR, DLSR */
        0x81, 205,  0,    3,    1,  1, 1, 1,  0xaa, 0xbb, 0xcc, 0xdd, 0x03, 0xe8, 0x00, 0x05};
    assert_int_equal(cv_rtcp_parse(rr_nack, sizeof(rr_nack), &info), 0);
    assert_int_equal(info.rr_count, 1);
    assert_int_equal(info.rr[0].ssrc, 0xaabbccdd);
    assert_int_equal(info.rr[0].fraction_lost, 25);
    assert_int_equal(info.rr[0].cumulative_lost, 12);
    assert_int_equal(info.rr[0].highest_seq, 0x103e8);
    assert_int_equal(info.rr[0].jitter, 40);
    assert_int_equal(info.nack_count, 1);
    assert_int_equal(info.nack[0].media_ssrc, 0xaabbccdd);
    assert_int_equal(info.nack[0].pid, 1000);
    assert_int_equal(info.nack[0].blp, 5);
    /* A report count its length cannot hold is refused. */
    uint8_t short_rr[sizeof(rr_nack)];
    memcpy(short_rr, rr_nack, sizeof(rr_nack));
    short_rr[0] = 0x82;
    assert_int_equal(cv_rtcp_parse(short_rr, sizeof(short_rr), &info), -EBADMSG);
    const uint8_t other_psfb[] = {0x8f, 206, 0, 2, 9, 9, 9, 9, 1, 2, 3, 4}; /* FMT 15: AFB */
    assert_int_equal(cv_rtcp_parse(other_psfb, sizeof(other_psfb), &info), 0);
    assert_false(info.wants_keyframe);
    assert_int_equal(cv_rtcp_parse(buf, (size_t)n + sizeof(bye) - 1, &info), -EBADMSG);
    buf[3] = 5; /* an SR too short to hold sender info */
    assert_int_equal(cv_rtcp_parse(buf, 24, &info), -EBADMSG);
    buf[0] = 0x40;
    assert_int_equal(cv_rtcp_parse(buf, 28, &info), -EBADMSG);
    assert_int_equal(cv_rtcp_parse(buf, 2, &info), -EBADMSG);

    /* 2020-01-01T00:00:00.5Z */
    uint64_t ntp = cv_rtcp_ntp_from_unix_ns(1577836800500000000ull);
    assert_int_equal(ntp >> 32, 1577836800ull + 2208988800ull);
    assert_int_equal((uint32_t)ntp, 0x80000000u);
}

/* --- real streams ------------------------------------------------------------------------ */

static EVP_MD_CTX *md5;

/* Hashes video AUs as Annex-B with 4-byte start codes (what GStreamer's depayloaders write). */
static void on_au_md5(void *opaque, const struct cv_rtp_au *au)
{
    int *count = opaque;
    size_t pos = 0;
    (*count)++;
    if (md5 == NULL)
        return;
    while (pos + 4 <= au->len) {
        size_t n = (size_t)au->data[pos] << 24 | (size_t)au->data[pos + 1] << 16 |
                   (size_t)au->data[pos + 2] << 8 | au->data[pos + 3];
        EVP_DigestUpdate(md5, "\0\0\0\1", 4);
        EVP_DigestUpdate(md5, au->data + pos + 4, n);
        pos += 4 + n;
    }
}

static void on_au_md5_raw(void *opaque, const struct cv_rtp_au *au)
{
    (*(int *)opaque)++;
    EVP_DigestUpdate(md5, au->data, au->len);
}

static void test_real_streams(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        enum cv_codec codec;
        int aus;
        const char *md5;
    } streams[] = {
        {"gst-h264-stap-fua.rtp", CV_CODEC_H264, 12, "1e5d5fb32bd3332f3d7106223234e724"},
        {"gst-h264-slices-fua.rtp", CV_CODEC_H264, 6, "61b559c3ebc1286d8ca84aef089ef1ab"},
        {"gst-h265-ap-fu.rtp", CV_CODEC_H265, 8, "d66a5e813faec333103d9e4df50ede17"},
        {"gst-aac-hbr.rtp", CV_CODEC_AAC, 11, "c8d25a6ef6a7aa9f4f374f56279e147a"},
    };
    static uint8_t data[1 << 16];
    bool any = false;

    for (size_t s = 0; s < sizeof(streams) / sizeof(streams[0]); s++) {
        char path[256];
        snprintf(path, sizeof(path), "tests/fuzz/corpus/fuzz_rtp_depack/%s", streams[s].file);
        FILE *f = fopen(path, "rb");
        if (!f) {
            snprintf(path, sizeof(path), "../../tests/fuzz/corpus/fuzz_rtp_depack/%s",
                     streams[s].file);
            f = fopen(path, "rb");
        }
        if (!f)
            continue;
        any = true;
        size_t n = fread(data, 1, sizeof(data), f), pos = 0;
        fclose(f);

        int count = 0;
        struct cv_rtp_depack *d;
        struct cv_rtp_depack_cfg cfg = {.codec = (uint8_t)streams[s].codec,
                                        .payload_type = -1,
                                        .aac_sizelength = 13,
                                        .aac_indexlength = 3,
                                        .aac_indexdeltalength = 3};
        md5 = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestInit_ex(md5, EVP_md5(), NULL), 1);
        assert_int_equal(
            cv_rtp_depack_new(&d, &cfg,
                              streams[s].codec == CV_CODEC_AAC ? on_au_md5_raw : on_au_md5, &count),
            0);
        /* RFC 4571 framing, as GStreamer's rtpstreampay writes it: 16-bit length, packet. */
        while (pos + 2 <= n) {
            size_t l = (size_t)(data[pos] << 8 | data[pos + 1]);
            assert_true(pos + 2 + l <= n);
            assert_int_equal(cv_rtp_depack_push(d, data + pos + 2, l), 0);
            pos += 2 + l;
        }
        uint8_t digest[16];
        char hex[33];
        unsigned dl;
        EVP_DigestFinal_ex(md5, digest, &dl);
        EVP_MD_CTX_free(md5);
        md5 = NULL;
        for (int i = 0; i < 16; i++)
            sprintf(hex + 2 * i, "%02x", digest[i]);
        assert_int_equal(count, streams[s].aus);
        assert_string_equal(hex, streams[s].md5);
        assert_int_equal(cv_rtp_depack_stats(d)->dropped_aus + cv_rtp_depack_stats(d)->bad, 0);
        cv_rtp_depack_free(d);
    }
    if (!any)
        skip(); /* run from the repository root to use the captures */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h264_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h264_loss_in_fu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h264_lost_marker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h264_reorder_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h264_no_marker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h264_stap_a_and_carry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seeded_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_errors_and_headroom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h265, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aac, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_audio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_streams, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
