/*
 * Socket addresses of either family, as the RTSP server and the camera client compare and
 * re-port them (a UDP peer is the host of the RTSP connection at another port).
 */
#ifndef CV_SOCKADDR_H
#define CV_SOCKADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Same family and host address; ports are not compared. */
bool cv_sockaddr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* Sets the port of an AF_INET or AF_INET6 address; -EAFNOSUPPORT for another family. */
int cv_sockaddr_set_port(struct sockaddr_storage *ss, uint16_t port);

/* "host:port" ("[v6]:port") of an AF_INET or AF_INET6 address; "?" for another family. */
void cv_sockaddr_str(const struct sockaddr_storage *ss, char *out, size_t len);
/* 127.0.0.0/8, ::1 and ::ffff:127.x: the clients go2rtc's rules trust without credentials. */
bool cv_sockaddr_is_loopback(const struct sockaddr_storage *ss);

#endif
