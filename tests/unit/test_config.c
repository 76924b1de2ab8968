/*
 * The configuration reader: real INI files in a scratch folder, every error class with the file
 * and line it must name, ${ENV} expansion, password_file, and the reload comparison.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/config.h"

struct fixture {
    char dir[64];    /* scratch folder */
    char global[96]; /* <dir>/etc/camvisor.ini */
    char err[4096];
    struct cv_config *cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/cv-config-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->global, sizeof(f->global), "%s/etc/camvisor.ini", f->dir);
    *state = f;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cv_config_free(f->cfg);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Writes <dir>/<rel>, creating its folders. */
static void put(struct fixture *f, const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
    for (char *s = path + strlen(f->dir) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(path, 0755);
        *s = '/';
    }
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int load(struct fixture *f)
{
    cv_config_free(f->cfg);
    f->cfg = NULL;
    f->err[0] = '\0';
    return cv_config_load(f->global, &f->cfg, f->err, sizeof(f->err));
}

/* Loading fails, and one line of the message starts "<dir>/<rel>:<line>: " and holds text. */
static void expect_error(struct fixture *f, const char *rel, int line, const char *text)
{
    assert_int_not_equal(load(f), 0);
    assert_null(f->cfg);
    char where[256];
    if (line > 0)
        snprintf(where, sizeof(where), "%s/%s:%d: ", f->dir, rel, line);
    else
        snprintf(where, sizeof(where), "%s/%s: ", f->dir, rel);
    for (const char *l = f->err; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        size_t len = strcspn(l, "\n");
        if (strncmp(l, where, strlen(where)) != 0)
            continue;
        const char *hit = strstr(l, text);
        if (hit && hit + strlen(text) <= l + len)
            return;
    }
    fail_msg("expected '%s...%s' in:\n%s", where, text, f->err);
}

static const char *const minimal_global = "[server]\nuser = nobody\n";

/* ---- the valid case ----------------------------------------------------------------------- */

static void test_full_config(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini",
        "; camvisor\n"
        "[server]\n"
        "user = camvisor\n"
        "log_level = warn\n"
        "\n"
        "[rtsp]\n"
        "listen = 127.0.0.1:9554\n"
        "username = viewer\n"
        "password = s3cret\n"
        "local_auth = yes\n"
        "default_query = video\n"
        "[api]\n"
        "listen = [::1]:2984\n"
        "username = admin\n"
        "password = adm1n\n"
        "local_auth = TRUE\n"
        "[webrtc]\n"
        "listen =\n");
    put(f, "etc/cameras.d/door.ini",
        "[camera]\n"
        "url = rtsp://10.0.0.5:554/Streaming/Channels/101\n"
        "mode = on-demand\n"
        "idle_timeout = 500ms\n"
        "transport = udp\n"
        "hwaccel = vaapi\n"
        "transcode_bitrate = 1500k\n"
        "transcode_size = 1280x0\n"
        "enabled = no\n"
        "ring_size = 8M\n"
        "username = admin\n"
        "password = p@ss:word\n");
    put(f, "etc/cameras.d/demo.ini", "[camera]\nurl = testsrc://?width=640&height=360&fps=25\n");
    put(f, "etc/cameras.d/yard.ini",
        "[camera]\nname = back-yard_2.cam\nurl = file:///srv/a.mp4\n"
        "idle_timeout = 7s\nring_size = 256K\n");
    put(f, "etc/cameras.d/.hidden.ini", "garbage\n");
    put(f, "etc/cameras.d/notes.txt", "garbage\n");
    put(f, "etc/cameras.d/door.ini~", "garbage\n");

    assert_int_equal(load(f), 0);
    struct cv_config *c = f->cfg;
    assert_string_equal(c->path, f->global);
    assert_string_equal(c->user, "camvisor");
    assert_int_equal(c->log_level, CV_LOG_WRN);
    assert_true(c->rtsp_listen.enabled);
    assert_string_equal(c->rtsp_listen.host, "127.0.0.1");
    assert_int_equal(c->rtsp_listen.port, 9554);
    assert_string_equal(c->rtsp_username, "viewer");
    assert_string_equal(c->rtsp_password, "s3cret");
    assert_true(c->rtsp_local_auth);
    assert_string_equal(c->rtsp_default_query, "video");
    assert_string_equal(c->api_listen.host, "::1");
    assert_int_equal(c->api_listen.port, 2984);
    assert_string_equal(c->api_username, "admin");
    assert_true(c->api_local_auth);
    assert_false(c->webrtc_listen.enabled);

    /* Sorted by file name: demo, door, yard. */
    assert_int_equal(c->camera_count, 3);
    const struct cv_camera_config *demo = &c->cameras[0], *door = &c->cameras[1],
                                  *yard = &c->cameras[2];
    assert_string_equal(demo->name, "demo");
    assert_string_equal(demo->url, "testsrc://?width=640&height=360&fps=25");
    assert_int_equal(demo->mode, CV_MODE_ALWAYS);
    assert_int_equal(demo->idle_timeout_ms, 5000);
    assert_int_equal(demo->transport, CV_TRANSPORT_TCP);
    assert_int_equal(demo->hwaccel, CV_HWACCEL_AUTO);
    assert_true(demo->enabled);
    assert_true(demo->ring_size == CV_CONFIG_RING_AUTO); /* the default */
    assert_int_equal(demo->line, 1);

    assert_string_equal(door->name, "door");
    assert_string_equal(door->url,
                        "rtsp://admin:p%40ss%3Aword@10.0.0.5:554/Streaming/Channels/101");
    assert_string_equal(door->url_redacted, "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101");
    assert_int_equal(door->mode, CV_MODE_ON_DEMAND);
    assert_int_equal(door->idle_timeout_ms, 500);
    assert_int_equal(door->transport, CV_TRANSPORT_UDP);
    assert_int_equal(door->hwaccel, CV_HWACCEL_VAAPI);
    assert_int_equal(door->transcode_kbps, 1500);
    assert_int_equal(door->transcode_size.width, 1280);
    assert_int_equal(door->transcode_size.height, 0);
    assert_int_equal(demo->transcode_kbps, 0);
    assert_int_equal(c->max_transcodes, CV_CONFIG_MAX_TRANSCODES);
    assert_int_equal(c->hwaccel, CV_HWACCEL_AUTO);
    assert_false(door->enabled);
    assert_true(door->ring_size == 8u << 20);

    assert_string_equal(yard->name, "back-yard_2.cam");
    assert_int_equal(yard->line, 2);
    assert_int_equal(yard->idle_timeout_ms, 7000);
    assert_true(yard->ring_size == 256u << 10);
    assert_ptr_equal(cv_config_camera_find(c, "back-yard_2.cam"), yard);
    assert_null(cv_config_camera_find(c, "yard"));

    /* The summary shows every camera and no secret. */
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    cv_config_print_summary(c, fp);
    fclose(fp);
    assert_non_null(strstr(text, "rtsp://admin:***@10.0.0.5"));
    assert_non_null(strstr(text, "back-yard_2.cam"));
    assert_null(strstr(text, "p@ss"));
    assert_null(strstr(text, "p%40ss"));
    assert_null(strstr(text, "s3cret"));
    assert_null(strstr(text, "adm1n"));
    free(text);
}

