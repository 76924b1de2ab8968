/* A consumer's settings: see common/consumer/settings.h. */
#include "common/consumer/settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"

static int cv_settings_put(const struct cv_setting_def *d, void *dst, const char *v)
{
    char *field = (char *)dst + d->offset;
    switch (d->kind) {
    case CV_SET_STR:
        if (strlen(v) >= d->size)
            return -E2BIG;
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case CV_SET_U32: {
        char *end = NULL;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (!v[0] || *end || errno || n > UINT32_MAX || v[0] == '-' || d->size != sizeof(uint32_t))
            return -EINVAL;
        *(uint32_t *)field = (uint32_t)n;
        return 0;
    }
    case CV_SET_BOOL:
        if (d->size != sizeof(bool) || (strcmp(v, "1") != 0 && strcmp(v, "0") != 0))
            return -EINVAL;
        *(bool *)field = v[0] == '1';
        return 0;
    }
    return -EINVAL;
}

int cv_settings_read(const struct cv_setting_def *defs, size_t ndefs, void *dst,
                     const struct cv_msg_settings *m)
{
    int refused = 0;
    for (uint32_t i = 0; i < m->count && i < CV_PROTO_MAX_SETTINGS; i++) {
        const struct cv_msg_setting *it = &m->items[i];
        for (size_t j = 0; j < ndefs; j++) {
            if (strcmp(defs[j].key, it->key) != 0)
                continue;
            if (cv_settings_put(&defs[j], dst, it->value) < 0) {
                cv_err("setting %s: the value does not fit this process's field (a bug): "
                       "keeping the previous one",
                       it->key);
                refused++;
            }
            break;
        }
    }
    return refused;
}

const char *cv_settings_get(const struct cv_msg_settings *m, const char *key)
{
    for (uint32_t i = 0; i < m->count && i < CV_PROTO_MAX_SETTINGS; i++)
        if (strcmp(m->items[i].key, key) == 0)
            return m->items[i].value;
    return NULL;
}

uint16_t cv_settings_port(const char *addr)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon || !colon[1])
        return 0;
    char *end = NULL;
    unsigned long n = strtoul(colon + 1, &end, 10);
    return *end || n == 0 || n > 65535 ? 0 : (uint16_t)n;
}
