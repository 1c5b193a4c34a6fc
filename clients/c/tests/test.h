/* test.h: a tiny test runner shared by the test files. */
#ifndef METERCLIENT_TEST_H
#define METERCLIENT_TEST_H

#include <stdio.h>
#include <string.h>

extern int test_passed, test_failed;

/* Records one check; prints the failing ones with their location. */
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            test_passed++;                                                   \
        } else {                                                             \
            test_failed++;                                                   \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
        }                                                                    \
    } while (0)

#define CHECK_STR(actual, expected)                                                        \
    do {                                                                                   \
        const char *actual_ = (actual);                                                    \
        CHECK(actual_ != NULL && strcmp(actual_, (expected)) == 0, "got \"%s\", want \"%s\"", \
              actual_ ? actual_ : "(null)", (expected));                                   \
    } while (0)

/* Test groups. */
void test_golden(void);
void test_fake(void);
void test_live(void);
void test_tls(void);
void test_watch(void);

/* A meterd child process (server.c). */
typedef struct test_server {
    int pid;
    char dir[256];        /* temporary directory: data/ and meterd.sock */
    char unix_addr[320];  /* "unix:<dir>/meterd.sock" */
    char tcp_addr[64];    /* "127.0.0.1:<port>" */
    char api_key[64];     /* the bootstrap admin key meterd wrote into data/ (TCP needs a key) */
    const char *extra_args[8]; /* more meterd arguments, NULL-terminated (TLS files, ...) */
} test_server;

/* The meterd binary: $METERD_BINARY or ../../.build/debug/meterd. */
const char *test_meterd_binary(void);
/* Creates the directory (when dir[0] is 0) and starts meterd on it: 0, or -1 with a message. */
int test_server_start(test_server *s);
/* SIGTERM and wait: meterd's exit status, or -1. */
int test_server_stop(test_server *s);
/* Removes the temporary directory. */
void test_server_cleanup(test_server *s);

#endif
