/* test_tls.c: TLS and mutual TLS against a real meterd started with --tls-certificate and
 * --tls-key (and --tls-client-ca), with a CA and certificates made here by the openssl CLI:
 * a client that trusts the CA connects and ingests; one that trusts only another CA, asks for
 * a name the certificate does not carry, or speaks plaintext is refused; with mutual TLS a
 * client without a certificate is refused and one with a certificate from the CA is served. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "meterclient.h"
#include "test.h"

/* Runs the openssl CLI (output to dir/openssl.log): 0 on success. */
static int openssl(const char *dir, const char *arguments)
{
    char command[2048];
    snprintf(command, sizeof command, "cd '%s' && OPENSSL_CONF=/dev/null openssl %s >>openssl.log 2>&1", dir, arguments);
    int rc = system(command);
    if (rc != 0)
        printf("openssl %s: exit %d (see %s/openssl.log)\n", arguments, rc, dir);
    return rc;
}

/* ca.pem, other-ca.pem, server.pem/.key (IP 127.0.0.1, DNS localhost), client.pem/.key. */
static int make_certificates(const char *dir)
{
    static const char *const cas[][2] = {{"ca", "/CN=meterd test CA"}, {"other-ca", "/CN=another CA"}};
    char arguments[1024];
    for (int i = 0; i < 2; i++) {
        snprintf(arguments, sizeof arguments,
                 "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '%s' -keyout %s.key "
                 "-out %s.pem -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign",
                 cas[i][1], cas[i][0], cas[i][0]);
        if (openssl(dir, arguments))
            return -1;
    }
    static const char *const leaves[][2] = {
        {"server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"},
        {"client", "extendedKeyUsage=clientAuth\n"}};
    for (int i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.ext", dir, leaves[i][0]);
        FILE *f = fopen(path, "w");
        if (!f || fputs(leaves[i][1], f) < 0) {
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
        snprintf(arguments, sizeof arguments,
                 "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=%s -keyout %s.key -out %s.csr",
                 leaves[i][0], leaves[i][0], leaves[i][0]);
        if (openssl(dir, arguments))
            return -1;
        snprintf(arguments, sizeof arguments,
                 "x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile %s.ext -out %s.pem",
                 leaves[i][0], leaves[i][0], leaves[i][0]);
        if (openssl(dir, arguments))
            return -1;
    }
    return 0;
}

typedef struct files {
    char ca[320], other_ca[320], server_cert[320], server_key[320], client_cert[320], client_key[320];
} files;

static void file_names(files *f, const char *dir)
{
    snprintf(f->ca, sizeof f->ca, "%s/ca.pem", dir);
    snprintf(f->other_ca, sizeof f->other_ca, "%s/other-ca.pem", dir);
    snprintf(f->server_cert, sizeof f->server_cert, "%s/server.pem", dir);
    snprintf(f->server_key, sizeof f->server_key, "%s/server.key", dir);
    snprintf(f->client_cert, sizeof f->client_cert, "%s/client.pem", dir);
    snprintf(f->client_key, sizeof f->client_key, "%s/client.key", dir);
}

/* Starts meterd in dir/name with the server certificate (and, given client_ca, mutual TLS):
 * 0, or -1 after recording the failure. */
static int start_tls_server(test_server *s, const char *dir, const char *name, const files *f, const char *client_ca)
{
    snprintf(s->dir, sizeof s->dir, "%s/%s", dir, name);
    if (mkdir(s->dir, 0700) != 0) {
        CHECK(0, "mkdir %s", s->dir);
        return -1;
    }
    const char *arguments[] = {"--tls-certificate", f->server_cert, "--tls-key", f->server_key, "--tls-client-ca", client_ca};
    for (int i = 0; i < (client_ca ? 6 : 4); i++)
        s->extra_args[i] = arguments[i];
    if (test_server_start(s) != 0) {
        CHECK(0, "meterd started with %s", name);
        test_server_cleanup(s);
        return -1;
    }
    return 0;
}

/* A health check and a one-event ingest over the connection. */
static void use_connection(meter_client *c, const char *what)
{
    meter_error err;
    meter_serving serving = METER_SERVING_UNSPECIFIED;
    int rc = meter_health(c, &serving, NULL, 0, &err);
    CHECK(rc == METER_OK && serving == METER_SERVING, "%s: health: %s %s", what, meter_status_name(rc), err.message);
    meter_property tokens = meter_prop_int("tokens", 5);
    meter_event event = {.event_id = "tls-event-1", .event_name = "tokens_used", .customer_id = "cust-1",
                         .timestamp_ms = (int64_t)time(NULL) * 1000, .properties = &tokens, .n_properties = 1};
    meter_event_result result;
    rc = meter_ingest(c, &event, &result, &err);
    CHECK(rc == METER_OK && (result.status == METER_EVENT_ACCEPTED || result.status == METER_EVENT_DUPLICATE),
          "%s: ingest over TLS: %s %s", what, meter_status_name(rc), err.message);
}

static void server_authentication(const char *dir, const files *f)
{
    test_server s = {0};
    if (start_tls_server(&s, dir, "plain-tls", f, NULL) != 0)
        return;
    meter_error err;
    meter_connect_options o = {.api_key = s.api_key, .timeout_ms = 10000, .tls = 1, .tls_ca_file = f->ca};
    meter_client *c = meter_connect_with_options(s.tcp_addr, NULL, &o, &err);
    CHECK(c != NULL, "TLS with the CA: %s %s: %s", meter_status_name(err.code), err.reason, err.message);
    if (c) {
        use_connection(c, "TLS");
        meter_close(c);
    }
    o.tls_server_name = "localhost";
    c = meter_connect_with_options(s.tcp_addr, NULL, &o, &err);
    CHECK(c != NULL, "TLS checking the DNS name localhost: %s", err.message);
    meter_close(c);

    o.tls_server_name = "billing.example.com";
    c = meter_connect_with_options(s.tcp_addr, NULL, &o, &err);
    CHECK(c == NULL && err.code == METER_UNAVAILABLE && strcmp(err.reason, "TLS") == 0 && strstr(err.message, "mismatch"),
          "a name the certificate lacks: %s %s: %s", meter_status_name(err.code), err.reason, err.message);
    printf("   (wrong name: %s)\n", err.message);
    o.tls_server_name = NULL;

    o.tls_ca_file = f->other_ca;
    c = meter_connect_with_options(s.tcp_addr, NULL, &o, &err);
    CHECK(c == NULL && err.code == METER_UNAVAILABLE && strcmp(err.reason, "TLS") == 0,
          "another CA: %s %s: %s", meter_status_name(err.code), err.reason, err.message);
    printf("   (untrusted CA: %s)\n", err.message);

    o.tls_ca_file = NULL; /* the system's trust store does not know the test CA */
    c = meter_connect_with_options(s.tcp_addr, NULL, &o, &err);
    CHECK(c == NULL && err.code == METER_UNAVAILABLE && strcmp(err.reason, "TLS") == 0,
          "system trust store: %s %s: %s", meter_status_name(err.code), err.reason, err.message);

    /* Plaintext to the TLS port gets no handshake. */
    c = meter_connect_with_api_key(s.tcp_addr, NULL, s.api_key, 5000, &err);
    CHECK(c == NULL && err.code == METER_UNAVAILABLE, "plaintext to TLS: %s %s", meter_status_name(err.code), err.message);

    /* Settings refused before any byte is sent. */
    meter_connect_options bad = {.api_key = s.api_key, .timeout_ms = 5000, .tls = 1, .tls_ca_file = "/nonexistent/ca.pem"};
    c = meter_connect_with_options(s.tcp_addr, NULL, &bad, &err);
    CHECK(c == NULL && err.code == METER_INVALID_ARGUMENT && strcmp(err.reason, "TLS") == 0, "missing CA file: %s %s",
          meter_status_name(err.code), err.message);
    bad.tls_ca_file = f->ca;
    bad.tls_certificate_file = f->client_cert;
    c = meter_connect_with_options(s.tcp_addr, NULL, &bad, &err);
    CHECK(c == NULL && err.code == METER_INVALID_ARGUMENT, "certificate without key: %s", err.message);
    bad.tls_certificate_file = NULL;
    c = meter_connect_with_options(s.unix_addr, NULL, &bad, &err);
    CHECK(c == NULL && err.code == METER_INVALID_ARGUMENT && strcmp(err.reason, "TLS") == 0, "TLS on the Unix socket: %s",
          err.message);
    int status = test_server_stop(&s);
    CHECK(status == 0, "meterd (TLS) exit status: %d", status);
    test_server_cleanup(&s);
}

static void mutual_tls(const char *dir, const files *f)
{
    test_server s = {0};
    if (start_tls_server(&s, dir, "mutual-tls", f, f->ca) != 0)
        return;
    meter_error err;
    meter_connect_options o = {.api_key = s.api_key, .timeout_ms = 10000, .tls = 1, .tls_ca_file = f->ca};
    meter_client *c = meter_connect_with_options(s.tcp_addr, NULL, &o, &err);
    CHECK(c == NULL && err.code == METER_UNAVAILABLE, "mutual TLS without a client certificate: %s %s: %s",
          meter_status_name(err.code), err.reason, err.message);
    printf("   (no client certificate: %s)\n", err.message);

    o.tls_certificate_file = f->client_cert;
    o.tls_key_file = f->client_key;
    c = meter_connect_with_options(s.tcp_addr, NULL, &o, &err);
    CHECK(c != NULL, "mutual TLS with a client certificate: %s %s: %s", meter_status_name(err.code), err.reason, err.message);
    if (c) {
        use_connection(c, "mutual TLS");
        meter_close(c);
    }
    int status = test_server_stop(&s);
    CHECK(status == 0, "meterd (mutual TLS) exit status: %d", status);
    test_server_cleanup(&s);
}

void test_tls(void)
{
    char dir[] = "/tmp/meterclient-tls-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    files f;
    file_names(&f, dir);
    if (make_certificates(dir) != 0) {
        CHECK(0, "certificates made with the openssl CLI");
    } else {
        printf("-- server certificate\n");
        server_authentication(dir, &f);
        printf("-- mutual TLS\n");
        mutual_tls(dir, &f);
    }
    if (!getenv("METERD_KEEP_TEST_DIR")) {
        char command[300];
        snprintf(command, sizeof command, "rm -rf '%s'", dir);
        CHECK(system(command) == 0, "remove %s", dir);
    }
}
