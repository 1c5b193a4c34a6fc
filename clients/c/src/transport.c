/* transport.c: address parsing, connecting with a deadline, and EINTR/partial-I/O-safe reads
 * and writes on a non-blocking socket (or the TLS session on it, tls.c), each bounded by poll(). */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"

int64_t mc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mc_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int mc_wait_fd(int fd, short events, int64_t deadline_ms, meter_error *error)
{
    for (;;) {
        int64_t left = deadline_ms - mc_now_ms();
        if (left <= 0)
            return mc_fail(error, METER_DEADLINE_EXCEEDED, "TIMEOUT", "timed out waiting for the server");
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return 0; /* readable, writable, or an error the next read/write reports */
        if (r < 0 && errno != EINTR)
            return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED", "poll: %s", strerror(errno));
    }
}

/* Moves size bytes through the TLS session (SSL_write when writing, else SSL_read) before the
 * deadline: 0 or a status code. */
static int tls_transfer(mc_conn *conn, uint8_t *data, size_t size, int writing, int64_t deadline_ms,
                        meter_error *error)
{
    while (size > 0) {
        ERR_clear_error();
        int chunk = size > INT_MAX ? INT_MAX : (int)size;
        int n = writing ? SSL_write(conn->ssl, data, chunk) : SSL_read(conn->ssl, data, chunk);
        if (n > 0) {
            data += n;
            size -= (size_t)n;
            continue;
        }
        int rc = mc_tls_retry(conn, n, writing ? "send" : "receive", deadline_ms, error);
        if (rc)
            return rc;
    }
    return 0;
}

int mc_write_all(mc_conn *conn, const uint8_t *data, size_t size, int64_t deadline_ms, meter_error *error)
{
    if (conn->ssl)
        return tls_transfer(conn, (uint8_t *)data, size, 1, deadline_ms, error);
    int fd = conn->fd;
    while (size > 0) {
        ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            size -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = mc_wait_fd(fd, POLLOUT, deadline_ms, error);
            if (rc)
                return rc;
        } else {
            return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED", "send: %s",
                           n < 0 ? strerror(errno) : "no progress");
        }
    }
    return 0;
}

int mc_read_exact(mc_conn *conn, uint8_t *data, size_t size, int64_t deadline_ms, meter_error *error)
{
    if (conn->ssl)
        return tls_transfer(conn, data, size, 0, deadline_ms, error);
    int fd = conn->fd;
    while (size > 0) {
        ssize_t n = recv(fd, data, size, 0);
        if (n > 0) {
            data += n;
            size -= (size_t)n;
        } else if (n == 0) {
            return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED", "the server closed the connection");
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = mc_wait_fd(fd, POLLIN, deadline_ms, error);
            if (rc)
                return rc;
        } else {
            return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED", "recv: %s", strerror(errno));
        }
    }
    return 0;
}

/* Starts a non-blocking connect and waits for it: 0, or a status code (fd left open). */
static int connect_fd(int fd, const struct sockaddr *addr, socklen_t len, int64_t deadline_ms,
                      meter_error *error)
{
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return mc_fail(error, METER_UNAVAILABLE, "CONNECT", "fcntl: %s", strerror(errno));
    if (connect(fd, addr, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR && errno != EAGAIN)
        return mc_fail(error, METER_UNAVAILABLE, "CONNECT", "connect: %s", strerror(errno));
    int rc = mc_wait_fd(fd, POLLOUT, deadline_ms, error);
    if (rc)
        return rc;
    int so_error = 0;
    socklen_t so_len = sizeof so_error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) < 0)
        so_error = errno;
    if (so_error)
        return mc_fail(error, METER_UNAVAILABLE, "CONNECT", "connect: %s", strerror(so_error));
    return 0;
}

static int connect_unix(const char *path, int64_t deadline_ms, meter_error *error)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun.sun_path) {
        mc_fail(error, METER_INVALID_ARGUMENT, "CONNECT", "socket path too long: %s", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        mc_fail(error, METER_UNAVAILABLE, "CONNECT", "socket: %s", strerror(errno));
        return -1;
    }
    if (connect_fd(fd, (struct sockaddr *)&sun, sizeof sun, deadline_ms, error)) {
        if (error)
            mc_copy_text(error->message + strlen(error->message),
                         sizeof error->message - strlen(error->message), " (unix socket)");
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_tcp(const char *host, const char *port, int64_t deadline_ms, meter_error *error)
{
    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, port, &hints, &list);
    if (gai != 0) {
        mc_fail(error, METER_UNAVAILABLE, "CONNECT", "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    mc_fail(error, METER_UNAVAILABLE, "CONNECT", "no address for %s", host);
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            mc_fail(error, METER_UNAVAILABLE, "CONNECT", "socket: %s", strerror(errno));
            continue;
        }
        if (connect_fd(fd, ai->ai_addr, ai->ai_addrlen, deadline_ms, error) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    return fd;
}

/* Splits "host:port" / "[v6]:port" into host and port buffers: 0 on success. */
static int split_host_port(const char *text, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon[1] == '\0' || strlen(colon + 1) >= port_size)
        return -1;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    long value = strtol(colon + 1, NULL, 10);
    if (value < 1 || value > 65535)
        return -1;
    const char *start = text;
    size_t len = (size_t)(colon - text);
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        start++;
        len -= 2;
    } else if (memchr(text, ':', len)) {
        return -1; /* an IPv6 literal must be bracketed */
    }
    if (len == 0 || len >= host_size)
        return -1;
    memcpy(host, start, len);
    host[len] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

int mc_transport_connect(const char *address, int64_t deadline_ms, char *host_out, size_t host_size,
                         meter_error *error)
{
    if (host_size > 0)
        host_out[0] = '\0';
    if (!address || !*address) {
        mc_fail(error, METER_INVALID_ARGUMENT, "CONNECT", "empty address");
        return -1;
    }
    if (strncmp(address, "unix:", 5) == 0) {
        if (!address[5]) {
            mc_fail(error, METER_INVALID_ARGUMENT, "CONNECT", "empty socket path in \"%s\"", address);
            return -1;
        }
        return connect_unix(address + 5, deadline_ms, error);
    }
    const char *tcp = address;
    if (strncmp(address, "tcp:", 4) == 0) {
        tcp = address + 4;
    } else {
        size_t len = strlen(address);
        if (strchr(address, '/') || (len >= 5 && strcmp(address + len - 5, ".sock") == 0))
            return connect_unix(address, deadline_ms, error);
    }
    char host[256], port[8];
    if (split_host_port(tcp, host, sizeof host, port, sizeof port) != 0) {
        mc_fail(error, METER_INVALID_ARGUMENT, "CONNECT",
                "bad address \"%s\": want unix:PATH, a socket path, or HOST:PORT", address);
        return -1;
    }
    mc_copy_text(host_out, host_size, host);
    return connect_tcp(host, port, deadline_ms, error);
}