static void test_defaults(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", "");
    assert_int_equal(load(f), 0); /* no cameras.d: no cameras, not an error */
    struct cv_config *c = f->cfg;
    assert_string_equal(c->user, "camvisor");
    assert_int_equal(c->log_level, CV_LOG_INF);
    assert_int_equal(c->rtsp_limits.max_conns, 512);
    assert_int_equal(c->rtsp_limits.max_conns_per_client, 128);
    assert_int_equal(c->rtsp_limits.request_timeout_ms, 10000);
    assert_int_equal(c->rtsp_limits.idle_timeout_ms, 60000);
    assert_string_equal(c->rtsp_listen.host, "0.0.0.0");
    assert_int_equal(c->rtsp_listen.port, 8554);
    assert_int_equal(c->api_listen.port, 1984);
    assert_int_equal(c->webrtc_listen.port, 8555);
    assert_string_equal(c->rtsp_default_query, "video&audio");
    assert_false(c->rtsp_local_auth || c->api_local_auth);
    assert_string_equal(c->rtsp_username, "");
    assert_int_equal(c->camera_count, 0);
    char want[128];
    snprintf(want, sizeof(want), "%s/etc/cameras.d", f->dir);
    assert_string_equal(c->cameras_dir, want);
}

static void test_listen_forms(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", "[rtsp]\nlisten = :8554\n[api]\nlisten = localhost:1984\n");
    assert_int_equal(load(f), 0);
    assert_string_equal(f->cfg->rtsp_listen.host, "");
    assert_int_equal(f->cfg->rtsp_listen.port, 8554);
    assert_true(f->cfg->rtsp_listen.enabled);
    assert_string_equal(f->cfg->api_listen.host, "localhost");

    const char *bad[] = {"8554",       "::1:8554", "[::1]8554",   "[::1]:", "host:0",
                         "host:65536", "host:-1",  "[nothost]:1", "h st:1", "host:1x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "[rtsp]\nlisten = %s\n", bad[i]);
        put(f, "etc/camvisor.ini", text);
        char msg[128];
        snprintf(msg, sizeof(msg), "bad value '%s' for listen in [rtsp]", bad[i]);
        expect_error(f, "etc/camvisor.ini", 2, msg);
    }
}

/* ---- error classes ------------------------------------------------------------------------ */

static void test_unknown_section(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", "[server]\nuser = nobody\n[hwaccel]\nfoo = 1\n");
    expect_error(f, "etc/camvisor.ini", 3, "unknown section [hwaccel]");
    /* Its keys are not reported on top. */
    assert_null(strstr(f->err, "foo"));

    put(f, "etc/camvisor.ini", minimal_global);
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://cam/\n[server]\nuser = x\n");
    expect_error(f, "etc/cameras.d/door.ini", 3,
                 "unknown section [server] (a camera file has only [camera])");
    /* A global section name is unknown in a camera file and the reverse. */
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://cam/\n");
    put(f, "etc/camvisor.ini", "[camera]\nurl = rtsp://cam/\n");
    expect_error(f, "etc/camvisor.ini", 1, "unknown section [camera]");
}

