/* tls.c: TLS (and mutual TLS) on a connected non-blocking TCP socket, with OpenSSL. The
 * session reads and writes through a BIO of our own that sends with MSG_NOSIGNAL, so a server
 * that went away never raises SIGPIPE in the caller's process (as with plain TCP). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"

static int bio_fd(BIO *bio) { return (int)(intptr_t)BIO_get_data(bio); }

static int bio_write(BIO *bio, const char *data, int size)
{
    BIO_clear_retry_flags(bio);
    ssize_t n = send(bio_fd(bio), data, (size_t)size, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(bio);
    return (int)n;
}

static int bio_read(BIO *bio, char *data, int size)
{
    BIO_clear_retry_flags(bio);
    ssize_t n = recv(bio_fd(bio), data, (size_t)size, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(bio);
    return (int)n;
}

static long bio_ctrl(BIO *bio, int command, long number, void *pointer)
{
    return command == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

/* The newest OpenSSL error as text ("" when the queue is empty). */
static const char *openssl_error(char *buffer, size_t size)
{
    unsigned long code = ERR_peek_last_error();
    if (!code)
        return "";
    ERR_error_string_n(code, buffer, size);
    return buffer;
}

/* INVALID_ARGUMENT, reason TLS, for settings OpenSSL refused. */
static int setting_error(meter_error *error, const char *what, const char *path)
{
    char detail[256];
    return mc_fail(error, METER_INVALID_ARGUMENT, "TLS", "%s %s: %s", what, path ? path : "",
                   openssl_error(detail, sizeof detail));
}

static int configure(SSL_CTX *ctx, const meter_connect_options *o, meter_error *error)
{
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
        return setting_error(error, "cannot require TLS 1.2", NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* A server that closes without close_notify (after a GOAWAY) is an end of stream, not an error. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (o->tls_ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, o->tls_ca_file, NULL) != 1)
            return setting_error(error, "cannot read the CA certificates", o->tls_ca_file);
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        return setting_error(error, "cannot load the system's CA certificates", NULL);
    }
    if (!o->tls_certificate_file != !o->tls_key_file)
        return mc_fail(error, METER_INVALID_ARGUMENT, "TLS",
                       "tls_certificate_file and tls_key_file go together: give both or neither");
    if (o->tls_certificate_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_certificate_file) != 1)
            return setting_error(error, "cannot read the client certificate", o->tls_certificate_file);
        if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key_file, SSL_FILETYPE_PEM) != 1)
            return setting_error(error, "cannot read the client key", o->tls_key_file);
        if (SSL_CTX_check_private_key(ctx) != 1)
            return setting_error(error, "the client key does not match the certificate", o->tls_key_file);
    }
    return 0;
}

/* The name the certificate must carry: an IP address is matched against IP SANs, a host name
 * against DNS names (and sent as SNI). */
static int expect_name(SSL *ssl, const char *name, meter_error *error)
{
    unsigned char address[16];
    int is_ip = inet_pton(AF_INET, name, address) == 1 || inet_pton(AF_INET6, name, address) == 1;
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1
                   : SSL_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1;
    return ok ? 0 : setting_error(error, "cannot check the server name", name);
}

int mc_tls_start(mc_conn *conn, const char *host, const meter_connect_options *o, int64_t deadline_ms,
                 meter_error *error)
{
    conn->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!conn->ssl_ctx)
        return setting_error(error, "cannot create a TLS context", NULL);
    int rc = configure(conn->ssl_ctx, o, error);
    if (rc)
        return rc;
    conn->ssl = SSL_new(conn->ssl_ctx);
    conn->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "meterclient socket");
    BIO *bio = NULL;
    if (conn->ssl && conn->bio_method && BIO_meth_set_write(conn->bio_method, bio_write) &&
        BIO_meth_set_read(conn->bio_method, bio_read) && BIO_meth_set_ctrl(conn->bio_method, bio_ctrl) &&
        BIO_meth_set_create(conn->bio_method, bio_create))
        bio = BIO_new(conn->bio_method);
    if (!bio)
        return mc_fail(error, METER_INTERNAL, "", "out of memory (TLS session)");
    BIO_set_data(bio, (void *)(intptr_t)conn->fd);
    SSL_set_bio(conn->ssl, bio, bio); /* the session owns the BIO now */
    SSL_set_mode(conn->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    rc = expect_name(conn->ssl, o->tls_server_name ? o->tls_server_name : host, error);
    if (rc)
        return rc;
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(conn->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(conn->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            rc = mc_wait_fd(conn->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline_ms, error);
            if (rc)
                return rc;
            continue;
        }
        long verdict = SSL_get_verify_result(conn->ssl);
        if (verdict != X509_V_OK)
            return mc_fail(error, METER_UNAVAILABLE, "TLS", "the server's certificate was not accepted: %s",
                           X509_verify_cert_error_string(verdict));
        char detail[256];
        return mc_fail(error, METER_UNAVAILABLE, "TLS", "TLS handshake failed: %s",
                       e == SSL_ERROR_SYSCALL && !ERR_peek_last_error() ? "the server closed the connection"
                                                                        : openssl_error(detail, sizeof detail));
    }
}

int mc_tls_retry(mc_conn *conn, int ret, const char *operation, int64_t deadline_ms, meter_error *error)
{
    int e = SSL_get_error(conn->ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return mc_wait_fd(conn->fd, POLLIN, deadline_ms, error);
    case SSL_ERROR_WANT_WRITE:
        return mc_wait_fd(conn->fd, POLLOUT, deadline_ms, error);
    case SSL_ERROR_ZERO_RETURN:
        return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED", "the server closed the connection");
    case SSL_ERROR_SYSCALL:
        if (!ERR_peek_last_error() && (ret == 0 || errno == 0))
            return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED", "the server closed the connection");
        if (!ERR_peek_last_error() && errno == EINTR)
            return 0;
        return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED", "TLS %s: %s", operation, strerror(errno));
    default: {
        /* Also a server that refused our client certificate (TLS 1.3 says so after the handshake). */
        char detail[256];
        return mc_fail(error, METER_UNAVAILABLE, "CONNECTION_CLOSED", "TLS %s: %s", operation,
                       openssl_error(detail, sizeof detail));
    }
    }
}

void mc_conn_close(mc_conn *conn)
{
    if (conn->ssl) {
        SSL_free(conn->ssl); /* frees the BIO too; no close_notify: the socket closes anyway */
        conn->ssl = NULL;
    }
    if (conn->ssl_ctx) {
        SSL_CTX_free(conn->ssl_ctx);
        conn->ssl_ctx = NULL;
    }
    if (conn->bio_method) {
        BIO_meth_free(conn->bio_method);
        conn->bio_method = NULL;
    }
    if (conn->fd >= 0) {
        close(conn->fd);
        conn->fd = -1;
    }
}
