/*
 * A consumer's settings, read from the supervisor's CV_MSG_SETTINGS (proto/msg.h: its section of
 * camvisor.ini as normalised text) into the consumer's own struct, through a table the consumer
 * keeps next to that struct:
 *
 *   static const struct cv_setting_def defs[] = {
 *       CV_SETTING(struct my_settings, "username", CV_SET_STR, username),
 *       CV_SETTING(struct my_settings, "max_connections", CV_SET_U32, max_conns),
 *   };
 *   cv_settings_read(defs, n, &srv->set, &m->u.settings);
 *
 * A key the table does not name is ignored (a key the consumer does not use, or the addresses of
 * other consumers it does not need); a value that does not fit its field is refused with a line
 * in the log naming the key, never the value (it may be a password), and the field keeps what it
 * had. The supervisor validated every value already: a refusal here is a bug, not a user's error.
 */
#ifndef CV_CONSUMER_SETTINGS_H
#define CV_CONSUMER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

enum cv_setting_kind {
    CV_SET_STR,  /* char[]: the text as it is */
    CV_SET_U32,  /* uint32_t: a decimal number (counts, durations in ms) */
    CV_SET_BOOL, /* bool: "1" or "0" */
};

struct cv_setting_def {
    const char *key;
    enum cv_setting_kind kind;
    size_t offset, size; /* of the field in the consumer's struct */
};

#define CV_SETTING(type, key, kind, member)                                                        \
    {                                                                                              \
        key, kind, offsetof(type, member), sizeof(((type *)0)->member)                             \
    }

/* Reads every item of m that defs names into dst. Returns how many values were refused (0). */
int cv_settings_read(const struct cv_setting_def *defs, size_t ndefs, void *dst,
                     const struct cv_msg_settings *m);

/* The value of key in m, or NULL. */
const char *cv_settings_get(const struct cv_msg_settings *m, const char *key);

/* The port of a "host:port" / "[v6]:port" address; 0 for "" (off) or a malformed one. */
uint16_t cv_settings_port(const char *addr);

#endif