static void test_unknown_key(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    put(f, "etc/cameras.d/door.ini", "[camera]\n# comment\nurll = rtsp://cam/\n");
    expect_error(f, "etc/cameras.d/door.ini", 3, "unknown key 'urll' in [camera]");
    put(f, "etc/camvisor.ini", "[server]\nusr = x\n");
    expect_error(f, "etc/camvisor.ini", 2, "unknown key 'usr' in [server]");
}

static void test_bad_values(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    static const struct {
        const char *line, *msg;
    } cases[] = {
        {"mode = sometimes",
         "bad value 'sometimes' for mode in [camera]: expected always or on-demand"},
        {"mode = Always", "bad value 'Always' for mode in [camera]"},
        {"transport = sctp", "bad value 'sctp' for transport in [camera]: expected tcp or udp"},
        {"hwaccel = cuda", "bad value 'cuda' for hwaccel in [camera]"},
        {"transcode_bitrate = 2G", "bad value '2G' for transcode_bitrate in [camera]"},
        {"transcode_bitrate = 8k", "bad value '8k' for transcode_bitrate in [camera]"},
        {"transcode_bitrate = 101M", "bad value '101M' for transcode_bitrate"},
        {"transcode_size = 1280", "bad value '1280' for transcode_size in [camera]: expected"},
        {"transcode_size = 641x480", "bad value '641x480' for transcode_size"},
        {"transcode_size = 9000x0", "bad value '9000x0' for transcode_size"},
        {"transcode_size = 640x480x", "bad value '640x480x' for transcode_size"},
        {"enabled = maybe", "bad value 'maybe' for enabled in [camera]: expected true, false"},
        {"enabled =", "bad value '' for enabled in [camera]"},
        {"ring_size = 100K", "bad value '100K' for ring_size in [camera]"},
        {"ring_size = 1024M", "bad value '1024M' for ring_size in [camera]"},
        {"ring_size = 6X", "bad value '6X' for ring_size in [camera]"},
        {"ring_size = -6M", "bad value '-6M' for ring_size in [camera]"},
        {"ring_size = 99999999999999999999", "bad value '99999999999999999999' for ring_size"},
        {"idle_timeout = 5m", "bad value '5m' for idle_timeout in [camera]"},
        {"idle_timeout = 86401s", "bad value '86401s' for idle_timeout"},
        {"idle_timeout = s", "bad value 's' for idle_timeout"},
        {"name = front door", "bad value 'front door' for name in [camera]"},
        {"name = a/b", "bad value 'a/b' for name in [camera]"},
        {"name = ..", "bad value '..' for name in [camera]"},
        {"name = 0123456789012345678901234567890123456789012345678901234567890123",
         "bad value '0123456789012345678901234567890123456789012345678901234567890123' for name"},
        {"username = a:b", "bad value 'a:b' for username in [camera]"},
        {"url2 = x", "unknown key 'url2' in [camera]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "[camera]\nurl = rtsp://cam/\n%s\n", cases[i].line);
        put(f, "etc/cameras.d/door.ini", text);
        expect_error(f, "etc/cameras.d/door.ini", 3, cases[i].msg);
    }
}

static void test_rtsp_limits(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini",
        "[rtsp]\nmax_connections = 9\nmax_connections_per_client = 3\nrequest_timeout = 500ms\n"
        "idle_timeout = 2\n");
    assert_int_equal(load(f), 0);
    assert_int_equal(f->cfg->rtsp_limits.max_conns, 9);
    assert_int_equal(f->cfg->rtsp_limits.max_conns_per_client, 3);
    assert_int_equal(f->cfg->rtsp_limits.request_timeout_ms, 500);
    assert_int_equal(f->cfg->rtsp_limits.idle_timeout_ms, 2000);
    static const struct {
        const char *line, *msg;
    } cases[] = {
        {"max_connections = 0", "bad value '0' for max_connections in [rtsp]: expected a whole"},
        {"max_connections = 1000001", "bad value '1000001' for max_connections"},
        {"max_connections = 5k", "bad value '5k' for max_connections"},
        {"max_connections_per_client = -1", "bad value '-1' for max_connections_per_client"},
        {"request_timeout = soon", "bad value 'soon' for request_timeout in [rtsp]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "[rtsp]\n%s\n", cases[i].line);
        put(f, "etc/camvisor.ini", text);
        expect_error(f, "etc/camvisor.ini", 2, cases[i].msg);
    }
}

/* A file over CV_CONFIG_FILE_MAX is refused by its size, before a byte of it is read. */
static void test_oversized_file(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    put(f, "etc/cameras.d/huge.ini", "[camera]\nurl = testsrc://\n");
    char path[256];
    snprintf(path, sizeof(path), "%s/etc/cameras.d/huge.ini", f->dir);
    assert_int_equal(truncate(path, CV_CONFIG_FILE_MAX + 1), 0);
    expect_error(f, "etc/cameras.d/huge.ini", 0, "larger than a config file can be (256 KiB)");
    assert_int_equal(truncate(path, CV_CONFIG_FILE_MAX), 0); /* at the limit: read (NULs refused) */
    assert_int_not_equal(load(f), 0);
    assert_null(strstr(f->err, "larger than"));
}

static void test_bad_urls(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    static const struct {
        const char *url, *msg;
    } cases[] = {
        {"http://cam/", "bad value 'http://cam/' for url in [camera]: unsupported scheme 'http'"},
        {"rtsp:///x", "no host"},
        {"file://host/x.mp4", "expected file:/absolute/path"},
        {"testsrc://host", "expected testsrc://?options"},
        {"cam.local/x", "not a URL"},
        /* A URL that does not parse is redacted in the message. */
        {"rtsp://u:pa/ss@cam/", "bad value 'rtsp://***@cam/' for url"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "[camera]\nurl = %s\n", cases[i].url);
        put(f, "etc/cameras.d/door.ini", text);
        expect_error(f, "etc/cameras.d/door.ini", 2, cases[i].msg);
        assert_null(strstr(f->err, "pa/ss"));
    }
}

static void test_long_line(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    char text[3000];
    /* 900 bytes pass whole: Debian's inih alone would split this line at 200. */
    int n = snprintf(text, sizeof(text), "[camera]\nurl = rtsp://cam/");
    memset(text + n, 'a', 880);
    snprintf(text + n + 880, sizeof(text) - (size_t)n - 880, "\nmode = on-demand\n");
    put(f, "etc/cameras.d/door.ini", text);
    assert_int_equal(load(f), 0);
    assert_int_equal(strlen(f->cfg->cameras[0].url), strlen("rtsp://cam/") + 880);
    assert_int_equal(f->cfg->cameras[0].mode, CV_MODE_ON_DEMAND);

    /* 1001 bytes: refused, naming the line; the next lines are still read. */
    n = snprintf(text, sizeof(text), "[camera]\n; x\nurl = rtsp://cam/");
    memset(text + n, 'a', 1001);
    snprintf(text + n + 1001, sizeof(text) - (size_t)n - 1001, "\nmodee = x\n");
    put(f, "etc/cameras.d/door.ini", text);
    expect_error(f, "etc/cameras.d/door.ini", 3, "line too long (more than 1000 bytes)");
    expect_error(f, "etc/cameras.d/door.ini", 4, "unknown key 'modee' in [camera]");
}

static void test_indented_line(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    /* Indentation is not a continuation: the indented line is a key of its own. */
    put(f, "etc/cameras.d/door.ini",
        "[camera]\nurl = rtsp://cam/s1\n    mode = on-demand\n"
        "\t  transport = udp\n");
    assert_int_equal(load(f), 0);
    assert_string_equal(f->cfg->cameras[0].url, "rtsp://cam/s1");
    assert_int_equal(f->cfg->cameras[0].mode, CV_MODE_ON_DEMAND);
    assert_int_equal(f->cfg->cameras[0].transport, CV_TRANSPORT_UDP);
    /* An indented line meant as a continuation is an error, not glued to the url. */
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://cam/s1\n    ?channel=2\n");
    expect_error(f, "etc/cameras.d/door.ini", 3, "expected 'key = value'");
    /* ... and so is an indented line that happens to contain '='. */
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://cam/s1?a=1\n    &b=2\n");
    expect_error(f, "etc/cameras.d/door.ini", 3, "expected 'key = value'");
}

static void test_syntax_errors(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", "user = x\n");
    expect_error(f, "etc/camvisor.ini", 1, "key 'user' before any [section]");
    put(f, "etc/camvisor.ini", "[server\nuser = x\n");
    expect_error(f, "etc/camvisor.ini", 1, "malformed section header");
    put(f, "etc/camvisor.ini", "[server] user = x\n");
    expect_error(f, "etc/camvisor.ini", 1, "malformed section header");
    put(f, "etc/camvisor.ini", "[server]\nuser: x\n");
    expect_error(f, "etc/camvisor.ini", 2, "expected 'key = value', '[section]' or a comment");
    put(f, "etc/camvisor.ini", "[server]\n= x\n");
    expect_error(f, "etc/camvisor.ini", 2, "expected 'key = value'");
    put(f, "etc/camvisor.ini", "[server]\nuser = a\n[rtsp]\n[server]\n");
    expect_error(f, "etc/camvisor.ini", 4, "duplicate section [server] (first at line 1)");
    put(f, "etc/camvisor.ini", "[server]\nuser = a\nlog_level = info\nuser = b\n");
    expect_error(f, "etc/camvisor.ini", 4,
                 "duplicate key 'user' in [server] (first set at line 2)");
    put(f, "etc/camvisor.ini", "[server]\nuser = \"nobody\"\n");
    expect_error(f, "etc/camvisor.ini", 2, "the value of user is quoted");
    put(f, "etc/camvisor.ini", "[server]\nlog_level = verbose\n");
    expect_error(f, "etc/camvisor.ini", 2,
                 "bad value 'verbose' for log_level in [server]: expected debug, info, warn or "
                 "error");
    put(f, "etc/camvisor.ini", "[server]\nuser =\n");
    expect_error(f, "etc/camvisor.ini", 2, "bad value '' for user in [server]: empty");
    /* A section header followed by a comment is fine; the ] must close it. */
    put(f, "etc/camvisor.ini", "[server] ; the server\nuser = a\n[rtsp]# x\n");
    assert_int_equal(load(f), 0);
}

static void test_camera_file_errors(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    put(f, "etc/cameras.d/door.ini", "[camera]\nmode = always\n");
    expect_error(f, "etc/cameras.d/door.ini", 1, "missing required key 'url' in [camera]");
    put(f, "etc/cameras.d/door.ini", "; nothing here\n");
    expect_error(f, "etc/cameras.d/door.ini", 0, "no [camera] section");
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://cam/\n");

    /* A file name that is not a valid camera name needs a name key. */
    put(f, "etc/cameras.d/front door.ini", "[camera]\nurl = rtsp://cam/\n");
    expect_error(f, "etc/cameras.d/front door.ini", 0,
                 "the file name gives the camera name 'front door', which is not valid");
    put(f, "etc/cameras.d/front door.ini", "[camera]\nurl = rtsp://cam/\nname = front_door\n");
    assert_int_equal(load(f), 0);
    assert_non_null(cv_config_camera_find(f->cfg, "front_door"));
}

static void test_duplicate_name(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    put(f, "etc/cameras.d/a.ini", "[camera]\nurl = rtsp://cam1/\nname = door\n");
    put(f, "etc/cameras.d/door.ini", "\n[camera]\nurl = rtsp://cam2/\n");
    char msg[256];
    snprintf(msg, sizeof(msg),
             "duplicate camera name 'door' (already defined at %s/etc/cameras.d/a.ini:3)", f->dir);
    expect_error(f, "etc/cameras.d/door.ini", 2, msg);
}

static void test_credentials(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    put(f, "etc/secret", "x\n");
    put(f, "etc/cameras.d/door.ini",
        "[camera]\nurl = rtsp://cam/\nusername = a\npassword = b\npassword_file = ../secret\n");
    expect_error(f, "etc/cameras.d/door.ini", 5, "password and password_file are both set");
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://cam/\npassword = b\n");
    expect_error(f, "etc/cameras.d/door.ini", 3, "a password needs a username");
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://u:p@cam/\nusername = a\n");
    expect_error(f, "etc/cameras.d/door.ini", 3, "the url already holds credentials");
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = testsrc://\nusername = a\n");
    expect_error(f, "etc/cameras.d/door.ini", 3, "apply only to rtsp and rtsps urls");
    put(f, "etc/cameras.d/door.ini",
        "[camera]\nurl = rtsp://cam/\nusername = a\npassword_file = nope\n");
    char msg[256];
    snprintf(msg, sizeof(msg), "cannot open password_file '%s/etc/cameras.d/nope'", f->dir);
    expect_error(f, "etc/cameras.d/door.ini", 4, msg);
    /* Both halves of server-side auth or neither. */
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://cam/\n");
    put(f, "etc/camvisor.ini", "[rtsp]\nusername = a\n");
    expect_error(f, "etc/camvisor.ini", 2, "[rtsp] username and password go together");
    put(f, "etc/camvisor.ini", "[api]\n\npassword = a\n");
    expect_error(f, "etc/camvisor.ini", 3, "[api] username and password go together");
    /* A secret is never echoed, even in a complaint about it. */
    put(f, "etc/camvisor.ini", "[api]\nusername = a\npassword = hunter2\x01\n");
    expect_error(f, "etc/camvisor.ini", 3, "bad value for password in [api]");
    assert_null(strstr(f->err, "hunter2"));
}

static void test_password_file(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    put(f, "etc/cameras.d/door.pw", "p@ss w0rd;\r\n\n");
    put(f, "etc/cameras.d/door.ini",
        "[camera]\nurl = rtsp://cam/s\nusername = admin\npassword_file = door.pw\n");
    assert_int_equal(load(f), 0);
    assert_string_equal(f->cfg->cameras[0].url, "rtsp://admin:p%40ss%20w0rd%3B@cam/s");
    assert_string_equal(f->cfg->cameras[0].url_redacted, "rtsp://admin:***@cam/s");

    put(f, "etc/cameras.d/door.pw", "\n");
    expect_error(f, "etc/cameras.d/door.ini", 4, "is empty");
    put(f, "etc/cameras.d/door.pw", "a\nb\n");
    expect_error(f, "etc/cameras.d/door.ini", 4, "must hold a single line");
    char big[300];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put(f, "etc/cameras.d/door.pw", big);
    expect_error(f, "etc/cameras.d/door.ini", 4, "holds more than 127 bytes");
    put(f, "etc/cameras.d/door.ini",
        "[camera]\nurl = rtsp://cam/s\nusername = admin\npassword_file = /\n");
    expect_error(f, "etc/cameras.d/door.ini", 4, "password_file '/' is not a regular file");
}

static void test_env(void **state)
{
    struct fixture *f = *state;
    setenv("CV_TEST_HOST", "10.1.2.3", 1);
    setenv("CV_TEST_PASS", "pa ss;x", 1);
    setenv("CV_TEST_EMPTY", "", 1);
    unsetenv("CV_TEST_UNSET");
    put(f, "etc/camvisor.ini",
        "[rtsp]\ndefault_query = ${CV_TEST_UNSET:video}&a$b$$c${CV_TEST_EMPTY:x}\n");
    put(f, "etc/cameras.d/door.ini",
        "[camera]\nurl = rtsp://${CV_TEST_HOST}:${CV_TEST_UNSET:8554}/s\n"
        "username = ${CV_TEST_UNSET:admin}\npassword = ${CV_TEST_PASS}\n");
    assert_int_equal(load(f), 0);
    assert_string_equal(f->cfg->rtsp_default_query, "video&a$b$$c");
    assert_string_equal(f->cfg->cameras[0].url, "rtsp://admin:pa%20ss%3Bx@10.1.2.3:8554/s");

    put(f, "etc/cameras.d/door.ini", "[camera]\n\nurl = rtsp://${CV_TEST_UNSET}/\n");
    expect_error(f, "etc/cameras.d/door.ini", 3,
                 "environment variable CV_TEST_UNSET is not set (in the value of url");
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://${CV_TEST_HOST/\n");
    expect_error(f, "etc/cameras.d/door.ini", 2, "unterminated ${ in the value of url");
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://${}/\n");
    expect_error(f, "etc/cameras.d/door.ini", 2, "bad variable name '${}'");
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://${A-B}/\n");
    expect_error(f, "etc/cameras.d/door.ini", 2, "bad variable name '${A-B}'");

    /* The result is bounded. */
    char big[900];
    memset(big, 'h', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    setenv("CV_TEST_BIG", big, 1);
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://${CV_TEST_BIG}${CV_TEST_BIG}/\n");
    expect_error(f, "etc/cameras.d/door.ini", 2,
                 "the value of url is longer than 1024 bytes after ${} expansion");
    /* A variable's value is not expanded again. */
    setenv("CV_TEST_HOST", "${CV_TEST_UNSET}", 1);
    put(f, "etc/camvisor.ini", "[rtsp]\ndefault_query = ${CV_TEST_HOST}\n");
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = testsrc://\n");
    assert_int_equal(load(f), 0);
    assert_string_equal(f->cfg->rtsp_default_query, "${CV_TEST_UNSET}");
}

/* A camera file the API wrote (its first line says so) is read literally: no ${} at all. */
static void test_api_file_is_literal(void **state)
{
    struct fixture *f = *state;
    setenv("CV_TEST_HOST", "10.1.2.3", 1);
    unsetenv("CV_TEST_UNSET");
    put(f, "etc/camvisor.ini", minimal_global);
    put(f, "etc/cameras.d/api.ini",
        "; written by camvisor's API (PUT /api/streams). Its values are taken literally.\n"
        "[camera]\nurl = rtsp://h/${CV_TEST_HOST}/${CV_TEST_UNSET}\n");
    put(f, "etc/cameras.d/hand.ini",
        "[camera]\n; written by camvisor's API, but not as its first line\n"
        "url = rtsp://${CV_TEST_HOST}/s\n");
    assert_int_equal(load(f), 0);
    assert_int_equal(f->cfg->camera_count, 2);
    assert_string_equal(f->cfg->cameras[0].url, "rtsp://h/${CV_TEST_HOST}/${CV_TEST_UNSET}");
    assert_true(f->cfg->cameras[0].api_file);
    assert_string_equal(f->cfg->cameras[1].url, "rtsp://10.1.2.3/s");
    assert_false(f->cfg->cameras[1].api_file);
    /* The mark only counts in a camera file. */
    put(f, "etc/camvisor.ini",
        "; written by camvisor's API\n[rtsp]\ndefault_query = ${CV_TEST_HOST}\n");
    assert_int_equal(load(f), 0);
    assert_string_equal(f->cfg->rtsp_default_query, "10.1.2.3");
}

/* [server] max_cameras: a stated cap on enabled cameras, never above what a catalogue holds. */
static void test_max_cameras(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", "[server]\nmax_cameras = 2\n");
    put(f, "etc/cameras.d/a.ini", "[camera]\nurl = testsrc://\n");
    put(f, "etc/cameras.d/b.ini", "[camera]\nurl = testsrc://\n");
    put(f, "etc/cameras.d/c.ini", "[camera]\nurl = testsrc://\nenabled = false\n");
    assert_int_equal(load(f), 0); /* a disabled camera does not count */
    assert_int_equal(f->cfg->max_cameras, 2);
    put(f, "etc/cameras.d/c.ini", "[camera]\nurl = testsrc://\n");
    expect_error(f, "etc/camvisor.ini", 0,
                 "3 cameras are enabled, more than [server] max_cameras = 2");
    put(f, "etc/camvisor.ini", "[server]\n\nmax_cameras = 257\n");
    expect_error(f, "etc/camvisor.ini", 3, "max_cameras = 257: at most 256");
    put(f, "etc/camvisor.ini", "[server]\n");
    assert_int_equal(load(f), 0);
    assert_int_equal(f->cfg->max_cameras, CV_CONFIG_CAMERAS_LIMIT);
}

/* [server] hwaccel is every camera's unless its own file says otherwise. */
static void test_global_hwaccel(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", "[server]\nhwaccel = none\nmax_transcodes = 2\n");
    put(f, "etc/cameras.d/a.ini", "[camera]\nurl = testsrc://\n");
    put(f, "etc/cameras.d/b.ini", "[camera]\nurl = testsrc://\nhwaccel = nvdec\n");
    assert_int_equal(load(f), 0);
    assert_int_equal(f->cfg->hwaccel, CV_HWACCEL_NONE);
    assert_int_equal(f->cfg->max_transcodes, 2);
    assert_int_equal(f->cfg->cameras[0].hwaccel, CV_HWACCEL_NONE);
    assert_int_equal(f->cfg->cameras[1].hwaccel, CV_HWACCEL_NVDEC);
}

static void test_inline_comments(void **state)
{
    struct fixture *f = *state;
    /* inih's rule: ';' after whitespace starts a comment; elsewhere it is data; '#' inline is data.
     */
    put(f, "etc/camvisor.ini",
        "[rtsp]\nusername = a\npassword = abc ;def\n"
        "default_query = a;b#c\n[api]\nusername = b\npassword = x;y ; z\n");
    assert_int_equal(load(f), 0);
    assert_string_equal(f->cfg->rtsp_password, "abc");
    assert_string_equal(f->cfg->rtsp_default_query, "a;b#c");
    assert_string_equal(f->cfg->api_password, "x;y");
}

static void test_cameras_dir(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", "[server]\ncameras_dir = ../cams\n");
    put(f, "cams/one.ini", "[camera]\nurl = testsrc://\n");
    assert_int_equal(load(f), 0);
    char want[128];
    snprintf(want, sizeof(want), "%s/etc/../cams", f->dir);
    assert_string_equal(f->cfg->cameras_dir, want);
    assert_int_equal(f->cfg->camera_count, 1);
    snprintf(want, sizeof(want), "%s/etc/../cams/one.ini", f->dir);
    assert_string_equal(f->cfg->cameras[0].file, want);

    /* Absolute. */
    char text[256];
    snprintf(text, sizeof(text), "[server]\ncameras_dir = %s/cams\n", f->dir);
    put(f, "etc/camvisor.ini", text);
    assert_int_equal(load(f), 0);
    assert_int_equal(f->cfg->camera_count, 1);

    /* A folder named explicitly must exist. */
    put(f, "etc/camvisor.ini", "[server]\n\ncameras_dir = nope\n");
    expect_error(f, "etc/camvisor.ini", 3, "cannot open the cameras folder");

    /* A .ini that is not a regular file. */
    put(f, "etc/camvisor.ini", "[server]\ncameras_dir = ../cams\n");
    put(f, "cams/sub.ini/x", "");
    expect_error(f, "etc/../cams/sub.ini", 0, "not a regular file");
}

static void test_all_errors_collected(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", "[server]\nbad1 = 1\n");
    put(f, "etc/cameras.d/a.ini", "[camera]\nurl = rtsp://a/\nbad2 = 1\n");
    put(f, "etc/cameras.d/b.ini", "[camera]\nurl = rtsp://b/\nbad3 = 1\n");
    assert_int_equal(load(f), -EINVAL);
    char *e1 = strstr(f->err, "bad1"), *e2 = strstr(f->err, "bad2"), *e3 = strstr(f->err, "bad3");
    assert_true(e1 && e2 && e3 && e1 < e2 && e2 < e3);
    /* One per line. */
    assert_non_null(strchr(f->err, '\n'));

    /* Past the cap, the rest are counted. */
    char text[4096];
    int n = snprintf(text, sizeof(text), "[server]\n");
    for (int i = 0; i < 25; i++)
        n += snprintf(text + n, sizeof(text) - (size_t)n, "k%d = 1\n", i);
    put(f, "etc/camvisor.ini", text);
    assert_int_equal(load(f), -EINVAL);
    assert_non_null(strstr(f->err, "(7 more errors)")); /* 25 + bad2 + bad3 - 20 */

    /* A small buffer is cut, still terminated. */
    char small[40];
    struct cv_config *cfg = (struct cv_config *)1;
    assert_int_equal(cv_config_load(f->global, &cfg, small, sizeof(small)), -EINVAL);
    assert_null(cfg);
    assert_true(strlen(small) < sizeof(small));
    assert_int_equal(cv_config_load(f->global, &cfg, NULL, 0), -EINVAL);
}

static void test_missing_global(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "etc/camvisor.ini", 0, "cannot open: No such file or directory");
    assert_int_equal(load(f), -ENOENT);
}

static void test_port_conflict(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", "[rtsp]\nlisten = :1984\n");
    expect_error(f, "etc/camvisor.ini", 2, "[rtsp] listen and [api] listen both use port 1984");
    put(f, "etc/camvisor.ini", "[rtsp]\nlisten = 127.0.0.1:1984\n[api]\nlisten = 127.0.0.2:1984\n");
    assert_int_equal(load(f), 0);
}

static void test_bom_crlf_nul(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini",
        "\xEF\xBB\xBF[server]\r\nuser = camvisor\r\n\r\n[rtsp]\r\nlisten = :554\r\n");
    assert_int_equal(load(f), 0);
    assert_string_equal(f->cfg->user, "camvisor");
    assert_int_equal(f->cfg->rtsp_listen.port, 554);

    static const char nul[] = "[camera]\nurl = testsrc://\nmode = al\0ways\n";
    struct cv_config *cfg = NULL;
    assert_int_equal(cv_config_load_buffer(CV_CONFIG_CAMERA, "x/door.ini", nul, sizeof(nul) - 1,
                                           &cfg, f->err, sizeof(f->err)),
                     -EINVAL);
    assert_non_null(strstr(f->err, "x/door.ini:3: NUL byte in line"));
}

