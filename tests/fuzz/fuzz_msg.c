/* The control-message decoder is the supervisor's trust boundary: any bytes, no crash. */
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cv_msg m;
    if (cv_msg_decode(data, size, &m) == 0) {
        /* What decodes must re-encode: the decoder only accepts what fits our fields. */
        uint8_t buf[CV_PROTO_MAX_MSG];
        if (cv_msg_encode(&m, buf, sizeof(buf)) < 0)
            __builtin_trap();
    }
    return 0;
}
