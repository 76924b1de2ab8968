/*
 * The consumer kit's shared pieces that carry no media: the camera table (common/consumer/
 * cameras.c: cameras that leave the catalogue are reported once and lose their status) and the
 * login throttle (common/consumer/admit.c: the lock, its expiry, decoys that cannot evict a locked
 * address, and the shared row when every row is locked), and a consumer's settings read from the
 * supervisor's message into its own struct (common/consumer/settings.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/consumer/admit.h"
#include "common/consumer/cameras.h"
#include "common/consumer/settings.h"

/* ---- cameras ------------------------------------------------------------------------------- */

struct gone_log {
    int count;
    char last[CV_NAME_MAX];
};

static void on_gone(void *ctx, const char *camera)
{
    struct gone_log *g = ctx;
    g->count++;
    snprintf(g->last, sizeof(g->last), "%s", camera);
}

static const struct cv_cameras_ops gone_ops = {.on_gone = on_gone};

static void catalogue(struct cv_msg_catalogue *cat, const char *const *names, unsigned n)
{
    memset(cat, 0, sizeof(*cat));
    cat->log_level = 99; /* not a level: leaves the log alone */
    for (unsigned i = 0; i < n; i++)
        snprintf(cat->cameras[i].name, sizeof(cat->cameras[i].name), "%s", names[i]);
    cat->camera_count = n;
}

static void status(struct cv_cameras *t, const char *name, uint32_t width)
{
    struct cv_msg_camera_status st = {.width = width};
    snprintf(st.camera, sizeof(st.camera), "%s", name);
    cv_cameras_on_status(t, &st);
}

static void test_cameras_gone_and_pruned(void **state)
{
    (void)state;
    static struct cv_cameras t; /* large: the catalogue */
    static struct cv_msg_catalogue cat;
    struct gone_log g = {0};
    cv_cameras_init(&t, &gone_ops, &g);
    assert_false(t.have_catalogue);
    const char *const three[] = {"door", "yard", "hall"};
    catalogue(&cat, three, 3);
    cv_cameras_on_catalogue(&t, &cat);
    assert_true(t.have_catalogue);
    assert_int_equal(g.count, 0);
    assert_true(cv_cameras_exists(&t, "yard"));
    assert_false(cv_cameras_exists(&t, "attic"));
    assert_null(cv_cameras_status(&t, "door"));
    status(&t, "door", 1920);
    status(&t, "yard", 640);
    status(&t, "door", 1280); /* the newest wins, in the same row */
    assert_int_equal(t.count, 2);
    assert_int_equal(cv_cameras_status(&t, "door")->width, 1280);
    cv_cameras_find(&t, "yard")->frames_lost++;

    const char *const two[] = {"door", "hall"};
    catalogue(&cat, two, 2);
    cv_cameras_on_catalogue(&t, &cat);
    assert_int_equal(g.count, 1);
    assert_string_equal(g.last, "yard");
    assert_null(cv_cameras_find(&t, "yard")); /* its status went with it */
    assert_int_equal(cv_cameras_status(&t, "door")->width, 1280);
    assert_int_equal(t.count, 1);

    /* The same catalogue again: nobody leaves. */
    cv_cameras_on_catalogue(&t, &cat);
    assert_int_equal(g.count, 1);
}

static void test_cameras_table_is_bounded(void **state)
{
    (void)state;
    static struct cv_cameras t;
    cv_cameras_init(&t, NULL, NULL);
    char name[CV_NAME_MAX];
    for (int i = 0; i < CV_PROTO_MAX_CAMS + 5; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        status(&t, name, 1);
    }
    assert_int_equal(t.count, CV_PROTO_MAX_CAMS); /* the rest said in the log, not written */
    /* The next catalogue prunes every row that is not in it (none is: the table empties). */
    static struct cv_msg_catalogue cat;
    catalogue(&cat, NULL, 0);
    cv_cameras_on_catalogue(&t, &cat);
    assert_int_equal(t.count, 0);
}

/* ---- throttle ------------------------------------------------------------------------------ */

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, ip, &in->sin_addr);
    return ss;
}

static void test_throttle_locks_and_expires(void **state)
{
    (void)state;
    struct cv_throttle t;
    cv_throttle_init(&t, 3, 60000, 30000);
    struct sockaddr_storage a = addr("192.0.2.1", 1000), a2 = addr("192.0.2.1", 2000);
    uint64_t now = 1000000;
    unsigned fails = 0;
    assert_int_equal(cv_throttle_fail(&t, &a, now, &fails), CV_THROTTLE_COUNTED);
    assert_int_equal(cv_throttle_fail(&t, &a2, now, &fails), CV_THROTTLE_COUNTED); /* same host */
    assert_int_equal(fails, 2);
    assert_int_equal(cv_throttle_locked(&t, &a, now), 0);
    assert_int_equal(cv_throttle_fail(&t, &a, now + 10, &fails), CV_THROTTLE_LOCKED_NOW);
    assert_int_equal(cv_throttle_locked(&t, &a2, now + 10), 30000);
    assert_int_equal(cv_throttle_locked(&t, &a, now + 20000), 10010);
    struct sockaddr_storage b = addr("192.0.2.2", 1000);
    assert_int_equal(cv_throttle_locked(&t, &b, now + 20), 0); /* others are not */
    assert_int_equal(cv_throttle_locked(&t, &a, now + 30010), 0);
    /* Still within its window: the next bad guess locks it again at once. */
    assert_int_equal(cv_throttle_fail(&t, &a, now + 30020, &fails), CV_THROTTLE_LOCKED_NOW);
    /* A new window starts the count again. */
    assert_int_equal(cv_throttle_fail(&t, &a, now + 200000, &fails), CV_THROTTLE_COUNTED);
    assert_int_equal(fails, 1);
}