static void test_load_buffer(void **state)
{
    struct fixture *f = *state;
    static const char cam[] = "[camera]\nurl = rtsp://cam/\nusername = u\npassword = p\n";
    struct cv_config *cfg = NULL;
    assert_int_equal(cv_config_load_buffer(CV_CONFIG_CAMERA, "etc/cameras.d/porch.ini", cam,
                                           sizeof(cam) - 1, &cfg, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(cfg->camera_count, 1);
    assert_string_equal(cfg->cameras[0].name, "porch");
    assert_string_equal(cfg->cameras[0].url, "rtsp://u:p@cam/");
    assert_string_equal(cfg->cameras[0].file, "etc/cameras.d/porch.ini");
    cv_config_free(cfg);

    static const char glob[] = "[server]\ncameras_dir = /srv/cams\n";
    assert_int_equal(cv_config_load_buffer(CV_CONFIG_GLOBAL, "g.ini", glob, sizeof(glob) - 1, &cfg,
                                           f->err, sizeof(f->err)),
                     0);
    assert_string_equal(cfg->cameras_dir, "/srv/cams");
    cv_config_free(cfg);
    assert_int_equal(cv_config_load_buffer(CV_CONFIG_GLOBAL, "g.ini", NULL, 0, &cfg, NULL, 0), 0);
    cv_config_free(cfg);
}

static void test_camera_equal(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    put(f, "etc/cameras.d/door.ini", "[camera]\nurl = rtsp://cam/\nusername = u\npassword = p\n");
    assert_int_equal(load(f), 0);
    struct cv_config *a = f->cfg;
    f->cfg = NULL;

    /* The same camera written elsewhere and differently is equal. */
    put(f, "etc/cameras.d/door.ini",
        "\n\n[camera]\n  password = p\nusername = u\nurl = rtsp://cam/\n"
        "mode = always\nring_size = auto\n");
    assert_int_equal(load(f), 0);
    assert_true(cv_config_camera_equal(&a->cameras[0], &f->cfg->cameras[0]));
    assert_int_not_equal(a->cameras[0].line, f->cfg->cameras[0].line);

    static const char *const changes[] = {
        "password = q\n",   "mode = on-demand\n", "idle_timeout = 6\n", "transport = udp\n",
        "hwaccel = none\n", "enabled = false\n",  "ring_size = 7M\n",
    };
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "[camera]\nurl = rtsp://cam/\nusername = u\n%s%s", changes[i],
                 strncmp(changes[i], "password", 8) == 0 ? "" : "password = p\n");
        put(f, "etc/cameras.d/door.ini", text);
        assert_int_equal(load(f), 0);
        if (cv_config_camera_equal(&a->cameras[0], &f->cfg->cameras[0]))
            fail_msg("'%s' was not seen as a change", changes[i]);
    }
    struct cv_camera_config renamed = a->cameras[0];
    snprintf(renamed.name, sizeof(renamed.name), "other");
    assert_false(cv_config_camera_equal(&a->cameras[0], &renamed));
    cv_config_free(a);
}

