/* SRTP for camvisor-webrtc: see consumers/webrtc/srtp.h. */
#include "consumers/webrtc/srtp.h"

#include <errno.h>
#include <srtp2/srtp.h>
#include <string.h>

#include "common/base/log.h"

int cv_srtp_library_init(void)
{
    return srtp_init() == srtp_err_status_ok ? 0 : -EIO;
}

/* One direction: key and salt, in libsrtp2's order (key then salt). */
static int cv_srtp_make(srtp_t *out, const struct cv_srtp_keys *k, const uint8_t *key,
                        const uint8_t *salt, bool outbound)
{
    uint8_t master[32 + 14];
    srtp_policy_t pol;
    memset(&pol, 0, sizeof(pol));
    if (k->profile == CV_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
    } else if (k->profile == CV_SRTP_AES128_CM_SHA1_80) {
        srtp_crypto_policy_set_rtp_default(&pol.rtp);
        srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
    } else {
        return -EINVAL;
    }
    memcpy(master, key, k->key_len);
    memcpy(master + k->key_len, salt, k->salt_len);
    pol.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    pol.key = master;
    pol.window_size = 1024;
    /* A NACK is answered by sending the same packet again (same sequence number). */
    pol.allow_repeat_tx = outbound ? 1 : 0;
    srtp_err_status_t st = srtp_create(out, &pol);
    explicit_bzero(master, sizeof(master));
    return st == srtp_err_status_ok ? 0 : -EIO;
}

int cv_srtp_init(struct cv_srtp *s, const struct cv_srtp_keys *k)
{
    memset(s, 0, sizeof(*s));
    const uint8_t *m = k->material;
    const uint8_t *ckey = m, *skey = m + k->key_len;
    const uint8_t *csalt = m + 2 * k->key_len, *ssalt = csalt + k->salt_len;
    int rc = cv_srtp_make(&s->out, k, skey, ssalt, true);
    if (rc == 0)
        rc = cv_srtp_make(&s->in, k, ckey, csalt, false);
    if (rc < 0) {
        cv_srtp_fini(s);
        return rc;
    }
    s->tag_len = k->profile == CV_SRTP_AEAD_AES_128_GCM ? 16 : 10;
    return 0;
}

int cv_srtp_protect(struct cv_srtp *s, uint8_t *pkt, size_t *len)
{
    int n = (int)*len;
    if (!s->out || srtp_protect(s->out, pkt, &n) != srtp_err_status_ok)
        return -EIO;
    *len = (size_t)n;
    return 0;
}

int cv_srtp_protect_rtcp(struct cv_srtp *s, uint8_t *pkt, size_t *len)
{
    int n = (int)*len;
    if (!s->out || srtp_protect_rtcp(s->out, pkt, &n) != srtp_err_status_ok)
        return -EIO;
    *len = (size_t)n;
    return 0;
}

int cv_srtp_unprotect_rtcp(struct cv_srtp *s, uint8_t *pkt, size_t *len)
{
    int n = (int)*len;
    if (!s->in || n < 8 || srtp_unprotect_rtcp(s->in, pkt, &n) != srtp_err_status_ok)
        return -EBADMSG;
    *len = (size_t)n;
    return 0;
}

void cv_srtp_fini(struct cv_srtp *s)
{
    if (s->out)
        srtp_dealloc(s->out);
    if (s->in)
        srtp_dealloc(s->in);
    s->out = s->in = NULL;
}
