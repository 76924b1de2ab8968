/*
 * Audio payloads: AAC as RFC 3640 (mpeg4-generic, AAC-hbr/lbr), and the codecs whose RTP payload
 * is the frame itself (G.711 A-law/u-law, Opus).
 *
 * An RFC 3640 payload is a 16-bit AU-headers-length (in bits), the AU headers (AU-size and
 * AU-Index / AU-Index-delta, widths from the SDP), padding to a byte, then the AUs back to back.
 * One packet may carry several AUs, each handed out with its own timestamp (1024 samples apart:
 * AAC-LC's frame length, the only one cameras send), or one fragment of an AU too large for a
 * packet, reassembled until the marker bit. Interleaving (non-zero AU-Index) is not used by
 * cameras; AUs are taken in packet order.
 */
#include "common/net/rtp-internal.h"

#include <errno.h>
#include <string.h>

#define AAC_FRAME_SAMPLES 1024u

struct bitreader {
    const uint8_t *p;
    size_t pos; /* in bits */
};

static uint32_t get_bits(struct bitreader *b, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++, b->pos++)
        v = v << 1 | ((b->p[b->pos >> 3] >> (7 - (b->pos & 7))) & 1u);
    return v;
}

int cv_rtp_aac_pack(struct cv_rtp_packer *p, const uint8_t *frame, size_t len, uint32_t ts,
                    struct cv_rtp_out *out)
{
    uint8_t *pl;

    /* One AU per packet; AU-size has 13 bits. Splitting larger AUs is not needed by AAC-LC. */
    if (len > 8191 || CV_RTP_HEADER_SIZE + 4 + len > p->mtu)
        return -EMSGSIZE;
    if (!(pl = cv_rtp_pkt_begin(p, out, 4 + len, true, ts)))
        return -ENOSPC;
    pl[0] = 0;
    pl[1] = 16; /* AU-headers-length: one 16-bit header */
    pl[2] = (uint8_t)(len >> 5);
    pl[3] = (uint8_t)((len & 0x1f) << 3); /* AU-Index 0 */
    memcpy(pl + 4, frame, len);
    return 0;
}

int cv_rtp_raw_pack(struct cv_rtp_packer *p, const uint8_t *frame, size_t len, uint32_t ts,
                    struct cv_rtp_out *out)
{
    uint8_t *pl;

    if (CV_RTP_HEADER_SIZE + len > p->mtu)
        return -EMSGSIZE;
    if (!(pl = cv_rtp_pkt_begin(p, out, len, true, ts)))
        return -ENOSPC;
    memcpy(pl, frame, len);
    return 0;
}

int cv_rtp_raw_push(struct cv_rtp_depack *d, const struct cv_rtp_header *h, const uint8_t *pl,
                    size_t n, uint32_t gap)
{
    (void)gap; /* every packet stands alone; the loss shows as discont on the next frame */
    if (n == 0)
        return 0;
    return cv_rtp_emit(d, pl, n, h->timestamp, true, false);
}

/* Ends the reassembly in progress without handing it out. */
static void drop_fragment(struct cv_rtp_depack *d)
{
    if (!d->in_au)
        return;
    d->stats.dropped_aus++;
    if (d->oversize)
        d->stats.oversize++;
    d->in_au = d->broken = d->oversize = false;
    d->len = 0;
    d->discont = true;
}

/*
 * Continues or starts the reassembly of one AU of size total from a fragment packet. A broken
 * reassembly (loss, too large) swallows its remaining fragments and is counted once, when it
 * ends.
 */
static int push_fragment(struct cv_rtp_depack *d, const struct cv_rtp_header *h,
                         const uint8_t *data, size_t n, size_t total)
{
    int rc = 0;

    if (d->in_au && (h->timestamp != d->au_ts || total != d->frag_total))
        drop_fragment(d); /* not the continuation of the AU in progress */
    if (!d->in_au) {
        d->in_au = true;
        d->au_ts = h->timestamp;
        d->frag_total = total;
        d->len = 0;
        d->broken = d->oversize = total > d->cap;
        if (d->oversize)
            rc = -E2BIG;
    }
    if (!d->broken && n > d->frag_total - d->len) {
        d->broken = true;
        rc = -EBADMSG;
    }
    if (!d->broken) {
        memcpy(d->buf + d->len, data, n);
        d->len += n;
    }
    if (h->marker) {
        if (d->broken || d->len != d->frag_total) {
            drop_fragment(d);
        } else {
            d->in_au = false;
            cv_rtp_emit(d, d->buf, d->len, d->au_ts, true, false);
        }
    }
    return rc;
}

int cv_rtp_aac_push(struct cv_rtp_depack *d, const struct cv_rtp_header *h, const uint8_t *pl,
                    size_t n, uint32_t gap)
{
    const unsigned sl = d->cfg.aac_sizelength, il = d->cfg.aac_indexlength,
                   idl = d->cfg.aac_indexdeltalength;
    size_t count = 0, total = 0, first = 0;
    struct bitreader br;

    if (gap && d->in_au)
        d->broken = true; /* a lost packet may have been part of it */
    if (n < 2)
        goto bad;
    size_t hbits = (size_t)(pl[0] << 8 | pl[1]), hbytes = (hbits + 7) / 8;
    if (hbits == 0 || hbytes > n - 2)
        goto bad;
    const uint8_t *data = pl + 2 + hbytes;
    size_t dlen = n - 2 - hbytes;

    /* First pass: validate the headers against the data before handing anything out. */
    br = (struct bitreader){pl + 2, 0};
    while (hbits - br.pos >= sl + (count ? idl : il)) {
        size_t size = get_bits(&br, sl);
        get_bits(&br, count ? idl : il);
        if (count++ == 0)
            first = size;
        total += size;
    }
    if (count == 0)
        goto bad;
    if (count == 1 && first > dlen)
        return push_fragment(d, h, data, dlen, first);
    if (total > dlen)
        goto bad;
    drop_fragment(d); /* complete AUs cannot follow an unfinished fragment */

    br.pos = 0;
    for (size_t i = 0; i < count; i++) {
        size_t size = get_bits(&br, sl);
        get_bits(&br, i ? idl : il);
        if (size > 0)
            cv_rtp_emit(d, data, size, h->timestamp + (uint32_t)(i * AAC_FRAME_SAMPLES), true,
                        false);
        data += size;
    }
    return 0;
bad:
    drop_fragment(d);
    return -EBADMSG;
}