static void test_many_cameras(void **state)
{
    struct fixture *f = *state;
    put(f, "etc/camvisor.ini", minimal_global);
    /* Written in no particular order; read in byte order of the file names. */
    for (int i = 39; i >= 0; i--) {
        char rel[64];
        snprintf(rel, sizeof(rel), "etc/cameras.d/c%02d.ini", (i * 7) % 40);
        put(f, rel, "[camera]\nurl = testsrc://\n");
    }
    put(f, "etc/cameras.d/B.ini", "[camera]\nurl = testsrc://\n");
    assert_int_equal(load(f), 0);
    assert_int_equal(f->cfg->camera_count, 41);
    assert_string_equal(f->cfg->cameras[0].name, "B"); /* 'B' < 'c' in bytes */
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%02d", i);
        assert_string_equal(f->cfg->cameras[i + 1].name, name);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_full_config),
        T(test_defaults),
        T(test_listen_forms),
        T(test_unknown_section),
        T(test_unknown_key),
        T(test_bad_values),
        T(test_rtsp_limits),
        T(test_oversized_file),
        T(test_bad_urls),
        T(test_long_line),
        T(test_indented_line),
        T(test_syntax_errors),
        T(test_camera_file_errors),
        T(test_duplicate_name),
        T(test_credentials),
        T(test_password_file),
        T(test_env),
        T(test_api_file_is_literal),
        T(test_max_cameras),
        T(test_global_hwaccel),
        T(test_inline_comments),
        T(test_cameras_dir),
        T(test_all_errors_collected),
        T(test_missing_global),
        T(test_port_conflict),
        T(test_bom_crlf_nul),
        T(test_load_buffer),
        T(test_camera_equal),
        T(test_many_cameras),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
