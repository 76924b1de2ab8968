/* Codec names as FFmpeg spells them (go2rtc's API and ffprobe use the same words). */
#include "common/media/media.h"

#include <errno.h>
#include <strings.h>

const char *cv_codec_name(enum cv_codec codec)
{
    switch (codec) {
    case CV_CODEC_H264: return "h264";
    case CV_CODEC_H265: return "hevc";
    case CV_CODEC_AAC: return "aac";
    case CV_CODEC_PCMA: return "pcm_alaw";
    case CV_CODEC_PCMU: return "pcm_mulaw";
    case CV_CODEC_OPUS: return "opus";
    case CV_CODEC_JPEG: return "mjpeg";
    case CV_CODEC_NONE: break;
    }
    return "none";
}

int cv_codec_from_name(const char *name)
{
    static const struct {
        const char *name;
        enum cv_codec codec;
    } names[] = {
        {"h264", CV_CODEC_H264},     {"h265", CV_CODEC_H265},         {"hevc", CV_CODEC_H265},
        {"aac", CV_CODEC_AAC},       {"mpeg4-generic", CV_CODEC_AAC}, {"pcma", CV_CODEC_PCMA},
        {"pcm_alaw", CV_CODEC_PCMA}, {"pcmu", CV_CODEC_PCMU},         {"pcm_mulaw", CV_CODEC_PCMU},
        {"opus", CV_CODEC_OPUS},     {"mjpeg", CV_CODEC_JPEG},        {"jpeg", CV_CODEC_JPEG},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i].name) == 0)
            return (int)names[i].codec;
    return -EINVAL;
}
