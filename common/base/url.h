/*
 * Camera URLs: split, rebuild with credentials, and redact for printing.
 *
 * Shared by every process that handles a camera URL: the supervisor builds the effective URL
 * (credentials from username/password keys go into the userinfo, percent-encoded), the worker
 * hands it to FFmpeg (which percent-decodes the userinfo before authenticating), and anything
 * that prints or answers with a URL passes it through cv_url_redact() first.
 *
 * All functions are pure: no allocation, no global state, safe on hostile input.
 */
#ifndef CV_URL_H
#define CV_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CV_URL_SCHEME_MAX 16
#define CV_URL_USER_MAX   128
#define CV_URL_HOST_MAX   256
#define CV_URL_PATH_MAX   1024

/*
 * One URL, split. Only "scheme://authority[path][?query][#fragment]" URLs are accepted: the
 * scheme must be followed by "://" (file:///abs/path, testsrc://?width=640).
 */
struct cv_url {
    char scheme[CV_URL_SCHEME_MAX]; /* lower-cased: "rtsp" */
    char user[CV_URL_USER_MAX];     /* percent-decoded; "" when absent */
    char password[CV_URL_USER_MAX]; /* percent-decoded; secret, never print it */
    char host[CV_URL_HOST_MAX];     /* without the brackets of an IPv6 literal; may be "" */
    char path[CV_URL_PATH_MAX];     /* path, query and fragment verbatim: "/s1?a=b", "?w=1", "" */
    uint16_t port;                  /* the explicit port, else cv_url_default_port(scheme) */
    bool has_user;                  /* a userinfo part ("user@" or "user:pass@") was present */
    bool has_password;              /* the userinfo had a ':' (the password may be "") */
    bool has_port;                  /* an explicit, non-empty port was present */
    bool ipv6;                      /* host was a bracketed IPv6 literal */
};

/* 554 for rtsp, 322 for rtsps, 0 for anything else (file, testsrc, unknown). */
uint16_t cv_url_default_port(const char *scheme);

/*
 * Splits url into u. Returns 0, -EINVAL for a malformed URL (no "scheme://", control characters
 * or spaces, a bad host, port or percent escape, a %00), or -ENAMETOOLONG when a part does not
 * fit its field. The userinfo ends at the last '@' before the first '/', '?' or '#' after "//",
 * so an unencoded '@' in a password works but an unencoded '/' does not (encode it as %2F, or
 * use the password key of the camera file).
 */
int cv_url_parse(const char *url, struct cv_url *u);

/*
 * Writes url into out with any password replaced by "***": "rtsp://user:***@host/path". The
 * user name is kept; a URL without a password is copied unchanged. Query parameters that
 * commonly carry secrets (password, passwd, pass, pwd, token, secret) get "***" as value too.
 * Garbage is handled conservatively: text that might hold a password is masked, never copied.
 * Returns 0, or -ENOSPC when out was too small (out is then truncated but still safe and
 * NUL-terminated; outlen 0 writes nothing). url NULL gives "".
 */
int cv_url_redact(const char *url, char *out, size_t outlen);

/*
 * Builds the effective URL: url with "user[:password]@" inserted after "scheme://", both parts
 * percent-encoded (everything but A-Z a-z 0-9 - . _ ~). user NULL or "" with password NULL or ""
 * copies url. Returns 0; -EINVAL when url does not parse or a password comes without a user;
 * -EEXIST when url already carries a userinfo; -ENOSPC when out is too small. On error out is "".
 */
int cv_url_with_credentials(const char *url, const char *user, const char *password, char *out,
                            size_t outlen);

/*
 * Copies [s, s+n) into out (size bytes) with %XX escapes decoded: the one %-decoder of the
 * tree (URL userinfo, RTSP request paths, query strings). 0; -EBADMSG for a bad escape or an
 * escaped NUL; -E2BIG when it does not fit.
 */
int cv_url_pct_decode(const char *s, size_t n, char *out, size_t size);

#endif