static void test_throttle_decoys_never_free_a_locked_address(void **state)
{
    (void)state;
    struct cv_throttle t;
    cv_throttle_init(&t, 10, 60000, 30000);
    struct sockaddr_storage a = addr("198.51.100.7", 1);
    uint64_t now = 5000;
    for (int i = 0; i < 10; i++)
        cv_throttle_fail(&t, &a, now, NULL);
    assert_true(cv_throttle_locked(&t, &a, now) > 0);
    char ip[32];
    for (int i = 0; i < 300; i++) { /* one bad guess each from 300 other addresses */
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 250, i % 250 + 1);
        struct sockaddr_storage d = addr(ip, 1);
        cv_throttle_fail(&t, &d, now + 1, NULL);
    }
    assert_true(cv_throttle_locked(&t, &a, now + 2) > 0);
}

static void test_throttle_shared_row_when_every_row_is_locked(void **state)
{
    (void)state;
    struct cv_throttle t;
    cv_throttle_init(&t, 2, 60000, 30000);
    char ip[32];
    uint64_t now = 5000;
    for (int i = 0; i < CV_THROTTLE_ROWS; i++) {
        snprintf(ip, sizeof(ip), "10.1.0.%d", i + 1);
        struct sockaddr_storage d = addr(ip, 1);
        cv_throttle_fail(&t, &d, now, NULL);
        assert_int_equal(cv_throttle_fail(&t, &d, now, NULL), CV_THROTTLE_LOCKED_NOW);
    }
    struct sockaddr_storage n1 = addr("10.2.0.1", 1), n2 = addr("10.2.0.2", 1);
    assert_int_equal(cv_throttle_locked(&t, &n1, now), 0);
    assert_int_equal(cv_throttle_fail(&t, &n1, now, NULL), CV_THROTTLE_COUNTED);
    assert_int_equal(cv_throttle_fail(&t, &n2, now, NULL), CV_THROTTLE_LOCKED_SHARED);
    /* Every address without a row is locked out now, not only those two. */
    struct sockaddr_storage n3 = addr("10.2.0.3", 1);
    assert_true(cv_throttle_locked(&t, &n3, now + 1) > 0);
    assert_int_equal(cv_throttle_locked(&t, &n3, now + 30001), 0);
}

/* ---- settings ------------------------------------------------------------------------------ */

struct my_settings {
    char user[8];
    uint32_t max;
    bool local;
    char peer[32];
};

static const struct cv_setting_def my_defs[] = {
    CV_SETTING(struct my_settings, "username", CV_SET_STR, user),
    CV_SETTING(struct my_settings, "max_connections", CV_SET_U32, max),
    CV_SETTING(struct my_settings, "local_auth", CV_SET_BOOL, local),
    CV_SETTING(struct my_settings, "rtsp.listen", CV_SET_STR, peer),
};

static void item(struct cv_msg_settings *m, const char *k, const char *v)
{
    snprintf(m->items[m->count].key, sizeof(m->items[0].key), "%s", k);
    snprintf(m->items[m->count].value, sizeof(m->items[0].value), "%s", v);
    m->count++;
}

static void test_settings_read_into_the_consumers_struct(void **state)
{
    (void)state;
    static struct cv_msg_settings m;
    memset(&m, 0, sizeof(m));
    item(&m, "username", "viewer");
    item(&m, "max_connections", "512");
    item(&m, "local_auth", "1");
    item(&m, "rtsp.listen", "[::1]:8554");
    item(&m, "not_mine", "ignored"); /* a key of the section this consumer does not use */
    struct my_settings set = {.max = 7};
    assert_int_equal(cv_settings_read(my_defs, 4, &set, &m), 0);
    assert_string_equal(set.user, "viewer");
    assert_int_equal(set.max, 512);
    assert_true(set.local);
    assert_int_equal(cv_settings_port(set.peer), 8554);
    assert_string_equal(cv_settings_get(&m, "not_mine"), "ignored");
    assert_null(cv_settings_get(&m, "absent"));

    /* Values that do not fit keep the field as it was, and are counted. */
    memset(&m, 0, sizeof(m));
    item(&m, "username", "much-too-long-a-name");
    item(&m, "max_connections", "-1");
    item(&m, "local_auth", "yes");
    assert_int_equal(cv_settings_read(my_defs, 4, &set, &m), 3);
    assert_string_equal(set.user, "viewer");
    assert_int_equal(set.max, 512);
    assert_true(set.local);

    assert_int_equal(cv_settings_port(""), 0);
    assert_int_equal(cv_settings_port("host:"), 0);
    assert_int_equal(cv_settings_port("host:70000"), 0);
    assert_int_equal(cv_settings_port("0.0.0.0:1984"), 1984);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cameras_gone_and_pruned),
        cmocka_unit_test(test_cameras_table_is_bounded),
        cmocka_unit_test(test_throttle_locks_and_expires),
        cmocka_unit_test(test_throttle_decoys_never_free_a_locked_address),
        cmocka_unit_test(test_throttle_shared_row_when_every_row_is_locked),
        cmocka_unit_test(test_settings_read_into_the_consumers_struct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
