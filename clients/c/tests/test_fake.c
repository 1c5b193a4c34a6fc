/* test_fake.c: the client against a scripted in-process server (a forked child on a Unix
 * socket): frames that arrive one byte at a time, a stray PONG, a GOAWAY, and a server that
 * never answers (the client's timeout). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

enum script { SCRIPT_TRICKLE, SCRIPT_GOAWAY, SCRIPT_SILENT };

/* Blocking helpers for the child. */
static int read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Writes a frame one byte at a time, yielding between bytes so the client sees partial reads. */
static void trickle(int fd, mc_header *h, const ProtobufCMessage *m)
{
    size_t size;
    uint8_t *frame = mc_frame_encode(h, m, &size);
    for (size_t i = 0; frame && i < size; i++) {
        if (write(fd, frame + i, 1) != 1)
            break;
        usleep(200);
    }
    free(frame);
}

/* Reads one frame (header + payload, discarded); returns its header. */
static int read_frame(int fd, mc_header *h)
{
    uint8_t raw[MC_HEADER_SIZE], buf[4096];
    if (read_all(fd, raw, sizeof raw))
        return -1;
    mc_header_decode(raw, h);
    return h->length <= sizeof buf ? read_all(fd, buf, h->length) : -1;
}

static void serve(int listener, enum script script)
{
    int fd = accept(listener, NULL, NULL);
    uint8_t preface[MC_PREFACE_SIZE];
    mc_header h;
    if (fd < 0 || read_all(fd, preface, sizeof preface) || read_frame(fd, &h))
        _exit(1);
    if (script == SCRIPT_SILENT) {
        /* Hold the connection, answering nothing, until the client gives up and closes it. */
        uint8_t drop[4096];
        while (read(fd, drop, sizeof drop) > 0) {
        }
        _exit(0);
    }
    Meterd__V1__HandshakeAck ack = METERD__V1__HANDSHAKE_ACK__INIT;
    ack.protocol_version = 1;
    ack.max_frame_bytes = MC_DEFAULT_MAX_FRAME;
    ack.max_batch_events = 500;
    ack.tenant_id = (char *)"fake";
    mc_header ack_h = {.type = MC_FRAME_HANDSHAKE_ACK};
    trickle(fd, &ack_h, &ack.base);
    if (read_frame(fd, &h))
        _exit(1);
    if (script == SCRIPT_GOAWAY) {
        Meterd__V1__GoAway g = METERD__V1__GO_AWAY__INIT;
        g.reason = (char *)"server shutting down";
        mc_header gh = {.type = MC_FRAME_GOAWAY};
        trickle(fd, &gh, &g.base);
        _exit(0);
    }
    static const uint8_t pong[] = {0, 0, 0, 8, MC_FRAME_PONG, 0, 0, 0, 0, 0, 0, 99, 1, 2, 3, 4, 5, 6, 7, 8};
    if (write(fd, pong, sizeof pong) != (ssize_t)sizeof pong)
        _exit(1);
    Meterd__V1__HealthCheckResponse resp = METERD__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = METERD__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    resp.message = (char *)"log failed";
    mc_header rh = {.type = MC_FRAME_RESPONSE, .stream_id = h.stream_id};
    trickle(fd, &rh, &resp.base);
    _exit(0);
}

/* Starts the scripted server on a fresh socket path; returns its pid. */
static pid_t start_fake(const char *path, enum script script)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strncpy(sun.sun_path, path, sizeof sun.sun_path - 1);
    unlink(path);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&sun, sizeof sun) || listen(listener, 1))
        return -1;
    pid_t pid = fork();
    if (pid == 0)
        serve(listener, script);
    close(listener);
    return pid;
}

static void finish(pid_t pid, const char *path)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(path);
}

void test_fake(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/meterclient-fake-%d.sock", (int)getpid());
    meter_error err;

    pid_t pid = start_fake(path, SCRIPT_TRICKLE);
    meter_client *c = meter_connect(path, NULL, 5000, &err);
    CHECK(c != NULL, "handshake one byte at a time: %s", c ? "" : err.message);
    if (c) {
        CHECK_STR(meter_tenant(c), "fake");
        CHECK(meter_max_batch_events(c) == 500, "max batch from the ack");
        meter_serving serving = METER_SERVING_UNSPECIFIED;
        char message[4];
        int rc = meter_health(c, &serving, message, sizeof message, &err);
        CHECK(rc == METER_OK && serving == METER_NOT_SERVING, "trickled response after a stray PONG: %s %s",
              meter_status_name(rc), err.message);
        CHECK_STR(message, "log"); /* truncated to the buffer */
        meter_close(c);
    }
    finish(pid, path);

    pid = start_fake(path, SCRIPT_GOAWAY);
    c = meter_connect(path, NULL, 5000, &err);
    CHECK(c != NULL, "connect: %s", c ? "" : err.message);
    if (c) {
        int rc = meter_health(c, NULL, NULL, 0, &err);
        CHECK(rc == METER_UNAVAILABLE, "GOAWAY: %s", meter_status_name(rc));
        CHECK_STR(err.reason, "GOAWAY");
        CHECK(strstr(err.message, "server shutting down") != NULL, "GOAWAY reason in message: %s", err.message);
        CHECK(!meter_is_connected(c), "closed after GOAWAY");
        rc = meter_health(c, NULL, NULL, 0, &err);
        CHECK(rc == METER_UNAVAILABLE && strcmp(err.reason, "CONNECTION_CLOSED") == 0, "later calls fail fast");
        meter_close(c);
    }
    finish(pid, path);

    pid = start_fake(path, SCRIPT_SILENT);
    int64_t start = mc_now_ms();
    c = meter_connect(path, NULL, 300, &err);
    int64_t took = mc_now_ms() - start;
    CHECK(c == NULL && err.code == METER_DEADLINE_EXCEEDED, "silent server: %s", meter_status_name(err.code));
    CHECK(took >= 250 && took < 3000, "timeout honoured: %lld ms", (long long)took);
    meter_close(c);
    finish(pid, path);
}
