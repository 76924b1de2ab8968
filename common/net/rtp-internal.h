/*
 * What rtp.c, rtp-h26x.c and rtp-aac.c share and nobody else needs: the depacketiser's state and
 * the per-codec entry points the generic code dispatches to.
 */
#ifndef CV_RTP_INTERNAL_H
#define CV_RTP_INTERNAL_H

#include "common/net/rtp.h"

struct cv_rtp_depack {
    struct cv_rtp_depack_cfg cfg;
    cv_rtp_au_fn fn;
    void *opaque;

    uint8_t *buf; /* owned, allocated once by cv_rtp_depack_new: the AU being assembled */
    size_t cap;
    size_t len;

    /* access unit in progress */
    bool in_au;
    bool broken;   /* lost or malformed data inside: drop it when it ends */
    bool fu_open;  /* a fragmented NAL unit (or RFC 3640 AU) is being reassembled */
    bool oversize; /* broken because it outgrew cap (counted once) */
    uint8_t fu_type;
    uint32_t au_ts;
    size_t fu_start;   /* offset of the open fragment's length prefix */
    size_t frag_total; /* RFC 3640: announced size of the AU being reassembled */
    size_t carry;      /* bytes of a parameter-set-only AU kept for the next AU */

    /* sequence tracking */
    bool have_seq;
    uint16_t next_seq;
    uint32_t ssrc;
    bool discont;    /* set on loss, cleared by the next AU handed out */
    bool saw_marker; /* the sender sets marker bits (some never do) */

    /* timestamp unwrapping */
    bool have_ext;
    uint32_t last_ts;
    int64_t ext_ts;

    /* parameter sets known so far (video) */
    size_t params_len;
    uint8_t params[CV_MAX_EXTRADATA];

    struct cv_rtp_depack_stats stats;
};

/*
 * The codec handlers get gap: how many packets were lost just before this one (0: none), or
 * UINT32_MAX when the count is unknown (a new SSRC, a jump in the sequence numbers).
 */

/* rtp.c */
int cv_rtp_emit(struct cv_rtp_depack *d, const uint8_t *data, size_t len, uint32_t ts, bool key,
                bool params_changed);
uint8_t *cv_rtp_pkt_begin(struct cv_rtp_packer *p, struct cv_rtp_out *out, size_t payload_len,
                          bool marker, uint32_t ts);

/* rtp-h26x.c */
int cv_rtp_h26x_pack(struct cv_rtp_packer *p, const uint8_t *frame, size_t len, uint32_t ts,
                     bool last, struct cv_rtp_out *out);
int cv_rtp_h26x_push(struct cv_rtp_depack *d, const struct cv_rtp_header *h, const uint8_t *pl,
                     size_t n, uint32_t gap);
void cv_rtp_h26x_finish(struct cv_rtp_depack *d, bool flush);
int cv_rtp_h26x_set_params(struct cv_rtp_depack *d, const uint8_t *extradata, size_t len);

/* rtp-aac.c: RFC 3640 and the codecs whose payload is the frame (G.711, Opus) */
int cv_rtp_aac_pack(struct cv_rtp_packer *p, const uint8_t *frame, size_t len, uint32_t ts,
                    struct cv_rtp_out *out);
int cv_rtp_aac_push(struct cv_rtp_depack *d, const struct cv_rtp_header *h, const uint8_t *pl,
                    size_t n, uint32_t gap);
int cv_rtp_raw_pack(struct cv_rtp_packer *p, const uint8_t *frame, size_t len, uint32_t ts,
                    struct cv_rtp_out *out);
int cv_rtp_raw_push(struct cv_rtp_depack *d, const struct cv_rtp_header *h, const uint8_t *pl,
                    size_t n, uint32_t gap);

#endif
